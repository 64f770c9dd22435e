//! The machine at boot: the root filesystem unpacked from the initrd, the mounts a Docker
//! container has (/dev, /dev/shm, /dev/mqueue, /proc, /sys), the working directory, the executable.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::dev::populate_dev;
use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::unpack::{unpack_releasing, Unpacked};
use coracle_vfs::{Caller, Clock, Errno, FileType, Inode, NewNode, Vfs};

use crate::process::{System, SystemInfo};
use crate::rootfs::{root_over, RootKind, TmpfsMount};
use crate::sched::{CpuControl, Scheduler};

/// A `-v` volume: a filesystem the kernel connected (9P), mounted at `path`.
#[derive(Clone)]
pub struct VolumeMount {
    /// Absolute path in the container.
    pub path: Vec<u8>,
    /// The root directory of the volume's filesystem.
    pub root: Arc<dyn Inode>,
    /// What /proc/mounts shows as its source (the 9P mount tag).
    pub source: Vec<u8>,
    /// `:ro`: changes fail with `EROFS`.
    pub read_only: bool,
}

impl core::fmt::Debug for VolumeMount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VolumeMount")
            .field("path", &String::from_utf8_lossy(&self.path))
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// What boot set up.
pub struct Booted {
    pub system: Arc<System>,
    /// The initial working directory.
    pub cwd: Arc<dyn Inode>,
    pub unpacked: Unpacked,
}

impl core::fmt::Debug for Booted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Booted")
            .field("unpacked", &self.unpacked)
            .finish_non_exhaustive()
    }
}

/// The options of the machine being booted.
#[derive(Clone)]
pub struct BootOptions {
    /// fds 0-2 are a terminal (/dev/tty opens).
    pub tty: bool,
    pub hostname: Vec<u8>,
    pub cpus: u32,
    /// The initial working directory (absolute); created if missing, like Docker's WORKDIR.
    pub cwd: Vec<u8>,
    /// Files put in /etc over the image's (Docker bind-mounts its network files there:
    /// `hosts`, `hostname`, `resolv.conf`): (name in /etc, contents).
    pub etc_files: Vec<(Vec<u8>, Vec<u8>)>,
    /// Whether the image is the root itself or the lower layer of an overlay.
    pub root: RootKind,
    /// `--read-only`: the root filesystem is mounted read-only (EROFS), as Docker's.
    pub read_only: bool,
    /// `--tmpfs` mounts, in order.
    pub tmpfs: Vec<TmpfsMount>,
    /// `-v` volumes, in order, after the tmpfs mounts.
    pub volumes: Vec<VolumeMount>,
    /// An image of its own (an EROFS image on a block device): then the initrd holds only
    /// the launch records, and nothing is unpacked.
    pub disk: Option<Arc<dyn Inode>>,
}

impl core::fmt::Debug for BootOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BootOptions")
            .field("tty", &self.tty)
            .field("cpus", &self.cpus)
            .field("cwd", &self.cwd)
            .field("root", &self.root)
            .field("read_only", &self.read_only)
            .field("disk", &self.disk.as_ref().map(|r| r.stat().ino))
            .finish_non_exhaustive()
    }
}

/// A root caller for setting up.
fn root_caller(root: &Arc<dyn Inode>) -> Caller {
    Caller {
        pid: 0,
        tid: 0,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        // The kernel itself: every capability.
        caps: coracle_vfs::cap::ALL,
        umask: 0o022,
        root: root.clone(),
    }
}

/// The directory `name` in `dir`, made with `mode` if missing.
fn ensure_dir(
    cx: &Caller,
    dir: &Arc<dyn Inode>,
    name: &[u8],
    mode: u32,
) -> Result<Arc<dyn Inode>, Errno> {
    match dir.lookup(cx, name) {
        Ok(d) if d.stat().is_dir() => Ok(d),
        Ok(_) => Err(Errno::ENOTDIR),
        Err(Errno::ENOENT) => dir.create(name, NewNode::Directory, mode, 0, 0),
        Err(e) => Err(e),
    }
}

