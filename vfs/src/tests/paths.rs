//! Path resolution (Linux namei): components, `.` and `..`, mounts, symlinks, trailing
//! slashes, limits, search permission, and getcwd's reverse walk.

use super::*;
use crate::inode::same_inode;
use crate::Lookup;

/// /a/b/f ("data"), /a/dir, /a/secret (0700, owned by root) holding s.
fn tree(fx: &Fx) -> (Arc<dyn Inode>, Arc<dyn Inode>, Arc<dyn Inode>) {
    let a = mkdir(&fx.root, "a");
    let b = mkdir(&a, "b");
    let f = mkfile(&b, "f", b"data");
    mkdir(&a, "dir");
    let secret = a
        .create(b"secret", NewNode::Directory, 0o700, 0, 0)
        .unwrap();
    mkfile(&secret, "s", b"");
    (a, b, f)
}

fn resolve(fx: &Fx, base: &Arc<dyn Inode>, path: &str, follow: bool) -> Result<Lookup> {
    fx.vfs.resolve(&fx.su, base, path.as_bytes(), follow)
}

fn parent(fx: &Fx, base: &Arc<dyn Inode>, path: &str, follow: bool) -> Result<Lookup> {
    fx.vfs.resolve_parent(&fx.su, base, path.as_bytes(), follow)
}

fn is(l: &Lookup, inode: &Arc<dyn Inode>) -> bool {
    same_inode(l.inode.as_ref().expect("found"), inode)
}

#[test]
fn absolute_and_relative_paths() {
    let fx = Fx::new();
    let (a, b, f) = tree(&fx);
    let l = resolve(&fx, &fx.root, "/a/b/f", true).unwrap();
    assert!(is(&l, &f));
    assert!(same_inode(&l.dir, &b));
    assert_eq!(l.name, b"f");
    assert!(!l.trailing_slash);
    assert!(is(&resolve(&fx, &a, "b/f", true).unwrap(), &f));
    // An absolute path ignores the base.
    assert!(is(&resolve(&fx, &b, "/a", true).unwrap(), &a));
    // Repeated slashes are one.
    assert!(is(&resolve(&fx, &fx.root, "//a///b//f", true).unwrap(), &f));
    let l = resolve(&fx, &fx.root, "/", true).unwrap();
    assert!(is(&l, &fx.root));
    assert!(same_inode(&l.dir, &fx.root));
    assert_eq!(l.name, b"");
    assert!(!l.has_name());
}

#[test]
fn dot_and_dotdot() {
    let fx = Fx::new();
    let (a, b, f) = tree(&fx);
    assert!(is(&resolve(&fx, &a, ".", true).unwrap(), &a));
    assert!(is(&resolve(&fx, &a, "./b/./f", true).unwrap(), &f));
    assert!(is(&resolve(&fx, &b, "..", true).unwrap(), &a));
    assert!(is(&resolve(&fx, &b, "../../a/b/../b/f", true).unwrap(), &f));
    // `..` at the root stays there.
    assert!(is(&resolve(&fx, &fx.root, "/..", true).unwrap(), &fx.root));
    assert!(is(
        &resolve(&fx, &fx.root, "/../../../a", true).unwrap(),
        &a
    ));
    assert!(is(&resolve(&fx, &fx.root, "..", true).unwrap(), &fx.root));
}

#[test]
fn dotdot_stops_at_the_callers_root() {
    let fx = Fx::new();
    let (a, b, f) = tree(&fx);
    let jailed = caller(0, 0, &a);
    let r = |base: &Arc<dyn Inode>, p: &str| {
        fx.vfs
            .resolve(&jailed, base, p.as_bytes(), true)
            .map(|l| l.inode.unwrap())
    };
    assert!(same_inode(&r(&b, "../../..").unwrap(), &a));
    assert!(same_inode(&r(&fx.root, "/b/f").unwrap(), &f));
    assert!(same_inode(&r(&fx.root, "/../b/f").unwrap(), &f));
    assert_eq!(err(r(&fx.root, "/a")), Errno::ENOENT);
    // Absolute symlinks resolve inside the jail too.
    symlink(&b, "abs", "/dir");
    assert!(r(&b, "abs").unwrap().stat().is_dir());
    assert_eq!(fx.vfs.path_of(&jailed, &b).unwrap(), b"/b");
    assert_eq!(fx.vfs.path_of(&jailed, &a).unwrap(), b"/");
    // Outside the jail there is no path.
    assert_eq!(err(fx.vfs.path_of(&jailed, &fx.root)), Errno::ENOENT);
}

