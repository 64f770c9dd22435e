//! The system-call table: numbers, argument decoding and dispatch in one declaration.
//!
//! Each line reads `SYS_name = NR => module::handler(arg: Type, ...)`, with the Linux x86_64
//! name and number; argument registers are decoded into the listed types here, so handlers
//! never see raw registers. The few handlers that read or replace the caller's registers
//! (clone, fork, execve, rt_sigreturn, sigaltstack) take `&mut regs` first. `///` lines on a
//! call say what is partial; `docs/syscalls.md` is generated from them (see `table/doc.rs`).
//! The table also gives the `SYS_*` constants ([`nr`]). Numbers not in the table return
//! `ENOSYS`, and the first call of each is logged by name (names from [`crate::names`]).

#[macro_use]
mod decl;
#[cfg(test)]
mod doc;

use coracle_vfs::Wake;

pub use decl::Syscall;

use crate::ptrace::Gate;
use crate::regs::UserRegs;
use crate::{sys, Current, Errno, Platform, SysResult};

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

syscall_table! {
    SYS_read = 0 => io::read(fd: i32, buf: u64, count: u64);
    SYS_write = 1 => io::write(fd: i32, buf: u64, count: u64);
    SYS_open = 2 => fs::open(path: u64, flags: i32, mode: u32);
    SYS_close = 3 => io::close(fd: i32);
    SYS_stat = 4 => fs::stat(path: u64, statbuf: u64);
    SYS_fstat = 5 => fs::fstat(fd: i32, statbuf: u64);
    SYS_lstat = 6 => fs::lstat(path: u64, statbuf: u64);
    SYS_poll = 7 => io::poll(fds: u64, nfds: u64, timeout_ms: i32);
    SYS_lseek = 8 => io::lseek(fd: i32, offset: i64, whence: i32);
    SYS_mmap = 9 => mman::mmap(addr: u64, len: u64, prot: u32, flags: u32, fd: i32, offset: u64);
    SYS_mprotect = 10 => mman::mprotect(addr: u64, len: u64, prot: u32);
    SYS_munmap = 11 => mman::munmap(addr: u64, len: u64);
    SYS_brk = 12 => mman::brk(addr: u64);
    SYS_rt_sigaction = 13 => signal::rt_sigaction(sig: i32, act: u64, oldact: u64, sigsetsize: u64);
    SYS_rt_sigprocmask = 14 => signal::rt_sigprocmask(how: i32, set: u64, oldset: u64, sigsetsize: u64);
    // Replaces every register; returns the restored rax.
    SYS_rt_sigreturn = 15 => signal::rt_sigreturn(&mut regs);
    SYS_ioctl = 16 => io::ioctl(fd: i32, request: u32, arg: u64);
    SYS_pread64 = 17 => io::pread64(fd: i32, buf: u64, count: u64, offset: i64);
    SYS_pwrite64 = 18 => io::pwrite64(fd: i32, buf: u64, count: u64, offset: i64);
    SYS_readv = 19 => io::readv(fd: i32, iov: u64, iovcnt: u64);
    SYS_writev = 20 => io::writev(fd: i32, iov: u64, iovcnt: u64);
    SYS_access = 21 => fs::access(path: u64, mode: i32);
    SYS_pipe = 22 => io::pipe(fds: u64);
    SYS_select = 23 => io::select(nfds: i32, readfds: u64, writefds: u64, exceptfds: u64, timeout: u64);
    SYS_sched_yield = 24 => thread::sched_yield();
    SYS_mremap = 25 => mremap::mremap(addr: u64, old_len: u64, new_len: u64, flags: u32, new_addr: u64);
    SYS_msync = 26 => mman::msync(addr: u64, len: u64, flags: u32);
    SYS_mincore = 27 => madvise::mincore(addr: u64, len: u64, vec: u64);
    SYS_madvise = 28 => madvise::madvise(addr: u64, len: u64, advice: i32);
    SYS_shmget = 29 => ipc::shm::shmget(key: i32, size: u64, flags: i32);
    SYS_shmat = 30 => ipc::shm::shmat(id: i32, addr: u64, flags: i32);
    SYS_shmctl = 31 => ipc::shm::shmctl(id: i32, cmd: i32, buf: u64);
    SYS_dup = 32 => io::dup(fd: i32);
    SYS_dup2 = 33 => io::dup2(oldfd: i32, newfd: i32);
    SYS_pause = 34 => signal::pause();
    SYS_nanosleep = 35 => time::nanosleep(req: u64, rem: u64);
    SYS_getitimer = 36 => signal::getitimer(which: i32, curr: u64);
    SYS_alarm = 37 => signal::alarm(seconds: u32);
    SYS_setitimer = 38 => signal::setitimer(which: i32, new: u64, old: u64);
    SYS_getpid = 39 => info::getpid();
    SYS_sendfile = 40 => io::sendfile(out_fd: i32, in_fd: i32, offset: u64, count: u64);
    /// AF_UNIX (stream, datagram, seqpacket), AF_INET and AF_INET6 (TCP, UDP); others:
    /// `EAFNOSUPPORT`.
    SYS_socket = 41 => net::socket_call(domain: i32, ty: i32, protocol: i32);
    SYS_connect = 42 => net::connect(fd: i32, addr: u64, len: u32);
    SYS_accept = 43 => net::accept(fd: i32, addr: u64, len: u64);
    SYS_sendto = 44 => net::sendto(fd: i32, buf: u64, len: u64, flags: u32, addr: u64, addrlen: u32);
    SYS_recvfrom = 45 => net::recvfrom(fd: i32, buf: u64, len: u64, flags: u32, addr: u64, addrlen: u64);
    /// Control messages: SCM_RIGHTS and SCM_CREDENTIALS on Unix sockets; IP ones are ignored.
    SYS_sendmsg = 46 => net::sendmsg(fd: i32, msg: u64, flags: u32);
    SYS_recvmsg = 47 => net::recvmsg(fd: i32, msg: u64, flags: u32);
    SYS_shutdown = 48 => net::shutdown(fd: i32, how: i32);
    SYS_bind = 49 => net::bind(fd: i32, addr: u64, len: u32);
    SYS_listen = 50 => net::listen(fd: i32, backlog: i32);
    SYS_getsockname = 51 => net::getsockname(fd: i32, addr: u64, len: u64);
    SYS_getpeername = 52 => net::getpeername(fd: i32, addr: u64, len: u64);
    /// AF_UNIX only (IP families: `EOPNOTSUPP`, as Linux).
    SYS_socketpair = 53 => net::socketpair(domain: i32, ty: i32, protocol: i32, sv: u64);
    SYS_setsockopt = 54 => net::setsockopt(fd: i32, level: i32, name: i32, val: u64, len: i32);
    /// The options servers use (SO_*, TCP_NODELAY, TCP_KEEP*, TCP_INFO, TCP_CONGESTION,
    /// IPV6_V6ONLY, SO_PEERCRED); see docs/socket-options.md.
    SYS_getsockopt = 55 => net::getsockopt(fd: i32, level: i32, name: i32, val: u64, len: u64);
    // The x86_64 argument order: flags, stack, parent_tid, child_tid, tls.
    /// No new namespaces (`CLONE_NEW*`: `EPERM`).
    SYS_clone = 56 => thread::clone(&mut regs, flags: u64, stack: u64, parent_tid: u64, child_tid: u64, tls: u64);
    SYS_fork = 57 => process::fork::fork(&mut regs);
    SYS_vfork = 58 => process::fork::vfork(&mut regs);
    // Replaces every register.
    /// Static x86_64 ELF programs and `#!` scripts; dynamically linked ones: `ENOEXEC`.
    SYS_execve = 59 => process::exec::execve(&mut regs, path: u64, argv: u64, envp: u64);
    SYS_exit = 60 => thread::exit(status: i32);
    SYS_wait4 = 61 => process::wait4(pid: i32, status: u64, options: u32, rusage: u64);
    SYS_kill = 62 => signal::kill(pid: i32, sig: i32);
    SYS_uname = 63 => info::uname(buf: u64);
    SYS_semget = 64 => ipc::sem::semget(key: i32, nsems: i32, flags: i32);
    SYS_semop = 65 => ipc::sem::semop(id: i32, sops: u64, nsops: u64);
    SYS_semctl = 66 => ipc::sem::semctl(id: i32, num: i32, cmd: i32, arg: u64);
    SYS_shmdt = 67 => ipc::shm::shmdt(addr: u64);
    SYS_msgget = 68 => ipc::msg::msgget(key: i32, flags: i32);
    SYS_msgsnd = 69 => ipc::msg::msgsnd(id: i32, msgp: u64, size: u64, flags: i32);
    /// `MSG_COPY`: `ENOSYS`, as without CONFIG_CHECKPOINT_RESTORE.
    SYS_msgrcv = 70 => ipc::msg::msgrcv(id: i32, msgp: u64, size: u64, msgtyp: i64, flags: i32);
    SYS_msgctl = 71 => ipc::msg::msgctl(id: i32, cmd: i32, buf: u64);
    SYS_fcntl = 72 => io::fcntl(fd: i32, cmd: i32, arg: u64);
    SYS_flock = 73 => io::flock(fd: i32, op: i32);
    /// Files live in memory: nothing to write back.
    SYS_fsync = 74 => io::fsync(fd: i32);
    /// As fsync.
    SYS_fdatasync = 75 => io::fdatasync(fd: i32);
    SYS_truncate = 76 => fs::truncate(path: u64, length: i64);
    SYS_ftruncate = 77 => fs::ftruncate(fd: i32, length: i64);
    SYS_getcwd = 79 => fs::getcwd(buf: u64, size: u64);
    SYS_chdir = 80 => fs::chdir(path: u64);
    SYS_fchdir = 81 => fs::fchdir(fd: i32);
    SYS_rename = 82 => fs::rename(oldpath: u64, newpath: u64);
    SYS_mkdir = 83 => fs::mkdir(path: u64, mode: u32);
    SYS_rmdir = 84 => fs::rmdir(path: u64);
    SYS_creat = 85 => fs::creat(path: u64, mode: u32);
    SYS_link = 86 => fs::link(oldpath: u64, newpath: u64);
    SYS_unlink = 87 => fs::unlink(path: u64);
    SYS_symlink = 88 => fs::symlink(target: u64, path: u64);
    SYS_readlink = 89 => fs::readlink(path: u64, buf: u64, bufsiz: u64);
    SYS_chmod = 90 => fs::chmod(path: u64, mode: u32);
    SYS_fchmod = 91 => fs::fchmod(fd: i32, mode: u32);
    SYS_chown = 92 => fs::chown(path: u64, uid: u32, gid: u32);
    SYS_fchown = 93 => fs::fchown(fd: i32, uid: u32, gid: u32);
    SYS_lchown = 94 => fs::lchown(path: u64, uid: u32, gid: u32);
    SYS_umask = 95 => fs::umask(mask: u32);
    SYS_gettimeofday = 96 => time::gettimeofday(tv: u64, tz: u64);
    SYS_getrlimit = 97 => info::getrlimit(resource: u32, rlim: u64);
    SYS_getrusage = 98 => info::getrusage(who: i32, usage: u64);
    SYS_sysinfo = 99 => info::sysinfo(info: u64);
    SYS_times = 100 => info::times(buf: u64);
    /// Hardware watchpoints (debug registers), PTRACE_LISTEN and group-stop reports to the
    /// tracer are missing; PTRACE_EVENT_EXIT comes for exit and exit_group only.
    SYS_ptrace = 101 => ptrace::ptrace(request: i64, pid: i32, addr: u64, data: u64);
    SYS_getuid = 102 => creds::getuid();
    SYS_getgid = 104 => creds::getgid();
    SYS_setuid = 105 => creds::setuid(uid: u32);
    SYS_setgid = 106 => creds::setgid(gid: u32);
    SYS_geteuid = 107 => creds::geteuid();
    SYS_getegid = 108 => creds::getegid();
    SYS_setpgid = 109 => process::setpgid(pid: i32, pgid: i32);
    SYS_getppid = 110 => info::getppid();
    SYS_getpgrp = 111 => info::getpgrp();
    SYS_setsid = 112 => process::setsid();
    SYS_setreuid = 113 => creds::setreuid(ruid: u32, euid: u32);
    SYS_setregid = 114 => creds::setregid(rgid: u32, egid: u32);
    SYS_getgroups = 115 => creds::getgroups(size: i32, list: u64);
    SYS_setgroups = 116 => creds::setgroups(size: i32, list: u64);
    SYS_setresuid = 117 => creds::setresuid(ruid: u32, euid: u32, suid: u32);
    SYS_getresuid = 118 => creds::getresuid(ruid: u64, euid: u64, suid: u64);
    SYS_setresgid = 119 => creds::setresgid(rgid: u32, egid: u32, sgid: u32);
    SYS_getresgid = 120 => creds::getresgid(rgid: u64, egid: u64, sgid: u64);
    SYS_getpgid = 121 => info::getpgid(pid: i32);
    SYS_setfsuid = 122 => creds::setfsuid(fsuid: u32);
    SYS_setfsgid = 123 => creds::setfsgid(fsgid: u32);
    SYS_getsid = 124 => info::getsid(pid: i32);
    SYS_capget = 125 => creds::capget(header: u64, data: u64);
    SYS_capset = 126 => creds::capset(header: u64, data: u64);
    SYS_rt_sigpending = 127 => signal::rt_sigpending(set: u64, size: u64);
    SYS_rt_sigtimedwait = 128 => signal::rt_sigtimedwait(these: u64, info: u64, ts: u64, size: u64);
    SYS_rt_sigqueueinfo = 129 => signal::rt_sigqueueinfo(tgid: i32, sig: i32, info: u64);
    SYS_rt_sigsuspend = 130 => signal::rt_sigsuspend(set: u64, size: u64);
    // Whether the caller runs on its alternate stack depends on its stack pointer.
    SYS_sigaltstack = 131 => signal::sigaltstack(&mut regs, ss: u64, old: u64);
    SYS_utime = 132 => fs::utime(path: u64, times: u64);
    SYS_mknod = 133 => fs::mknod(path: u64, mode: u32, dev: u32);
    SYS_personality = 135 => process::personality(persona: u64);
    SYS_statfs = 137 => fs::statfs(path: u64, buf: u64);
    SYS_fstatfs = 138 => fs::fstatfs(fd: i32, buf: u64);
    SYS_getpriority = 140 => sched::getpriority(which: i32, who: i32);
    SYS_setpriority = 141 => sched::setpriority(which: i32, who: i32, prio: i32);
    SYS_sched_setparam = 142 => sched::sched_setparam(pid: i32, param: u64);
    SYS_sched_getparam = 143 => sched::sched_getparam(pid: i32, param: u64);
    SYS_sched_setscheduler = 144 => sched::sched_setscheduler(pid: i32, policy: i32, param: u64);
    SYS_sched_getscheduler = 145 => sched::sched_getscheduler(pid: i32);
    SYS_sched_get_priority_max = 146 => sched::sched_get_priority_max(policy: i32);
    SYS_sched_get_priority_min = 147 => sched::sched_get_priority_min(policy: i32);
    SYS_sched_rr_get_interval = 148 => sched::sched_rr_get_interval(pid: i32, tp: u64);
    SYS_mlock = 149 => mman::mlock(addr: u64, len: u64);
    SYS_munlock = 150 => mman::munlock(addr: u64, len: u64);
    SYS_mlockall = 151 => mman::mlockall(flags: u32);
    SYS_munlockall = 152 => mman::munlockall();
    /// Parent-death signal, dumpable, name, child subreaper, the capability options (bounding
    /// set, keepcaps, securebits, ambient set), and the switches read back only
    /// (no_new_privs, THP disable, timer slack, seccomp mode 0); other options fail with
    /// `EINVAL`.
    SYS_prctl = 157 => process::prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64);
    SYS_arch_prctl = 158 => process::arch_prctl(code: i32, addr: u64);
    SYS_setrlimit = 160 => info::setrlimit(resource: u32, rlim: u64);
    SYS_chroot = 161 => fs::chroot(path: u64);
    /// As fsync.
    SYS_sync = 162 => io::sync();
    /// tmpfs, proc and sysfs only (others: `ENODEV`); remount, bind and move: `EINVAL`.
    SYS_mount = 165 => fs::mount(source: u64, target: u64, fstype: u64, flags: u64, data: u64);
    SYS_umount2 = 166 => fs::umount2(target: u64, flags: i32);
    SYS_gettid = 186 => info::gettid();
    SYS_readahead = 187 => io::readahead(fd: i32, offset: i64, count: u64);
    /// tmpfs keeps `user.*` and `security.*`; `trusted.*` needs CAP_SYS_ADMIN, `system.*` (ACLs): `EOPNOTSUPP`.
    SYS_setxattr = 188 => fs::setxattr(path: u64, name: u64, value: u64, size: u64, flags: i32);
    SYS_lsetxattr = 189 => fs::lsetxattr(path: u64, name: u64, value: u64, size: u64, flags: i32);
    SYS_fsetxattr = 190 => fs::fsetxattr(fd: i32, name: u64, value: u64, size: u64, flags: i32);
    SYS_getxattr = 191 => fs::getxattr(path: u64, name: u64, value: u64, size: u64);
    SYS_lgetxattr = 192 => fs::lgetxattr(path: u64, name: u64, value: u64, size: u64);
    SYS_fgetxattr = 193 => fs::fgetxattr(fd: i32, name: u64, value: u64, size: u64);
    SYS_listxattr = 194 => fs::listxattr(path: u64, list: u64, size: u64);
    SYS_llistxattr = 195 => fs::llistxattr(path: u64, list: u64, size: u64);
    SYS_flistxattr = 196 => fs::flistxattr(fd: i32, list: u64, size: u64);
    SYS_removexattr = 197 => fs::removexattr(path: u64, name: u64);
    SYS_lremovexattr = 198 => fs::lremovexattr(path: u64, name: u64);
    SYS_fremovexattr = 199 => fs::fremovexattr(fd: i32, name: u64);
    SYS_tkill = 200 => signal::tkill(tid: i32, sig: i32);
    SYS_time = 201 => time::time(tloc: u64);
    /// No priority-inheritance operations (`ENOSYS`, as a kernel without `CONFIG_FUTEX_PI`).
    SYS_futex = 202 => futex::futex(uaddr: u64, op: i32, val: u32, timeout: u64, uaddr2: u64, val3: u32);
    SYS_sched_setaffinity = 203 => sched::sched_setaffinity(pid: i32, len: u32, mask: u64);
    SYS_sched_getaffinity = 204 => sched::sched_getaffinity(pid: i32, len: u32, mask: u64);
    SYS_epoll_create = 213 => epoll::epoll_create(size: i32);
    SYS_getdents64 = 217 => fs::getdents64(fd: i32, dirp: u64, count: u64);
    SYS_set_tid_address = 218 => process::set_tid_address(tidptr: u64);
    SYS_restart_syscall = 219 => signal::restart_syscall();
    SYS_semtimedop = 220 => ipc::sem::semtimedop(id: i32, sops: u64, nsops: u64, timeout: u64);
    SYS_fadvise64 = 221 => io::fadvise64(fd: i32, offset: i64, len: i64, advice: i32);
    SYS_timer_create = 222 => signal::timer_create(clock: i32, sevp: u64, timerid: u64);
    SYS_timer_settime = 223 => signal::timer_settime(id: i32, flags: i32, new: u64, old: u64);
    SYS_timer_gettime = 224 => signal::timer_gettime(id: i32, curr: u64);
    SYS_timer_getoverrun = 225 => signal::timer_getoverrun(id: i32);
    SYS_timer_delete = 226 => signal::timer_delete(id: i32);
    SYS_clock_gettime = 228 => time::clock_gettime(clock: i32, tp: u64);
    SYS_clock_getres = 229 => time::clock_getres(clock: i32, res: u64);
    SYS_clock_nanosleep = 230 => time::clock_nanosleep(clock: i32, flags: i32, req: u64, rem: u64);
    SYS_exit_group = 231 => thread::exit_group(status: i32);
    SYS_epoll_wait = 232 => epoll::epoll_wait(epfd: i32, events: u64, maxevents: i32, timeout: i32);
    SYS_epoll_ctl = 233 => epoll::epoll_ctl(epfd: i32, op: i32, fd: i32, event: u64);
    SYS_tgkill = 234 => signal::tgkill(tgid: i32, tid: i32, sig: i32);
    SYS_utimes = 235 => fs::utimes(path: u64, times: u64);
    SYS_mq_open = 240 => ipc::mqueue::mq_open(name: u64, oflag: i32, mode: u32, attr: u64);
    SYS_mq_unlink = 241 => ipc::mqueue::mq_unlink(name: u64);
    SYS_mq_timedsend = 242 => ipc::mqueue::mq_timedsend(mqd: i32, msg: u64, len: u64, prio: u32, timeout: u64);
    SYS_mq_timedreceive = 243 => ipc::mqueue::mq_timedreceive(mqd: i32, msg: u64, len: u64, prio: u64, timeout: u64);
    /// SIGEV_THREAD (glibc's netlink-socket form): `EINVAL`.
    SYS_mq_notify = 244 => ipc::mqueue::mq_notify(mqd: i32, sevp: u64);
    SYS_mq_getsetattr = 245 => ipc::mqueue::mq_getsetattr(mqd: i32, new: u64, old: u64);
    SYS_waitid = 247 => process::waitid(idtype: i32, id: u32, infop: u64, options: u32, rusage: u64);
    /// `EPERM`, as Docker's seccomp profile answers (no keyrings).
    SYS_add_key = 248 => keys::add_key(kind: u64, description: u64, payload: u64, len: u64, keyring: i32);
    /// `EPERM`, as Docker's seccomp profile answers (no keyrings).
    SYS_request_key = 249 => keys::request_key(kind: u64, description: u64, callout: u64, keyring: i32);
    /// `EPERM`; `ENOKEY` for an operation on a positive serial (no key has one).
    SYS_keyctl = 250 => keys::keyctl(op: i32, key: i32, arg3: u64, arg4: u64, arg5: u64);
    /// Kept and read back (no I/O scheduler); the realtime class: `EPERM` (no CAP_SYS_NICE).
    SYS_ioprio_set = 251 => ioprio::ioprio_set(which: i32, who: i32, ioprio: i32);
    SYS_ioprio_get = 252 => ioprio::ioprio_get(which: i32, who: i32);
    SYS_inotify_init = 253 => inotify::inotify_init();
    /// Events come from every filesystem through the VFS; `IN_DELETE_SELF` comes at the last
    /// unlink even while the file is open (Linux: at its last close); no `IN_UNMOUNT`.
    SYS_inotify_add_watch = 254 => inotify::inotify_add_watch(fd: i32, path: u64, mask: u32);
    SYS_inotify_rm_watch = 255 => inotify::inotify_rm_watch(fd: i32, wd: i32);
    SYS_openat = 257 => fs::openat(dirfd: i32, path: u64, flags: i32, mode: u32);
    SYS_mkdirat = 258 => fs::mkdirat(dirfd: i32, path: u64, mode: u32);
    SYS_mknodat = 259 => fs::mknodat(dirfd: i32, path: u64, mode: u32, dev: u32);
    SYS_fchownat = 260 => fs::fchownat(dirfd: i32, path: u64, uid: u32, gid: u32, flags: i32);
    SYS_futimesat = 261 => fs::futimesat(dirfd: i32, path: u64, times: u64);
    SYS_newfstatat = 262 => fs::newfstatat(dirfd: i32, path: u64, statbuf: u64, flags: i32);
    SYS_unlinkat = 263 => fs::unlinkat(dirfd: i32, path: u64, flags: i32);
    SYS_renameat = 264 => fs::renameat(olddirfd: i32, oldpath: u64, newdirfd: i32, newpath: u64);
    SYS_linkat = 265 => fs::linkat(olddirfd: i32, oldpath: u64, newdirfd: i32, newpath: u64, flags: i32);
    SYS_symlinkat = 266 => fs::symlinkat(target: u64, dirfd: i32, path: u64);
    SYS_readlinkat = 267 => fs::readlinkat(dirfd: i32, path: u64, buf: u64, bufsiz: u64);
    SYS_fchmodat = 268 => fs::fchmodat(dirfd: i32, path: u64, mode: u32);
    SYS_faccessat = 269 => fs::faccessat(dirfd: i32, path: u64, mode: i32);
    SYS_pselect6 = 270 => io::pselect6(nfds: i32, readfds: u64, writefds: u64, exceptfds: u64, timeout: u64, sigmask: u64);
    SYS_ppoll = 271 => io::ppoll(fds: u64, nfds: u64, tsp: u64, sigmask: u64, sigsetsize: u64);
    SYS_set_robust_list = 273 => process::set_robust_list(head: u64, len: u64);
    SYS_get_robust_list = 274 => process::get_robust_list(tid: i32, head_ptr: u64, len_ptr: u64);
    SYS_splice = 275 => io::splice(fd_in: i32, off_in: u64, fd_out: i32, off_out: u64, len: u64, flags: u32);
    SYS_tee = 276 => io::tee(fd_in: i32, fd_out: i32, len: u64, flags: u32);
    SYS_sync_file_range = 277 => io::sync_file_range(fd: i32, offset: i64, nbytes: i64, flags: u32);
    /// Through the bounce buffer (no page moves); `SPLICE_F_MOVE` and `GIFT` change nothing.
    SYS_vmsplice = 278 => io::vmsplice(fd: i32, iov: u64, nr_segs: u64, flags: u32);
    SYS_utimensat = 280 => fs::utimensat(dirfd: i32, path: u64, times: u64, flags: i32);
    SYS_epoll_pwait = 281 => epoll::epoll_pwait(epfd: i32, events: u64, maxevents: i32, timeout: i32, sigmask: u64, sigsetsize: u64);
    SYS_signalfd = 282 => signal::signalfd(fd: i32, mask: u64, size: u64);
    SYS_timerfd_create = 283 => timerfd::timerfd_create(clock: i32, flags: i32);
    SYS_eventfd = 284 => eventfd::eventfd(initval: u32);
    /// Allocate, keep-size and punch-hole modes; the others fail with `EOPNOTSUPP`.
    SYS_fallocate = 285 => fs::fallocate(fd: i32, mode: i32, offset: i64, len: i64);
    SYS_timerfd_settime = 286 => timerfd::timerfd_settime(fd: i32, flags: i32, new: u64, old: u64);
    SYS_timerfd_gettime = 287 => timerfd::timerfd_gettime(fd: i32, curr: u64);
    SYS_accept4 = 288 => net::accept4(fd: i32, addr: u64, len: u64, flags: i32);
    SYS_signalfd4 = 289 => signal::signalfd4(fd: i32, mask: u64, size: u64, flags: i32);
    SYS_eventfd2 = 290 => eventfd::eventfd2(initval: u32, flags: i32);
    SYS_epoll_create1 = 291 => epoll::epoll_create1(flags: i32);
    SYS_dup3 = 292 => io::dup3(oldfd: i32, newfd: i32, flags: i32);
    SYS_pipe2 = 293 => io::pipe2(fds: u64, flags: i32);
    SYS_inotify_init1 = 294 => inotify::inotify_init1(flags: i32);
    SYS_preadv = 295 => io::preadv(fd: i32, iov: u64, iovcnt: u64, offset: i64);
    SYS_pwritev = 296 => io::pwritev(fd: i32, iov: u64, iovcnt: u64, offset: i64);
    SYS_rt_tgsigqueueinfo = 297 => signal::rt_tgsigqueueinfo(tgid: i32, tid: i32, sig: i32, info: u64);
    /// After the first message, only messages already queued are taken; the timeout is not
    /// served.
    SYS_recvmmsg = 299 => net::recvmmsg(fd: i32, vec: u64, vlen: u32, flags: u32, timeout: u64);
    SYS_prlimit64 = 302 => info::prlimit64(pid: i32, resource: u32, new_limit: u64, old_limit: u64);
    /// Handles hold the inode number and the filesystem's device number.
    SYS_name_to_handle_at = 303 => fs::name_to_handle_at(dirfd: i32, path: u64, handle: u64, mount_id: u64, flags: i32);
    SYS_open_by_handle_at = 304 => fs::open_by_handle_at(mount_fd: i32, handle: u64, flags: i32);
    /// As fsync.
    SYS_syncfs = 306 => io::syncfs(fd: i32);
    /// After the first message, one that would block ends the call.
    SYS_sendmmsg = 307 => net::sendmmsg(fd: i32, vec: u64, vlen: u32, flags: u32);
    /// The one set of namespaces: joining it changes nothing (`EPERM` without CAP_SYS_ADMIN).
    SYS_setns = 308 => ns::setns(fd: i32, nstype: i32);
    SYS_getcpu = 309 => sched::getcpu(cpu: u64, node: u64, tcache: u64);
    SYS_process_vm_readv = 310 => process_vm::process_vm_readv(pid: i32, local: u64, liovcnt: u64, remote: u64, riovcnt: u64, flags: u64);
    SYS_process_vm_writev = 311 => process_vm::process_vm_writev(pid: i32, local: u64, liovcnt: u64, remote: u64, riovcnt: u64, flags: u64);
    /// `EPERM`, as Docker's seccomp profile answers without CAP_SYS_PTRACE.
    SYS_kcmp = 312 => process_vm::kcmp(pid1: i32, pid2: i32, kind: i32, idx1: u64, idx2: u64);
    SYS_renameat2 = 316 => fs::renameat2(olddirfd: i32, oldpath: u64, newdirfd: i32, newpath: u64, flags: u32);
    SYS_getrandom = 318 => info::getrandom(buf: u64, len: u64, flags: u32);
    SYS_memfd_create = 319 => fs::memfd_create(name: u64, flags: u32);
    /// As execve.
    SYS_execveat = 322 => process::exec::execveat(&mut regs, dirfd: i32, path: u64, argv: u64, envp: u64, flags: i32);
    SYS_mlock2 = 325 => mman::mlock2(addr: u64, len: u64, flags: u32);
    SYS_copy_file_range = 326 => io::copy_file_range(fd_in: i32, off_in: u64, fd_out: i32, off_out: u64, len: u64, flags: u32);
    SYS_preadv2 = 327 => io::preadv2(fd: i32, iov: u64, iovcnt: u64, offset: i64, pos_h: u64, flags: i32);
    SYS_pwritev2 = 328 => io::pwritev2(fd: i32, iov: u64, iovcnt: u64, offset: i64, pos_h: u64, flags: i32);
    SYS_pkey_mprotect = 329 => mman::pkey_mprotect(addr: u64, len: u64, prot: u32, pkey: i32);
    SYS_statx = 332 => fs::statx(dirfd: i32, path: u64, flags: i32, mask: u32, statxbuf: u64);
    /// Always `ENOSYS` (registration is optional: glibc and tcmalloc fall back).
    SYS_rseq = 334 => process::rseq(rseq: u64, len: u32, flags: i32, sig: u32);
    SYS_pidfd_send_signal = 424 => process::pidfd_send_signal(pidfd: i32, sig: i32, info: u64, flags: u32);
    SYS_pidfd_open = 434 => process::pidfd_open(pid: i32, flags: u32);
    /// As clone; `CLONE_CLEAR_SIGHAND` and `CLONE_INTO_CGROUP`: `EINVAL`.
    SYS_clone3 = 435 => thread::clone3(&mut regs, uargs: u64, size: u64);
    SYS_close_range = 436 => io::close_range(first: u32, last: u32, flags: u32);
    SYS_openat2 = 437 => fs::openat2(dirfd: i32, path: u64, how: u64, size: u64);
    /// `EPERM`, as Docker's seccomp profile answers without CAP_SYS_PTRACE.
    SYS_pidfd_getfd = 438 => process_vm::pidfd_getfd(pidfd: i32, targetfd: i32, flags: u32);
    SYS_faccessat2 = 439 => fs::faccessat2(dirfd: i32, path: u64, mode: i32, flags: i32);
    SYS_epoll_pwait2 = 441 => epoll::epoll_pwait2(epfd: i32, events: u64, maxevents: i32, timeout: u64, sigmask: u64, sigsetsize: u64);
    SYS_fchmodat2 = 452 => fs::fchmodat2(dirfd: i32, path: u64, mode: u32, flags: i32);
}

