//! The 9P2000.L client: one typed call per message over a [`Channel`] the kernel provides
//! (virtio-9p) or a test provides (an in-memory server), fid numbers handed out and reused.
//!
//! Calls are synchronous: the channel returns when the reply is there. Fids the filesystem
//! lets go of ([`Client::release`]) are clunked before the next call rather than where they
//! are dropped, so an inode's destructor never talks to the server.

use alloc::vec::Vec;

use spin::Mutex;

use super::wire::{self, Attr, FsStat, Qid, Reader, Request, SetAttr, IO_HEADER};
use crate::Errno;

/// A way to the server: sends one request and returns when its reply is in `reply`.
pub trait Channel: Send + Sync {
    /// Sends `request` (a whole message) and writes the reply into `reply`, returning its
    /// length. `EIO` when the transport fails.
    fn rpc(&self, request: &[u8], reply: &mut [u8]) -> Result<usize, Errno>;
}

/// The largest message Coracle asks for: 128 KiB of data per read or write plus a header.
pub const MSIZE: u32 = 128 * 1024 + IO_HEADER as u32;

/// A connected, attached 9P session.
pub struct Client {
    chan: alloc::sync::Arc<dyn Channel>,
    msize: u32,
    state: Mutex<State>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("msize", &self.msize)
            .finish_non_exhaustive()
    }
}

/// The session's buffers and fid bookkeeping, behind one lock: a call holds it for its whole
/// exchange, which keeps requests one at a time (the tag is constant).
struct State {
    next_fid: u32,
    free: Vec<u32>,
    to_clunk: Vec<u32>,
    request: Vec<u8>,
    reply: Vec<u8>,
}

/// What [`Client::readdir`] calls for each entry: name, qid, `DT_*` type, next offset.
pub type EntryVisitor<'a> = dyn FnMut(&[u8], Qid, u8, u64) + 'a;

/// The fid of the attached root.
pub const ROOT_FID: u32 = 0;
const TAG: u16 = 1;

impl Client {
    /// Negotiates the version and message size and attaches to the export's root as root.
    pub fn connect(chan: alloc::sync::Arc<dyn Channel>) -> Result<(Client, Qid), Errno> {
        let mut client = Client {
            chan,
            msize: MSIZE,
            state: Mutex::new(State {
                next_fid: ROOT_FID + 1,
                free: Vec::new(),
                to_clunk: Vec::new(),
                request: Vec::new(),
                reply: Vec::new(),
            }),
        };
        let msize = client.call(&Request::Version { msize: MSIZE }, |r| {
            let msize = r.u32()?;
            if r.str()? != wire::VERSION {
                return Err(Errno::EIO);
            }
            Ok(msize)
        })?;
        // A server may only lower the size; a tiny one could not carry a getattr.
        if !(4096..=MSIZE).contains(&msize) {
            return Err(Errno::EIO);
        }
        client.msize = msize;
        let attach = Request::Attach {
            fid: ROOT_FID,
            uname: b"root",
            aname: b"",
            uid: 0,
        };
        let qid = client.call(&attach, |r| r.qid())?;
        Ok((client, qid))
    }

    /// The most data one read or write moves.
    pub fn io_unit(&self) -> usize {
        self.msize as usize - IO_HEADER
    }

