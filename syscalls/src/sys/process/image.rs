//! A program image in an empty address space: its segments, its interpreter's, the vDSO, the
//! initial stack with argv, envp and auxv, as Linux's load_elf_binary leaves them. The kernel
//! starts the first program with this, and execve every later one.
//!
//! The segments are private file mappings of the program file (and of the interpreter named in
//! PT_INTERP), as Linux's elf_map makes them: nothing is read or copied here, each page comes
//! from the file's page cache on first touch, read-only until a write copies it. Only the page
//! where a segment's file bytes end and its .bss begins is made at once: the file's bytes,
//! then zeros (Linux's padzero).
//!
//! Where things go is [`Layout`]: x86_64 Linux's, randomised (arch/x86/mm/mmap.c,
//! fs/binfmt_elf.c) unless the process has ADDR_NO_RANDOMIZE or the machine
//! randomize_va_space 0.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use coracle_loader::{
    build_stack, AuxValues, ElfError, ElfFile, ExecKind, Executable, FileMap, LoadPlan, Region,
    StackParams, MAX_ALIGN_PAD, PIE_BASE, USER_TOP,
};
use coracle_vfs::Inode;

use super::personality::ADDR_NO_RANDOMIZE;
use crate::mm::{Mm, VmaName, PAGE};
use crate::process::Process;
use crate::{Current, Errno, Perms, Platform};

/// The stack top with ASLR off. The stack's VMA starts as the initial stack's pages plus
/// 128 KiB (Linux's stack_expand) and grows down on touch up to RLIMIT_STACK; only the pages
/// holding the initial stack are mapped at start.
pub const STACK_TOP: u64 = USER_TOP;
const STACK_SIZE: u64 = 8 << 20;
const STACK_EXPAND: u64 = 128 << 10;
/// The mmap base with ASLR off: Linux's mmap_base() with its smallest gap (128 MiB) below
/// the stack top.
pub const MMAP_TOP: u64 = STACK_TOP - GAP_MIN;
/// Arguments and environment may take a quarter of the stack limit, as on Linux (E2BIG).
pub const ARG_MAX: u64 = STACK_SIZE / 4;

/// mmap_base's gap below the stack: at least 128 MiB, at most 5/6 of the address space.
const GAP_MIN: u64 = 128 << 20;
const GAP_MAX: u64 = USER_TOP / 6 * 5;
/// Linux's stack_guard_gap (256 pages).
const STACK_GUARD_GAP: u64 = 256 * PAGE;
/// STACK_RND_MASK: the stack top moves down by up to 2^22 pages (16 GiB).
const STACK_RND_PAGES: u64 = 0x3f_ffff;
/// mmap_rnd_bits' default on x86_64: the mmap base and a PIE's base move by up to 2^28 pages.
const MMAP_RND_PAGES: u64 = (1 << 28) - 1;
/// arch_randomize_brk: a 64-bit program's break starts up to 1 GiB above the image.
const BRK_RND_PAGES: u64 = (1 << 30) / PAGE;

const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};

/// Where a new image's parts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Top of the initial stack.
    pub stack_top: u64,
    /// mmap searches down from here; the vDSO sits just above it, the interpreter below.
    pub mmap_base: u64,
    /// Added to ELF_ET_DYN_BASE for an ET_DYN executable (a multiple of the page size).
    pub pie_offset: u64,
    /// Added to the end of the executable for the start of the program break.
    pub brk_offset: u64,
    /// Gap between the strings and the rest of the initial stack (arch_align_stack).
    pub stack_pad: u64,
}

fn random_u64(k: &mut dyn Platform) -> u64 {
    let mut b = [0u8; 8];
    k.random(&mut b);
    u64::from_le_bytes(b)
}

/// A random multiple of the page size, `mask` pages at most (`mask` + 1 a power of two).
fn random_pages(k: &mut dyn Platform, mask: u64) -> u64 {
    (random_u64(k) & mask) * PAGE
}

