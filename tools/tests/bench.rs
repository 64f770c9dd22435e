//! `coracle bench` end to end, for what is a correctness property rather than a timing:
//! in deterministic mode (`--icount`) two runs of a static program execute exactly the same
//! number of instructions in each VM, and the two VMs still print the same thing. Needs the
//! Linux VM, which `coracle bench` prepares itself (from Debian's kernel package) when missing.

mod common;

use common::{build_c, coracle, stderr};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 1000; i++)
        getppid();
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("hello from the guest\n");
    printf("getppid_x1000 %lld ns\n",
           (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}
"#;

/// Runs `coracle bench` with `args` (which ask for the JSON format): its report, stdout and
/// stderr, once it exited with status 0 (else the test fails with both outputs).
fn bench_report(args: &[&str]) -> (serde_json::Value, String, String) {
    let out = coracle(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let report = serde_json::from_str(&text).expect("JSON report");
    (report, text, err)
}

/// The rows of the report's first comparison.
fn rows(report: &serde_json::Value) -> &[serde_json::Value] {
    report["comparisons"][0]["rows"].as_array().expect("rows")
}

/// The row of `metric` (`text`, the whole report, says what there was instead).
fn row<'a>(rows: &'a [serde_json::Value], metric: &str, text: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {text}"))
}

/// Each metric of `metrics` has a positive value in both VMs.
fn assert_positive_in_both_vms(rows: &[serde_json::Value], metrics: &[&str], text: &str) {
    for metric in metrics {
        let row = row(rows, metric, text);
        for side in ["coracle", "linux"] {
            assert_eq!(row[side]["state"], "value", "{side} {row}");
            assert!(row[side]["min"].as_f64().unwrap() > 0.0, "{side} {row}");
        }
    }
}

#[test]
fn icount_repeats_to_the_instruction_and_outputs_match() {
    let exe = build_c("icount", PROGRAM);
    let (report, text, _) = bench_report(&[
        "bench",
        "--icount",
        "-n",
        "2",
        "--format",
        "json",
        exe.to_str().unwrap(),
    ]);
    assert_eq!(report["mode"], "icount", "{text}");
    assert_eq!(report["comparisons"][0]["outputs_match"], true, "{text}");
    let mut checked = Vec::new();
    for row in rows(&report).iter().filter(|r| r["mode"] == "icount") {
        for side in ["coracle", "linux"] {
            let figure = &row[side];
            assert_eq!(figure["state"], "value", "{side} {row}");
            assert_eq!(figure["runs"], 2, "{side} {row}");
            assert!(figure["min"].as_f64().unwrap() > 0.0, "{side} {row}");
            // Two runs, one count: the same to the instruction.
            assert_eq!(figure["min"], figure["max"], "{side} {row}");
        }
        checked.push(row["metric"].as_str().unwrap().to_owned());
    }
    for metric in ["getppid_x1000", "boot: kernel -> program start (guest)"] {
        assert!(
            checked.iter().any(|m| m == metric),
            "{metric} not in {checked:?}"
        );
    }
}

/// Too little memory for the kernel and the initrd is reported as such, with the failure
/// status, instead of a VM that stops silently (QEMU loads the initrd, at the top of RAM, over
/// the kernel image): what `--min-memory` bisects over. (At -m 2 the initrd covers even the
/// entry code at 1 MiB, and nothing in the guest can report anything.)
#[test]
fn too_little_memory_for_the_kernel_is_reported() {
    for (memory, program) in [("3", "/bin/busybox"), ("4", "/bin/busybox")] {
        let out = coracle(&["run", "-m", memory, program, "true"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(125), "-m {memory}: {err}");
        assert!(
            err.contains("out of memory") && err.contains("give the VM more memory (-m)"),
            "-m {memory}: {err}"
        );
    }
}

/// `coracle bench --servers` with tiny loads: nginx and redis from the Debian root answer their
/// host clients in both VMs, and every figure has a value on both sides (the figures
/// themselves are `coracle bench`'s business, not a test's). iperf3 is left out: its host
/// client is not in the README's setup (Debian's package asks a debconf question on install).
#[test]
fn servers_answer_their_host_clients_in_both_vms() {
    let root = coracle_compat_tests::debian_root()
        .unwrap_or_else(|why| panic!("the Debian root filesystem cannot be had: {why}"));
    let (report, text, _) = bench_report(&[
        "bench",
        "--servers",
        "nginx,redis",
        "--accel",
        "tcg",
        "-n",
        "1",
        "-m",
        "1536",
        "--load-seconds",
        "1",
        "--redis-requests",
        "300",
        "--format",
        "json",
        root.to_str().unwrap(),
    ]);
    let metrics = ["nginx_requests", "redis_set_requests", "redis_get_requests"];
    assert_positive_in_both_vms(rows(&report), &metrics, &text);
}

/// `coracle bench --streams` with a small size: in both VMs the program's stdout reached the
/// host pipe and the host pipe reached its stdin, each to the exact byte count (the rates are
/// `coracle bench`'s business, not a test's).
#[test]
fn streams_move_the_exact_byte_count_in_both_vms() {
    let (report, text, _) = bench_report(&[
        "bench",
        "--streams",
        "2",
        "--accel",
        "tcg",
        "-n",
        "1",
        "--timeout",
        "240",
        "--format",
        "json",
    ]);
    let rows = rows(&report);
    let of = |metric: &str| row(rows, metric, &text);
    for stream in ["stdout_to_host_pipe", "stdin_from_host_pipe"] {
        for side in ["coracle", "linux"] {
            let bytes = &of(&format!("{stream}_bytes"))[side];
            assert_eq!(bytes["state"], "value", "{side} {stream}: {text}");
            assert_eq!(
                bytes["min"].as_f64(),
                Some(2.0 * 1024.0 * 1024.0),
                "{side} {stream}"
            );
            let rate = &of(stream)[side];
            assert!(
                rate["min"].as_f64().unwrap() > 0.0,
                "{side} {stream}: {text}"
            );
        }
    }
}

/// `coracle bench --servers nginx --soak 4 --tap`: over a tap device in a network namespace
/// the bench makes (it needs root, as the networks tests do), nginx answers wrk in both VMs
/// through a short soak, and the guest's memory was sampled on both sides (start, end and
/// largest sample present and nonzero). The namespace is gone afterwards.
#[test]
fn soak_over_a_tap_samples_guest_memory_in_both_vms() {
    let root = coracle_compat_tests::debian_root()
        .unwrap_or_else(|why| panic!("the Debian root filesystem cannot be had: {why}"));
    let (report, text, err) = bench_report(&[
        "bench",
        "--servers",
        "nginx",
        "--soak",
        "4",
        "--tap",
        "--accel",
        "tcg",
        "-n",
        "1",
        "-m",
        "1536",
        "--format",
        "json",
        root.to_str().unwrap(),
    ]);
    let metrics = [
        "nginx_soak_requests",
        "nginx_soak_mem_start",
        "nginx_soak_mem_end",
        "nginx_soak_mem_max",
        "nginx_soak_host_cpu",
    ];
    assert_positive_in_both_vms(rows(&report), &metrics, &text);
    assert!(err.contains("nginx soak: guest memory in use"), "{err}");
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let left = String::from_utf8_lossy(&netns.stdout);
    assert!(!left.contains("coracle-bench-"), "{left}");
}
