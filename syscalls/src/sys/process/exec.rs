//! execve and execveat: a new program in the calling process.
//!
//! The file is found as open finds it, must be a regular file with execute permission, and is
//! either an ELF executable or a `#!` script, whose interpreter runs with the script's path as
//! an argument (nested up to [`MAX_NESTING`] levels, as binfmt_script does). An ELF with
//! PT_INTERP brings its interpreter (ld.so), found the same way from the path in the file:
//! missing, it is that lookup's error (ENOENT); shorter than an ELF header, EIO (Linux's short
//! read); otherwise not a loadable ELF, ELIBBAD.
//! Everything that can fail is checked before the old image goes (the point of no return):
//! then the other threads are killed, a new address space gets the image and the initial
//! stack, close-on-exec fds are closed, handled signals go back to their default (ignored
//! ones and the mask stay), and a vfork parent is released.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_loader::{interp_path, ElfFile, InterpRef, MAX_ARG_STRLEN};
use coracle_vfs::Inode;

use super::image::{self, Layout, MappedFile, Placed, Program, ARG_MAX};
use crate::regs::{FpArea, UserRegs, TRAP_SYSCALL};
use crate::sys::fs::{fd_target, read_path, start_dir, AT_FDCWD};
use crate::{Current, Errno, Platform, SysResult};

/// How many `#!` interpreters may be stacked (binfmt's recursion limit).
pub(crate) const MAX_NESTING: usize = 4;
/// How much of a script's first line Linux reads (BINPRM_BUF_SIZE).
const BINPRM_BUF_SIZE: usize = 256;
const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
const AT_EMPTY_PATH: i32 = 0x1000;
/// The ELF64 header's size: what Linux reads of an interpreter first.
const ELF_HEADER_SIZE: u64 = 64;
/// Most argv or envp entries (MAX_ARG_STRINGS).
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;

/// A `#!` line: the interpreter and its one optional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shebang {
    pub interp: Vec<u8>,
    pub arg: Option<Vec<u8>>,
}

/// Parses the start of a file as binfmt_script does: `None` if it is not a script, `ENOEXEC`
/// if it is one without an interpreter (or one whose name does not fit in the first 256
/// bytes). Spaces and tabs separate; everything after the interpreter name up to the end of
/// the line, trimmed, is one argument.
pub(crate) fn parse_shebang(head: &[u8]) -> Result<Option<Shebang>, Errno> {
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(None);
    };
    let buf = &rest[..rest.len().min(BINPRM_BUF_SIZE - 2)];
    let (line, complete) = match buf.iter().position(|&b| b == b'\n') {
        Some(n) => (&buf[..n], true),
        None => (buf, buf.len() < BINPRM_BUF_SIZE - 2),
    };
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let line = &line[start..];
    let name_len = line.iter().position(blank).unwrap_or(line.len());
    if name_len == 0 {
        return Err(Errno::ENOEXEC);
    }
    if !complete && name_len == line.len() {
        // The interpreter's name runs past what Linux reads: it may be cut short.
        return Err(Errno::ENOEXEC);
    }
    let interp = line[..name_len].to_vec();
    let rest = &line[name_len..];
    let a = rest.iter().position(|b| !blank(b)).unwrap_or(rest.len());
    let z = rest.iter().rposition(|b| !blank(b)).map_or(a, |i| i + 1);
    let arg = (a < z).then(|| rest[a..z].to_vec());
    Ok(Some(Shebang { interp, arg }))
}

/// Reads a NULL-terminated array of string pointers (argv or envp) within the size budget
/// `left` (bytes of strings and pointers still allowed): `E2BIG` past it.
fn read_strings(k: &dyn Platform, array: u64, left: &mut u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if array == 0 {
        return Ok(out);
    }
    for i in 0..MAX_ARG_STRINGS as u64 {
        let mut b = [0u8; 8];
        k.read_user(array.checked_add(i * 8).ok_or(Errno::EFAULT)?, &mut b)?;
        let ptr = u64::from_le_bytes(b);
        if ptr == 0 {
            return Ok(out);
        }
        let s = crate::uaccess::read_cstr(k, ptr, MAX_ARG_STRLEN as usize).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        let cost = s.len() as u64 + 1 + 8;
        *left = left.checked_sub(cost).ok_or(Errno::E2BIG)?;
        out.push(s);
    }
    Err(Errno::E2BIG)
}

