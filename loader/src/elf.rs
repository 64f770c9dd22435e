//! Checked ELF64 parsing: untrusted file bytes in, a validated [`ElfFile`] out, placed at a
//! load bias as an [`Executable`].
//!
//! Only what Linux's `load_elf_binary` and `load_elf_interp` (fs/binfmt_elf.c) read is looked
//! at: the ELF header and the program headers, read with goblin's ELF64 types. Every field is
//! bounds- and overflow-checked here, once, so that `plan.rs` and the kernel that maps the
//! result work on numbers that cannot overflow. Choosing the load bias (ASLR) is the caller's:
//! [`ElfFile::place`] checks that the image fits where it is put.

use alloc::string::String;
use alloc::vec::Vec;

use goblin::container::Endian;
use goblin::elf64::header::{Header, EI_CLASS, EI_DATA, EI_VERSION, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};

use crate::error::ElfError;
use crate::plan::Perms;
use crate::{page_end, page_start, MMAP_MIN_ADDR, PAGE_SIZE, PIE_BASE, USER_TOP};

const PHDR_SIZE: u16 = 56;
/// Linux refuses a program header table larger than one page (`load_elf_phdrs`).
const MAX_PHDR_TABLE: u64 = 4096;
/// Linux refuses a PT_INTERP shorter than 2 bytes or longer than PATH_MAX (`load_elf_binary`).
const PATH_MAX: u64 = 4096;

const ELFMAG: [u8; 4] = *b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u32 = 1;
const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

type Phdr = ProgramHeader;

/// How the image is placed in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    /// ET_EXEC: loaded at the addresses in the file.
    Exec,
    /// ET_DYN: position independent, loaded at a bias the loader chooses (a PIE, a
    /// static-PIE, or a dynamic linker).
    Pie,
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

/// Where the PT_INTERP path lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterpRef {
    /// Index of the PT_INTERP program header.
    pub index: usize,
    pub offset: u64,
    /// Length with the terminating NUL (checked: 2..=PATH_MAX, inside the file).
    pub len: u64,
}

/// A checked ELF file whose place in memory is not chosen yet: what Linux knows about an
/// executable or an interpreter before it picks the load bias.
#[derive(Debug, Clone)]
pub struct ElfFile {
    kind: ExecKind,
    /// Non-empty PT_LOADs (program header index, header), sorted by address, not overlapping.
    loads: Vec<(usize, Phdr)>,
    /// Every program header (for PT_PHDR and AT_PHDR).
    phdrs: Vec<Phdr>,
    e_entry: u64,
    e_phoff: u64,
    e_phnum: u16,
    interp: Option<InterpRef>,
}

/// Parsed, validated and placed executable; owns copies of what it needs (no lifetime on the
/// file bytes).
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

/// End of a program header's file bytes, if they lie inside a file of `len` bytes.
fn file_end(ph: &Phdr, len: u64) -> Option<u64> {
    ph.p_offset
        .checked_add(ph.p_filesz)
        .filter(|&end| end <= len)
}

/// The ELF header, if `b` holds one (goblin reads the fields; the checks are ours).
fn read_header(b: &[u8]) -> Option<Header> {
    if b.len() < SIZEOF_EHDR {
        return None;
    }
    Header::parse(b).ok()
}

/// How many bytes from the start of a file [`ElfFile::parse_head`] needs, judged from its
/// first bytes `head` (at least the 64-byte ELF header): through the end of the program
/// header table. `None` if `head` is not even an ELF header (parsing it says why).
pub fn headers_len(head: &[u8]) -> Option<u64> {
    let eh = read_header(head)?;
    let table = u64::from(eh.e_phnum).checked_mul(u64::from(PHDR_SIZE))?;
    eh.e_phoff
        .checked_add(table.min(MAX_PHDR_TABLE))
        .map(|end| end.max(SIZEOF_EHDR as u64))
}

