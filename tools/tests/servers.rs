//! Real servers in Coracle under real load (issue 13): Debian's nginx under `wrk` and
//! redis-server under `redis-benchmark`, python3's http.server and a Go net/http program under
//! curl, each published with `-p 127.0.0.1:PORT:...` and driven from the host, and a Debian
//! client in the guest reaching a server on the host through the gateway 10.0.2.2.
//!
//! The servers come from the compat suite's cached Debian root (`coracle_compat_tests::
//! debian_root`, built once with debootstrap); the clients are host packages (wrk, redis-tools,
//! curl: the README's first command installs them). Load is bounded (10 s of wrk, 10,000
//! redis requests) and goes to 127.0.0.1 only. A server VM runs until the test connects to
//! its published control port ([`CONTROL_PORT`] in the guest), or is killed with its QEMU if
//! it does not stop, so a failing test never leaves a VM behind. (Not stdin: reading the
//! serial console spins today, which starves the network on the CPU that runs it.)

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Guest memory for a VM running the Debian root (packed into the initrd, unpacked into RAM).
const DEBIAN_MEMORY: &str = "1536";
/// How long a server VM may take to boot and answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(120);

fn debian() -> PathBuf {
    coracle_compat_tests::debian_root()
        .unwrap_or_else(|why| panic!("the Debian root filesystem cannot be had: {why}"))
}

/// A free TCP port on 127.0.0.1 (bound then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn host_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{name} not found: install it (see the README's first line)"))
}

/// The guest port a server VM's stop waiter listens on.
const CONTROL_PORT: u16 = 7999;
/// How long a server VM may take to stop once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// A server VM: `coracle run -p 127.0.0.1:PORT:GUEST_PORT -p 127.0.0.1:CTL:7999 ...`.
struct ServerVm {
    child: Option<Child>,
    port: u16,
    control: u16,
}

impl ServerVm {
    /// Starts `args` (after `coracle run -p ... -p ...`) with the guest's `guest_port` and
    /// [`CONTROL_PORT`] published.
    fn start(guest_port: u16, args: &[&str]) -> Self {
        let port = free_port();
        let control = free_port();
        let spec = format!("127.0.0.1:{port}:{guest_port}");
        let control_spec = format!("127.0.0.1:{control}:{CONTROL_PORT}");
        let child = Command::new(env!("CARGO_BIN_EXE_coracle"))
            .args(["run", "-p", &spec, "-p", &control_spec])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run coracle");
        Self {
            child: Some(child),
            port,
            control,
        }
    }

    /// Waits until `probe` (connecting to the published port) succeeds; QEMU accepts at once
    /// and drops the connection while nothing listens in the guest yet.
    fn wait_ready(&mut self, probe: impl Fn(u16) -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if probe(self.port) {
                return;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                let out = self.stop();
                panic!("the server VM ended before answering:\n{}", describe(&out));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let out = self.stop();
        panic!("the server never answered:\n{}", describe(&out));
    }

    /// Connects to the control port (the guest stops its server and exits) and collects the
    /// VM's output; a VM that does not stop in time is killed, with its QEMU.
    fn stop(&mut self) -> Output {
        let mut child = self.child.take().expect("stopped once");
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut asked = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return child.wait_with_output().expect("wait for coracle");
            }
            if !asked {
                // QEMU accepts for the guest at once; only a guest that answers with an end
                // of stream has seen the connection.
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.control)) {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = s.write_all(b"stop\n");
                    asked = matches!(s.read(&mut [0u8; 16]), Ok(0));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        kill_with_children(&child);
        let mut out = child.wait_with_output().expect("wait for coracle");
        out.stderr
            .extend_from_slice(b"\n(the VM did not stop: killed)\n");
        out
    }
}

impl Drop for ServerVm {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// Kills coracle (our child) and the processes it started (its QEMU), by their pids.
fn kill_with_children(child: &Child) {
    let pid = child.id();
    let mut pids = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: the comm may hold spaces, so split after its ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pid) {
                if let Ok(child_pid) = entry.file_name().to_string_lossy().parse() {
                    pids.push(child_pid);
                }
            }
        }
    }
    for pid in pids.into_iter().rev() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A guest shell script that starts `server` in the background, stops it when the test
/// connects to the control port, and exits with 0 when the server was still running then (it
/// died under load otherwise).
fn guest_script(setup: &str, server: &str) -> String {
    format!(
        "set -e; {setup}\n{server} &\npid=$!\n/usr/bin/python3 -c {STOP_WAITER}\n\
         kill -0 $pid || {{ echo 'the server died' >&2; exit 1; }}\nkill $pid; wait $pid || true\n"
    )
}

