use super::*;
use crate::tempdir::TempDir;

#[test]
fn cache_dir_from_environment() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &OsStr| {
            vars.iter()
                .find(|(k, _)| OsStr::new(k) == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    assert_eq!(
        cache_dir(env(&[("CORACLE_BENCH_DIR", "/c"), ("HOME", "/h")])),
        Some(PathBuf::from("/c"))
    );
    assert_eq!(
        cache_dir(env(&[("CORACLE_BENCH_DIR", ""), ("HOME", "/h")])),
        Some(PathBuf::from("/h/.cache/coracle-bench"))
    );
    assert_eq!(cache_dir(env(&[])), None);
}

#[test]
fn kernel_is_found_only_when_unpacked() {
    let tmp = TempDir::new().unwrap();
    let cache = tmp.path();
    let err = find_kernel(Some(cache)).unwrap_err();
    assert!(err.contains("--linux-kernel"), "{err}");
    assert!(err.contains("kernel-pkg"), "{err}");
    assert!(find_kernel(None).unwrap_err().contains("--linux-kernel"));

    std::fs::write(cache.join("kernel-pkg"), "linux-image-6.1.0-9-amd64\n").unwrap();
    let err = find_kernel(Some(cache)).unwrap_err();
    assert!(err.contains("linux-image-6.1.0-9-amd64/vmlinux"), "{err}");

    let dir = cache.join("linux-image-6.1.0-9-amd64");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("vmlinux"), "").unwrap();
    assert!(find_kernel(Some(cache)).is_err(), "an empty vmlinux");
    std::fs::write(dir.join("vmlinux"), "\x7fELF").unwrap();
    assert_eq!(find_kernel(Some(cache)), Ok(dir.join("vmlinux")));

    // The package name is a file name, not a way out of the cache.
    std::fs::write(cache.join("kernel-pkg"), "../x").unwrap();
    assert!(find_kernel(Some(cache)).is_err());
}

#[test]
fn tsc_frequency_from_the_host() {
    let log = "[    0.000074] tsc: Detected 2445.424 MHz processor\n\
               [    1.2] tsc: Refined TSC clocksource calibration: 2445.399 MHz\n";
    assert_eq!(tsc_khz_from_dmesg(log), Some(2_445_399));
    assert_eq!(
        tsc_khz_from_dmesg("[0.0] tsc: Detected 3000.000 MHz processor\n"),
        Some(3_000_000)
    );
    assert_eq!(tsc_khz_from_dmesg("nothing here\n"), None);
    let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.424\n";
    assert_eq!(khz_from_cpuinfo(cpuinfo), Some(2_445_424));
    assert_eq!(khz_from_cpuinfo("cpu MHz\t: fast\n"), None);
}

#[test]
fn qemu_line_uses_coracles_machine_flags() {
    let args = qemu_args(
        Accel::Tcg,
        128,
        2,
        Path::new("/k/vmlinux"),
        Path::new("/t/i.cpio"),
        "console=ttyS0",
    );
    let line: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
    assert_eq!(
        line.join(" "),
        "-M microvm,x-option-roms=off,rtc=off -accel tcg -cpu max -m 128M -smp 2 \
         -nodefaults -no-user-config -nographic -no-reboot -display none -monitor none \
         -serial stdio -kernel /k/vmlinux -initrd /t/i.cpio -append console=ttyS0"
    );
    let kvm = qemu_args(Accel::Kvm, 256, 1, Path::new("k"), Path::new("i"), "");
    assert_eq!(kvm[2..6], ["-accel", "kvm", "-cpu", "host"]);
    assert!(kernel_cmdline(2_500_000).contains("tsc_early_khz=2500000"));
}

#[test]
fn init_script_quotes_arguments() {
    let argv = [
        OsString::from("/w/bench_cpu"),
        OsString::from("2"),
        OsString::from("it's $HOME"),
    ];
    let script = String::from_utf8(init_script(&argv)).unwrap();
    assert!(script.starts_with("#!/bin/busybox sh\n"), "{script}");
    assert!(
        script.contains(
            "\n'/w/bench_cpu' '2' 'it'\\''s $HOME' </dev/null >/bench.out 2>/bench.err\n"
        ),
        "{script}"
    );
    assert!(script.ends_with("/bin/busybox poweroff -f\n"), "{script}");
    // The markers it prints are the ones parse_console looks for.
    for marker in ["begin", "stdout", "stderr", "end"] {
        assert!(
            script.contains(&format!("echo '@@coracle-bench {marker}@@'")),
            "{marker}"
        );
    }
    assert!(script.contains("echo \"@@coracle-bench status $status@@\""));
}

#[test]
fn init_script_with_busybox_elsewhere() {
    let script =
        String::from_utf8(init_script_with(ROOTFS_BUSYBOX, &[OsString::from("/p")])).unwrap();
    assert!(
        script.starts_with("#!/.coracle-bench/busybox sh\n"),
        "{script}"
    );
    assert!(!script.contains("/bin/busybox"), "{script}");
    assert!(script.ends_with("/.coracle-bench/busybox poweroff -f\n"));
}

