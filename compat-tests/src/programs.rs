//! Building the test programs: C sources five ways (static, static-pie and dynamic), the Rust programs for musl, the Go programs
//! with Debian's golang-go, and finding Debian's static busybox.
//!
//! Everything is built at test time into `compat-tests/work/` (gitignored). A missing C or Rust
//! compiler is not a reason to skip: the cases that need it fail with a message naming the
//! package. A missing `go` is: the Go cases are skipped, saying so (CI installs golang-go).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::exec;

/// How a C program is compiled and linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Flavour {
    /// `musl-gcc -static -O2`
    Musl,
    /// `gcc -static -O2`
    Glibc,
    /// `gcc -static-pie -O2 -fPIE`
    GlibcPie,
    /// `gcc -O2`: dynamically linked against the host's glibc, PIE (Debian's gcc default),
    /// run with the libraries `coracle run` packs from the host.
    GlibcDyn,
    /// `musl-gcc -O2`: dynamically linked, interpreter `/lib/ld-musl-x86_64.so.1`.
    MuslDyn,
}

impl Flavour {
    pub(crate) const ALL: [Flavour; 5] = [
        Flavour::Musl,
        Flavour::Glibc,
        Flavour::GlibcPie,
        Flavour::GlibcDyn,
        Flavour::MuslDyn,
    ];

    /// The name used in case names: `c/hello/<name>/microvm`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flavour::Musl => "musl",
            Flavour::Glibc => "glibc",
            Flavour::GlibcPie => "glibc-pie",
            Flavour::GlibcDyn => "glibc-dyn",
            Flavour::MuslDyn => "musl-dyn",
        }
    }

    fn compiler(self) -> (&'static str, &'static str) {
        match self {
            Flavour::Musl | Flavour::MuslDyn => ("musl-gcc", "musl-tools"),
            Flavour::Glibc | Flavour::GlibcPie | Flavour::GlibcDyn => ("gcc", "gcc"),
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Flavour::Musl | Flavour::Glibc => &["-static", "-O2"],
            Flavour::GlibcPie => &["-static-pie", "-O2", "-fPIE"],
            Flavour::GlibcDyn | Flavour::MuslDyn => &["-O2"],
        }
    }
}

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Source {
    /// `programs/<name>.c` in one flavour.
    C(&'static str, Flavour),
    /// `programs/<name>.rs` for x86_64-unknown-linux-musl.
    Rust(&'static str),
    /// `programs/<name>.go`, built static with `CGO_ENABLED=0`.
    Go(&'static str),
    /// `/bin/busybox` from Debian's busybox-static, used as it is.
    Busybox,
    /// The Debian root filesystem (`debian`): "built" is the cached tree.
    Debian,
}

/// The Rust target the Rust programs are built for (static-pie by default).
const RUST_TARGET: &str = "x86_64-unknown-linux-musl";
/// Where busybox-static puts its binary.
const BUSYBOX: &str = "/bin/busybox";
/// Compilers get this long; they take well under a second, except the first Go build, which
/// compiles the standard library into the build cache (tens of seconds).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a program was not built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotBuilt {
    /// The build failed, or a compiler the suite requires is missing: the cases fail.
    Failed(String),
    /// An optional toolchain (Go) is missing: the cases are skipped.
    Unavailable(String),
}

impl std::fmt::Display for NotBuilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(why) | Self::Unavailable(why) => f.write_str(why),
        }
    }
}

impl From<String> for NotBuilt {
    fn from(why: String) -> Self {
        Self::Failed(why)
    }
}

pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn programs_dir() -> PathBuf {
    crate_dir().join("programs")
}

/// The shell scripts the `script/` cases run with busybox `sh`.
pub(crate) fn scripts_dir() -> PathBuf {
    crate_dir().join("scripts")
}

pub(crate) fn work_dir() -> PathBuf {
    crate_dir().join("work")
}

/// Builds `source` (or checks it is there); the absolute path of the executable, or why not.
pub(crate) fn build(source: &Source) -> Result<PathBuf, NotBuilt> {
    match source {
        Source::C(name, flavour) => Ok(build_c(name, *flavour)?),
        Source::Rust(name) => Ok(build_rust(name)?),
        Source::Go(name) => build_go(name),
        Source::Busybox => Ok(check_busybox(Path::new(BUSYBOX))?),
        Source::Debian => {
            if !crate::run::host_is_root() {
                return Err(NotBuilt::Unavailable(
                    "building the Debian root filesystem (debootstrap, chroot) takes root".into(),
                ));
            }
            Ok(crate::debian::root()?)
        }
    }
}