/// Checks the identification bytes and header fields that decide whether Coracle can run the
/// file at all, in the order a person would want to hear about them.
fn check_header(file: &[u8]) -> Result<(Header, ExecKind), ElfError> {
    if file.get(..4) != Some(&ELFMAG[..]) {
        return Err(ElfError::NotElf);
    }
    let len = u64::try_from(file.len()).unwrap_or(u64::MAX);
    let truncated = ElfError::TruncatedHeader { len };
    let ident = file.get(..16).ok_or(truncated.clone())?;
    let (class, data, version) = (ident[EI_CLASS], ident[EI_DATA], ident[EI_VERSION]);
    if class != ELFCLASS64 {
        return Err(ElfError::WrongClass { class });
    }
    if data != ELFDATA2LSB {
        return Err(ElfError::WrongEndian { data });
    }
    let eh = read_header(file).ok_or(truncated)?;
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
        ET_DYN => ExecKind::Pie,
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

/// Reads every program header (goblin's ELF64 layout), each checked to lie inside the file.
fn read_phdrs(file: &[u8], eh: &Header) -> Result<Vec<Phdr>, ElfError> {
    let phnum = usize::from(eh.e_phnum);
    let size = u64::from(PHDR_SIZE);
    // The first header that does not fit, if any: the error names it.
    let fits = |i: u64| {
        eh.e_phoff
            .checked_add((i + 1) * size)
            .is_some_and(|end| end <= file.len() as u64)
    };
    if let Some(index) = (0..phnum).find(|&i| !fits(i as u64)) {
        return Err(ElfError::ProgramHeaderPastEnd { index });
    }
    let phoff =
        usize::try_from(eh.e_phoff).map_err(|_| ElfError::ProgramHeaderPastEnd { index: 0 })?;
    ProgramHeader::parse(file, phoff, phnum, Endian::Little)
        .map_err(|_| ElfError::ProgramHeaderPastEnd { index: 0 })
}

/// Checks the PT_INTERP program header `index` as Linux does before reading the path.
fn check_interp(index: usize, ph: &Phdr, len: u64) -> Result<InterpRef, ElfError> {
    file_end(ph, len).ok_or(ElfError::InterpPastEnd { index })?;
    if ph.p_filesz < 2 || ph.p_filesz > PATH_MAX {
        return Err(ElfError::BadInterpPath { index });
    }
    Ok(InterpRef {
        index,
        offset: ph.p_offset,
        len: ph.p_filesz,
    })
}

/// The interpreter's path from the PT_INTERP bytes `bytes` (read from the file at
/// [`InterpRef::offset`]): they must end with a NUL, as Linux checks; the path stops at the
/// first NUL.
pub fn interp_path(r: &InterpRef, bytes: &[u8]) -> Result<Vec<u8>, ElfError> {
    let bad = ElfError::BadInterpPath { index: r.index };
    if bytes.len() as u64 != r.len || bytes.last() != Some(&0) {
        return Err(bad);
    }
    let path = bytes.split(|&b| b == 0).next().unwrap_or_default();
    if path.is_empty() {
        return Err(bad);
    }
    Ok(path.to_vec())
}

/// The PT_INTERP path as text for an error message, `?` if it lies outside `file`.
fn interp_text(file: &[u8], r: &InterpRef) -> String {
    let bytes = usize::try_from(r.offset)
        .ok()
        .zip(usize::try_from(r.offset + r.len).ok())
        .and_then(|(start, end)| file.get(start..end));
    match bytes {
        Some(b) => {
            let path = b.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(path).into_owned()
        }
        None => String::from("?"),
    }
}

/// Checks one PT_LOAD on its own (bias not yet known).
fn check_load(index: usize, ph: &Phdr, len: u64) -> Result<(), ElfError> {
    file_end(ph, len).ok_or(ElfError::SegmentPastEnd { index })?;
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
        .and_then(page_end)
        .ok_or(ElfError::SegmentOverflow { index })?;
    Ok(())
}

/// Where a file's addresses go: an ET_DYN's lowest PT_LOAD page `lowest` moves to `base`,
/// an ET_EXEC stays where it is linked.
#[derive(Clone, Copy)]
struct Reloc {
    lowest: u64,
    base: u64,
}

impl Reloc {
    /// The address in memory of file address `v`, `None` if it is below the image or overflows.
    fn at(self, v: u64) -> Option<u64> {
        v.checked_sub(self.lowest)?.checked_add(self.base)
    }
}

/// Places one checked PT_LOAD.
fn place(index: usize, ph: &Phdr, r: Reloc) -> Result<Segment, ElfError> {
    let overflow = ElfError::SegmentOverflow { index };
    let start = r.at(ph.p_vaddr).ok_or(overflow.clone())?;
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
fn phdr_address(f: &ElfFile, r: Reloc, segments: &[Segment]) -> Result<u64, ElfError> {
    let table_len = u64::from(f.e_phnum) * u64::from(PHDR_SIZE);
    if let Some((index, ph)) = f
        .phdrs
        .iter()
        .enumerate()
        .find(|(_, p)| p.p_type == PT_PHDR)
    {
        let outside = ElfError::PhdrOutsideSegments { index };
        let start = r.at(ph.p_vaddr).ok_or(outside.clone())?;
        let end = start.checked_add(table_len).ok_or(outside.clone())?;
        return match segments.iter().any(|s| s.start <= start && end <= s.end) {
            true => Ok(start),
            false => Err(outside),
        };
    }
    let table_end = f.e_phoff.saturating_add(table_len);
    let found = f
        .phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .find_map(|p| {
            let file_end = p.p_offset.checked_add(p.p_filesz)?;
            if p.p_offset <= f.e_phoff && table_end <= file_end {
                r.at(p.p_vaddr.checked_add(f.e_phoff.checked_sub(p.p_offset)?)?)
            } else {
                None
            }
        });
    Ok(found.unwrap_or(0))
}

impl ElfFile {
    /// Checks: ELF magic, ELFCLASS64, little endian, EV_CURRENT, e_machine == EM_X86_64 (62),
    /// e_type ET_EXEC or ET_DYN, program header table inside the file with e_phentsize == 56,
    /// at least one PT_LOAD, every PT_LOAD: p_offset+p_filesz inside the file, p_filesz <=
    /// p_memsz, vaddr+memsz does not overflow, p_align a power of two (or 0/1) with p_vaddr ≡
    /// p_offset mod PAGE_SIZE, PT_LOADs sorted by vaddr and not overlapping; a PT_INTERP inside
    /// the file, 2 to PATH_MAX bytes long. Where the image goes is checked by [`Self::place`].
    /// PT_TLS and PT_GNU_STACK are ignored (TLS is libc's business; the stack is never
    /// executable).
    ///
    /// `head` is the file's first bytes, holding the ELF header and the program header table
    /// (see [`headers_len`]); `len` is the whole file's size, which segments are checked
    /// against, so the rest of the file need not be read. PT_LOADs with `p_memsz == 0` are
    /// checked against the file but otherwise ignored, as Linux maps nothing for them.
    pub fn parse_head(head: &[u8], len: u64) -> Result<ElfFile, ElfError> {
        let (eh, kind) = check_header(head)?;
        let phdrs = read_phdrs(head, &eh)?;
        let mut interp = None;
        let mut loads: Vec<(usize, Phdr)> = Vec::new();
        for (index, ph) in phdrs.iter().enumerate() {
            match ph.p_type {
                // Linux takes the first PT_INTERP.
                PT_INTERP if interp.is_none() => interp = Some(check_interp(index, ph, len)?),
                PT_LOAD => {
                    check_load(index, ph, len)?;
                    if ph.p_memsz > 0 {
                        loads.push((index, *ph));
                    }
                }
                _ => {}
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
        if loads.is_empty() {
            return Err(ElfError::NoLoadSegment);
        }
        Ok(ElfFile {
            kind,
            loads,
            phdrs,
            e_entry: eh.e_entry,
            e_phoff: eh.e_phoff,
            e_phnum: eh.e_phnum,
            interp,
        })
    }

    /// [`Self::parse_head`] of a whole file.
    pub fn parse(file: &[u8]) -> Result<ElfFile, ElfError> {
        Self::parse_head(file, u64::try_from(file.len()).unwrap_or(u64::MAX))
    }

    /// Whether the file is a fixed-address or a position-independent executable.
    pub fn kind(&self) -> ExecKind {
        self.kind
    }

    /// Where the PT_INTERP path is, if the file asks for an interpreter.
    pub fn interp(&self) -> Option<InterpRef> {
        self.interp
    }

    /// The lowest PT_LOAD's page-aligned address, as linked.
    pub fn lowest(&self) -> u64 {
        self.loads.first().map_or(0, |(_, p)| page_start(p.p_vaddr))
    }

    /// Bytes from the lowest PT_LOAD's page to the end of the highest one's last page
    /// (Linux's total_mapping_size): the room an ET_DYN needs wherever it is placed.
    pub fn span(&self) -> u64 {
        let end = self
            .loads
            .iter()
            .filter_map(|(_, p)| page_end(p.p_vaddr + p.p_memsz))
            .max()
            .unwrap_or(0);
        end - self.lowest()
    }

    /// The largest PT_LOAD alignment that is a power of two, at least a page (Linux's
    /// maximum_alignment, which places an ET_DYN at a multiple of it).
    pub fn max_align(&self) -> u64 {
        self.loads
            .iter()
            .map(|(_, p)| p.p_align)
            .filter(|a| a.is_power_of_two())
            .fold(PAGE_SIZE, u64::max)
    }

    /// The image with its lowest PT_LOAD page at `base` if it is an ET_DYN (an ET_EXEC stays
    /// where it is linked): every segment must land between [`MMAP_MIN_ADDR`] and
    /// [`USER_TOP`], the entry point inside one, the PT_PHDR too.
    pub fn place(&self, base: u64) -> Result<Executable, ElfError> {
        let r = match self.kind {
            ExecKind::Exec => Reloc { lowest: 0, base: 0 },
            ExecKind::Pie => Reloc {
                lowest: self.lowest(),
                base,
            },
        };
        let segments = self
            .loads
            .iter()
            .map(|(index, ph)| place(*index, ph, r))
            .collect::<Result<Vec<_>, _>>()?;
        let entry = r
            .at(self.e_entry)
            .filter(|e| segments.iter().any(|s| s.start <= *e && *e < s.end))
            .ok_or(ElfError::EntryOutsideSegments {
                entry: self.e_entry.wrapping_add(r.base.wrapping_sub(r.lowest)),
            })?;
        let phdr = phdr_address(self, r, &segments)?;
        Ok(Executable {
            kind: self.kind,
            bias: r.base.wrapping_sub(r.lowest),
            segments,
            entry,
            phdr,
            phnum: self.e_phnum,
        })
    }
}

impl Executable {
    /// A static executable as the host CLI packs it: [`ElfFile::parse`], a PT_INTERP refused
    /// with [`ElfError::Dynamic`], an ET_DYN (static-PIE) placed at [`PIE_BASE`] (where Linux
    /// puts a PIE with ASLR off).
    pub fn parse(file: &[u8]) -> Result<Executable, ElfError> {
        Self::parse_head(file, u64::try_from(file.len()).unwrap_or(u64::MAX))
    }

    /// [`Executable::parse`] from the file's first bytes `head` and its size `len` (see
    /// [`ElfFile::parse_head`]). A PT_INTERP path beyond `head` is reported as `?`.
    pub fn parse_head(head: &[u8], len: u64) -> Result<Executable, ElfError> {
        let f = ElfFile::parse_head(head, len)?;
        if let Some(r) = f.interp() {
            return Err(ElfError::Dynamic {
                interp: interp_text(head, &r),
            });
        }
        if f.kind == ExecKind::Pie && f.lowest() > PIE_BASE {
            return Err(ElfError::PieAboveBase { vaddr: f.lowest() });
        }
        f.place(PIE_BASE)
    }

    /// Whether the file is a fixed-address or a position-independent executable.
    pub fn kind(&self) -> ExecKind {
        self.kind
    }

    /// 0 for ET_EXEC; for an ET_DYN, what was added (modulo 2^64) to every address in the
    /// file.
    pub fn load_bias(&self) -> u64 {
        self.bias
    }
}
