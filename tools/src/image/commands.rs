//! `coracle pull`, `images`, `rmi`, `tag` and `inspect`: Coracle's image store from the
//! command line, with Docker's output formats where Docker has one.
//!
//! These commands exit with 1 on an error, as Docker's do (125 is `run`'s status for
//! Coracle's own failures).

use std::collections::HashSet;
use std::io::Write;

use super::digest::Digest;
use super::manifest::Image;
use super::reference::{Reference, Source};
use super::store::Store;
use super::ImageError;
use crate::error::RunError;

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// A registry reference (nginx:1.25, localhost:5000/app@sha256:...) or a source with a
    /// transport: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE,
    /// containers-storage:NAME.
    #[arg(value_name = "IMAGE")]
    pub source: String,
    /// Name the image in the store (default: the reference, or the archive's RepoTags).
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    #[arg(value_name = "IMAGE", required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE")]
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// Prints `e` as the other commands do and gives Docker's status 1.
fn report(result: Result<u8, ImageError>) -> Result<u8, RunError> {
    Ok(result.unwrap_or_else(|e| {
        eprintln!("coracle: {e}");
        1
    }))
}

/// A source from the command line: a transport, else a reference.
pub fn parse_source(text: &str) -> Result<Source, ImageError> {
    let cwd = std::env::current_dir()
        .map_err(|e| ImageError::io("cannot read the current directory", e))?;
    match Source::parse_transport(text) {
        Some(Source::OciDir { dir, tag }) => Ok(Source::OciDir {
            dir: cwd.join(dir),
            tag,
        }),
        Some(Source::OciArchive(f)) => Ok(Source::OciArchive(cwd.join(f))),
        Some(Source::DockerArchive(f)) => Ok(Source::DockerArchive(cwd.join(f))),
        Some(other) => Ok(other),
        None => Ok(Source::Registry(Reference::parse(text)?)),
    }
}

pub fn pull(args: PullArgs) -> Result<u8, RunError> {
    report((|| {
        let store = Store::open_default()?;
        let source = parse_source(&args.source)?;
        let imported = super::import::import(&store, &source)?;
        let mut names = Vec::new();
        for tag in &args.tags {
            names.push(Reference::parse(tag)?.to_string());
        }
        if names.is_empty() {
            names = imported
                .names
                .iter()
                .filter_map(|n| Reference::parse(n).ok())
                .map(|r| r.to_string())
                .collect();
        }
        for name in &names {
            store.tag(name, &imported.manifest)?;
        }
        let image = Image::load(&store, &imported.manifest)?;
        println!("Digest: {}", imported.manifest);
        for name in &names {
            println!("{}", Reference::parse(name)?.familiar());
        }
        if names.is_empty() {
            println!("{} (untagged: name it with -t)", image.config_digest);
        }
        Ok(0)
    })())
}

pub fn images() -> Result<u8, RunError> {
    report((|| {
        let store = Store::open_default()?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{:<40} {:<16} {:<14} SIZE",
            "REPOSITORY", "TAG", "IMAGE ID"
        );
        for entry in store.images()? {
            let reference = Reference::parse(&entry.name)?;
            let digest =
                Digest::parse(&entry.manifest).map_err(|e| ImageError::Store(e.to_string()))?;
            let (id, size) = match Image::load(&store, &digest) {
                Ok(image) => (
                    image.config_digest.short().to_owned(),
                    human_size(image.size()),
                ),
                Err(_) => ("<damaged>".to_owned(), "-".to_owned()),
            };
            let tag = reference.tag.clone().unwrap_or_else(|| "<none>".into());
            let _ = writeln!(
                out,
                "{:<40} {:<16} {:<14} {}",
                reference.familiar_repository(),
                tag,
                id,
                size
            );
        }
        Ok(0)
    })())
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.2}GB", b as f64 / 1e9),
        b if b >= 1 << 20 => format!("{:.1}MB", b as f64 / 1e6),
        b if b >= 1 << 10 => format!("{:.1}kB", b as f64 / 1e3),
        b => format!("{b}B"),
    }
}

pub fn rmi(args: RmiArgs) -> Result<u8, RunError> {
    report((|| {
        let store = Store::open_default()?;
        let mut status = 0;
        for name in &args.names {
            let reference = Reference::parse(name)?;
            if store.untag(&reference.to_string())? {
                println!("Untagged: {}", reference.familiar());
            } else {
                eprintln!("coracle: No such image: {name}");
                status = 1;
            }
        }
        collect_garbage(&store)?;
        Ok(status)
    })())
}

/// Deletes the blobs no named image uses any more.
fn collect_garbage(store: &Store) -> Result<(), ImageError> {
    let mut keep: HashSet<String> = HashSet::new();
    for entry in store.images()? {
        let digest =
            Digest::parse(&entry.manifest).map_err(|e| ImageError::Store(e.to_string()))?;
        keep.insert(digest.hex().to_owned());
        // A damaged image keeps what it can name; its remaining blobs go.
        if let Ok(image) = Image::load(store, &digest) {
            keep.insert(image.config_digest.hex().to_owned());
            for layer in image.manifest.layers() {
                if let Ok(d) = super::manifest::descriptor_digest(layer, "layer") {
                    keep.insert(d.hex().to_owned());
                }
            }
        }
    }
    let dir = store.root().join("blobs/sha256");
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| ImageError::io(format!("cannot read {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

pub fn tag(args: TagArgs) -> Result<u8, RunError> {
    report((|| {
        let store = Store::open_default()?;
        let source = Reference::parse(&args.source)?;
        let target = Reference::parse(&args.target)?;
        let digest = store
            .lookup(&source.to_string())?
            .ok_or_else(|| ImageError::NotFound(format!("No such image: {}", args.source)))?;
        store.tag(&target.to_string(), &digest)?;
        Ok(0)
    })())
}

pub fn inspect(args: InspectArgs) -> Result<u8, RunError> {
    report((|| {
        let store = Store::open_default()?;
        let mut all = Vec::new();
        for name in &args.images {
            let digest = match Source::parse_transport(name) {
                Some(_) => super::import::import(&store, &parse_source(name)?)?.manifest,
                None => store
                    .lookup(&Reference::parse(name)?.to_string())?
                    .ok_or_else(|| ImageError::NotFound(format!("No such image: {name}")))?,
            };
            all.push(inspect_json(&store, &digest)?);
        }
        let text =
            serde_json::to_string_pretty(&all).map_err(|e| ImageError::json("inspect", e))?;
        println!("{text}");
        Ok(0)
    })())
}

/// Docker's `image inspect` fields that an image's files define.
pub fn inspect_json(store: &Store, manifest: &Digest) -> Result<serde_json::Value, ImageError> {
    let image = Image::load(store, manifest)?;
    let tags: Vec<String> = store
        .images()?
        .into_iter()
        .filter(|e| e.manifest == manifest.as_str())
        .filter_map(|e| Reference::parse(&e.name).ok())
        .map(|r| r.familiar())
        .collect();
    let field = |name: &str| {
        image
            .config_json
            .get(name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    Ok(serde_json::json!({
        "Id": image.config_digest.as_str(),
        "RepoTags": tags,
        "ManifestDigest": manifest.as_str(),
        "Created": field("created"),
        "Author": field("author"),
        "Architecture": field("architecture"),
        "Os": field("os"),
        "Size": image.size(),
        "Config": field("config"),
        "RootFS": field("rootfs"),
    }))
}