fn build_c(name: &str, flavour: Flavour) -> Result<PathBuf, String> {
    let (compiler, package) = flavour.compiler();
    if find_in_path(compiler).is_none() {
        return Err(format!(
            "{compiler} not found: install {package} (the {} build cannot be tested)",
            flavour.name()
        ));
    }
    let source = programs_dir().join(format!("{name}.c"));
    let out = output_path(flavour.name(), name)?;
    let mut command = Command::new(compiler);
    command
        .args(flavour.flags())
        .args(["-std=gnu11", "-Wall", "-I"])
        .arg(programs_dir())
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .arg("-lm");
    compile(command, &format!("{compiler} {}", source.display()))?;
    Ok(out)
}

fn build_rust(name: &str) -> Result<PathBuf, String> {
    let source = programs_dir().join(format!("{name}.rs"));
    let out = output_path("rust", name)?;
    let mut command = Command::new("rustc");
    command
        .args(["--edition", "2021", "-O", "--target", RUST_TARGET])
        .arg("-o")
        .arg(&out)
        .arg(&source)
        // rustup picks the toolchain (and its installed targets) from rust-toolchain.toml.
        .current_dir(crate_dir());
    compile(command, &format!("rustc {}", source.display()))
        .map_err(|e| format!("{e} (is the target installed? `rustup target add {RUST_TARGET}`)"))?;
    Ok(out)
}

/// `go build` in a sandbox of its own: the build cache and GOPATH under `work/`, no network, no
/// user configuration, so it works offline and without a home directory (as in CI).
fn build_go(name: &str) -> Result<PathBuf, NotBuilt> {
    if find_in_path("go").is_none() {
        return Err(NotBuilt::Unavailable(
            "go not found: install golang-go to build the Go programs".into(),
        ));
    }
    let source = programs_dir().join(format!("{name}.go"));
    let out = output_path("go", name)?;
    let mut command = Command::new("go");
    command
        .args(["build", "-trimpath", "-o"])
        .arg(&out)
        .arg(format!("{name}.go"))
        .current_dir(programs_dir())
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", work_dir().join("go-cache"))
        .env("GOPATH", work_dir().join("go-path"))
        .env("GOENV", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOTELEMETRY", "off");
    compile(command, &format!("go build {}", source.display()))?;
    let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    match elf_interpreter(&bytes) {
        Some(false) => Ok(out),
        _ => Err(NotBuilt::Failed(format!(
            "go build made {}, which is not a static x86_64 executable",
            out.display()
        ))),
    }
}

fn output_path(dir: &str, name: &str) -> Result<PathBuf, String> {
    let dir = work_dir().join(dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir.join(name))
}

fn compile(command: Command, what: &str) -> Result<(), String> {
    match exec::run(command, None, BUILD_TIMEOUT) {
        Ok(run) if run.status == 0 => Ok(()),
        Ok(run) => Err(format!(
            "{what} failed with status {}: {}",
            run.status,
            exec::last_line(&run.stderr).unwrap_or_default()
        )),
        Err(err) => Err(format!("{what}: {err}")),
    }
}

fn check_busybox(path: &Path) -> Result<PathBuf, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("{}: {e}: install busybox-static", path.display()))?;
    match elf_interpreter(&bytes) {
        Some(false) => Ok(path.to_path_buf()),
        Some(true) => Err(format!(
            "{} is dynamically linked: install busybox-static instead of busybox",
            path.display()
        )),
        None => Err(format!("{} is not an x86_64 ELF file", path.display())),
    }
}

/// Whether an x86_64 ELF file asks for an interpreter (is dynamically linked); `None` when it
/// is not a well-formed ELF64 little-endian file.
pub(crate) fn elf_interpreter(bytes: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let entsize = usize::from(u16_at(0x36)?);
    let count = usize::from(u16_at(0x38)?);
    for index in 0..count {
        let header = phoff.checked_add(index.checked_mul(entsize)?)?;
        let kind = u32::from_le_bytes(bytes.get(header..header + 4)?.try_into().ok()?);
        if kind == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

/// The first `name` on `$PATH`.
pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavour_names_are_distinct() {
        let names: std::collections::BTreeSet<_> = Flavour::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Flavour::ALL.len());
    }

    #[test]
    fn elf_headers() {
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(elf_interpreter(b"\x7fELF\x02\x01"), None);
        // A minimal header with one PT_INTERP program header right after it.
        let mut elf = vec![0u8; 64 + 56];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        elf[64..68].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(elf_interpreter(&elf), Some(true));
        elf[64..68].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(elf_interpreter(&elf), Some(false));
        elf[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(elf_interpreter(&elf), None, "program headers past the end");
    }

    #[test]
    fn a_missing_compiler_is_found_missing() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("no-such-compiler-coracle").is_none());
    }
}