/// The file to run: its inode, its path for /proc/<pid>/exe, its size, and its first bytes
/// (the `#!` line, or the ELF header and program headers: the segments are mapped from the
/// page cache, never read here).
struct Found {
    inode: Arc<dyn Inode>,
    real: Vec<u8>,
    size: u64,
    data: Vec<u8>,
}

/// How much of a program file is read first: the ELF header and, in every program seen,
/// the program headers right after it.
const HEAD: u64 = 4096;

/// The first `len` bytes of `inode` (fewer at its end).
fn read_head(inode: &Arc<dyn Inode>, len: u64) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    data.try_reserve_exact(len as usize)
        .map_err(|_| Errno::ENOMEM)?;
    data.resize(len as usize, 0);
    let mut off = 0;
    while off < data.len() {
        match inode.read_at(off as u64, &mut data[off..])? {
            0 => break,
            n => off += n,
        }
    }
    data.truncate(off);
    Ok(data)
}

fn find(p: &Current, dirfd: i32, path: &[u8], flags: i32) -> Result<Found, Errno> {
    let cx = p.caller();
    let (inode, real) = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        let inode = fd_target(p, dirfd)?;
        (inode, path.to_vec())
    } else {
        let base = start_dir(p, dirfd, path)?;
        let l = p
            .sys
            .vfs
            .resolve(&cx, &base, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        let inode = l.inode.clone().ok_or(Errno::ENOENT)?;
        // Through /proc/self/exe (a program running itself again, as busybox does) the
        // lookup ends in /proc: the file's own path is the one the process has for it.
        let own = p.process.exe.lock().clone();
        match own {
            Some((exe, path)) if coracle_vfs::inode::same_inode(&exe, &inode) => (inode, path),
            _ => (inode.clone(), p.sys.vfs.path_in(&cx, &l)),
        }
    };
    let st = inode.stat();
    use coracle_vfs::types::{S_IFLNK, S_IFMT, S_IFREG};
    if st.mode & S_IFMT == S_IFLNK {
        return Err(Errno::ELOOP);
    }
    if st.mode & S_IFMT != S_IFREG {
        return Err(Errno::EACCES);
    }
    coracle_vfs::check_access(&cx, &st, coracle_vfs::MAY_EXEC)?;
    let mut data = read_head(&inode, st.size.min(HEAD))?;
    // Program headers further in: read through their end (at most the file).
    if let Some(need) = coracle_loader::headers_len(&data) {
        if need > data.len() as u64 && data.starts_with(b"\x7fELF") {
            data = read_head(&inode, need.min(st.size))?;
        }
    }
    Ok(Found {
        inode,
        real,
        size: st.size,
        data,
    })
}

pub(crate) fn execve(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    path: u64,
    argv: u64,
    envp: u64,
) -> SysResult {
    execveat(p, k, regs, AT_FDCWD, path, argv, envp, 0)
}

pub(crate) fn execveat(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    dirfd: i32,
    path: u64,
    argv: u64,
    envp: u64,
    flags: i32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(k, path)?;
    super::nproc::check_exec(p)?;
    let mut left = ARG_MAX;
    let args = read_strings(k, argv, &mut left)?;
    let env = read_strings(k, envp, &mut left)?;
    run(p, k, regs, dirfd, path, args, env, flags)
}

/// Starts the first program (the container's entrypoint) as execve would: a static ELF or a
/// `#!` script found from the process's cwd, in a new address space. Returns its first
/// registers.
pub fn start_first(
    p: &mut Current,
    k: &mut dyn Platform,
    path: &[u8],
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
) -> Result<UserRegs, Errno> {
    let cost: u64 = args.iter().chain(&env).map(|a| a.len() as u64 + 9).sum();
    if cost > ARG_MAX
        || args
            .iter()
            .chain(&env)
            .any(|a| a.len() as u64 >= MAX_ARG_STRLEN)
    {
        return Err(Errno::E2BIG);
    }
    let mut regs = UserRegs::default();
    run(p, k, &mut regs, AT_FDCWD, path.to_vec(), args, env, 0)?;
    if p.exit_status.is_some() {
        return Err(Errno::ENOMEM);
    }
    Ok(regs)
}