/// The paths of a newc archive's entries, read by hand (a test of `write_initramfs` should
/// not rest on the writer's own reader).
fn entries(mut bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 110 {
        assert_eq!(&bytes[..6], b"070701");
        let field = |i: usize| {
            let hex = std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap();
            u32::from_str_radix(hex, 16).unwrap()
        };
        let (mode, size, namesize) = (field(1), field(6) as usize, field(11) as usize);
        let name = String::from_utf8(bytes[110..109 + namesize].to_vec()).unwrap();
        let start = (110 + namesize).next_multiple_of(4);
        let data = bytes[start..start + size].to_vec();
        bytes = &bytes[(start + size).next_multiple_of(4)..];
        if name == "TRAILER!!!" {
            break;
        }
        out.push((name, mode, data));
    }
    out
}

#[test]
fn initramfs_holds_busybox_program_and_init() {
    let bytes = write_initramfs(
        Vec::new(),
        b"BB",
        Path::new("/work/t/bench_x"),
        b"PROG",
        b"#!init",
    )
    .unwrap();
    let got: Vec<(String, u32, Vec<u8>)> = entries(&bytes);
    let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "bin",
            "proc",
            "dev",
            "work",
            "work/t",
            "bin/busybox",
            "work/t/bench_x",
            "init"
        ]
    );
    let find = |name: &str| got.iter().find(|(n, _, _)| n == name).unwrap();
    assert_eq!(find("work/t").1, 0o040755);
    assert_eq!(
        find("bin/busybox"),
        &("bin/busybox".into(), 0o100755, b"BB".to_vec())
    );
    assert_eq!(find("work/t/bench_x").2, b"PROG");
    assert_eq!(find("init").2, b"#!init");

    // A program under /bin adds no second "bin" directory.
    let bytes = write_initramfs(Vec::new(), b"BB", Path::new("/bin/p"), b"P", b"i").unwrap();
    let dirs = entries(&bytes)
        .iter()
        .filter(|(n, _, _)| n == "bin")
        .count();
    assert_eq!(dirs, 1);
    assert!(write_initramfs(Vec::new(), b"", Path::new("rel/p"), b"", b"").is_err());
    assert!(write_initramfs(Vec::new(), b"", Path::new("/"), b"", b"").is_err());
}

/// `od -An -v -tx1` of `text`, as busybox prints it.
fn od(text: &[u8]) -> String {
    text.chunks(16)
        .map(|c| {
            let words: Vec<String> = c.iter().map(|b| format!(" {b:02x}")).collect();
            format!("{}\r\n", words.concat())
        })
        .collect()
}

#[test]
fn console_report_is_found_among_kernel_noise() {
    let stdout = b"syscall_getppid 900.1 ns\nno newline at the end";
    let console = format!(
        "[    0.0] Linux version 6.1\r\n\
         @@coracle-bench begin@@\r\n\
         [    3.7] clocksource: Switched to clocksource tsc\r\n\
         @@coracle-bench status 3@@\r\n\
         @@coracle-bench stdout@@\r\n\
         {}\
         [    4.0] random: crng init done\r\n\
         @@coracle-bench stderr@@\r\n\
         {}\
         @@coracle-bench dmesg@@\r\n\
         [    3.348840] coracle-bench-start\r\n\
         @@coracle-bench end@@\r\n\
         [    4.1] reboot: Power down\r\n",
        od(stdout),
        od(b"warn\n")
    );
    let run = parse_console(console.as_bytes()).unwrap();
    assert_eq!(run.status, 3);
    assert_eq!(run.stdout, stdout);
    assert_eq!(run.stderr, b"warn\n");
    assert_eq!(run.started_at, Some(3.348840));
    assert_eq!(
        run.begin_offset,
        console.find("@@coracle-bench begin").unwrap()
    );
    assert_eq!(
        run.status_offset,
        console.find("@@coracle-bench status").unwrap()
    );
}

#[test]
fn incomplete_reports_are_errors() {
    let err = parse_console(b"Kernel panic - not syncing\r\n").unwrap_err();
    assert!(err.contains("never started"), "{err}");
    let err = parse_console(b"@@coracle-bench begin@@\r\n[ 9.0] oops\r\n").unwrap_err();
    assert!(err.contains("did not finish"), "{err}");
    let err = parse_console(
        b"@@coracle-bench begin@@\n@@coracle-bench status 0@@\n@@coracle-bench stdout@@\n 61\n",
    )
    .unwrap_err();
    assert!(err.contains("cut short"), "{err}");
    let err = parse_console(b"@@coracle-bench begin@@\n@@coracle-bench status x@@\n").unwrap_err();
    assert!(err.contains("bad status"), "{err}");
}

#[test]
fn empty_output_sections() {
    let console = b"@@coracle-bench begin@@\n@@coracle-bench status 0@@\n\
        @@coracle-bench stdout@@\n@@coracle-bench stderr@@\n@@coracle-bench end@@\n";
    let run = parse_console(console).unwrap();
    assert_eq!((run.status, run.stdout.len(), run.stderr.len()), (0, 0, 0));
    assert_eq!(run.started_at, None);
}

#[test]
fn od_lines() {
    assert_eq!(decode_od_line(" 41 0a"), Some(b"A\n".to_vec()));
    assert_eq!(decode_od_line(" 4"), None);
    assert_eq!(decode_od_line(" zz"), None);
    assert_eq!(decode_od_line("[ 1.0] x"), None);
    assert_eq!(decode_od_line(""), None);
    let seventeen = " 00".repeat(17);
    assert_eq!(decode_od_line(&seventeen), None);
}

#[test]
fn console_tail_keeps_the_last_lines() {
    assert_eq!(console_tail(b"a\r\nb\r\nc\r\n", 2), "b\nc");
    assert_eq!(console_tail(b"a\n", 5), "a");
}
