//! Bringing images into the store from every source `coracle run`/`coracle pull` accept.
//!
//! OCI layout directories are read in place (blobs by their checked digests); OCI and Docker
//! archives are read as tar streams, each member copied into the store under the digest of
//! its content (never under a name taken from the archive); buildah/podman storage goes
//! through `skopeo copy` into an OCI archive first; registries are `registry`'s. A Docker
//! archive's `manifest.json` is turned into an OCI manifest over the same blobs. Each import
//! returns the digest of a single-platform manifest in the store.

use std::collections::HashMap;
use std::fs;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::digest::Digest;
use super::layer::Compression;
use super::manifest::{descriptor_digest, parse_document, pick_platform, Document};
use super::reference::{Reference, Source};
use super::store::Store;
use super::ImageError;

/// The annotation naming an entry of an OCI layout's index (`oci:DIR:TAG`).
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What an import produced: the manifest and the names the source gave the image.
#[derive(Debug)]
pub struct Imported {
    pub manifest: Digest,
    pub names: Vec<String>,
}

/// Imports `source` into `store`.
pub fn import(store: &Store, source: &Source) -> Result<Imported, ImageError> {
    match source {
        Source::OciDir { dir, tag } => {
            let open = |digest: &Digest| -> Result<Box<dyn Read>, ImageError> {
                let path = dir.join("blobs/sha256").join(digest.hex());
                let file = fs::File::open(&path)
                    .map_err(|e| ImageError::io(format!("cannot read {}", path.display()), e))?;
                Ok(Box::new(BufReader::new(file)))
            };
            let index_path = dir.join("index.json");
            let index = fs::read(&index_path)
                .map_err(|e| ImageError::io(format!("cannot read {}", index_path.display()), e))?;
            import_layout(store, &index, tag.as_deref(), &open)
        }
        Source::OciArchive(file) => {
            let members = copy_archive(store, file)?;
            let index = members.read(store, "index.json")?;
            let open = |digest: &Digest| -> Result<Box<dyn Read>, ImageError> {
                Ok(Box::new(BufReader::new(store.open_blob(digest, "blob")?)))
            };
            import_layout(store, &index, None, &open)
        }
        Source::DockerArchive(file) => import_docker_archive(store, file),
        Source::ContainersStorage(name) => import_containers_storage(store, name),
        Source::Registry(reference) => super::registry::pull(store, reference),
    }
}

/// Opens a blob of a layout by its digest.
type BlobOpener<'a> = dyn Fn(&Digest) -> Result<Box<dyn Read>, ImageError> + 'a;

/// Copies the manifest (after resolving an index), the config and the layers of an OCI
/// layout whose blobs `open` reads.
fn import_layout(
    store: &Store,
    index: &[u8],
    tag: Option<&str>,
    open: &BlobOpener<'_>,
) -> Result<Imported, ImageError> {
    let Document::Index(index) = parse_document(index, "index.json")? else {
        return Err(ImageError::Invalid(
            "index.json is not an image index".into(),
        ));
    };
    let named = |d: &oci_spec::image::Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned()
    };
    let chosen = match tag {
        Some(tag) => index
            .manifests()
            .iter()
            .find(|d| named(d).as_deref() == Some(tag))
            .ok_or_else(|| {
                ImageError::NotFound(format!("no image tagged {tag:?} in the layout"))
            })?,
        None => pick_platform(&index, "the layout")?,
    };
    // A layout's ref.name is usually a bare tag ("latest"), not an image name: the caller
    // names the image.
    let names = Vec::new();
    let mut descriptor = chosen.clone();
    // An entry may itself be an index (a multi-platform image in a layout).
    for _ in 0..4 {
        let digest = descriptor_digest(&descriptor, "index.json")?;
        let (digest, _) = store.put(
            open(&digest)?,
            Some(&digest),
            Some(descriptor.size()),
            "the manifest",
        )?;
        match parse_document(&store.read(&digest, "the manifest")?, "the manifest")? {
            Document::Index(inner) => {
                descriptor = pick_platform(&inner, "the image index")?.clone()
            }
            Document::Manifest(manifest) => {
                let blobs = std::iter::once(manifest.config()).chain(manifest.layers());
                for blob in blobs {
                    let d = descriptor_digest(blob, "a descriptor")?;
                    store.put(open(&d)?, Some(&d), Some(blob.size()), &format!("blob {d}"))?;
                }
                return Ok(Imported {
                    manifest: digest,
                    names,
                });
            }
        }
    }
    Err(ImageError::Invalid("indexes nested too deeply".into()))
}

/// The regular-file members of an archive, each stored under its content's digest.
#[derive(Debug, Default)]
struct Members {
    files: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
}

