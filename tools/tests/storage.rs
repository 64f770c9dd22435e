//! `coracle run --read-only`, `--tmpfs` and the overlay root in a real VM: what the program
//! sees of its filesystems, as `docker run` gives them, with the root on a block device (the
//! default) and from the initrd (`--root-device initrd`, as a tmpfs or, with
//! `coracle.root=overlay`, under the overlay).

mod common;

use common::{coracle, stderr};

/// A root filesystem directory with busybox and a file in /etc; removed on drop.
struct Root(std::path::PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let root =
            std::env::temp_dir().join(format!("coracle-storage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/motd"), "image\n").unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("/bin/busybox is missing: install busybox-static");
        Root(root)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn read_only_root_with_tmpfs_mounts() {
    let root = Root::new("ro");
    let script = "echo x > /etc/motd; echo status $?; busybox mkdir /new; cat /etc/motd; \
                  echo ok > /run/f && cat /run/f; busybox stat -c %a /run /scratch; \
                  echo shm > /dev/shm/f && cat /dev/shm/f; \
                  busybox dd if=/dev/zero of=/run/big bs=1024 count=2048 2>&1 | busybox head -n 1; \
                  busybox grep -E ' / | /run | /scratch ' /proc/mounts";
    let out = coracle(&[
        "run",
        "--root-device",
        "initrd",
        "--read-only",
        "--tmpfs",
        "/run:size=1m,mode=755",
        "--tmpfs",
        "/scratch",
        root.path(),
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "status 1\nimage\nok\n755\n1777\nshm\ndd: error writing '/run/big': No space left on device\n\
         rootfs / tmpfs ro,relatime 0 0\n\
         tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=755 0 0\n\
         tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,relatime 0 0\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sh: can't create /etc/motd: Read-only file system\n\
         mkdir: can't create directory '/new': Read-only file system\n"
    );
}

#[test]
fn overlay_root_is_writable_and_read_only_with_read_only() {
    let root = Root::new("overlay");
    let script = "echo changed > /etc/motd; cat /etc/motd; busybox rm /etc/motd; busybox ls /etc; \
                  busybox grep ' / ' /proc/mounts";
    // The image on the drive (the default), then unpacked from the initrd.
    for lower in [
        &[][..],
        &[
            "--root-device",
            "initrd",
            "--kernel-arg",
            "coracle.root=overlay",
        ],
    ] {
        let run = |extra: &[&str]| {
            let mut args = vec!["run"];
            args.extend_from_slice(lower);
            args.extend_from_slice(extra);
            args.extend_from_slice(&[root.path(), "busybox", "sh", "-c", script]);
            coracle(&args)
        };
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(0), "{lower:?}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "changed\nhostname\nhosts\nresolv.conf\noverlay / overlay rw,relatime 0 0\n",
            "{lower:?}"
        );
        assert_eq!(
            std::fs::read_to_string(root.0.join("etc/motd")).unwrap(),
            "image\n"
        );
        let out = run(&["--read-only"]);
        assert_eq!(out.status.code(), Some(0), "{lower:?}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "image\nhostname\nhosts\nmotd\nresolv.conf\noverlay / overlay ro,relatime 0 0\n",
            "{lower:?}"
        );
    }
}

/// Runs `coracle args`, killed (and failing the test) if it has not ended after `secs`
/// seconds: for a bug that hangs the guest.
fn coracle_within(args: &[&str], secs: u64) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coracle");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "coracle {args:?} still ran after {secs} s; stdout {:?}, stderr {}",
                String::from_utf8_lossy(&out.stdout),
                stderr(&out)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A program on the drive that nothing has read yet, run by execve from PID 1 and from a
/// forked child (a shell's `$(...)`): the exec waits for its reads and runs the program (it
/// used to ask for the same page again forever, the inode and its pages dropped with each
/// try, and the page where data meets .bss was read after the point of no return).
#[test]
fn exec_from_the_drive_waits_for_its_reads() {
    let root = Root::new("blkexec");
    // Another file than PID 1's busybox, so that its pages are not cached yet.
    // (busybox runs the applet its file is named after).
    for dir in ["a", "b"] {
        std::fs::create_dir_all(root.0.join(dir)).unwrap();
        std::fs::copy("/bin/busybox", root.0.join(dir).join("echo")).unwrap();
    }
    let script = "x=$(/a/echo forked); echo $x; exec /b/echo exec";
    let out = coracle_within(
        &[
            "run",
            "--root-device",
            "blk",
            root.path(),
            "busybox",
            "sh",
            "-c",
            script,
        ],
        120,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "forked\nexec\n");
}
