//! The credential rules of `crate::creds` (set*id, capabilities, exec), each against what
//! Linux's `kernel/sys.c` and `security/commoncap.c` do.

use coracle_vfs::{cap, Errno, S_ISGID, S_ISUID};

use crate::creds::{secbit, Creds, KEEP};

fn root() -> Creds {
    Creds::container(0, 0, &[])
}

fn ids(c: &Creds) -> [u32; 4] {
    [c.uid, c.euid, c.suid, c.fsuid]
}

#[test]
fn root_starts_with_dockers_capabilities() {
    let c = root();
    assert_eq!(c.effective, 0xa804_25fb);
    assert_eq!(c.permitted, 0xa804_25fb);
    assert_eq!(c.bounding, 0xa804_25fb);
    assert_eq!((c.inheritable, c.ambient), (0, 0));
    let user = Creds::container(1000, 1000, &[27, 4, 27]);
    assert_eq!((user.effective, user.permitted), (0, 0));
    assert_eq!(user.groups, [4, 27, 27]);
}

#[test]
fn setuid_as_root_sets_all_and_drops_capabilities() {
    let c = root().setuid(1000).unwrap();
    assert_eq!(ids(&c), [1000; 4]);
    assert_eq!((c.effective, c.permitted), (0, 0));
    assert_eq!(c.bounding, cap::DOCKER_DEFAULT);
    // Back to root is refused now.
    assert_eq!(c.setuid(0), Err(Errno::EPERM));
}

#[test]
fn seteuid_round_trip_keeps_permitted() {
    let c = root().setresuid(KEEP, 1000, KEEP).unwrap();
    assert_eq!(ids(&c), [0, 1000, 0, 1000]);
    assert_eq!(c.effective, 0);
    assert_eq!(c.permitted, cap::DOCKER_DEFAULT);
    let back = c.setresuid(KEEP, 0, KEEP).unwrap();
    assert_eq!(back.effective, cap::DOCKER_DEFAULT);
    // Without CAP_SETUID, setuid only moves the effective id among real and saved.
    let c2 = c.setuid(0).unwrap();
    assert_eq!(ids(&c2), [0, 0, 0, 0]);
}

#[test]
fn setreuid_saved_follows_effective() {
    let c = root().setreuid(1000, 2000).unwrap();
    assert_eq!(ids(&c), [1000, 2000, 2000, 2000]);
    assert_eq!(c.permitted, 0);
    // An unprivileged swap of real and effective is allowed.
    let d = c.setreuid(2000, 1000).unwrap();
    assert_eq!(ids(&d), [2000, 1000, 1000, 1000]);
    assert_eq!(d.setreuid(KEEP, 0), Err(Errno::EPERM));
    // Setting only the effective id to the real one leaves the saved one.
    let e = root().setresuid(1, 2, 3).unwrap();
    let f = e.setreuid(KEEP, 1).unwrap();
    assert_eq!(ids(&f), [1, 1, 3, 1]);
}

#[test]
fn keepcaps_keeps_permitted_over_setuid() {
    let mut c = root();
    c.securebits |= secbit::KEEP_CAPS;
    let d = c.setresuid(1000, 1000, 1000).unwrap();
    assert_eq!(d.permitted, cap::DOCKER_DEFAULT);
    assert_eq!(d.effective, 0);
}

#[test]
fn setfsuid_drops_and_raises_fs_capabilities() {
    let (old, c) = root().setfsuid(1000);
    assert_eq!(old, 0);
    assert!(!c.capable(cap::DAC_OVERRIDE) && !c.capable(cap::CHOWN));
    assert!(c.capable(cap::KILL));
    let (old, d) = c.setfsuid(0);
    assert_eq!(old, 1000);
    assert_eq!(d.effective, cap::DOCKER_DEFAULT);
    // Not allowed: returns the old id, changes nothing.
    let user = Creds::container(5, 5, &[]);
    let (old, same) = user.setfsuid(0);
    assert_eq!((old, same.fsuid), (5, 5));
}

#[test]
fn gid_calls_and_groups() {
    let c = root().setresgid(10, 20, 30).unwrap();
    assert_eq!([c.gid, c.egid, c.sgid, c.fsgid], [10, 20, 30, 20]);
    let user = root().setuid(1000).unwrap();
    assert_eq!(user.setgid(5), Err(Errno::EPERM));
    assert!(user.setgid(0).is_ok(), "the real gid is still 0");
    assert_eq!(user.setgroups(&[1]), Err(Errno::EPERM));
    assert_eq!(root().setgroups(&[3, 1, 3]).unwrap().groups, [1, 3, 3]);
}

