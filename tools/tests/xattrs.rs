//! Extended attributes of a root filesystem's files in a real VM: a directory with
//! `security.capability` on a program and `user.*` on files and directories becomes the EROFS
//! image on the drive, and a program in Coracle lists and reads them as Linux shows the same
//! tree on the host (the same static program on both sides, `xattrs/dump.c`).

mod common;

use std::path::Path;
use std::process::Command;

use common::{build_c, coracle, stderr};

/// `setcap cap_net_raw+ep`'s `vfs_cap_data` (revision 2).
const CAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The root directory; removed on drop.
struct Root(std::path::PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("{}: setting {name}: {e}", path.display()));
}

#[test]
fn a_program_reads_the_image_s_attributes_as_linux_shows_them() {
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let dump = build_c("xattr-dump", include_str!("xattrs/dump.c"));
    let root = Root(std::env::temp_dir().join(format!("coracle-xattrs-{}", std::process::id())));
    let r = &root.0;
    let _ = std::fs::remove_dir_all(r);
    std::fs::create_dir_all(r.join("bin")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::copy(&dump, r.join("dump")).unwrap();
    std::fs::copy(&dump, r.join("bin/ping")).unwrap();
    std::fs::write(r.join("etc/motd"), "image\n").unwrap();
    std::fs::write(r.join("big"), vec![1u8; 100]).unwrap();
    std::os::unix::fs::symlink("bin/ping", r.join("link")).unwrap();
    set(
        &r.join("bin/ping"),
        "user.mime",
        b"application/x-executable",
    );
    set(&r.join("etc/motd"), "user.a", b"1");
    set(&r.join("etc/motd"), "user.empty", b"");
    set(&r.join("etc"), "user.dir", b"a directory");
    set(&r.join("big"), "user.big", &[b'v'; 3000]);
    if is_root {
        set(&r.join("bin/ping"), "security.capability", &CAP_NET_RAW);
    } else {
        eprintln!("security.capability is left out: setting it takes root");
    }
    let paths = [".", "bin/ping", "etc", "etc/motd", "big", "link", "dump"];
    let host = Command::new(&dump)
        .args(paths)
        .current_dir(r)
        .output()
        .unwrap();
    assert!(host.status.success());
    let want = String::from_utf8(host.stdout).unwrap();
    assert!(want.contains("bin/ping: "), "{want}");
    if is_root {
        assert!(
            want.contains("security.capability: 01 00 00 02 00 20"),
            "{want}"
        );
    }
    let mut args = vec![
        "run",
        "--root-device",
        "blk",
        "-w",
        "/",
        r.to_str().unwrap(),
        "/dump",
    ];
    args.extend(paths);
    let out = coracle(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}
