//! The inodes of /proc and /sys: directories listed from the tables and the system's state,
//! files served from a snapshot taken at open, symlinks and magic links.
//!
//! Inode numbers are stable: a fixed node's number is its depth-first index in its table; a
//! node under /proc/<pid> packs the pid (or tid), the table index or the fd (see
//! [`pid_base`]), so the same path always stats the same.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;

use coracle_vfs::types::{
    anon_dev, oflags::*, Caller, DirEntry, FileType, NewNode, Stat, StatFs, Timespec, S_IFDIR,
    S_IFLNK, S_IFREG,
};
use coracle_vfs::{Errno, FileOps, Inode, Result, Vfs};
use spin::Mutex;

use super::file::{OnWrite, Snapshot};
use super::pid::View;
use super::tables::{Ent, Extra, FileSpec, Magic, Show, Spec, Store, EMPTY_DIR, PID_DIR};
use crate::process::{Process, System};

/// Readdir positions from here on name dynamic entries by key (pid, fd, cpu): position =
/// `EXTRA_POS + key`, so a listing survives processes and fds coming and going.
const EXTRA_POS: u64 = 0x1000;
/// Inode numbers of /sys/devices/system/cpu/cpuN.
const CPU_INO: u64 = 0x1000_0000;
/// Bits of a per-process inode number: a task (not process) directory, an fd link, an fdinfo.
const TASK_BIT: u64 = 1 << 31;
const FD_LINK_BIT: u64 = 1 << 30;
const FD_INFO_BIT: u64 = 1 << 29;

/// Which tree a fixed node is in; it decides what opening a file for writing does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Area {
    /// /proc outside /proc/sys: files open for writing; writes fail with EIO (Linux's
    /// `proc_reg_write` without a `proc_write`).
    Proc,
    /// /proc/sys: read-only, as docker mounts it (EROFS).
    ProcSys,
    /// /sys: read-only, as docker mounts it (EROFS).
    Sys,
}

/// The process (and thread, under /proc/<pid>/task) a node describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Who {
    pub pid: u32,
    pub tid: Option<u32>,
}

impl Who {
    /// The thread the files speak of: the tid, or the process's main thread.
    pub fn tid(self) -> u32 {
        self.tid.unwrap_or(self.pid)
    }
}

/// What one /proc or /sys instance shares.
pub(super) struct Fs {
    dev: u64,
    magic: u64,
    /// statfs `f_flags`.
    flags: u64,
    pub sys: Weak<System>,
    /// The boot time on the realtime clock: every node's timestamp.
    boot: Mutex<Option<Timespec>>,
    /// /proc/sys/kernel/random/boot_id, made on first read.
    pub boot_id: Mutex<Option<[u8; 16]>>,
    /// oom_score_adj values written, by pid.
    pub oom_adj: Mutex<BTreeMap<u32, i32>>,
}

impl Fs {
    fn boot_time(&self) -> Timespec {
        let mut boot = self.boot.lock();
        if let Some(t) = *boot {
            return t;
        }
        let Some(sys) = self.sys.upgrade() else {
            return Timespec::ZERO;
        };
        let t = Timespec::from_ns(sys.info.boot_realtime_ns());
        *boot = Some(t);
        t
    }

    pub fn system(&self) -> Result<Arc<System>> {
        self.sys.upgrade().ok_or(Errno::ENOENT)
    }
}

/// What system-wide generators see.
pub(super) struct SysCtx<'a> {
    pub sys: &'a System,
    pub fs: &'a Fs,
}

