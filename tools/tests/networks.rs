//! VMs talking to each other and to a tap device, end to end: `coracle network create`, a
//! server VM started `-d --name db --network N` and client VMs on the same network reaching
//! it by name; `--network tap:DEV` inside a network namespace the test makes. Frames stay on
//! the network's multicast group on 127.0.0.1 or inside the namespace; request counts are
//! bounded. Every test removes its VMs, networks and namespace however it ends.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const BUSYBOX: &str = "/bin/busybox";

/// Where busybox is inside the VM: a host program is packed at its canonical path.
fn guest_busybox() -> String {
    std::fs::canonicalize(BUSYBOX)
        .expect("/bin/busybox is missing: install busybox-static")
        .to_string_lossy()
        .into_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A program running in its own process group, its output going to files; the whole group
/// is killed when it is dropped (a failed assertion, a panic), so no VM outlives the test.
struct Spawned {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Spawned {
    /// Starts `cmd`, its stdout and stderr in `dir/NAME.out` and `dir/NAME.err`.
    fn start(mut cmd: Command, dir: &Path, name: &str) -> Self {
        let out = dir.join(format!("{name}.out"));
        let err = dir.join(format!("{name}.err"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .process_group(0)
            .spawn()
            .expect("spawn");
        Spawned { child, out, err }
    }

    /// Waits until it ends, at most `limit`; None when it did not end (then it was killed).
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    /// Whether it is still running.
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Kills its whole process group (QEMU dies with coracle: see `--pdeathsig`).
    fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.running() {
            self.kill();
        }
    }
}

/// A runtime directory of the test's own (so its VMs and networks are its own), and what to
/// remove from it at the end, even when an assertion failed.
struct Runtime {
    dir: PathBuf,
    vms: Vec<String>,
    networks: Vec<String>,
}

impl Runtime {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("coracle-net-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Runtime {
            dir,
            vms: Vec::new(),
            networks: Vec::new(),
        }
    }

    fn coracle(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_coracle"))
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run coracle")
    }

    /// Runs `args`, expects status 0, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.coracle(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "coracle {args:?}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn network(&mut self, name: &str, extra: &[&str]) -> String {
        self.networks.push(name.to_owned());
        let mut args = vec!["network", "create"];
        args.extend_from_slice(extra);
        args.push(name);
        self.ok(&args).trim().to_owned()
    }

    /// `coracle run -d --name NAME ARGS...`.
    fn detached(&mut self, name: &str, args: &[&str]) -> String {
        self.vms.push(name.to_owned());
        let mut all = vec!["run", "-d", "--name", name];
        all.extend_from_slice(args);
        self.ok(&all).trim().to_owned()
    }

    fn state(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.join("coracle/vms").join(id).join("state.json"))
            .unwrap_or_default()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for vm in &self.vms {
            let _ = self.coracle(&["rm", "-f", vm]);
        }
        for network in &self.networks {
            let _ = self.coracle(&["network", "rm", network]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A shell loop for the guest: tries `command` up to `tries` times, half a second apart
/// (the server VM may still be booting), and exits 0 at its first success.
fn retried(command: &str, tries: u32) -> String {
    let bb = guest_busybox();
    format!(
        "i=0; while [ $i -lt {tries} ]; do {command} && exit 0; i=$((i+1)); {bb} sleep 0.5; \
         done; exit 1"
    )
}

/// A shell snippet for the guest: `nc HOST PORT` tried up to 20 times, half a second apart
/// (the server VM may still be booting), until an attempt receives anything; then prints what
/// it received and ends with that attempt's status. Each attempt is bounded by `timeout`, so
/// a client that never sees the end of the stream fails (143) instead of waiting forever,
/// and one that got an answer does not try again a server that answers once.
fn nc_once(host: &str, port: u16) -> String {
    let bb = guest_busybox();
    format!(
        "i=0; while [ $i -lt 20 ]; do {bb} timeout 15 {bb} nc {host} {port} </dev/null >/got; \
         s=$?; [ -s /got ] && break; i=$((i+1)); {bb} sleep 0.5; done; {bb} cat /got; exit $s"
    )
}

/// The README's case: an app VM talks to its database VM by name. `db` serves a file over
/// HTTP on the network; a client VM started later fetches it as `http://db:8080/`, finds
/// `db` in its /etc/hosts, and has the next address; the records hold both addresses;
/// `network rm` refuses while `db` runs and succeeds once it is gone.
#[test]
fn a_client_vm_reaches_a_server_vm_by_name() {
    let mut rt = Runtime::new("byname");
    let id = rt.network("appnet", &["--subnet", "10.77.0.0/24"]);
    assert_eq!(id.len(), 12, "{id:?}");
    let ls = rt.ok(&["network", "ls"]);
    assert!(ls.contains("appnet") && ls.contains("10.77.0.0/24"), "{ls}");

    let bb = guest_busybox();
    let server = format!(
        "{bb} mkdir -p /www && echo served by db > /www/index.html && \
         exec {bb} httpd -f -p 8080 -h /www"
    );
    let db = rt.detached("db", &["--network", "appnet", BUSYBOX, "sh", "-c", &server]);
    let state = rt.state(&db);
    assert!(
        state.contains("\"network\": \"appnet\"") && state.contains("\"address\": \"10.77.0.2\""),
        "{state}"
    );

    // `db` resolves through /etc/hosts (resolv.conf says so).
    let client =
        format!(
        "{bb} grep -x '10.77.0.2\tdb' /etc/hosts && {bb} grep -q 'names are in /etc/hosts' /etc/resolv.conf \
         && {bb} grep -q '^10.77.0.3	' /etc/hosts && {}",
        retried(&format!("{bb} timeout 10 {bb} wget -q -O - http://db:8080/"), 40)
    );
    let out = rt.coracle(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        BUSYBOX,
        "sh",
        "-c",
        &client,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "client:\n{}{}\ndb's log:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        rt.ok(&["logs", "db"])
    );
    assert!(
        text(&out.stdout).ends_with("served by db\n"),
        "{}",
        text(&out.stdout)
    );

    let busy = rt.coracle(&["network", "rm", "appnet"]);
    assert_ne!(busy.status.code(), Some(0));
    assert!(
        text(&busy.stderr).contains("running VMs (db)"),
        "{}",
        text(&busy.stderr)
    );
    rt.ok(&["rm", "-f", "db"]);
    rt.ok(&["network", "rm", "appnet"]);
    assert!(!rt.ok(&["network", "ls"]).contains("appnet"));
    let gone = rt.coracle(&["run", "--network", "appnet", BUSYBOX, "true"]);
    assert_eq!(gone.status.code(), Some(125));
    assert!(
        text(&gone.stderr).contains("no such network: appnet"),
        "{}",
        text(&gone.stderr)
    );
}

/// VMs started at the same moment still get one address each (taken under the networks'
/// lock; without it this caught a shared address in one run of three) and each other's
/// names, and machines of both kinds (virtio-mmio on microvm, virtio-pci on q35) talk on the
/// same segment.
#[test]
fn vms_started_together_get_their_own_addresses() {
    let mut rt = Runtime::new("together");
    rt.network("busy", &["--subnet", "10.79.0.0/24"]);
    let bb = guest_busybox();
    let names = ["a", "b", "c"];
    rt.vms.extend(names.iter().map(|n| n.to_string()));
    let starts: Vec<_> = names
        .iter()
        .map(|name| {
            let machine = if *name == "b" { "q35" } else { "microvm" };
            Command::new(env!("CARGO_BIN_EXE_coracle"))
                .args(["run", "-d", "--name", name, "--machine", machine])
                .args(["--network", "busy", BUSYBOX, "sh", "-c"])
                .arg(format!("echo from {name} | exec {bb} nc -l -p 7000"))
                .env("XDG_RUNTIME_DIR", &rt.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run coracle")
        })
        .collect();
    let mut addresses = Vec::new();
    for start in starts {
        let out = start.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let state = rt.state(text(&out.stdout).trim());
        let at = state.find("\"address\": \"").expect("an address") + 12;
        addresses.push(state[at..at + state[at..].find('"').unwrap()].to_owned());
    }
    addresses.sort();
    assert_eq!(addresses, ["10.79.0.2", "10.79.0.3", "10.79.0.4"]);
    // Each lists the other two, whatever their boot-time lists had (whoever's control socket
    // came up last told the others and was told them).
    for name in names {
        let others: Vec<String> = names
            .iter()
            .filter(|n| **n != name)
            .map(|n| format!("\t{n}\n"))
            .collect();
        let end = Instant::now() + Duration::from_secs(60);
        let hosts = loop {
            let hosts = text(&rt.coracle(&["exec", name, &bb, "cat", "/etc/hosts"]).stdout);
            if others.iter().all(|line| hosts.contains(line)) || Instant::now() >= end {
                break hosts;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        assert!(
            others.iter().all(|line| hosts.contains(line)),
            "{name}'s /etc/hosts:\n{hosts}"
        );
    }
    // The q35 VM reaches the other two by name.
    let fetch = |peer: &str| nc_once(peer, 7000);
    let out = rt.coracle(&[
        "run",
        "--rm",
        "--machine",
        "q35",
        "--network",
        "busy",
        BUSYBOX,
        "sh",
        "-c",
        &format!("({}) && ({})", fetch("a"), fetch("c")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from a\nfrom c\n");
}

/// A server whose PID 1 writes its answer and exits at once (busybox `nc -e` execs `echo` on
/// the connection) is heard to the end: its client VM gets the answer and the end of the
/// stream. Before the VM closed its sockets and waited for its peers at shutdown, the FIN
/// (and at times the answer) was lost with the VM and the client waited forever. Several
/// rounds, as the loss depended on timing.
#[test]
fn a_server_vm_that_answers_and_exits_at_once_is_heard_to_the_end() {
    let mut rt = Runtime::new("lastword");
    rt.network("lastword", &["--subnet", "10.76.0.0/24"]);
    let bb = guest_busybox();
    for round in 0..3 {
        let name = format!("srv{round}");
        let server = format!("echo ready; exec {bb} nc -l -p 7000 -e {bb} echo answer {round}");
        rt.detached(
            &name,
            &["--network", "lastword", BUSYBOX, "sh", "-c", &server],
        );
        // Its server is listening (or about to: a refused connect is tried again).
        let end = Instant::now() + Duration::from_secs(120);
        while !rt.coracle(&["logs", &name]).stdout.starts_with(b"ready") && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(200));
        }
        // The client stops trying once a connection gave it anything, and reports how that
        // connection ended.
        let client = nc_once(&name, 7000);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coracle"));
        cmd.args([
            "run",
            "--rm",
            "--network",
            "lastword",
            BUSYBOX,
            "sh",
            "-c",
            &client,
        ])
        .env("XDG_RUNTIME_DIR", &rt.dir);
        let mut vm = Spawned::start(cmd, &rt.dir, &format!("client{round}"));
        let status = vm.wait(Duration::from_secs(240));
        assert!(
            status.is_some_and(|s| s.success()) && vm.stdout() == format!("answer {round}\n"),
            "round {round}: client {status:?}:\n{}{}\nserver's log:\n{}",
            vm.stdout(),
            vm.stderr(),
            text(&rt.coracle(&["logs", &name]).stdout)
        );
    }
}

/// A second network gets the next default subnet, and its VMs neither list nor reach the
/// first network's VMs, while a VM on the first does. The probe from the second network
/// claims an address of the first's subnet (`--kernel-arg coracle.ip=`, which comes after the
/// tool's), so that the server's address is on its segment card rather than behind the user
/// network's gateway (whose NAT would send the probe off the host): its frames do not reach
/// the first network's segment.
#[test]
fn networks_are_isolated_from_each_other() {
    let mut rt = Runtime::new("isolated");
    rt.network("one", &[]);
    rt.network("two", &[]);
    let ls = rt.ok(&["network", "ls"]);
    assert!(
        ls.contains("172.18.0.0/16") && ls.contains("172.19.0.0/16"),
        "{ls}"
    );
    let bb = guest_busybox();
    rt.detached(
        "server",
        &[
            "--network",
            "one",
            BUSYBOX,
            "sh",
            "-c",
            &format!("echo up | exec {bb} nc -l -p 7000"),
        ],
    );
    // From its own network the server answers; from the other one's segment, 172.18.0.2 is
    // nowhere.
    let same = rt.coracle(&[
        "run",
        "--rm",
        "--network",
        "one",
        BUSYBOX,
        "sh",
        "-c",
        &retried(
            &format!("{bb} timeout 15 {bb} nc server 7000 </dev/null | {bb} grep up"),
            40,
        ),
    ]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        text(&same.stdout),
        text(&same.stderr)
    );
    let other = rt.coracle(&[
        "run",
        "--rm",
        "--network",
        "two",
        "--kernel-arg",
        "coracle.ip=172.18.0.9/16",
        BUSYBOX,
        "sh",
        "-c",
        &format!("{bb} grep -q server /etc/hosts && echo listed; {bb} nc -w 2 172.18.0.2 7000 </dev/null; echo status $?"),
    ]);
    let got = text(&other.stdout);
    assert!(
        !got.contains("listed") && got.contains("status 1"),
        "{got}{}",
        text(&other.stderr)
    );
}

/// A network namespace with a tap device in it, removed when dropped.
struct Netns {
    name: String,
    server: Option<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip(8)");
    assert!(
        out.status.success(),
        "ip {args:?}: {} (this test makes a network namespace: run it as root)",
        text(&out.stderr)
    );
}

impl Netns {
    /// `ip netns add NAME`, a tap device `dev` in it with the user network's gateway address
    /// 10.0.2.2/24 (the guest keeps 10.0.2.15), and lo up.
    fn new(name: &str, dev: &str) -> Self {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name]);
        let ns = Netns {
            name: name.to_owned(),
            server: None,
        };
        ip(&["-n", name, "link", "set", "lo", "up"]);
        ip(&["-n", name, "tuntap", "add", "dev", dev, "mode", "tap"]);
        ip(&["-n", name, "addr", "add", "10.0.2.2/24", "dev", dev]);
        ip(&["-n", name, "link", "set", dev, "up"]);
        ns
    }

    fn exec(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// `--network tap:DEV`: a guest client fetches a file from a server on the tap's host side,
/// then the host side fetches the guest's answer from a server that is the guest's PID 1 and
/// exits as soon as it answered, all inside a namespace the test made (nothing else sees the
/// tap). The host side's client must see the answer and the end of the stream: the VM's
/// last segments go out before it stops. (The guest's `nc -l` accepts once: when that one
/// connection's answer was lost with the VM, every later attempt found nobody, and the test
/// waited out its two minutes.)
#[test]
fn tap_device_in_a_network_namespace() {
    let www = std::env::temp_dir().join(format!("coracle-net-tap-www-{}", std::process::id()));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("f"), "from the namespace\n").unwrap();
    let ns_name = format!("coracle-t{}", std::process::id());
    let mut ns = Netns::new(&ns_name, "ctap0");
    ns.server = Some(
        ns.exec(Path::new(BUSYBOX))
            .args(["httpd", "-f", "-p", "10.0.2.2:8080", "-h"])
            .arg(&www)
            .spawn()
            .expect("start busybox httpd in the namespace"),
    );
    let bb = guest_busybox();
    let script = format!(
        "({}) || exit 1; exec {bb} timeout 60 {bb} nc -l -p 8081 -e {bb} echo from the guest",
        retried(
            &format!("{bb} timeout 10 {bb} wget -q -O - http://10.0.2.2:8080/f"),
            40
        )
    );
    let mut cmd = ns.exec(Path::new(env!("CARGO_BIN_EXE_coracle")));
    cmd.args([
        "run",
        "--network",
        "tap:ctap0",
        BUSYBOX,
        "sh",
        "-c",
        &script,
    ]);
    let mut vm = Spawned::start(cmd, &www, "vm");
    // The host side's client, tried again while the guest boots and fetches (each attempt
    // bounded by `timeout`, all of them by two minutes), until one gets an answer or the VM
    // has ended.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last: Option<Output> = None;
    while Instant::now() < deadline && vm.running() {
        let out = ns
            .exec(Path::new(BUSYBOX))
            .args(["timeout", "10", BUSYBOX, "nc", "10.0.2.15", "8081"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let got = !out.stdout.is_empty();
        last = Some(out);
        if got {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = vm.wait(Duration::from_secs(60));
    let diagnostics = |what: &str| {
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(["-n", &ns_name])
                .args(args)
                .output()
                .map(|o| text(&o.stdout))
                .unwrap_or_default()
        };
        format!(
            "{what}\nhost client: {:?}\nVM {status:?}, stdout:\n{}\nstderr:\n{}\n\
             ip neigh:\n{}\nip -s link:\n{}",
            last.as_ref()
                .map(|o| (o.status, text(&o.stdout), text(&o.stderr))),
            vm.stdout(),
            vm.stderr(),
            ip(&["neigh"]),
            ip(&["-s", "link"])
        )
    };
    let host = last.as_ref().map(|o| (o.status.success(), text(&o.stdout)));
    assert_eq!(
        host,
        Some((true, "from the guest\n".to_owned())),
        "{}",
        diagnostics("the host side's client did not get the answer and its end")
    );
    assert!(
        status.is_some_and(|s| s.success()) && vm.stdout() == "from the namespace\n",
        "{}",
        diagnostics("the guest's fetch")
    );
    drop(vm);
    let _ = std::fs::remove_dir_all(&www);
}

/// `--read-only` still gets the container's /etc/hosts, /etc/hostname and /etc/resolv.conf
/// (Docker bind-mounts them over a read-only root), here on a Coracle network, and they stay
/// read-only with the rest of the root.
#[test]
fn read_only_root_gets_the_network_files() {
    let mut rt = Runtime::new("readonly");
    rt.network("ronet", &["--subnet", "10.78.0.0/24"]);
    let bb = guest_busybox();
    let out = rt.coracle(&[
        "run",
        "--rm",
        "--name",
        "rovm",
        "--read-only",
        "--network",
        "ronet",
        "--hostname",
        "ro-host",
        "--add-host",
        "extra:10.78.0.99",
        "--dns",
        "10.78.0.53",
        BUSYBOX,
        "sh",
        "-c",
        &format!(
            "{bb} cat /etc/hostname; {bb} grep -v '^#' /etc/hosts | {bb} tail -n 2; \
             {bb} cat /etc/resolv.conf; \
             {bb} uname -n; echo x > /etc/hosts || echo refused"
        ),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "ro-host\n10.78.0.99\textra\n10.78.0.2\tro-host rovm\n\
         nameserver 10.78.0.53\nro-host\nrefused\n"
    );
}

/// Waits up to `limit` until `coracle logs VM` holds `needle`; returns the log.
fn wait_for_log(rt: &Runtime, vm: &str, needle: &str, limit: Duration) -> Result<String, String> {
    let end = Instant::now() + limit;
    loop {
        let log = text(&rt.coracle(&["logs", vm]).stdout);
        if log.contains(needle) {
            return Ok(log);
        }
        if Instant::now() >= end {
            return Err(log);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Names follow the network's live VMs in both directions, as Docker's embedded DNS has
/// them: a client VM started BEFORE its server reaches it by name once it is up; the name
/// stops resolving when the server is removed, even after its supervisor was killed (then
/// `coracle rm` speaks for it); a replacement server at another address is reached at its
/// new one; a VM stopped as usual is dropped too. The client's root is read-only (Docker's
/// /etc/hosts is writable from outside all the same). Before, /etc/hosts was fixed at boot:
/// the client never found `db`.
#[test]
fn names_follow_vms_started_and_removed_after_the_client() {
    let mut rt = Runtime::new("follow");
    rt.network("follow", &["--subnet", "10.75.0.0/24"]);
    let bb = guest_busybox();
    let fetch = format!("{bb} timeout 10 {bb} wget -q -O - http://db:8080/");
    let listed = |name: &str| format!("{bb} grep -q '[[:space:]]{name}$' /etc/hosts");
    // Each phase is bounded by its try count (half a second apart, 240 tries).
    let client = format!(
        "i=0; until {fetch} >/w/got; do i=$((i+1)); [ $i -gt 240 ] && exit 1; {bb} sleep 0.5; \
         done; echo first: $({bb} cat /w/got); \
         i=0; while {db}; do i=$((i+1)); [ $i -gt 240 ] && exit 2; {bb} sleep 0.5; done; \
         echo db gone; \
         i=0; until {fetch} >/w/got && {bb} grep -q db2 /w/got; do i=$((i+1)); \
         [ $i -gt 240 ] && exit 3; {bb} sleep 0.5; done; echo second: $({bb} cat /w/got); \
         {bb} grep -v '^#' /etc/hosts | {bb} grep -e '[[:space:]]db$' -e filler; \
         i=0; while {filler}; do i=$((i+1)); [ $i -gt 240 ] && exit 4; {bb} sleep 0.5; done; \
         echo filler gone",
        db = listed("db"),
        filler = listed("filler"),
    );
    rt.detached(
        "app",
        &[
            "--network",
            "follow",
            "--read-only",
            "--tmpfs",
            "/w",
            BUSYBOX,
            "sh",
            "-c",
            &client,
        ],
    );
    // A `db` on the network serving `answer`; returns its id.
    let start_db = |rt: &mut Runtime, answer: &str| {
        let script = format!(
            "{bb} mkdir -p /www && echo {answer} > /www/index.html && \
             exec {bb} httpd -f -p 8080 -h /www"
        );
        rt.detached("db", &["--network", "follow", BUSYBOX, "sh", "-c", &script])
    };
    let limit = Duration::from_secs(180);
    let diagnose = |rt: &Runtime, log: String| {
        format!(
            "app's log:\n{log}\n{}",
            text(&rt.coracle(&["logs", "app"]).stderr)
        )
    };
    let db1 = start_db(&mut rt, "served by db1");
    wait_for_log(&rt, "app", "first: served by db1", limit)
        .unwrap_or_else(|l| panic!("{}", diagnose(&rt, l)));

    // Its supervisor killed, `db` is dead but still listed until `coracle rm`.
    let state = rt.state(&db1);
    let at = state.find("\"pid\": ").expect("a pid") + 7;
    let pid = &state[at..at + state[at..].find(',').unwrap()];
    let killed = Command::new("kill").args(["-KILL", pid]).status().unwrap();
    assert!(killed.success(), "kill {pid}");
    let end = Instant::now() + limit;
    while !rt.ok(&["ps", "-a"]).contains("Dead") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    rt.ok(&["rm", "db"]);
    wait_for_log(&rt, "app", "db gone", limit).unwrap_or_else(|l| panic!("{}", diagnose(&rt, l)));

    // The old address goes to `filler`, so the new `db` gets another one.
    rt.detached("filler", &["--network", "follow", BUSYBOX, "sleep", "600"]);
    start_db(&mut rt, "served by db2");
    wait_for_log(&rt, "app", "\tfiller\n", limit)
        .unwrap_or_else(|l| panic!("{}", diagnose(&rt, l)));
    rt.ok(&["rm", "-f", "filler"]);
    let log = wait_for_log(&rt, "app", "filler gone", limit)
        .unwrap_or_else(|l| panic!("{}", diagnose(&rt, l)));
    assert_eq!(
        log,
        "first: served by db1\ndb gone\nsecond: served by db2\n10.75.0.3\tfiller\n\
         10.75.0.4\tdb\nfiller gone\n"
    );
}

/// The README's web case: `web`, on a Coracle network, publishes its port with `-p` (QEMU's
/// user network forwards it through the VM's second card) and answers a client on the host
/// at 127.0.0.1, while a VM of the network reaches it by name on the segment and reaches a
/// server on the host's 127.0.0.1 through the user network's gateway 10.0.2.2 (outbound
/// traffic: the default route leaves by the second card, from 10.0.2.15). The VM also reaches
/// `web` over IPv6 on the segment, at the ULA the tool derives from its IPv4 address.
#[test]
fn a_vm_on_a_network_publishes_ports_and_reaches_the_host() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let mut rt = Runtime::new("publish");
    rt.network("pubnet", &["--subnet", "10.81.0.0/24"]);
    let bb = guest_busybox();
    // A free host port for `-p` (the listener is closed before QEMU takes the port).
    let published = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!(
        "{bb} mkdir -p /www && echo served by web > /www/index.html && \
         exec {bb} httpd -f -p 8080 -h /www"
    );
    let spec = format!("127.0.0.1:{published}:8080");
    rt.detached(
        "web",
        &[
            "--network",
            "pubnet",
            "-p",
            &spec,
            BUSYBOX,
            "sh",
            "-c",
            &server,
        ],
    );

    // The host's client, bounded: tries for two minutes while the VM boots.
    let end = Instant::now() + Duration::from_secs(120);
    let mut answer = String::new();
    while Instant::now() < end && !answer.contains("served by web") {
        answer.clear();
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", published)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = c.set_write_timeout(Some(Duration::from_secs(10)));
            let _ = c.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            answer = text(&got);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        answer.starts_with("HTTP/1.") && answer.ends_with("served by web\n"),
        "{answer:?}\nweb's log:\n{}",
        text(&rt.coracle(&["logs", "web"]).stdout)
    );

    // A server on the host's 127.0.0.1, answering one connection (at most for four minutes).
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host.local_addr().unwrap().port();
    host.set_nonblocking(true).unwrap();
    let serving = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(240);
        while Instant::now() < end {
            match host.accept() {
                Ok((mut c, from)) => {
                    let _ = c.set_nonblocking(false);
                    let _ = c.write_all(b"from the host\n");
                    return Some(from);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        None
    });
    let client = format!(
        "({}) && {bb} timeout 10 {bb} wget -q -O - 'http://[fd63:6f72:6163::a51:2]:8080/' \
         && ({})",
        retried(
            &format!("{bb} timeout 10 {bb} wget -q -O - http://web:8080/"),
            40
        ),
        nc_once("10.0.2.2", host_port)
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coracle"));
    cmd.args([
        "run",
        "--rm",
        "--network",
        "pubnet",
        BUSYBOX,
        "sh",
        "-c",
        &client,
    ])
    .env("XDG_RUNTIME_DIR", &rt.dir);
    let mut vm = Spawned::start(cmd, &rt.dir, "client");
    let status = vm.wait(Duration::from_secs(240));
    assert!(
        status.is_some_and(|s| s.success())
            && vm.stdout() == "served by web\nserved by web\nfrom the host\n",
        "client {status:?}:\n{}{}",
        vm.stdout(),
        vm.stderr()
    );
    let from = serving.join().unwrap();
    assert!(from.is_some_and(|a| a.ip().is_loopback()), "{from:?}");
}