/// python3 in the guest waiting for the control connection (quoted for the shell).
const STOP_WAITER: &str = "'import socket; s = socket.create_server((\"\", 7999)); \
     c, _ = s.accept(); c.recv(16); c.close()'";

/// One HTTP/1.0 GET to 127.0.0.1:PORT; the whole response, or `None` on any failure.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    text.starts_with("HTTP/").then_some(text)
}

fn curl(port: u16, path: &str) -> Output {
    Command::new(host_tool("curl"))
        .args(["-sS", "--max-time", "20", "-D", "-"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl")
}

/// The page the HTTP servers serve: 4 KiB of known text.
fn page() -> String {
    (0..64)
        .map(|i| format!("line {i:03} of the test page, padded to 64 bytes.......\n"))
        .collect()
}

/// Writes the page into the guest at /tmp/www/index.html (the shell's printf of a fixed
/// pattern, so the script stays short).
const WRITE_PAGE: &str = "mkdir -p /tmp/www; i=0; while [ $i -lt 64 ]; do \
     printf 'line %03d of the test page, padded to 64 bytes.......\\n' $i; i=$((i+1)); \
     done > /tmp/www/index.html";

/// nginx's configuration. `master_process off`: a master running as root makes its workers
/// drop to `nobody` with setgid and setuid, which Coracle does not have yet (ENOSYS, issue
/// 17); one process then serves everything.
const NGINX_CONF: &str = "master_process off; error_log stderr; pid /tmp/nginx.pid; \
     daemon off; events { worker_connections 512; } http { access_log off; \
     client_body_temp_path /tmp/nginx-body; proxy_temp_path /tmp/nginx-proxy; \
     fastcgi_temp_path /tmp/nginx-fastcgi; uwsgi_temp_path /tmp/nginx-uwsgi; \
     scgi_temp_path /tmp/nginx-scgi; server { listen 8080; root /tmp/www; } }";

/// nginx serves a file under `wrk -t2 -c50 -d10s` with no socket error and no non-2xx answer.
#[test]
fn nginx_serves_a_file_under_wrk() {
    let root = debian();
    let setup = format!("{WRITE_PAGE}; printf '%s\\n' '{NGINX_CONF}' > /tmp/nginx.conf");
    let script = guest_script(&setup, "/usr/sbin/nginx -c /tmp/nginx.conf");
    let mut vm = start_debian(&root, 8080, &["--cpus", "2"], &script);
    vm.wait_ready(|port| http_get(port, "/index.html").is_some_and(|r| r.contains(" 200 ")));

    let body = curl(vm.port, "/index.html");
    let text = String::from_utf8_lossy(&body.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("Server: nginx"), "{text}");
    assert!(text.ends_with(&page()), "{text}");

    let url = format!("http://127.0.0.1:{}/index.html", vm.port);
    let wrk = Command::new(host_tool("wrk"))
        .args(["-t2", "-c50", "-d10s", "--timeout", "10s", &url])
        .output()
        .expect("run wrk");
    let report = String::from_utf8_lossy(&wrk.stdout).into_owned();
    let out = vm.stop();
    assert!(
        wrk.status.success(),
        "wrk failed: {report}{}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{report}\n{}", describe(&out));
    assert!(!report.contains("Socket errors"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    let requests = wrk_requests(&report);
    assert!(requests > 0, "{report}");
    eprintln!("{report}");
}

/// The N of wrk's "N requests in ...".
fn wrk_requests(report: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0)
}

/// redis-server answers `redis-benchmark -q -t get,set -n 10000` with no error, and a value
/// set from the host reads back.
///
/// redis-benchmark opens its 50 connections at once: they all reach the guest only because
/// `coracle` raises the backlog of QEMU's published port (`coracle_tools::hostfwd`).
#[test]
fn redis_answers_redis_benchmark() {
    let root = debian();
    let script = guest_script(
        "true",
        "/usr/bin/redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' \
         --appendonly no --daemonize no --loglevel warning",
    );
    let mut vm = start_debian(&root, 6379, &["--cpus", "2"], &script);
    let cli = host_tool("redis-cli");
    vm.wait_ready(|port| {
        Command::new(&cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| o.stdout == b"PONG\n")
    });
    let port = vm.port.to_string();
    let redis_cli = |args: &[&str]| {
        let out = Command::new(&cli)
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        redis_cli(&["set", "greeting", "hello from the host"]),
        "OK\n"
    );
    assert_eq!(redis_cli(&["get", "greeting"]), "hello from the host\n");

    let bench = Command::new(host_tool("redis-benchmark"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-q",
            "-t",
            "get,set",
            "-n",
            "10000",
        ])
        .output()
        .expect("run redis-benchmark");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&bench.stdout),
        String::from_utf8_lossy(&bench.stderr)
    );
    assert_eq!(redis_cli(&["dbsize"]), "2\n", "{report}");
    let out = vm.stop();
    assert!(bench.status.success(), "{report}\n{}", describe(&out));
    assert_eq!(out.status.code(), Some(0), "{report}\n{}", describe(&out));
    for test in ["SET", "GET"] {
        let line = report
            .split(['\r', '\n'])
            .find(|l| l.starts_with(&format!("{test}: ")) && l.contains("requests per second"));
        assert!(line.is_some(), "no {test} result in:\n{report}");
    }
    assert!(!report.to_lowercase().contains("error"), "{report}");
    eprintln!("{report}");
}

/// python3's http.server serves the page to curl.
#[test]
fn python_http_server_answers_curl() {
    let root = debian();
    let script = guest_script(
        WRITE_PAGE,
        "/usr/bin/python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp/www",
    );
    let mut vm = start_debian(&root, 8000, &[], &script);
    vm.wait_ready(|port| http_get(port, "/index.html").is_some_and(|r| r.contains(" 200 ")));
    for _ in 0..3 {
        let body = curl(vm.port, "/index.html");
        let text = String::from_utf8_lossy(&body.stdout);
        assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");
        assert!(text.contains("Server: SimpleHTTP/"), "{text}");
        assert!(text.ends_with(&page()), "{text}");
    }
    let missing = curl(vm.port, "/missing");
    assert!(
        String::from_utf8_lossy(&missing.stdout).starts_with("HTTP/1.0 404"),
        "{}",
        String::from_utf8_lossy(&missing.stdout)
    );
    let out = vm.stop();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

const GO_SERVER: &str = r#"package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

func main() {
	// Stops when the test connects to the control port, as the test's other server VMs do.
	stop, err := net.Listen("tcp", ":7999")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		c, err := stop.Accept()
		if err == nil {
			c.Read(make([]byte, 16))
		}
		os.Exit(0)
	}()
	var hits atomic.Int64
	http.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		fmt.Fprintf(w, "hello %s from Go, request %d\n", r.URL.Query().Get("name"), n)
	})
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	})
	if err := http.ListenAndServe(":8081", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
"#;

/// Builds the Go server, static, into a scratch directory.
fn build_go_server() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-test-goserver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), GO_SERVER).unwrap();
    std::fs::write(dir.join("go.mod"), "module goserver\n\ngo 1.19\n").unwrap();
    let exe = dir.join("goserver");
    let built = Command::new(host_tool("go"))
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        .current_dir(&dir)
        .env("CGO_ENABLED", "0")
        .output()
        .expect("run go build");
    assert!(built.status.success(), "go build: {}", describe(&built));
    exe
}

