//! 9P2000.L messages: requests encoded into bytes, replies decoded from untrusted bytes.
//!
//! Each message is `size[4] type[1] tag[2]` then its fields, little-endian; strings are
//! `len[2]` then bytes. A reply is checked against the request it answers (its type is the
//! request's plus one, or `Rlerror`; the tag matches; the size field is the length received)
//! and every field is read through a bounds-checked cursor, so a malformed reply from the
//! host is an [`Errno::EIO`], never a panic. The client (`super::client`) builds on this; the
//! fuzz target `p9` feeds it arbitrary bytes.

use alloc::vec::Vec;

use crate::Errno;

/// Bytes before a message's fields: size, type, tag.
pub const HEADER: usize = 7;
/// The header of `Rread`/`Twrite` plus their count field: what an I/O message adds to its data.
pub const IO_HEADER: usize = 24;

/// `Rlerror`: the reply to any request that failed, with a Linux errno.
const RLERROR: u8 = 7;

/// A file's identity on the server: its type bits, version and unique path number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qid {
    pub kind: u8,
    pub version: u32,
    pub path: u64,
}

impl Qid {
    /// The qid type bit of a directory.
    pub const DIR: u8 = 0x80;
}

/// What `Tgetattr` answers (`Rgetattr`), the fields Coracle uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attr {
    pub qid: Qid,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    /// (seconds, nanoseconds) of access, modification, status change.
    pub atime: (u64, u64),
    pub mtime: (u64, u64),
    pub ctime: (u64, u64),
}

/// `Tsetattr`'s fields; `valid` says which apply (the `SET_*` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetAttr {
    pub valid: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: (u64, u64),
    pub mtime: (u64, u64),
}

impl SetAttr {
    pub const MODE: u32 = 0x1;
    pub const UID: u32 = 0x2;
    pub const GID: u32 = 0x4;
    pub const SIZE: u32 = 0x8;
    pub const ATIME: u32 = 0x10;
    pub const MTIME: u32 = 0x20;
    pub const CTIME: u32 = 0x40;
    pub const ATIME_SET: u32 = 0x80;
    pub const MTIME_SET: u32 = 0x100;
}

/// What `Tstatfs` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStat {
    pub kind: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u32,
}

/// One entry of an `Rreaddir`'s data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEnt<'a> {
    pub qid: Qid,
    /// Where the next `Treaddir` continues after this entry.
    pub offset: u64,
    /// The `DT_*` type.
    pub kind: u8,
    pub name: &'a [u8],
}

