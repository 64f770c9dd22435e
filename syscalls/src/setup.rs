//! The machine at boot: the root filesystem unpacked from the initrd, the mounts a Docker
//! container has (/dev, /dev/shm, /proc, /sys), the working directory, the executable.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::dev::populate_dev;
use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::unpack::{unpack_releasing, Unpacked};
use coracle_vfs::{Caller, Clock, Errno, FileType, Inode, NewNode, Vfs};

use crate::process::{System, SystemInfo};
use crate::sched::{CpuControl, Scheduler};

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
#[derive(Debug, Clone)]
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
}

/// A root caller for setting up.
fn root_caller(root: &Arc<dyn Inode>) -> Caller {
    Caller {
        pid: 0,
        tid: 0,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
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
/// else there is replaced by a new file (mode 0644, root's).
fn replace_file(cx: &Caller, dir: &Arc<dyn Inode>, name: &[u8], data: &[u8]) -> Result<(), Errno> {
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
    Ok(())
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
    // The root filesystem is the image itself, not a scratch tmpfs: only memory bounds it
    // (all of it, the initrd's too, which is given back once unpacked).
    let mem = info.mem_total().saturating_add(initrd.len() as u64);
    let root = new_tmpfs(
        clock.clone(),
        TmpfsOptions {
            max_bytes: mem,
            root_mode: 0o755,
            ..TmpfsOptions::default()
        },
    );
    let cx = root_caller(&root);
    let wanted = |name: &[u8]| !name.starts_with(b".coracle/");
    let unpacked = unpack_releasing(&root, &cx, initrd, wanted, release)
        .map_err(|e| format!("cannot unpack the root filesystem: {e}"))?;
    let vfs = Arc::new(Vfs::new(root.clone(), b"tmpfs", b"rootfs", b"rw,relatime"));
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

    ensure_dir(&cx, &root, b"tmp", 0o1777).map_err(|e| fail("/tmp", e))?;
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

    if !opts.etc_files.is_empty() {
        let etc = ensure_dir(&cx, &root, b"etc", 0o755).map_err(|e| fail("/etc", e))?;
        for (name, data) in &opts.etc_files {
            replace_file(&cx, &etc, name, data)
                .map_err(|e| fail(&format!("/etc/{}", String::from_utf8_lossy(name)), e))?;
        }
    }

    // The working directory, created if missing.
    let mut cwd = root.clone();
    for comp in opts.cwd.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        let name = String::from_utf8_lossy(&opts.cwd);
        let base = cwd.clone();
        let l = vfs
            .resolve_parent(&cx, &base, comp, true)
            .map_err(|e| fail(&format!("the working directory {name}"), e))?;
        cwd = match l.inode {
            Some(d) if d.stat().is_dir() => d,
            Some(_) => {
                return Err(fail(
                    &format!("the working directory {name}"),
                    Errno::ENOTDIR,
                ))
            }
            None => l
                .dir
                .create(&l.name, NewNode::Directory, 0o755, 0, 0)
                .map_err(|e| fail(&format!("the working directory {name}"), e))?,
        };
    }
    Ok(Booted {
        system,
        cwd,
        unpacked,
    })
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
