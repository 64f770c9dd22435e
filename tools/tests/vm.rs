//! `coracle run` with a real VM, for what only the kernel can show: fault reports and the
//! statuses of a failed kernel or a killed program. Runs under TCG unless CORACLE_ACCEL says
//! otherwise.

mod common;

use common::{build_c, coracle, stderr};

/// Runs a real VM (TCG unless CORACLE_ACCEL says otherwise): a deliberate kernel fault must be
/// reported readably and end with status 125, not hang or look like the program's status.
#[test]
fn kernel_fault_reports_registers_and_backtrace_and_exits_125() {
    if !std::path::Path::new("/bin/busybox").exists() {
        panic!("/bin/busybox is missing: install busybox-static");
    }
    let out = coracle(&[
        "run",
        "--kernel-arg",
        "coracle.selftest=fault",
        "/bin/busybox",
        "true",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(125), "{err}");
    for needle in [
        "the kernel failed",
        "KERNEL FAULT: page fault",
        "RIP 0xffffffff8",
        "CR2 0xffffff00dead0000",
        "backtrace",
        "#0: 0x",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

/// A kernel allocation that fails (the heap cannot grow: at boot in too small a VM, where
/// `-m 4` used to end in a panic and its backtrace) is an out-of-memory failure that says to
/// give the VM more memory, with the failure status, not a kernel panic.
#[test]
fn a_failed_kernel_allocation_says_to_give_more_memory() {
    let exe = build_c(
        "hello",
        "#include <stdio.h>\nint main(void){ puts(\"hello\"); return 0; }\n",
    );
    let out = coracle(&[
        "run",
        "--kernel-arg",
        "coracle.selftest=alloc",
        exe.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("KERNEL FAILURE: out of memory: memory allocation of")
            && err.contains("give the VM more memory (-m)"),
        "{err}"
    );
    assert!(!err.contains("KERNEL PANIC"), "{err}");
}

/// A store to a kernel address from user mode kills the program (SIGSEGV, 139); the kernel
/// survives and reports it.
#[test]
fn user_store_to_kernel_memory_is_sigsegv_139() {
    let exe = build_c(
        "kstore",
        "int main(void){ *(volatile int*)0xffffffff80100000UL = 1; return 0; }\n",
    );
    let out = coracle(&["run", "--verbose", exe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(139), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("program killed by SIGSEGV"),
        "{}",
        stderr(&out)
    );
}

/// Running out of memory is never a kernel panic: MAP_POPULATE of more than the VM has is
/// ENOMEM, and a page fault with no free frame kills the program with a clear message and
/// status 137 (SIGKILL, as Linux's OOM killer).
#[test]
fn out_of_memory_is_enomem_then_an_oom_kill_137() {
    let exe = build_c(
        "oom",
        r#"#include <stdio.h>
#include <errno.h>
#include <sys/mman.h>
int main(void) {
    void *p = mmap(0, 96 << 20, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    printf("populate: %s\n", p == MAP_FAILED && errno == ENOMEM ? "ENOMEM" : "mapped");
    fflush(stdout);
    char *q = mmap(0, 1UL << 30, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    for (unsigned long i = 0; i < (1UL << 30); i += 4096) q[i] = 1;
    puts("survived");
    return 0;
}
"#,
    );
    let out = coracle(&["run", "--verbose", "-m", "64M", exe.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(137), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "populate: ENOMEM\n");
    assert!(
        err.contains("out of memory: killed process 1 (oom)"),
        "{err}"
    );
}

/// A root filesystem directory: COMMAND is found in the container's PATH, the working
/// directory is `-w` (created by the kernel) and PATH is docker's default.
#[test]
fn rootfs_command_runs_in_its_workdir() {
    let root = std::env::temp_dir().join(format!("coracle-vm-rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("/bin/busybox is missing: install busybox-static");
    let out = coracle(&[
        "run",
        "-w",
        "/work",
        root.to_str().unwrap(),
        "busybox",
        "sh",
        "-c",
        "pwd; echo \"$PATH\"",
    ]);
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/work\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
}

/// Boots with `--cpus N` and `coracle.selftest=smp`: the kernel starts the other CPUs, each
/// logs a line, and it checks IPIs, per-CPU timers and TLB shootdowns between them (see
/// kernel/src/arch/x86_64/selftest.rs); then the program runs as usual.
fn smp_selftest(cpus: u32) {
    let n = cpus.to_string();
    let out = coracle(&[
        "run",
        "--cpus",
        &n,
        "--verbose",
        "--kernel-arg",
        "coracle.selftest=smp",
        "/bin/busybox",
        "echo",
        "after the test",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after the test\n");
    let summary = format!("smp: {cpus} cpus online, ipi ok, timer ok, tlb ok, tsc_aux ok\n");
    assert!(err.contains(&summary), "missing {summary:?} in:\n{err}");
    for cpu in 1..cpus {
        let line = format!("smp: CPU {cpu} up (APIC id {cpu})");
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
    }
    assert!(
        !err.contains(&format!("smp: CPU {cpus} up")),
        "more CPUs than asked for:\n{err}"
    );
}

#[test]
fn smp_selftest_one_cpu() {
    smp_selftest(1);
}

#[test]
fn smp_selftest_two_cpus() {
    smp_selftest(2);
}

#[test]
fn smp_selftest_four_cpus() {
    smp_selftest(4);
}

/// `coracle.selftest=cow`: fork's copy-on-write in the kernel's page tables (shared until a
/// write, a copy for the writer, a take-over for the last holder, every frame back after).
#[test]
fn cow_selftest() {
    let out = coracle(&[
        "run",
        "--verbose",
        "--kernel-arg",
        "coracle.selftest=cow",
        "/bin/busybox",
        "true",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cow: ok"), "{err}");
}

/// A `#!` script as the container's COMMAND: the kernel runs its interpreter from the image
/// with the script's path, as execve does, and the interpreter may fork and exec.
#[test]
fn a_script_entrypoint_runs_through_its_interpreter() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("coracle-vm-script-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    let script = dir.join("entry.sh");
    std::fs::write(
        &script,
        "#!/bin/busybox sh\necho \"$0 $1\"\n/bin/busybox sh -c 'exit 5'; echo $?\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = coracle(&["run", dir.to_str().unwrap(), "/entry.sh", "a"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/entry.sh a\n5\n");
}

/// The memory floors: program pages are mapped from the page cache (not copied at exec), file
/// data lives in frames (not a heap fixed at half of RAM), and the initrd's pages are given
/// back as they are unpacked. Debian's static busybox (1.9 MB) runs in 6 MiB (it needed
/// 12 MiB before; 7 MiB while every input port of the virtio-serial device, `coracle exec`'s
/// included, kept 32 receive buffers of 4 KiB posted) and a static hello in 4 MiB (5 MiB
/// then; 3 MiB before the streams moved to virtio-serial, whose output buffers take half a
/// MiB).
#[test]
fn busybox_runs_in_6_mib_and_a_static_hello_in_4() {
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: install busybox-static"
    );
    let out = coracle(&["run", "-m", "6", "/bin/busybox", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");

    let exe = build_c(
        "hello",
        "#include <stdio.h>\nint main(void){ puts(\"hello\"); return 0; }\n",
    );
    let out = coracle(&["run", "-m", "4", exe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
}