impl Layout {
    /// Linux's layout with randomisation off (`setarch -R`, `norandmaps`).
    pub fn fixed() -> Layout {
        Layout {
            stack_top: STACK_TOP,
            mmap_base: MMAP_TOP,
            pie_offset: 0,
            brk_offset: 0,
            stack_pad: 0,
        }
    }

    /// Linux's layout for a process with RLIMIT_STACK `stack_limit`, randomised at `level`
    /// (kernel.randomize_va_space: 0 none, 1 all but the break, 2 everything).
    pub fn new(k: &mut dyn Platform, level: u32, stack_limit: u64) -> Layout {
        if level == 0 {
            return Self::fixed();
        }
        // arch/x86/mm/mmap.c mmap_base(): the gap leaves room for the largest stack and the
        // stack's random offset.
        let gap = stack_limit
            .saturating_add(STACK_GUARD_GAP)
            .saturating_add(STACK_RND_PAGES * PAGE)
            .clamp(GAP_MIN, GAP_MAX);
        let mmap_rnd = random_pages(k, MMAP_RND_PAGES);
        Layout {
            stack_top: STACK_TOP - random_pages(k, STACK_RND_PAGES),
            mmap_base: (USER_TOP - gap - mmap_rnd) & !(PAGE - 1),
            pie_offset: random_pages(k, MMAP_RND_PAGES),
            brk_offset: match level {
                1 => 0,
                _ => random_u64(k) % BRK_RND_PAGES * PAGE,
            },
            stack_pad: random_u64(k) % MAX_ALIGN_PAD,
        }
    }

    /// The layout for the next image of the process `p`: random unless it has
    /// ADDR_NO_RANDOMIZE or the machine has randomisation off.
    pub fn for_exec(p: &Current, k: &mut dyn Platform) -> Layout {
        let persona = p.process.personality.load(Ordering::Relaxed);
        let level = match persona & ADDR_NO_RANDOMIZE {
            0 => p.sys.randomize_va_space.load(Ordering::Relaxed),
            _ => 0,
        };
        const RLIMIT_STACK: usize = 3;
        let limit = p.process.limits.lock()[RLIMIT_STACK].0;
        Self::new(k, level, limit)
    }
}

/// The executable and its interpreter, placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub exe: Executable,
    pub interp: Option<Executable>,
    pub layout: Layout,
}

/// Places the executable: an ET_EXEC where it is linked, an ET_DYN at ELF_ET_DYN_BASE plus
/// the layout's offset, aligned down to its largest segment alignment (load_elf_binary).
pub fn place_exe(elf: &ElfFile, layout: &Layout) -> Result<Executable, ElfError> {
    let base = match elf.kind() {
        ExecKind::Exec => 0,
        ExecKind::Pie => (PIE_BASE + layout.pie_offset) & !(elf.max_align() - 1),
    };
    elf.place(base)
}

/// Places the interpreter as Linux's load_elf_interp mmaps it: an ET_DYN in the highest free
/// range below the mmap base (below the executable if that is in the way), aligned to its
/// largest segment alignment; an ET_EXEC where it is linked.
pub fn place_interp(
    elf: &ElfFile,
    exe: &Executable,
    layout: &Layout,
) -> Result<Executable, ElfError> {
    if elf.kind() == ExecKind::Exec {
        return elf.place(0);
    }
    let align = elf.max_align();
    let below = |top: u64| top.checked_sub(elf.span()).map(|b| b & !(align - 1));
    let plan = exe.plan();
    let (lo, hi) = (plan.regions.first().map_or(0, |r| r.start), plan.brk);
    let base = below(layout.mmap_base)
        .filter(|&b| b >= hi || b + elf.span() <= lo)
        .or_else(|| below(lo))
        .unwrap_or(0);
    elf.place(base)
}

/// Where a new program starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    pub entry: u64,
    pub sp: u64,
}

/// A file an image maps: the inode (for the page cache and /proc/<pid>/maps) and its path.
#[derive(Clone)]
pub struct MappedFile {
    pub inode: Arc<dyn Inode>,
    pub path: Arc<[u8]>,
}

