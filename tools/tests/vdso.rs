//! The vDSO seen from outside the kernel: its bytes as a program finds them, parsed here with
//! goblin and by hand the way glibc, musl and Go look symbols up; and clock reads that stay out
//! of the kernel (`coracle run --verbose` logs every system call). Runs under TCG unless
//! CORACLE_ACCEL says otherwise. The C programs live in `tests/vdso/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use goblin::elf::dynamic::{
    DT_HASH, DT_REL, DT_RELA, DT_SONAME, DT_STRTAB, DT_SYMENT, DT_SYMTAB, DT_TEXTREL, DT_VERDEF,
    DT_VERDEFNUM, DT_VERSYM,
};
use goblin::elf::header::{EM_X86_64, ET_DYN};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_DYNAMIC, PT_LOAD};
use goblin::elf::sym::{STB_GLOBAL, STB_WEAK, STT_FUNC};
use goblin::elf::Elf;

/// The ten names Linux's x86_64 vDSO exports (besides SGX), all at version LINUX_2.6.
const FUNCTIONS: [&str; 5] = [
    "clock_gettime",
    "gettimeofday",
    "time",
    "getcpu",
    "clock_getres",
];

fn coracle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        .output()
        .expect("run coracle")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-vdso-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The static builds the compat suite makes: musl, glibc, glibc static-pie.
const FLAVOURS: [(&str, &[&str]); 3] = [
    ("musl-gcc", &["-static"]),
    ("gcc", &["-static"]),
    ("gcc", &["-static-pie", "-fPIE"]),
];

/// Builds `tests/vdso/<name>.c` with `cc` ("musl-gcc" or "gcc") and `flags`.
fn build_c(name: &str, cc: &str, flags: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/vdso/{name}.c"));
    let exe = work_dir().join(format!("{name}-{cc}{}", flags.concat()));
    let status = Command::new(cc)
        .args(flags)
        .args(["-O2", "-Wall", "-o"])
        .arg(&exe)
        .arg(&src)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "{cc} could not build {} (apt-get install musl-tools gcc)",
        src.display()
    );
    exe
}

