//! The system-call table: numbers, argument decoding and dispatch in one declaration.
//!
//! Each line reads `NR => handler(arg: Type, ...)`, with the Linux x86_64 number; argument
//! registers are decoded into the listed types here, so handlers never see raw registers.
//! Numbers not in the table return `ENOSYS`, and the first call of each is logged by name.

use coracle_vfs::Wake;

use crate::regs::UserRegs;
use crate::{sys, Errno, Platform, Process, SysResult};

/// What the kernel should do after a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Return this value in rax and resume the program.
    Return(u64),
    /// Return this value, but let other runnable threads have the CPU first (sched_yield).
    Yield(u64),
    /// The thread waits: park it (see [`crate::sched::Thread::park`]); when woken, pass the
    /// reason to [`resume`].
    Wait,
    /// The calling thread has ended; other threads of the process go on.
    ExitThread,
    /// The process is finished with this docker-style status (0-255; 128+N for signal N).
    Exit(u32),
}

/// Decoding of one argument register, as the C prototype types it: `int` arguments take the
/// low 32 bits, as Linux does.
trait FromArg {
    fn from_arg(raw: u64) -> Self;
}

impl FromArg for u64 {
    fn from_arg(raw: u64) -> Self {
        raw
    }
}

impl FromArg for i64 {
    fn from_arg(raw: u64) -> Self {
        raw as i64
    }
}

impl FromArg for u32 {
    fn from_arg(raw: u64) -> Self {
        raw as u32
    }
}

impl FromArg for i32 {
    fn from_arg(raw: u64) -> Self {
        raw as u32 as i32
    }
}

macro_rules! syscall_table {
    ($( $nr:literal => $module:ident :: $name:ident ( $( $arg:ident : $ty:ty ),* ); )*) => {
        /// The implemented system calls, as `(number, name)`, in number order.
        pub fn implemented() -> &'static [(u64, &'static str)] {
            &[$( ($nr, stringify!($name)) ),*]
        }

        fn call(nr: u64, p: &mut Process, k: &mut dyn Platform, a: [u64; 6]) -> Option<SysResult> {
            match nr {
                $( $nr => {
                    let mut _regs = a.into_iter();
                    $( let $arg = <$ty as FromArg>::from_arg(_regs.next().unwrap_or(0)); )*
                    Some(sys::$module::$name(p, k, $( $arg ),*))
                } )*
                _ => None,
            }
        }
    };
}

