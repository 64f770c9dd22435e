//! Checked ELF64 parsing: untrusted file bytes in, a validated [`Executable`] out.
//!
//! Only what Linux's `load_elf_binary` (fs/binfmt_elf.c) reads is looked at: the ELF header and
//! the program headers. Every field is bounds- and overflow-checked here, once, so that
//! `plan.rs` and the kernel that maps the result work on numbers that cannot overflow.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ElfError;
use crate::plan::Perms;
use crate::{page_end, page_start, MMAP_MIN_ADDR, PAGE_SIZE, PIE_BASE, USER_TOP};

const PHDR_SIZE: u16 = 56;
/// Linux refuses a program header table larger than one page (`load_elf_phdrs`).
const MAX_PHDR_TABLE: u64 = 4096;

const ELFMAG: [u8; 4] = *b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u32 = 1;
const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;

const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// How the image is placed in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    /// ET_EXEC: loaded at the addresses in the file.
    Exec,
    /// ET_DYN without PT_INTERP: position independent, loaded at [`PIE_BASE`].
    StaticPie,
}

/// A PT_LOAD after validation, with the load bias applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// First byte in memory.
    pub(crate) start: u64,
    /// One past the last byte in memory (`start + p_memsz`).
    pub(crate) end: u64,
    /// `start` rounded down and `end` rounded up to pages.
    pub(crate) page_start: u64,
    pub(crate) page_end: u64,
    pub(crate) file_offset: u64,
    pub(crate) file_len: u64,
    pub(crate) perms: Perms,
}

/// Parsed and validated executable; owns copies of what it needs (no lifetime on the file bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executable {
    kind: ExecKind,
    bias: u64,
    /// Non-empty PT_LOADs, sorted by address, not overlapping.
    pub(crate) segments: Vec<Segment>,
    pub(crate) entry: u64,
    /// User address of the program headers, 0 if no segment maps them.
    pub(crate) phdr: u64,
    pub(crate) phnum: u16,
}

/// The fields of the ELF header the loader uses.
struct Ehdr {
    ident: [u8; 16],
    e_type: u16,
    e_machine: u16,
    e_version: u32,
    e_entry: u64,
    e_phoff: u64,
    e_phentsize: u16,
    e_phnum: u16,
}

/// One program header, as in the file.
#[derive(Clone, Copy)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

/// `N` bytes of `b` at `at`, or `None` if they are not all there.
fn field<const N: usize>(b: &[u8], at: u64) -> Option<[u8; N]> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(N)?;
    b.get(start..end)?.try_into().ok()
}

fn u16_at(b: &[u8], at: u64) -> Option<u16> {
    field(b, at).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], at: u64) -> Option<u32> {
    field(b, at).map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: u64) -> Option<u64> {
    field(b, at).map(u64::from_le_bytes)
}

impl Ehdr {
    fn read(b: &[u8]) -> Option<Self> {
        Some(Self {
            ident: field(b, 0)?,
            e_type: u16_at(b, 16)?,
            e_machine: u16_at(b, 18)?,
            e_version: u32_at(b, 20)?,
            e_entry: u64_at(b, 24)?,
            e_phoff: u64_at(b, 32)?,
            e_phentsize: u16_at(b, 54)?,
            e_phnum: u16_at(b, 56)?,
        })
    }
}

impl Phdr {
    fn read(b: &[u8], at: u64) -> Option<Self> {
        let at = |off: u64| at.checked_add(off);
        Some(Self {
            p_type: u32_at(b, at(0)?)?,
            p_flags: u32_at(b, at(4)?)?,
            p_offset: u64_at(b, at(8)?)?,
            p_vaddr: u64_at(b, at(16)?)?,
            // p_paddr at 24 is meaningless for user programs.
            p_filesz: u64_at(b, at(32)?)?,
            p_memsz: u64_at(b, at(40)?)?,
            p_align: u64_at(b, at(48)?)?,
        })
    }

