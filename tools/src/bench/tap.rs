//! `coracle bench --servers ... --tap`: the servers bench over a tap device instead of QEMU's
//! user network, in a network namespace the bench makes and removes (so the traffic never
//! leaves it, and nothing else on the host sees the device).
//!
//! The namespace holds `lo` and one tap device with the user network's gateway address,
//! 10.0.2.2/24, so both guests keep their address (10.0.2.15) and route. Both VMs' QEMU and
//! the load generators run in it through `ip netns exec` (which execs the command itself,
//! so the VM's process is still the child whose host CPU `net` reads). User networking is one
//! QEMU thread relaying every segment through the host's sockets; over the tap frames go
//! straight to the host kernel, which is the ratio issue 13 asks for.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::RunError;
use crate::network::GATEWAY;

/// A network namespace with a tap device, deleted (with the device) when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
    device: &'static str,
}

impl Netns {
    /// `ip netns add coracle-bench-PID`, the tap device in it with 10.0.2.2/24, `lo` up.
    pub fn new() -> Result<Self, RunError> {
        let ns = Netns {
            name: format!("coracle-bench-{}", std::process::id()),
            device: "cbtap0",
        };
        let ip = |args: &[&str]| -> Result<(), RunError> {
            let out = Command::new("ip")
                .args(args)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| RunError::io("cannot run ip(8) (iproute2) for --tap", e))?;
            if out.status.success() {
                return Ok(());
            }
            Err(RunError::Usage(format!(
                "--tap makes a network namespace with a tap device, which needs root \
                 (CAP_NET_ADMIN): ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        };
        ip(&["netns", "add", &ns.name])?;
        // From here on the namespace is removed on any failure, by `ns`'s drop.
        let (n, dev) = (ns.name.as_str(), ns.device);
        ip(&["-n", n, "link", "set", "lo", "up"])?;
        ip(&["-n", n, "tuntap", "add", "dev", dev, "mode", "tap"])?;
        ip(&["-n", n, "addr", "add", &format!("{GATEWAY}/24"), "dev", dev])?;
        ip(&["-n", n, "link", "set", dev, "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn device(&self) -> &'static str {
        self.device
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// `program` run in the namespace `ns`.
pub fn exec_in(ns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

/// What the server at `host:port` answers to `ask`, through `busybox` (a command running the
/// host's busybox in the namespace) as `nc -w 2`, which bounds the connection and the wait
/// for the answer; empty when there is none.
pub fn ask(mut busybox: Command, host: &str, port: u16, ask: &[u8]) -> Vec<u8> {
    let child = busybox
        .args(["nc", "-w", "2", host, &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return Vec::new();
    };
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(ask);
    }
    child
        .wait_with_output()
        .map(|o| o.stdout)
        .unwrap_or_default()
}