/// Finds the program (following `#!` lines) and replaces the image with it.
#[allow(clippy::too_many_arguments)]
fn run(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    dirfd: i32,
    path: Vec<u8>,
    mut args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    flags: i32,
) -> SysResult {
    let mut file = find(p, dirfd, &path, flags)?;
    // The name the program was run by: the script's for a script (AT_EXECFN, comm).
    let filename = if path.is_empty() {
        alloc::format!("/dev/fd/{dirfd}").into_bytes()
    } else {
        path.clone()
    };
    let mut depth = 0;
    // The path the current file was run by: the one given, then each interpreter's.
    let mut script = filename.clone();
    while let Some(sb) = parse_shebang(&file.data)? {
        depth += 1;
        if depth > MAX_NESTING {
            return Err(Errno::ELOOP);
        }
        // argv[0] is replaced by the interpreter, its argument and the script's path.
        let mut new = Vec::with_capacity(args.len() + 3);
        new.push(sb.interp.clone());
        if let Some(a) = sb.arg {
            new.push(a);
        }
        new.push(core::mem::replace(&mut script, sb.interp.clone()));
        new.extend(args.into_iter().skip(1));
        args = new;
        let cost: u64 = args.iter().map(|a| a.len() as u64 + 9).sum();
        if cost > ARG_MAX {
            return Err(Errno::E2BIG);
        }
        file = find(p, AT_FDCWD, &sb.interp, 0)?;
    }
    let name = alloc::string::String::from_utf8_lossy(&filename);
    let elf = ElfFile::parse_head(&file.data, file.size).map_err(|e| {
        k.log(format_args!("execve {name}: {e}: ENOEXEC"));
        Errno::ENOEXEC
    })?;
    let interp = match elf.interp() {
        Some(r) => Some(find_interp(p, k, &file, &r, &name)?),
        None => None,
    };
    let layout = Layout::for_exec(p, k);
    let exe = image::place_exe(&elf, &layout).map_err(|e| {
        k.log(format_args!("execve {name}: {e}: ENOEXEC"));
        Errno::ENOEXEC
    })?;
    let interp_exe = match &interp {
        Some((ifile, ielf)) => Some(image::place_interp(ielf, &exe, &layout).map_err(|e| {
            let path = alloc::string::String::from_utf8_lossy(&ifile.real);
            k.log(format_args!(
                "execve {name}: interpreter {path}: {e}: ELIBBAD"
            ));
            Errno::ELIBBAD
        })?),
        None => None,
    };
    // Everything read from the files is read before the point of no return (see
    // `image::read_partial_pages`).
    let partial = image::read_partial_pages(&exe, &*file.inode)?;
    let interp_partial = match (&interp_exe, &interp) {
        (Some(e), Some((f, _))) => image::read_partial_pages(e, &*f.inode)?,
        _ => Vec::new(),
    };
    let placed = Placed {
        exe,
        interp: interp_exe,
        layout,
    };
    let interp = interp.map(|(f, _)| MappedFile {
        inode: f.inode,
        path: f.real.into(),
    });
    let partial = (partial, interp_partial);
    replace_image(
        p, k, regs, &placed, interp, partial, file, &filename, &args, &env,
    )
}

/// The interpreter named by PT_INTERP `r` of `file`, found as execve finds a program (from the
/// cwd if relative, with execute permission) and checked to be a loadable ELF (`ELIBBAD` if
/// not, as Linux's load_elf_binary says of an interpreter that is not an x86_64 ELF).
fn find_interp(
    p: &Current,
    k: &mut dyn Platform,
    file: &Found,
    r: &InterpRef,
    name: &str,
) -> Result<(Found, ElfFile), Errno> {
    let mut bytes = alloc::vec![0u8; r.len as usize];
    let mut done = 0;
    while done < bytes.len() {
        match file
            .inode
            .read_at(r.offset + done as u64, &mut bytes[done..])?
        {
            0 => break,
            n => done += n,
        }
    }
    bytes.truncate(done);
    let path = interp_path(r, &bytes).map_err(|e| {
        k.log(format_args!("execve {name}: {e}: ENOEXEC"));
        Errno::ENOEXEC
    })?;
    let shown = alloc::string::String::from_utf8_lossy(&path);
    let found = find(p, AT_FDCWD, &path, 0).inspect_err(|e| {
        k.log(format_args!(
            "execve {name}: interpreter {shown}: {}",
            e.name()
        ));
    })?;
    // Linux reads the interpreter's ELF header whole: a shorter file is a short read, EIO.
    if found.size < ELF_HEADER_SIZE {
        k.log(format_args!(
            "execve {name}: interpreter {shown}: shorter than an ELF header: EIO"
        ));
        return Err(Errno::EIO);
    }
    let elf = ElfFile::parse_head(&found.data, found.size).map_err(|e| {
        k.log(format_args!(
            "execve {name}: interpreter {shown}: {e}: ELIBBAD"
        ));
        Errno::ELIBBAD
    })?;
    Ok((found, elf))
}