/// The System V ELF hash (the gABI's `elf_hash`), written from the specification.
fn elf_hash(name: &[u8]) -> u32 {
    name.iter().fold(0u32, |h, &c| {
        let h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        (h ^ (g >> 24)) & !g
    })
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn cstr(b: &[u8], off: usize) -> &str {
    let end = b[off..].iter().position(|&c| c == 0).unwrap() + off;
    std::str::from_utf8(&b[off..end]).unwrap()
}

/// The vDSO image as `tests/vdso/dump.c` copies it out of a program running in Coracle (made
/// once: the tests run in parallel and would build the same file).
fn vdso_image() -> Vec<u8> {
    static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let exe = build_c("dump", "musl-gcc", &["-static"]);
            let out = coracle(&["run", exe.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            out.stdout
        })
        .clone()
}

#[test]
fn vdso_image_is_a_linux_style_shared_object() {
    let image = vdso_image();
    assert!(
        image.len() >= 4096 && image.len().is_multiple_of(4096),
        "{}",
        image.len()
    );
    let elf = Elf::parse(&image).expect("goblin parses the vDSO");
    assert!(elf.is_64 && elf.little_endian);
    assert_eq!(elf.header.e_type, ET_DYN);
    assert_eq!(elf.header.e_machine, EM_X86_64);

    // One PT_LOAD from the start (libcs take the load bias from the first one) and PT_DYNAMIC.
    let loads: Vec<_> = elf
        .program_headers
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .collect();
    assert_eq!(loads.len(), 1);
    let load = loads[0];
    assert_eq!((load.p_offset, load.p_vaddr), (0, 0));
    assert_eq!(load.p_filesz as usize, image.len());
    assert_eq!(load.p_flags & (PF_R | PF_W | PF_X), PF_R | PF_X);
    let dynamic = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_DYNAMIC)
        .expect("PT_DYNAMIC");
    assert!(dynamic.p_offset + dynamic.p_filesz <= load.p_filesz);

    let dyns = &elf.dynamic.as_ref().expect("a dynamic section").dyns;
    let tag = |t: u64| dyns.iter().find(|d| d.d_tag == t).map(|d| d.d_val);
    for t in [DT_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERDEF] {
        assert!(tag(t).is_some_and(|v| v < image.len() as u64), "tag {t:#x}");
    }
    assert_eq!(tag(DT_SYMENT), Some(24));
    assert_eq!(tag(DT_VERDEFNUM), Some(2));
    assert!(tag(DT_SONAME).is_some());
    assert_eq!(elf.soname, Some("linux-vdso.so.1"));
    for t in [DT_REL, DT_RELA, DT_TEXTREL] {
        assert_eq!(tag(t), None, "the vDSO cannot be relocated: tag {t:#x}");
    }

    // Each function under both names, the __vdso_ one global and the plain one weak, at one
    // address inside the executable segment.
    let text = elf
        .section_headers
        .iter()
        .position(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".text"))
        .expect(".text");
    for f in FUNCTIONS {
        let find = |name: &str| {
            elf.dynsyms
                .iter()
                .enumerate()
                .find(|(_, s)| elf.dynstrtab.get_at(s.st_name) == Some(name))
                .unwrap_or_else(|| panic!("{name} is not in .dynsym"))
        };
        let prefixed = format!("__vdso_{f}");
        let (_, global) = find(&prefixed);
        let (_, weak) = find(f);
        assert_eq!(global.st_bind(), STB_GLOBAL, "{prefixed}");
        assert_eq!(weak.st_bind(), STB_WEAK, "{f}");
        for s in [&global, &weak] {
            assert_eq!(s.st_type(), STT_FUNC, "{f}");
            assert_eq!(s.st_shndx, text, "{f}");
            assert!(
                s.st_size > 0 && s.st_value + s.st_size <= load.p_filesz,
                "{f}"
            );
        }
        assert_eq!(global.st_value, weak.st_value, "{f}");
    }

    // Version definitions as goblin reads them from the sections.
    let verdef = elf.verdef.as_ref().expect(".gnu.version_d");
    let defs: Vec<_> = verdef.iter().collect();
    assert_eq!(defs.len(), 2);
    let name_of = |d: &goblin::elf::symver::Verdef<'_>| {
        let aux = d.iter().next().expect("a verdaux");
        elf.dynstrtab.get_at(aux.vda_name).unwrap().to_string()
    };
    assert_eq!(defs[0].vd_flags, 1, "VER_FLG_BASE");
    assert_eq!(name_of(&defs[0]), "linux-vdso.so.1");
    assert_eq!(name_of(&defs[1]), "LINUX_2.6");
    assert_eq!(defs[1].vd_hash, 0x03ae_75f6, "ELF hash of LINUX_2.6");
    assert_eq!(defs[1].vd_hash, elf_hash(b"LINUX_2.6"));
    assert_eq!(defs[0].vd_hash, elf_hash(b"linux-vdso.so.1"));
    let versym = elf.versym.as_ref().expect(".gnu.version");
    assert_eq!(versym.len(), elf.dynsyms.len());
    for (i, s) in elf.dynsyms.iter().enumerate().skip(1) {
        let v = versym.get_at(i).unwrap();
        assert!(!v.is_hidden(), "symbol {i} hidden");
        assert_eq!(v.version(), defs[1].vd_ndx, "symbol {i} ({:?})", s.st_name);
    }
}

