//! Tests of `cases`: names, places, the SMP matrix, every program having cases.

use super::*;
use std::collections::BTreeSet;

#[test]
fn names_are_unique_and_well_formed() {
    let cases = all(0);
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len());
    for name in names {
        assert!(
            !name.contains(char::is_whitespace) && !name.contains('#') && !name.contains('*'),
            "{name}"
        );
    }
}

#[test]
fn the_expected_names_exist() {
    let cases = all(0);
    let has = |n: &str| cases.iter().any(|c| c.name == n);
    assert!(has("c/hello/musl/microvm"));
    assert!(has("c/hello/glibc-pie/q35"));
    assert!(has("c/exit_codes-255/glibc/q35"));
    assert!(!has("c/efault/musl/q35"));
    assert!(has("rust/rust_hello/q35"));
    assert!(has("busybox/seq"));
    assert!(has("c/fs_files/glibc-pie/microvm"));
    assert!(!has("c/fs_files/musl/q35"));
    assert!(has("rootfs/ls-l"));
    assert!(has("c/proc_loop/musl/microvm"));
    assert!(!has("c/proc_loop/glibc/microvm"));
    assert!(has("c/proc_fds/glibc-pie/microvm"));
    assert!(has("script/pipeline"));
    // The dynamic builds, through the same packing path as any host program.
    assert!(has("c/hello/glibc-dyn/q35"));
    assert!(has("c/thr_mutex/musl-dyn/microvm/cpus=2"));
    assert!(has("c/fs_files/glibc-dyn/microvm"));
}

#[test]
fn cases_that_print_uids_or_use_roots_privileges_need_root() {
    let cases = all(0);
    for name in ["c/fs_errno/musl/microvm", "c/proc_wait/glibc/microvm"] {
        assert!(
            cases.iter().find(|c| c.name == name).unwrap().needs_root,
            "{name}"
        );
    }
}

#[test]
fn places() {
    let cases = all(0);
    let place = |n: &str| &cases.iter().find(|c| c.name == n).unwrap().place;
    assert_eq!(place("c/hello/musl/microvm"), &Place::Direct);
    assert_eq!(place("c/fs_many/musl/microvm"), &Place::Scratch);
    for case in cases.iter().filter(|c| c.program.starts_with("c/fs_")) {
        assert_eq!(case.place, Place::Scratch, "{}", case.name);
    }
    let program = |n: &str| cases.iter().find(|c| c.name == n).unwrap().program.clone();
    assert_eq!(program("rootfs/cat-symlink"), "rootfs/cat");
    assert_eq!(program("rootfs/tar-tvf"), "rootfs/tar");
    assert_eq!(program("rootfs/sh-glob"), "rootfs/sh");
}

#[test]
fn rootfs_commands_exist_in_the_rootfs() {
    for case in all(0) {
        if let Place::Rootfs { command } = &case.place {
            let name = command.strip_prefix("/bin/").unwrap_or(command);
            assert!(
                name == "busybox" || crate::rootfs::APPLETS.contains(&name),
                "{}: add {name} to rootfs::APPLETS",
                case.name
            );
        }
    }
}

#[test]
fn every_c_source_has_cases() {
    let used: BTreeSet<String> = c_specs(0).iter().map(|s| s.program.to_string()).collect();
    let dir = crate::programs::programs_dir();
    let sources: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "c").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    assert_eq!(used, sources);
}

#[test]
fn smp_cases_come_in_each_vcpu_count() {
    let cases = all(0);
    let find = |n: &str| cases.iter().find(|c| c.name == n);
    for n in SMP_CPUS {
        for name in [
            format!("c/thr_mutex/musl/microvm/cpus={n}"),
            format!("c/sig_basic-TERM/glibc-pie/microvm/cpus={n}"),
            format!("rust/rust_threads/microvm/cpus={n}"),
            format!("go/go_gc/microvm/cpus={n}"),
        ] {
            let case = find(&name).unwrap_or_else(|| panic!("{name} is missing"));
            assert_eq!(case.cpus, Some(n));
            assert_eq!(case.host_key(), &name[..name.len() - "/cpus=N".len()]);
        }
    }
    assert!(find("c/thr_mutex/musl/microvm").is_none());
    assert_eq!(
        find("c/sig_basic-TERM/musl/microvm/cpus=1")
            .unwrap()
            .host_status,
        Some(143)
    );
    let hello = find("c/hello/musl/microvm").unwrap();
    assert_eq!((hello.cpus, hello.host_status), (None, None));
    assert_eq!(hello.host_key(), "c/hello/musl/microvm");
    for case in cases.iter().filter(|c| c.cpus.is_some()) {
        assert!(
            case.host_status.is_some(),
            "{}: give its expected status",
            case.name
        );
        // The host side runs once for all vCPU counts: no root filesystem of its own.
        assert!(
            matches!(case.place, Place::Direct | Place::Scratch),
            "{}",
            case.name
        );
    }
}

#[test]
fn every_rust_and_go_source_has_cases() {
    let cases = all(0);
    let dir = crate::programs::programs_dir();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
            continue;
        };
        let (stem, ext) = (stem.to_string_lossy(), ext.to_string_lossy());
        let prefix = match ext.as_ref() {
            "rs" => "rust",
            "go" => "go",
            _ => continue,
        };
        assert!(
            cases
                .iter()
                .any(|c| c.program == format!("{prefix}/{stem}")),
            "{} has no case",
            path.display()
        );
    }
}

#[test]
fn stdin_exercises_the_framing() {
    let bytes = tricky_stdin();
    for pair in [[0xff, 0x00], [0xff, 0x01], [0xff, 0xff]] {
        assert!(bytes.windows(2).any(|w| w == pair));
    }
    assert_eq!(bytes.last(), Some(&0xff), "ends on the escape byte");
}

#[test]
fn every_script_has_a_case() {
    let cases = all(0);
    let scripts = crate::rootfs::scripts().unwrap();
    assert!(!scripts.is_empty());
    for (file, _) in &scripts {
        let name = file.strip_suffix(".sh").unwrap();
        let case = cases
            .iter()
            .find(|c| c.name == format!("script/{name}"))
            .unwrap_or_else(|| panic!("scripts/{file} has no case: add it to SCRIPTS"));
        assert_eq!(case.args, [format!("/scripts/{file}").into_bytes()]);
    }
    assert_eq!(
        scripts.len(),
        SCRIPTS.len(),
        "SCRIPTS names a missing script"
    );
}

#[test]
fn only_the_xm_cases_need_kvm() {
    let all = all(0);
    let kvm: Vec<&str> = all
        .iter()
        .filter(|c| c.needs_kvm.is_some())
        .map(|c| c.name.as_str())
        .collect();
    // Both sig_fpe programs (plain and "default"), every flavour and vCPU count.
    assert!(!kvm.is_empty());
    assert!(kvm.iter().all(|n| n.starts_with("c/sig_fpe")), "{kvm:?}");
    assert_eq!(
        kvm.len(),
        all.iter()
            .filter(|c| c.name.starts_with("c/sig_fpe"))
            .count()
    );
    assert!(kvm.iter().any(|n| n.starts_with("c/sig_fpe-default/")));
}