impl core::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let path = alloc::string::String::from_utf8_lossy(&self.path);
        f.debug_struct("MappedFile")
            .field("path", &path)
            .finish_non_exhaustive()
    }
}

/// What the program to load is.
pub struct Program<'a> {
    /// The executable and its interpreter, placed.
    pub placed: &'a Placed,
    pub file: MappedFile,
    /// The interpreter's file, when `placed.interp` is there.
    pub interp: Option<MappedFile>,
    /// The partial pages of the executable and of the interpreter ([`read_partial_pages`]).
    pub partial: Vec<PartialPage>,
    pub interp_partial: Vec<PartialPage>,
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The path exec was given (AT_EXECFN).
    pub execfn: &'a [u8],
    /// The exec raised privileges (AT_SECURE: the dynamic linker then ignores LD_*).
    pub secure: bool,
}

impl core::fmt::Debug for Program<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Program")
            .field(
                "path",
                &alloc::string::String::from_utf8_lossy(&self.file.path),
            )
            .finish_non_exhaustive()
    }
}

/// Loads `prog` into the current address space, which must be empty, and records its VMAs in
/// `process`'s memory map (which this resets). `ENOMEM` when memory runs out; `E2BIG` when
/// the arguments do not fit.
pub fn load(process: &Process, k: &mut dyn Platform, prog: &Program<'_>) -> Result<Start, Errno> {
    let layout = prog.placed.layout;
    let plan = prog.placed.exe.plan();
    *process.mm.get().lock() = Mm::new(plan.brk + layout.brk_offset, layout.mmap_base);
    map_image(process, k, &plan, &prog.file, &prog.partial)?;
    let mut auxv = AuxValues::for_plan(&plan);
    {
        let c = process.creds.lock();
        (auxv.uid, auxv.euid) = (u64::from(c.uid), u64::from(c.euid));
        (auxv.gid, auxv.egid) = (u64::from(c.gid), u64::from(c.egid));
    }
    auxv.secure = prog.secure;
    let mut entry = plan.entry;
    if let (Some(interp), Some(file)) = (&prog.placed.interp, &prog.interp) {
        let iplan = interp.plan();
        map_image(process, k, &iplan, file, &prog.interp_partial)?;
        // AT_BASE is the interpreter's load bias; the program starts in the interpreter.
        auxv.base = interp.load_bias();
        entry = iplan.entry;
    }
    let mut random = [0u8; 16];
    k.random(&mut random);
    (auxv.hwcap, auxv.hwcap2) = k.hwcaps();
    // [vvar][vdso] sit just above the mmap base, in the gap below the stack.
    auxv.sysinfo_ehdr = k.map_vdso(layout.mmap_base).map(|(ehdr, end)| {
        let shared = process.mm.get();
        let mut mm = shared.lock();
        let read = Perms {
            read: true,
            write: false,
            exec: false,
        };
        mm.record_named(layout.mmap_base, ehdr, read, VmaName::Special("[vvar]"));
        mm.record_named(
            ehdr,
            end,
            Perms { exec: true, ..read },
            VmaName::Special("[vdso]"),
        );
        ehdr
    });
    let params = StackParams {
        argv: prog.argv,
        envp: prog.envp,
        execfn: prog.execfn,
        random,
        auxv,
        align_pad: layout.stack_pad,
    };
    let top = layout.stack_top;
    let stack = build_stack(&params, top, ARG_MAX).map_err(|_| Errno::E2BIG)?;
    *process.auxv.lock() = stack.auxv().to_vec();
    // Map the pages the initial stack needs; the rest of the VMA comes on first touch.
    let used = (stack.bytes.len() as u64).div_ceil(PAGE) * PAGE;
    let base = top - used;
    let pad = (stack.sp - base) as usize;
    let mut bytes = vec![0u8; pad];
    bytes.extend_from_slice(&stack.bytes);
    for (i, chunk) in bytes.chunks(PAGE as usize).enumerate() {
        k.map_copy(base + i as u64 * PAGE, chunk, RW)?;
    }
    process
        .mm
        .get()
        .lock()
        .record_named(base - STACK_EXPAND, top, RW, VmaName::Stack);
    Ok(Start {
        entry,
        sp: stack.sp,
    })
}

