//! Processes as the syscall layer sees them, and the machine they run on.
//!
//! [`Process`] is what all threads of a process share (fd table, cwd and umask, memory map,
//! identity); a system call reaches it as `p.process` from the calling thread
//! ([`crate::Current`], see `crate::current` for how the thread's parts are named).
//! [`System`] is what the whole machine shares: the filesystem namespace, the process table,
//! the kernel's facts.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::{Clock, Errno, Inode, OpenFile, Vfs};
use spin::Mutex;

use crate::mm::MmRef;
use crate::sched::Scheduler;
use crate::signal::ProcSignals;
use coracle_vfs::WaitQueue;

/// What the kernel knows about the first process when it starts it.
#[derive(Debug, Clone)]
pub struct StartInfo {
    pub pid: u32,
    /// `-t`: fds 0-2 are a terminal.
    pub tty: bool,
    /// `-i`: fd 0 reads the host's stdin; otherwise it is at end of file.
    pub stdin_forwarded: bool,
    /// The node name uname reports.
    pub hostname: Vec<u8>,
    /// The executable's path as given to exec (for AT_EXECFN); /proc/self/exe is `exe_inode`.
    pub exe: Vec<u8>,
    /// argv and the environment, each string NUL-terminated (for /proc/self/cmdline, environ).
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
    /// Number of CPUs the VM has.
    pub cpus: u32,
    /// The initial program break (page-aligned end of the image).
    pub brk: u64,
    /// Highest address + 1 that `mmap` may hand out (just below the stack and its gap).
    pub mmap_top: u64,
    /// The user the first process runs as (the launch's `user` record; root by default).
    pub creds: crate::creds::Creds,
}

/// Facts only the kernel knows, for /proc and /sys (read without a [`crate::Platform`], from
/// any CPU).
pub trait SystemInfo: Send + Sync {
    /// CLOCK_MONOTONIC since boot, in ns.
    fn uptime_ns(&self) -> u64;
    /// CLOCK_REALTIME, in ns since the epoch.
    fn realtime_ns(&self) -> u64;
    /// CLOCK_REALTIME at boot (the times of /proc files, `btime`). A kernel that knows it
    /// without reading the clock says so, so that looking at /proc does not start the clock.
    fn boot_realtime_ns(&self) -> u64 {
        self.realtime_ns().saturating_sub(self.uptime_ns())
    }
    /// Usable RAM and what of it is free, in bytes.
    fn mem_total(&self) -> u64;
    fn mem_free(&self) -> u64;
    /// /proc/cpuinfo's block for one CPU (without the `processor` line and the blank line).
    fn cpuinfo(&self, cpu: u32) -> Vec<u8>;
    /// Random bytes (for /proc/sys/kernel/random/uuid).
    fn random(&self, buf: &mut [u8]);
}

/// One slot of the fd table.
#[derive(Debug, Clone)]
pub struct Fd {
    pub file: Arc<OpenFile>,
    pub cloexec: bool,
}

/// Most fds a process may have open (RLIMIT_NOFILE's hard limit under docker).
pub const NOFILE: usize = 1024 * 1024;
/// The soft RLIMIT_NOFILE reported to programs.
pub const NOFILE_SOFT: u64 = 1024 * 1024;

/// A process's file descriptors (a clone is a forked child's table: same open files).
#[derive(Debug, Default, Clone)]
pub struct FdTable {
    slots: Vec<Option<Fd>>,
    /// Lowest fd that may be free (a search hint).
    hint: usize,
}