/// A static Go net/http server answers curl: GETs with a query, and a POST echoed back.
#[test]
fn go_net_http_answers_curl() {
    let exe = build_go_server();
    let mut vm = ServerVm::start(8081, &["--cpus", "2", exe.to_str().unwrap()]);
    vm.wait_ready(|port| http_get(port, "/hello").is_some_and(|r| r.contains(" 200 ")));
    for n in 2..5 {
        let out = curl(vm.port, "/hello?name=curl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(
            text.ends_with(&format!("hello curl from Go, request {n}\n")),
            "{text}"
        );
    }
    let body: String = (0..2000).map(|i| format!("{i},")).collect();
    let out = Command::new(host_tool("curl"))
        .args(["-sS", "--max-time", "20", "--data-binary", &body])
        .arg(format!("http://127.0.0.1:{}/echo", vm.port))
        .output()
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), body);
    let out = vm.stop();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Starts the Debian root's `/bin/sh -c SCRIPT` with `guest_port` published.
fn start_debian(root: &Path, guest_port: u16, extra: &[&str], script: &str) -> ServerVm {
    let mut args = vec!["-m", DEBIAN_MEMORY, "-w", "/"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", root.to_str().unwrap(), "/bin/sh", "-c", script]);
    ServerVm::start(guest_port, &args)
}

/// A Debian client in the guest (python3's urllib) reaches a server on the host's 127.0.0.1
/// through the gateway 10.0.2.2.
#[test]
fn guest_python_client_reaches_the_host_through_the_gateway() {
    let root = debian();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 21\r\n\r\nfrom the host's side\n")
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let code = format!(
        "import urllib.request\n\
         r = urllib.request.urlopen('http://10.0.2.2:{port}/from-python', timeout=30)\n\
         print(r.status, r.read().decode(), end='')\n"
    );
    let out = common::coracle(&[
        "run",
        "-m",
        DEBIAN_MEMORY,
        "-w",
        "/",
        "--",
        root.to_str().unwrap(),
        "/usr/bin/python3",
        "-c",
        &code,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 from the host's side\n"
    );
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /from-python HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("User-Agent: Python-urllib/"), "{request}");
}
