//! `coracle bench --servers nginx,redis,iperf3 ROOTFS_DIR`: network servers of a root
//! filesystem (Debian's nginx-light, redis-server and iperf3) in Coracle and in the Linux VM,
//! both on QEMU's user network with the same flags and the ports published on 127.0.0.1 the
//! same way (`hostfwd`, its backlog widened by `crate::hostfwd` on both sides), driven by the
//! host's load generators: `wrk`, `redis-benchmark` and `iperf3`.
//!
//! One VM per side and CPU count runs every server; each load runs in turn while the host CPU
//! time of the VM's processes (QEMU, and `coracle` around it) is read before and after. A run
//! gives the `name value unit` lines of `report`, so the tables, JSON and chart are the
//! program benchmarks' own. The Linux VM boots the same tree from its initramfs, with the
//! virtio-net modules of its kernel package (`baseline::modules`) and busybox's `ip` to take
//! Coracle's address.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::report::{Ended, RunResult};
use super::{accel_name, baseline, linux, sides::Knobs, soak, tap, LinuxVm};
use crate::error::RunError;
use crate::network::GUEST_IP;
use crate::qemu::Accel;
use crate::tempdir::TempDir;

/// A server of the network benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Server {
    /// nginx serving a 4 KiB file under `wrk -t2 -c50`.
    Nginx,
    /// redis-server under `redis-benchmark -q -t get,set` (50 clients).
    Redis,
    /// `iperf3 -s`: TCP bulk throughput, host to guest and guest to host.
    Iperf3,
}

impl Server {
    fn guest_port(self) -> u16 {
        match self {
            Server::Nginx => 8080,
            Server::Redis => 6379,
            Server::Iperf3 => 5201,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Server::Nginx => "nginx",
            Server::Redis => "redis",
            Server::Iperf3 => "iperf3",
        }
    }
}

/// The load: seconds of wrk and of iperf3 each way, requests per redis-benchmark test, and
/// with `--soak` the seconds of each server's soak instead (`soak`).
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub seconds: u32,
    pub redis_requests: u32,
    pub soak: Option<u32>,
}

/// nginx's configuration: one process (the same on both sides), no logs, a 4 KiB page.
const NGINX_CONF: &str = "master_process off; error_log stderr; pid /tmp/nginx.pid; \
     daemon off; events { worker_connections 1024; } http { access_log off; \
     client_body_temp_path /tmp/nginx-body; proxy_temp_path /tmp/nginx-proxy; \
     fastcgi_temp_path /tmp/nginx-fastcgi; uwsgi_temp_path /tmp/nginx-uwsgi; \
     scgi_temp_path /tmp/nginx-scgi; server { listen 8080; root /tmp/www; } }";

/// The guest's shell script (Debian's /bin/sh on both sides): the servers in the background,
/// with `--soak` the memory sampler, then a wait that never ends (the VM is killed after the
/// loads).
pub fn guest_script(servers: &[Server], soak: Option<u32>) -> String {
    let mut s = String::from(
        "mkdir -p /tmp/www; head -c 4096 /dev/zero | tr '\\0' x > /tmp/www/index.html\n",
    );
    if let Some(seconds) = soak {
        s.push_str(&soak::sampler(soak::sample_every(seconds)));
    }
    for server in servers {
        s.push_str(match server {
            Server::Nginx => "printf '%s\\n' \"$NGINX_CONF\" > /tmp/nginx.conf; /usr/sbin/nginx -c /tmp/nginx.conf &\n",
            Server::Redis => "/usr/bin/redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no --loglevel warning &\n",
            Server::Iperf3 => "/usr/bin/iperf3 -s -p 5201 >/dev/null &\n",
        });
    }
    s.push_str("wait\n");
    s.replace("\"$NGINX_CONF\"", &format!("'{NGINX_CONF}'"))
}

/// Virtio modules the Linux VM loads, in dependency order (the Debian kernel has them as
/// modules; microvm's card is on virtio-mmio).
const MODULES: [&str; 6] = [
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "failover",
    "net_failover",
    "virtio_net",
];