impl FdTable {
    /// The entry for `fd`, or `EBADF`.
    pub fn get(&self, fd: i32) -> Result<Fd, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i).cloned().flatten())
            .ok_or(Errno::EBADF)
    }

    /// The open file at `fd`, or `EBADF`.
    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.get(fd).map(|f| f.file)
    }

    /// Puts `entry` at the lowest free fd at or above `min` and below `limit`
    /// (RLIMIT_NOFILE): `EMFILE` if there is none.
    pub fn install_lowest(&mut self, min: usize, limit: usize, entry: Fd) -> Result<usize, Errno> {
        let start = min.max(if min == 0 { self.hint } else { min });
        let fd = (start..limit.min(NOFILE))
            .find(|&i| self.slots.get(i).is_none_or(|e| e.is_none()))
            .ok_or(Errno::EMFILE)?;
        self.set(fd, entry)?;
        Ok(fd)
    }

    /// Puts `entry` at `fd` and returns what was there; `ENOMEM` if the table cannot grow.
    pub fn set(&mut self, fd: usize, entry: Fd) -> Result<Option<Fd>, Errno> {
        if self.slots.len() <= fd {
            self.slots
                .try_reserve(fd + 1 - self.slots.len())
                .map_err(|_| Errno::ENOMEM)?;
            self.slots.resize(fd + 1, None);
        }
        if fd == self.hint {
            self.hint += 1;
        }
        Ok(self.slots[fd].replace(entry))
    }

    /// Empties `fd`; returns what was there.
    pub fn remove(&mut self, fd: usize) -> Option<Fd> {
        let old = self.slots.get_mut(fd)?.take();
        if old.is_some() {
            self.hint = self.hint.min(fd);
            while self.slots.last().is_some_and(Option::is_none) {
                self.slots.pop();
            }
        }
        old
    }

    /// Sets or clears close-on-exec of `fd`.
    pub fn set_cloexec(&mut self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        slot.cloexec = cloexec;
        Ok(())
    }

    /// The open fds in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Fd)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|f| (i, f)))
    }

    /// One more than the highest fd that may be open.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// The filesystem context: where relative paths start, the root, the umask.
#[derive(Clone)]
pub struct FsContext {
    pub cwd: Arc<dyn Inode>,
    pub root: Arc<dyn Inode>,
    pub umask: u32,
}

impl core::fmt::Debug for FsContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FsContext")
            .field("umask", &self.umask)
            .finish_non_exhaustive()
    }
}

/// The executable of a process and the path it was found by.
pub type Exe = (Arc<dyn Inode>, Vec<u8>);

/// How a process ended or changed state, as wait reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(code), code 0-255.
    Exited(u32),
    /// Killed by a signal (`core`: its default action dumps core).
    Signaled { sig: u32, core: bool },
}

impl ExitStatus {
    /// The status word wait4 stores (WIFEXITED/WIFSIGNALED encoding).
    pub fn wait_status(self) -> u32 {
        match self {
            ExitStatus::Exited(code) => (code & 0xff) << 8,
            ExitStatus::Signaled { sig, core } => sig | if core { 0x80 } else { 0 },
        }
    }

    /// The docker-style status the VM stops with (128 + N for signal N).
    pub fn docker(self) -> u32 {
        match self {
            ExitStatus::Exited(code) => code & 0xff,
            ExitStatus::Signaled { sig, .. } => 128 + sig,
        }
    }
}

/// A process's life as its parent's wait sees it.
#[derive(Debug, Default)]
pub struct Life {
    /// Set once the last thread ended: the process is a zombie until reaped.
    pub ended: Option<ExitStatus>,
    /// The signal that stopped it, until a wait with WUNTRACED reports it.
    pub stop_report: Option<u32>,
    /// It was continued, until a wait with WCONTINUED reports it.
    pub continued_report: bool,
    /// It is stopped (SIGSTOP and friends) until SIGCONT.
    pub stopped: bool,
    /// The signal the parent gets when it ends (clone's exit signal; 0 for none).
    pub exit_signal: u32,
    /// CPU time of reaped children and their children, in ns (RUSAGE_CHILDREN).
    pub children_cpu_ns: u64,
    /// Its own CPU time when it ended, in ns.
    pub cpu_ns: u64,
    /// The signal it gets when its parent ends (PR_SET_PDEATHSIG; 0: none).
    pub pdeathsig: u32,
    /// Orphaned descendants are reparented to it (PR_SET_CHILD_SUBREAPER).
    pub subreaper: bool,
    /// The prctl(2) settings kept across fork (`sys/process/prctl.rs`).
    pub prctl: PrctlState,
    /// A vfork parent waits until this is set (the child called execve or ended).
    pub vfork_done: bool,
    /// It called execve (its parent may no longer change its group).
    pub execed: bool,
    /// A set*uid moved it to a user over RLIMIT_NPROC: its next execve may fail
    /// (PF_NPROC_EXCEEDED, `sys::process::nproc`).
    pub nproc_exceeded: bool,
}

