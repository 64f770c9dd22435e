//! The cases: which program runs with which arguments, environment, stdin and machine.
//!
//! Names are `c/<label>/<flavour>/<machine>`, `rust/<label>/<machine>`, `busybox/<label>`,
//! `rootfs/<label>`, `debian/<label>`, `script/<label>` and `overlay/<label>` (a script with
//! the image on the drive under the overlay root, where `script/` unpacks it from the initrd);
//! they are what `known-failures.txt` and `pending.txt` list. The "hello
//! class" (the smallest programs) runs on both machine types; everything else on microvm.
//!
//! The thread, signal, time and event programs (and the Go ones, `go/<label>/<machine>`) run
//! once per vCPU count in `SMP_CPUS`, each a case of its own named with a `/cpus=N` suffix:
//! `c/thr_mutex/musl/microvm/cpus=2`. Their host side is the same run for every count.
//!
//! The `fs_*` C programs work in a scratch directory given as argv[1] (`Place::Scratch`); the
//! `rootfs/` cases run busybox applets inside the test root filesystem (`Place::Rootfs`), the
//! `script/` cases busybox `sh` on a script of `compat-tests/scripts/` there. The `debian/`
//! cases (`cases/debian.rs`) run real Debian programs in a Debian root (`Place::Debian`).

use std::time::Duration;

use crate::programs::{Flavour, Source};

pub(crate) const MICROVM: &str = "microvm";
pub(crate) const Q35: &str = "q35";

/// One program run, compared between the host and `coracle run`.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) name: String,
    /// The program, for the summary: `c/hello`, `rust/rust_hello`, `busybox/seq`.
    pub(crate) program: String,
    pub(crate) source: Source,
    pub(crate) args: Vec<Vec<u8>>,
    /// Variables given with `-e` on top of the defaults.
    pub(crate) env: Vec<(String, String)>,
    /// Bytes for stdin, given to `coracle run -i`; without them stdin is `/dev/null` on the
    /// host and at end of file in the guest.
    pub(crate) stdin: Option<Vec<u8>>,
    pub(crate) machine: &'static str,
    pub(crate) compare_stderr: bool,
    /// Compare only the first this many lines of stderr (both sides cut the same way).
    pub(crate) stderr_lines: Option<usize>,
    /// Compares uids, so the host side must run as root like the guest's program does.
    pub(crate) needs_root: bool,
    pub(crate) place: Place,
    /// `--cpus N` for the guest; `None` leaves coracle's default and adds no name suffix.
    pub(crate) cpus: Option<u32>,
    /// The exit status the program must give on the host: a program whose own checks fail on
    /// Linux fails its cases, rather than passing by failing the same way in Coracle.
    pub(crate) host_status: Option<i32>,
    /// How long one `coracle run` of it may take, when it needs more than the default.
    pub(crate) timeout: Option<Duration>,
    /// Why its guest side runs only with `--accel kvm`: what TCG does not do as the CPU does.
    /// Elsewhere the host side runs and is checked, and the case is skipped with this reason.
    pub(crate) needs_kvm: Option<&'static str>,
    /// `--kernel-arg` tokens for the guest side.
    pub(crate) kernel_args: Vec<String>,
    /// `coracle run --root-device` when the case chooses (the `debian/`, `rootfs/` and
    /// `script/` cases `initrd`, the `debian-blk/` and `overlay/` ones `blk`); the others
    /// take the default (a lone program travels in the initrd).
    pub(crate) root_device: Option<&'static str>,
}

/// The vCPU counts every SMP case runs with.
pub(crate) const SMP_CPUS: [u32; 3] = [1, 2, 4];

impl Case {
    /// The name without its `/cpus=N` suffix: the cases of one program run that differ only in
    /// the guest's vCPU count share it, and their host run.
    pub(crate) fn host_key(&self) -> &str {
        match self.cpus {
            Some(_) => self
                .name
                .rsplit_once("/cpus=")
                .map_or(&self.name, |(base, _)| base),
            None => &self.name,
        }
    }
}

/// Where a case's program runs, and what that adds to its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// As it is: the host runs it directly, the guest with `coracle run PROGRAM`.
    Direct,
    /// Like `Direct`, with a directory to work in as argv[1]: a fresh one under `/dev/shm`
    /// (tmpfs) on the host (`scratch`), `/tmp` (tmpfs) in the guest.
    Scratch,
    /// Inside a fresh test root filesystem (`rootfs`) with `/` as the working directory, as
    /// `command` (a path in it, or a name looked up in its PATH) followed by the arguments:
    /// `chroot ROOT` on the host, `coracle run ROOT` in the guest.
    Rootfs { command: String },
    /// Inside the Debian root filesystem (`crate::debian`), as `command` and the arguments:
    /// on the host in a chroot of an overlay on the cached tree (with `/dev`, `/dev/shm`,
    /// `/proc` and `/sys` mounted, in a mount namespace of its own), in the guest with
    /// `coracle run -m DEBIAN_MEMORY ROOT`.
    Debian { command: String },
}

