//! Tests of `run`: command lines on both sides, outcomes, repeats, the host cache.

use super::*;
use crate::cases::MICROVM;
use crate::programs::Source;

fn case(env: &[(&str, &str)], stdin: Option<&[u8]>) -> Case {
    Case {
        name: "c/x/musl/microvm".into(),
        program: "c/x".into(),
        source: Source::Busybox,
        args: vec![b"a b".to_vec(), b"".to_vec()],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        stdin: stdin.map(<[u8]>::to_vec),
        machine: MICROVM,
        compare_stderr: true,
        stderr_lines: None,
        needs_root: false,
        place: Place::Direct,
        cpus: None,
        host_status: None,
        timeout: None,
        needs_kvm: None,
        kernel_args: Vec::new(),
        root_device: None,
    }
}

fn setup(coracle: &str) -> Setup {
    let mut setup = Setup::new(Path::new(coracle), "tcg".into());
    setup.timeout = CORACLE_TIMEOUT;
    setup.host_cpus = 2;
    setup
}

fn argv(command: &Command) -> Vec<String> {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// A fresh directory for one test's scripts.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-compat-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An executable shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn environment_in_docker_order() {
    let env = guest_env(&[
        ("Z".into(), "1".into()),
        ("HOME".into(), "/tmp".into()),
        ("A".into(), "x=y".into()),
    ]);
    let keys: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        keys,
        [
            format!("PATH={DEFAULT_PATH}"),
            format!("HOSTNAME={HOSTNAME}"),
            "HOME=/tmp".into(),
            "Z=1".into(),
            "A=x=y".into(),
        ]
    );
}

#[test]
fn both_sides_get_the_same_argv() {
    let case = case(&[("K", "v")], Some(b"in"));
    let host = argv(&host_command(&case, Path::new("/w/prog"), Path::new(""), 2));
    assert_eq!(
        host,
        [
            "env".to_string(),
            "-i".into(),
            "--default-signal".into(),
            format!("PATH={DEFAULT_PATH}"),
            format!("HOSTNAME={HOSTNAME}"),
            "HOME=/root".into(),
            "K=v".into(),
            "/w/prog".into(),
            "a b".into(),
            "".into(),
        ]
    );
    let guest = argv(&coracle_command(
        &setup("/t/coracle"),
        &case,
        Path::new("/w/prog"),
        Path::new(""),
    ));
    assert_eq!(
        guest,
        [
            "/t/coracle",
            "run",
            "--machine",
            "microvm",
            "--accel",
            "tcg",
            "-e",
            "HOSTNAME=coracle-compat",
            "-e",
            "K=v",
            "-i",
            "--",
            "/w/prog",
            "a b",
            "",
        ]
    );
}

#[test]
fn smp_cases_get_cpus_and_compat_cpus() {
    let mut case = case(&[("K", "v")], None);
    case.cpus = Some(4);
    let host = argv(&host_command(&case, Path::new("/w/prog"), Path::new(""), 2));
    assert_eq!(host[6..], ["K=v", "COMPAT_CPUS=2", "/w/prog", "a b", ""]);
    let guest = argv(&coracle_command(
        &setup("/t/coracle"),
        &case,
        Path::new("/w/prog"),
        Path::new(""),
    ));
    assert_eq!(
        guest[2..],
        [
            "--machine",
            "microvm",
            "--accel",
            "tcg",
            "--cpus",
            "4",
            "-e",
            "HOSTNAME=coracle-compat",
            "-e",
            "K=v",
            "-e",
            "COMPAT_CPUS=4",
            "--",
            "/w/prog",
            "a b",
            "",
        ]
    );
}

