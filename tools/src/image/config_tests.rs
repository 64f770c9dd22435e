use super::*;
use crate::image::fixture::Layer;
use crate::image::layer;

fn config(json: serde_json::Value) -> ImageConfiguration {
    serde_json::from_value(serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": json,
        "rootfs": {"type": "layers", "diff_ids": []}
    }))
    .unwrap()
}

fn tree() -> FsTree {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox: install busybox-static");
    let tar = Layer::default()
        .file("bin/busybox", 0o755, &busybox)
        .symlink("bin/sh", "busybox")
        .file("bin/noexec", 0o644, &busybox)
        .file("bin/script", 0o755, b"#!/bin/sh\necho hi\n")
        .file("bin/badinterp", 0o755, b"#!/nope/sh\n")
        .file("bin/garbage", 0o755, b"not an elf at all")
        .dir("srv", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\nnohome:x:7:7::/:/bin/sh\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nappgrp:x:1001:\nwheel:x:10:app,other\naudio:x:29:app\nstaff:x:50:\n")
        .tar();
    let mut tree = FsTree::default();
    layer::apply(&mut tree, tar.as_slice()).unwrap();
    tree
}

fn spec(args: &[&str]) -> RunSpec {
    let mut defaults = Environment::default();
    defaults.set("PATH".into(), DEFAULT_PATH.into());
    defaults.set("HOSTNAME".into(), "h".into());
    RunSpec {
        args: args.iter().map(OsString::from).collect(),
        defaults,
        ..RunSpec::default()
    }
}

fn argv(p: &Process) -> Vec<String> {
    p.argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn entrypoint_and_cmd_as_docker_combines_them() {
    let t = tree();
    let both = config(serde_json::json!({"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"]}));
    assert_eq!(
        argv(&process(&both, &t, &spec(&[])).unwrap()),
        ["/bin/sh", "-c", "echo hi"]
    );
    // Trailing arguments replace Cmd, not Entrypoint.
    assert_eq!(
        argv(&process(&both, &t, &spec(&["date"])).unwrap()),
        ["/bin/sh", "-c", "date"]
    );
    // --entrypoint replaces Entrypoint and drops the image's Cmd.
    let mut s = spec(&[]);
    s.entrypoint = Some("/bin/busybox".into());
    assert_eq!(argv(&process(&both, &t, &s).unwrap()), ["/bin/busybox"]);
    let mut s = spec(&["ls", "/"]);
    s.entrypoint = Some("/bin/busybox".into());
    assert_eq!(
        argv(&process(&both, &t, &s).unwrap()),
        ["/bin/busybox", "ls", "/"]
    );
    // An empty --entrypoint clears it: the arguments are the whole command.
    let mut s = spec(&["/bin/busybox", "true"]);
    s.entrypoint = Some(String::new());
    assert_eq!(
        argv(&process(&both, &t, &s).unwrap()),
        ["/bin/busybox", "true"]
    );
    let cmd_only = config(serde_json::json!({"Cmd": ["/bin/sh"]}));
    assert_eq!(
        argv(&process(&cmd_only, &t, &spec(&[])).unwrap()),
        ["/bin/sh"]
    );
    assert_eq!(
        argv(&process(&cmd_only, &t, &spec(&["ls"])).unwrap()),
        ["ls"]
    );
    let nothing = config(serde_json::json!({}));
    let err = process(&nothing, &t, &spec(&[])).unwrap_err();
    assert_eq!(err.exit_status(), 125);
    assert!(err.to_string().contains("no command specified"), "{err}");
}

#[test]
fn environment_order_and_home() {
    let t = tree();
    let c = config(serde_json::json!({
        "Cmd": ["sh"], "Env": ["PATH=/opt/bin:/bin", "A=image", "B=image", "EMPTY="]
    }));
    let mut s = spec(&[]);
    s.user_env = vec![("B".into(), "flag".into()), ("C".into(), "flag".into())];
    let p = process(&c, &t, &s).unwrap();
    let env: Vec<String> = p
        .env
        .entries()
        .map(|e| String::from_utf8(e).unwrap())
        .collect();
    assert_eq!(
        env,
        [
            "PATH=/opt/bin:/bin",
            "HOSTNAME=h",
            "A=image",
            "B=flag",
            "EMPTY=",
            "C=flag",
            "HOME=/root"
        ]
    );
    // HOME follows the user; an explicit HOME wins.
    let mut s = spec(&[]);
    s.user = Some("app".into());
    assert_eq!(
        process(&c, &t, &s).unwrap().env.get("HOME"),
        Some("/home/app".as_ref())
    );
    let c = config(serde_json::json!({"Cmd": ["sh"], "Env": ["HOME=/data"]}));
    assert_eq!(
        process(&c, &t, &spec(&[])).unwrap().env.get("HOME"),
        Some("/data".as_ref())
    );
}

#[test]
fn working_directory() {
    let t = tree();
    let c = config(serde_json::json!({"Cmd": ["sh"], "WorkingDir": "/srv/app"}));
    assert_eq!(process(&c, &t, &spec(&[])).unwrap().cwd, b"/srv/app");
    let mut s = spec(&[]);
    s.workdir = Some(b"/tmp/".to_vec());
    assert_eq!(process(&c, &t, &s).unwrap().cwd, b"/tmp");
    let none = config(serde_json::json!({"Cmd": ["sh"]}));
    assert_eq!(process(&none, &t, &spec(&[])).unwrap().cwd, b"/");
    assert!(check_workdir(&t, b"/srv/new/deeper").is_ok());
    assert!(check_workdir(&t, b"/etc/passwd").is_err());
}

#[test]
fn users_resolve_as_runc_resolves_them() {
    let t = tree();
    let user = |s: &str| resolve_user(&t, s);
    assert_eq!(
        user("").unwrap(),
        User {
            uid: 0,
            gid: 0,
            groups: vec![],
            home: b"/root".to_vec()
        }
    );
    assert_eq!(user("root").unwrap().uid, 0);
    // By name: the passwd gid, and the groups that list the name.
    assert_eq!(
        user("app").unwrap(),
        User {
            uid: 1000,
            gid: 1001,
            groups: vec![10, 29],
            home: b"/home/app".to_vec()
        }
    );
    // By number: found or not.
    assert_eq!(user("1000").unwrap().gid, 1001);
    assert_eq!(
        user("4242").unwrap(),
        User {
            uid: 4242,
            gid: 0,
            groups: vec![],
            home: b"/".to_vec()
        }
    );
    // With a group: no supplementary groups.
    assert_eq!(
        user("app:staff").unwrap(),
        User {
            uid: 1000,
            gid: 50,
            groups: vec![],
            home: b"/home/app".to_vec()
        }
    );
    assert_eq!(user("1000:77").unwrap().gid, 77);
    assert_eq!(user("nohome").unwrap().home, b"/");
    let err = user("nobody").unwrap_err().to_string();
    assert!(err.contains("unable to find user nobody"), "{err}");
    let err = user("app:nogroup").unwrap_err().to_string();
    assert!(err.contains("unable to find group nogroup"), "{err}");
    // No /etc/passwd: numbers still work, names do not.
    let empty = FsTree::default();
    assert_eq!(resolve_user(&empty, "5:6").unwrap().gid, 6);
    assert!(resolve_user(&empty, "app").is_err());
}

#[test]
fn commands_are_found_and_checked_with_docker_statuses() {
    let t = tree();
    let find = |cmd: &str| find_command(&t, b"/srv", &OsString::from(cmd), DEFAULT_PATH.as_bytes());
    assert_eq!(find("sh").unwrap(), b"/bin/sh");
    assert_eq!(find("/bin/sh").unwrap(), b"/bin/sh");
    assert_eq!(find("../bin/busybox").unwrap(), b"/srv/../bin/busybox");
    assert_eq!(find("script").unwrap(), b"/bin/script");
    let status = |cmd: &str| find(cmd).unwrap_err().exit_status();
    assert_eq!(status("nope"), 127);
    assert_eq!(status("/bin/nope"), 127);
    assert_eq!(status("badinterp"), 127);
    assert_eq!(status("noexec"), 126);
    assert_eq!(status("/srv"), 126);
    assert_eq!(status("garbage"), 126);
}

#[test]
fn dynamic_programs_need_their_interpreter_in_the_image() {
    let prog = std::fs::read("/bin/true").unwrap();
    let ld = std::fs::read("/lib64/ld-linux-x86-64.so.2").unwrap();
    let without = Layer::default().file("bin/true", 0o755, &prog).tar();
    let mut tree = FsTree::default();
    layer::apply(&mut tree, without.as_slice()).unwrap();
    let find = |t: &FsTree| find_command(t, b"/", &OsString::from("true"), b"/bin");
    let err = find(&tree).unwrap_err();
    assert_eq!(err.exit_status(), 127);
    assert!(err.to_string().contains("ld-linux-x86-64.so.2"), "{err}");
    // Through merged-usr style symlinks, as Debian ships it.
    let with = Layer::default()
        .file("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0o755, &ld)
        .symlink("lib64", "usr/lib64")
        .symlink(
            "usr/lib64/ld-linux-x86-64.so.2",
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        )
        .tar();
    layer::apply(&mut tree, with.as_slice()).unwrap();
    assert_eq!(find(&tree).unwrap(), b"/bin/true");
}