/// Makes `dir/name` a regular file holding `data`. An existing regular file with one name is
/// rewritten in place, leaving the directory untouched as Docker's bind mounts do; anything
/// else there is replaced by a new file (mode 0644, root's). Returns the file.
fn replace_file(
    cx: &Caller,
    dir: &Arc<dyn Inode>,
    name: &[u8],
    data: &[u8],
) -> Result<Arc<dyn Inode>, Errno> {
    let file = match dir.lookup(cx, name) {
        Ok(old) if old.stat().is_dir() => return Err(Errno::EISDIR),
        Ok(old) if old.stat().file_type() == FileType::Regular && old.stat().nlink == 1 => {
            old.truncate(0)?;
            old
        }
        Ok(_) => {
            dir.unlink(name)?;
            dir.create(name, NewNode::Regular, 0o644, 0, 0)?
        }
        Err(Errno::ENOENT) => dir.create(name, NewNode::Regular, 0o644, 0, 0)?,
        Err(e) => return Err(e),
    };
    let mut done = 0;
    while done < data.len() {
        done += file.write_at(done as u64, &data[done..])?;
    }
    Ok(file)
}

/// Unpacks `initrd` into a fresh tmpfs root and mounts the container filesystems.
/// `release` hears how many leading bytes of `initrd` are no longer needed, as unpacking goes
/// (see [`coracle_vfs::unpack::unpack_releasing`]).
pub fn boot(
    initrd: &[u8],
    release: &mut dyn FnMut(usize),
    clock: Arc<dyn Clock>,
    info: Arc<dyn SystemInfo>,
    cpu: Arc<dyn CpuControl>,
    opts: &BootOptions,
) -> Result<Booted, String> {
    // The image: the drive's EROFS when there is one (nothing to unpack), else the initrd
    // unpacked into a tmpfs, which takes only memory (all of it, the initrd's too, which is
    // given back once unpacked); so does the overlay's upper layer when there is one.
    let mem = info.mem_total().saturating_add(initrd.len() as u64);
    let (image, unpacked) = match &opts.disk {
        Some(disk) => (disk.clone(), Unpacked::default()),
        None => {
            let image = new_tmpfs(
                clock.clone(),
                TmpfsOptions {
                    max_bytes: mem,
                    root_mode: 0o755,
                    ..TmpfsOptions::default()
                },
            );
            let wanted = |name: &[u8]| !name.starts_with(b".coracle/");
            let unpacked = unpack_releasing(&image, &root_caller(&image), initrd, wanted, release)
                .map_err(|e| format!("cannot unpack the root filesystem: {e}"))?;
            (image, unpacked)
        }
    };
    let root = root_over(opts.root, image, clock.clone(), mem)
        .map_err(|e| format!("cannot make the overlay root: {}", e.name()))?;
    let cx = root_caller(&root);
    // The drive without an overlay is read-only by nature.
    let read_only = opts.disk.is_some() && opts.root == RootKind::Tmpfs;
    let (fstype, source): (&[u8], &[u8]) = match opts.root {
        RootKind::Overlay => (b"overlay", b"overlay"),
        RootKind::Tmpfs if read_only => (b"erofs", b"/dev/vda"),
        RootKind::Tmpfs => (b"tmpfs", b"rootfs"),
    };
    let shown: &[u8] = if opts.read_only || read_only {
        b"ro,relatime"
    } else {
        b"rw,relatime"
    };
    let vfs = Arc::new(Vfs::new(root.clone(), fstype, source, shown));
    let fail = |what: &str, e: Errno| format!("cannot set up {what}: {}", e.name());

    let dev = ensure_dir(&cx, &root, b"dev", 0o755).map_err(|e| fail("/dev", e))?;
    let devfs = new_tmpfs(
        clock.clone(),
        TmpfsOptions {
            max_bytes: 64 << 20,
            root_mode: 0o755,
            ..TmpfsOptions::default()
        },
    );
    vfs.mount(
        &dev,
        devfs.clone(),
        b"tmpfs",
        b"tmpfs",
        b"rw,nosuid,size=65536k,mode=755",
    )
    .map_err(|e| fail("/dev", e))?;
    populate_dev(&vfs, &devfs, opts.tty).map_err(|e| fail("/dev", e))?;
    let shm = devfs.lookup(&cx, b"shm").map_err(|e| fail("/dev/shm", e))?;
    let shmfs = new_tmpfs(
        clock.clone(),
        TmpfsOptions {
            max_bytes: 64 << 20,
            root_mode: 0o1777,
            ..TmpfsOptions::default()
        },
    );
    vfs.mount(
        &shm,
        shmfs,
        b"tmpfs",
        b"shm",
        b"rw,nosuid,nodev,noexec,relatime,size=65536k",
    )
    .map_err(|e| fail("/dev/shm", e))?;

    let tmp = ensure_dir(&cx, &root, b"tmp", 0o1777).map_err(|e| fail("/tmp", e))?;
    if read_only {
        // Until the root has a writable overlay, a read-only root gets a tmpfs on /tmp, as
        // `docker run --read-only --tmpfs /tmp` gives, so programs keep a place to write.
        let tmpfs = new_tmpfs(
            clock.clone(),
            TmpfsOptions {
                max_bytes: info.mem_total() / 2,
                root_mode: 0o1777,
                ..TmpfsOptions::default()
            },
        );
        vfs.mount(&tmp, tmpfs, b"tmpfs", b"tmpfs", b"rw,nosuid,nodev")
            .map_err(|e| fail("/tmp", e))?;
    }
    let proc_dir = ensure_dir(&cx, &root, b"proc", 0o555).map_err(|e| fail("/proc", e))?;
    let sys_dir = ensure_dir(&cx, &root, b"sys", 0o555).map_err(|e| fail("/sys", e))?;

    let system = Arc::new(System::new(
        vfs.clone(),
        info,
        clock,
        opts.hostname.clone(),
        Scheduler::new(opts.cpus.max(1) as usize, cpu),
    ));
    crate::tty::pty::setup(&system, &devfs, opts.tty).map_err(|e| fail("/dev/pts", e))?;
    // Docker mounts the IPC namespace's mqueue filesystem on /dev/mqueue.
    system.ipc.mq.set_clock(system.clock());
    let mqueue = ensure_dir(&cx, &devfs, b"mqueue", 0o755).map_err(|e| fail("/dev/mqueue", e))?;
    vfs.mount(
        &mqueue,
        system.ipc.mq.clone(),
        b"mqueue",
        b"mqueue",
        b"rw,nosuid,nodev,noexec,relatime",
    )
    .map_err(|e| fail("/dev/mqueue", e))?;
    let procfs = crate::procfs::new_procfs(Arc::downgrade(&system));
    vfs.mount(
        &proc_dir,
        procfs,
        b"proc",
        b"proc",
        b"rw,nosuid,nodev,noexec,relatime",
    )
    .map_err(|e| fail("/proc", e))?;
    let sysfs = crate::procfs::new_sysfs(Arc::downgrade(&system));
    vfs.mount(
        &sys_dir,
        sysfs,
        b"sysfs",
        b"sysfs",
        b"ro,nosuid,nodev,noexec,relatime",
    )
    .map_err(|e| fail("/sys", e))?;

    let etc = match opts.etc_files.is_empty() {
        true => None,
        false => match ensure_dir(&cx, &root, b"etc", 0o755) {
            // A read-only root without /etc keeps going without the files.
            Err(Errno::EROFS) if read_only => None,
            r => Some(r.map_err(|e| fail("/etc", e))?),
        },
    };
    if let Some(etc) = etc {
        for (name, data) in &opts.etc_files {
            match replace_file(&cx, &etc, name, data) {
                // A read-only root keeps the image's own files (until an overlay is there).
                Err(Errno::EROFS) if read_only => {}
                // The names of a Coracle network's VMs follow them there.
                Ok(file) if name == b"hosts" => crate::console::peer_hosts::attach(file),
                r => {
                    r.map_err(|e| fail(&format!("/etc/{}", String::from_utf8_lossy(name)), e))?;
                }
            }
        }
    }

    for m in &opts.tmpfs {
        let name = String::from_utf8_lossy(&m.path);
        let point = mkdir_p(&vfs, &cx, &root, &m.path)
            .map_err(|e| fail(&format!("the tmpfs mount point {name}"), e))?;
        let fs = m.make(system.clock());
        vfs.mount(&point, fs.clone(), b"tmpfs", b"tmpfs", &m.shown)
            .map_err(|e| fail(&format!("the tmpfs on {name}"), e))?;
        vfs.set_readonly(&fs, m.read_only);
    }
    for v in &opts.volumes {
        let name = String::from_utf8_lossy(&v.path);
        let point = mkdir_p(&vfs, &cx, &root, &v.path)
            .map_err(|e| fail(&format!("the volume mount point {name}"), e))?;
        let shown: &[u8] = match v.read_only {
            true => b"ro,relatime,trans=virtio",
            false => b"rw,relatime,trans=virtio",
        };
        vfs.mount(&point, v.root.clone(), b"9p", &v.source, shown)
            .map_err(|e| fail(&format!("the volume on {name}"), e))?;
        vfs.set_readonly(&v.root, v.read_only);
    }
    // The working directory, created if missing.
    let cwd = mkdir_p(&vfs, &cx, &root, &opts.cwd).map_err(|e| {
        let name = String::from_utf8_lossy(&opts.cwd);
        fail(&format!("the working directory {name}"), e)
    })?;
    if opts.read_only {
        vfs.set_readonly(&root, true);
    }
    Ok(Booted {
        system,
        cwd,
        unpacked,
    })
}