    /// End of the file bytes, if they lie inside a file of `len` bytes.
    fn file_end(&self, len: u64) -> Option<u64> {
        self.p_offset
            .checked_add(self.p_filesz)
            .filter(|&end| end <= len)
    }
}

/// How many bytes from the start of a file [`Executable::parse_head`] needs, judged from its
/// first bytes `head` (at least the 64-byte ELF header): through the end of the program
/// header table. `None` if `head` is not even an ELF header (parsing it says why).
pub fn headers_len(head: &[u8]) -> Option<u64> {
    let eh = Ehdr::read(head)?;
    let table = u64::from(eh.e_phnum).checked_mul(u64::from(PHDR_SIZE))?;
    eh.e_phoff
        .checked_add(table.min(MAX_PHDR_TABLE))
        .map(|end| end.max(64))
}

/// Checks the identification bytes and header fields that decide whether Coracle can run the
/// file at all, in the order a person would want to hear about them.
fn check_header(file: &[u8]) -> Result<(Ehdr, ExecKind), ElfError> {
    if file.get(..4) != Some(&ELFMAG[..]) {
        return Err(ElfError::NotElf);
    }
    let len = u64::try_from(file.len()).unwrap_or(u64::MAX);
    let eh = Ehdr::read(file).ok_or(ElfError::TruncatedHeader { len })?;
    let [_, _, _, _, class, data, version, ..] = eh.ident;
    if class != ELFCLASS64 {
        return Err(ElfError::WrongClass { class });
    }
    if data != ELFDATA2LSB {
        return Err(ElfError::WrongEndian { data });
    }
    if u32::from(version) != EV_CURRENT {
        return Err(ElfError::WrongVersion {
            version: version.into(),
        });
    }
    if eh.e_machine != EM_X86_64 {
        return Err(ElfError::WrongMachine {
            machine: eh.e_machine,
        });
    }
    let kind = match eh.e_type {
        ET_EXEC => ExecKind::Exec,
        ET_DYN => ExecKind::StaticPie,
        e_type => return Err(ElfError::WrongType { e_type }),
    };
    if eh.e_version != EV_CURRENT {
        return Err(ElfError::WrongVersion {
            version: eh.e_version,
        });
    }
    if eh.e_phentsize != PHDR_SIZE {
        return Err(ElfError::BadPhentsize {
            phentsize: eh.e_phentsize,
        });
    }
    if u64::from(eh.e_phnum) * u64::from(PHDR_SIZE) > MAX_PHDR_TABLE {
        return Err(ElfError::TooManyProgramHeaders { phnum: eh.e_phnum });
    }
    Ok((eh, kind))
}

/// Reads every program header, each checked to lie inside the file.
fn read_phdrs(file: &[u8], eh: &Ehdr) -> Result<Vec<Phdr>, ElfError> {
    (0..eh.e_phnum)
        .map(|i| {
            let index = usize::from(i);
            u64::from(i)
                .checked_mul(u64::from(PHDR_SIZE))
                .and_then(|off| eh.e_phoff.checked_add(off))
                .and_then(|at| Phdr::read(file, at))
                .ok_or(ElfError::ProgramHeaderPastEnd { index })
        })
        .collect()
}

/// The PT_INTERP path, without its NUL, as text for the error message.
fn interp_path(file: &[u8], index: usize, ph: &Phdr, len: u64) -> Result<String, ElfError> {
    let past_end = ElfError::InterpPastEnd { index };
    let end = ph.file_end(len).ok_or(past_end)?;
    let Some(bytes) = usize::try_from(ph.p_offset)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(start, end)| file.get(start..end))
    else {
        // Inside the file but not in the part that was read.
        return Ok(String::from("?"));
    };
    let path = bytes.split(|&b| b == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(path).into_owned())
}