#[test]
fn places_change_the_command_lines() {
    let setup = setup("/t/coracle");
    let mut case = case(&[], None);
    let tail = |argv: Vec<String>, n: usize| argv[argv.len() - n..].join(" ");
    case.place = Place::Scratch;
    let host = argv(&host_command(
        &case,
        Path::new("/w/prog"),
        Path::new("/dev/shm/x"),
        2,
    ));
    assert_eq!(tail(host, 4), "/w/prog /dev/shm/x a b ");
    let guest = argv(&coracle_command(
        &setup,
        &case,
        Path::new("/w/prog"),
        Path::new(""),
    ));
    assert_eq!(tail(guest, 5), "-- /w/prog /tmp a b ");

    case.place = Place::Rootfs {
        command: "/bin/cat".into(),
    };
    let host = argv(&host_command(
        &case,
        Path::new("/bin/busybox"),
        Path::new("/r"),
        2,
    ));
    assert_eq!(tail(host, 5), "chroot /r /bin/cat a b ");
    let guest = argv(&coracle_command(
        &setup,
        &case,
        Path::new("/bin/busybox"),
        Path::new("/g"),
    ));
    assert_eq!(tail(guest, 7), "-w / -- /g /bin/cat a b ");
}

#[test]
fn chroot_failures_are_reported_as_such() {
    let mut case = case(&[], None);
    let host = diff::Observed {
        stdout: Vec::new(),
        stderr: b"chroot: cannot change root directory to '/r': Operation not permitted\n".to_vec(),
        status: 125,
    };
    assert_eq!(
        chroot_failure(&case, &host),
        None,
        "only rootfs cases chroot"
    );
    case.place = Place::Rootfs {
        command: "cat".into(),
    };
    let message = chroot_failure(&case, &host).unwrap();
    assert!(message.contains("Operation not permitted"), "{message}");
    let ok = diff::Observed { status: 1, ..host };
    assert_eq!(chroot_failure(&case, &ok), None);
}

#[test]
fn unbuilt_programs_fail_with_the_reason() {
    let outcome = run_case(
        &setup("/nonexistent"),
        &case(&[], None),
        &Err(NotBuilt::Failed("musl-gcc not found".into())),
        None,
    );
    assert_eq!(
        outcome,
        Outcome::Fail("not built: musl-gcc not found".into())
    );
}

#[test]
fn an_unavailable_toolchain_skips() {
    let outcome = run_case(
        &setup("/nonexistent"),
        &case(&[], None),
        &Err(NotBuilt::Unavailable("go not found".into())),
        None,
    );
    assert_eq!(outcome, Outcome::Skip("go not found".into()));
}

#[test]
fn as_another_user_cases_that_take_root_skip() {
    let mut setup = setup("/nonexistent/coracle");
    setup.host_is_root = false;
    let mut rootfs = case(&[], None);
    rootfs.place = Place::Rootfs {
        command: "/bin/ls".into(),
    };
    let mut uids = case(&[], None);
    uids.needs_root = true;
    for case in [rootfs, uids] {
        let outcome = run_case(&setup, &case, &Ok("/bin/true".into()), None);
        assert!(matches!(outcome, Outcome::Skip(_)), "{outcome:?}");
    }
}

