//! A program image in an empty address space: its segments, the vDSO, the initial stack with
//! argv, envp and auxv, as Linux's load_elf_binary leaves them. The kernel starts the first
//! program with this, and execve every later one.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use coracle_loader::{
    build_stack, AuxValues, Copy, Executable, LoadPlan, Region, StackParams, USER_TOP,
};
use coracle_vfs::Inode;

use crate::mm::{Mm, VmaName, PAGE};
use crate::process::ProcShared;
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
    /// The parsed ELF file and its bytes.
    pub exe: &'a Executable,
    pub image: &'a [u8],
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
/// `shared`'s memory map (which this resets). `ENOMEM` when memory runs out; `E2BIG` when
/// the arguments do not fit.
pub fn load(shared: &ProcShared, k: &mut dyn Platform, prog: &Program<'_>) -> Result<Start, Errno> {
    let plan = prog.exe.plan();
    *shared.mm.lock() = Mm::new(plan.brk, MMAP_TOP);
    let name = VmaName::File {
        inode: prog.inode.clone(),
        path: prog.path.clone(),
        offset: 0,
    };
    for r in &plan.regions {
        map_region(k, r, &plan, prog.image)?;
        record_region(shared, r, &plan.copies, &name);
    }
    let mut random = [0u8; 16];
    k.random(&mut random);
    let mut auxv = AuxValues::for_plan(&plan);
    (auxv.hwcap, auxv.hwcap2) = k.hwcaps();
    // [vvar][vdso] sit at the bottom of the gap between the mmap area and the stack.
    auxv.sysinfo_ehdr = k.map_vdso(MMAP_TOP).map(|(ehdr, end)| {
        let mut mm = shared.mm.lock();
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
    shared
        .mm
        .lock()
        .record_named(base - STACK_EXPAND, STACK_TOP, RW, VmaName::Stack);
    Ok(Start {
        entry: plan.entry,
        sp: stack.sp,
    })
}

/// Maps the pages of one region that hold file bytes, filled from the image (the rest, .bss,
/// is zero-filled on first touch).
fn map_region(
    k: &mut dyn Platform,
    r: &Region,
    plan: &LoadPlan,
    image: &[u8],
) -> Result<(), Errno> {
    let mut page = r.start;
    while page < r.end {
        let mut buf = [0u8; PAGE as usize];
        let mut touched = false;
        for c in &plan.copies {
            let (lo, hi) = (c.vaddr.max(page), (c.vaddr + c.len).min(page + PAGE));
            if lo >= hi {
                continue;
            }
            let from = (c.file_offset + (lo - c.vaddr)) as usize;
            let n = (hi - lo) as usize;
            let src = image.get(from..from + n).ok_or(Errno::ENOEXEC)?;
            buf[(lo - page) as usize..(lo - page) as usize + n].copy_from_slice(src);
            touched = true;
        }
        if touched {
            k.map_copy(page, &buf, r.perms)?;
        }
        page += PAGE;
    }
    Ok(())
}

/// Records one image region in the VMA list as /proc/self/maps shows it: the pages that hold
/// file contents name the executable (with their file offset), the rest (.bss) is anonymous.
fn record_region(shared: &ProcShared, r: &Region, copies: &[Copy], exe: &VmaName) {
    let mut mm = shared.mm.lock();
    let inside: Vec<&Copy> = copies
        .iter()
        .filter(|c| c.vaddr < r.end && c.vaddr + c.len > r.start)
        .collect();
    let (Some(first), VmaName::File { inode, path, .. }) = (inside.first(), exe) else {
        mm.record(r.start, r.end, r.perms);
        return;
    };
    let file_end = inside
        .iter()
        .map(|c| (c.vaddr + c.len).div_ceil(PAGE) * PAGE)
        .max()
        .unwrap_or(r.start)
        .min(r.end);
    let Some(offset) = first.file_offset.checked_sub(first.vaddr - r.start) else {
        mm.record(r.start, r.end, r.perms);
        return;
    };
    let name = VmaName::File {
        inode: inode.clone(),
        path: path.clone(),
        offset,
    };
    mm.record_named(r.start, file_end, r.perms, name);
    if file_end < r.end {
        mm.record(file_end, r.end, r.perms);
    }
}