/// The working directory given to `Place::Scratch` programs in the guest.
pub(crate) const GUEST_SCRATCH: &str = "/tmp";

/// A case before it is multiplied over flavours and machines.
#[derive(Debug, Clone)]
struct Spec {
    label: String,
    program: &'static str,
    args: Vec<Vec<u8>>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    both_machines: bool,
    compare_stderr: bool,
    stderr_lines: Option<usize>,
    needs_root: bool,
    place: Place,
    /// Run once per count in `SMP_CPUS`.
    smp: bool,
    host_status: Option<i32>,
    timeout: Option<Duration>,
    needs_kvm: Option<&'static str>,
    kernel_args: Vec<String>,
    /// The C flavours it is built in (all of them unless a case is too slow to run in each).
    flavours: &'static [Flavour],
}

fn spec(program: &'static str) -> Spec {
    Spec {
        label: program.to_string(),
        program,
        args: Vec::new(),
        env: Vec::new(),
        stdin: None,
        both_machines: false,
        compare_stderr: true,
        stderr_lines: None,
        needs_root: false,
        place: Place::Direct,
        smp: false,
        host_status: None,
        timeout: None,
        needs_kvm: None,
        kernel_args: Vec::new(),
        flavours: &Flavour::ALL,
    }
}

/// A program of the SMP group: run on 1, 2 and 4 vCPUs, expected to exit 0 on the host.
fn smp(program: &'static str) -> Spec {
    Spec {
        smp: true,
        host_status: Some(0),
        ..spec(program)
    }
}

impl Spec {
    fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }
    fn args<A: AsRef<[u8]>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.args = args.into_iter().map(|a| a.as_ref().to_vec()).collect();
        self
    }
    fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Some(bytes.to_vec());
        self
    }
    fn both_machines(mut self) -> Self {
        self.both_machines = true;
        self
    }
    /// Death by a signal may be reported on stderr by the tool; only stdout and status count.
    fn ignore_stderr(mut self) -> Self {
        self.compare_stderr = false;
        self
    }
    fn needs_root(mut self) -> Self {
        self.needs_root = true;
        self
    }
    /// argv[1] is a scratch directory (see `Place::Scratch`).
    fn scratch(mut self) -> Self {
        self.place = Place::Scratch;
        self
    }
    /// The exit status the host run must give (see `Case::host_status`).
    fn status(mut self, status: i32) -> Self {
        self.host_status = Some(status);
        self
    }
    /// Only the first `lines` lines of stderr are compared.
    fn stderr_lines(mut self, lines: usize) -> Self {
        self.stderr_lines = Some(lines);
        self
    }
    fn timeout(mut self, seconds: u64) -> Self {
        self.timeout = Some(Duration::from_secs(seconds));
        self
    }
    /// The guest side runs only with `--accel kvm` (see `Case::needs_kvm`), for `why`.
    fn needs_kvm(mut self, why: &'static str) -> Self {
        self.needs_kvm = Some(why);
        self
    }
    /// Built with musl only: a long run that the other flavours would only repeat.
    fn musl_only(mut self) -> Self {
        self.flavours = &[Flavour::Musl];
        self
    }

    fn machines(&self) -> &'static [&'static str] {
        if self.both_machines {
            &[MICROVM, Q35]
        } else {
            &[MICROVM]
        }
    }

    /// The cases of this spec on `machine`: one, or one per vCPU count for SMP specs, with
    /// `/cpus=N` appended to `name`.
    fn cases(
        &self,
        name: String,
        program: String,
        source: Source,
        machine: &'static str,
    ) -> Vec<Case> {
        let case = |name: String, cpus: Option<u32>| Case {
            name,
            program: program.clone(),
            source: source.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            stdin: self.stdin.clone(),
            machine,
            compare_stderr: self.compare_stderr,
            stderr_lines: self.stderr_lines,
            needs_root: self.needs_root,
            place: self.place.clone(),
            cpus,
            host_status: self.host_status,
            timeout: self.timeout,
            needs_kvm: self.needs_kvm,
            kernel_args: self.kernel_args.clone(),
            root_device: None,
        };
        if self.smp {
            SMP_CPUS
                .iter()
                .map(|&n| case(format!("{name}/cpus={n}"), Some(n)))
                .collect()
        } else {
            vec![case(name, None)]
        }
    }
}