#[derive(Clone, Copy)]
enum Kind {
    Spec(&'static Spec),
    FdLink(u32),
    FdInfo(u32),
}

impl Kind {
    fn file_type(self) -> FileType {
        match self {
            Kind::Spec(spec) => spec_type(spec),
            Kind::FdInfo(_) => FileType::Regular,
            Kind::FdLink(_) => FileType::Symlink,
        }
    }
}

/// One inode of /proc or /sys.
pub(super) struct Node {
    fs: Arc<Fs>,
    me: Weak<Node>,
    ino: u64,
    kind: Kind,
    area: Area,
    who: Option<Who>,
    /// The directory holding this node and its name there (`None` at the root).
    parent: Option<(Arc<dyn Inode>, Vec<u8>)>,
}

/// The root of a new instance whose tree is `spec`.
pub(super) fn new_root(
    sys: Weak<System>,
    magic: u64,
    flags: u64,
    spec: &'static Spec,
    area: Area,
) -> Arc<dyn Inode> {
    let fs = Arc::new(Fs {
        dev: anon_dev(),
        magic,
        flags,
        sys,
        boot: Mutex::new(None),
        boot_id: Mutex::new(None),
        oom_adj: Mutex::new(BTreeMap::new()),
    });
    Arc::new_cyclic(|me| Node {
        fs,
        me: me.clone(),
        ino: 1,
        kind: Kind::Spec(spec),
        area,
        who: None,
        parent: None,
    })
}

/// The first inode number of the nodes describing `who`.
fn pid_base(who: Who) -> u64 {
    let task = if who.tid.is_some() { TASK_BIT } else { 0 };
    ((u64::from(who.tid()) + 1) << 32) | task
}

/// The inode number of entry `i` of a table whose directory has number `dir`.
fn child_ino(dir: u64, ents: &[Ent], i: usize) -> u64 {
    dir + 1 + ents[..i].iter().map(|e| e.spec.size()).sum::<u64>()
}

fn spec_type(spec: &Spec) -> FileType {
    match spec {
        Spec::Dir(..) => FileType::Directory,
        Spec::File(_) => FileType::Regular,
        _ => FileType::Symlink,
    }
}

/// The path a link to `inode` reads as (d_path): a directory's current path; a file's path
/// as it was opened, with " (deleted)" once its last name is gone.
fn shown_path(vfs: &Vfs, cx: &Caller, inode: &Arc<dyn Inode>, opened: &[u8]) -> Vec<u8> {
    const DELETED: &[u8] = b" (deleted)";
    let st = inode.stat();
    let gone = if st.is_dir() {
        match vfs.path_of(cx, inode) {
            Ok(path) => return path,
            Err(_) => inode.is_removed(),
        }
    } else {
        // Pipes, sockets and anonymous files have no path to lose.
        st.nlink == 0 && opened.starts_with(b"/")
    };
    let mut path = opened.to_vec();
    if gone && !path.ends_with(DELETED) {
        path.extend_from_slice(DELETED);
    }
    path
}

/// A decimal name as Linux's `name_to_int` reads it: digits only, no leading zero.
fn parse_num(name: &[u8]) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name[0] == b'0') {
        return None;
    }
    if !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(name).ok()?.parse().ok()
}

/// The live threads of a process, ascending; the main thread stays listed after it exits (as
/// a zombie leader does on Linux).
fn tids(p: &Process, _cx: &Caller) -> Vec<u32> {
    let mut t = p.threads.lock().clone();
    if !t.contains(&p.pid) {
        t.push(p.pid);
    }
    t.sort_unstable();
    t
}

impl Node {
    fn spec_dir(&self) -> Option<(&'static [Ent], Extra)> {
        match self.kind {
            Kind::Spec(Spec::Dir(ents, extra)) => Some((ents, *extra)),
            _ => None,
        }
    }

    fn file_type(&self) -> FileType {
        self.kind.file_type()
    }

    /// The live process this node describes (`ENOENT` once it is gone, as Linux's
    /// revalidation makes stale /proc/<pid> paths).
    fn process(&self) -> Result<(Arc<System>, Arc<Process>)> {
        let who = self.who.ok_or(Errno::ENOENT)?;
        let sys = self.fs.system()?;
        let p = sys.process(who.pid).ok_or(Errno::ENOENT)?;
        Ok((sys, p))
    }

    fn make(
        &self,
        name: &[u8],
        ino: u64,
        kind: Kind,
        area: Area,
        who: Option<Who>,
    ) -> Arc<dyn Inode> {
        let parent = self
            .me
            .upgrade()
            .map(|p| (p as Arc<dyn Inode>, name.to_vec()));
        Arc::new_cyclic(|me| Node {
            fs: self.fs.clone(),
            me: me.clone(),
            ino,
            kind,
            area,
            who,
            parent,
        })
    }

    /// Whether table entry `e` shows here: a thread directory has no `task`.
    fn shows(&self, e: &Ent) -> bool {
        !(e.name == "task" && self.who.is_some_and(|w| w.tid.is_some()))
    }

    /// The child for table entry `i`.
    fn fixed_child(&self, ents: &'static [Ent], i: usize) -> Arc<dyn Inode> {
        let e = &ents[i];
        let area = if self.area == Area::Proc && self.who.is_none() && e.name == "sys" {
            Area::ProcSys
        } else {
            self.area
        };
        let ino = child_ino(self.ino, ents, i);
        self.make(e.name.as_bytes(), ino, Kind::Spec(&e.spec), area, self.who)
    }

