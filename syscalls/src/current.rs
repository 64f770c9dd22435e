//! The calling thread: what every system call handler gets, as `p: &mut Current`.
//!
//! A thread has three parts, named after who may touch them:
//! - [`Process`]: what the threads of one process share (fd table, cwd, memory map, signal
//!   actions, identity), behind `Arc` and locks; a handler reaches it as `p.process`.
//! - [`Thread`]: what of one thread any CPU may look at: its id, its wait, its kill flag,
//!   signal mask and affinity, behind `Arc`; other threads signal, wake and kill it through it.
//!   `p.thread`.
//! - [`Current`]: what only the thread itself touches, so it needs no lock of its own: the
//!   state a system call keeps across its re-runs, the alternate signal stack, the bounce
//!   buffer. It is named after Linux's `current`, the thread a system call runs for.
//!
//! The scheduler holds a thread as a [`Task`](crate::sched::Task): its [`Thread`] plus, locked
//! by the CPU running it, a [`TaskBody`](crate::sched::TaskBody) (the `Current` and the saved
//! user registers and FP state). See `crate::sched` for why those two stay separate types.

use alloc::collections::BTreeSet;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::AtomicU32;

use coracle_vfs::{Caller, Errno, Inode, OpenFile, WaitQueue, Wake};
use spin::Mutex;

use crate::mm::Mm;
use crate::process::{Fd, FdTable, FsContext, Life, Process, StartInfo, System, NOFILE};
use crate::sched::Thread;
use crate::signal::{ProcSignals, SigThread};

/// The calling thread: its process, its [`Thread`] and the machine, plus the state only it
/// touches. A CPU holds it (in the thread's [`TaskBody`](crate::sched::TaskBody)) while it runs
/// the thread, and hands it to every system call as `&mut Current`.
#[derive(Debug)]
pub struct Current {
    pub info: StartInfo,
    pub sys: Arc<System>,
    pub process: Arc<Process>,
    pub tid: u32,
    /// This thread as the scheduler sees it (waits, CPU, kill flag).
    pub thread: Arc<Thread>,
    /// A wait began during the current system call (see [`Current::wait_on`]).
    pub(crate) wait_begun: bool,
    /// Why the current system call runs again after a wait, if it does.
    pub(crate) resumed: Option<Wake>,
    /// The absolute CLOCK_MONOTONIC deadline of the current system call's wait, kept across
    /// its re-runs so that a relative timeout is counted once.
    pub(crate) deadline: Option<u64>,
    /// Bytes a blocking write moved before it had to wait, kept across its re-runs.
    pub(crate) progress: u64,
    /// An object the current system call keeps across its re-runs (a FIFO end whose open
    /// waits for the other end); dropped when the call ends.
    pub(crate) held: Option<alloc::boxed::Box<dyn core::any::Any + Send + Sync>>,
    /// This thread's own signal state (alternate stack, the mask a call restores, faults).
    pub(crate) sig: SigThread,
    pub clear_child_tid: u64,
    /// The host's stdin has reached its end.
    pub stdin_eof: bool,
    /// Set by exit, exit_group and fatal signals: the docker-style status to stop with.
    pub exit_status: Option<u32>,
    /// Set by exit when other threads remain: only this thread ends.
    pub(crate) exit_thread: bool,
    /// The thread is parked outside a system call, because its process is stopped (job
    /// control) or a page it faulted on is being read: when woken it goes back to user mode
    /// as it was.
    pub stop_waiting: bool,
    /// Set by sched_yield: the CPU should run another thread first.
    pub(crate) yield_cpu: bool,
    /// The I/O bounce buffer, reused across reads and writes.
    pub(crate) bounce: Vec<u8>,
    /// Syscall numbers already reported as missing (each is logged once).
    pub(crate) missing_logged: BTreeSet<u64>,
    /// Where the current system call is in its ptrace stops (see `crate::ptrace`).
    pub(crate) trace_phase: crate::ptrace::Phase,
    /// The signal a tracer gave back at a signal-delivery stop, delivered next.
    pub(crate) trace_inject: Option<crate::signal::SigInfo>,
    /// The hardware breakpoints a tracer set (none in a new thread, none after exec).
    pub debug: crate::regs::DebugRegs,
}

