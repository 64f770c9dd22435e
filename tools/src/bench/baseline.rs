//! The Linux VM's kernel, prepared by `coracle bench` itself when it is not cached: on Debian,
//! the distribution's kernel package (`apt-get download` from the configured mirrors, or the
//! copy already in apt's cache; never installed), its bzImage read out of the `.deb`, and the
//! PVH-bootable `vmlinux` decompressed from the bzImage's payload; elsewhere a kernel the user
//! names with `--linux-kernel` (a PVH `vmlinux`, or a bzImage to extract it from).
//!
//! The cache layout is the one the former `bench/linux-baseline.sh` used, so a kernel it
//! unpacked is found: `<cache>/kernel-pkg` names the package, `<cache>/<package>/vmlinux` is
//! the kernel.
//! The download and the extraction show a progress bar (indicatif) on a terminal and nothing
//! otherwise.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use indicatif::ProgressBar;

/// The metapackage whose dependency names Debian's current kernel package.
const METAPACKAGE: &str = "linux-image-amd64";

/// Finds the Linux VM's kernel: `given` (checked, extracted from a bzImage when needed), else
/// the cached one, else, on Debian, downloads and extracts the distribution's.
pub fn kernel(cache: Option<&Path>, given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return given_kernel(path, cache);
    }
    let cache = cache.ok_or(
        "no cache directory for the Linux kernel: set CORACLE_BENCH_DIR or HOME, or pass \
         --linux-kernel PATH",
    )?;
    if let Ok(vmlinux) = super::linux::find_kernel(Some(cache)) {
        return Ok(vmlinux);
    }
    if !is_debian() {
        return Err(format!(
            "no cached Linux kernel in {} and this is not Debian (coracle bench fetches \
             Debian's {METAPACKAGE} package with apt-get): pass --linux-kernel PATH, a PVH \
             vmlinux or a bzImage of an x86_64 Linux kernel with its drivers for microvm's \
             serial console built in",
            cache.display()
        ));
    }
    debian_kernel(cache)
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists()
        && Command::new("apt-get")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// A kernel file the user gave: used as is when it is a PVH ELF, else its vmlinux is
/// extracted into the cache (or next to nothing: a temporary file is not kept, so the cache
/// is required).
fn given_kernel(path: &Path, cache: Option<&Path>) -> Result<PathBuf, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.starts_with(b"\x7fELF") {
        check_pvh(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(path.to_owned());
    }
    let cache = cache.ok_or("no cache directory to extract the vmlinux into: set HOME")?;
    let bar = bar(0, "extracting vmlinux");
    let vmlinux = vmlinux_from_bzimage(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    bar.finish_and_clear();
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let name = path.file_name().map_or_else(
        || "kernel".into(),
        |n| n.to_string_lossy().replace(['/', ' '], "_"),
    );
    let out = cache
        .join("given")
        .join(format!("{name}-{}-{mtime}.vmlinux", meta.len()));
    write_atomically(&out, &vmlinux)?;
    Ok(out)
}

/// Downloads (unless apt's cache has it) and unpacks Debian's kernel package.
fn debian_kernel(cache: &Path) -> Result<PathBuf, String> {
    let package = kernel_package()?;
    if !safe_name(&package) {
        return Err(format!(
            "an odd kernel package name from apt-cache: {package:?}"
        ));
    }
    let dir = cache.join(&package);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let deb = match find_deb(&dir, &package).or_else(|| find_deb(Path::new(APT_ARCHIVES), &package))
    {
        Some(deb) => deb,
        None => download(&package, &dir)?,
    };
    let file = File::open(&deb).map_err(|e| format!("cannot open {}: {e}", deb.display()))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let bar = bar(size, &format!("reading {}", file_name(&deb)));
    let bzimage =
        bzimage_from_deb(bar.wrap_read(file)).map_err(|e| format!("{}: {e}", deb.display()))?;
    bar.finish_and_clear();
    let vmlinux = vmlinux_from_bzimage(&bzimage).map_err(|e| format!("{}: {e}", deb.display()))?;
    let out = dir.join("vmlinux");
    write_atomically(&out, &vmlinux)?;
    write_atomically(&cache.join("kernel-pkg"), format!("{package}\n").as_bytes())?;
    eprintln!("bench: Linux VM kernel: {} (from {package})", out.display());
    Ok(out)
}

const APT_ARCHIVES: &str = "/var/cache/apt/archives";

/// `linux-image-6.1.0-N-amd64`: what the metapackage depends on now.
fn kernel_package() -> Result<String, String> {
    let out = Command::new("apt-cache")
        .args(["depends", METAPACKAGE])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run apt-cache: {e}"))?;
    parse_depends(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        format!(
            "apt knows no {METAPACKAGE} package: run `apt-get update` (Debian's mirrors only), \
             or pass --linux-kernel PATH"
        )
    })
}

/// The first `Depends: linux-image-...` of `apt-cache depends`.
fn parse_depends(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let name = l.trim().strip_prefix("Depends:")?.trim();
        (name.starts_with("linux-image-") && !name.starts_with('<')).then(|| name.to_owned())
    })
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-+._".contains(&b))
}