    /// The first dynamic key at or after `from`, in directory listing order.
    fn next_key(&self, cx: &Caller, extra: Extra, from: u32) -> Result<Option<u32>> {
        Ok(match extra {
            Extra::None => None,
            Extra::Pids => self.fs.system()?.pids().into_iter().find(|&p| p >= from),
            Extra::Cpus => {
                let cpus = self.fs.system()?.cpus;
                Some(from).filter(|&c| c < cpus)
            }
            Extra::Fds | Extra::FdInfos => {
                let (_, p) = self.process()?;
                let files = p.files.lock();
                let next = files.iter().map(|(fd, _)| fd as u32).find(|&fd| fd >= from);
                next
            }
            Extra::Tasks => {
                let (_, p) = self.process()?;
                tids(&p, cx).into_iter().find(|&t| t >= from)
            }
        })
    }

    /// Dynamic entry `key`: its name, inode number, kind and process.
    fn extra_node(&self, extra: Extra, key: u32) -> (Vec<u8>, u64, Kind, Option<Who>) {
        let who = self.who.unwrap_or(Who { pid: 0, tid: None });
        let name = format!("{key}").into_bytes();
        let k = u64::from(key);
        match extra {
            Extra::Cpus => {
                let name = format!("cpu{key}").into_bytes();
                (name, CPU_INO + k, Kind::Spec(&EMPTY_DIR), None)
            }
            Extra::Fds => {
                let ino = pid_base(who) | FD_LINK_BIT | k;
                (name, ino, Kind::FdLink(key), Some(who))
            }
            Extra::FdInfos => {
                let ino = pid_base(who) | FD_INFO_BIT | k;
                (name, ino, Kind::FdInfo(key), Some(who))
            }
            Extra::Tasks => {
                let task = Who {
                    pid: who.pid,
                    tid: Some(key),
                };
                (name, pid_base(task), Kind::Spec(&PID_DIR), Some(task))
            }
            Extra::Pids | Extra::None => {
                let process = Who {
                    pid: key,
                    tid: None,
                };
                (name, pid_base(process), Kind::Spec(&PID_DIR), Some(process))
            }
        }
    }

    /// Looks `name` up among the dynamic entries.
    fn lookup_extra(&self, cx: &Caller, extra: Extra, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let key = match extra {
            Extra::Cpus => name.strip_prefix(b"cpu").and_then(parse_num),
            _ => parse_num(name),
        };
        let Some(key) =
            key.filter(|&k| matches!(self.next_key(cx, extra, k), Ok(Some(n)) if n == k))
        else {
            return Err(Errno::ENOENT);
        };
        let (name, ino, kind, who) = self.extra_node(extra, key);
        Ok(self.make(&name, ino, kind, self.area, who))
    }

    /// Subdirectories, for the link count.
    fn subdirs(&self) -> u64 {
        let Some((ents, extra)) = self.spec_dir() else {
            return 0;
        };
        let fixed = ents
            .iter()
            .filter(|e| matches!(e.spec, Spec::Dir(..)) && self.shows(e))
            .count() as u64;
        let dynamic = match (extra, self.fs.sys.upgrade()) {
            (Extra::Pids, Some(sys)) => sys.pids().len() as u64,
            (Extra::Cpus, Some(sys)) => u64::from(sys.cpus),
            (Extra::Tasks, Some(_)) => 1,
            _ => 0,
        };
        fixed + dynamic
    }

    /// The open file behind /proc/<pid>/fd/N.
    fn fd_file(&self, fd: u32) -> Result<Arc<coracle_vfs::OpenFile>> {
        let (_, p) = self.process()?;
        let files = p.files.lock();
        files.file(fd as i32).map_err(|_| Errno::ENOENT)
    }

