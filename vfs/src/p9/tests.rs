//! Host tests of the 9P client: the wire format against hand-made bytes, malformed replies,
//! and the filesystem over an in-memory 9P2000.L server (`Fake`).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use spin::Mutex;

use super::wire::{self, Reader, Request};
use super::{Channel, P9Fs};
use crate::cache::{get_page, Got};
use crate::types::{Caller, NewNode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::{Errno, Inode};

#[test]
fn requests_encode_as_the_protocol_lays_them_out() {
    let mut out = Vec::new();
    let names: [&[u8]; 1] = [b"ab"];
    Request::Walk {
        fid: 1,
        newfid: 2,
        names: &names,
    }
    .encode(7, &mut out)
    .unwrap();
    assert_eq!(
        out,
        [21, 0, 0, 0, 110, 7, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0, b'a', b'b']
    );
    Request::Write {
        fid: 3,
        offset: 0x10,
        data: b"xyz",
    }
    .encode(1, &mut out)
    .unwrap();
    // 23 bytes before the data; IO_HEADER (Linux's P9_IOHDRSZ) is the round bound of it.
    assert_eq!(out.len(), 23 + 3);
    assert!(out.len() <= wire::IO_HEADER + 3);
    assert_eq!(&out[..5], [26, 0, 0, 0, 118]);
    let long = vec![b'a'; 70_000];
    let e = Request::Mkdir {
        dfid: 0,
        name: &long,
        mode: 0,
        gid: 0,
    }
    .encode(1, &mut out);
    assert_eq!(e, Err(Errno::ENAMETOOLONG));
}

fn message(kind: u8, tag: u16, body: &[u8]) -> Vec<u8> {
    let mut m = ((body.len() + 7) as u32).to_le_bytes().to_vec();
    m.push(kind);
    m.extend_from_slice(&tag.to_le_bytes());
    m.extend_from_slice(body);
    m
}

#[test]
fn malformed_replies_are_eio_and_lerror_is_its_errno() {
    // Rlerror ENOENT, then an errno this client has no name for.
    assert_eq!(
        wire::reply(110, 1, &message(7, 1, &2u32.to_le_bytes())).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(
        wire::reply(110, 1, &message(7, 1, &999u32.to_le_bytes())).err(),
        Some(Errno::EIO)
    );
    let ok = message(121, 1, &[]);
    assert!(wire::reply(120, 1, &ok).is_ok());
    // Wrong tag, wrong type, size field not the length, too short to hold a header.
    assert_eq!(wire::reply(120, 2, &ok).err(), Some(Errno::EIO));
    assert_eq!(wire::reply(110, 1, &ok).err(), Some(Errno::EIO));
    let mut long = ok.clone();
    long.push(0);
    assert_eq!(wire::reply(120, 1, &long).err(), Some(Errno::EIO));
    assert_eq!(wire::reply(120, 1, &ok[..5]).err(), Some(Errno::EIO));
    // An Rgetattr cut short, a read count past the message, a directory entry cut short.
    let short = message(25, 1, &[0; 40]);
    let mut r = wire::reply(24, 1, &short).unwrap();
    assert_eq!(wire::attr(&mut r), Err(Errno::EIO));
    let mut r = Reader::new(&[5, 0, 0, 0, 1, 2]);
    assert_eq!(r.data(), Err(Errno::EIO));
    let entries: Vec<_> = wire::dir_entries(&[0x80, 0, 0, 0, 0, 0, 0, 0]).collect();
    assert_eq!(entries, [Err(Errno::EIO)]);
}

/// One file of the fake server.
#[derive(Debug, Clone, Default)]
struct Node {
    mode: u32,
    uid: u32,
    gid: u32,
    data: Vec<u8>,
    children: BTreeMap<Vec<u8>, u64>,
    nlink: u64,
}

/// An in-memory 9P2000.L server, as much of one as the client uses.
#[derive(Default)]
struct Server {
    nodes: BTreeMap<u64, Node>,
    fids: BTreeMap<u32, u64>,
    next: u64,
    fsyncs: u32,
    writes: u32,
    /// Replies to garble from now on (answer with these bytes instead).
    garble: Option<Vec<u8>>,
}

struct Fake(Mutex<Server>);

impl Fake {
    fn new() -> Arc<Fake> {
        let mut s = Server {
            next: 2,
            ..Server::default()
        };
        s.nodes.insert(
            1,
            Node {
                mode: S_IFDIR | 0o755,
                nlink: 2,
                ..Node::default()
            },
        );
        Arc::new(Fake(Mutex::new(s)))
    }
}

fn qid(s: &Server, path: u64) -> Vec<u8> {
    let dir = s
        .nodes
        .get(&path)
        .is_some_and(|n| n.mode & S_IFMT == S_IFDIR);
    let mut q = vec![if dir { 0x80 } else { 0 }, 0, 0, 0, 0];
    q.extend_from_slice(&path.to_le_bytes());
    q
}

impl Server {
    fn node(&mut self, fid: u32) -> Result<(u64, &mut Node), u32> {
        let path = *self.fids.get(&fid).ok_or(9u32)?;
        Ok((path, self.nodes.get_mut(&path).ok_or(2u32)?))
    }

    fn make(&mut self, dfid: u32, name: &[u8], mode: u32, data: Vec<u8>) -> Result<Vec<u8>, u32> {
        let path = self.next;
        let (_, dir) = self.node(dfid)?;
        if dir.children.contains_key(name) {
            return Err(17);
        }
        dir.children.insert(name.to_vec(), path);
        self.next += 1;
        self.nodes.insert(
            path,
            Node {
                mode,
                data,
                nlink: 1,
                ..Node::default()
            },
        );
        Ok(qid(self, path))
    }

    /// Serves one request: the reply's type and body, or an errno for Rlerror.
    fn serve(&mut self, kind: u8, r: &mut Reader<'_>) -> Result<Vec<u8>, u32> {
        let e = |_| 5u32;
        let mut out = Vec::new();
        match kind {
            100 => {
                let msize = r.u32().map_err(e)?;
                out.extend_from_slice(&msize.min(64 * 1024).to_le_bytes());
                out.extend_from_slice(&8u16.to_le_bytes());
                out.extend_from_slice(wire::VERSION);
            }
            104 => {
                let fid = r.u32().map_err(e)?;
                self.fids.insert(fid, 1);
                out = qid(self, 1);
            }
            110 => {
                let (fid, newfid, n) = (
                    r.u32().map_err(e)?,
                    r.u32().map_err(e)?,
                    r.u16().map_err(e)?,
                );
                let (mut path, _) = self.node(fid)?;
                out.extend_from_slice(&n.to_le_bytes());
                for _ in 0..n {
                    let name = r.str().map_err(e)?;
                    path = *self.nodes[&path].children.get(name).ok_or(2u32)?;
                    out.extend_from_slice(&qid(self, path));
                }
                self.fids.insert(newfid, path);
            }
            24 => {
                let (path, n) = self.node(r.u32().map_err(e)?)?;
                let n = n.clone();
                out.extend_from_slice(&0x7ffu64.to_le_bytes());
                out.extend_from_slice(&qid(self, path));
                for v in [n.mode, n.uid, n.gid] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                for v in [
                    n.nlink,
                    0,
                    n.data.len() as u64,
                    4096,
                    0,
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    0,
                    0,
                    0,
                    0,
                ] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            26 => {
                let (_, n) = self.node(r.u32().map_err(e)?)?;
                let valid = r.u32().map_err(e)?;
                let (mode, uid, gid) = (
                    r.u32().map_err(e)?,
                    r.u32().map_err(e)?,
                    r.u32().map_err(e)?,
                );
                let size = r.u64().map_err(e)?;
                if valid & 1 != 0 {
                    n.mode = (n.mode & S_IFMT) | mode;
                }
                if valid & 2 != 0 {
                    n.uid = uid;
                }
                if valid & 4 != 0 {
                    n.gid = gid;
                }
                if valid & 8 != 0 {
                    n.data.resize(size as usize, 0);
                }
            }
            12 => {
                let (path, _) = self.node(r.u32().map_err(e)?)?;
                out = qid(self, path);
                out.extend_from_slice(&0u32.to_le_bytes());
            }
            18 | 72 | 16 => {
                let dfid = r.u32().map_err(e)?;
                let name = r.str().map_err(e)?.to_vec();
                let (mode, data) = match kind {
                    18 => (r.u32().map_err(e)?, Vec::new()),
                    72 => (S_IFDIR | r.u32().map_err(e)?, Vec::new()),
                    _ => (S_IFLNK | 0o777, r.str().map_err(e)?.to_vec()),
                };
                out = self.make(dfid, &name, mode, data)?;
            }
            22 => {
                let (_, n) = self.node(r.u32().map_err(e)?)?;
                let t = n.data.clone();
                out.extend_from_slice(&(t.len() as u16).to_le_bytes());
                out.extend_from_slice(&t);
            }
            116 => {
                let (_, n) = self.node(r.u32().map_err(e)?)?;
                let (off, count) = (r.u64().map_err(e)? as usize, r.u32().map_err(e)? as usize);
                let data = n
                    .data
                    .get(off.min(n.data.len())..(off + count).min(n.data.len()))
                    .unwrap_or(&[]);
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(data);
            }
            118 => {
                self.writes += 1;
                let (_, n) = self.node(r.u32().map_err(e)?)?;
                let off = r.u64().map_err(e)? as usize;
                let data = r.data().map_err(e)?;
                if n.data.len() < off + data.len() {
                    n.data.resize(off + data.len(), 0);
                }
                n.data[off..off + data.len()].copy_from_slice(data);
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            }
            40 => {
                let (_, n) = self.node(r.u32().map_err(e)?)?;
                let offset = r.u64().map_err(e)? as usize;
                let children: Vec<_> = n.children.clone().into_iter().collect();
                let mut data = Vec::new();
                for (i, (name, path)) in children.iter().enumerate().skip(offset) {
                    data.extend_from_slice(&qid(self, *path));
                    data.extend_from_slice(&(i as u64 + 1).to_le_bytes());
                    data.push(if self.nodes[path].mode & S_IFMT == S_IFDIR {
                        4
                    } else {
                        8
                    });
                    data.extend_from_slice(&(name.len() as u16).to_le_bytes());
                    data.extend_from_slice(name);
                }
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(&data);
            }
            76 => {
                let (_, dir) = self.node(r.u32().map_err(e)?)?;
                let name = r.str().map_err(e)?;
                dir.children.remove(name).ok_or(2u32)?;
            }
            74 => {
                let (_, from) = self.node(r.u32().map_err(e)?)?;
                let old = r.str().map_err(e)?;
                let path = from.children.remove(old).ok_or(2u32)?;
                let (_, to) = self.node(r.u32().map_err(e)?)?;
                to.children.insert(r.str().map_err(e)?.to_vec(), path);
            }
            70 => {
                let dfid = r.u32().map_err(e)?;
                let (path, n) = self.node(r.u32().map_err(e)?)?;
                n.nlink += 1;
                let (_, dir) = self.node(dfid)?;
                dir.children.insert(r.str().map_err(e)?.to_vec(), path);
            }
            50 => self.fsyncs += 1,
            8 => out = vec![0; 60],
            120 => {
                self.fids.remove(&r.u32().map_err(e)?).ok_or(9u32)?;
            }
            _ => return Err(95),
        }
        Ok(out)
    }
}

impl Channel for Fake {
    fn rpc(&self, request: &[u8], reply: &mut [u8]) -> Result<usize, Errno> {
        let mut s = self.0.lock();
        let mut r = Reader::new(request);
        let (_size, kind, tag) = (r.u32()?, r.u8()?, r.u16()?);
        let msg = match s.garble.clone() {
            Some(bytes) => bytes,
            None => match s.serve(kind, &mut r) {
                Ok(body) => message(kind + 1, tag, &body),
                Err(errno) => message(7, tag, &errno.to_le_bytes()),
            },
        };
        let n = msg.len().min(reply.len());
        reply[..n].copy_from_slice(&msg[..n]);
        Ok(n)
    }
}

fn caller(root: &Arc<dyn Inode>) -> Caller {
    Caller {
        pid: 1,
        tid: 1,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        caps: crate::cap::ALL,
        umask: 0o22,
        root: root.clone(),
    }
}

fn mounted() -> (Arc<Fake>, Arc<dyn Inode>, Caller) {
    let fake = Fake::new();
    let root = P9Fs::mount(fake.clone()).unwrap();
    let cx = caller(&root);
    (fake, root, cx)
}

#[test]
fn files_are_made_written_read_and_listed_on_the_server() {
    let (fake, root, cx) = mounted();
    let f = root.create(b"f", NewNode::Regular, 0o640, 0, 0).unwrap();
    assert_eq!(f.write_at(0, b"hello").unwrap(), 5);
    // Bigger than one message: the client splits it.
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    f.write_at(5, &big).unwrap();
    assert_eq!(f.stat().size, 200_005);
    assert_eq!(f.stat().mode, S_IFREG | 0o640);
    let mut back = vec![0; 200_010];
    assert_eq!(f.read_at(0, &mut back).unwrap(), 200_005);
    assert_eq!(&back[..5], b"hello");
    assert_eq!(&back[5..200_005], &big[..]);
    // A second lookup finds the same object (one page cache per file).
    let again = root.lookup(&cx, b"f").unwrap();
    assert!(Arc::ptr_eq(&f, &again));
    root.create(b"d", NewNode::Directory, 0o755, 0, 0).unwrap();
    root.create(b"l", NewNode::Symlink(b"f".to_vec()), 0o777, 0, 0)
        .unwrap();
    let l = root.lookup(&cx, b"l").unwrap();
    assert_eq!(l.readlink(&cx).unwrap(), b"f");
    let mut names = Vec::new();
    let mut pos = 0;
    while let Some((e, next)) = root.readdir(&cx, pos).unwrap() {
        names.push(e.name);
        pos = next;
    }
    assert_eq!(names, [&b"."[..], b"..", b"d", b"f", b"l"]);
    let d = root.lookup(&cx, b"d").unwrap();
    root.rename(b"f", &d, b"g", 0).unwrap();
    assert_eq!(root.lookup(&cx, b"f").err(), Some(Errno::ENOENT));
    let g = d.lookup(&cx, b"g").unwrap();
    assert!(Arc::ptr_eq(&f, &g));
    root.create(b"x", NewNode::Regular, 0o600, 0, 0).unwrap();
    assert_eq!(
        root.rename(b"x", &d, b"g", crate::types::RENAME_NOREPLACE),
        Err(Errno::EEXIST)
    );
    d.unlink(b"g").unwrap();
    assert_eq!(d.lookup(&cx, b"g").err(), Some(Errno::ENOENT));
    assert_eq!(
        root.create(b"d", NewNode::Directory, 0o755, 0, 0).err(),
        Some(Errno::EEXIST)
    );
    // Every fid let go of is clunked by the next call.
    drop((f, again, g, l, d));
    root.stat();
    let _ = root.lookup(&cx, b"x");
    let fids = fake.0.lock().fids.len();
    assert!(fids <= 3, "{fids} fids still open");
}

#[test]
fn owners_modes_and_sizes_change_on_the_server() {
    let (fake, root, _cx) = mounted();
    let f = root
        .create(b"f", NewNode::Regular, 0o600, 1000, 100)
        .unwrap();
    // Made as root by the server, then given to the caller.
    assert_eq!((f.stat().uid, f.stat().gid), (1000, 100));
    f.set_mode(0o4755).unwrap();
    assert_eq!(f.stat().mode, S_IFREG | 0o4755);
    f.write_at(0, b"0123456789").unwrap();
    f.truncate(4).unwrap();
    assert_eq!(f.stat().size, 4);
    let path = fake.0.lock().fids.values().copied().max().unwrap();
    assert_eq!(fake.0.lock().nodes[&path].data, b"0123");
}

#[test]
fn mapped_pages_stay_coherent_and_are_written_back_by_fsync_and_drop() {
    let (fake, root, cx) = mounted();
    let f = root.create(b"m", NewNode::Regular, 0o644, 0, 0).unwrap();
    f.write_at(0, &[b'a'; 8192]).unwrap();
    let c = f.cached().unwrap();
    let Ok(Got::Ready(page)) = get_page(c, 1) else {
        panic!("page 1 not read")
    };
    // A store through a mapping; read() sees it before any write-back.
    page.write(10, b"MAPPED");
    page.set_dirty();
    let mut buf = [0; 6];
    f.read_at(4096 + 10, &mut buf).unwrap();
    assert_eq!(&buf, b"MAPPED");
    // write() updates the cached page too.
    f.write_at(4096 + 100, b"written").unwrap();
    let mut seen = [0; 7];
    page.read(100, &mut seen);
    assert_eq!(&seen, b"written");
    let before = fake.0.lock().fsyncs;
    f.sync(false).unwrap();
    assert_eq!(fake.0.lock().fsyncs, before + 1);
    let node = |fake: &Fake| {
        let s = fake.0.lock();
        let path = s.nodes[&1].children[&b"m"[..]];
        s.nodes[&path].data.clone()
    };
    assert_eq!(&node(&fake)[4096 + 10..4096 + 16], b"MAPPED");
    // A store left dirty goes back when the file's last user lets go.
    page.write(20, b"LAST");
    page.set_dirty();
    drop(page);
    drop(f);
    let _ = root.lookup(&cx, b"m");
    assert_eq!(&node(&fake)[4096 + 20..4096 + 24], b"LAST");
}

#[test]
fn a_garbling_server_gives_errors_not_panics() {
    let fake = Fake::new();
    fake.0.lock().garble = Some(vec![1, 2, 3]);
    assert_eq!(P9Fs::mount(fake.clone()).err(), Some(Errno::EIO));
    let (fake, root, cx) = mounted();
    let f = root.create(b"f", NewNode::Regular, 0o644, 0, 0).unwrap();
    for bytes in [
        Vec::new(),
        message(117, 1, &[0xff, 0xff, 0xff, 0x7f]),
        message(7, 1, &[1]),
        message(25, 1, &[0; 12]),
        message(41, 1, &[200, 0, 0, 0, 0]),
    ] {
        fake.0.lock().garble = Some(bytes);
        let mut buf = [0; 16];
        assert!(f.read_at(0, &mut buf).is_err());
        assert!(root.lookup(&cx, b"f").is_err());
        assert!(root.readdir(&cx, 2).is_err());
        assert!(f.write_at(0, b"x").is_err());
    }
}
