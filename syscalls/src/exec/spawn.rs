//! Starting an exec'd process: the program found in the container's `PATH`, its working
//! directory, user and environment, a process of its own with no parent, and its first
//! registers, as `runc exec` sets a process up inside a running container.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use coracle_abi::exec_wire::StartFields;
use coracle_vfs::types::{S_IFDIR, S_IFMT, S_IFREG};
use coracle_vfs::{Caller, Errno, Inode};

use super::{fail, session, users, Defaults, DEFAULTS, REQUESTS, SYSTEM};
use crate::process::{StartInfo, System};
use crate::sched::TaskBody;
use crate::{Current, Platform};

/// Docker's `PATH` when the container's environment has none.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A start that cannot go on: the message for the host and the status (126: cannot run, 127:
/// not found, as `docker exec` reports them).
type Refusal = (Vec<u8>, u8);

/// Carries out the oldest start request, if any; returns whether it tried. Building the image
/// changes the CPU's address space, FS and GS bases and FPU state, so the kernel calls this
/// between threads, never with a thread's user state loaded. A request whose files are still
/// being read from disk waits for the next call.
pub fn spawn_pending(k: &mut dyn Platform) -> bool {
    let Some((id, fields)) = REQUESTS.lock().pop_front() else {
        return false;
    };
    let Some(sys) = SYSTEM.get() else {
        fail(id, b"coracle exec: the machine is not running yet\n", 126);
        return false;
    };
    if session(id).is_none() {
        return false;
    }
    match start(sys, k, id, &fields) {
        Ok(()) => {}
        Err(Errno::WAIT) => REQUESTS.lock().push_front((id, fields)),
        Err(e) => {
            let name = fields.args.first().map_or(&b""[..], Vec::as_slice);
            let mut msg = b"coracle exec: cannot run ".to_vec();
            msg.extend_from_slice(name);
            msg.extend_from_slice(alloc::format!(": {}\n", e.name()).as_bytes());
            fail(id, &msg, if e == Errno::ENOENT { 127 } else { 126 });
        }
    }
    true
}

/// The environment: the container's, with the request's `K=V` entries replacing or adding.
fn environment(base: &[Vec<u8>], extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let key = |e: &[u8]| -> Vec<u8> { e.split(|&b| b == b'=').next().unwrap_or(e).to_vec() };
    let mut env: Vec<Vec<u8>> = base
        .iter()
        .filter(|e| !extra.iter().any(|x| key(x) == key(e)))
        .cloned()
        .collect();
    env.extend(extra.iter().cloned());
    env
}

fn root_caller(sys: &System, creds: &crate::creds::Creds) -> Caller {
    creds.caller(0, 0, 0o022, sys.vfs.root().clone())
}

/// Where `name` is: itself with a `/`, else the first regular file in `PATH` (from `env`).
fn find_program(
    sys: &System,
    cx: &Caller,
    cwd: &Arc<dyn Inode>,
    name: &[u8],
    env: &[Vec<u8>],
) -> Result<Vec<u8>, Errno> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name.contains(&b'/') {
        return Ok(name.to_vec());
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(|&b| b == b':').filter(|d| !d.is_empty()) {
        let mut candidate = dir.to_vec();
        candidate.push(b'/');
        candidate.extend_from_slice(name);
        match sys.vfs.resolve(cx, cwd, &candidate, true) {
            Ok(l)
                if l.inode
                    .as_ref()
                    .is_some_and(|i| i.stat().mode & S_IFMT == S_IFREG) =>
            {
                return Ok(candidate)
            }
            Err(Errno::WAIT) => return Err(Errno::WAIT),
            _ => {}
        }
    }
    Err(Errno::ENOENT)
}

/// Turns `e` into the refusal the host sees for a failed lookup of `what`.
fn refusal(e: Errno, what: &str) -> Result<Refusal, Errno> {
    match e {
        Errno::WAIT => Err(Errno::WAIT),
        e => Ok((
            alloc::format!("coracle exec: {what}: {}\n", e.name()).into_bytes(),
            if e == Errno::ENOENT { 127 } else { 126 },
        )),
    }
}

