//! fcntl's `struct flock` (x86_64) and the record-lock types.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const F_RDLCK: i16 = 0;
pub const F_WRLCK: i16 = 1;
pub const F_UNLCK: i16 = 2;

/// `struct flock` (32 bytes; the padding is spelled out so every byte is defined).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub pad0: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub pad1: u32,
}
const _: () = assert!(size_of::<Flock>() == 32);
const _: () = assert!(core::mem::offset_of!(Flock, l_start) == 8);
const _: () = assert!(core::mem::offset_of!(Flock, l_pid) == 24);