/// `<package>_<version>_amd64.deb` in `dir`, if there is one.
fn find_deb(dir: &Path, package: &str) -> Option<PathBuf> {
    let prefix = format!("{package}_");
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = file_name(p);
            name.starts_with(&prefix) && name.ends_with(".deb")
        })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// `apt-get download` into `dir`, with a bar over the file's growth (apt-cache knows its size).
fn download(package: &str, dir: &Path) -> Result<PathBuf, String> {
    let size = package_size(package).unwrap_or(0);
    let bar = bar(size, &format!("downloading {package}"));
    let mut cmd = Command::new("apt-get");
    cmd.args(["download", "-q"]);
    // As root, apt drops to the `_apt` user, who cannot write here: stay root for this.
    if is_root() {
        cmd.args(["-o", "APT::Sandbox::User=root"]);
    }
    let mut child = cmd
        .arg(package)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    let mut stderr = child.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {
                bar.set_position(downloaded(dir, package));
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => break Err(e),
        }
    };
    bar.finish_and_clear();
    let errors = errors.join().unwrap_or_default();
    match status {
        Ok(s) if s.success() => find_deb(dir, package).ok_or_else(|| {
            format!(
                "apt-get download {package} left no .deb in {}",
                dir.display()
            )
        }),
        Ok(s) => Err(format!(
            "apt-get download {package} failed ({s}): {}",
            errors.trim()
        )),
        Err(e) => Err(format!("cannot wait for apt-get: {e}")),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn package_size(package: &str) -> Option<u64> {
    let out = Command::new("apt-cache")
        .args(["show", "--no-all-versions", package])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Size:")?.trim().parse().ok())
}

/// The bytes of every file in `dir` whose name starts with the package's: the partial
/// download, whatever apt calls it meanwhile.
fn downloaded(dir: &Path, package: &str) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| file_name(&e.path()).starts_with(package))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// A bar of `len` bytes (a spinner when 0), drawn only on a terminal.
fn bar(len: u64, message: &str) -> ProgressBar {
    crate::progress::bar(len, &format!("bench: {message}"))
}

/// The largest bzImage a package may hold (Debian's is ~8 MB).
const MAX_BZIMAGE: u64 = 256 << 20;
/// The largest vmlinux a payload may decompress to (Debian's is ~66 MB).
const MAX_VMLINUX: u64 = 1 << 30;

/// `./boot/vmlinuz-*` out of a `.deb`: an `ar` archive whose `data.tar.xz` (or `.gz`, `.zst`)
/// holds the files.
pub fn bzimage_from_deb(deb: impl Read) -> Result<Vec<u8>, String> {
    with_data_tar(deb, bzimage_from_tar)
}

/// Calls `f` on a Debian package's `data.tar`, decompressed.
fn with_data_tar<T>(
    deb: impl Read,
    f: impl FnOnce(&mut dyn Read) -> Result<T, String>,
) -> Result<T, String> {
    let mut archive = ar::Archive::new(deb);
    while let Some(entry) = archive.next_entry() {
        let entry = entry.map_err(|e| format!("not a Debian package: {e}"))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let mut data: Box<dyn Read + '_> = match name.as_str() {
            "data.tar.xz" => Box::new(xz2::read::XzDecoder::new(entry)),
            "data.tar.gz" => Box::new(flate2::read::GzDecoder::new(entry)),
            "data.tar.zst" => Box::new(
                zstd::stream::read::Decoder::new(entry)
                    .map_err(|e| format!("data.tar.zst: {e}"))?,
            ),
            "data.tar" => Box::new(entry),
            _ => continue,
        };
        return f(&mut data);
    }
    Err("no data.tar member: not a Debian package".into())
}

/// The kernel modules `names` (file names without `.ko`) of the package the cached `vmlinux`
/// came from, in the order given: the Linux VM's virtio-net driver is a module in Debian's
/// kernel. Extracted once into `<cache>/<package>/modules/`.
pub fn modules(vmlinux: &Path, names: &[&str]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let dir = vmlinux
        .parent()
        .ok_or("the Linux kernel has no directory")?;
    let out = dir.join("modules");
    let cached = |name: &str| fs::read(out.join(format!("{name}.ko"))).ok();
    if names.iter().all(|n| cached(n).is_some()) {
        return Ok(names
            .iter()
            .map(|n| ((*n).to_owned(), cached(n).unwrap_or_default()))
            .collect());
    }
    let package = file_name(dir);
    let deb = find_deb(dir, &package)
        .or_else(|| find_deb(Path::new(APT_ARCHIVES), &package))
        .ok_or_else(|| {
            format!(
                "the network benchmark's Linux VM needs the virtio-net modules of {package}, \
                 but its package is not in {} (a --linux-kernel given by path has none)",
                dir.display()
            )
        })?;
    let file = File::open(&deb).map_err(|e| format!("cannot open {}: {e}", deb.display()))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let bar = bar(size, &format!("reading modules from {}", file_name(&deb)));
    let found = with_data_tar(bar.wrap_read(file), |data| modules_from_tar(data, names))
        .map_err(|e| format!("{}: {e}", deb.display()))?;
    bar.finish_and_clear();
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for (name, bytes) in &found {
        write_atomically(&out.join(format!("{name}.ko")), bytes)?;
    }
    Ok(found)
}