/// The point of no return: the old image goes and the new one starts.
#[allow(clippy::too_many_arguments)]
fn replace_image(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    placed: &Placed,
    interp: Option<MappedFile>,
    (partial, interp_partial): (Vec<image::PartialPage>, Vec<image::PartialPage>),
    file: Found,
    filename: &[u8],
    args: &[Vec<u8>],
    env: &[Vec<u8>],
) -> SysResult {
    let space = k.new_space()?;
    super::exit::kill_other_threads(p);
    let process = p.process.clone();
    // The credentials of the new image: set-user-ID and set-group-ID bits, root's
    // capabilities (capabilities(7), "Transformation of capabilities during execve()").
    let secure = {
        let st = file.inode.stat();
        let no_new_privs = process.life.lock().prctl.no_new_privs;
        let mut creds = process.creds.lock();
        let (new, secure) = creds.exec(st.mode, st.uid, st.gid, no_new_privs);
        *creds = new;
        secure
    };
    // The old memory goes; the CPU works on the new space from now on.
    k.switch_space(&space);
    super::exit::release_memory(&process);
    *process.space.lock() = Some(space);
    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let envp: Vec<&[u8]> = env.iter().map(Vec::as_slice).collect();
    let real: Arc<[u8]> = file.real.clone().into();
    let prog = Program {
        placed,
        file: MappedFile {
            inode: file.inode.clone(),
            path: real,
        },
        interp,
        partial,
        interp_partial,
        argv: &argv,
        envp: &envp,
        execfn: filename,
        secure,
    };
    let start = match image::load(&process, k, &prog) {
        Ok(s) => s,
        Err(e) => {
            // Too late to fail: the process dies, as Linux's force_fatal_sig(SIGSEGV).
            k.log(format_args!(
                "execve: cannot build the new image ({}): SIGSEGV",
                e.name()
            ));
            let status = process.set_exit(crate::process::ExitStatus::Signaled {
                sig: 11,
                core: false,
            });
            p.exit_status = Some(status.docker());
            return Ok(0);
        }
    };
    close_on_exec(p);
    process.signals.reset_for_exec();
    p.sig = crate::signal::SigThread::new_thread();
    p.clear_child_tid = 0;
    p.thread
        .robust_list
        .store(0, core::sync::atomic::Ordering::Relaxed);
    let comm: Vec<u8> = filename
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or_default()
        .iter()
        .take(15)
        .copied()
        .collect();
    *process.comm.lock() = comm;
    let joined = |list: &[Vec<u8>]| -> Vec<u8> {
        let mut v = Vec::new();
        for s in list {
            v.extend_from_slice(s);
            v.push(0);
        }
        v
    };
    *process.cmdline.lock() = joined(args);
    *process.environ.lock() = joined(env);
    p.set_exe(file.inode, file.real);
    *regs = UserRegs {
        rip: start.entry,
        rsp: start.sp,
        rflags: 0x202,
        trap: TRAP_SYSCALL,
        ..Default::default()
    };
    k.set_fs_base(0);
    k.set_gs_base(0);
    k.load_fpu(&FpArea::default());
    // A vfork parent goes on now.
    {
        let mut life = process.life.lock();
        life.vfork_done = true;
        life.execed = true;
        // A privilege-raising exec forgets the parent-death signal (begin_new_exec).
        if secure {
            life.pdeathsig = 0;
        }
    }
    process.exit_events.wake_everyone();
    // A new program starts without hardware breakpoints (flush_ptrace_hw_breakpoint).
    p.debug = crate::regs::DebugRegs::default();
    crate::ptrace::on_exec(p);
    Ok(0)
}

/// Closes the close-on-exec fds (and drops the process's POSIX locks on their files).
pub(crate) fn close_on_exec(p: &Current) {
    let closed: Vec<crate::process::Fd> = {
        let mut files = p.process.files.lock();
        let fds: Vec<usize> = files
            .iter()
            .filter(|(_, f)| f.cloexec)
            .map(|(i, _)| i)
            .collect();
        fds.into_iter().filter_map(|i| files.remove(i)).collect()
    };
    if closed.is_empty() {
        return;
    }
    let mut locks = p.sys.locks.lock();
    for f in &closed {
        crate::sys::ipc::mqueue::flush(&f.file, p.process.pid);
        let st = f.file.inode().stat();
        locks.release_process((st.dev, st.ino), p.process.pid);
    }
    drop(locks);
    drop(closed);
    p.sys.lock_waiters.wake_everyone();
}
