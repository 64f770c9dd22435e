//! `coracle run IMAGE [ARGS...]`: which first arguments are images, and the launch they make.
//!
//! A transport prefix (`oci:`, `oci-archive:`, `docker-archive:`, `containers-storage:`,
//! `docker://`) always means an image. Otherwise an existing host path keeps its meaning (a
//! directory is a root filesystem, a file a program); then a name in Coracle's store is that
//! image; then a host program found in PATH runs as before; last, a reference that is
//! explicit about being one (a registry, a `:tag` or an `@digest`) is pulled and run, as
//! `docker run` does. A bare name that is neither stored nor a host program stays "not found"
//! (127): `coracle pull NAME` first.

use std::ffi::OsStr;
use std::path::Path;

use super::config::{self, RunSpec};
use super::import;
use super::layer::Limits;
use super::manifest::Image;
use super::reference::{Reference, Source};
use super::store::Store;
use super::ImageError;
use crate::cli::RunOptions;
use crate::env::Environment;
use crate::error::RunError;
use crate::launch::Launch;

/// The image `first` names, if it names one.
pub fn image_source(
    first: &OsStr,
    host_cwd: &Path,
    host_path: Option<&OsStr>,
    store: Option<&Store>,
) -> Result<Option<Source>, RunError> {
    let Some(text) = first.to_str() else {
        return Ok(None);
    };
    if let Some(source) = Source::parse_transport(text) {
        return Ok(Some(absolute_source(source, host_cwd)));
    }
    if host_cwd.join(first).exists() {
        return Ok(None);
    }
    let Ok(reference) = Reference::parse(text) else {
        return Ok(None);
    };
    let stored = match store {
        // A damaged index must not stop host programs from running: `coracle images` says so.
        Some(store) => store
            .lookup(&reference.to_string())
            .ok()
            .flatten()
            .is_some(),
        None => false,
    };
    if stored {
        return Ok(Some(Source::Registry(reference)));
    }
    let explicit = text.contains([':', '@'])
        || text
            .split('/')
            .next()
            .is_some_and(|d| d.contains('.') || d == "localhost");
    if !explicit || crate::program::find_program(first, host_path, host_cwd, None).is_ok() {
        return Ok(None);
    }
    Ok(Some(Source::Registry(reference)))
}

/// Relative paths in a source are relative to the host's current directory.
fn absolute_source(source: Source, cwd: &Path) -> Source {
    match source {
        Source::OciDir { dir, tag } => Source::OciDir {
            dir: cwd.join(dir),
            tag,
        },
        Source::OciArchive(f) => Source::OciArchive(cwd.join(f)),
        Source::DockerArchive(f) => Source::DockerArchive(cwd.join(f)),
        other => other,
    }
}

/// The manifest of `source` in the store, importing or pulling it first when needed.
pub fn resolve(store: &Store, source: &Source) -> Result<super::digest::Digest, ImageError> {
    if let Source::Registry(reference) = source {
        if let Some(digest) = store.lookup(&reference.to_string())? {
            return Ok(digest);
        }
        eprintln!("Unable to find image '{}' locally", reference.familiar());
        let imported = import::import(store, source)?;
        for name in &imported.names {
            store.tag(name, &imported.manifest)?;
        }
        return Ok(imported.manifest);
    }
    Ok(import::import(store, source)?.manifest)
}

/// Prepares the run of the image `source` with the options of `coracle run`.
pub fn prepare(opts: &RunOptions, source: &Source, store: &Store) -> Result<Launch, RunError> {
    let p = prepared(opts, source, store)?;
    Ok(Launch::from_image(
        p.process.argv,
        p.process.env,
        p.exec,
        p.process.cwd,
        p.user,
        p.tree,
    )
    .with_network_files(opts)
    .with_stop_signal(p.stop_signal))
}

/// What a run of an image is made of, before it becomes a [`Launch`] (`coracle pack` keeps
/// the parts).
pub(crate) struct Prepared {
    pub process: config::Process,
    /// Where argv[0] was found.
    pub exec: Vec<u8>,
    /// The user with the supplementary groups as the guest takes them.
    pub user: crate::initrd::User,
    pub tree: super::tree::FsTree,
    pub stop_signal: Option<String>,
    /// The Entrypoint in effect (the image's, or `--entrypoint`): the part of argv that
    /// trailing arguments do not replace.
    pub entrypoint: Vec<String>,
    /// The config's digest (the image id).
    pub image_id: super::digest::Digest,
}