/// The directory at absolute `path`, made (mode 0755, root's) where missing, like Docker's
/// WORKDIR and mount points.
fn mkdir_p(
    vfs: &Vfs,
    cx: &Caller,
    root: &Arc<dyn Inode>,
    path: &[u8],
) -> Result<Arc<dyn Inode>, Errno> {
    let mut cur = root.clone();
    for comp in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        let l = vfs.resolve_parent(cx, &cur, comp, true)?;
        cur = match l.inode {
            Some(d) if d.stat().is_dir() => d,
            Some(_) => return Err(Errno::ENOTDIR),
            None => l.dir.create(&l.name, NewNode::Directory, 0o755, 0, 0)?,
        };
    }
    Ok(cur)
}

/// A program file: its inode, contents and real path.
pub type Program = (Arc<dyn Inode>, Vec<u8>, Vec<u8>);

/// Resolves the program to run: the file `path` names (symlinks followed), its contents, and
/// its real path (for /proc/self/exe).
pub fn load_program(system: &System, path: &[u8]) -> Result<Program, Errno> {
    let root = system.vfs.root().clone();
    let cx = root_caller(&root);
    let l = system.vfs.resolve(&cx, &root, path, true)?;
    let inode = l.inode.clone().ok_or(Errno::ENOENT)?;
    let st = inode.stat();
    if st.is_dir() {
        return Err(Errno::EACCES);
    }
    coracle_vfs::check_access(&cx, &st, coracle_vfs::MAY_EXEC)?;
    let data = read_whole(&inode, st.size)?;
    let real = system.vfs.path_in(&cx, &l);
    Ok((inode, data, real))
}

/// The whole contents of a file whose stat says it has `size` bytes (shorter if it ends
/// sooner); ENOMEM when that much memory is not there.
pub(crate) fn read_whole(inode: &Arc<dyn Inode>, size: u64) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    data.try_reserve_exact(size as usize)
        .map_err(|_| Errno::ENOMEM)?;
    data.resize(size as usize, 0);
    let mut off = 0;
    while off < data.len() {
        let n = inode.read_at(off as u64, &mut data[off..])?;
        if n == 0 {
            break;
        }
        off += n;
    }
    data.truncate(off);
    Ok(data)
}
