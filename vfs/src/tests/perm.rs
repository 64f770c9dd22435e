//! Linux's permission rules (`generic_permission`, `check_sticky`, `inode_init_owner`) with
//! and without the capabilities that override them.

use crate::perm::{cap, check_access, sticky_ok, MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::types::{Stat, S_IFDIR, S_IFREG, S_ISGID, S_ISVTX};
use crate::{Caller, Errno};

fn who(uid: u32, gid: u32, groups: &[u32], caps: u64) -> Caller {
    let (_, root) = super::tmpfs();
    Caller {
        caps,
        groups: groups.to_vec(),
        ..super::caller(uid, gid, &root)
    }
}

fn file(mode: u32, uid: u32, gid: u32) -> Stat {
    Stat {
        mode: S_IFREG | mode,
        uid,
        gid,
        ..Stat::default()
    }
}

fn dir(mode: u32, uid: u32, gid: u32) -> Stat {
    Stat {
        mode: S_IFDIR | mode,
        ..file(0, uid, gid)
    }
}

#[test]
fn owner_group_other_bits() {
    let user = who(1000, 1000, &[50], 0);
    assert_eq!(
        check_access(&user, &file(0o600, 0, 0), MAY_READ),
        Err(Errno::EACCES)
    );
    assert_eq!(
        check_access(&user, &file(0o640, 0, 0), MAY_READ),
        Err(Errno::EACCES)
    );
    assert!(check_access(&user, &file(0o640, 0, 50), MAY_READ).is_ok());
    // The owner class alone counts for the owner, even when others may do more.
    assert_eq!(
        check_access(&user, &file(0o077, 1000, 0), MAY_READ),
        Err(Errno::EACCES)
    );
}

#[test]
fn capabilities_override() {
    let docker_root = who(0, 0, &[], cap::DOCKER_DEFAULT);
    assert!(check_access(&docker_root, &file(0o000, 1000, 1000), MAY_READ | MAY_WRITE).is_ok());
    // Executing needs some execute bit even with CAP_DAC_OVERRIDE; searching does not.
    assert_eq!(
        check_access(&docker_root, &file(0o666, 0, 0), MAY_EXEC),
        Err(Errno::EACCES)
    );
    assert!(check_access(&docker_root, &file(0o100, 5, 5), MAY_EXEC).is_ok());
    assert!(check_access(&docker_root, &dir(0o000, 5, 5), MAY_EXEC | MAY_WRITE).is_ok());
    // Root without capabilities is an ordinary user.
    let bare_root = who(0, 0, &[], 0);
    assert_eq!(
        check_access(&bare_root, &file(0o600, 1000, 0), MAY_READ),
        Err(Errno::EACCES)
    );
    // CAP_DAC_READ_SEARCH: read files and search directories, nothing else.
    let reader = who(1000, 1000, &[], cap::bit(cap::DAC_READ_SEARCH));
    assert!(check_access(&reader, &file(0o000, 0, 0), MAY_READ).is_ok());
    assert_eq!(
        check_access(&reader, &file(0o000, 0, 0), MAY_WRITE),
        Err(Errno::EACCES)
    );
    assert!(check_access(&reader, &dir(0o000, 0, 0), MAY_EXEC | MAY_READ).is_ok());
    assert_eq!(
        check_access(&reader, &dir(0o000, 0, 0), MAY_WRITE),
        Err(Errno::EACCES)
    );
}

#[test]
fn sticky_directories() {
    let tmp = dir(0o1777, 0, 0);
    let theirs = file(0o644, 2000, 2000);
    let user = who(1000, 1000, &[], 0);
    assert!(!sticky_ok(&user, &tmp, &theirs));
    assert!(sticky_ok(&user, &tmp, &file(0o644, 1000, 0)));
    assert!(sticky_ok(&user, &dir(0o1777, 1000, 0), &theirs));
    assert!(sticky_ok(
        &who(1000, 1000, &[], cap::bit(cap::FOWNER)),
        &tmp,
        &theirs
    ));
    assert!(sticky_ok(&user, &dir(0o777 & !S_ISVTX, 0, 0), &theirs));
}

#[test]
fn setgid_directories_pass_their_group_on() {
    let user = who(1000, 1000, &[], 0);
    let plain = dir(0o777, 0, 50);
    assert_eq!(user.new_owner(&plain, 0o644, false), (1000, 1000, 0o644));
    let sgid = dir(S_ISGID | 0o777, 0, 50);
    assert_eq!(
        user.new_owner(&sgid, 0o755, true),
        (1000, 50, S_ISGID | 0o755)
    );
    // A setgid-executable file in a group the creator is not in loses the bit...
    assert_eq!(
        user.new_owner(&sgid, S_ISGID | 0o755, false),
        (1000, 50, 0o755)
    );
    // ...unless it is a member or has CAP_FSETID.
    let member = who(1000, 1000, &[50], 0);
    assert_eq!(
        member.new_owner(&sgid, S_ISGID | 0o755, false).2,
        S_ISGID | 0o755
    );
    let fsetid = who(1000, 1000, &[], cap::bit(cap::FSETID));
    assert_eq!(
        fsetid.new_owner(&sgid, S_ISGID | 0o755, false).2,
        S_ISGID | 0o755
    );
}