#[test]
fn crossing_mounts_both_ways() {
    let fx = Fx::new();
    let x = mkdir(&fx.mnt, "x");
    let inner = mkfile(&x, "inner", b"");
    // The covered directory's own contents are hidden.
    mkfile(&fx.mnt_point, "hidden", b"");
    let l = resolve(&fx, &fx.root, "/mnt", true).unwrap();
    assert!(is(&l, &fx.mnt));
    assert_eq!(l.inode.unwrap().stat().dev, fx.mnt.stat().dev);
    assert!(is(
        &resolve(&fx, &fx.root, "/mnt/x/inner", true).unwrap(),
        &inner
    ));
    assert_eq!(
        err(resolve(&fx, &fx.root, "/mnt/hidden", true)),
        Errno::ENOENT
    );
    // `..` from the mounted root goes to the covered directory's parent.
    assert!(is(&resolve(&fx, &fx.mnt, "..", true).unwrap(), &fx.root));
    assert!(is(&resolve(&fx, &x, "../..", true).unwrap(), &fx.root));
    assert!(is(&resolve(&fx, &x, "../../mnt/x", true).unwrap(), &x));
    assert!(is(
        &resolve(&fx, &fx.root, "/mnt/.", true).unwrap(),
        &fx.mnt
    ));
    // A relative symlink on the mounted filesystem that climbs out.
    symlink(&x, "out", "../../a");
    let a = mkdir(&fx.root, "a");
    assert!(is(&resolve(&fx, &fx.root, "/mnt/x/out", true).unwrap(), &a));
}

#[test]
fn mounts_stack_and_nest() {
    let fx = Fx::new();
    let sub = mkdir(&fx.mnt, "sub");
    let nested = new_tmpfs(fx.clock.clone(), TmpfsOptions::default());
    fx.vfs
        .mount(&sub, nested.clone(), b"tmpfs", b"n", b"rw")
        .unwrap();
    let deep = mkdir(&nested, "deep");
    assert!(is(
        &resolve(&fx, &fx.root, "/mnt/sub/deep", true).unwrap(),
        &deep
    ));
    assert!(is(
        &resolve(&fx, &deep, "../../..", true).unwrap(),
        &fx.root
    ));
    assert_eq!(fx.vfs.path_of(&fx.su, &deep).unwrap(), b"/mnt/sub/deep");
    // A second mount on /mnt covers the first.
    let top = new_tmpfs(fx.clock.clone(), TmpfsOptions::default());
    fx.vfs
        .mount(&fx.mnt_point, top.clone(), b"tmpfs", b"t", b"rw")
        .unwrap();
    assert!(is(&resolve(&fx, &fx.root, "/mnt", true).unwrap(), &top));
    assert_eq!(fx.vfs.mounts().len(), 4);
    // Mounting on a file is refused.
    let f = mkfile(&fx.root, "f", b"");
    let other = new_tmpfs(fx.clock.clone(), TmpfsOptions::default());
    assert_eq!(
        err(fx.vfs.mount(&f, other, b"tmpfs", b"", b"")),
        Errno::ENOTDIR
    );
}

#[test]
fn trailing_slashes() {
    let fx = Fx::new();
    let (a, _, _) = tree(&fx);
    assert_eq!(err(resolve(&fx, &fx.root, "/a/b/f/", true)), Errno::ENOTDIR);
    assert_eq!(
        err(resolve(&fx, &fx.root, "/a/b/f/.", true)),
        Errno::ENOTDIR
    );
    let l = resolve(&fx, &fx.root, "/a/", true).unwrap();
    assert!(is(&l, &a));
    assert!(l.trailing_slash);
    assert_eq!(l.name, b"a");
    // A trailing slash follows a final symlink even with follow off.
    symlink(&fx.root, "ld", "a");
    let l = resolve(&fx, &fx.root, "/ld", false).unwrap();
    assert_eq!(l.inode.unwrap().stat().file_type(), FileType::Symlink);
    let l = resolve(&fx, &fx.root, "/ld/", false).unwrap();
    assert!(is(&l, &a));
    // A symlink to a file with a trailing slash.
    symlink(&fx.root, "lf", "a/b/f");
    assert_eq!(err(resolve(&fx, &fx.root, "/lf/", true)), Errno::ENOTDIR);
    // A symlink whose own target ends in a slash demands a directory.
    symlink(&fx.root, "lfs", "a/b/f/");
    assert_eq!(err(resolve(&fx, &fx.root, "/lfs", true)), Errno::ENOTDIR);
    // A missing last component with a trailing slash (mkdir "new/").
    let l = parent(&fx, &fx.root, "/a/new/", false).unwrap();
    assert!(l.inode.is_none() && l.trailing_slash);
    assert_eq!(l.name, b"new");
}