/// Looks every function up from the dynamic tags alone, as musl's and Go's loaders do (they
/// never read section headers): the SysV hash chain for the name's bucket, then the symbol's
/// DT_VERSYM index resolved through DT_VERDEF to "LINUX_2.6".
#[test]
fn vdso_symbols_resolve_through_hash_and_versions() {
    let b = vdso_image();
    let e_phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let phnum = u16_at(&b, 56) as usize;
    let dynamic = (0..phnum)
        .map(|i| e_phoff + i * 56)
        .find(|&p| u32_at(&b, p) == PT_DYNAMIC)
        .map(|p| u64::from_le_bytes(b[p + 8..p + 16].try_into().unwrap()) as usize)
        .expect("PT_DYNAMIC");
    let mut tags = std::collections::HashMap::new();
    for entry in b[dynamic..].chunks_exact(16) {
        let t = u64::from_le_bytes(entry[..8].try_into().unwrap());
        if t == 0 {
            break;
        }
        let v = u64::from_le_bytes(entry[8..].try_into().unwrap()) as usize;
        tags.insert(t, v);
    }
    let (hash, symtab, strtab, versym, verdef) = (
        tags[&DT_HASH],
        tags[&DT_SYMTAB],
        tags[&DT_STRTAB],
        tags[&DT_VERSYM],
        tags[&DT_VERDEF],
    );
    let nbucket = u32_at(&b, hash);
    let chain = |i: u32| u32_at(&b, hash + 8 + 4 * (nbucket + i) as usize);
    // The version index Go computes first: the non-base definition named LINUX_2.6 whose
    // vd_hash is the name's ELF hash.
    let mut def = verdef;
    let version = loop {
        let (flags, ndx, vd_hash) = (
            u16_at(&b, def + 2),
            u16_at(&b, def + 4),
            u32_at(&b, def + 8),
        );
        let aux = def + u32_at(&b, def + 12) as usize;
        if flags & 1 == 0
            && vd_hash == elf_hash(b"LINUX_2.6")
            && cstr(&b, strtab + u32_at(&b, aux) as usize) == "LINUX_2.6"
        {
            break ndx & 0x7fff;
        }
        let next = u32_at(&b, def + 16) as usize;
        assert_ne!(next, 0, "no LINUX_2.6 version definition");
        def += next;
    };
    for f in FUNCTIONS {
        for name in [f.to_string(), format!("__vdso_{f}")] {
            let mut i = u32_at(
                &b,
                hash + 8 + 4 * (elf_hash(name.as_bytes()) % nbucket) as usize,
            );
            let found = loop {
                assert_ne!(i, 0, "{name} is not in its hash chain");
                let sym = symtab + 24 * i as usize;
                if cstr(&b, strtab + u32_at(&b, sym) as usize) == name {
                    break i as usize;
                }
                i = chain(i);
            };
            assert_eq!(u16_at(&b, versym + 2 * found) & 0x7fff, version, "{name}");
        }
    }
}

/// Hot clock reads stay out of the kernel with both libcs, and the wall clock they give is the
/// host's within a few seconds.
#[test]
fn clock_reads_make_no_system_call() {
    const READS: usize = 2000;
    for (cc, flags) in FLAVOURS {
        let exe = build_c("hot", cc, flags);
        let cc = format!("{cc} {}", flags.join(" "));
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let out = coracle(&[
            "run",
            "--verbose",
            exe.to_str().unwrap(),
            &READS.to_string(),
        ]);
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let log = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{cc}: {log}");
        let calls = syscall_lines(&log);
        assert!(
            calls.iter().any(|l| l.starts_with("exit_group(")),
            "{cc}: the syscall log is not in the expected form:\n{log}"
        );
        for call in ["clock_gettime(", "gettimeofday(", "time(", "getcpu("] {
            let n = calls.iter().filter(|l| l.starts_with(call)).count();
            // The first read may come before the TSC frequency is known: that one is a real
            // system call, which measures it.
            assert!(
                n <= 1,
                "{cc}: {n} {call} system calls for {READS} reads:\n{log}"
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{cc}: {stdout}");
        for secs in &lines[..3] {
            let secs: u64 = secs.parse().unwrap();
            assert!(
                before.saturating_sub(2) <= secs && secs <= after + 2,
                "{cc}: wall clock {secs} outside [{before}, {after}]"
            );
        }
        assert_eq!(lines[3], "0", "{cc}: the only CPU is CPU 0");
    }
}

/// The syscall lines of a `--verbose` kernel log ("[tid] name(args) = result"), without
/// their thread prefix.
fn syscall_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| l.strip_prefix('[')?.split_once("] ").map(|(_, rest)| rest))
        .collect()
}

/// Go's runtime (runtime/vdso_linux.go) parses the vDSO itself and needs LINUX_2.6 versions:
/// its clock reads must make no system call either, with its threads, timers and
/// asynchronous preemption (SIGURG) all running.
#[test]
fn go_runtime_uses_the_vdso() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vdso/time_now.go");
    let exe = work_dir().join("time_now");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&exe)
        .arg(&src)
        .env("CGO_ENABLED", "0")
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "go could not build {} (apt-get install golang-go)",
        src.display()
    );
    let out = coracle(&["run", "--verbose", exe.to_str().unwrap()]);
    let log = stderr(&out);
    let calls = syscall_lines(&log);
    assert!(
        calls.iter().any(|l| l.starts_with("sigaltstack(")),
        "the Go runtime did not get through its start:\n{log}"
    );
    for call in ["clock_gettime(", "gettimeofday("] {
        let n = calls.iter().filter(|l| l.starts_with(call)).count();
        assert!(n <= 1, "{n} {call} system calls from Go:\n{log}");
    }
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("true "));
}
