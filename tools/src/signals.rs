//! The host's signals and QEMU's lifetime. Without `-t`, the signals `coracle run` receives
//! (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) go to the program's PID 1 as
//! `signal n=N` control records, as `docker run` proxies them. QEMU runs in a process group
//! of its own (a terminal's ^C reaches `coracle` only, which forwards it) and gets SIGKILL
//! when its `coracle` process dies, however that dies: util-linux's `setpriv --pdeathsig`
//! starts it with PR_SET_PDEATHSIG, so this crate needs no `pre_exec` hook of its own.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::protocol;

/// The signals forwarded to PID 1.
pub const FORWARDED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// What starts a process with a parent-death signal.
const SETPRIV: &str = "/usr/bin/setpriv";

/// Where control records for the guest go (the control port's pipe), shared by the signal
/// forwarder and whoever else sends records.
pub type ControlPipe = Arc<Mutex<io::PipeWriter>>;

/// Sends one control record to the guest; false when the guest is gone.
pub fn send_record(control: &ControlPipe, payload: &str) -> bool {
    let Some(record) = protocol::control_record(payload) else {
        return false;
    };
    let mut pipe = control.lock().unwrap_or_else(|e| e.into_inner());
    pipe.write_all(&record).and_then(|()| pipe.flush()).is_ok()
}

/// Catches the forwarded signals from now on and sends each to the guest on `control`.
pub fn forward(control: ControlPipe) -> io::Result<()> {
    let mut signals = Signals::new(FORWARDED)?;
    thread::spawn(move || {
        for sig in signals.forever() {
            send_record(&control, &format!("signal n={sig}"));
        }
    });
    Ok(())
}

/// The command that runs `qemu` as described in the module header (QEMU directly when it
/// or `setpriv` cannot be found, so that a missing QEMU is reported as such).
pub fn qemu_command(qemu: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = match find(qemu) {
        Some(path) if Path::new(SETPRIV).exists() => {
            let mut cmd = Command::new(SETPRIV);
            cmd.args(["--pdeathsig", "KILL", "--"]).arg(path);
            cmd
        }
        _ => Command::new(qemu),
    };
    cmd.process_group(0);
    cmd
}

/// `program` as exec would find it: a path with a `/`, else the first in `PATH`.
fn find(program: &Path) -> Option<PathBuf> {
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return program.is_file().then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
