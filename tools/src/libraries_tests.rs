//! Tests of the library search, on ELF files built here with gcc and musl-gcc.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::tempdir::TempDir;

/// Runs `compiler` with `args` in `dir`, panicking with its stderr on failure.
fn cc(compiler: &str, dir: &Path, args: &[&str]) {
    let out = Command::new(compiler)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{compiler}: {e} (install gcc and musl-tools)"));
    assert!(
        out.status.success(),
        "{compiler} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn bytes_of(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn host_config(flavour: Flavour) -> SearchConfig {
    SearchConfig::host(flavour, None)
}

fn paths(closure: &Closure) -> Vec<(String, String)> {
    closure
        .libraries
        .iter()
        .map(|l| {
            (
                String::from_utf8_lossy(&l.needed).into_owned(),
                String::from_utf8_lossy(&l.path).into_owned(),
            )
        })
        .collect()
}

/// `dir/lib/liba.so` (RPATH `$ORIGIN/sub`) needs `dir/lib/sub/libb.so`; `dir/bin/main` has
/// `rpath` (as RPATH, or RUNPATH with `new_dtags`) and needs liba.
fn fixture(rpath: &str, new_dtags: bool) -> TempDir {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("lib/sub")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    write(dir, "b.c", "int b(void) { return 2; }\n");
    write(
        dir,
        "a.c",
        "int b(void);\nint a(void) { return b() + 1; }\n",
    );
    write(
        dir,
        "main.c",
        "int a(void);\nint main(void) { return a(); }\n",
    );
    cc(
        "gcc",
        dir,
        &["-shared", "-fPIC", "-o", "lib/sub/libb.so", "b.c"],
    );
    cc(
        "gcc",
        dir,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "lib/liba.so",
            "a.c",
            "-Llib/sub",
            "-lb",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/sub",
        ],
    );
    let dtags = if new_dtags {
        "-Wl,--enable-new-dtags"
    } else {
        "-Wl,--disable-new-dtags"
    };
    cc(
        "gcc",
        dir,
        &[
            "-o",
            "bin/main",
            "main.c",
            "-Llib",
            "-la",
            dtags,
            &format!("-Wl,-rpath,{rpath}"),
            // liba's own needs are found through its RPATH at run time, not at link time.
            "-Wl,--allow-shlib-undefined",
            "-Wl,-rpath-link,lib/sub",
        ],
    );
    tmp
}

fn resolve_main(tmp: &TempDir, config: &SearchConfig) -> Result<Closure, LibraryError> {
    let main = tmp.path().join("bin/main");
    let bytes = std::fs::read(&main).unwrap();
    resolve(
        &bytes_of(&main),
        &bytes,
        config,
        &HostFiles { cwd: tmp.path() },
    )
}

#[test]
fn rpath_with_origin_and_the_cache_for_libc() {
    let tmp = fixture("$ORIGIN/../lib", false);
    let closure = resolve_main(&tmp, &host_config(Flavour::Glibc)).unwrap();
    assert_eq!(closure.flavour, Flavour::Glibc);
    assert_eq!(closure.interpreter, b"/lib64/ld-linux-x86-64.so.2");
    let dir = tmp.path().display().to_string();
    let found = paths(&closure);
    assert_eq!(
        found[0],
        ("liba.so".into(), format!("{dir}/bin/../lib/liba.so"))
    );
    // libc comes from the host's ld.so.cache: at the path ldconfig recorded.
    let cache = LdCache::parse(&std::fs::read(LD_SO_CACHE).unwrap()).unwrap();
    let libc = String::from_utf8(cache.lookup(b"libc.so.6").unwrap().to_vec()).unwrap();
    assert_eq!(found[1], ("libc.so.6".into(), libc));
    // liba's $ORIGIN is the directory it was opened in, not the program's.
    assert_eq!(
        found[2],
        ("libb.so".into(), format!("{dir}/bin/../lib/sub/libb.so"))
    );
    // libgcc_s, which libc dlopens for pthread_cancel and pthread_exit, comes along.
    assert!(
        found[3..]
            .iter()
            .any(|(n, p)| n == "libgcc_s.so.1" && p.ends_with("/libgcc_s.so.1")),
        "{found:?}"
    );
    assert_eq!(found.len(), 4, "{found:?}");
}