impl Current {
    /// The first process: fds 0, 1 and 2 on the console, the cwd `cwd` (already resolved).
    pub fn new(sys: Arc<System>, info: StartInfo, cwd: Arc<dyn Inode>, start_ns: u64) -> Self {
        let mut files = FdTable::default();
        for (i, file) in crate::console::console_files(&sys, &info)
            .into_iter()
            .enumerate()
        {
            let _ = files.set(
                i,
                Fd {
                    file,
                    cloexec: false,
                },
            );
        }
        let comm = info
            .exe
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or_default()
            .iter()
            .take(15)
            .copied()
            .collect();
        let process = Arc::new(Process {
            pid: info.pid,
            ppid: AtomicU32::new(0),
            pgid: AtomicU32::new(info.pid),
            sid: AtomicU32::new(info.pid),
            creds: Mutex::new(info.creds.clone()),
            comm: Mutex::new(comm),
            cmdline: Mutex::new(info.cmdline.clone()),
            environ: Mutex::new(info.environ.clone()),
            auxv: Mutex::new(Vec::new()),
            space: Mutex::new(None),
            stopped: core::sync::atomic::AtomicBool::new(false),
            life: Mutex::new(Life {
                exit_signal: 17,
                ..Life::default()
            }),
            child_events: WaitQueue::new(),
            exit_events: WaitQueue::new(),
            exe: Mutex::new(None),
            files: Mutex::new(files),
            fs: Mutex::new(FsContext {
                cwd,
                root: sys.vfs.root().clone(),
                umask: 0o022,
            }),
            mm: crate::mm::MmRef::new(Mm::new(info.brk, info.mmap_top)),
            limits: Mutex::new(crate::sys::info::default_limits()),
            start_ns,
            threads: Mutex::new(alloc::vec![info.pid]),
            signals: ProcSignals::default(),
            exited_cpu_ns: core::sync::atomic::AtomicU64::new(0),
            exit_code: Mutex::new(None),
            personality: AtomicU32::new(0),
            ioprio: AtomicU32::new(0),
        });
        sys.register(&process);
        sys.sched.reserve_tid(info.pid);
        let thread = sys.sched.new_thread(info.pid);
        Self {
            thread,
            wait_begun: false,
            resumed: None,
            deadline: None,
            progress: 0,
            held: None,
            stdin_eof: !info.stdin_forwarded,
            tid: info.pid,
            info,
            sys,
            process,
            sig: SigThread::default(),
            clear_child_tid: 0,
            exit_status: None,
            exit_thread: false,
            stop_waiting: false,
            yield_cpu: false,
            bounce: Vec::new(),
            missing_logged: BTreeSet::new(),
            trace_phase: crate::ptrace::Phase::Idle,
            trace_inject: None,
            debug: crate::regs::DebugRegs::default(),
        }
    }

    /// The caller identity for the VFS.
    pub fn caller(&self) -> Caller {
        let (umask, root) = {
            let fs = self.process.fs.lock();
            (fs.umask, fs.root.clone())
        };
        self.process
            .creds
            .lock()
            .caller(self.process.pid, self.tid, umask, root)
    }

    /// The open file at `fd`, or `EBADF`.
    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.process.files.lock().file(fd)
    }

    /// The soft RLIMIT_NOFILE: fds must be below it.
    pub fn fd_limit(&self) -> usize {
        let soft = self.process.limits.lock()[7].0;
        usize::try_from(soft).unwrap_or(NOFILE).min(NOFILE)
    }

    /// Installs `file` at the lowest free fd.
    pub fn install(&self, file: Arc<OpenFile>, cloexec: bool) -> Result<usize, Errno> {
        crate::kmem::check_file_count(&self.sys)?;
        let limit = self.fd_limit();
        self.process
            .files
            .lock()
            .install_lowest(0, limit, Fd { file, cloexec })
    }

    /// A new thread of this process (clone with CLONE_THREAD): same process, a new id, the
    /// signal mask inherited, no alternate signal stack.
    pub fn new_thread(&self, tid: u32) -> Current {
        let thread = self.sys.sched.new_thread(tid);
        thread.sig.inherit(&self.thread.sig);
        crate::sys::sched::inherit(&self.thread, &thread);
        self.process.threads.lock().push(tid);
        Current {
            info: self.info.clone(),
            sys: self.sys.clone(),
            process: self.process.clone(),
            tid,
            thread,
            wait_begun: false,
            resumed: None,
            deadline: None,
            progress: 0,
            held: None,
            sig: SigThread::new_thread(),
            clear_child_tid: 0,
            stdin_eof: self.stdin_eof,
            exit_status: None,
            exit_thread: false,
            stop_waiting: false,
            yield_cpu: false,
            bounce: Vec::new(),
            missing_logged: BTreeSet::new(),
            trace_phase: crate::ptrace::Phase::Idle,
            trace_inject: None,
            debug: crate::regs::DebugRegs::default(),
        }
    }

    /// Undoes [`Current::new_thread`] for a thread that never ran.
    pub fn forget(self) {
        self.process.threads.lock().retain(|&t| t != self.tid);
        self.sys.sched.remove(self.tid);
    }

    /// Registers this thread's current wait on `queue` (`mask` is for the queue's owner).
    /// The caller then tries its operation once more and returns [`Errno::WAIT`] if it still
    /// cannot progress.
    pub fn wait_on(&mut self, queue: &WaitQueue, mask: u64) {
        self.wait_begun = true;
        queue.register(self.thread.waiter(mask));
    }

    /// Starts this thread's wait without registering anywhere (for waits that only a deadline
    /// or a signal ends, or whose registry is not a [`WaitQueue`]); returns its token.
    pub fn begin_wait(&mut self) -> u64 {
        self.wait_begun = true;
        self.thread.begin_wait()
    }

    /// Gives the current wait the absolute CLOCK_MONOTONIC deadline `ns`.
    pub fn wait_until(&mut self, ns: u64) {
        self.wait_begun = true;
        self.deadline = Some(ns);
        self.thread.set_deadline(ns);
    }

    /// The deadline of this call: the one fixed on its first run, or `first()` now.
    pub fn call_deadline(&mut self, first: impl FnOnce() -> Option<u64>) -> Option<u64> {
        if self.deadline.is_none() {
            self.deadline = first();
        }
        self.deadline
    }

    /// Why this system call runs again, if it is a re-run after a wait.
    pub fn resumed(&self) -> Option<Wake> {
        self.resumed
    }

    /// Sets /proc/self/exe.
    pub fn set_exe(&self, inode: Arc<dyn Inode>, path: Vec<u8>) {
        *self.process.exe.lock() = Some((inode, path));
    }
}