    fn open_file(&self, cx: &Caller, flags: u32, f: &FileSpec) -> Result<Box<dyn FileOps>> {
        if f.store == Store::Mem {
            let (_, p) = self.process()?;
            return Ok(Box::new(super::mem::MemFile::new(&p)));
        }
        let writing = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR);
        let on_write = match (self.who, f.store) {
            (Some(who), Store::Comm) => OnWrite::Comm {
                who,
                writer: cx.pid,
            },
            (Some(who), Store::OomScoreAdj) => OnWrite::OomScoreAdj { who },
            // No write method in a /proc/<pid> file: FMODE_CAN_WRITE is clear.
            (Some(_), Store::None | Store::Mem) => OnWrite::Fail(Errno::EINVAL),
            (None, _) => match self.area {
                Area::Proc => OnWrite::Fail(Errno::EIO),
                Area::ProcSys | Area::Sys if writing => return Err(Errno::EROFS),
                Area::ProcSys | Area::Sys => OnWrite::Fail(Errno::EBADF),
            },
        };
        let data = if flags & O_ACCMODE == O_WRONLY {
            Vec::new()
        } else {
            match f.show {
                Show::Text(t) => t.as_bytes().to_vec(),
                Show::Sys(g) => {
                    let sys = self.fs.system()?;
                    g(&SysCtx {
                        sys: &sys,
                        fs: &self.fs,
                    })
                }
                Show::Proc(g) => {
                    let (sys, p) = self.process()?;
                    let who = self.who.ok_or(Errno::ENOENT)?;
                    g(&View {
                        sys: &sys,
                        cx,
                        proc: &p,
                        who,
                        fs: &self.fs,
                    })?
                }
            }
        };
        Ok(Box::new(Snapshot {
            data,
            on_write,
            fs: self.fs.clone(),
        }))
    }

    fn open_fdinfo(&self, cx: &Caller, fd: u32) -> Result<Box<dyn FileOps>> {
        let (sys, p) = self.process()?;
        let who = self.who.ok_or(Errno::ENOENT)?;
        let view = View {
            sys: &sys,
            cx,
            proc: &p,
            who,
            fs: &self.fs,
        };
        Ok(Box::new(Snapshot {
            data: super::mounts::fdinfo(&view, fd)?,
            // No write method in a /proc/<pid> file: FMODE_CAN_WRITE is clear.
            on_write: OnWrite::Fail(Errno::EINVAL),
            fs: self.fs.clone(),
        }))
    }

    fn readlink_magic(&self, cx: &Caller, m: Magic) -> Result<Vec<u8>> {
        let (sys, p) = self.process()?;
        match m {
            Magic::Exe => {
                let exe = p.exe.lock().clone().ok_or(Errno::ENOENT)?;
                Ok(shown_path(&sys.vfs, cx, &exe.0, &exe.1))
            }
            Magic::Cwd | Magic::Root => {
                let dir = self.magic_target(m)?;
                sys.vfs.path_of(cx, &dir)
            }
        }
    }

    fn magic_target(&self, m: Magic) -> Result<Arc<dyn Inode>> {
        let (_, p) = self.process()?;
        match m {
            Magic::Exe => p
                .exe
                .lock()
                .as_ref()
                .map(|(inode, _)| inode.clone())
                .ok_or(Errno::ENOENT),
            Magic::Cwd => Ok(p.fs.lock().cwd.clone()),
            Magic::Root => Ok(p.fs.lock().root.clone()),
        }
    }
}

impl Inode for Node {
    fn stat(&self) -> Stat {
        let t = self.fs.boot_time();
        let (uid, gid) = match self.process() {
            Ok((_, p)) => {
                let c = p.creds.lock();
                (c.euid, c.egid)
            }
            Err(_) => (0, 0),
        };
        let (mode, nlink) = match self.kind {
            Kind::Spec(Spec::Dir(_, extra)) => {
                let perm = if matches!(extra, Extra::Fds | Extra::FdInfos) {
                    0o500
                } else {
                    0o555
                };
                (S_IFDIR | perm, 2 + self.subdirs())
            }
            Kind::Spec(Spec::File(f)) => (S_IFREG | f.mode, 1),
            Kind::FdInfo(_) => (S_IFREG | 0o444, 1),
            Kind::FdLink(fd) => {
                // Linux's tid_fd_update_inode: r-x for reading, -wx for writing.
                let mut perm = 0;
                if let Ok(f) = self.fd_file(fd) {
                    if f.readable() {
                        perm |= 0o500;
                    }
                    if f.writable() {
                        perm |= 0o300;
                    }
                }
                (S_IFLNK | perm, 1)
            }
            Kind::Spec(_) => (S_IFLNK | 0o777, 1),
        };
        // sysfs attributes claim a page; proc files are empty until read.
        let size = if self.area == Area::Sys && self.file_type() == FileType::Regular {
            4096
        } else {
            0
        };
        Stat {
            dev: self.fs.dev,
            ino: self.ino,
            mode,
            nlink,
            uid,
            gid,
            rdev: 0,
            size,
            blksize: if self.area == Area::Sys { 4096 } else { 1024 },
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
            btime: Timespec::ZERO,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: self.fs.magic,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            flags: self.fs.flags,
            ..StatFs::default()
        }
    }

    fn truncate(&self, _size: u64) -> Result<()> {
        // O_TRUNC on a proc or sysfs file is accepted and changes nothing (proc_setattr).
        match self.file_type() {
            FileType::Regular => Ok(()),
            _ => Err(self.wrong_kind_io()),
        }
    }