#[test]
fn capset_rules() {
    let c = root();
    let dropped = c.capset(0, cap::bit(cap::KILL), 0).unwrap();
    assert_eq!(dropped.permitted, cap::bit(cap::KILL));
    // Permitted never grows back; effective must stay within permitted.
    assert_eq!(dropped.capset(0, cap::DOCKER_DEFAULT, 0), Err(Errno::EPERM));
    assert_eq!(
        dropped.capset(cap::bit(cap::CHOWN), cap::bit(cap::KILL), 0),
        Err(Errno::EPERM)
    );
    // Inheritable: within the bounding set, even with CAP_SETPCAP.
    assert_eq!(c.capset(0, 0, cap::bit(cap::SYS_ADMIN)), Err(Errno::EPERM));
    assert!(c.capset(0, 0, cap::bit(cap::NET_RAW)).is_ok());
}

#[test]
fn securebits_locks() {
    let c = root()
        .set_securebits(u64::from(secbit::KEEP_CAPS | (secbit::KEEP_CAPS << 1)))
        .unwrap();
    assert_eq!(c.set_securebits(0), Err(Errno::EPERM));
    assert_eq!(root().set_securebits(1 << 20), Err(Errno::EPERM));
}

#[test]
fn exec_of_a_setuid_file() {
    let user = Creds::container(1000, 1000, &[]);
    let (n, secure) = user.exec(0o4755, 0, 0, false);
    assert_eq!(ids(&n), [1000, 0, 0, 0]);
    assert!(secure);
    assert_eq!(n.effective, cap::DOCKER_DEFAULT);
    // no_new_privs: the bit does nothing.
    let (n, secure) = user.exec(0o4755, 0, 0, true);
    assert_eq!(ids(&n), [1000; 4]);
    assert!(!secure);
    // Setgid without group execute is not setgid (mandatory-locking marker).
    let (n, _) = user.exec(S_ISGID | 0o744, 0, 50, false);
    assert_eq!(n.egid, 1000);
    let (n, _) = user.exec(S_ISGID | 0o754, 0, 50, false);
    assert_eq!((n.egid, n.sgid), (50, 50));
    let _ = S_ISUID;
}

#[test]
fn exec_as_root_restores_and_user_loses() {
    let dropped = root().capset(0, cap::bit(cap::KILL), 0).unwrap();
    let (n, secure) = dropped.exec(0o755, 0, 0, false);
    assert_eq!(n.permitted, cap::DOCKER_DEFAULT);
    assert!(!secure);
    let (n, _) = dropped.exec(0o755, 0, 0, true);
    assert_eq!(n.permitted, cap::bit(cap::KILL));
    // Root with a non-root effective uid: permitted but not effective, and secure.
    let half = root().setresuid(KEEP, 1000, KEEP).unwrap();
    let (n, secure) = half.exec(0o755, 0, 0, false);
    assert_eq!((n.permitted, n.effective), (cap::DOCKER_DEFAULT, 0));
    assert_eq!(ids(&n), [0, 1000, 1000, 1000]);
    assert!(secure);
}

#[test]
fn access_uses_real_ids() {
    let c = root().setresuid(1000, 0, KEEP).unwrap();
    let a = c.for_access();
    assert_eq!((a.fsuid, a.effective), (1000, 0));
    let r = root().setresuid(KEEP, 1000, KEEP).unwrap().for_access();
    assert_eq!((r.fsuid, r.effective), (0, cap::DOCKER_DEFAULT));
}

#[test]
fn user_record() {
    let c = Creds::from_record(b"1000 100 27 4").unwrap();
    assert_eq!(
        (c.uid, c.euid, c.fsuid, c.gid, c.fsgid),
        (1000, 1000, 1000, 100, 100)
    );
    assert_eq!(c.groups, [4, 27]);
    assert_eq!(c.effective, 0);
    assert_eq!(Creds::from_record(b"0 0").unwrap(), root());
    for bad in [
        &b""[..],
        b"1000",
        b"a 1",
        b"1  2",
        b"-1 0",
        b"4294967295 0",
        b"1 2 x",
        b"99999999999 0",
    ] {
        assert_eq!(
            Creds::from_record(bad),
            None,
            "{:?}",
            core::str::from_utf8(bad)
        );
    }
}