/// Checks one PT_LOAD on its own (bias not yet known).
fn check_load(index: usize, ph: &Phdr, len: u64) -> Result<(), ElfError> {
    ph.file_end(len).ok_or(ElfError::SegmentPastEnd { index })?;
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::FileszExceedsMemsz { index });
    }
    if ph.p_align > 1 && !ph.p_align.is_power_of_two() {
        return Err(ElfError::BadAlignment {
            index,
            align: ph.p_align,
        });
    }
    // Linux maps each segment with one mmap of whole file pages (elf_map), which needs the
    // address and the file offset to sit at the same place within a page.
    if ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
        return Err(ElfError::MisalignedSegment {
            index,
            vaddr: ph.p_vaddr,
            offset: ph.p_offset,
        });
    }
    ph.p_vaddr
        .checked_add(ph.p_memsz)
        .ok_or(ElfError::SegmentOverflow { index })?;
    Ok(())
}

/// Places one checked PT_LOAD at `bias`.
fn place(index: usize, ph: &Phdr, bias: u64) -> Result<Segment, ElfError> {
    let overflow = ElfError::SegmentOverflow { index };
    let start = ph.p_vaddr.checked_add(bias).ok_or(overflow.clone())?;
    let end = start.checked_add(ph.p_memsz).ok_or(overflow.clone())?;
    let seg_page_end = page_end(end).ok_or(overflow)?;
    if seg_page_end > USER_TOP {
        return Err(ElfError::SegmentInKernelSpace { index, end });
    }
    if page_start(start) < MMAP_MIN_ADDR {
        return Err(ElfError::SegmentBelowMinAddr { index, start });
    }
    Ok(Segment {
        start,
        end,
        page_start: page_start(start),
        page_end: seg_page_end,
        file_offset: ph.p_offset,
        file_len: ph.p_filesz,
        perms: Perms {
            read: ph.p_flags & PF_R != 0,
            write: ph.p_flags & PF_W != 0,
            exec: ph.p_flags & PF_X != 0,
        },
    })
}

/// Where the program headers are in memory: PT_PHDR if present, else the PT_LOAD whose file
/// bytes hold the whole table (as Linux computes AT_PHDR), else 0 (glibc's static start-up then
/// falls back to `__ehdr_start`).
fn phdr_address(
    phdrs: &[Phdr],
    eh: &Ehdr,
    bias: u64,
    segments: &[Segment],
) -> Result<u64, ElfError> {
    let table_len = u64::from(eh.e_phnum) * u64::from(PHDR_SIZE);
    if let Some((index, ph)) = phdrs.iter().enumerate().find(|(_, p)| p.p_type == PT_PHDR) {
        let outside = ElfError::PhdrOutsideSegments { index };
        let start = ph.p_vaddr.checked_add(bias).ok_or(outside.clone())?;
        let end = start.checked_add(table_len).ok_or(outside.clone())?;
        return match segments.iter().any(|s| s.start <= start && end <= s.end) {
            true => Ok(start),
            false => Err(outside),
        };
    }
    let table_end = eh.e_phoff.saturating_add(table_len);
    let found = phdrs.iter().filter(|p| p.p_type == PT_LOAD).find_map(|p| {
        let file_end = p.p_offset.checked_add(p.p_filesz)?;
        if p.p_offset <= eh.e_phoff && table_end <= file_end {
            p.p_vaddr
                .checked_add(eh.e_phoff.checked_sub(p.p_offset)?)?
                .checked_add(bias)
        } else {
            None
        }
    });
    Ok(found.unwrap_or(0))
}