/// prctl(2) switches that only change what later calls answer: no_new_privs (kept across
/// fork and execve), THP disabled (the same) and the timer slack in ns (0: the default,
/// 50 us). Keep-capabilities is a securebit, in the credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrctlState {
    pub no_new_privs: bool,
    pub thp_disable: bool,
    pub timer_slack_ns: u64,
}

/// What the threads of one process share.
pub struct Process {
    pub pid: u32,
    /// The parent, the process group and the session (changed under the system's tree lock).
    pub ppid: AtomicU32,
    pub pgid: AtomicU32,
    pub sid: AtomicU32,
    /// Ids, groups and capabilities (`crate::creds`); read with [`Process::creds`].
    pub creds: Mutex<crate::creds::Creds>,
    /// The thread name (`comm`, at most 15 bytes).
    pub comm: Mutex<Vec<u8>>,
    pub cmdline: Mutex<Vec<u8>>,
    pub environ: Mutex<Vec<u8>>,
    /// The auxiliary vector the program started with (/proc/<pid>/auxv: Linux's saved_auxv).
    pub auxv: Mutex<Vec<u8>>,
    /// The user address space (the kernel's page tables), `None` once the process ended.
    pub space: Mutex<Option<crate::platform::Space>>,
    /// Exit, stop and continue state for wait.
    pub life: Mutex<Life>,
    /// `life.stopped`, readable without the lock: the CPU loop asks before every return to
    /// user mode.
    pub stopped: core::sync::atomic::AtomicBool,
    /// The process's threads waiting in wait4/waitid for a child's change.
    pub child_events: WaitQueue,
    /// Waiting for this process to end or exec: pidfd pollers, a vfork parent.
    pub exit_events: WaitQueue,
    /// The executable (/proc/self/exe) and its path.
    pub exe: Mutex<Option<Exe>>,
    pub files: Mutex<FdTable>,
    pub fs: Mutex<FsContext>,
    /// The memory map, shared with the processes clone gave CLONE_VM (`crate::mm::MmRef`).
    pub mm: MmRef,
    /// Resource limits, (soft, hard) by RLIMIT_* number.
    pub limits: Mutex<[(u64, u64); 16]>,
    /// CLOCK_MONOTONIC at start, in ns.
    pub start_ns: u64,
    /// The live threads' ids, the main thread first.
    pub threads: Mutex<Vec<u32>>,
    /// Signal actions, pending signals and signal timers.
    pub signals: ProcSignals,
    /// CPU time of the threads that exited, in ns (for the process CPU clock and getrusage).
    pub exited_cpu_ns: core::sync::atomic::AtomicU64,
    /// The status the process ends with, once its main thread or a group exit set it.
    pub(crate) exit_code: Mutex<Option<ExitStatus>>,
    /// personality(2)'s execution domain and flags (ADDR_NO_RANDOMIZE...), kept across fork
    /// and exec.
    pub personality: AtomicU32,
    /// ioprio_set's class and data, kept across fork (0: none set).
    pub ioprio: AtomicU32,
}

impl Process {
    /// Records the status the process will end with (the first group exit wins); returns
    /// the one that stands.
    pub fn set_exit(&self, status: ExitStatus) -> ExitStatus {
        *self.exit_code.lock().get_or_insert(status)
    }

    pub fn exit_code(&self) -> Option<ExitStatus> {
        *self.exit_code.lock()
    }

    /// A copy of the credentials.
    pub fn creds(&self) -> crate::creds::Creds {
        self.creds.lock().clone()
    }

    /// The real uid (what signals and wait report as the sender's).
    pub fn ruid(&self) -> u32 {
        self.creds.lock().uid
    }

    /// The effective uid (/proc's owner of the process's files).
    pub fn euid(&self) -> u32 {
        self.creds.lock().euid
    }

    pub fn ppid(&self) -> u32 {
        self.ppid.load(Ordering::Relaxed)
    }

    pub fn pgid(&self) -> u32 {
        self.pgid.load(Ordering::Relaxed)
    }