/// Maps one ELF file's segments as `plan` says: private file mappings recorded as VMAs, and
/// the pages where file bytes meet .bss made now.
fn map_image(
    process: &Process,
    k: &mut dyn Platform,
    plan: &LoadPlan,
    file: &MappedFile,
    partial: &[PartialPage],
) -> Result<(), Errno> {
    let maps = clipped(&plan.file_maps);
    for r in &plan.regions {
        record_region(process, r, &maps, file);
    }
    for p in partial {
        k.map_copy(p.page, &p.bytes, perms_at(&plan.regions, p.page))?;
    }
    Ok(())
}

/// The page where a segment's file bytes end and its .bss begins: mapped as a copy of the
/// file's bytes, then zeros (Linux's padzero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialPage {
    /// Its user address.
    page: u64,
    /// The file's bytes for its start.
    bytes: Vec<u8>,
}

/// Reads the partial pages of `exe` from `inode`. Done before execve's point of no return:
/// a filesystem on a block device may answer `WAIT` (the call runs again once the read is
/// done), which after the old image is gone could only kill the process.
pub fn read_partial_pages(exe: &Executable, inode: &dyn Inode) -> Result<Vec<PartialPage>, Errno> {
    let mut out = Vec::new();
    for m in &clipped(&exe.plan().file_maps) {
        let Some(z) = m.zero_from else { continue };
        let page = z & !(PAGE - 1);
        if page < m.start {
            continue;
        }
        let mut bytes = vec![0u8; (z - page) as usize];
        let at = m.file_offset + (page - m.start);
        let mut done = 0;
        while done < bytes.len() {
            match inode.read_at(at + done as u64, &mut bytes[done..])? {
                0 => return Err(Errno::ENOEXEC),
                n => done += n,
            }
        }
        out.push(PartialPage { page, bytes });
    }
    Ok(out)
}

/// The file maps with each one's pages that a later one also covers taken off (the later
/// mapping replaces them, as a later MAP_FIXED mmap does).
fn clipped(maps: &[FileMap]) -> Vec<FileMap> {
    let mut out: Vec<FileMap> = Vec::with_capacity(maps.len());
    for m in maps {
        if let Some(last) = out.last_mut() {
            if last.end > m.start {
                last.end = m.start;
                if last.zero_from.is_some_and(|z| z >= last.end) {
                    last.zero_from = None;
                }
                if last.start >= last.end {
                    out.pop();
                }
            }
        }
        out.push(*m);
    }
    out
}

/// The permissions of the region holding `page`.
fn perms_at(regions: &[Region], page: u64) -> Perms {
    regions
        .iter()
        .find(|r| r.start <= page && page < r.end)
        .map_or(RW, |r| r.perms)
}

/// Records one image region in the VMA list: the pages file maps cover are private mappings
/// of the file (with their file offset), the rest (.bss) is anonymous.
fn record_region(process: &Process, r: &Region, maps: &[FileMap], file: &MappedFile) {
    let shared = process.mm.get();
    let mut mm = shared.lock();
    let mut at = r.start;
    for m in maps {
        let (lo, hi) = (m.start.max(at), m.end.min(r.end));
        if lo >= hi {
            continue;
        }
        if at < lo {
            mm.record(at, lo, r.perms);
        }
        let name = VmaName::File {
            inode: file.inode.clone(),
            path: file.path.clone(),
            offset: m.file_offset + (lo - m.start),
        };
        mm.record_named(lo, hi, r.perms, name);
        at = hi;
    }
    if at < r.end {
        mm.record(at, r.end, r.perms);
    }
}