impl Executable {
    /// Checks: ELF magic, ELFCLASS64, little endian, EV_CURRENT, e_machine == EM_X86_64 (62),
    /// e_type ET_EXEC or ET_DYN, program header table inside the file with e_phentsize == 56,
    /// at least one PT_LOAD, every PT_LOAD: p_offset+p_filesz inside the file, p_filesz <=
    /// p_memsz, vaddr+memsz does not overflow and (after the bias) stays within
    /// [`MMAP_MIN_ADDR`]..[`USER_TOP`], p_align a power of two (or 0/1) with p_vaddr ≡ p_offset
    /// mod PAGE_SIZE, PT_LOADs sorted by vaddr and not overlapping, the entry point inside one.
    /// PT_INTERP present -> `Err(ElfError::Dynamic { interp })`. PT_TLS and PT_GNU_STACK are
    /// ignored (TLS is libc's business; the stack is never executable).
    ///
    /// PT_LOADs with `p_memsz == 0` are checked against the file but otherwise ignored, as
    /// Linux maps nothing for them.
    pub fn parse(file: &[u8]) -> Result<Executable, ElfError> {
        Self::parse_head(file, u64::try_from(file.len()).unwrap_or(u64::MAX))
    }

    /// [`Executable::parse`] of a file of `len` bytes from its first bytes, `head`: the ELF
    /// header and the program header table must lie in them (see [`headers_len`]); segments
    /// are checked against `len`, so the rest of the file need not be read. A PT_INTERP path
    /// beyond `head` is reported as `?`.
    pub fn parse_head(head: &[u8], len: u64) -> Result<Executable, ElfError> {
        let file = head;
        let (eh, kind) = check_header(file)?;
        let phdrs = read_phdrs(file, &eh)?;
        if let Some((index, ph)) = phdrs
            .iter()
            .enumerate()
            .find(|(_, p)| p.p_type == PT_INTERP)
        {
            let interp = interp_path(file, index, ph, len)?;
            return Err(ElfError::Dynamic { interp });
        }

        let mut loads: Vec<(usize, Phdr)> = Vec::new();
        for (index, ph) in phdrs.iter().enumerate() {
            if ph.p_type == PT_LOAD {
                check_load(index, ph, len)?;
                if ph.p_memsz > 0 {
                    loads.push((index, *ph));
                }
            }
        }
        for pair in loads.windows(2) {
            if let [(prev, a), (index, b)] = pair {
                if b.p_vaddr < a.p_vaddr {
                    return Err(ElfError::SegmentsUnsorted {
                        prev: *prev,
                        index: *index,
                    });
                }
                // check_load made sure p_vaddr + p_memsz does not overflow.
                if b.p_vaddr < a.p_vaddr.saturating_add(a.p_memsz) {
                    return Err(ElfError::SegmentsOverlap {
                        first: *prev,
                        second: *index,
                    });
                }
            }
        }
        let lowest = loads
            .first()
            .map(|(_, p)| page_start(p.p_vaddr))
            .ok_or(ElfError::NoLoadSegment)?;

        // Linux 6.1 puts a static-PIE wherever mmap chooses; Coracle uses ELF_ET_DYN_BASE, where
        // Linux puts a PIE that has an interpreter, so addresses are the same on every run.
        let bias = match kind {
            ExecKind::Exec => 0,
            ExecKind::StaticPie => PIE_BASE
                .checked_sub(lowest)
                .ok_or(ElfError::PieAboveBase { vaddr: lowest })?,
        };
        let segments = loads
            .iter()
            .map(|(index, ph)| place(*index, ph, bias))
            .collect::<Result<Vec<_>, _>>()?;

        let entry = eh
            .e_entry
            .checked_add(bias)
            .filter(|e| segments.iter().any(|s| s.start <= *e && *e < s.end))
            .ok_or(ElfError::EntryOutsideSegments {
                entry: eh.e_entry.wrapping_add(bias),
            })?;
        let phdr = phdr_address(&phdrs, &eh, bias, &segments)?;
        Ok(Executable {
            kind,
            bias,
            segments,
            entry,
            phdr,
            phnum: eh.e_phnum,
        })
    }

    /// Whether the file is a fixed-address or a position-independent executable.
    pub fn kind(&self) -> ExecKind {
        self.kind
    }

    /// 0 for ET_EXEC; for a static-PIE, [`PIE_BASE`] minus the lowest PT_LOAD's page-aligned
    /// vaddr, so that the image starts at [`PIE_BASE`].
    pub fn load_bias(&self) -> u64 {
        self.bias
    }
}