    pub fn sid(&self) -> u32 {
        self.sid.load(Ordering::Relaxed)
    }
}

impl core::fmt::Debug for Process {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// The machine: one filesystem namespace, the processes, the kernel's facts.
pub struct System {
    pub vfs: Arc<Vfs>,
    pub info: Arc<dyn SystemInfo>,
    /// Every process until it is reaped (zombies included), by pid: the process tree. Its lock
    /// orders changes of parents, groups and sessions (Linux's tasklist_lock).
    pub tree: Mutex<BTreeMap<u32, Arc<Process>>>,
    /// The hostname (uname's nodename, /proc/sys/kernel/hostname).
    pub hostname: Mutex<Vec<u8>>,
    pub cpus: u32,
    clock: Arc<dyn Clock>,
    /// The internal tmpfs memfds live on.
    memfd: Arc<dyn Inode>,
    /// memfd seals by (dev, ino).
    pub seals: Mutex<BTreeMap<(u64, u64), u32>>,
    /// Advisory file locks.
    pub locks: Mutex<crate::locks::LockTable>,
    /// The threads and CPUs.
    pub sched: Arc<Scheduler>,
    /// Threads waiting on futexes.
    pub futexes: crate::sys::futex::FutexTable,
    /// Threads waiting for a file lock (woken whenever locks change).
    pub lock_waiters: WaitQueue,
    /// Linux's kernel.randomize_va_space: 0 places every image at the same addresses (the
    /// `norandmaps` boot flag), 1 randomises the stack, mmap base, vDSO and PIE base, 2 (the
    /// default) the program break too.
    pub randomize_va_space: AtomicU32,
    /// The TCP/IP stack (the machine's one; a fresh one per system in host tests).
    pub net: Arc<coracle_net::Network>,
    /// The names Unix sockets are bound to.
    pub(crate) unix: Arc<crate::sys::net::unix::Registry>,
    /// The terminals (console and ptys).
    pub(crate) ttys: crate::tty::Registry,
    /// System V IPC objects.
    pub(crate) ipc: crate::sys::ipc::Ipc,
    /// The traced threads.
    pub(crate) ptrace: crate::ptrace::Registry,
}

impl core::fmt::Debug for System {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("System").finish_non_exhaustive()
    }
}

impl System {
    pub fn new(
        vfs: Arc<Vfs>,
        info: Arc<dyn SystemInfo>,
        clock: Arc<dyn Clock>,
        hostname: Vec<u8>,
        sched: Arc<Scheduler>,
    ) -> Self {
        let cpus = sched.cpu_count() as u32;
        let memfd = new_tmpfs(clock.clone(), TmpfsOptions::default());
        System {
            vfs,
            info,
            tree: Mutex::new(BTreeMap::new()),
            hostname: Mutex::new(hostname),
            cpus,
            clock,
            memfd,
            seals: Mutex::new(BTreeMap::new()),
            locks: Mutex::new(crate::locks::LockTable::default()),
            sched,
            futexes: crate::sys::futex::FutexTable::default(),
            lock_waiters: WaitQueue::new(),
            randomize_va_space: AtomicU32::new(2),
            #[cfg(not(test))]
            net: crate::net::network().clone(),
            #[cfg(test)]
            net: coracle_net::Network::new(1),
            unix: Arc::default(),
            ttys: crate::tty::Registry::default(),
            ipc: crate::sys::ipc::Ipc::default(),
            ptrace: crate::ptrace::Registry::default(),
        }
    }

    /// The wall clock filesystems stamp times with.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The directory memfds are made in.
    pub fn memfd_dir(&self) -> Arc<dyn Inode> {
        self.memfd.clone()
    }

    /// The process `pid` (a zombie too, until it is reaped).
    pub fn process(&self, pid: u32) -> Option<Arc<Process>> {
        self.tree.lock().get(&pid).cloned()
    }

    /// The pids of the processes, ascending.
    pub fn pids(&self) -> Vec<u32> {
        self.tree.lock().keys().copied().collect()
    }

    pub(crate) fn register(&self, p: &Arc<Process>) {
        self.tree.lock().insert(p.pid, p.clone());
    }
}