/// A request, borrowing its names and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Version {
        msize: u32,
    },
    Attach {
        fid: u32,
        uname: &'a [u8],
        aname: &'a [u8],
        uid: u32,
    },
    Walk {
        fid: u32,
        newfid: u32,
        names: &'a [&'a [u8]],
    },
    Lopen {
        fid: u32,
        flags: u32,
    },
    Symlink {
        dfid: u32,
        name: &'a [u8],
        target: &'a [u8],
        gid: u32,
    },
    Mknod {
        dfid: u32,
        name: &'a [u8],
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    },
    Readlink {
        fid: u32,
    },
    Getattr {
        fid: u32,
    },
    Setattr {
        fid: u32,
        attr: SetAttr,
    },
    Statfs {
        fid: u32,
    },
    Readdir {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Fsync {
        fid: u32,
        data_only: bool,
    },
    Link {
        dfid: u32,
        fid: u32,
        name: &'a [u8],
    },
    Mkdir {
        dfid: u32,
        name: &'a [u8],
        mode: u32,
        gid: u32,
    },
    Renameat {
        olddir: u32,
        oldname: &'a [u8],
        newdir: u32,
        newname: &'a [u8],
    },
    Unlinkat {
        dfid: u32,
        name: &'a [u8],
        flags: u32,
    },
    Read {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Write {
        fid: u32,
        offset: u64,
        data: &'a [u8],
    },
    Clunk {
        fid: u32,
    },
}

/// The version string of the protocol Coracle speaks.
pub const VERSION: &[u8] = b"9P2000.L";
/// Every `Tgetattr` field (P9_GETATTR_BASIC: mode to blocks, the three times).
const GETATTR_BASIC: u64 = 0x7ff;

impl Request<'_> {
    /// The message type number.
    pub fn kind(&self) -> u8 {
        match self {
            Request::Version { .. } => 100,
            Request::Attach { .. } => 104,
            Request::Walk { .. } => 110,
            Request::Lopen { .. } => 12,
            Request::Symlink { .. } => 16,
            Request::Mknod { .. } => 18,
            Request::Readlink { .. } => 22,
            Request::Getattr { .. } => 24,
            Request::Setattr { .. } => 26,
            Request::Statfs { .. } => 8,
            Request::Readdir { .. } => 40,
            Request::Fsync { .. } => 50,
            Request::Link { .. } => 70,
            Request::Mkdir { .. } => 72,
            Request::Renameat { .. } => 74,
            Request::Unlinkat { .. } => 76,
            Request::Read { .. } => 116,
            Request::Write { .. } => 118,
            Request::Clunk { .. } => 120,
        }
    }

    /// Encodes the request with `tag` into `out` (cleared first). `ENAMETOOLONG` for a string
    /// over 65535 bytes, `E2BIG` for a message over `u32` or with too many walk names.
    pub fn encode(&self, tag: u16, out: &mut Vec<u8>) -> Result<(), Errno> {
        out.clear();
        let mut w = Writer(out);
        w.u32(0);
        w.u8(self.kind());
        w.u16(tag);
        match *self {
            Request::Version { msize } => {
                w.u32(msize);
                w.str(VERSION)?;
            }
            Request::Attach {
                fid,
                uname,
                aname,
                uid,
            } => {
                w.u32(fid);
                w.u32(u32::MAX); // no authentication fid
                w.str(uname)?;
                w.str(aname)?;
                w.u32(uid);
            }
            Request::Walk { fid, newfid, names } => {
                w.u32(fid);
                w.u32(newfid);
                // The protocol's MAXWELEM.
                if names.len() > 16 {
                    return Err(Errno::E2BIG);
                }
                w.u16(names.len() as u16);
                for n in names {
                    w.str(n)?;
                }
            }
            Request::Lopen { fid, flags } => {
                w.u32(fid);
                w.u32(flags);
            }
            Request::Symlink {
                dfid,
                name,
                target,
                gid,
            } => {
                w.u32(dfid);
                w.str(name)?;
                w.str(target)?;
                w.u32(gid);
            }
            Request::Mknod {
                dfid,
                name,
                mode,
                major,
                minor,
                gid,
            } => {
                w.u32(dfid);
                w.str(name)?;
                w.u32(mode);
                w.u32(major);
                w.u32(minor);
                w.u32(gid);
            }
            Request::Readlink { fid } | Request::Statfs { fid } | Request::Clunk { fid } => {
                w.u32(fid)
            }
            Request::Getattr { fid } => {
                w.u32(fid);
                w.u64(GETATTR_BASIC);
            }
            Request::Setattr { fid, attr } => {
                w.u32(fid);
                w.u32(attr.valid);
                w.u32(attr.mode);
                w.u32(attr.uid);
                w.u32(attr.gid);
                w.u64(attr.size);
                w.u64(attr.atime.0);
                w.u64(attr.atime.1);
                w.u64(attr.mtime.0);
                w.u64(attr.mtime.1);
            }
            Request::Readdir { fid, offset, count } | Request::Read { fid, offset, count } => {
                w.u32(fid);
                w.u64(offset);
                w.u32(count);
            }
            Request::Fsync { fid, data_only } => {
                w.u32(fid);
                w.u32(u32::from(data_only));
            }
            Request::Link { dfid, fid, name } => {
                w.u32(dfid);
                w.u32(fid);
                w.str(name)?;
            }
            Request::Mkdir {
                dfid,
                name,
                mode,
                gid,
            } => {
                w.u32(dfid);
                w.str(name)?;
                w.u32(mode);
                w.u32(gid);
            }
            Request::Renameat {
                olddir,
                oldname,
                newdir,
                newname,
            } => {
                w.u32(olddir);
                w.str(oldname)?;
                w.u32(newdir);
                w.str(newname)?;
            }
            Request::Unlinkat { dfid, name, flags } => {
                w.u32(dfid);
                w.str(name)?;
                w.u32(flags);
            }
            Request::Write { fid, offset, data } => {
                w.u32(fid);
                w.u64(offset);
                w.u32(u32::try_from(data.len()).map_err(|_| Errno::E2BIG)?);
                w.0.extend_from_slice(data);
            }
        }
        let size = u32::try_from(out.len()).map_err(|_| Errno::E2BIG)?;
        out[..4].copy_from_slice(&size.to_le_bytes());
        Ok(())
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &[u8]) -> Result<(), Errno> {
        self.u16(u16::try_from(s.len()).map_err(|_| Errno::ENAMETOOLONG)?);
        self.0.extend_from_slice(s);
        Ok(())
    }
}

