//! A program image in an empty address space: its segments, the vDSO, the initial stack with
//! argv, envp and auxv, as Linux's load_elf_binary leaves them. The kernel starts the first
//! program with this, and execve every later one.
//!
//! The segments are private file mappings of the program file, as Linux's elf_map makes
//! them: nothing is read or copied here, each page comes from the file's page cache on first
//! touch, read-only until a write copies it. Only the page where a segment's file bytes end
//! and its .bss begins is made at once: the file's bytes, then zeros (Linux's padzero).

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use coracle_loader::{build_stack, AuxValues, Executable, FileMap, Region, StackParams, USER_TOP};
use coracle_vfs::Inode;

use crate::mm::{Mm, VmaName, PAGE};
use crate::process::Process;
use crate::{Errno, Perms, Platform};

/// The stack: its top is Linux's with ASLR off. Its VMA starts as the initial stack's pages
/// plus 128 KiB (Linux's stack_expand) and grows down on touch up to RLIMIT_STACK; only the
/// pages holding the initial stack are mapped at start.
pub const STACK_TOP: u64 = USER_TOP;
const STACK_SIZE: u64 = 8 << 20;
const STACK_EXPAND: u64 = 128 << 10;
/// mmap hands out addresses below the stack and a guard gap, as Linux's mmap_base.
pub const MMAP_TOP: u64 = STACK_TOP - STACK_SIZE - (1 << 30);
/// Arguments and environment may take a quarter of the stack limit, as on Linux (E2BIG).
pub const ARG_MAX: u64 = STACK_SIZE / 4;

const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};

/// Where a new program starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    pub entry: u64,
    pub sp: u64,
}

/// What the program to load is.
pub struct Program<'a> {
    /// The parsed ELF file.
    pub exe: &'a Executable,
    /// The file (for /proc/<pid>/maps) and its path.
    pub inode: Arc<dyn Inode>,
    pub path: Arc<[u8]>,
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The path exec was given (AT_EXECFN).
    pub execfn: &'a [u8],
}

impl core::fmt::Debug for Program<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Program")
            .field("path", &alloc::string::String::from_utf8_lossy(&self.path))
            .finish_non_exhaustive()
    }
}

/// Loads `prog` into the current address space, which must be empty, and records its VMAs in
/// `process`'s memory map (which this resets). `ENOMEM` when memory runs out; `E2BIG` when
/// the arguments do not fit.
pub fn load(process: &Process, k: &mut dyn Platform, prog: &Program<'_>) -> Result<Start, Errno> {
    let plan = prog.exe.plan();
    *process.mm.lock() = Mm::new(plan.brk, MMAP_TOP);
    let maps = clipped(&plan.file_maps);
    for r in &plan.regions {
        record_region(process, r, &maps, prog);
    }
    for m in &maps {
        if let Some(z) = m.zero_from {
            let page = z & !(PAGE - 1);
            if page >= m.start {
                map_partial_page(k, prog, m, page, z, perms_at(&plan.regions, page))?;
            }
        }
    }
    let mut random = [0u8; 16];
    k.random(&mut random);
    let mut auxv = AuxValues::for_plan(&plan);
    (auxv.hwcap, auxv.hwcap2) = k.hwcaps();
    // [vvar][vdso] sit at the bottom of the gap between the mmap area and the stack.
    auxv.sysinfo_ehdr = k.map_vdso(MMAP_TOP).map(|(ehdr, end)| {
        let mut mm = process.mm.lock();
        let read = Perms {
            read: true,
            write: false,
            exec: false,
        };
        mm.record_named(MMAP_TOP, ehdr, read, VmaName::Special("[vvar]"));
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
    };
    let stack = build_stack(&params, STACK_TOP, ARG_MAX).map_err(|_| Errno::E2BIG)?;
    // Map the pages the initial stack needs; the rest of the VMA comes on first touch.
    let used = (stack.bytes.len() as u64).div_ceil(PAGE) * PAGE;
    let base = STACK_TOP - used;
    let pad = (stack.sp - base) as usize;
    let mut bytes = vec![0u8; pad];
    bytes.extend_from_slice(&stack.bytes);
    for (i, chunk) in bytes.chunks(PAGE as usize).enumerate() {
        k.map_copy(base + i as u64 * PAGE, chunk, RW)?;
    }
    process
        .mm
        .lock()
        .record_named(base - STACK_EXPAND, STACK_TOP, RW, VmaName::Stack);
    Ok(Start {
        entry: plan.entry,
        sp: stack.sp,
    })
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

/// Maps the page at `page` of file map `m`: the file's bytes up to `zero_from`, zeros after.
fn map_partial_page(
    k: &mut dyn Platform,
    prog: &Program<'_>,
    m: &FileMap,
    page: u64,
    zero_from: u64,
    perms: Perms,
) -> Result<(), Errno> {
    let mut buf = vec![0u8; (zero_from - page) as usize];
    let mut done = 0;
    let at = m.file_offset + (page - m.start);
    while done < buf.len() {
        match prog.inode.read_at(at + done as u64, &mut buf[done..])? {
            0 => return Err(Errno::ENOEXEC),
            n => done += n,
        }
    }
    k.map_copy(page, &buf, perms)
}

/// Records one image region in the VMA list: the pages file maps cover are private mappings
/// of the executable (with their file offset), the rest (.bss) is anonymous.
fn record_region(process: &Process, r: &Region, maps: &[FileMap], prog: &Program<'_>) {
    let mut mm = process.mm.lock();
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
            inode: prog.inode.clone(),
            path: prog.path.clone(),
            offset: m.file_offset + (lo - m.start),
        };
        mm.record_named(lo, hi, r.perms, name);
        at = hi;
    }
    if at < r.end {
        mm.record(at, r.end, r.perms);
    }
}