    /// Sends `req` and decodes its reply with `decode`.
    fn call<T>(
        &self,
        req: &Request<'_>,
        decode: impl FnOnce(&mut Reader<'_>) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.reply.resize(self.msize as usize, 0);
        for fid in core::mem::take(&mut st.to_clunk) {
            // A failed clunk still frees the fid on the server (9P: "even if it fails").
            if (Request::Clunk { fid })
                .encode(TAG, &mut st.request)
                .is_ok()
            {
                let _ = self.chan.rpc(&st.request, &mut st.reply);
            }
            st.free.push(fid);
        }
        req.encode(TAG, &mut st.request)?;
        if st.request.len() > self.msize as usize {
            return Err(Errno::E2BIG);
        }
        let n = self.chan.rpc(&st.request, &mut st.reply)?;
        let reply = st.reply.get(..n).ok_or(Errno::EIO)?;
        let mut r = wire::reply(req.kind(), TAG, reply)?;
        decode(&mut r)
    }

    /// A fid number not in use.
    fn new_fid(&self) -> Result<u32, Errno> {
        let mut st = self.state.lock();
        if let Some(fid) = st.free.pop() {
            return Ok(fid);
        }
        let fid = st.next_fid;
        st.next_fid = fid
            .checked_add(1)
            .filter(|&f| f != u32::MAX)
            .ok_or(Errno::ENFILE)?;
        Ok(fid)
    }

    /// Gives `fid` back: clunked before the next call.
    pub fn release(&self, fid: u32) {
        self.state.lock().to_clunk.push(fid);
    }

    /// A new fid for `name` in the directory `dir` (none: a clone of `dir`) and its qid.
    pub fn walk(&self, dir: u32, name: Option<&[u8]>) -> Result<(u32, Qid), Errno> {
        let newfid = self.new_fid()?;
        let one;
        let names: &[&[u8]] = match name {
            Some(n) => {
                one = [n];
                &one
            }
            None => &[],
        };
        let walked = self.call(
            &Request::Walk {
                fid: dir,
                newfid,
                names,
            },
            |r| {
                let n = r.u16()?;
                let mut last = None;
                for _ in 0..n {
                    last = Some(r.qid()?);
                }
                Ok((n, last))
            },
        );
        match walked {
            // A walk of one name that answers no qid did not reach it.
            Ok((1, Some(qid))) if name.is_some() => Ok((newfid, qid)),
            Ok((0, _)) if name.is_none() => Ok((newfid, Qid::default())),
            Ok(_) => {
                self.state.lock().free.push(newfid);
                Err(Errno::ENOENT)
            }
            Err(e) => {
                self.state.lock().free.push(newfid);
                Err(e)
            }
        }
    }

    pub fn getattr(&self, fid: u32) -> Result<Attr, Errno> {
        self.call(&Request::Getattr { fid }, wire::attr)
    }

    pub fn setattr(&self, fid: u32, attr: SetAttr) -> Result<(), Errno> {
        self.call(&Request::Setattr { fid, attr }, |_| Ok(()))
    }

    /// Opens `fid` (Linux open flags); returns the server's I/O unit (0: none given).
    pub fn lopen(&self, fid: u32, flags: u32) -> Result<u32, Errno> {
        self.call(&Request::Lopen { fid, flags }, |r| {
            r.qid()?;
            r.u32()
        })
    }

    pub fn mknod(
        &self,
        dfid: u32,
        name: &[u8],
        mode: u32,
        rdev: (u32, u32),
        gid: u32,
    ) -> Result<Qid, Errno> {
        let req = Request::Mknod {
            dfid,
            name,
            mode,
            major: rdev.0,
            minor: rdev.1,
            gid,
        };
        self.call(&req, |r| r.qid())
    }

    pub fn mkdir(&self, dfid: u32, name: &[u8], mode: u32, gid: u32) -> Result<Qid, Errno> {
        self.call(
            &Request::Mkdir {
                dfid,
                name,
                mode,
                gid,
            },
            |r| r.qid(),
        )
    }

    pub fn symlink(&self, dfid: u32, name: &[u8], target: &[u8], gid: u32) -> Result<Qid, Errno> {
        let req = Request::Symlink {
            dfid,
            name,
            target,
            gid,
        };
        self.call(&req, |r| r.qid())
    }

    pub fn readlink(&self, fid: u32) -> Result<Vec<u8>, Errno> {
        self.call(&Request::Readlink { fid }, |r| Ok(r.str()?.to_vec()))
    }

    pub fn link(&self, dfid: u32, fid: u32, name: &[u8]) -> Result<(), Errno> {
        self.call(&Request::Link { dfid, fid, name }, |_| Ok(()))
    }

    pub fn unlinkat(&self, dfid: u32, name: &[u8], flags: u32) -> Result<(), Errno> {
        self.call(&Request::Unlinkat { dfid, name, flags }, |_| Ok(()))
    }

    pub fn renameat(
        &self,
        olddir: u32,
        oldname: &[u8],
        newdir: u32,
        newname: &[u8],
    ) -> Result<(), Errno> {
        let req = Request::Renameat {
            olddir,
            oldname,
            newdir,
            newname,
        };
        self.call(&req, |_| Ok(()))
    }

    pub fn statfs(&self, fid: u32) -> Result<FsStat, Errno> {
        self.call(&Request::Statfs { fid }, wire::fs_stat)
    }

    pub fn fsync(&self, fid: u32, data_only: bool) -> Result<(), Errno> {
        self.call(&Request::Fsync { fid, data_only }, |_| Ok(()))
    }

    /// Reads up to `buf.len()` bytes (at most one I/O unit) at `offset`; returns how many.
    pub fn read(&self, fid: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let count = buf.len().min(self.io_unit());
        let req = Request::Read {
            fid,
            offset,
            count: count as u32,
        };
        self.call(&req, |r| {
            let data = r.data()?;
            // A server answering more than asked is broken.
            let dst = buf.get_mut(..data.len()).ok_or(Errno::EIO)?;
            dst.copy_from_slice(data);
            Ok(data.len())
        })
    }

    /// Writes at most one I/O unit of `data` at `offset`; returns how many bytes were taken.
    pub fn write(&self, fid: u32, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let data = &data[..data.len().min(self.io_unit())];
        self.call(&Request::Write { fid, offset, data }, |r| {
            let n = r.u32()? as usize;
            if n > data.len() {
                return Err(Errno::EIO);
            }
            Ok(n)
        })
    }

    /// The raw entries of an open directory from `offset`, passed to `each` (name, qid, DT
    /// type, next offset); returns whether any came (none: the end).
    pub fn readdir(
        &self,
        fid: u32,
        offset: u64,
        each: &mut EntryVisitor<'_>,
    ) -> Result<bool, Errno> {
        let count = self.io_unit() as u32;
        self.call(&Request::Readdir { fid, offset, count }, |r| {
            let mut any = false;
            for e in wire::dir_entries(r.data()?) {
                let e = e?;
                each(e.name, e.qid, e.kind, e.offset);
                any = true;
            }
            Ok(any)
        })
    }
}
