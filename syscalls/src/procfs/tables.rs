//! The fixed shape of /proc, /proc/<pid> and /sys: which names exist, what kind of node each
//! is, and which generator makes a file's text. Listing order is the order here, which for
//! /proc/<pid> follows Linux's `tgid_base_stuff`.

use alloc::vec::Vec;

use coracle_vfs::Result;

use super::node::SysCtx;
use super::ns::{Ns, NAMESPACES};
use super::pid::{self, View};
use super::system;
use super::{mounts, task};

/// One named entry of a directory.
pub(super) struct Ent {
    pub name: &'static str,
    pub spec: Spec,
}

/// What a fixed node is.
pub(super) enum Spec {
    /// A directory: these entries, then the dynamic ones of `Extra`.
    Dir(&'static [Ent], Extra),
    File(FileSpec),
    /// A symlink with fixed text.
    Link(&'static str),
    /// /proc/self: the caller's pid.
    SelfLink,
    /// /proc/thread-self: `<pid>/task/<tid>` of the caller.
    ThreadSelfLink,
    /// /proc/<pid>/{exe,cwd,root}: jumps to the object, whatever its path.
    Magic(Magic),
}

/// The entries of a directory that follow the system's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extra {
    None,
    /// /proc: one directory per live process.
    Pids,
    /// /sys/devices/system/cpu: cpu0..cpuN.
    Cpus,
    /// /proc/<pid>/fd: one magic link per open fd.
    Fds,
    /// /proc/<pid>/fdinfo: one file per open fd.
    FdInfos,
    /// /proc/<pid>/task: one directory per thread.
    Tasks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Magic {
    Exe,
    Cwd,
    Root,
    /// /proc/<pid>/ns/*.
    Ns(Ns),
}

/// A generated file.
pub(super) struct FileSpec {
    /// Permission bits.
    pub mode: u32,
    pub show: Show,
    /// What a write does, for the few files that take writes.
    pub store: Store,
}

/// How a file's text is made.
#[derive(Clone, Copy)]
pub(super) enum Show {
    Text(&'static str),
    Sys(fn(&SysCtx<'_>) -> Vec<u8>),
    Proc(fn(&View<'_>) -> Result<Vec<u8>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Store {
    None,
    /// /proc/<pid>/comm: renames a thread of the writer's own process.
    Comm,
    /// /proc/<pid>/oom_score_adj: -1000..=1000, remembered, otherwise without effect.
    OomScoreAdj,
    /// /proc/<pid>/mem: the process's memory, read and written at the offset (`mem`).
    Mem,
}

impl Spec {
    /// Nodes in this subtree (inode numbers of fixed nodes are their depth-first index).
    pub fn size(&self) -> u64 {
        match self {
            Spec::Dir(ents, _) => 1 + ents.iter().map(|e| e.spec.size()).sum::<u64>(),
            _ => 1,
        }
    }
}

const fn ent(name: &'static str, spec: Spec) -> Ent {
    Ent { name, spec }
}

const fn dir(ents: &'static [Ent]) -> Spec {
    Spec::Dir(ents, Extra::None)
}

const fn file(mode: u32, show: Show) -> Spec {
    Spec::File(FileSpec {
        mode,
        show,
        store: Store::None,
    })
}

/// A read-only file with fixed text.
const fn text(t: &'static str) -> Spec {
    file(0o444, Show::Text(t))
}

/// A sysctl Linux lets root write (0644); here /proc/sys is read-only, as docker mounts it.
const fn tunable(t: &'static str) -> Spec {
    file(0o644, Show::Text(t))
}

const fn sys(g: fn(&SysCtx<'_>) -> Vec<u8>) -> Spec {
    file(0o444, Show::Sys(g))
}

const fn proc(g: fn(&View<'_>) -> Result<Vec<u8>>) -> Spec {
    file(0o444, Show::Proc(g))
}

/// An empty directory (/sys/fs/cgroup, /sys/devices/system/cpu/cpuN).
pub(super) static EMPTY_DIR: Spec = dir(&[]);

/// /proc.
pub(super) static PROC_ROOT: Spec = Spec::Dir(
    &[
        ent("self", Spec::SelfLink),
        ent("thread-self", Spec::ThreadSelfLink),
        ent("config.gz", sys(super::config::config_gz)),
        ent(
            "sysvipc",
            dir(&[
                ent("msg", sys(system::sysvipc_msg)),
                ent("shm", sys(system::sysvipc_shm)),
            ]),
        ),
        ent("cpuinfo", sys(system::cpuinfo)),
        ent("meminfo", sys(system::meminfo)),
        ent("stat", sys(system::stat)),
        ent("uptime", sys(system::uptime)),
        ent("loadavg", sys(system::loadavg)),
        ent("version", sys(system::version)),
        ent("filesystems", sys(system::filesystems)),
        ent("mounts", Spec::Link("self/mounts")),
        ent("sys", dir(PROC_SYS)),
    ],
    Extra::Pids,
);

/// /proc/sys.
const PROC_SYS: &[Ent] = &[
    ent(
        "kernel",
        dir(&[
            ent("hostname", file(0o644, Show::Sys(system::hostname))),
            ent("osrelease", sys(system::osrelease)),
            ent("ostype", text("Linux\n")),
            ent("version", text("#1 SMP Coracle\n")),
            ent("pid_max", tunable("4194304\n")),
            ent("threads-max", file(0o644, Show::Sys(system::threads_max))),
            ent("msgmax", tunable("8192\n")),
            ent("msgmnb", tunable("16384\n")),
            ent("msgmni", tunable("32000\n")),
            ent("shmall", tunable("18446744073692774399\n")),
            ent("shmmax", tunable("18446744073692774399\n")),
            ent("shmmni", tunable("4096\n")),
            ent("sem", tunable("32000\t1024000000\t500\t32000\n")),
            ent("ngroups_max", text("65536\n")),
            ent("cap_last_cap", text("40\n")),
            ent("overflowuid", tunable("65534\n")),
            ent("overflowgid", tunable("65534\n")),
            ent(
                "random",
                dir(&[
                    ent("boot_id", sys(system::boot_id)),
                    ent("entropy_avail", text("256\n")),
                    ent("poolsize", text("256\n")),
                    ent("uuid", sys(system::uuid)),
                ]),
            ),
        ]),
    ),
    ent(
        "vm",
        dir(&[
            ent("max_map_count", tunable("65530\n")),
            ent("overcommit_memory", tunable("0\n")),
        ]),
    ),
    ent(
        "fs",
        dir(&[
            // Sized from memory as Linux does at boot, and enforced (`kmem`).
            ent("file-max", file(0o644, Show::Sys(system::file_max))),
            ent("file-nr", sys(system::file_nr)),
            ent("nr_open", tunable("1048576\n")),
            ent("pipe-max-size", tunable("1048576\n")),
            ent(
                "inotify",
                dir(&[
                    // The limits `sys::inotify` enforces (tests check they agree).
                    ent("max_queued_events", tunable("16384\n")),
                    ent("max_user_instances", tunable("128\n")),
                    ent("max_user_watches", tunable("8192\n")),
                ]),
            ),
            ent(
                "mqueue",
                dir(&[
                    ent("msg_default", tunable("10\n")),
                    ent("msg_max", tunable("10\n")),
                    ent("msgsize_default", tunable("8192\n")),
                    ent("msgsize_max", tunable("8192\n")),
                    ent("queues_max", tunable("256\n")),
                ]),
            ),
        ]),
    ),
    ent(
        "net",
        dir(&[ent("core", dir(&[ent("somaxconn", tunable("4096\n"))]))]),
    ),
];

/// /proc/<pid> and /proc/<pid>/task/<tid> (which has no `task`).
pub(super) static PID_DIR: Spec = dir(&[
    ent("task", Spec::Dir(&[], Extra::Tasks)),
    ent("fd", Spec::Dir(&[], Extra::Fds)),
    ent("fdinfo", Spec::Dir(&[], Extra::FdInfos)),
    ent("ns", dir(NS_DIR)),
    ent("environ", file(0o400, Show::Proc(pid::environ))),
    ent("auxv", file(0o400, Show::Proc(pid::auxv))),
    ent("status", proc(task::status)),
    ent("limits", proc(pid::limits)),
    ent(
        "comm",
        Spec::File(FileSpec {
            mode: 0o644,
            show: Show::Proc(pid::comm),
            store: Store::Comm,
        }),
    ),
    ent("cmdline", proc(pid::cmdline)),
    ent("stat", proc(task::stat)),
    ent("statm", proc(task::statm)),
    ent("maps", proc(task::maps)),
    ent(
        "mem",
        Spec::File(FileSpec {
            mode: 0o600,
            show: Show::Text(""),
            store: Store::Mem,
        }),
    ),
    ent("cwd", Spec::Magic(Magic::Cwd)),
    ent("root", Spec::Magic(Magic::Root)),
    ent("exe", Spec::Magic(Magic::Exe)),
    ent("mounts", proc(mounts::mounts)),
    ent("mountinfo", proc(mounts::mountinfo)),
    ent("cgroup", text("0::/\n")),
    ent(
        "oom_score_adj",
        Spec::File(FileSpec {
            mode: 0o644,
            show: Show::Proc(pid::oom_score_adj),
            store: Store::OomScoreAdj,
        }),
    ),
]);

/// /proc/<pid>/ns.
const NS_DIR: &[Ent] = &[
    ns_link(0),
    ns_link(1),
    ns_link(2),
    ns_link(3),
    ns_link(4),
    ns_link(5),
    ns_link(6),
    ns_link(7),
    ns_link(8),
    ns_link(9),
];

const fn ns_link(i: usize) -> Ent {
    ent(NAMESPACES[i].entry, Spec::Magic(Magic::Ns(NAMESPACES[i])))
}

/// /sys.
pub(super) static SYS_ROOT: Spec = dir(&[
    ent(
        "devices",
        dir(&[ent(
            "system",
            dir(&[ent(
                "cpu",
                Spec::Dir(
                    &[
                        ent("offline", text("\n")),
                        ent("online", sys(system::cpus_online)),
                        ent("possible", sys(system::cpus_online)),
                        ent("present", sys(system::cpus_online)),
                    ],
                    Extra::Cpus,
                ),
            )]),
        )]),
    ),
    ent("fs", dir(&[ent("cgroup", dir(&[]))])),
    ent(
        "kernel",
        dir(&[ent(
            "mm",
            dir(&[ent(
                "transparent_hugepage",
                dir(&[ent("enabled", tunable("always [madvise] never\n"))]),
            )]),
        )]),
    ),
]);