/// Every case, in report order. `now` (seconds since 1970) is what `clock` checks against.
pub(crate) fn all(now: u64) -> Vec<Case> {
    let mut cases = Vec::new();
    let c_specs = c_specs(now);
    for flavour in Flavour::ALL {
        for spec in c_specs.iter().filter(|s| s.flavours.contains(&flavour)) {
            for &machine in spec.machines() {
                cases.extend(spec.cases(
                    format!("c/{}/{}/{machine}", spec.label, flavour.name()),
                    format!("c/{}", spec.program),
                    Source::C(spec.program, flavour),
                    machine,
                ));
            }
        }
    }
    for spec in rust_specs() {
        for &machine in spec.machines() {
            cases.extend(spec.cases(
                format!("rust/{}/{machine}", spec.label),
                format!("rust/{}", spec.program),
                Source::Rust(spec.program),
                machine,
            ));
        }
    }
    for spec in go_specs() {
        for &machine in spec.machines() {
            cases.extend(spec.cases(
                format!("go/{}/{machine}", spec.label),
                format!("go/{}", spec.program),
                Source::Go(spec.program),
                machine,
            ));
        }
    }
    for spec in busybox_specs() {
        let program = format!("busybox/{}", String::from_utf8_lossy(&spec.args[0]));
        cases.extend(spec.cases(
            format!("busybox/{}", spec.label),
            program,
            Source::Busybox,
            MICROVM,
        ));
    }
    for spec in rootfs_specs() {
        let Place::Rootfs { command } = &spec.place else {
            unreachable!("rootfs_specs makes rootfs cases")
        };
        let applet = match command.rsplit('/').next() {
            Some("busybox") => String::from_utf8_lossy(&spec.args[0]).into_owned(),
            name => name.unwrap_or_default().to_string(),
        };
        // From the initrd, unpacked into a tmpfs as the host's chroot is: the applets show
        // what depends on the filesystem (listing order, `st_blocks`, directory sizes, the
        // statfs type), which differs on the drive's EROFS under the overlay.
        cases.extend(
            spec.cases(
                format!("rootfs/{}", spec.label),
                format!("rootfs/{applet}"),
                Source::Busybox,
                MICROVM,
            )
            .into_iter()
            .map(|case| Case {
                root_device: Some("initrd"),
                ..case
            }),
        );
    }
    for spec in debian::specs() {
        let Place::Debian { command } = &spec.place else {
            unreachable!("debian::specs makes Debian cases")
        };
        let name = command.rsplit('/').next().unwrap_or_default();
        // From the initrd (`debian/`) and from the root filesystem on a block device under
        // the overlay (`debian-blk/`): the same results.
        for (prefix, device) in [("debian", "initrd"), ("debian-blk", "blk")] {
            cases.extend(
                spec.cases(
                    format!("{prefix}/{}", spec.label),
                    format!("debian/{name}"),
                    Source::Debian,
                    MICROVM,
                )
                .into_iter()
                .map(|case| Case {
                    root_device: Some(device),
                    ..case
                }),
            );
        }
    }
    // The scripts from the initrd unpacked into a tmpfs (`script/`), and some of them from
    // the drive under the overlay (`overlay/`).
    for (prefix, device, specs) in [
        ("script", "initrd", script_specs()),
        ("overlay", "blk", overlay_specs()),
    ] {
        for spec in specs {
            cases.extend(
                spec.cases(
                    format!("{prefix}/{}", spec.label),
                    format!("script/{}", spec.label),
                    Source::Busybox,
                    MICROVM,
                )
                .into_iter()
                .map(|case| Case {
                    root_device: Some(device),
                    ..case
                }),
            );
        }
    }
    cases
}

/// Binary-unsafe channels would mangle these: NUL, LF, the framing escape 0xff followed by each
/// byte the stdin framing gives a meaning to, every byte value, and more than one buffer's worth.
pub(crate) fn tricky_stdin() -> Vec<u8> {
    let mut bytes = b"line one\n\xff\x00\x0a\xff\x01\xff\xff\x00\x00 no newline".to_vec();
    bytes.extend(0..=255u8);
    bytes.extend((0..20_000u32).map(|i| (i * 7 + i / 256) as u8));
    bytes.extend_from_slice(b"\xff");
    bytes
}