    fn lookup(&self, cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let (ents, extra) = self.spec_dir().ok_or(Errno::ENOTDIR)?;
        if self.who.is_some() {
            self.process()?;
        }
        if let Some(i) = ents
            .iter()
            .position(|e| e.name.as_bytes() == name && self.shows(e))
        {
            return Ok(self.fixed_child(ents, i));
        }
        self.lookup_extra(cx, extra, name)
    }

    fn create(
        &self,
        _name: &[u8],
        node: NewNode,
        _mode: u32,
        _uid: u32,
        _gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        self.spec_dir().ok_or(Errno::ENOTDIR)?;
        Err(match (self.area, node) {
            (Area::ProcSys | Area::Sys, _) => Errno::EROFS,
            // lookup_open: a directory without ->create gives EACCES; for mkdir, mknod and
            // symlink, proc's lookup of the new name already fails with ENOENT.
            (Area::Proc, NewNode::Regular) => Errno::EACCES,
            (Area::Proc, _) => Errno::ENOENT,
        })
    }

    fn readdir(&self, cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        let (ents, extra) = self.spec_dir().ok_or(Errno::ENOTDIR)?;
        if self.who.is_some() {
            self.process()?;
        }
        let dir_entry = |name: &[u8], ino| DirEntry {
            ino,
            kind: FileType::Directory,
            name: name.to_vec(),
        };
        match pos {
            0 => return Ok(Some((dir_entry(b".", self.ino), 1))),
            1 => {
                let up = self.parent.as_ref().map_or(self.ino, |(p, _)| p.stat().ino);
                return Ok(Some((dir_entry(b"..", up), 2)));
            }
            _ => {}
        }
        if pos < EXTRA_POS {
            let start = (pos - 2) as usize;
            for (i, e) in ents.iter().enumerate().skip(start) {
                if self.shows(e) {
                    let entry = DirEntry {
                        ino: child_ino(self.ino, ents, i),
                        kind: spec_type(&e.spec),
                        name: e.name.as_bytes().to_vec(),
                    };
                    return Ok(Some((entry, 2 + i as u64 + 1)));
                }
            }
        }
        let from = u32::try_from(pos.saturating_sub(EXTRA_POS)).unwrap_or(u32::MAX);
        let Some(key) = self.next_key(cx, extra, from)? else {
            return Ok(None);
        };
        let (name, ino, kind, _) = self.extra_node(extra, key);
        let entry = DirEntry {
            ino,
            kind: kind.file_type(),
            name,
        };
        Ok(Some((entry, EXTRA_POS + u64::from(key) + 1)))
    }

    fn parent(&self) -> Option<(Arc<dyn Inode>, Vec<u8>)> {
        self.spec_dir()?;
        self.parent.clone()
    }

    fn is_removed(&self) -> bool {
        self.who.is_some() && self.spec_dir().is_some() && self.process().is_err()
    }

    fn readlink(&self, cx: &Caller) -> Result<Vec<u8>> {
        match self.kind {
            Kind::Spec(Spec::Link(text)) => Ok(text.as_bytes().to_vec()),
            Kind::Spec(Spec::SelfLink) if cx.pid != 0 => Ok(format!("{}", cx.pid).into_bytes()),
            Kind::Spec(Spec::ThreadSelfLink) if cx.pid != 0 => {
                Ok(format!("{}/task/{}", cx.pid, cx.tid).into_bytes())
            }
            Kind::Spec(Spec::SelfLink | Spec::ThreadSelfLink) => Err(Errno::ENOENT),
            Kind::Spec(Spec::Magic(m)) => self.readlink_magic(cx, *m),
            Kind::FdLink(fd) => {
                let file = self.fd_file(fd)?;
                let vfs = self.fs.system()?.vfs.clone();
                Ok(shown_path(&vfs, cx, file.inode(), file.path()))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn follow_magic(&self, _cx: &Caller) -> Option<Result<Arc<dyn Inode>>> {
        match self.kind {
            Kind::Spec(Spec::Magic(m)) => Some(self.magic_target(*m)),
            Kind::FdLink(fd) => Some(self.fd_file(fd).map(|f| f.inode().clone())),
            _ => None,
        }
    }

    fn open(&self, cx: &Caller, flags: u32) -> Option<Result<Box<dyn FileOps>>> {
        match self.kind {
            Kind::Spec(Spec::File(f)) => Some(self.open_file(cx, flags, f)),
            Kind::FdInfo(fd) => Some(self.open_fdinfo(cx, fd)),
            _ => None,
        }
    }
}