/// Where the modules go in the Linux VM's initramfs.
const MODULE_DIR: &str = ".coracle-bench/modules";

/// The Linux VM's `/init`: mounts, the card's modules, Coracle's addresses, then the script.
fn linux_init(script: &str) -> Vec<u8> {
    let bb = linux::ROOTFS_BUSYBOX;
    let mut s = format!("#!{bb} sh\n");
    s.push_str(&format!(
        "{bb} mount -t proc proc /proc; {bb} mount -t sysfs sys /sys; \
         {bb} mount -t devtmpfs dev /dev; {bb} mount -t tmpfs tmp /tmp\n"
    ));
    for m in MODULES {
        s.push_str(&format!("{bb} insmod /{MODULE_DIR}/{m}.ko\n"));
    }
    s.push_str(&format!(
        "{bb} ip link set lo up; {bb} ip link set eth0 up\n\
         {bb} ip addr add {GUEST_IP}/24 dev eth0; {bb} ip route add default via {}\n",
        crate::network::GATEWAY
    ));
    s.push_str(&format!(
        "exec /bin/sh -c '{}'\n",
        script.replace('\'', "'\\''")
    ));
    s.into_bytes()
}

/// Writes the Linux VM's initramfs for a network run: the tree, busybox, the modules, /init.
pub fn prepare_linux(
    root: &Path,
    vmlinux: PathBuf,
    servers: &[Server],
    soak: Option<u32>,
) -> Result<LinuxVm, RunError> {
    let modules = baseline::modules(&vmlinux, &MODULES).map_err(RunError::Usage)?;
    let busybox = crate::program::find_program("/bin/busybox".as_ref(), None, Path::new("/"), None)
        .map_err(|e| {
            RunError::Usage(format!(
                "the Linux VM needs a static busybox at /bin/busybox ({e})"
            ))
        })?;
    let dir = TempDir::new().map_err(|e| RunError::io("cannot create a temporary directory", e))?;
    let initramfs = dir.path().join("linux-net-initramfs.cpio");
    let file = File::create(&initramfs)
        .map_err(|e| RunError::io(format!("cannot write {}", initramfs.display()), e))?;
    // The tree is the root as it is: busybox's and the modules' directories are added.
    let dirs = [".coracle-bench/".to_owned(), format!("{MODULE_DIR}/")];
    let extra: Vec<(String, Vec<u8>)> = dirs
        .into_iter()
        .map(|d| (d, Vec::new()))
        .chain(
            modules
                .into_iter()
                .map(|(n, b)| (format!("{MODULE_DIR}/{n}.ko"), b)),
        )
        .collect();
    let tree = crate::rootfs::Tree::scan(root)
        .map_err(|e| RunError::io(format!("cannot read {}", root.display()), e))?;
    linux::write_rootfs_initramfs(
        BufWriter::new(file),
        crate::root_image::Source::Tree(&tree),
        &busybox.bytes,
        &extra,
        &linux_init(&guest_script(servers, soak)),
    )
    .and_then(|mut w| w.flush().map(|()| w))
    .map_err(|e| RunError::io("cannot write the Linux initramfs", e))?;
    Ok(LinuxVm {
        vmlinux,
        initramfs,
        extra_args: Vec::new(),
        _dir: dir,
    })
}

/// A free TCP port on 127.0.0.1 (bound, then released).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What a run needs besides the knobs.
pub struct NetPlan<'a> {
    pub root: &'a Path,
    pub servers: &'a [Server],
    pub accel: Accel,
    pub qemu: &'a Path,
    pub coracle: Option<&'a Path>,
    pub linux: Option<&'a LinuxVm>,
    pub load: Load,
    /// `--tap`: the namespace whose tap device the VMs and the load generators use, instead
    /// of QEMU's user network.
    pub tap: Option<&'a tap::Netns>,
}

/// A started VM: the process, its log files, its published host ports (none over a tap),
/// and the namespace its clients run in over a tap.
pub struct Vm {
    child: Child,
    ports: Vec<(Server, u16)>,
    log: PathBuf,
    netns: Option<String>,
    _dir: TempDir,
}