fn c_specs(now: u64) -> Vec<Spec> {
    let mut specs = vec![
        spec("hello").both_machines(),
        spec("args_env")
            .both_machines()
            .args(["first", "", "two words", "-x", "--flag=1", "ünïcödé", "*"])
            .env("COMPAT_A", "1")
            .env("COMPAT_B", "x=y z")
            .env("COMPAT_EMPTY", ""),
    ];
    for code in ["0", "1", "42", "255"] {
        specs.push(
            spec("exit_codes")
                .label(&format!("exit_codes-{code}"))
                .both_machines()
                .args([code]),
        );
    }
    specs.extend([
        spec("efault"),
        // With data waiting, Linux must look at the buffer: EFAULT rather than 0.
        spec("efault").label("efault-stdin").stdin(b"hello"),
        // A buffer outside user space is EFAULT even where nothing would be copied.
        spec("efault_eof"),
        spec("kernel_store").ignore_stderr(),
        spec("null_deref").ignore_stderr(),
        spec("uname"),
        spec("isatty"),
        // Terminals without a host terminal: ptys made inside the program.
        spec("tty_pty"),
        spec("tty_jobs"),
        spec("stdio_buffering"),
        spec("clock").args([now.to_string()]),
        spec("vdso_clock").args([now.to_string()]),
        spec("ids").needs_root(),
        spec("big_output"),
        spec("stdin_echo").stdin(&tricky_stdin()),
        spec("stdin_echo").label("stdin_echo-empty").stdin(b""),
        spec("malloc_big"),
        spec("deep_stack_write"),
        spec("sse"),
    ]);
    // Memory management: reservations, demand paging, mremap, madvise, shared mappings, maps.
    for program in [
        "mm_reserve",
        "mm_remap",
        "mm_advise",
        "mm_shared",
        "mm_maps",
        "mm_filemap",
        "mm_truncate",
        "mm_procmaps",
    ] {
        specs.push(spec(program));
    }
    // The file-system programs, each in a scratch directory. Most print owners, or depend on
    // root's privileges (chown, mknod, linkat(AT_EMPTY_PATH), access, mount): they need root.
    for program in [
        "fs_paths",
        "fs_fds",
        "fs_many",
        "fs_memfd",
        "fs_splice",
        "fs_sendfile_pipe",
        "fs_xattr",
        "fs_inotify",
    ] {
        specs.push(spec(program).scratch());
    }
    for program in [
        "fs_errno",
        "fs_files",
        "fs_dirs",
        "fs_links",
        "fs_rename",
        "fs_meta",
        "fs_pipes",
        "fs_dev",
        "fs_proc",
        "fs_mount",
    ] {
        specs.push(spec(program).scratch().needs_root());
    }
    // Files, inodes and processes until the kernel refuses (issue 17): once, with musl.
    specs.push(
        spec("lim_exhaust")
            .scratch()
            .status(0)
            .musl_only()
            .timeout(300),
    );
    specs.push(spec("lim_fsize").scratch().status(0));
    // POSIX message queues (issue 17): mounts mqueue in its scratch directory, hence root.
    specs.push(spec("ipc_mq").scratch().status(0).needs_root());
    // RLIMIT_NPROC on fork and clone, for root (exempt) and for a user.
    specs.push(spec("lim_nproc").status(0).needs_root());
    // RLIMIT_NPROC on execve after a set*uid to a user over the limit (PF_NPROC_EXCEEDED).
    specs.push(spec("lim_nproc_exec").status(0).needs_root());
    // readahead, sync_file_range and fadvise on every kind of descriptor (LTP readahead01,
    // sync_file_range01).
    specs.push(spec("fs_advise").scratch());
    // Credentials (issue 17): set*id, capabilities, permission checks. The host side drops
    // to Docker's capability set first; every step that changes ids runs in a child.
    specs.push(spec("cred_ids").needs_root());
    specs.push(spec("cred_caps").needs_root());
    specs.push(spec("cred_perm").scratch().needs_root());
    // File handles and namespaces (issue 17): the refusals are those of a container's root.
    specs.push(spec("fs_handle").scratch().needs_root());
    specs.push(spec("proc_ns").needs_root());
    specs.extend(smp_c_specs());
    specs.extend(proc_specs());
    specs.extend(net_specs());
    specs
}

/// Sockets (issue 13): TCP and UDP over loopback, Unix sockets. No NIC needed. Each exits 0
/// when its own checks pass.
fn net_specs() -> Vec<Spec> {
    let mut specs: Vec<Spec> = ["net_tcp", "net_udp", "net_sockopt"]
        .into_iter()
        .map(|p| spec(p).status(0))
        .collect();
    // net_unix binds filesystem names in its scratch directory.
    specs.push(spec("net_unix").scratch().status(0));
    // getifaddrs and getaddrinfo(AI_ADDRCONFIG) over netlink: lo's entries, compared.
    specs.push(spec("net_ifaddrs").status(0));
    // Listen backlogs, a v6-only [::] beside 0.0.0.0, SO_LINGER's blocking close, close of a
    // connect in progress, keepalive settings, a closed UDP socket's datagrams.
    for p in ["net_listen", "net_close", "net_keepalive"] {
        specs.push(spec(p).status(0));
    }
    specs
}

