//! The kernel's device layer in real VMs: virtio-net found on both machines (virtio-mmio slots
//! from the DSDT on microvm, a virtio-pci function with MSI-X on q35), its interrupt routed,
//! and Ethernet frames exchanged with QEMU's user network (`coracle.selftest=net`: an ARP
//! request for the gateway 10.0.2.2 and its reply). Traffic stays inside QEMU's user network;
//! published ports bind 127.0.0.1 only.

mod common;

use common::{coracle, stderr};

/// The number N in "(N interrupts" of the self test's reply line.
fn interrupts(log: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("selftest: net: ARP reply"))
        .unwrap_or_else(|| panic!("no ARP reply line in:\n{log}"));
    let start = line.find('(').expect("a count") + 1;
    let n = &line[start..];
    n[..n.find(' ').expect("a count")]
        .parse()
        .expect("a number")
}

fn arp_selftest(machine: &str, location: &str) {
    let out = coracle(&[
        "run",
        "--machine",
        machine,
        "--verbose",
        "--kernel-arg",
        "coracle.selftest=net",
        "/bin/busybox",
        "echo",
        "after the test",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after the test\n");
    let found = format!("dev: virtio Network at {location}");
    assert!(err.contains(&found), "missing {found:?} in:\n{err}");
    // QEMU's user network answers for its gateway with this MAC.
    let reply = "selftest: net: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02";
    assert!(err.contains(reply), "missing {reply:?} in:\n{err}");
    assert!(interrupts(&err) >= 1, "the card never interrupted:\n{err}");
}

#[test]
fn virtio_mmio_on_microvm_exchanges_frames_on_interrupts() {
    arp_selftest("microvm", "mmio@0xfeb");
}

#[test]
fn virtio_pci_with_msix_on_q35_exchanges_frames_on_interrupts() {
    arp_selftest("q35", "pci 00:");
}

/// `--network none` adds no card: nothing is found, the self test says so, the program runs.
#[test]
fn network_none_has_no_card() {
    for machine in ["microvm", "q35"] {
        let out = coracle(&[
            "run",
            "--machine",
            machine,
            "--network",
            "none",
            "--verbose",
            "--kernel-arg",
            "coracle.selftest=net",
            "/bin/busybox",
            "true",
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("selftest: net: no virtio-net device"), "{err}");
        assert!(!err.contains("dev: virtio Network"), "{err}");
    }
}

/// A published port is forwarded by QEMU: while the VM runs, the host port is taken (a second
/// bind of it fails); a bad `-p` is refused before anything starts.
#[test]
fn published_ports() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let spec = format!("127.0.0.1:{port}:80");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(["run", "-p", &spec, "/bin/busybox", "sleep", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut taken = false;
    while std::time::Instant::now() < deadline && !taken {
        taken = std::net::TcpListener::bind(("127.0.0.1", port)).is_err();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(taken, "QEMU never listened on 127.0.0.1:{port}");

    // A malformed -p is clap's usage error (2); a -p without the user network is refused by
    // the run (125), as Docker does.
    let out = coracle(&["run", "-p", "80", "/bin/busybox", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("explicit host port"),
        "{}",
        stderr(&out)
    );
    let out = coracle(&[
        "run",
        "--network",
        "none",
        "-p",
        "1:2",
        "/bin/busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
}

/// /etc/hosts, /etc/hostname and /etc/resolv.conf as Docker writes them, and uname's
/// nodename from `--hostname`.
#[test]
fn etc_files_and_hostname() {
    let out = coracle(&[
        "run",
        "--hostname",
        "web",
        "--add-host",
        "db:10.0.2.20",
        "--dns",
        "1.1.1.1",
        "/bin/busybox",
        "cat",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n10.0.2.20\tdb\n10.0.2.15\tweb\nweb\nnameserver 1.1.1.1\n"
    );
    let out = coracle(&["run", "--hostname", "web", "/bin/busybox", "uname", "-n"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "web\n",
        "{}",
        stderr(&out)
    );
    // Without a network: no resolv.conf, and the hosts file has no address for the VM.
    let out = coracle(&[
        "run",
        "--network",
        "none",
        "/bin/busybox",
        "sh",
        "-c",
        "[ ! -e /etc/resolv.conf ] && ! grep -q 10.0.2.15 /etc/hosts && echo ok",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\n",
        "{}",
        stderr(&out)
    );
}

/// A free TCP port on 127.0.0.1 (bound then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A client in the guest reaches a server on the host's 127.0.0.1 through the gateway
/// 10.0.2.2 (busybox wget over the stack, the card, interrupts and QEMU's NAT).
#[test]
fn guest_client_reaches_the_host_through_the_gateway() {
    use std::io::{Read, Write};
    for machine in ["microvm", "q35"] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = [0u8; 512];
            let n = conn.read(&mut request).unwrap();
            conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nfrom the host")
                .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let url = format!("http://10.0.2.2:{port}/path");
        let out = coracle(&[
            "run",
            "--machine",
            machine,
            "/bin/busybox",
            "wget",
            "-q",
            "-O",
            "-",
            &url,
        ]);
        assert_eq!(out.status.code(), Some(0), "{machine}: {}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from the host");
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /path HTTP/1.1\r\n"), "{request}");
    }
}

/// A server in the guest answers a client on the host through `-p 127.0.0.1:PORT:8080`.
#[test]
fn published_port_reaches_a_guest_server() {
    use std::io::Read;
    for machine in ["microvm", "q35"] {
        let port = free_port();
        let spec = format!("127.0.0.1:{port}:8080");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_coracle"))
            .args([
                "run",
                "--machine",
                machine,
                "-p",
                &spec,
                "/bin/busybox",
                "sh",
                "-c",
            ])
            .arg("echo from the guest | nc -l -p 8080")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // QEMU accepts at once and drops the connection while nothing listens in the guest
        // yet: retry until the guest's answer comes (bounded).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut got = Vec::new();
        while got.is_empty() && std::time::Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let _ = s.read_to_end(&mut got);
            }
            if got.is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            "from the guest\n",
            "{machine}: {}",
            stderr(&out)
        );
        assert_eq!(out.status.code(), Some(0), "{machine}: {}", stderr(&out));
    }
}

/// `coracle.cpustats=1` logs each CPU's counters and the system calls by time at shutdown
/// (what the network servers' 2-CPU figures were analysed with).
#[test]
fn cpustats_logs_per_cpu_counters_at_shutdown() {
    let out = coracle(&[
        "run",
        "--cpus",
        "2",
        "--verbose",
        "--kernel-arg",
        "coracle.cpustats=1",
        "/bin/busybox",
        "echo",
        "counted",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "counted\n");
    for cpu in ["cpu 0 over ", "cpu 1 over "] {
        let line = err
            .lines()
            .find(|l| l.contains(cpu))
            .unwrap_or_else(|| panic!("no {cpu:?} line in:\n{err}"));
        for field in [
            "halts=",
            "idle_ms=",
            "picks=",
            "irqs=",
            "sys_ms=",
            "thread_ms=",
        ] {
            assert!(line.contains(field), "no {field} in {line:?}");
        }
    }
    let write = err
        .lines()
        .find(|l| l.contains("syscall write: "))
        .unwrap_or_else(|| panic!("no write(2) line in:\n{err}"));
    assert!(!write.contains(": 0 calls"), "{write}");
    assert!(err.contains("turns waiting for the stack's lock"), "{err}");
}