/// A bounds-checked reader over reply bytes: every read past the end is `EIO`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Errno> {
        if n > self.bytes.len() {
            return Err(Errno::EIO);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Errno> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, Errno> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Errno> {
        self.array().map(u16::from_le_bytes)
    }
    pub fn u32(&mut self) -> Result<u32, Errno> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, Errno> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn str(&mut self) -> Result<&'a [u8], Errno> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// `count[4]` then that many bytes.
    pub fn data(&mut self) -> Result<&'a [u8], Errno> {
        let n = self.u32()?;
        self.take(usize::try_from(n).map_err(|_| Errno::EIO)?)
    }
    pub fn qid(&mut self) -> Result<Qid, Errno> {
        Ok(Qid {
            kind: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
    fn time(&mut self) -> Result<(u64, u64), Errno> {
        Ok((self.u64()?, self.u64()?))
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Checks `reply` as the answer to a request of type `kind` with `tag` and returns a reader
/// over its fields. A well-formed `Rlerror` is its errno (`EIO` for one Linux has no name for
/// here); anything malformed is `EIO`.
pub fn reply(kind: u8, tag: u16, reply: &[u8]) -> Result<Reader<'_>, Errno> {
    let mut r = Reader::new(reply);
    let size = r.u32()?;
    if usize::try_from(size).ok() != Some(reply.len()) {
        return Err(Errno::EIO);
    }
    let got = r.u8()?;
    if r.u16()? != tag {
        return Err(Errno::EIO);
    }
    if got == RLERROR {
        return Err(errno(r.u32()?));
    }
    if got != kind.wrapping_add(1) {
        return Err(Errno::EIO);
    }
    Ok(r)
}

/// `Rgetattr`'s fields after the header.
pub fn attr(r: &mut Reader<'_>) -> Result<Attr, Errno> {
    let _valid = r.u64()?;
    let qid = r.qid()?;
    let mode = r.u32()?;
    let uid = r.u32()?;
    let gid = r.u32()?;
    let nlink = r.u64()?;
    let rdev = r.u64()?;
    let size = r.u64()?;
    let blksize = r.u64()?;
    let blocks = r.u64()?;
    Ok(Attr {
        qid,
        mode,
        uid,
        gid,
        nlink,
        rdev,
        size,
        blksize,
        blocks,
        atime: r.time()?,
        mtime: r.time()?,
        ctime: r.time()?,
    })
}

/// `Rstatfs`'s fields after the header.
pub fn fs_stat(r: &mut Reader<'_>) -> Result<FsStat, Errno> {
    Ok(FsStat {
        kind: r.u32()?,
        bsize: r.u32()?,
        blocks: r.u64()?,
        bfree: r.u64()?,
        bavail: r.u64()?,
        files: r.u64()?,
        ffree: r.u64()?,
        fsid: r.u64()?,
        namelen: r.u32()?,
    })
}

/// The entries of an `Rreaddir`'s data, each checked; an entry cut short is `EIO`.
pub fn dir_entries(data: &[u8]) -> impl Iterator<Item = Result<DirEnt<'_>, Errno>> {
    let mut r = Reader::new(data);
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || r.is_empty() {
            return None;
        }
        let entry = (|| {
            Ok(DirEnt {
                qid: r.qid()?,
                offset: r.u64()?,
                kind: r.u8()?,
                name: r.str()?,
            })
        })();
        failed = entry.is_err();
        Some(entry)
    })
}

/// The Linux errno an `Rlerror` carries. Numbers outside this list (which holds what a
/// filesystem call on the host can fail with) become `EIO`.
pub fn errno(code: u32) -> Errno {
    use Errno::*;
    const KNOWN: &[Errno] = &[
        EPERM,
        ENOENT,
        EIO,
        ENXIO,
        E2BIG,
        EBADF,
        EAGAIN,
        ENOMEM,
        EACCES,
        EFAULT,
        EBUSY,
        EEXIST,
        EXDEV,
        ENODEV,
        ENOTDIR,
        EISDIR,
        EINVAL,
        ENFILE,
        EMFILE,
        ETXTBSY,
        EFBIG,
        ENOSPC,
        ESPIPE,
        EROFS,
        EMLINK,
        ERANGE,
        ENAMETOOLONG,
        ENOSYS,
        ENOTEMPTY,
        ELOOP,
        ENODATA,
        EOVERFLOW,
        EOPNOTSUPP,
        EDQUOT,
        ESTALE,
        EINTR,
    ];
    KNOWN
        .iter()
        .copied()
        .find(|&e| e as i32 as u32 == code)
        .unwrap_or(EIO)
}
