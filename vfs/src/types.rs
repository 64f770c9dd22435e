//! The plain data the VFS passes around: file types and modes, times, `stat` contents, the
//! caller's credentials, directory entries and open flags (Linux x86_64 values).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

pub use crate::perm::{check_access, Caller, MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::Errno;

/// A VFS result.
pub type Result<T> = core::result::Result<T, Errno>;

/// The type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170_000;
pub const S_IFSOCK: u32 = 0o140_000;
pub const S_IFLNK: u32 = 0o120_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFBLK: u32 = 0o060_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFCHR: u32 = 0o020_000;
pub const S_IFIFO: u32 = 0o010_000;
/// Set-user-ID, set-group-ID, sticky.
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;
/// Permission and special bits: everything chmod can change.
pub const MODE_BITS: u32 = 0o7777;

/// Longest file name (NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Longest path including its NUL (PATH_MAX).
pub const PATH_MAX: usize = 4096;
/// Most symlinks one path resolution follows (MAXSYMLINKS).
pub const MAX_SYMLINKS: u32 = 40;

/// What kind of object an inode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
}

impl FileType {
    /// The `S_IF*` bits.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::Fifo => S_IFIFO,
            FileType::CharDevice => S_IFCHR,
            FileType::BlockDevice => S_IFBLK,
            FileType::Socket => S_IFSOCK,
        }
    }

    /// The type named by the `S_IF*` bits of `mode`.
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Directory,
            S_IFLNK => FileType::Symlink,
            S_IFIFO => FileType::Fifo,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }

    /// The `d_type` of `getdents64` (DT_*).
    pub fn dirent_type(self) -> u8 {
        match self {
            FileType::Fifo => 1,
            FileType::CharDevice => 2,
            FileType::Directory => 4,
            FileType::BlockDevice => 6,
            FileType::Regular => 8,
            FileType::Symlink => 10,
            FileType::Socket => 12,
        }
    }
}

/// A point in time: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: u32,
}

impl Timespec {
    pub const ZERO: Timespec = Timespec { sec: 0, nsec: 0 };

    /// From nanoseconds since the epoch.
    pub fn from_ns(ns: u64) -> Timespec {
        Timespec {
            sec: (ns / 1_000_000_000) as i64,
            nsec: (ns % 1_000_000_000) as u32,
        }
    }
}

/// The wall clock the filesystems stamp times with.
pub trait Clock: Send + Sync {
    /// CLOCK_REALTIME now.
    fn now(&self) -> Timespec;
}

/// A clock that always says the epoch (for filesystems made before time is known, and tests).
#[derive(Debug, Default)]
pub struct EpochClock;

impl Clock for EpochClock {
    fn now(&self) -> Timespec {
        Timespec::ZERO
    }
}

/// Everything `stat` reports about an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    /// Type and permission bits.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    /// Device number for device nodes (Linux `new_encode_dev` layout: see [`makedev`]).
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub btime: Timespec,
}

impl Stat {
    /// The file type from the mode bits (regular if they are malformed).
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode).unwrap_or(FileType::Regular)
    }

    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// The userspace (glibc `makedev`) encoding of a device number, as in `st_rdev`.
pub fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (u64::from(major), u64::from(minor));
    ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
}

/// The major number of a [`makedev`] device number.
pub fn major(dev: u64) -> u32 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
}

/// The minor number of a [`makedev`] device number.
pub fn minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
}

/// A fresh anonymous device number (major 0), one per filesystem instance, like Linux's
/// `get_anon_bdev`.
pub fn anon_dev() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0x10);
    makedev(0, NEXT.fetch_add(1, Ordering::Relaxed) as u32)
}

/// `statfs` contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    pub fs_type: u64,
    pub bsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u64,
    pub frsize: u64,
    pub flags: u64,
}

/// `TMPFS_MAGIC`.
pub const TMPFS_MAGIC: u64 = 0x0102_1994;
/// `PROC_SUPER_MAGIC`.
pub const PROC_SUPER_MAGIC: u64 = 0x9fa0;
/// `SYSFS_MAGIC`.
pub const SYSFS_MAGIC: u64 = 0x6265_6572;
/// `PIPEFS_MAGIC`.
pub const PIPEFS_MAGIC: u64 = 0x5049_5045;

/// One directory entry, as `getdents64` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: FileType,
    pub name: Vec<u8>,
}

/// What [`crate::Inode::create`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewNode {
    Regular,
    Directory,
    Symlink(Vec<u8>),
    Fifo,
    CharDevice(u64),
    BlockDevice(u64),
    Socket,
}

impl NewNode {
    pub fn file_type(&self) -> FileType {
        match self {
            NewNode::Regular => FileType::Regular,
            NewNode::Directory => FileType::Directory,
            NewNode::Symlink(_) => FileType::Symlink,
            NewNode::Fifo => FileType::Fifo,
            NewNode::CharDevice(_) => FileType::CharDevice,
            NewNode::BlockDevice(_) => FileType::BlockDevice,
            NewNode::Socket => FileType::Socket,
        }
    }
}

/// `open(2)` flags (x86_64 values).
pub mod oflags {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DSYNC: u32 = 0o10000;
    pub const O_ASYNC: u32 = 0o20000;
    pub const O_DIRECT: u32 = 0o40000;
    pub const O_LARGEFILE: u32 = 0o100000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_NOATIME: u32 = 0o1000000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_SYNC: u32 = 0o4010000;
    pub const O_PATH: u32 = 0o10000000;
    pub const O_TMPFILE: u32 = 0o20200000;
    /// The flags `F_SETFL` may change.
    pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    /// Every flag `open` knows (others are ignored by open, rejected by openat2).
    pub const VALID: u32 = O_ACCMODE
        | O_CREAT
        | O_EXCL
        | O_NOCTTY
        | O_TRUNC
        | O_APPEND
        | O_NONBLOCK
        | O_SYNC
        | O_ASYNC
        | O_DIRECT
        | O_LARGEFILE
        | O_DIRECTORY
        | O_NOFOLLOW
        | O_NOATIME
        | O_CLOEXEC
        | O_PATH
        | O_TMPFILE;
}

/// `rename` flags.
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

/// Checks one path component: not empty, at most NAME_MAX bytes.
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.len() > NAME_MAX {
        Err(Errno::ENAMETOOLONG)
    } else if name.is_empty() {
        Err(Errno::ENOENT)
    } else {
        Ok(())
    }
}