impl Vm {
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The process whose tree's CPU time is the VM's: `coracle`, or the Linux VM's QEMU.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where a client reaches `server`: 127.0.0.1 and the published port, or over the tap
    /// the guest's own address and port.
    fn target(&self, server: Server, port: u16) -> (String, u16) {
        match self.netns {
            Some(_) => (GUEST_IP.to_string(), server.guest_port()),
            None => ("127.0.0.1".to_owned(), port),
        }
    }

    /// A host client: run as it is, or in the tap's namespace.
    fn client(&self, program: &str) -> Command {
        match &self.netns {
            Some(ns) => tap::exec_in(ns, program),
            None => Command::new(program),
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // coracle's QEMU dies with it (its parent-death signal); the Linux VM is QEMU.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(plan: &NetPlan<'_>, coracle: bool, knobs: Knobs) -> Result<Vm, String> {
    let dir = TempDir::new().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let log = dir.path().join("console.log");
    let mut ports = Vec::new();
    for &s in plan.servers {
        // Over the tap nothing is published: the port is the guest's.
        let port = match plan.tap {
            Some(_) => s.guest_port(),
            None => free_port().map_err(|e| format!("no free port: {e}"))?,
        };
        ports.push((s, port));
    }
    let network = plan.tap.map(|ns| format!("tap:{}", ns.device()));
    let mut cmd;
    if coracle {
        let exe = plan.coracle.ok_or("no coracle side")?;
        cmd = match plan.tap {
            Some(ns) => tap::exec_in(ns.name(), exe),
            None => Command::new(exe),
        };
        cmd.arg("run")
            .args(["--accel", accel_name(plan.accel), "--machine", "microvm"])
            .args(["--cpus", &knobs.cpus.to_string()])
            .args(["-m", &knobs.memory_mib.to_string()])
            .arg("--qemu")
            .arg(plan.qemu);
        match &network {
            Some(tap) => {
                cmd.args(["--network", tap]);
            }
            None => {
                for (s, p) in &ports {
                    cmd.arg("-p")
                        .arg(format!("127.0.0.1:{p}:{}", s.guest_port()));
                }
            }
        }
        cmd.args(["-w", "/", "--"]).arg(plan.root).args([
            "/bin/sh",
            "-c",
            &guest_script(plan.servers, plan.load.soak),
        ]);
    } else {
        let vm = plan.linux.ok_or("no linux side")?;
        cmd = match plan.tap {
            Some(ns) => tap::exec_in(ns.name(), plan.qemu),
            None => Command::new(plan.qemu),
        };
        cmd.args(linux::qemu_args(
            plan.accel,
            knobs.memory_mib,
            knobs.cpus,
            &vm.vmlinux,
            &vm.initramfs,
            &vm.cmdline(false),
        ));
        let mut netdev = String::from("user,id=n0");
        match plan.tap {
            Some(ns) => {
                netdev = format!("tap,id=n0,ifname={},script=no,downscript=no", ns.device())
            }
            None => {
                for (s, p) in &ports {
                    netdev.push_str(&format!(
                        ",hostfwd=tcp:127.0.0.1:{p}-{GUEST_IP}:{}",
                        s.guest_port()
                    ));
                }
            }
        }
        cmd.args(["-netdev", &netdev, "-device", "virtio-net-device,netdev=n0"]);
    }
    let out = File::create(&log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start the VM: {e}"))?;
    if !coracle && plan.tap.is_none() {
        let tcp = ports.iter().map(|&(_, p)| p).collect();
        crate::hostfwd::widen_backlogs(child.id(), tcp, false);
    }
    Ok(Vm {
        child,
        ports,
        log,
        netns: plan.tap.map(|ns| ns.name().to_owned()),
        _dir: dir,
    })
}

/// Whether `server` answers at `host:port`. iperf3's server is asked by its own client (a
/// one-second test): a half-made test session puts it off for the next one. Over the tap the
/// question is asked from the namespace, by busybox's nc.
fn answers(vm: &Vm, server: Server, port: u16) -> bool {
    let (host, port) = vm.target(server, port);
    if server == Server::Iperf3 {
        return match vm
            .client("iperf3")
            .args(["-c", &host, "-p", &port.to_string(), "-t", "1", "-J"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) => o.status.success() && iperf3_bits(&o.stdout).is_some(),
            // No client on the host: go on, and the load's run says what to install (instead
            // of waiting out the timeout for an answer nobody can ask for).
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
    }
    let (ask, want): (&[u8], &[u8]) = match server {
        Server::Nginx => (b"GET /index.html HTTP/1.0\r\n\r\n", b"HTTP/1.1 200"),
        Server::Redis | Server::Iperf3 => (b"PING\r\n", b"+PONG"),
    };
    if vm.netns.is_some() {
        return tap::ask(vm.client("/bin/busybox"), &host, port, ask).starts_with(want);
    }
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect((host.as_str(), port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(ask)?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf)?;
        Ok(n > 0 && buf[..n].starts_with(want))
    };
    attempt().unwrap_or(false)
}

/// The host CPU time of `pid` and its descendants (user + system).
pub fn tree_cpu(pid: u32) -> Duration {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ... utime(14) stime(15): split after the comm's ')'.
            let rest: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().collect())
                .unwrap_or_default();
            let num = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if rest.len() > 13 {
                parents.push((p, num(1) as u32, num(11) + num(12)));
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let at = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|&&(_, pp, _)| pp == at)
                .map(|&(p, _, _)| p),
        );
        i += 1;
    }
    let ticks: u64 = parents
        .iter()
        .filter(|(p, _, _)| tree.contains(p))
        .map(|&(_, _, t)| t)
        .sum();
    Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// Runs one load, timing it and the VM's host CPU; the load's output and the two.
fn measured(vm: &Vm, mut cmd: Command) -> Result<(Output, Duration, Duration), String> {
    let cpu = tree_cpu(vm.child.id());
    let at = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        format!(
            "cannot run {:?}: {e} (install wrk, redis-tools, iperf3)",
            cmd.get_program()
        )
    })?;
    Ok((
        out,
        at.elapsed(),
        tree_cpu(vm.child.id()).saturating_sub(cpu),
    ))
}