impl Members {
    fn get(&self, name: &str) -> Option<&(Digest, u64)> {
        let mut name = clean_name(name);
        for _ in 0..8 {
            if let Some(found) = self.files.get(&name) {
                return Some(found);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    fn read(&self, store: &Store, name: &str) -> Result<Vec<u8>, ImageError> {
        let (digest, _) = self
            .get(name)
            .ok_or_else(|| ImageError::Invalid(format!("the archive has no {name}")))?;
        store.read(digest, name)
    }
}

fn clean_name(name: &str) -> String {
    name.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads the archive `file` once, storing every regular member.
fn copy_archive(store: &Store, file: &Path) -> Result<Members, ImageError> {
    let what = file.display().to_string();
    let open =
        fs::File::open(file).map_err(|e| ImageError::io(format!("cannot read {what}"), e))?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, open));
    let mut members = Members::default();
    let bad = |e: std::io::Error| ImageError::io(format!("{what}: not a readable tar archive"), e);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = clean_name(&String::from_utf8_lossy(&entry.path_bytes()));
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                let stored = store.put(&mut entry, None, Some(size), &format!("{what}: {name}"))?;
                members.files.insert(name, stored);
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let Some(target) = entry.link_name_bytes() else {
                    continue;
                };
                let target = String::from_utf8_lossy(&target).into_owned();
                // Relative symlink targets are relative to the member's directory.
                let target = match (entry.header().entry_type(), name.rsplit_once('/')) {
                    (tar::EntryType::Symlink, Some((dir, _))) if !target.starts_with('/') => {
                        resolve_relative(dir, &target)
                    }
                    _ => clean_name(&target),
                };
                members.links.insert(name, target);
            }
            _ => {}
        }
    }
    Ok(members)
}

fn resolve_relative(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// One image of a Docker archive's `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn import_docker_archive(store: &Store, file: &Path) -> Result<Imported, ImageError> {
    let members = copy_archive(store, file)?;
    let manifest = members.read(store, "manifest.json")?;
    let entries: Vec<DockerArchiveEntry> =
        serde_json::from_slice(&manifest).map_err(|e| ImageError::json("manifest.json", e))?;
    let [entry] = entries.as_slice() else {
        return Err(ImageError::Invalid(format!(
            "{}: holds {} images; Coracle reads archives of one image",
            file.display(),
            entries.len()
        )));
    };
    let member = |name: &str| {
        members
            .get(name)
            .cloned()
            .ok_or_else(|| ImageError::Invalid(format!("{}: no member {name}", file.display())))
    };
    let (config, config_size) = member(&entry.config)?;
    let mut layers = Vec::new();
    for name in &entry.layers {
        let (digest, size) = member(name)?;
        let mut head = [0u8; 4];
        let n = store
            .open_blob(&digest, "layer")?
            .read(&mut head)
            .unwrap_or(0);
        let media = match Compression::sniff(&head[..n]) {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        };
        layers
            .push(serde_json::json!({"mediaType": media, "digest": digest.as_str(), "size": size}));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.as_str(),
            "size": config_size,
        },
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::json("manifest", e))?;
    let digest = store.put_bytes(&bytes, "the manifest")?;
    let names = entry
        .repo_tags
        .iter()
        .flatten()
        .filter(|n| Reference::parse(n).is_ok())
        .cloned()
        .collect();
    Ok(Imported {
        manifest: digest,
        names,
    })
}

/// buildah's and podman's local images: `buildah push` from the vfs storage `coracle build`
/// uses, else `skopeo copy` from the machine's default containers storage.
fn import_containers_storage(store: &Store, name: &str) -> Result<Imported, ImageError> {
    let tmp = store
        .temp_dir()
        .map_err(|e| ImageError::io("cannot create a temporary directory", e))?;
    let archive: PathBuf = tmp.path().join("image.tar");
    let dest = format!("oci-archive:{}", archive.display());
    let mut buildah = Command::new("buildah");
    buildah.args(["--storage-driver", "vfs", "push", "--quiet", name, &dest]);
    let mut skopeo = Command::new("skopeo");
    skopeo.args([
        "copy",
        "--quiet",
        &format!("containers-storage:{name}"),
        &dest,
    ]);
    let mut why = Vec::new();
    for mut command in [buildah, skopeo] {
        let program = command.get_program().to_string_lossy().into_owned();
        match command.stdin(std::process::Stdio::null()).output() {
            Ok(out) if out.status.success() => {
                let mut imported = import(store, &Source::OciArchive(archive))?;
                imported.names.clear();
                return Ok(imported);
            }
            Ok(out) => why.push(format!(
                "{program}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            )),
            Err(e) => why.push(format!("{program}: {e}")),
        }
    }
    Err(ImageError::NotFound(format!(
        "no image {name} in buildah's or podman's storage (install buildah or skopeo to read \
         it): {}",
        why.join("; ")
    )))
}
