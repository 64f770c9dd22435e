//! The state of the running process that syscalls read and change.
//!
//! One process, one thread for now; threads, fork and the VFS replace the pieces here as they
//! arrive (the fd table becomes the VFS's open-file table, `Mm` grows demand paging).

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::sys::mman::Mm;
use crate::sys::signal::SigActions;

/// What the kernel knows about the process when it starts it.
#[derive(Debug, Clone)]
pub struct StartInfo {
    pub pid: u32,
    /// `-t`: fds 0-2 are a terminal.
    pub tty: bool,
    /// `-i`: fd 0 reads the host's stdin; otherwise it is at end of file.
    pub stdin_forwarded: bool,
    /// The node name uname reports.
    pub hostname: Vec<u8>,
    /// The executable's absolute path (for /proc/self/exe).
    pub exe: Vec<u8>,
    /// The initial working directory.
    pub cwd: Vec<u8>,
    /// Number of CPUs the VM has.
    pub cpus: u32,
    /// The initial program break (page-aligned end of the image).
    pub brk: u64,
    /// Highest address + 1 that `mmap` may hand out (just below the stack and its gap).
    pub mmap_top: u64,
}

/// What an fd refers to. Only the three console streams exist until the VFS arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    Stdin,
    Stdout,
    Stderr,
}

/// One slot of the fd table.
#[derive(Debug, Clone, Copy)]
pub struct FdEntry {
    pub file: File,
    pub cloexec: bool,
}

/// Most fds a process may have open (RLIMIT_NOFILE default, as under docker).
pub const NOFILE: usize = 1024 * 1024;
/// The soft RLIMIT_NOFILE reported to programs.
pub const NOFILE_SOFT: u64 = 1024 * 1024;

/// The running process.
#[derive(Debug)]
pub struct Process {
    pub info: StartInfo,
    pub fds: Vec<Option<FdEntry>>,
    pub mm: Mm,
    pub sigactions: SigActions,
    pub sigmask: u64,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    pub umask: u32,
    /// The host's stdin has reached its end.
    pub stdin_eof: bool,
    /// Set by exit, exit_group and fatal signals: the docker-style status to stop with.
    pub exit_status: Option<u32>,
    /// The console's bounce buffer, reused across reads and writes.
    pub(crate) bounce: Vec<u8>,
    /// Syscall numbers already reported as missing (each is logged once).
    pub(crate) missing_logged: BTreeSet<u64>,
}

impl Process {
    /// A process with fds 0, 1 and 2 open on the console.
    pub fn new(info: StartInfo) -> Self {
        let fds = [File::Stdin, File::Stdout, File::Stderr]
            .into_iter()
            .map(|file| {
                Some(FdEntry {
                    file,
                    cloexec: false,
                })
            })
            .collect();
        Self {
            mm: Mm::new(info.brk, info.mmap_top),
            stdin_eof: !info.stdin_forwarded,
            info,
            fds,
            sigactions: SigActions::default(),
            sigmask: 0,
            clear_child_tid: 0,
            robust_list: 0,
            umask: 0o022,
            exit_status: None,
            bounce: Vec::new(),
            missing_logged: BTreeSet::new(),
        }
    }

    /// The entry for `fd`, or `EBADF`.
    pub fn fd(&self, fd: i32) -> Result<FdEntry, crate::Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i).copied().flatten())
            .ok_or(crate::Errno::EBADF)
    }

    /// The lowest free fd at or above `min`.
    pub fn lowest_free_fd(&self, min: usize) -> Result<usize, crate::Errno> {
        (min..NOFILE)
            .find(|&i| self.fds.get(i).is_none_or(|e| e.is_none()))
            .ok_or(crate::Errno::EMFILE)
    }

    /// Puts `entry` at `fd`, growing the table as needed.
    pub fn install_fd(&mut self, fd: usize, entry: FdEntry) {
        if self.fds.len() <= fd {
            self.fds.resize(fd + 1, None);
        }
        self.fds[fd] = Some(entry);
    }
}
