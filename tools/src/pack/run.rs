//! `coracle run FILE [ARGS...]` of a packed image: its header and configuration read and
//! checked, then the launch the configuration describes, varied by the run's options.
//!
//! The file itself is the kernel (`-kernel FILE`) and the root drive (its root window); the
//! launch records travel in a fresh initrd, so `-e`, the host name and the network files are
//! this run's. Without the image's tree at hand, `-u` and `--entrypoint` are refused (pack the
//! image again with them), and a command given without an Entrypoint must be an absolute path.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::config::PackedConfig;
use super::layout::{Layout, LayoutError, HEADER_LEN, MAGIC};
use crate::cli::RunOptions;
use crate::error::RunError;
use crate::launch::Launch;

/// A packed file and where its parts lie.
#[derive(Debug, Clone)]
pub struct PackedRoot {
    pub path: PathBuf,
    pub layout: Layout,
}

impl PackedRoot {
    /// The root image's window of the file: (offset, size).
    pub fn window(&self) -> (u64, u64) {
        let root = &self.layout.root;
        (root.start, root.end - root.start)
    }
}

/// `path` as a packed image, if it ends with a packed image's header: `None` for any other
/// file (a program), an error for a packed image that is damaged.
pub fn open(path: &Path) -> Result<Option<(PackedRoot, PackedConfig)>, RunError> {
    let Ok(mut file) = File::open(path) else {
        return Ok(None);
    };
    let damaged =
        |why: String| RunError::Usage(format!("{}: a damaged packed image: {why}", path.display()));
    let len = match file.metadata() {
        Ok(m) if m.is_file() && m.len() >= HEADER_LEN as u64 => m.len(),
        _ => return Ok(None),
    };
    let mut header = [0u8; HEADER_LEN];
    let read = file
        .seek(SeekFrom::Start(len - HEADER_LEN as u64))
        .and_then(|_| file.read_exact(&mut header));
    if read.is_err() || header[..8] != MAGIC[..] {
        return Ok(None);
    }
    let layout = Layout::parse(&header, len).map_err(|e| match e {
        LayoutError::Bad(why) => damaged(why),
        other => RunError::Usage(format!("{}: {other}", path.display())),
    })?;
    let mut config = vec![0u8; (layout.config.end - layout.config.start) as usize];
    file.seek(SeekFrom::Start(layout.config.start))
        .and_then(|_| file.read_exact(&mut config))
        .map_err(|e| RunError::io(format!("cannot read {}", path.display()), e))?;
    layout
        .check_config(&config)
        .map_err(|e| damaged(e.to_string()))?;
    let config = PackedConfig::parse(&config)
        .map_err(|e| damaged(format!("its launch configuration: {e}")))?;
    let path = std::fs::canonicalize(path)
        .map_err(|e| RunError::io(format!("cannot open {}", path.display()), e))?;
    Ok(Some((PackedRoot { path, layout }, config)))
}

/// The launch of a packed image with the options of `coracle run` (`opts.command[0]` is the
/// file, the rest replaces the Cmd).
pub fn prepare(
    opts: &RunOptions,
    root: PackedRoot,
    config: &PackedConfig,
) -> Result<Launch, RunError> {
    let refused = |flag: &str| {
        RunError::Usage(format!(
            "{flag} cannot change a packed image: give it to `coracle pack` instead"
        ))
    };
    if opts.user.is_some() {
        return Err(refused("-u"));
    }
    if opts.entrypoint.is_some() {
        return Err(refused("--entrypoint"));
    }
    let mut launch = config.launch();
    let cwd = match &opts.workdir {
        Some(dir) => dir.as_os_str().as_bytes().to_vec(),
        None => launch.cwd.clone(),
    };
    let args = &opts.command[1..];
    if !args.is_empty() {
        let mut argv: Vec<OsString> = config.entrypoint.iter().map(OsString::from).collect();
        if argv.is_empty() {
            let first = args[0].as_bytes();
            if !first.starts_with(b"/") {
                return Err(RunError::NotFound {
                    program: args[0].to_string_lossy().into_owned(),
                    why: "a packed image without an Entrypoint runs a command given by its \
                          absolute path"
                        .into(),
                });
            }
            launch.exec = first.to_vec();
        }
        argv.extend(args.iter().cloned());
        launch.argv = argv;
    }
    // This run's HOSTNAME and TERM (docker's defaults), then -e and --env-file.
    for key in ["HOSTNAME", "TERM"] {
        if let Some(value) = opts.env.get(key) {
            launch.env.set(key.into(), value.into());
        }
    }
    launch.env.extend(opts.user_env.iter().cloned());
    Ok(
        Launch::from_packed(launch.argv, launch.env, launch.exec, cwd, launch.user, root)
            .with_network_files(opts)
            .with_stop_signal(config.stop_signal.clone()),
    )
}