syscall_table! {
    0 => io::read(fd: i32, buf: u64, count: u64);
    1 => io::write(fd: i32, buf: u64, count: u64);
    2 => fs::open(path: u64, flags: i32, mode: u32);
    3 => io::close(fd: i32);
    4 => fs::stat(path: u64, statbuf: u64);
    5 => io::fstat(fd: i32, statbuf: u64);
    6 => fs::lstat(path: u64, statbuf: u64);
    7 => io::poll(fds: u64, nfds: u64, timeout_ms: i32);
    8 => io::lseek(fd: i32, offset: i64, whence: i32);
    9 => mman::mmap(addr: u64, len: u64, prot: u32, flags: u32, fd: i32, offset: u64);
    10 => mman::mprotect(addr: u64, len: u64, prot: u32);
    11 => mman::munmap(addr: u64, len: u64);
    12 => mman::brk(addr: u64);
    13 => signal::rt_sigaction(sig: i32, act: u64, oldact: u64, sigsetsize: u64);
    14 => signal::rt_sigprocmask(how: i32, set: u64, oldset: u64, sigsetsize: u64);
    16 => io::ioctl(fd: i32, request: u32, arg: u64);
    17 => io::pread64(fd: i32, buf: u64, count: u64, offset: i64);
    18 => io::pwrite64(fd: i32, buf: u64, count: u64, offset: i64);
    19 => io::readv(fd: i32, iov: u64, iovcnt: u64);
    20 => io::writev(fd: i32, iov: u64, iovcnt: u64);
    21 => fs::access(path: u64, mode: i32);
    22 => io::pipe(fds: u64);
    23 => io::select(nfds: i32, readfds: u64, writefds: u64, exceptfds: u64, timeout: u64);
    24 => thread::sched_yield();
    25 => mremap::mremap(addr: u64, old_len: u64, new_len: u64, flags: u32, new_addr: u64);
    26 => mman::msync(addr: u64, len: u64, flags: u32);
    27 => madvise::mincore(addr: u64, len: u64, vec: u64);
    28 => madvise::madvise(addr: u64, len: u64, advice: i32);
    32 => io::dup(fd: i32);
    33 => io::dup2(oldfd: i32, newfd: i32);
    34 => signal::pause();
    35 => time::nanosleep(req: u64, rem: u64);
    36 => signal::getitimer(which: i32, curr: u64);
    37 => signal::alarm(seconds: u32);
    38 => signal::setitimer(which: i32, new: u64, old: u64);
    39 => info::getpid();
    40 => io::sendfile(out_fd: i32, in_fd: i32, offset: u64, count: u64);
    60 => thread::exit(status: i32);
    61 => process::wait4(pid: i32, status: u64, options: u32, rusage: u64);
    62 => signal::kill(pid: i32, sig: i32);
    63 => info::uname(buf: u64);
    72 => io::fcntl(fd: i32, cmd: i32, arg: u64);
    73 => io::flock(fd: i32, op: i32);
    74 => io::fsync(fd: i32);
    75 => io::fdatasync(fd: i32);
    76 => fs::truncate(path: u64, length: i64);
    77 => fs::ftruncate(fd: i32, length: i64);
    79 => fs::getcwd(buf: u64, size: u64);
    80 => fs::chdir(path: u64);
    81 => fs::fchdir(fd: i32);
    82 => fs::rename(oldpath: u64, newpath: u64);
    83 => fs::mkdir(path: u64, mode: u32);
    84 => fs::rmdir(path: u64);
    85 => fs::creat(path: u64, mode: u32);
    86 => fs::link(oldpath: u64, newpath: u64);
    87 => fs::unlink(path: u64);
    88 => fs::symlink(target: u64, path: u64);
    89 => fs::readlink(path: u64, buf: u64, bufsiz: u64);
    90 => fs::chmod(path: u64, mode: u32);
    91 => fs::fchmod(fd: i32, mode: u32);
    92 => fs::chown(path: u64, uid: u32, gid: u32);
    93 => fs::fchown(fd: i32, uid: u32, gid: u32);
    94 => fs::lchown(path: u64, uid: u32, gid: u32);
    95 => fs::umask(mask: u32);
    96 => time::gettimeofday(tv: u64, tz: u64);
    97 => info::getrlimit(resource: u32, rlim: u64);
    98 => info::getrusage(who: i32, usage: u64);
    99 => info::sysinfo(info: u64);
    100 => info::times(buf: u64);
    102 => info::getuid();
    104 => info::getgid();
    107 => info::geteuid();
    108 => info::getegid();
    109 => process::setpgid(pid: i32, pgid: i32);
    110 => info::getppid();
    111 => info::getpgrp();
    112 => process::setsid();
    115 => info::getgroups(size: i32, list: u64);
    118 => info::getresuid(ruid: u64, euid: u64, suid: u64);
    120 => info::getresgid(rgid: u64, egid: u64, sgid: u64);
    121 => info::getpgid(pid: i32);
    124 => info::getsid(pid: i32);
    127 => signal::rt_sigpending(set: u64, size: u64);
    128 => signal::rt_sigtimedwait(these: u64, info: u64, ts: u64, size: u64);
    129 => signal::rt_sigqueueinfo(tgid: i32, sig: i32, info: u64);
    130 => signal::rt_sigsuspend(set: u64, size: u64);
    132 => fs::utime(path: u64, times: u64);
    133 => fs::mknod(path: u64, mode: u32, dev: u32);
    137 => fs::statfs(path: u64, buf: u64);
    138 => fs::fstatfs(fd: i32, buf: u64);
    140 => sched::getpriority(which: i32, who: i32);
    141 => sched::setpriority(which: i32, who: i32, prio: i32);
    142 => sched::sched_setparam(pid: i32, param: u64);
    143 => sched::sched_getparam(pid: i32, param: u64);
    144 => sched::sched_setscheduler(pid: i32, policy: i32, param: u64);
    145 => sched::sched_getscheduler(pid: i32);
    146 => sched::sched_get_priority_max(policy: i32);
    147 => sched::sched_get_priority_min(policy: i32);
    148 => sched::sched_rr_get_interval(pid: i32, tp: u64);
    149 => mman::mlock(addr: u64, len: u64);
    150 => mman::munlock(addr: u64, len: u64);
    151 => mman::mlockall(flags: u32);
    152 => mman::munlockall();
    157 => process::prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64);
    158 => process::arch_prctl(code: i32, addr: u64);
    160 => info::setrlimit(resource: u32, rlim: u64);
    161 => fs::chroot(path: u64);
    162 => io::sync();
    165 => fs::mount(source: u64, target: u64, fstype: u64, flags: u64, data: u64);
    166 => fs::umount2(target: u64, flags: i32);
    186 => info::gettid();
    187 => io::readahead(fd: i32, offset: i64, count: u64);
    200 => signal::tkill(tid: i32, sig: i32);
    201 => time::time(tloc: u64);
    202 => futex::futex(uaddr: u64, op: i32, val: u32, timeout: u64, uaddr2: u64, val3: u32);
    203 => sched::sched_setaffinity(pid: i32, len: u32, mask: u64);
    204 => sched::sched_getaffinity(pid: i32, len: u32, mask: u64);
    213 => epoll::epoll_create(size: i32);
    217 => io::getdents64(fd: i32, dirp: u64, count: u64);
    218 => process::set_tid_address(tidptr: u64);
    219 => signal::restart_syscall();
    221 => io::fadvise64(fd: i32, offset: i64, len: i64, advice: i32);
    222 => signal::timer_create(clock: i32, sevp: u64, timerid: u64);
    223 => signal::timer_settime(id: i32, flags: i32, new: u64, old: u64);
    224 => signal::timer_gettime(id: i32, curr: u64);
    225 => signal::timer_getoverrun(id: i32);
    226 => signal::timer_delete(id: i32);
    228 => time::clock_gettime(clock: i32, tp: u64);
    229 => time::clock_getres(clock: i32, res: u64);
    230 => time::clock_nanosleep(clock: i32, flags: i32, req: u64, rem: u64);
    231 => thread::exit_group(status: i32);
    232 => epoll::epoll_wait(epfd: i32, events: u64, maxevents: i32, timeout: i32);
    233 => epoll::epoll_ctl(epfd: i32, op: i32, fd: i32, event: u64);
    234 => signal::tgkill(tgid: i32, tid: i32, sig: i32);
    235 => fs::utimes(path: u64, times: u64);
    247 => process::waitid(idtype: i32, id: u32, infop: u64, options: u32, rusage: u64);
    257 => fs::openat(dirfd: i32, path: u64, flags: i32, mode: u32);
    258 => fs::mkdirat(dirfd: i32, path: u64, mode: u32);
    259 => fs::mknodat(dirfd: i32, path: u64, mode: u32, dev: u32);
    260 => fs::fchownat(dirfd: i32, path: u64, uid: u32, gid: u32, flags: i32);
    261 => fs::futimesat(dirfd: i32, path: u64, times: u64);
    262 => fs::newfstatat(dirfd: i32, path: u64, statbuf: u64, flags: i32);
    263 => fs::unlinkat(dirfd: i32, path: u64, flags: i32);
    264 => fs::renameat(olddirfd: i32, oldpath: u64, newdirfd: i32, newpath: u64);
    265 => fs::linkat(olddirfd: i32, oldpath: u64, newdirfd: i32, newpath: u64, flags: i32);
    266 => fs::symlinkat(target: u64, dirfd: i32, path: u64);
    267 => fs::readlinkat(dirfd: i32, path: u64, buf: u64, bufsiz: u64);
    268 => fs::fchmodat(dirfd: i32, path: u64, mode: u32);
    269 => fs::faccessat(dirfd: i32, path: u64, mode: i32);
    270 => io::pselect6(nfds: i32, readfds: u64, writefds: u64, exceptfds: u64, timeout: u64, sigmask: u64);
    271 => io::ppoll(fds: u64, nfds: u64, tsp: u64, sigmask: u64, sigsetsize: u64);
    273 => process::set_robust_list(head: u64, len: u64);
    274 => process::get_robust_list(tid: i32, head_ptr: u64, len_ptr: u64);
    277 => io::sync_file_range(fd: i32, offset: i64, nbytes: i64, flags: u32);
    280 => fs::utimensat(dirfd: i32, path: u64, times: u64, flags: i32);
    281 => epoll::epoll_pwait(epfd: i32, events: u64, maxevents: i32, timeout: i32, sigmask: u64, sigsetsize: u64);
    282 => signal::signalfd(fd: i32, mask: u64, size: u64);
    283 => timerfd::timerfd_create(clock: i32, flags: i32);
    284 => eventfd::eventfd(initval: u32);
    285 => fs::fallocate(fd: i32, mode: i32, offset: i64, len: i64);
    286 => timerfd::timerfd_settime(fd: i32, flags: i32, new: u64, old: u64);
    287 => timerfd::timerfd_gettime(fd: i32, curr: u64);
    289 => signal::signalfd4(fd: i32, mask: u64, size: u64, flags: i32);
    290 => eventfd::eventfd2(initval: u32, flags: i32);
    291 => epoll::epoll_create1(flags: i32);
    292 => io::dup3(oldfd: i32, newfd: i32, flags: i32);
    293 => io::pipe2(fds: u64, flags: i32);
    295 => io::preadv(fd: i32, iov: u64, iovcnt: u64, offset: i64);
    296 => io::pwritev(fd: i32, iov: u64, iovcnt: u64, offset: i64);
    297 => signal::rt_tgsigqueueinfo(tgid: i32, tid: i32, sig: i32, info: u64);
    302 => info::prlimit64(pid: i32, resource: u32, new_limit: u64, old_limit: u64);
    306 => io::syncfs(fd: i32);
    309 => sched::getcpu(cpu: u64, node: u64, tcache: u64);
    316 => fs::renameat2(olddirfd: i32, oldpath: u64, newdirfd: i32, newpath: u64, flags: u32);
    318 => info::getrandom(buf: u64, len: u64, flags: u32);
    319 => fs::memfd_create(name: u64, flags: u32);
    325 => mman::mlock2(addr: u64, len: u64, flags: u32);
    326 => io::copy_file_range(fd_in: i32, off_in: u64, fd_out: i32, off_out: u64, len: u64, flags: u32);
    327 => io::preadv2(fd: i32, iov: u64, iovcnt: u64, offset: i64, pos_h: u64, flags: i32);
    328 => io::pwritev2(fd: i32, iov: u64, iovcnt: u64, offset: i64, pos_h: u64, flags: i32);
    329 => mman::pkey_mprotect(addr: u64, len: u64, prot: u32, pkey: i32);
    332 => fs::statx(dirfd: i32, path: u64, flags: i32, mask: u32, statxbuf: u64);
    334 => process::rseq(rseq: u64, len: u32, flags: i32, sig: u32);
    424 => process::pidfd_send_signal(pidfd: i32, sig: i32, info: u64, flags: u32);
    434 => process::pidfd_open(pid: i32, flags: u32);
    436 => io::close_range(first: u32, last: u32, flags: u32);
    437 => fs::openat2(dirfd: i32, path: u64, how: u64, size: u64);
    439 => fs::faccessat2(dirfd: i32, path: u64, mode: i32, flags: i32);
    441 => epoll::epoll_pwait2(epfd: i32, events: u64, maxevents: i32, timeout: u64, sigmask: u64, sigsetsize: u64);
    452 => fs::fchmodat2(dirfd: i32, path: u64, mode: u32, flags: i32);
}