/// Processes (issue 5): fork, vfork, exec, wait, process groups, pidfds. Each exits 0 when its
/// own checks pass.
fn proc_specs() -> Vec<Spec> {
    let mut specs: Vec<Spec> = [
        "proc_sigchld",
        "proc_pgrp",
        "proc_orphan",
        "proc_cow",
        "proc_vfork",
        // What a vfork child maps, unmaps or protects is its parent's map afterwards.
        "proc_vfork_mm",
        // CLONE_VM shares one map: a parent thread's mmap during vfork, a clone(CLONE_VM) child.
        "proc_vm_share",
        "proc_pidfd",
        // Futexes between processes on shared memory, sem_open, process-shared pthreads.
        "futex_shared",
        // Sleepers show 'S' in /proc/<pid>/stat (LTP's TST_PROCESS_STATE_WAIT).
        "proc_states",
        // keyctl on a free serial: ENOKEY.
        "key_probe",
        // CLONE_PARENT_SETTID seen by a CLONE_VM child.
        "proc_clone_settid",
        // personality(2): PER_LINUX32's uname, STICKY_TIMEOUTS.
        "proc_persona",
        // ioprio_set/ioprio_get.
        "sched_ioprio",
        // process_vm_readv/writev on a child.
        "proc_vm",
        // ptrace: stops, registers, memory, breakpoints, single steps, events.
        "proc_ptrace",
        // /proc/PID/mem and /proc/PID/auxv, as gdb reads its inferior.
        "proc_ptrace_mem",
        // Hardware watchpoints and breakpoints through the debug registers; DR6 and si_code.
        "proc_ptrace_dr",
        // The XSAVE register set written back, as after gdb's inferior calls.
        "proc_ptrace_xstate",
        // System V message queues, shared memory and semaphores.
        "ipc_msg",
        "ipc_shm",
        "ipc_sem",
    ]
    .into_iter()
    .map(|p| spec(p).status(0))
    .collect();
    // proc_wait prints the uid waitid reports.
    specs.push(spec("proc_wait").status(0).needs_root());
    // The host side makes itself PID 1 of a new PID namespace, which takes root.
    specs.push(spec("proc_pid1").status(0).needs_root());
    // Reopening pipe(2) ends through /proc/self/fd (bash's process substitution).
    specs.push(spec("pipe_reopen").status(0));
    for program in ["proc_fds", "proc_exec", "proc_coredump"] {
        specs.push(spec(program).scratch().status(0));
    }
    // 2,000 processes one after another: once, with musl.
    specs.push(spec("proc_loop").status(0).musl_only().timeout(300));
    specs
}

/// Threads, futexes, signals, time, waiting on many fds, CPU time and scheduling (issue 4): on
/// 1, 2 and 4 vCPUs. Each exits 0 when its own checks pass, except where a last step kills it
/// with a default action on purpose (the status is 128 + the signal).
fn smp_c_specs() -> Vec<Spec> {
    let mut specs: Vec<Spec> = [
        "thr_mutex",
        "thr_condvar",
        "thr_rwlock",
        "thr_barrier",
        "thr_sem",
        "thr_many",
        "thr_tls",
        "thr_join_value",
        "thr_cancel",
        "thr_detach_exit",
        "thr_futex",
        "thr_clone_raw",
        "sig_segv",
        "sig_faults",
        "sig_altstack",
        "sig_basic",
        "sig_thread",
        "time_sleep",
        "time_timers",
        "ev_epoll",
        "ev_eventfd",
        "ev_signalfd",
        "ev_poll_threads",
        "cpu_rusage",
        "sched_misc",
    ]
    .into_iter()
    .map(smp)
    .collect();
    // Both sig_fpe cases check the #XM (vector 19, FPE_FLTDIV) of an unmasked SSE division by
    // zero. QEMU 7.2's TCG reports it as a divide error (vector 0, FPE_INTDIV) at the divsd,
    // so no kernel can pass them there; KVM runs the instruction on the CPU.
    const NO_XM_ON_TCG: &str = "TCG raises no #XM for an unmasked SIMD floating-point \
                                exception (QEMU 7.2 reports a divide error, vector 0)";
    specs.push(smp("sig_fpe").needs_kvm(NO_XM_ON_TCG));
    // sig_basic's last step: a default action ends it (the tool may report the death on stderr).
    for (step, status) in [
        ("TERM", 143),
        ("USR1", 138),
        ("ABRT", 134),
        ("KILL", 137),
        ("QUIT", 131),
        ("PENDING", 143),
        ("SEGV", 139),
    ] {
        specs.push(
            smp("sig_basic")
                .label(&format!("sig_basic-{step}"))
                .args([step])
                .status(status)
                .ignore_stderr(),
        );
    }
    // What the ev_/cpu_ programs above leave out, each in a scratch directory.
    for program in ["ev_epoll_keys", "cpu_threads"] {
        specs.push(smp(program).scratch());
    }
    specs.push(
        smp("sig_fpe")
            .label("sig_fpe-default")
            .args(["default"])
            .status(136)
            .ignore_stderr()
            .needs_kvm(NO_XM_ON_TCG),
    );
    specs
}

