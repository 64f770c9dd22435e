//! Process-creation and scheduling structs: `struct clone_args` (clone3) and
//! `struct sched_param`.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct clone_args` up to CLONE_ARGS_SIZE_VER2 (88 bytes); clone3 takes a prefix of at
/// least VER0 (64) and refuses unknown non-zero tail bytes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}
const _: () = assert!(size_of::<CloneArgs>() == 88);

/// `struct sched_param`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SchedParam {
    pub sched_priority: i32,
}
const _: () = assert!(size_of::<SchedParam>() == 4);
