//! `coracle build`: a Dockerfile built by a real builder, then imported into Coracle's store.
//!
//! buildah is preferred (no daemon; `--storage-driver vfs --isolation chroot` works without
//! privileges beyond root and in containers), then podman (`podman build`, same engine). The
//! result leaves the builder as an OCI archive (`push ... oci-archive:`) and is imported like
//! any other archive, then named with `-t` as Docker names it (`demo` is
//! `docker.io/library/demo:latest`), so `coracle run demo` finds it.

use std::path::PathBuf;
use std::process::Command;

use super::import;
use super::reference::{Reference, Source};
use super::store::Store;
use super::ImageError;
use crate::error::RunError;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Name the image (repeatable).
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// The Dockerfile [default: CONTEXT/Dockerfile].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A build-time variable (ARG).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// The build context directory.
    #[arg(value_name = "CONTEXT")]
    pub context: PathBuf,
}

/// The builder found on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builder {
    Buildah,
    Podman,
}

impl Builder {
    fn find() -> Option<Builder> {
        let on_path = |name: &str| {
            std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        };
        if on_path("buildah") {
            Some(Builder::Buildah)
        } else if on_path("podman") {
            Some(Builder::Podman)
        } else {
            None
        }
    }

    /// The program with the global options every call takes.
    fn command(self) -> Command {
        let mut c = match self {
            Builder::Buildah => Command::new("buildah"),
            Builder::Podman => Command::new("podman"),
        };
        c.arg("--storage-driver").arg("vfs");
        c
    }
}

pub fn build(args: BuildArgs) -> Result<u8, RunError> {
    match run_build(&args) {
        Ok(status) => Ok(status),
        Err(e) => {
            eprintln!("coracle: {e}");
            Ok(1)
        }
    }
}

fn run_build(args: &BuildArgs) -> Result<u8, ImageError> {
    let builder = Builder::find().ok_or_else(|| {
        ImageError::NotFound(
            "coracle build needs buildah (or podman) to build the Dockerfile: install it \
             (Debian/Ubuntu: `apt-get install buildah`)"
                .into(),
        )
    })?;
    let names: Vec<Reference> = args
        .tags
        .iter()
        .map(|t| Reference::parse(t))
        .collect::<Result<_, _>>()?;
    let store = Store::open_default()?;
    let tmp = store
        .temp_dir()
        .map_err(|e| ImageError::io("cannot create a temporary directory", e))?;
    let iid = tmp.path().join("iid");
    let mut bud = builder.command();
    match builder {
        Builder::Buildah => bud.arg("bud"),
        Builder::Podman => bud.arg("build"),
    };
    bud.arg("--isolation")
        .arg("chroot")
        .arg("--iidfile")
        .arg(&iid);
    if let Some(file) = &args.file {
        bud.arg("-f").arg(file);
    }
    for arg in &args.build_args {
        bud.arg("--build-arg").arg(arg);
    }
    for name in &names {
        bud.arg("-t").arg(name.to_string());
    }
    bud.arg(&args.context);
    let status = bud
        .status()
        .map_err(|e| ImageError::io(format!("cannot run {builder:?}"), e))?;
    if !status.success() {
        return Ok(1);
    }
    let id = std::fs::read_to_string(&iid)
        .map_err(|e| ImageError::io("the builder wrote no image id", e))?;
    let id = id.trim().trim_start_matches("sha256:").to_owned();
    let archive = tmp.path().join("image.tar");
    let status = builder
        .command()
        .arg("push")
        .arg("--quiet")
        .arg(&id)
        .arg(format!("oci-archive:{}", archive.display()))
        .status()
        .map_err(|e| ImageError::io(format!("cannot run {builder:?}"), e))?;
    if !status.success() {
        return Err(ImageError::Invalid(format!(
            "{builder:?} could not export the image it built ({status})"
        )));
    }
    let imported = import::import(&store, &Source::OciArchive(archive))?;
    for name in &names {
        store.tag(&name.to_string(), &imported.manifest)?;
        println!("Successfully tagged {}", name.familiar());
    }
    let image = super::manifest::Image::load(&store, &imported.manifest)?;
    println!("{}", image.config_digest.hex());
    Ok(0)
}