/// Runs the system call in `regs` (number in rax, arguments in the SYSCALL registers).
pub fn dispatch(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs) -> Outcome {
    // A traced thread may stop before its call runs (see `crate::ptrace`).
    match crate::ptrace::syscall_enter(p, k, regs) {
        Gate::Go => {}
        Gate::Wait => return Outcome::Wait,
        Gate::Skip(v) => {
            crate::ptrace::syscall_exit(p, regs.rip);
            return Outcome::Return(v);
        }
        Gate::Exit => {
            p.trace_phase = crate::ptrace::Phase::Idle;
            return match p.exit_status {
                Some(status) => Outcome::Exit(status),
                None => {
                    p.exit_thread = false;
                    Outcome::ExitThread
                }
            };
        }
    }
    let (nr, args) = regs.syscall_args();
    p.sig.syscall_nr = nr;
    // The handlers' user copies fault pages in (see `mm::uaccess`).
    let process = p.process.clone();
    let mut faulting = crate::mm::Faulting::new(&process, k);
    let result = match crate::kmem::check_call(&p.sys, nr) {
        Ok(()) => call(nr, p, &mut faulting, regs),
        Err(e) => Some(Err(e)),
    };
    if faulting.out_of_memory() {
        return Outcome::Exit(crate::mm::out_of_memory_kill(&process, faulting.inner()));
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
    if result == Err(Errno::WAIT) && !p.wait_begun {
        // The filesystem needs a block still being read (`coracle_vfs::block::IO_WAIT`): the
        // thread waits until a read ends, then runs the call again. A read that ended before
        // the thread registered left nothing to wait for: wake it at once. Signals do not end
        // this wait, as they do not end Linux's reads of a disk: an interrupted wait would
        // run the call again at once, and the call (execve, stat) would find the block still
        // missing and wait again, for ever, since the CPU never left the loop to take the
        // device's completion.
        p.wait_on(&coracle_vfs::block::IO_WAIT, u64::MAX);
        p.thread.make_uninterruptible();
        if coracle_vfs::block::reads_in_flight() == 0 {
            coracle_vfs::block::IO_WAIT.wake_everyone();
        }
        return Outcome::Wait;
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
    if (p.exit_status.is_some() || p.exit_thread) && crate::ptrace::exit_event(p, k, regs) {
        return Outcome::Wait;
    }
    if let Some(status) = p.exit_status {
        return Outcome::Exit(status);
    }
    if core::mem::take(&mut p.exit_thread) {
        return Outcome::ExitThread;
    }
    crate::ptrace::syscall_exit(p, regs.rip);
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
/// [`Current::resumed`]).
pub fn resume(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs, why: Wake) -> Outcome {
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
