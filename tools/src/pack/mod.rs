//! `coracle pack IMAGE -o FILE`: one file holding the kernel, the launch configuration and the
//! image's root filesystem as an EROFS image, which `coracle run FILE` runs and plain QEMU
//! boots (docs/packed-image.md).
//!
//! The file starts with the kernel ELF (so QEMU's `-kernel FILE` loads it), whose launch
//! section carries the launch records (`boot`); then the configuration (JSON, `config`) that
//! `coracle run FILE` starts from; then the EROFS image, which QEMU attaches as a read-only
//! drive at its offset of the file; last the header (`layout`). The same image and options
//! give the same bytes: the host name is the image id's, nothing reads the clock.

pub mod boot;
pub mod config;
pub mod layout;
pub mod run;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use sha2::{Digest, Sha256};

use crate::error::RunError;
use config::PackedConfig;
use layout::{Layout, HEADER_LEN, ROOT_ALIGN};

#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// The file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub output: PathBuf,
    /// Set an environment variable in the packed configuration (KEY=VALUE).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<OsString>,
    /// Replace the image's Entrypoint ("" clears it).
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Run as USER (name|uid[:group|gid]), looked up in the image's /etc/passwd.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Working directory, an absolute path [default: the image's WorkingDir].
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Guest memory of the QEMU command printed at the end, in MiB.
    #[arg(short = 'm', long, value_name = "MIB", default_value_t = 128)]
    pub memory: u64,
    /// The image (a name in Coracle's store, oci:DIR, oci-archive:FILE, docker-archive:FILE,
    /// containers-storage:NAME or a registry reference).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Arguments that replace the image's Cmd, as after `coracle run IMAGE`.
    #[arg(value_name = "ARGS", trailing_var_arg = true)]
    pub args: Vec<OsString>,
}

/// `coracle pack`.
pub fn pack(args: PackArgs) -> Result<u8, RunError> {
    let opts = run_options(&args)?;
    let cwd = std::env::current_dir()
        .map_err(|e| RunError::io("cannot read the current directory", e))?;
    let store = crate::image::store::Store::open_default()?;
    let source = crate::image::run::image_source(
        args.image.as_ref(),
        &cwd,
        crate::program::host_path_var().as_deref(),
        Some(&store),
    )?
    .ok_or_else(|| {
        RunError::Usage(format!(
            "{}: not an image (coracle pack takes an image: a name in the store, oci:DIR, \
             oci-archive:FILE, docker-archive:FILE, containers-storage:NAME or a registry \
             reference)",
            args.image
        ))
    })?;
    let prepared = crate::image::run::prepared(&opts, &source, &store)?;
    if let Some(warning) = prepared.tree.skipped_warning() {
        eprintln!("coracle: warning: {warning}");
    }
    let packed = PackedConfig::new(&args.image, &prepared)?;
    let output = cwd.join(&args.output);
    let layout = write_file(&output, &packed, &prepared.tree)
        .map_err(|e| RunError::io(format!("cannot write {}", output.display()), e))?;
    let shown = args.output.to_string_lossy();
    eprintln!(
        "coracle: packed {} into {} ({} MiB); run it with `coracle run {shown}`, or boot it \
         with QEMU alone:\n{}",
        args.image,
        args.output.display(),
        layout.file_len.div_ceil(1 << 20),
        boot::plain_command(&shown, &layout.root, args.memory)
    );
    Ok(0)
}

/// The options of `coracle run` that the pack's own stand for, so the launch is derived
/// exactly as `coracle run IMAGE` derives it.
fn run_options(args: &PackArgs) -> Result<crate::cli::RunOptions, RunError> {
    let mut line: Vec<OsString> = vec!["-m".into(), args.memory.to_string().into()];
    for e in &args.env {
        line.extend(["-e".into(), e.clone()]);
    }
    if let Some(e) = &args.entrypoint {
        line.extend(["--entrypoint".into(), e.into()]);
    }
    if let Some(u) = &args.user {
        line.extend(["-u".into(), u.into()]);
    }
    if let Some(w) = &args.workdir {
        line.extend(["-w".into(), w.into()]);
    }
    line.push("--".into());
    line.push(args.image.clone().into());
    line.extend(args.args.iter().cloned());
    run_options_for(&line)
}