/// The system calls that need the caller's registers, not just the arguments.
fn call_with_regs(
    nr: u64,
    p: &mut Process,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
) -> Option<SysResult> {
    let a = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
    Some(match nr {
        // Replaces every register; returns the restored rax.
        15 => sys::signal::rt_sigreturn(p, k, regs),
        // clone(flags, stack, parent_tid, child_tid, tls): the x86_64 argument order.
        56 => sys::thread::clone(p, k, regs, a[0], a[1], a[2], a[3], a[4]),
        57 => sys::process::fork::fork(p, k, regs),
        // execve replaces every register.
        59 => sys::process::exec::execve(p, k, regs, a[0], a[1], a[2]),
        322 => sys::process::exec::execveat(
            p,
            k,
            regs,
            a[0] as u32 as i32,
            a[1],
            a[2],
            a[3],
            a[4] as u32 as i32,
        ),
        58 => sys::process::fork::vfork(p, k, regs),
        // Whether the caller runs on its alternate stack depends on its stack pointer.
        131 => sys::signal::sigaltstack(p, k, regs, a[0], a[1]),
        435 => sys::thread::clone3(p, k, regs, a[0], a[1]),
        _ => return None,
    })
}

/// Runs the system call in `regs` (number in rax, arguments in the SYSCALL registers).
pub fn dispatch(p: &mut Process, k: &mut dyn Platform, regs: &mut UserRegs) -> Outcome {
    let (nr, args) = regs.syscall_args();
    p.sig.syscall_nr = nr;
    // The handlers' user copies fault pages in (see `mm::uaccess`).
    let shared = p.shared.clone();
    let mut faulting = crate::mm::Faulting::new(&shared, k);
    let result =
        call_with_regs(nr, p, &mut faulting, regs).or_else(|| call(nr, p, &mut faulting, args));
    if faulting.out_of_memory() {
        return Outcome::Exit(crate::mm::out_of_memory_kill(&shared, faulting.inner()));
    }
    let k = faulting.inner();
    let result = match result {
        Some(result) => result,
        None => {
            if p.missing_logged.insert(nr) {
                match crate::syscall_name(nr) {
                    Some(name) => k.log(format_args!(
                        "syscall {name} ({nr}) is not implemented: ENOSYS"
                    )),
                    None => k.log(format_args!("unknown syscall number {nr}: ENOSYS")),
                }
            }
            Err(Errno::ENOSYS)
        }
    };
    if k.verbose() {
        let name = crate::syscall_name(nr).unwrap_or("?");
        match result {
            Ok(v) => k.log(format_args!(
                "[{}] {name}({:#x}, {:#x}, {:#x}) = {v:#x}",
                p.tid, args[0], args[1], args[2]
            )),
            Err(e) => k.log(format_args!(
                "[{}] {name}({:#x}, {:#x}, {:#x}) = -{}",
                p.tid,
                args[0],
                args[1],
                args[2],
                e.name()
            )),
        }
    }
    if result == Err(Errno::WAIT) {
        // A signal that came before the wait began could not interrupt it: it does now.
        crate::signal::check_before_wait(p);
        return Outcome::Wait;
    }
    crate::signal::end_call(p, &result);
    // The call is over: whatever wait it began is finished.
    if p.wait_begun {
        p.thread.finish_wait();
        p.wait_begun = false;
    }
    p.resumed = None;
    p.deadline = None;
    p.progress = 0;
    p.held = None;
    if let Some(status) = p.exit_status {
        return Outcome::Exit(status);
    }
    if core::mem::take(&mut p.exit_thread) {
        return Outcome::ExitThread;
    }
    // An interrupted call leaves -ERESTARTSYS or -ERESTARTNOHAND in rax: signal delivery,
    // on the way back to user mode, turns it into EINTR or runs the call again.
    let value = match result {
        Ok(v) => v,
        Err(e) => e.as_return() as u64,
    };
    if core::mem::take(&mut p.yield_cpu) {
        return Outcome::Yield(value);
    }
    Outcome::Return(value)
}

/// Continues the system call of a thread whose wait ended with `why`: the waker's value is
/// returned as is, anything else runs the call again (it sees `why` through
/// [`Process::resumed`]).
pub fn resume(p: &mut Process, k: &mut dyn Platform, regs: &mut UserRegs, why: Wake) -> Outcome {
    p.wait_begun = false;
    if let Wake::Done(v) = why {
        p.resumed = None;
        p.deadline = None;
        p.progress = 0;
        p.held = None;
        return Outcome::Return(v);
    }
    p.resumed = Some(why);
    dispatch(p, k, regs)
}
