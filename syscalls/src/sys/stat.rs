//! `struct stat`, `struct statx` and `struct statfs` as the x86_64 ABI lays them out.

use coracle_vfs::types::{major, minor, Stat, StatFs, Timespec};

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// The 144-byte `struct stat` of x86_64.
pub(crate) fn stat_bytes(st: &Stat) -> [u8; 144] {
    let mut b = [0u8; 144];
    put(&mut b, 0, &st.dev.to_le_bytes());
    put(&mut b, 8, &st.ino.to_le_bytes());
    put(&mut b, 16, &st.nlink.to_le_bytes());
    put(&mut b, 24, &st.mode.to_le_bytes());
    put(&mut b, 28, &st.uid.to_le_bytes());
    put(&mut b, 32, &st.gid.to_le_bytes());
    put(&mut b, 40, &st.rdev.to_le_bytes());
    put(&mut b, 48, &st.size.to_le_bytes());
    put(&mut b, 56, &i64::from(st.blksize).to_le_bytes());
    put(&mut b, 64, &st.blocks.to_le_bytes());
    for (at, t) in [(72, st.atime), (88, st.mtime), (104, st.ctime)] {
        put(&mut b, at, &t.sec.to_le_bytes());
        put(&mut b, at + 8, &u64::from(t.nsec).to_le_bytes());
    }
    b
}

/// statx mask bits.
const STATX_BASIC_STATS: u32 = 0x7ff;
const STATX_BTIME: u32 = 0x800;
const STATX_MNT_ID: u32 = 0x1000;

fn statx_time(b: &mut [u8], at: usize, t: Timespec) {
    put(b, at, &t.sec.to_le_bytes());
    put(b, at + 8, &t.nsec.to_le_bytes());
}

/// The 256-byte `struct statx`: basic stats, birth time and mount id, as tmpfs fills them.
pub(crate) fn statx_bytes(st: &Stat, mnt_id: u64) -> [u8; 256] {
    let mut b = [0u8; 256];
    let mask = STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID;
    put(&mut b, 0, &mask.to_le_bytes());
    put(&mut b, 4, &st.blksize.to_le_bytes());
    // stx_attributes (8..16) stays 0.
    put(&mut b, 16, &(st.nlink as u32).to_le_bytes());
    put(&mut b, 20, &st.uid.to_le_bytes());
    put(&mut b, 24, &st.gid.to_le_bytes());
    put(&mut b, 28, &(st.mode as u16).to_le_bytes());
    put(&mut b, 32, &st.ino.to_le_bytes());
    put(&mut b, 40, &st.size.to_le_bytes());
    put(&mut b, 48, &st.blocks.to_le_bytes());
    // stx_attributes_mask (56..64): tmpfs supports none of the listed attributes we report.
    statx_time(&mut b, 64, st.atime);
    statx_time(&mut b, 80, st.btime);
    statx_time(&mut b, 96, st.ctime);
    statx_time(&mut b, 112, st.mtime);
    put(&mut b, 128, &major(st.rdev).to_le_bytes());
    put(&mut b, 132, &minor(st.rdev).to_le_bytes());
    put(&mut b, 136, &major(st.dev).to_le_bytes());
    put(&mut b, 140, &minor(st.dev).to_le_bytes());
    put(&mut b, 144, &mnt_id.to_le_bytes());
    b
}

/// The 120-byte `struct statfs` of x86_64.
pub(crate) fn statfs_bytes(s: &StatFs) -> [u8; 120] {
    let mut b = [0u8; 120];
    let fields = [
        s.fs_type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree,
    ];
    for (i, v) in fields.iter().enumerate() {
        put(&mut b, i * 8, &v.to_le_bytes());
    }
    put(&mut b, 56, &s.fsid.to_le_bytes());
    put(&mut b, 64, &s.namelen.to_le_bytes());
    put(&mut b, 72, &s.frsize.to_le_bytes());
    put(&mut b, 80, &s.flags.to_le_bytes());
    b
}