#[test]
fn symlinks_relative_and_absolute() {
    let fx = Fx::new();
    let (a, b, f) = tree(&fx);
    symlink(&a, "rel", "b/f");
    symlink(&a, "abs", "/a/b/f");
    symlink(&a, "up", "../a/b");
    symlink(&b, "dot", ".");
    for p in [
        "/a/rel",
        "/a/abs",
        "/a/up/f",
        "/a/b/dot/dot/f",
        "/a/up/../b/f",
    ] {
        assert!(is(&resolve(&fx, &fx.root, p, true).unwrap(), &f), "{p}");
    }
    // `..` after a symlink is taken from where the link led, not lexically.
    symlink(&fx.root, "deep", "a/b");
    assert!(is(&resolve(&fx, &fx.root, "/deep/..", true).unwrap(), &a));
    // The directory of the last component is the one the link led to.
    let l = resolve(&fx, &fx.root, "/a/rel", true).unwrap();
    assert!(same_inode(&l.dir, &b));
    assert_eq!(l.name, b"f");
    // follow = false stops at the link itself.
    let l = resolve(&fx, &fx.root, "/a/rel", false).unwrap();
    assert_eq!(l.inode.unwrap().stat().file_type(), FileType::Symlink);
    assert!(same_inode(&l.dir, &a));
    assert_eq!(l.name, b"rel");
    // ... but not at links in the middle.
    assert!(is(&resolve(&fx, &fx.root, "/a/up/f", false).unwrap(), &f));
    // A link to "/" names the root.
    symlink(&fx.root, "slash", "/");
    let l = resolve(&fx, &fx.root, "/slash", true).unwrap();
    assert!(is(&l, &fx.root));
    // An empty target names nothing.
    symlink(&fx.root, "empty", "");
    assert_eq!(err(resolve(&fx, &fx.root, "/empty", true)), Errno::ENOENT);
}

#[test]
fn forty_links_resolve_and_forty_one_loop() {
    let fx = Fx::new();
    mkfile(&fx.root, "target", b"");
    // l1 -> l2 -> ... -> l40 -> target: 40 links followed.
    for i in 1..=40 {
        let next = if i == 40 {
            std::string::String::from("target")
        } else {
            std::format!("l{}", i + 1)
        };
        symlink(&fx.root, &std::format!("l{i}"), &next);
    }
    let l = resolve(&fx, &fx.root, "/l1", true).unwrap();
    assert_eq!(l.name, b"target");
    assert_eq!(l.inode.unwrap().stat().file_type(), FileType::Regular);
    // One more in front: 41.
    symlink(&fx.root, "l0", "l1");
    assert_eq!(err(resolve(&fx, &fx.root, "/l0", true)), Errno::ELOOP);
    // Not following the last one counts one fewer.
    assert!(resolve(&fx, &fx.root, "/l0", false).is_ok());
    // The count is per resolution, shared by links in the middle.
    mkdir(&fx.root, "d");
    symlink(&fx.root, "ld", "d");
    assert!(resolve(&fx, &fx.root, "/ld/../l2", true).is_ok());
    assert_eq!(err(resolve(&fx, &fx.root, "/ld/../l1", true)), Errno::ELOOP);
}

#[test]
fn self_and_mutual_loops() {
    let fx = Fx::new();
    symlink(&fx.root, "self", "self");
    symlink(&fx.root, "ping", "pong");
    symlink(&fx.root, "pong", "ping");
    for p in ["/self", "/ping", "/self/x"] {
        assert_eq!(err(resolve(&fx, &fx.root, p, true)), Errno::ELOOP, "{p}");
    }
    assert_eq!(err(parent(&fx, &fx.root, "/self", true)), Errno::ELOOP);
    assert!(resolve(&fx, &fx.root, "/self", false).is_ok());
}

