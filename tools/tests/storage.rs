//! `coracle run --read-only`, `--tmpfs` and the overlay root (`coracle.root=overlay`) in a real
//! VM: what the program sees of its filesystems, as `docker run` gives them.

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
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--kernel-arg", "coracle.root=overlay"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[root.path(), "busybox", "sh", "-c", script]);
        coracle(&args)
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "changed\nhostname\nhosts\nresolv.conf\noverlay / overlay rw,relatime 0 0\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.0.join("etc/motd")).unwrap(),
        "image\n"
    );
    let out = run(&["--read-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "image\nhostname\nhosts\nmotd\nresolv.conf\noverlay / overlay ro,relatime 0 0\n"
    );
}