#[test]
fn a_missing_coracle_fails_the_case() {
    let outcome = run_case(
        &setup("/nonexistent/coracle"),
        &case(&[], None),
        &Ok("/bin/true".into()),
        None,
    );
    match outcome {
        Outcome::Fail(message) => {
            assert!(message.starts_with("coracle /nonexistent"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pending_cases_stop_after_the_host_side() {
    let mut case = case(&[], None);
    case.cpus = Some(2);
    case.host_status = Some(0);
    // A coracle that does not exist would fail the case if it were run.
    let outcome = run_case(
        &setup("/nonexistent/coracle"),
        &case,
        &Ok("/bin/true".into()),
        Some("needs threads"),
    );
    assert_eq!(outcome, Outcome::Pending("needs threads".into()));

    let mut run_them = setup("/nonexistent/coracle");
    run_them.run_pending = true;
    let outcome = run_case(&run_them, &case, &Ok("/bin/true".into()), Some("x"));
    assert!(matches!(outcome, Outcome::Fail(m) if m.starts_with("coracle /nonexistent")));
}

#[test]
fn a_program_failing_on_the_host_fails_even_when_pending() {
    let mut case = case(&[], None);
    case.host_status = Some(0);
    let outcome = run_case(
        &setup("/nonexistent/coracle"),
        &case,
        &Ok("/bin/false".into()),
        Some("needs threads"),
    );
    match outcome {
        Outcome::Fail(message) => {
            assert!(
                message.starts_with("host side: status 1, expected 0"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    case.host_status = Some(1);
    let outcome = run_case(
        &setup("/nonexistent/coracle"),
        &case,
        &Ok("/bin/false".into()),
        Some("needs threads"),
    );
    assert_eq!(outcome, Outcome::Pending("needs threads".into()));
}

#[test]
fn kvm_only_cases_are_skipped_elsewhere_after_the_host_side() {
    let mut case = case(&[], None);
    case.host_status = Some(0);
    case.needs_kvm = Some("TCG raises no #XM");
    // A coracle that does not exist would fail the case if it were run.
    let outcome = run_case(
        &setup("/nonexistent/coracle"),
        &case,
        &Ok("/bin/true".into()),
        None,
    );
    assert_eq!(
        outcome,
        Outcome::Skip(
            "runs in Coracle with CORACLE_ACCEL=kvm only, not --accel tcg: TCG raises no #XM"
                .into()
        )
    );
    // The host side is still checked.
    let outcome = run_case(
        &setup("/nonexistent/coracle"),
        &case,
        &Ok("/bin/false".into()),
        None,
    );
    assert!(matches!(outcome, Outcome::Fail(m) if m.starts_with("host side: status 1")));
    // With KVM the guest side runs.
    let kvm = Setup::new(Path::new("/nonexistent/coracle"), "kvm".into());
    let outcome = run_case(&kvm, &case, &Ok("/bin/true".into()), None);
    assert!(matches!(outcome, Outcome::Fail(m) if m.starts_with("coracle /nonexistent")));
}

#[test]
fn repeated_guest_runs_fail_on_the_first_difference() {
    let dir = temp_dir("repeat");
    let counter = dir.join("count");
    // Prints nothing on its first run, then something: run 2 differs from the host.
    let coracle = script(
        &dir,
        "coracle",
        &format!(
            "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; \
             [ $n -ge 2 ] && echo different; exit 0",
            c = counter.display()
        ),
    );
    let mut setup = setup(coracle.to_str().unwrap());
    setup.repeat = 3;
    let outcome = run_case(&setup, &case(&[], None), &Ok("/bin/true".into()), None);
    match outcome {
        Outcome::Fail(message) => {
            assert!(message.starts_with("run 2 of 3: stdout"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(&counter, "-5").unwrap();
    setup.repeat = 2;
    assert_eq!(
        run_case(&setup, &case(&[], None), &Ok("/bin/true".into()), None),
        Outcome::Pass
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn smp_host_runs_are_repeated_compared_and_shared() {
    let dir = temp_dir("host-repeat");
    let counter = dir.join("count");
    let program = script(
        &dir,
        "prog",
        &format!(
            "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo run $n",
            c = counter.display()
        ),
    );
    let mut case = case(&[], None);
    case.cpus = Some(1);
    case.name = "c/x/musl/microvm/cpus=1".into();
    let mut setup = setup("/nonexistent/coracle");
    setup.repeat = 2;
    let outcome = run_case(&setup, &case, &Ok(program.clone()), Some("p"));
    match outcome {
        Outcome::Fail(message) => {
            assert!(message.starts_with("host runs 1 and 2 differ"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // The other vCPU counts reuse that result rather than running the program again.
    case.cpus = Some(4);
    case.name = "c/x/musl/microvm/cpus=4".into();
    let again = run_case(&setup, &case, &Ok(program), Some("p"));
    assert!(matches!(again, Outcome::Fail(m) if m.starts_with("host runs 1 and 2")));
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stderr_cut_to_its_first_lines() {
    assert_eq!(first_lines(b"a\nb\nc", 1), b"a\n");
    assert_eq!(first_lines(b"a\nb\nc", 2), b"a\nb\n");
    assert_eq!(first_lines(b"a\nb\nc", 5), b"a\nb\nc");
    assert_eq!(first_lines(b"a\nb\n", 0), b"");
    assert_eq!(first_lines(b"", 3), b"");
}

#[test]
fn cpu_lists() {
    assert_eq!(count_cpu_list("0-1"), Some(2));
    assert_eq!(count_cpu_list("0"), Some(1));
    assert_eq!(count_cpu_list("0-3,5,7-8"), Some(7));
    assert_eq!(count_cpu_list(""), None);
    assert_eq!(count_cpu_list("3-1"), None);
    assert_eq!(count_cpu_list("x"), None);
    assert!(host_cpus() >= 1);
}