#[test]
fn dangling_symlinks() {
    let fx = Fx::new();
    let (a, _, _) = tree(&fx);
    symlink(&fx.root, "dangle", "a/newname");
    assert_eq!(err(resolve(&fx, &fx.root, "/dangle", true)), Errno::ENOENT);
    // What open(O_CREAT) needs: where the link points.
    let l = parent(&fx, &fx.root, "/dangle", true).unwrap();
    assert!(l.inode.is_none());
    assert!(same_inode(&l.dir, &a));
    assert_eq!(l.name, b"newname");
    // Without following, the link itself.
    let l = parent(&fx, &fx.root, "/dangle", false).unwrap();
    assert_eq!(l.inode.unwrap().stat().file_type(), FileType::Symlink);
    assert_eq!(l.name, b"dangle");
    // A link into a missing directory leads nowhere.
    symlink(&fx.root, "nowhere", "/missing/x");
    assert_eq!(err(parent(&fx, &fx.root, "/nowhere", true)), Errno::ENOENT);
}

#[test]
fn resolve_parent_of_a_missing_name() {
    let fx = Fx::new();
    let (_, b, f) = tree(&fx);
    let l = parent(&fx, &fx.root, "/a/b/new", true).unwrap();
    assert!(l.inode.is_none() && !l.trailing_slash);
    assert!(same_inode(&l.dir, &b));
    assert_eq!(l.name, b"new");
    assert!(l.has_name());
    let l = parent(&fx, &fx.root, "/a/b/f", true).unwrap();
    assert!(is(&l, &f));
    assert_eq!(
        err(parent(&fx, &fx.root, "/a/missing/new", true)),
        Errno::ENOENT
    );
    assert_eq!(
        err(parent(&fx, &fx.root, "/a/b/f/new", true)),
        Errno::ENOTDIR
    );
}

#[test]
fn lookup_names_for_dot_dotdot_and_slash_endings() {
    let fx = Fx::new();
    let (a, b, _) = tree(&fx);
    let l = parent(&fx, &fx.root, "/a/b/.", true).unwrap();
    assert_eq!(l.name, b".");
    assert!(!l.has_name());
    assert!(is(&l, &b));
    let l = parent(&fx, &fx.root, "/a/b/..", true).unwrap();
    assert_eq!(l.name, b"..");
    assert!(!l.has_name());
    assert!(is(&l, &a));
    let l = parent(&fx, &fx.root, "/a/b/", true).unwrap();
    assert_eq!(l.name, b"b");
    assert!(l.has_name() && l.trailing_slash);
    let l = parent(&fx, &fx.root, "///", true).unwrap();
    assert_eq!(l.name, b"");
    assert!(!l.has_name());
    assert!(is(&l, &fx.root));
    let l = parent(&fx, &a, ".", true).unwrap();
    assert_eq!(l.name, b".");
    assert!(is(&l, &a));
}

#[test]
fn length_limits() {
    let fx = Fx::new();
    let (a, _, _) = tree(&fx);
    assert_eq!(err(resolve(&fx, &fx.root, "", true)), Errno::ENOENT);
    assert_eq!(err(parent(&fx, &fx.root, "", true)), Errno::ENOENT);
    // PATH_MAX counts the NUL: 4095 bytes resolve, 4096 do not.
    let ok = std::format!("{}a", "/".repeat(4094));
    assert_eq!(ok.len(), 4095);
    assert!(is(&resolve(&fx, &fx.root, &ok, true).unwrap(), &a));
    let long = std::format!("{}a", "/".repeat(4095));
    assert_eq!(
        err(resolve(&fx, &fx.root, &long, true)),
        Errno::ENAMETOOLONG
    );
    assert_eq!(err(parent(&fx, &fx.root, &long, true)), Errno::ENAMETOOLONG);
    // NAME_MAX: 255 is a name (missing here), 256 is too long, wherever it is.
    let n255 = "n".repeat(255);
    let n256 = "n".repeat(256);
    assert_eq!(
        err(resolve(&fx, &fx.root, &std::format!("/a/{n255}"), true)),
        Errno::ENOENT
    );
    let l = parent(&fx, &fx.root, &std::format!("/a/{n255}"), true).unwrap();
    assert_eq!(l.name.len(), 255);
    for p in [
        std::format!("/a/{n256}"),
        std::format!("/a/{n256}/x"),
        std::format!("/{n256}/.."),
    ] {
        assert_eq!(err(resolve(&fx, &fx.root, &p, true)), Errno::ENAMETOOLONG);
        assert_eq!(err(parent(&fx, &fx.root, &p, true)), Errno::ENAMETOOLONG);
    }
}

