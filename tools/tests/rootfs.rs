//! The root-filesystem initrd checked against GNU cpio: a test tree is packed, extracted with
//! `cpio -idm --no-absolute-filenames`, and compared field by field with the source; the raw
//! archive is checked for the layout of docs/guest-protocol.md and for reproducibility.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use coracle_tools::env::Environment;
use coracle_tools::initrd::{write_initrd, Records, Root};
use coracle_tools::rootfs::Tree;

/// A fresh scratch directory for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("coracle-rootfs-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?}: {status}");
}

fn touch(path: &Path, mtime: i64) {
    run(Command::new("touch")
        .args(["-h", "-d", &format!("@{mtime}")])
        .arg(path));
}

fn write(path: &Path, data: &[u8], mode: u32) {
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The non-UTF-8 name with spaces in the test tree.
fn odd_name() -> OsString {
    OsString::from_vec(b"with space \xff\xfe.bin".to_vec())
}

/// Builds the test tree at `root`, every mtime fixed (so two builds are identical). Returns
/// whether device nodes could be made (root only).
fn build_tree(root: &Path) -> bool {
    for dir in [
        "etc",
        "bin",
        "a/b/c/d",
        "empty-dir",
        "tmp",
        "run",
        "dev",
        ".coracle",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    write(&root.join("etc/hello.txt"), b"hello, world\n", 0o644);
    write(&root.join("empty"), b"", 0o600);
    write(&root.join("a/b/c/d/deep"), &[7u8; 5000], 0o640);
    write(&root.join("bin/one"), b"\x7fELF not really", 0o755);
    fs::hard_link(root.join("bin/one"), root.join("bin/two")).unwrap();
    write(&root.join("bin/su"), b"setuid", 0o4755);
    write(&root.join("bin").join(odd_name()), b"odd", 0o700);
    write(&root.join(".coracle/argv"), b"must not be packed", 0o644);
    symlink("/etc/hello.txt", root.join("abs-link")).unwrap();
    symlink("../../../etc/hello.txt", root.join("a/b/rel-link")).unwrap();
    symlink("/nowhere", root.join("dangling")).unwrap();
    run(Command::new("mkfifo").arg(root.join("run/fifo")));
    fs::set_permissions(root.join("run/fifo"), fs::Permissions::from_mode(0o620)).unwrap();
    std::os::unix::net::UnixListener::bind(root.join("run/sock")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    let devices = is_root()
        && Command::new("mknod")
            .arg(root.join("dev/null"))
            .args(["c", "1", "3"])
            .status()
            .is_ok_and(|s| s.success());
    if is_root() {
        std::os::unix::fs::chown(root.join("etc/hello.txt"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(root.join("abs-link"), Some(42), Some(43)).unwrap();
    }
    // Children before parents, so setting a directory's mtime is the last change to it.
    let mut all = walk(root);
    all.sort_by(|a, b| b.cmp(a));
    for (i, path) in all.iter().enumerate() {
        touch(path, 1_000_000_000 + i as i64 * 1000);
    }
    touch(root, 999);
    devices
}

/// Every path below `root` (not following symlinks), `root` excluded.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

fn pack(root: &Path) -> (Vec<u8>, Option<String>) {
    let tree = Tree::scan(root).unwrap();
    let argv = [OsString::from("ls"), OsString::from("-l")];
    let mut env = Environment::default();
    env.set("PATH".into(), "/bin".into());
    let records = Records {
        argv: &argv,
        env: &env,
        exec: b"/bin/one",
        cwd: b"/tmp",
        etc: &[],
        user: None,
    };
    let bytes = write_initrd(Vec::new(), &records, Root::Tree(&tree)).unwrap();
    (bytes, tree.skipped_warning())
}

/// One member of a newc archive, read independently of the writer.
#[derive(Debug)]
struct Member {
    name: Vec<u8>,
    fields: [u32; 13],
    data: Vec<u8>,
}

fn members(mut bytes: &[u8]) -> Vec<Member> {
    let mut out = Vec::new();
    loop {
        assert_eq!(&bytes[..6], b"070701");
        let mut fields = [0; 13];
        for (i, f) in fields.iter_mut().enumerate() {
            let hex = std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap();
            assert_eq!(hex, hex.to_uppercase());
            *f = u32::from_str_radix(hex, 16).unwrap();
        }
        let (filesize, namesize) = (fields[6] as usize, fields[11] as usize);
        let name = bytes[110..110 + namesize - 1].to_vec();
        assert_eq!(bytes[110 + namesize - 1], 0);
        let start = (110 + namesize).next_multiple_of(4);
        let data = bytes[start..start + filesize].to_vec();
        bytes = &bytes[(start + filesize).next_multiple_of(4)..];
        if name == b"TRAILER!!!" {
            assert!(bytes.is_empty());
            return out;
        }
        out.push(Member { name, fields, data });
    }
}

#[test]
fn archive_layout_and_reproducibility() {
    let scratch = Scratch::new("layout");
    let root = scratch.0.join("root");
    fs::create_dir(&root).unwrap();
    let devices = build_tree(&root);
    let (bytes, warning) = pack(&root);
    assert_eq!(bytes, pack(&root).0, "packing twice differs");
    // The same tree built again elsewhere (other inode numbers, other host path): same bytes.
    let copy = scratch.0.join("copy");
    fs::create_dir(&copy).unwrap();
    build_tree(&copy);
    assert_eq!(bytes, pack(&copy).0, "an identical tree packs differently");

    let warning = warning.expect("a warning about skipped entries");
    assert!(warning.contains("run/sock (a socket)"), "{warning}");
    assert!(warning.contains(".coracle (a name reserved"), "{warning}");
    assert_eq!(warning.contains("dev/null (a character device)"), devices);
    assert!(!warning.contains('\n'));

    let members = members(&bytes);
    let names: Vec<&[u8]> = members.iter().map(|m| m.name.as_slice()).collect();
    assert_eq!(
        names[..5],
        [
            &b".coracle/argv"[..],
            b".coracle/env",
            b".coracle/exec",
            b".coracle/cwd",
            b"."
        ]
    );
    assert_eq!(members[0].data, b"ls\0-l\0");
    assert_eq!(members[1].data, b"PATH=/bin\0");
    assert_eq!(members[2].data, b"/bin/one");
    assert_eq!(members[3].data, b"/tmp");
    let rest = &names[5..];
    assert!(rest.windows(2).all(|w| w[0] < w[1]), "not sorted: {rest:?}");
    assert!(rest
        .iter()
        .all(|n| !n.starts_with(b"/") && !n.starts_with(b"./")));
    assert!(!rest.contains(&&b"run/sock"[..]) && !rest.contains(&&b"dev/null"[..]));
    assert!(!rest.iter().any(|n| n.starts_with(b".coracle")));
    // `.`: the root's own mode and mtime; nlink 2 + subdirectories.
    let top = &members[4];
    assert_eq!(top.fields[1], 0o040755);
    // etc bin a empty-dir tmp run dev (.coracle is left out)
    assert_eq!(top.fields[4], 2 + 7);
    assert_eq!(top.fields[5], 999);

    // Inodes renumbered 1, 2, 3... in archive order, a hard link reusing its first name's.
    let mut next = 1;
    let mut seen = HashMap::new();
    for m in &members {
        let ino = m.fields[0];
        match seen.get(&ino) {
            Some(first) => assert_eq!(*first, m.fields[1], "{:?}", m.name),
            None => {
                assert_eq!(ino, next, "{:?}", String::from_utf8_lossy(&m.name));
                next += 1;
                seen.insert(ino, m.fields[1]);
            }
        }
        assert_eq!(m.fields[7..11], [0; 4], "dev/rdev of {:?}", m.name);
        assert_eq!(m.fields[12], 0);
    }
    let get = |name: &[u8]| members.iter().find(|m| m.name == name).unwrap();
    let (one, two) = (get(b"bin/one"), get(b"bin/two"));
    assert_eq!(one.fields[0], two.fields[0]);
    assert_eq!((one.fields[4], two.fields[4]), (2, 2));
    assert_eq!(
        (one.data.as_slice(), two.fields[6]),
        (&b"\x7fELF not really"[..], 0)
    );
    let link = get(b"abs-link");
    assert_eq!(
        (link.fields[1], link.data.as_slice()),
        (0o120777, &b"/etc/hello.txt"[..])
    );
    assert_eq!(get(b"run/fifo").fields[1], 0o010620);
    assert_eq!(get(b"bin/su").fields[1], 0o104755);
    assert_eq!(get(b"tmp").fields[1], 0o041777);
    if is_root() {
        assert_eq!(get(b"etc/hello.txt").fields[2..4], [1234, 5678]);
    }
}

#[test]
fn gnu_cpio_extracts_the_same_tree() {
    let scratch = Scratch::new("extract");
    let root = scratch.0.join("root");
    let out = scratch.0.join("out");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&out).unwrap();
    build_tree(&root);
    let (bytes, _) = pack(&root);
    let archive = scratch.0.join("initrd.cpio");
    fs::write(&archive, &bytes).unwrap();
    let result = Command::new("cpio")
        .args(["-idm", "--no-absolute-filenames", "--quiet"])
        .current_dir(&out)
        .stdin(fs::File::open(&archive).unwrap())
        .stderr(Stdio::piped())
        .output()
        .expect("GNU cpio is needed (apt-get install cpio)");
    assert!(
        result.status.success(),
        "cpio failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    // The launch records come out as files; the rest must equal the source tree, less what
    // the archive cannot hold.
    assert_eq!(fs::read(out.join(".coracle/exec")).unwrap(), b"/bin/one");
    let source = describe_tree(&root, &[b".coracle", b"run/sock", b"dev/null"]);
    let extracted = describe_tree(&out, &[b".coracle"]);
    assert_eq!(source.len(), 21, "{:#?}", source.keys());
    for (name, want) in &source {
        let got = extracted
            .get(name)
            .unwrap_or_else(|| panic!("{name:?} not extracted"));
        assert_eq!(got, want, "{name:?}");
    }
    assert_eq!(source.len(), extracted.len(), "{:#?}", extracted.keys());
    // Hard links: the two names are one inode again.
    let ino = |p: &Path| fs::metadata(p).unwrap().ino();
    assert_eq!(ino(&out.join("bin/one")), ino(&out.join("bin/two")));
    assert_ne!(ino(&out.join("bin/one")), ino(&out.join("bin/su")));
    let top = |p: &Path| fs::metadata(p).unwrap().mode();
    assert_eq!(top(&out), top(&root));
    // GNU cpio sets a directory's mtime when it creates it, before its contents change it
    // again; so directory mtimes are compared with the archive headers instead.
    for m in members(&bytes)
        .iter()
        .filter(|m| m.fields[1] & 0o170000 == 0o040000)
    {
        let source = root.join(OsStr::from_bytes(&m.name));
        let want = fs::metadata(&source).unwrap().mtime();
        assert_eq!(i64::from(m.fields[5]), want, "{}", source.display());
    }
}

/// What the comparison looks at, per path below `root` (except `skip` and what is below
/// them): type and permissions, owner (when running as root, which can give files away), size,
/// mtime (not of symlinks, which cpio does not set, nor of directories, see below), content or
/// link target, and for files the number of names of the inode.
fn describe_tree(root: &Path, skip: &[&[u8]]) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    for path in walk(root) {
        let meta = fs::symlink_metadata(&path).unwrap();
        let name = path
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        if skip
            .iter()
            .any(|s| name == *s || name.starts_with(&[*s, b"/"].concat()))
        {
            continue;
        }
        let ft = meta.file_type();
        let mut text = format!("mode {:o}", meta.mode());
        if ft.is_file() {
            text.push_str(&format!(
                " nlink {} size {} data {:?}",
                meta.nlink(),
                meta.len(),
                fs::read(&path).unwrap()
            ));
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).unwrap();
            text.push_str(&format!(" target {:?}", target.as_os_str().as_bytes()));
        }
        if !ft.is_symlink() && !ft.is_dir() {
            text.push_str(&format!(" mtime {}", meta.mtime()));
        }
        if is_root() {
            text.push_str(&format!(" owner {}:{}", meta.uid(), meta.gid()));
        }
        out.insert(name, text);
    }
    assert!(out.contains_key(OsStr::from_bytes(b"bin/with space \xff\xfe.bin").as_bytes()));
    out
}
