//! The VFS's [`Stat`] and [`StatFs`] as the ABI structs `struct stat`, `struct statx` and
//! `struct statfs` (declared in [`coracle_abi::stat`]).

use coracle_abi::stat::{
    self as abi, StatxTimestamp, STATX_BASIC_STATS, STATX_BTIME, STATX_MNT_ID,
};
use coracle_vfs::types::{major, minor, Stat, StatFs, Timespec};

/// `struct stat`.
pub(crate) fn user_stat(st: &Stat) -> abi::Stat {
    abi::Stat {
        st_dev: st.dev,
        st_ino: st.ino,
        st_nlink: st.nlink,
        st_mode: st.mode,
        st_uid: st.uid,
        st_gid: st.gid,
        st_rdev: st.rdev,
        st_size: st.size as i64,
        st_blksize: i64::from(st.blksize),
        st_blocks: st.blocks as i64,
        st_atime: st.atime.sec,
        st_atime_nsec: u64::from(st.atime.nsec),
        st_mtime: st.mtime.sec,
        st_mtime_nsec: u64::from(st.mtime.nsec),
        st_ctime: st.ctime.sec,
        st_ctime_nsec: u64::from(st.ctime.nsec),
        ..abi::Stat::default()
    }
}

fn statx_time(t: Timespec) -> StatxTimestamp {
    StatxTimestamp {
        tv_sec: t.sec,
        tv_nsec: t.nsec,
        reserved: 0,
    }
}

/// `struct statx`: basic stats, birth time and mount id, as tmpfs fills them. No attributes
/// are reported, and none are claimed supported (stx_attributes_mask 0).
pub(crate) fn user_statx(st: &Stat, mnt_id: u64) -> abi::Statx {
    abi::Statx {
        stx_mask: STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID,
        stx_blksize: st.blksize,
        stx_nlink: st.nlink as u32,
        stx_uid: st.uid,
        stx_gid: st.gid,
        stx_mode: st.mode as u16,
        stx_ino: st.ino,
        stx_size: st.size,
        stx_blocks: st.blocks,
        stx_atime: statx_time(st.atime),
        stx_btime: statx_time(st.btime),
        stx_ctime: statx_time(st.ctime),
        stx_mtime: statx_time(st.mtime),
        stx_rdev_major: major(st.rdev),
        stx_rdev_minor: minor(st.rdev),
        stx_dev_major: major(st.dev),
        stx_dev_minor: minor(st.dev),
        stx_mnt_id: mnt_id,
        ..abi::Statx::default()
    }
}

/// `struct statfs`.
pub(crate) fn user_statfs(s: &StatFs) -> abi::Statfs {
    abi::Statfs {
        f_type: s.fs_type as i64,
        f_bsize: s.bsize as i64,
        f_blocks: s.blocks,
        f_bfree: s.bfree,
        f_bavail: s.bavail,
        f_files: s.files,
        f_ffree: s.ffree,
        f_fsid: [s.fsid as u32 as i32, (s.fsid >> 32) as u32 as i32],
        f_namelen: s.namelen as i64,
        f_frsize: s.frsize as i64,
        f_flags: s.flags as i64,
        f_spare: [0; 4],
    }
}