#[test]
fn a_loader_rpath_is_inherited_but_a_runpath_is_not() {
    // main's RPATH names lib/sub too: libb may be found through it (inherited by liba)...
    let tmp = fixture("$ORIGIN/../lib:$ORIGIN/../lib/sub", false);
    std::fs::rename(
        tmp.path().join("lib/sub/libb.so"),
        tmp.path().join("lib/libb.so"),
    )
    .unwrap();
    // ...now libb lives in lib/, which liba's RPATH ($ORIGIN/sub) does not name but main's
    // RPATH does, and a loader's RPATH is searched for its libraries' needs.
    let closure = resolve_main(&tmp, &host_config(Flavour::Glibc)).unwrap();
    let dir = tmp.path().display().to_string();
    assert!(
        paths(&closure).contains(&("libb.so".into(), format!("{dir}/bin/../lib/libb.so"))),
        "{closure:?}"
    );
    // The same with a RUNPATH: it serves main's own needs only, so libb is not found.
    let tmp = fixture("$ORIGIN/../lib", true);
    std::fs::rename(
        tmp.path().join("lib/sub/libb.so"),
        tmp.path().join("lib/libb.so"),
    )
    .unwrap();
    let err = resolve_main(&tmp, &host_config(Flavour::Glibc)).unwrap_err();
    let LibraryError::NotFound { needed, by, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(needed, "libb.so");
    assert!(by.ends_with("lib/liba.so"), "{err}");
    assert!(err.to_string().contains("cannot find libb.so"), "{err}");
}

#[test]
fn candidates_that_are_not_x86_64_elf_are_passed_over() {
    let tmp = fixture("$ORIGIN/../junk:$ORIGIN/../lib", false);
    std::fs::create_dir(tmp.path().join("junk")).unwrap();
    write(tmp.path(), "junk/liba.so", "not an ELF file\n");
    let closure = resolve_main(&tmp, &host_config(Flavour::Glibc)).unwrap();
    assert!(paths(&closure)[0].1.ends_with("/bin/../lib/liba.so"));
}

#[test]
fn the_cache_then_the_system_directories() {
    let tmp = fixture("/nonexistent", false);
    let dir = tmp.path().display().to_string();
    // Without an RPATH that finds liba, a cache entry does.
    let cache =
        crate::ldcache::tests::build(&[(0x0303, "liba.so", &format!("{dir}/lib/liba.so"), 0)]);
    let config = SearchConfig {
        cache: Some(LdCache::parse(&cache).unwrap()),
        system_dirs: vec![
            format!("{dir}/lib/sub").into_bytes(),
            b"/lib/x86_64-linux-gnu".to_vec(),
        ],
        library_path: Vec::new(),
    };
    let found = paths(&resolve_main(&tmp, &config).unwrap());
    assert_eq!(found[0].1, format!("{dir}/lib/liba.so"));
    // libb: liba's RPATH finds it first; libc: not in this cache, so a system directory.
    assert_eq!(found[1].1, "/lib/x86_64-linux-gnu/libc.so.6");
    // LD_LIBRARY_PATH comes before the cache.
    std::fs::create_dir(tmp.path().join("llp")).unwrap();
    std::fs::copy(
        tmp.path().join("lib/liba.so"),
        tmp.path().join("llp/liba.so"),
    )
    .unwrap();
    let config = SearchConfig {
        library_path: vec![format!("{dir}/llp").into_bytes()],
        ..config
    };
    let found = paths(&resolve_main(&tmp, &config).unwrap());
    assert_eq!(found[0].1, format!("{dir}/llp/liba.so"));
}

#[test]
fn musl_programs_use_musl_rules() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "m.c",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
    );
    cc("musl-gcc", dir, &["-o", "m", "m.c", "-lm", "-lpthread"]);
    let bytes = std::fs::read(dir.join("m")).unwrap();
    let config = host_config(Flavour::Musl);
    let closure = resolve(
        &bytes_of(&dir.join("m")),
        &bytes,
        &config,
        &HostFiles { cwd: dir },
    )
    .unwrap();
    assert_eq!(closure.flavour, Flavour::Musl);
    assert_eq!(closure.interpreter, b"/lib/ld-musl-x86_64.so.1");
    // libc.so (and libm, libpthread) are the dynamic linker itself.
    assert_eq!(closure.libraries, []);
}

#[test]
fn static_programs_have_no_closure() {
    let bytes = std::fs::read("/bin/busybox").expect("install busybox-static");
    let err = resolve(
        b"/bin/busybox",
        &bytes,
        &SearchConfig::default(),
        &HostFiles {
            cwd: Path::new("/"),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("no interpreter"), "{err}");
    let err = resolve(
        b"/x",
        b"junk",
        &SearchConfig::default(),
        &HostFiles {
            cwd: Path::new("/"),
        },
    )
    .unwrap_err();
    assert!(matches!(err, LibraryError::BadElf { .. }), "{err}");
}

#[test]
fn dynamic_string_tokens() {
    let g = Flavour::Glibc;
    assert_eq!(
        expand(b"$ORIGIN/../lib", b"/opt/x/bin", g).unwrap(),
        b"/opt/x/bin/../lib"
    );
    assert_eq!(expand(b"${ORIGIN}/l", b"/o", g).unwrap(), b"/o/l");
    assert_eq!(
        expand(b"/usr/$LIB/${PLATFORM}", b"/o", g).unwrap(),
        b"/usr/lib/x86_64-linux-gnu/x86_64"
    );
    assert_eq!(expand(b"/plain", b"/o", g).unwrap(), b"/plain");
    assert_eq!(expand(b"$UNKNOWN/x", b"/o", g), None);
    assert_eq!(expand(b"${ORIGIN", b"/o", g), None);
    // musl knows $ORIGIN only.
    assert_eq!(expand(b"$LIB", b"/o", Flavour::Musl), None);
    assert_eq!(expand(b"$ORIGIN", b"/o", Flavour::Musl).unwrap(), b"/o");
    assert_eq!(dirname(b"/a/b"), b"/a");
    assert_eq!(dirname(b"/a"), b"/");
    assert_eq!(dirname(b"a"), b".");
}

#[test]
fn musl_reserved_names() {
    for name in [
        "libc.so",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "libc.musl-x86_64.so.1",
    ] {
        assert!(musl_reserved(name.as_bytes()), "{name}");
    }
    for name in ["libcrypto.so.3", "libz.so.1", "librtmp.so", "c.so"] {
        assert!(!musl_reserved(name.as_bytes()), "{name}");
    }
}

#[test]
fn interpreter_flavours() {
    assert_eq!(
        Flavour::of_interpreter(b"/lib/ld-musl-x86_64.so.1"),
        Flavour::Musl
    );
    assert_eq!(
        Flavour::of_interpreter(b"/lib64/ld-linux-x86-64.so.2"),
        Flavour::Glibc
    );
}