fn rust_specs() -> Vec<Spec> {
    vec![
        spec("rust_hello")
            .both_machines()
            .args(["3", "two words"])
            .env("COMPAT_RUST", "from -e"),
        smp("rust_threads"),
        smp("rust_sync"),
        smp("rust_panic")
            .label("rust_panic-caught")
            .args(["caught"]),
        smp("rust_panic")
            .label("rust_panic-main")
            .args(["main"])
            .status(101),
    ]
}

/// Go programs (static, CGO_ENABLED=0): the runtime needs threads, futexes, signals, timers and
/// epoll from the start, so even the smallest is an SMP case.
fn go_specs() -> Vec<Spec> {
    let mut specs = vec![smp("go_hello").args(["one", "two words"])];
    specs.extend(
        ["go_goroutines", "go_timers", "go_maxprocs", "go_signal"]
            .into_iter()
            .map(smp),
    );
    // 400 MiB of allocation is slow under TCG.
    specs.push(smp("go_gc").timeout(600));
    specs.push(smp("go_panic").label("go_panic-recover").args(["recover"]));
    specs.push(
        smp("go_panic")
            .label("go_panic-exit")
            .args(["exit"])
            .status(3),
    );
    // An unrecovered panic: status 2, then goroutine traces whose numbers vary from run to run.
    for how in ["crash", "crash-goroutine"] {
        specs.push(
            smp("go_panic")
                .label(&format!("go_panic-{how}"))
                .args([how])
                .status(2)
                .stderr_lines(1),
        );
    }
    specs
}

fn busybox_specs() -> Vec<Spec> {
    let bb = |label: &str, args: &[&str]| spec("busybox").label(label).args(args.iter());
    let text = b"pear\napple\nfig\n\xc3\xa9clair\nbanana\napple\n";
    vec![
        bb("echo", &["echo", "hello", "world"]),
        bb("true", &["true"]),
        bb("false", &["false"]),
        bb("printf", &["printf", "%s-%d\\n", "a", "5"]),
        bb("seq", &["seq", "1", "20"]),
        bb("expr", &["expr", "6", "*", "7"]),
        bb("basename", &["basename", "/a/b/c.txt", ".txt"]),
        bb("uname", &["uname", "-s", "-m"]),
        bb("env", &["env"]).env("COMPAT_X", "1"),
        bb("sh-arith", &["sh", "-c", "echo $((1+2))"]),
        bb("cat-stdin", &["cat"]).stdin(&tricky_stdin()),
        bb("wc-stdin", &["wc", "-c", "-l"]).stdin(&tricky_stdin()),
        bb("sha256sum-stdin", &["sha256sum"]).stdin(&tricky_stdin()),
        bb("sort-stdin", &["sort"]).stdin(text),
        bb("tr-stdin", &["tr", "a-z", "A-Z"]).stdin(text),
    ]
}