/// `coracle run`'s options for the arguments `line` (after `coracle run`), parsed by its own
/// parser (so they stay what `coracle run` takes as options are added), without a network (no
/// network files: the result runs wherever it is booted) and with a fixed host name.
pub(crate) fn run_options_for(line: &[OsString]) -> Result<crate::cli::RunOptions, RunError> {
    let mut full: Vec<OsString> = ["coracle", "run", "--network", "none"]
        .iter()
        .map(OsString::from)
        .collect();
    full.extend(line.iter().cloned());
    let cli = crate::cli::Cli::try_parse_from(full).map_err(|e| RunError::Usage(e.to_string()))?;
    let crate::cli::Command::Run(run) = cli.command else {
        return Err(RunError::Usage("internal: not a run command".into()));
    };
    // The host name is set from the image id once the image is read (PackedConfig).
    run.into_options("coracle", crate::env::host_lookup)
}

/// Writes the packed file (under a temporary name, then renamed) and returns its layout.
fn write_file(
    output: &Path,
    packed: &PackedConfig,
    tree: &crate::image::tree::FsTree,
) -> io::Result<Layout> {
    let dir = output.parent().unwrap_or(Path::new("."));
    let name = output
        .file_name()
        .ok_or_else(|| io::Error::other("the output names no file"))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let layout = write_parts(&mut file, packed, tree)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, output)?;
        Ok(layout)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_parts<W: Write + Seek>(
    out: &mut W,
    packed: &PackedConfig,
    tree: &crate::image::tree::FsTree,
) -> io::Result<Layout> {
    let records = packed.launch().write_records()?;
    let kernel = boot::kernel_with_records(crate::kernel_image::KERNEL, &records)
        .map_err(io::Error::other)?;
    out.write_all(&kernel)?;
    let config_bytes = serde_json::to_vec_pretty(packed).map_err(io::Error::other)?;
    let config_start = pad_to(out, (kernel.len() as u64).next_multiple_of(ROOT_ALIGN))?;
    out.write_all(&config_bytes)?;
    let root_start = pad_to(
        out,
        (config_start + config_bytes.len() as u64).next_multiple_of(ROOT_ALIGN),
    )?;
    let window = Window {
        inner: &mut *out,
        base: root_start,
    };
    let source = crate::root_image::Source::Image(tree);
    let window = crate::progress::Counted::new(window, source.bar());
    let (window, size) = crate::root_image::write_to(source, window)?;
    window.into_inner();
    let root_end = pad_to(out, (root_start + size).next_multiple_of(ROOT_ALIGN))?;
    let file_len = root_end + HEADER_LEN as u64;
    let layout = Layout {
        file_len,
        kernel: 0..kernel.len() as u64,
        config: config_start..config_start + config_bytes.len() as u64,
        root: root_start..root_end,
        config_sha256: Sha256::digest(&config_bytes).into(),
    };
    out.write_all(&layout.to_bytes())?;
    Ok(layout)
}

/// Extends `out` with zeros from its end to `end` and leaves it there; returns `end`.
fn pad_to<W: Write + Seek>(out: &mut W, end: u64) -> io::Result<u64> {
    let at = out.seek(SeekFrom::End(0))?;
    if at > end {
        return Err(io::Error::other(
            "a part of the packed image overran its room",
        ));
    }
    io::copy(&mut io::Read::take(io::repeat(0), end - at), out)?;
    Ok(end)
}

/// The file seen from `base` on, so that the EROFS writer's offsets are the image's own.
struct Window<'a, W> {
    inner: &'a mut W,
    base: u64,
}

impl<W: Write> Write for Window<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Seek> Seek for Window<'_, W> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => SeekFrom::Start(self.base + n),
            other => other,
        };
        let at = self.inner.seek(target)?;
        at.checked_sub(self.base)
            .ok_or_else(|| io::Error::other("seek before the root image"))
    }
}