/// A load's result, its wall time and the VM's host CPU time over it.
pub type Measured<T> = Result<(T, Duration, Duration), String>;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `wrk -t2 -c50` for `seconds` against nginx: ((requests/s, average latency in ms), the
/// wall time, the VM's host CPU time); an error when wrk saw any.
pub fn wrk(vm: &Vm, port: u16, seconds: u32) -> Measured<(f64, f64)> {
    let (host, port) = vm.target(Server::Nginx, port);
    let mut cmd = vm.client("wrk");
    cmd.args(["-t2", "-c50", &format!("-d{seconds}s"), "--timeout", "10s"])
        .arg(format!("http://{host}:{port}/index.html"));
    let (out, wall, cpu) = measured(vm, cmd)?;
    let report = text(&out);
    let rps = wrk_rate(&report).ok_or_else(|| format!("wrk: no Requests/sec in:\n{report}"))?;
    let latency =
        wrk_latency_ms(&report).ok_or_else(|| format!("wrk: no latency in:\n{report}"))?;
    if report.contains("Socket errors") || report.contains("Non-2xx") {
        return Err(format!("wrk saw errors:\n{report}"));
    }
    Ok(((rps, latency), wall, cpu))
}

/// `redis-benchmark -q -t set,get -n requests` (50 clients): ((requests/s, p50 latency in
/// ms) of SET and of GET, the wall time, the VM's host CPU time); an error when it saw any.
pub fn redis_benchmark(vm: &Vm, port: u16, requests: u32) -> Measured<[(f64, f64); 2]> {
    let (host, port) = vm.target(Server::Redis, port);
    let mut cmd = vm.client("redis-benchmark");
    cmd.args(["-h", &host, "-p", &port.to_string(), "-q", "-t", "set,get"])
        .args(["-n", &requests.to_string()]);
    let (out, wall, cpu) = measured(vm, cmd)?;
    let report = text(&out);
    let result = |test| {
        redis_result(&report, test)
            .ok_or_else(|| format!("redis-benchmark: no {test} result in:\n{report}"))
    };
    let found = [result("SET")?, result("GET")?];
    if report.to_lowercase().contains("error") {
        return Err(format!("redis-benchmark saw errors:\n{report}"));
    }
    Ok((found, wall, cpu))
}

/// The load against `server`, as `name value unit` lines.
fn drive(vm: &Vm, server: Server, port: u16, load: Load) -> Result<String, String> {
    let mut lines = String::new();
    // The VM's host CPU over the load, in % of one host CPU.
    let cpu_line = |lines: &mut String, name: &str, wall: Duration, cpu: Duration| {
        lines.push_str(&format!(
            "{name}_host_cpu {:.1} %\n",
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
        ));
    };
    match server {
        Server::Nginx => {
            let ((rps, latency), wall, cpu) = wrk(vm, port, load.seconds)?;
            lines.push_str(&format!(
                "nginx_requests {rps:.0} req/s\nnginx_latency_avg {latency:.3} ms\n"
            ));
            cpu_line(&mut lines, "nginx", wall, cpu);
        }
        Server::Redis => {
            let (found, wall, cpu) = redis_benchmark(vm, port, load.redis_requests)?;
            for (test, (rps, p50)) in ["set", "get"].into_iter().zip(found) {
                lines.push_str(&format!(
                    "redis_{test}_requests {rps:.0} req/s\nredis_{test}_p50 {p50:.3} ms\n"
                ));
            }
            cpu_line(&mut lines, "redis", wall, cpu);
        }
        Server::Iperf3 => {
            let (host, port) = vm.target(server, port);
            for (dir, reverse) in [("to_guest", false), ("from_guest", true)] {
                let mut cmd = vm.client("iperf3");
                cmd.args(["-c", &host, "-p", &port.to_string(), "-J"])
                    .args(["-t", &load.seconds.to_string()])
                    .args(reverse.then_some("-R"));
                let (out, wall, cpu) = measured(vm, cmd)?;
                let bits = iperf3_bits(&out.stdout)
                    .ok_or_else(|| format!("iperf3: no result in:\n{}", text(&out)))?;
                lines.push_str(&format!("iperf3_{dir} {:.1} Mbit/s\n", bits / 1e6));
                cpu_line(&mut lines, &format!("iperf3_{dir}"), wall, cpu);
            }
        }
    }
    Ok(lines)
}

/// One run: boots the VM, waits for every server, drives each load (or soak) in turn.
pub fn run(plan: &NetPlan<'_>, coracle: bool, knobs: Knobs) -> RunResult {
    let began = Instant::now();
    let failed = |why: String, stderr: String| RunResult {
        ended: Ended::Failed(why),
        stdout: String::new(),
        stderr,
        wall: began.elapsed(),
        to_start: None,
        boot: None,
    };
    let vm = match start(plan, coracle, knobs) {
        Ok(vm) => vm,
        Err(why) => return failed(why, String::new()),
    };
    let console = |vm: &Vm| {
        let text = std::fs::read(&vm.log).unwrap_or_default();
        linux::console_tail(&text, 30)
    };
    let deadline = began + knobs.timeout;
    for &(server, port) in &vm.ports {
        while !answers(&vm, server, port) {
            if Instant::now() >= deadline {
                let why = format!(
                    "{} never answered within {} s",
                    server.name(),
                    knobs.timeout.as_secs()
                );
                return failed(why, console(&vm));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let ready = began.elapsed();
    let mut stdout = String::new();
    let label = format!(
        "--cpus {} {}",
        knobs.cpus,
        if coracle { "coracle" } else { "linux" }
    );
    for &(server, port) in &vm.ports {
        let done = match plan.load.soak {
            Some(seconds) => soak::drive(&vm, server, port, plan.load, seconds, &label),
            None => drive(&vm, server, port, plan.load),
        };
        match done {
            Ok(lines) => stdout.push_str(&lines),
            Err(why) => {
                return failed(
                    format!("{}: load failed", server.name()),
                    format!("{why}\n{}", console(&vm)),
                )
            }
        }
    }
    RunResult {
        ended: Ended::Exited(0),
        stdout,
        stderr: String::new(),
        wall: began.elapsed(),
        to_start: Some(ready),
        boot: None,
    }
}

/// wrk's `Requests/sec: N`.
pub fn wrk_rate(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// wrk's average latency (`Latency   1.23ms ...`), in ms.
pub fn wrk_latency_ms(report: &str) -> Option<f64> {
    let avg = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Latency"))?
        .split_whitespace()
        .next()?;
    let (number, scale) = [("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 60e3)]
        .iter()
        .find_map(|&(unit, scale)| avg.strip_suffix(unit).map(|n| (n, scale)))?;
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// redis-benchmark -q's `SET: 3976.14 requests per second, p50=11.863 msec`: (rps, p50 ms).
pub fn redis_result(report: &str, test: &str) -> Option<(f64, f64)> {
    let line = report
        .split(['\r', '\n'])
        .find(|l| l.starts_with(&format!("{test}: ")) && l.contains("requests per second"))?;
    let rps = line.split_whitespace().nth(1)?.parse().ok()?;
    let p50 = line
        .split("p50=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((rps, p50))
}

/// iperf3 -J's `end.sum_received.bits_per_second`.
pub fn iperf3_bits(json: &[u8]) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    v.get("end")?
        .get("sum_received")?
        .get("bits_per_second")?
        .as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_reports_parse() {
        let wrk = "Running 10s test @ http://127.0.0.1:1/index.html\n  2 threads and 50 connections\n\
            \x20 Thread Stats   Avg      Stdev     Max   +/- Stdev\n\
            \x20   Latency    12.50ms    3.00ms  40.00ms   70.00%\n\
            \x20   Req/Sec     1.00k   100.00     1.20k    60.00%\n\
            \x20 20000 requests in 10.00s, 80.00MB read\nRequests/sec:   1999.50\nTransfer/sec:      8.00MB\n";
        assert_eq!(wrk_rate(wrk), Some(1999.5));
        assert_eq!(wrk_latency_ms(wrk), Some(12.5));
        assert_eq!(wrk_latency_ms("    Latency   850.00us  1ms"), Some(0.85));
        let redis =
            "SET: rps=0.0 (overall: -nan) avg_msec=-nan\r\rSET: 3976.14 requests per second, \
            p50=11.863 msec\nGET: 3913.89 requests per second, p50=12.295 msec\n";
        assert_eq!(redis_result(redis, "SET"), Some((3976.14, 11.863)));
        assert_eq!(redis_result(redis, "GET"), Some((3913.89, 12.295)));
        assert_eq!(redis_result(redis, "LPUSH"), None);
        let json = br#"{"start":{},"end":{"sum_received":{"bits_per_second":123456789.5}}}"#;
        assert_eq!(iperf3_bits(json), Some(123456789.5));
        assert_eq!(iperf3_bits(b"iperf3: error"), None);
    }

    #[test]
    fn the_guest_script_starts_each_server() {
        let s = guest_script(&[Server::Nginx, Server::Redis, Server::Iperf3], Some(600));
        assert!(s.contains("/proc/meminfo; sleep 10; done) &"), "{s}");
        assert!(s.contains("/usr/sbin/nginx -c /tmp/nginx.conf &"), "{s}");
        assert!(s.contains("/usr/bin/redis-server --port 6379"), "{s}");
        assert!(s.contains("/usr/bin/iperf3 -s -p 5201"), "{s}");
        assert!(s.ends_with("wait\n"));
        let init = String::from_utf8(linux_init(&s)).unwrap();
        assert!(
            init.contains("insmod /.coracle-bench/modules/virtio_net.ko"),
            "{init}"
        );
        assert!(init.contains("ip addr add 10.0.2.15/24 dev eth0"), "{init}");
    }
}