/// Busybox applets in the test root filesystem, one process each (no fork yet): their output
/// shows the file system as the applet sees it. `sh -c` cases use only builtins, redirections
/// and globs (ash forks for anything else). Arguments are split at spaces, except in `sh`.
fn rootfs_specs() -> Vec<Spec> {
    let argv = |label: &str, command: &str, args: &[&str]| Spec {
        place: Place::Rootfs {
            command: command.to_string(),
        },
        ..spec("busybox").label(label).args(args.iter())
    };
    let via = |label: &str, command: &str, args: &str| {
        argv(label, command, &args.split(' ').collect::<Vec<_>>())
    };
    let bb = |label: &str, args: &str| via(label, "/bin/busybox", args);
    let sh = |label: &str, script: &str| argv(label, "/bin/sh", &["-c", script]);
    vec![
        bb("cat", "cat /data/fruits.txt /data/notes.txt /etc/passwd"),
        via(
            "cat-symlink",
            "/bin/cat",
            "/data/link /data/nested/deeper/leaf.txt",
        ),
        via("cat-by-name", "cat", "/data/nested/notes-link"),
        bb(
            "cat-errors",
            "cat /data/missing /data/nested /data/empty /data/dated.txt",
        ),
        bb("ls", "ls"),
        bb("ls-l", "ls -l /data"),
        via("ls-la", "/bin/ls", "-la /data/nested /data/nested/deeper"),
        bb("ls-lR", "ls -lR /data"),
        bb("ls-ln", "ls -ln /data"),
        bb("ls-lt", "ls -lt --full-time /data"),
        bb("ls-1aF", "ls -1aF /data /bin"),
        bb("ls-l-bin", "ls -l /bin"),
        bb(
            "ls-ld",
            "ls -ld /bin /data /etc /root /data/link /data/dangling",
        ),
        bb("ls-ld-root", "ls -ld /"),
        bb("ls-missing", "ls -l /data/missing /data/empty"),
        bb("find", "find /data"),
        bb("find-name", "find /data -type f -name *.txt"),
        bb("find-links", "find /data -type l -o -links 2"),
        bb(
            "find-newer",
            "find /data -maxdepth 1 -type f -newer /data/dated.txt",
        ),
        bb("find-perm", "find /data -perm -100"),
        bb("grep-r", "grep -rn apple /data"),
        bb(
            "grep-c",
            "grep -c -i -e APPLE /data/fruits.txt /data/notes.txt /data/missing",
        ),
        bb("sed", "sed -n -e s/a/A/gp -e $= /data/fruits.txt"),
        argv(
            "awk",
            "/bin/awk",
            &[
                "-F,",
                "NR > 1 { s += $2; print NR \": \" $1 } END { print \"total\", s }",
                "/data/numbers.csv",
            ],
        ),
        via(
            "sort-fields",
            "/bin/sort",
            "-t, -k2,2n -k1,1r /data/numbers.csv",
        ),
        bb("sort-u", "sort -u /data/fruits.txt /data/fruits-v2.txt"),
        bb("uniq-c", "uniq -c /data/fruits.txt"),
        bb("tar-tvf", "tar -tvf /data/archive.tar"),
        bb("tar-xvf", "tar -xvf /data/archive.tar -C /tmp"),
        bb(
            "tar-xO",
            "tar -xOf /data/archive.tar tarred/sub/b.txt tarred/a.txt",
        ),
        bb("tar-cf", "tar -cf - -C /data nested dated.txt link"),
        bb("tar-cf-data", "tar -cf - /data"),
        bb("gzip-c", "gzip -c /data/notes.txt"),
        bb("gunzip-c", "gunzip -c /data/fruits.txt.gz"),
        // Not zcat: busybox's zcat forks a decompressor.
        via("gunzip-symlink", "/bin/gunzip", "-c /data/fruits.txt.gz"),
        bb(
            "md5sum",
            "md5sum /data/fruits.txt /data/binary.bin /data/empty /bin/busybox",
        ),
        bb("md5sum-c", "md5sum -c /data/sums.md5"),
        bb("sha256sum", "sha256sum /data/notes.txt /data/archive.tar"),
        bb(
            "stat-c",
            "stat -c %n|%s|%a|%A|%U|%G|%u|%g|%h|%F|%Y|%y /data/dated.txt /data/link \
             /data/nested /data/owned /data/empty /data/notes.txt /",
        ),
        via("stat-L", "/bin/stat", "-L -c %N|%F|%s /data/link"),
        bb("stat-f", "stat -f -c %T|%l|%S /data"),
        bb("readlink", "readlink /data/dangling"),
        bb("readlink-applet", "readlink /bin/sh"),
        bb("readlink-f", "readlink -f /data/nested/../link"),
        bb(
            "readlink-f-dangling",
            "readlink -f /data/nested/deeper/../../dangling",
        ),
        bb("readlink-file", "readlink /data/fruits.txt"),
        bb(
            "realpath",
            "realpath /data/nested/deeper/.. /data/link /bin/cat",
        ),
        bb("ln-sv", "ln -sv /data/fruits.txt /tmp/new-link"),
        bb("ln-exists", "ln -s x /data/link"),
        bb("chmod-v", "chmod -v 600 /data/notes.txt /data/run.sh"),
        bb("chown-v", "chown -v 1000:100 /data/empty"),
        bb("wc", "wc /data/fruits.txt /data/notes.txt /data/binary.bin"),
        bb("od-c", "od -c /data/notes.txt"),
        bb("hexdump-C", "hexdump -C /data/binary.bin"),
        bb("xxd", "xxd -l 64 /data/archive.tar"),
        bb("head", "head -n 2 /data/fruits.txt /data/notes.txt"),
        bb("tail", "tail -n 3 /data/notes.txt"),
        bb("tail-c", "tail -c 20 /data/fruits.txt"),
        via("cut", "/bin/cut", "-d, -f1,3 /data/numbers.csv"),
        bb("tr-stdin", "tr -d aeiou").stdin(b"pear\napple\nbanana\n"),
        bb("du-a", "du -a /data"),
        bb("du-s", "du -s /data /bin"),
        bb("cmp", "cmp /data/fruits.txt /data/fruits-v2.txt"),
        bb("diff-u", "diff -u /data/fruits.txt /data/fruits-v2.txt"),
        bb("nl", "nl /data/notes.txt"),
        bb("tac", "tac /data/fruits.txt"),
        bb("base64", "base64 /data/binary.bin"),
        bb(
            "dd",
            "dd if=/data/binary.bin bs=16 skip=2 count=2 status=none",
        ),
        bb("whoami", "whoami"),
        bb("test-L", "test -L /data/link"),
        bb("test-e-dangling", "test -e /data/dangling"),
        sh(
            "sh-read-loop",
            "while read -r l; do echo \"[$l]\"; done < /data/fruits.txt",
        ),
        sh(
            "sh-glob",
            "for f in /data/* /data/.* /data/n*/*; do echo \"$f\"; done",
        ),
        sh(
            "sh-redirect",
            "echo one > /tmp/f; echo two >> /tmp/f; { read a; read b; } < /tmp/f; echo \"$a $b\"; \
             echo x > /data/nested/deeper/new; read c < /data/nested/deeper/new; echo $c; \
             echo > /missing/file; echo status $?",
        ),
        sh(
            "sh-noclobber",
            "set -C; echo a > /data/empty; echo status $?; echo b >| /data/empty; \
             read x < /data/empty; echo $x; echo c > /tmp/new; read y < /tmp/new; echo $y",
        ),
        sh(
            "sh-cd",
            "pwd; cd /data/nested/deeper && pwd; cd ..; pwd; cd /data/link; echo $?; \
             cd -P /bin; pwd; cd /missing; echo $?",
        ),
        sh(
            "sh-type",
            "type cat ls busybox; command -v awk; type missing-cmd; echo $?",
        ),
        sh(
            "sh-test",
            "for t in '-L /data/link' '-h /data/dangling' '-f /data/link' '-e /data/dangling' \
             '-d /data/nested' '-x /data/run.sh' '-s /data/empty' '-r /data/owned' \
             '/data/dated.txt -ot /data/fruits.txt' '/data/notes.txt -ef /data/nested/notes-link'; \
             do if test $t; then echo \"$t: yes\"; else echo \"$t: no\"; fi; done",
        ),
        sh(
            "sh-fds",
            "exec 3< /data/notes.txt; read -r x <&3; read -r y <&3; echo \"$x|$y\"; exec 3<&-; \
             read z <&3; echo status $?",
        ),
        sh(
            "sh-heredoc",
            "read a b <<EOF\nfirst second\nEOF\necho \"$b $a\"",
        ),
    ]
}