/// Sets up and queues the process of session `id`. `Err(WAIT)` when a file is still being
/// read (nothing is left behind); other errors are the program's own (not found, not
/// executable); a refusal of the request itself is sent from here.
fn start(
    sys: &Arc<System>,
    k: &mut dyn Platform,
    id: u32,
    fields: &StartFields,
) -> Result<(), Errno> {
    let fallback = Defaults {
        creds: crate::creds::Creds::container(0, 0, &[]),
        cwd: b"/".to_vec(),
        env: Vec::new(),
    };
    let defaults = DEFAULTS.get().unwrap_or(&fallback);
    let creds = match &fields.user {
        Some(spec) => match users::resolve(sys, spec) {
            Ok(creds) => creds,
            Err(users::Error::Wait) => return Err(Errno::WAIT),
            Err(users::Error::Refused(msg)) => {
                fail(id, &msg, 126);
                return Ok(());
            }
        },
        None => defaults.creds.clone(),
    };
    let cx = root_caller(sys, &creds);
    let cwd_path = fields.cwd.clone().unwrap_or_else(|| defaults.cwd.clone());
    let found = sys
        .vfs
        .resolve(&cx, sys.vfs.root(), &cwd_path, true)
        .and_then(|l| match l.inode {
            Some(i) if i.stat().mode & S_IFMT == S_IFDIR => Ok(i),
            Some(_) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        });
    let cwd = match found {
        Ok(i) => i,
        Err(e) => {
            let what = alloc::format!(
                "chdir to {:?}",
                core::str::from_utf8(&cwd_path).unwrap_or("?")
            );
            let (msg, _) = refusal(e, &what)?;
            fail(id, &msg, 126);
            return Ok(());
        }
    };
    let env = environment(&defaults.env, &fields.env);
    let name = fields.args.first().cloned().unwrap_or_default();
    let path = match find_program(sys, &cx, &cwd, &name, &env) {
        Ok(p) => p,
        Err(e) => {
            let what = alloc::format!(
                "{:?}: executable file not found in $PATH",
                core::str::from_utf8(&name).unwrap_or("?")
            );
            let (msg, status) = refusal(e, &what)?;
            fail(id, &msg, status);
            return Ok(());
        }
    };
    let Some(s) = session(id) else { return Ok(()) };
    let joined = |list: &[Vec<u8>]| -> Vec<u8> {
        let mut v = Vec::new();
        for a in list {
            v.extend_from_slice(a);
            v.push(0);
        }
        v
    };
    let pid = sys.sched.alloc_tid();
    let info = StartInfo {
        pid,
        tty: false,
        stdin_forwarded: true,
        hostname: sys.hostname.lock().clone(),
        exe: path.clone(),
        cmdline: joined(&fields.args),
        environ: joined(&env),
        cpus: sys.cpus,
        brk: 0,
        mmap_top: crate::image::MMAP_TOP,
        creds,
    };
    let mut current = Current::new(sys.clone(), info, cwd, sys.info.uptime_ns());
    let (files, master) = match fields.tty {
        Some(size) => match super::terminal::open(sys, &s, size) {
            Ok((master, slave)) => (
                alloc::vec![slave.clone(), slave.clone(), slave],
                Some(master),
            ),
            Err(e) => {
                undo(sys, current);
                fail(
                    id,
                    alloc::format!("coracle exec: no terminal: {}\n", e.name()).as_bytes(),
                    126,
                );
                return Ok(());
            }
        },
        None => (super::streams::files(&s), None),
    };
    {
        let mut table = current.process.files.lock();
        for (fd, file) in files.into_iter().enumerate() {
            let _ = table.set(
                fd,
                crate::process::Fd {
                    file,
                    cloexec: false,
                },
            );
        }
    }
    if let Some(master) = &master {
        super::terminal::control(master, current.process.sid(), current.process.pgid());
    }
    s.pid.store(pid, Ordering::Relaxed);
    match crate::start_first(&mut current, k, &path, fields.args.clone(), env) {
        Ok(regs) => {
            let task = sys.sched.make_task(TaskBody {
                current,
                regs,
                fpu: Box::default(),
            });
            if let Some(master) = master {
                super::terminal::started(&s, master);
            }
            sys.sched.enqueue(task);
            Ok(())
        }
        Err(e) => {
            s.pid.store(0, Ordering::Relaxed);
            undo(sys, current);
            Err(e)
        }
    }
}

/// Removes a process that never ran.
fn undo(sys: &Arc<System>, current: Current) {
    let process = current.process.clone();
    sys.tree.lock().remove(&process.pid);
    drop(core::mem::take(&mut *process.files.lock()));
    crate::sys::process::exit::release_memory(&process);
    current.forget();
}

#[cfg(test)]
pub(super) fn environment_for_tests(base: &[Vec<u8>], extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
    environment(base, extra)
}
