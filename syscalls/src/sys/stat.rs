//! `struct stat` and `struct statx` as the x86_64 ABI lays them out, and the console's stat.

use crate::process::File;

pub(crate) const S_IFIFO: u32 = 0o010_000;
pub(crate) const S_IFCHR: u32 = 0o020_000;

/// The fields Coracle fills in; everything else is zero.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
}

/// glibc's `makedev` encoding of a device number.
pub(crate) fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
}

impl Stat {
    /// The 144-byte `struct stat` of x86_64.
    pub(crate) fn to_bytes(self) -> [u8; 144] {
        let mut b = [0u8; 144];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16..24].copy_from_slice(&self.nlink.to_le_bytes());
        b[24..28].copy_from_slice(&self.mode.to_le_bytes());
        b[28..32].copy_from_slice(&self.uid.to_le_bytes());
        b[32..36].copy_from_slice(&self.gid.to_le_bytes());
        b[40..48].copy_from_slice(&self.rdev.to_le_bytes());
        b[48..56].copy_from_slice(&self.size.to_le_bytes());
        b[56..64].copy_from_slice(&self.blksize.to_le_bytes());
        b[64..72].copy_from_slice(&self.blocks.to_le_bytes());
        b
    }

    /// The 256-byte `struct statx` with the basic fields marked valid.
    pub(crate) fn to_statx_bytes(self) -> [u8; 256] {
        const STATX_BASIC_STATS: u32 = 0x7ff;
        let mut b = [0u8; 256];
        b[0..4].copy_from_slice(&STATX_BASIC_STATS.to_le_bytes());
        b[4..8].copy_from_slice(&(self.blksize as u32).to_le_bytes());
        b[16..20].copy_from_slice(&(self.nlink as u32).to_le_bytes());
        b[20..24].copy_from_slice(&self.uid.to_le_bytes());
        b[24..28].copy_from_slice(&self.gid.to_le_bytes());
        b[28..30].copy_from_slice(&(self.mode as u16).to_le_bytes());
        b[32..40].copy_from_slice(&self.ino.to_le_bytes());
        b[40..48].copy_from_slice(&(self.size as u64).to_le_bytes());
        b[48..56].copy_from_slice(&(self.blocks as u64).to_le_bytes());
        // rdev and dev as major/minor pairs at 128..144.
        let (rmaj, rmin) = ((self.rdev >> 8) & 0xfff, self.rdev & 0xff);
        b[128..132].copy_from_slice(&(rmaj as u32).to_le_bytes());
        b[132..136].copy_from_slice(&(rmin as u32).to_le_bytes());
        b[140..144].copy_from_slice(&(self.dev as u32).to_le_bytes());
        b
    }
}

/// What fstat says about a console fd: a pipe end as under `docker run`, or with `-t` the
/// terminal `/dev/pts/0` (char device 136:0, group tty).
pub(crate) fn console_stat(file: File, tty: bool) -> Stat {
    if tty {
        return Stat {
            dev: 0x18,
            ino: 3,
            nlink: 1,
            mode: S_IFCHR | 0o620,
            gid: 5,
            rdev: makedev(136, 0),
            blksize: 1024,
            ..Stat::default()
        };
    }
    let ino = match file {
        File::Stdin => 101,
        File::Stdout => 102,
        File::Stderr => 103,
    };
    Stat {
        dev: 0xd,
        ino,
        nlink: 1,
        mode: S_IFIFO | 0o600,
        blksize: 4096,
        ..Stat::default()
    }
}
