//! Kernel memory that programs can drive: the machine-wide limit on open files (fs.file-max)
//! and the reserve below which the calls that make kernel objects fail with `ENOMEM`.
//!
//! The kernel heap grows from the frames programs also use; the kernel keeps a reserve of
//! frames only the heap may take (`kernel/src/mm/frame.rs`). A call that would make kernel
//! objects (a file, an inode, a process, a mapping) while free memory is below twice that
//! reserve fails as Linux's allocations fail (`ENOMEM`), so a program that opens, creates or
//! forks without end meets an errno and the kernel stays healthy (LTP open04, creat05, fork09).

use crate::nr::*;
use crate::{Errno, System};

/// Linux's NR_FILE: fs.file-max is never below it.
const NR_FILE: u64 = 8192;

/// fs.file-max as Linux sizes it at boot (`files_maxfiles_init`): about one open file per
/// 10 KiB of memory (a tenth of memory at 1 KiB a file), at least [`NR_FILE`].
pub(crate) fn file_max(sys: &System) -> u64 {
    (sys.info.mem_total() / 1024 / 10).max(NR_FILE)
}

/// `ENFILE` once more open file descriptions exist than fs.file-max allows (the new one is
/// counted already). Docker gives root no CAP_SYS_ADMIN, which alone may go past it.
pub(crate) fn check_file_count(sys: &System) -> Result<(), Errno> {
    if coracle_vfs::file::open_files() as u64 > file_max(sys) {
        return Err(Errno::ENFILE);
    }
    Ok(())
}

/// kernel.threads-max as Linux sizes it at boot (`set_max_threads`): the threads whose
/// 16 KiB kernel stacks would fill an eighth of memory, at least 20.
pub(crate) fn threads_max(sys: &System) -> u64 {
    (sys.info.mem_total() / (8 * 16 * 1024)).clamp(20, 0x3fff_ffff)
}

/// `EAGAIN` for a new thread or process once kernel.threads-max threads exist (fork's and
/// clone's check, which binds root too).
pub(crate) fn check_thread_count(sys: &System) -> Result<(), Errno> {
    if sys.sched.thread_count() as u64 >= threads_max(sys) {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// Whether free memory is below twice the kernel's frame reserve (1/64 of memory, at least
/// 1 MiB): the calls stop while page faults in progress still find frames, and the heap has
/// the reserve beyond that.
fn memory_low(sys: &System) -> bool {
    let total = sys.info.mem_total();
    let floor = (total / 32).max(2 << 20);
    sys.info.mem_free() < floor
}

/// Calls that make kernel objects whose number the program chooses: refused with `ENOMEM`
/// when memory is low. Calls that free memory, and those that only move data, are not.
#[allow(non_upper_case_globals)] // Linux's own names (`crate::nr`)
fn allocates(nr: u64) -> bool {
    matches!(
        nr,
        SYS_open
            | SYS_openat
            | SYS_openat2
            | SYS_creat
            | SYS_mkdir
            | SYS_mkdirat
            | SYS_mknod
            | SYS_mknodat
            | SYS_symlink
            | SYS_symlinkat
            | SYS_link
            | SYS_linkat
            | SYS_pipe
            | SYS_pipe2
            | SYS_socket
            | SYS_socketpair
            | SYS_accept
            | SYS_accept4
            | SYS_epoll_create
            | SYS_epoll_create1
            | SYS_epoll_ctl
            | SYS_eventfd
            | SYS_eventfd2
            | SYS_timerfd_create
            | SYS_signalfd
            | SYS_signalfd4
            | SYS_memfd_create
            | SYS_dup
            | SYS_dup2
            | SYS_dup3
            | SYS_fork
            | SYS_vfork
            | SYS_clone
            | SYS_clone3
            | SYS_execve
            | SYS_execveat
            | SYS_pidfd_open
            | SYS_mmap
            | SYS_mprotect
            | SYS_mremap
    )
}

/// `ENOMEM` for a call of [`allocates`] while memory is low.
pub(crate) fn check_call(sys: &System, nr: u64) -> Result<(), Errno> {
    if allocates(nr) && memory_low(sys) {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}