/// The shell scripts (issue 5: processes): `sh /scripts/<name>.sh` in the test root filesystem,
/// each with the status it ends with. They fork, exec, wait, signal and pipe a lot, and print
/// only what is the same on every run: never a pid, a time or output that races.
pub(crate) const SCRIPTS: &[(&str, i32)] = &[
    ("pipeline", 0),
    ("subshell", 0),
    ("jobs", 0),
    ("trap", 3),
    ("exec", 7),
    ("heredoc", 0),
    ("redirect", 0),
    ("status", 1),
    ("shc", 0),
    ("files", 0),
    ("many", 0),
    ("pgroup", 0),
    ("orphan", 0),
    ("overlay", 0),
];

/// The scripts that also run with the image on the drive under the overlay root
/// (docs/overlay.md), as `overlay/<name>`: the host side is the same chroot of the plain tree.
const OVERLAY_SCRIPTS: &[&str] = &["overlay", "files", "exec"];

fn script_specs() -> Vec<Spec> {
    SCRIPTS
        .iter()
        .map(|&(name, status)| script_spec(name, status))
        .collect()
}

fn overlay_specs() -> Vec<Spec> {
    SCRIPTS
        .iter()
        .filter(|(name, _)| OVERLAY_SCRIPTS.contains(name))
        .map(|&(name, status)| script_spec(name, status))
        .collect()
}

fn script_spec(name: &str, status: i32) -> Spec {
    Spec {
        place: Place::Rootfs {
            command: "/bin/sh".to_string(),
        },
        ..spec("busybox")
            .label(name)
            .args([format!("/scripts/{name}.sh")])
            .status(status)
    }
}

mod debian;
mod debian_gdb;
pub(crate) use debian::DEBIAN_MEMORY;

#[cfg(test)]
mod tests;