#[test]
fn a_file_used_as_a_directory() {
    let fx = Fx::new();
    let (_, _, f) = tree(&fx);
    assert_eq!(
        err(resolve(&fx, &fx.root, "/a/b/f/x", true)),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(resolve(&fx, &fx.root, "/a/b/f/..", true)),
        Errno::ENOTDIR
    );
    // A relative path from a file (openat with a file's fd).
    assert_eq!(err(resolve(&fx, &f, "x", true)), Errno::ENOTDIR);
    symlink(&fx.root, "lf", "/a/b/f");
    assert_eq!(err(resolve(&fx, &fx.root, "/lf/x", true)), Errno::ENOTDIR);
}

#[test]
fn search_permission() {
    let fx = Fx::new();
    tree(&fx);
    let user = |p: &str| fx.vfs.resolve(&fx.user, &fx.root, p.as_bytes(), true);
    assert_eq!(err(user("/a/secret/s")), Errno::EACCES);
    assert_eq!(err(user("/a/secret/missing")), Errno::EACCES);
    assert_eq!(err(user("/a/secret/.")), Errno::EACCES);
    // The directory itself can be named; only crossing it needs search permission.
    assert!(user("/a/secret").is_ok());
    assert!(resolve(&fx, &fx.root, "/a/secret/s", true).is_ok());
    // Through a symlink too.
    symlink(&fx.root, "ls", "a/secret/s");
    assert_eq!(err(user("/ls")), Errno::EACCES);
    // Group and other bits: a 0o710 directory of group 1000 lets the user through.
    let secret = fx.get("/a/secret").unwrap();
    secret.set_owner(None, Some(1000)).unwrap();
    secret.set_mode(0o710).unwrap();
    assert!(user("/a/secret/s").is_ok());
    secret.set_mode(0o701).unwrap();
    assert_eq!(err(user("/a/secret/s")), Errno::EACCES);
    secret.set_owner(Some(1000), None).unwrap();
    secret.set_mode(0o077).unwrap();
    assert_eq!(err(user("/a/secret/s")), Errno::EACCES, "owner bits win");
}

#[test]
fn path_of_walks_back_up() {
    let fx = Fx::new();
    let (a, b, _) = tree(&fx);
    assert_eq!(fx.vfs.path_of(&fx.su, &fx.root).unwrap(), b"/");
    assert_eq!(fx.vfs.path_of(&fx.su, &a).unwrap(), b"/a");
    assert_eq!(fx.vfs.path_of(&fx.su, &b).unwrap(), b"/a/b");
    assert_eq!(fx.vfs.path_of(&fx.su, &fx.mnt).unwrap(), b"/mnt");
    let x = mkdir(&mkdir(&fx.mnt, "x"), "y");
    assert_eq!(fx.vfs.path_of(&fx.su, &x).unwrap(), b"/mnt/x/y");
    let gone = mkdir(&b, "gone");
    b.rmdir(b"gone").unwrap();
    assert_eq!(err(fx.vfs.path_of(&fx.su, &gone)), Errno::ENOENT);
    // path_in: what /proc/self/fd shows.
    let l = resolve(&fx, &fx.root, "/a/b/f", true).unwrap();
    assert_eq!(fx.vfs.path_in(&fx.su, &l), b"/a/b/f");
    let l = resolve(&fx, &fx.root, "/mnt/x/../x/y/.", true).unwrap();
    assert_eq!(fx.vfs.path_in(&fx.su, &l), b"/mnt/x/y");
    let l = resolve(&fx, &fx.root, "/", true).unwrap();
    assert_eq!(fx.vfs.path_in(&fx.su, &l), b"/");
}