/// Resolves the image and checks the run of it that `opts` asks for.
pub(crate) fn prepared(
    opts: &RunOptions,
    source: &Source,
    store: &Store,
) -> Result<Prepared, RunError> {
    let digest = resolve(store, source)?;
    let image = Image::load(store, &digest)?;
    let tree = image.rootfs(store, Limits::default())?;
    let mut defaults = Environment::default();
    for key in ["PATH", "HOSTNAME", "TERM"] {
        if let Some(value) = opts.env.get(key) {
            defaults.set(key.into(), value.into());
        }
    }
    let spec = RunSpec {
        args: opts.command[1..].to_vec(),
        entrypoint: opts.entrypoint.clone(),
        user: opts.user.clone(),
        workdir: opts
            .workdir
            .as_ref()
            .map(|w| std::os::unix::ffi::OsStrExt::as_bytes(w.as_os_str()).to_vec()),
        defaults,
        user_env: opts.user_env.clone(),
    };
    let process = config::process(&image.config, &tree, &spec)?;
    config::check_workdir(&tree, &process.cwd)?;
    let path = process
        .env
        .get("PATH")
        .map(|p| std::os::unix::ffi::OsStrExt::as_bytes(p).to_vec())
        .unwrap_or_default();
    let exec = config::find_command(&tree, &process.cwd, &process.argv[0], &path)?;
    // As runc (and so Docker and buildah) sets them, the supplementary groups hold the
    // primary group too.
    let mut groups = process.user.groups.clone();
    if !groups.contains(&process.user.gid) {
        groups.push(process.user.gid);
    }
    let user = crate::initrd::User {
        uid: process.user.uid,
        gid: process.user.gid,
        groups,
    };
    let image_config = image.config.config().clone().unwrap_or_default();
    let stop_signal = image_config.stop_signal().clone();
    let entrypoint = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image_config.entrypoint().clone().unwrap_or_default(),
    };
    Ok(Prepared {
        process,
        exec,
        user,
        tree,
        stop_signal,
        entrypoint,
        image_id: image.config_digest.clone(),
    })
}

/// `-u` outside an image: a root filesystem directory or a host program runs as root (the
/// user is resolved in an image's /etc files only).
pub fn check_root_user(opts: &RunOptions) -> Result<(), RunError> {
    match opts.user.as_deref() {
        None | Some("0" | "root" | "0:0" | "root:root" | "root:0" | "0:root") => Ok(()),
        Some(user) => Err(RunError::Usage(format!(
            "-u {user}: Coracle runs a root filesystem directory or a host program as root; \
             -u takes effect with an image (`coracle build`, `oci:DIR`...)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    #[test]
    fn which_first_arguments_are_images() {
        let tmp = TempDir::new().unwrap();
        let cwd = tmp.path();
        std::fs::create_dir(cwd.join("rootfs")).unwrap();
        std::fs::write(cwd.join("prog:1"), b"").unwrap();
        let store = Store::open(cwd.join("store")).unwrap();
        let digest = super::super::digest::Digest::of(b"m");
        store
            .tag("docker.io/library/stored:latest", &digest)
            .unwrap();
        let pick = |first: &str| {
            image_source(first.as_ref(), cwd, Some("/bin".as_ref()), Some(&store)).unwrap()
        };
        assert!(
            matches!(pick("oci-archive:x.tar"), Some(Source::OciArchive(p)) if p == cwd.join("x.tar"))
        );
        assert_eq!(pick("rootfs"), None);
        assert_eq!(pick("prog:1"), None, "an existing host file is a program");
        assert!(matches!(pick("stored"), Some(Source::Registry(_))));
        assert_eq!(
            pick("unknown"),
            None,
            "a bare name is a host program or not found"
        );
        assert!(
            matches!(pick("nginx:1.25"), Some(Source::Registry(r)) if r.path == "library/nginx")
        );
        assert!(matches!(pick("localhost/app"), Some(Source::Registry(_))));
        assert_eq!(pick("/no/such/path"), None);
        // No store at all: only explicit references are images.
        let none = |first: &str| image_source(first.as_ref(), cwd, None, None).unwrap();
        assert_eq!(none("stored"), None);
        assert!(none("registry.example/app:1").is_some());
    }
}