fn modules_from_tar(data: &mut dyn Read, names: &[&str]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut found: Vec<Option<Vec<u8>>> = vec![None; names.len()];
    let mut tar = tar::Archive::new(data);
    let entries = tar.entries().map_err(|e| format!("data.tar: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("data.tar: {e}"))?;
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(file) = path.rsplit('/').next().and_then(|f| f.strip_suffix(".ko")) else {
            continue;
        };
        if let Some(i) = names.iter().position(|&n| n == file) {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_BZIMAGE)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("{path}: {e}"))?;
            found[i] = Some(bytes);
        }
    }
    names
        .iter()
        .zip(found)
        .map(|(n, b)| {
            b.map(|b| ((*n).to_owned(), b))
                .ok_or(format!("no module {n}.ko"))
        })
        .collect()
}

fn bzimage_from_tar(data: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut tar = tar::Archive::new(data);
    let entries = tar.entries().map_err(|e| format!("data.tar: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("data.tar: {e}"))?;
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = path.trim_start_matches("./");
        if path.starts_with("boot/vmlinuz-") && entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            entry
                .take(MAX_BZIMAGE + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("{path}: {e}"))?;
            if bytes.len() as u64 > MAX_BZIMAGE {
                return Err(format!("{path} is larger than {MAX_BZIMAGE} bytes"));
            }
            return Ok(bytes);
        }
    }
    Err("the package holds no boot/vmlinuz-*".into())
}

/// The ELF `vmlinux` a bzImage carries compressed (XZ as Debian's, or gzip), checked to have
/// the Xen PVH entry note QEMU's `-kernel` boots through. zstd, lz4 and bzip2 payloads are not
/// handled.
pub fn vmlinux_from_bzimage(bzimage: &[u8]) -> Result<Vec<u8>, String> {
    type Decoder = fn(&[u8]) -> Option<Vec<u8>>;
    let kinds: [(&[u8], Decoder); 2] = [
        (b"\xfd7zXZ\x00", xz_stream),
        (b"\x1f\x8b\x08", |d| {
            read_capped(flate2::read::GzDecoder::new(d))
        }),
    ];
    for (magic, decode) in kinds {
        let mut from = 0;
        while let Some(at) = find(&bzimage[from..], magic).map(|i| i + from) {
            if let Some(elf) = decode(&bzimage[at..]).filter(|o| o.starts_with(b"\x7fELF")) {
                check_pvh(&elf)?;
                return Ok(elf);
            }
            from = at + 1;
        }
    }
    Err(
        "no XZ or gzip payload holding an ELF kernel (zstd, lz4 and bzip2 kernels are not \
         handled)"
            .into(),
    )
}

/// Decompresses the one XZ stream at the start of `data`, up to [`MAX_VMLINUX`] bytes; the
/// bytes after its end (the rest of the bzImage) are left alone. `None` for a corrupt or cut
/// stream.
fn xz_stream(data: &[u8]) -> Option<Vec<u8>> {
    use xz2::stream::{Action, Status, Stream};
    let mut stream = Stream::new_stream_decoder(MAX_VMLINUX, 0).ok()?;
    let mut out = Vec::new();
    loop {
        if out.len() == out.capacity() {
            if out.len() as u64 >= MAX_VMLINUX {
                return None;
            }
            out.reserve(out.len().max(1 << 20));
        }
        let (consumed, produced) = (stream.total_in(), out.len());
        let rest = data.get(usize::try_from(consumed).ok()?..)?;
        match stream.process_vec(rest, &mut out, Action::Run).ok()? {
            Status::StreamEnd => return Some(out),
            // Neither input taken nor output made: the stream was cut short.
            _ if stream.total_in() == consumed && out.len() == produced => return None,
            _ => {}
        }
    }
}

/// Decompresses up to [`MAX_VMLINUX`] bytes of a gzip member (the reader stops at its end);
/// `None` for a corrupt or cut one.
fn read_capped(r: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    r.take(MAX_VMLINUX).read_to_end(&mut out).ok()?;
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An x86_64 ELF with the `Xen` note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY).
pub fn check_pvh(elf: &[u8]) -> Result<(), String> {
    let parsed = goblin::elf::Elf::parse(elf).map_err(|e| format!("not a valid ELF: {e}"))?;
    if parsed.header.e_machine != goblin::elf::header::EM_X86_64 {
        return Err("not an x86_64 kernel".into());
    }
    let has_note = parsed
        .iter_note_headers(elf)
        .into_iter()
        .flatten()
        .flatten()
        .any(|n| n.name == "Xen" && n.n_type == 18);
    if has_note {
        Ok(())
    } else {
        Err("no Xen PVH entry note (type 18): QEMU cannot boot it with -kernel".into())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;
