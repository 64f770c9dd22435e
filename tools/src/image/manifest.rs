//! An image in the store: its manifest and config parsed (oci-spec types), and its root
//! filesystem built from its layers.
//!
//! Docker's schema 2 manifests and manifest lists have the same shape as OCI's manifests and
//! indexes (only media types differ), so one set of types reads both. Multi-platform indexes
//! resolve to their `linux/amd64` entry. Every blob is checked against its descriptor's digest
//! and size, and each layer's uncompressed stream against the config's `diff_ids`.

use std::io::BufReader;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};

use super::digest::{Digest, Hashing};
use super::layer::{self, Limited, Limits};
use super::store::Store;
use super::tree::FsTree;
use super::ImageError;

/// Media types of indexes (OCI's and Docker's manifest list).
pub const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
/// Media types of single-platform manifests.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A parsed image from the store.
#[derive(Debug)]
pub struct Image {
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    /// The image id, as Docker shows it.
    pub config_digest: Digest,
    pub config: ImageConfiguration,
    /// The config as JSON, for `coracle inspect` (fields oci-spec does not model included).
    pub config_json: serde_json::Value,
}

/// Either kind of manifest document, told apart by `mediaType` or by shape.
#[derive(Debug)]
pub enum Document {
    Index(Box<ImageIndex>),
    Manifest(Box<ImageManifest>),
}

pub fn parse_document(bytes: &[u8], what: &str) -> Result<Document, ImageError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ImageError::json(what, e))?;
    let media = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or("");
    let is_index =
        INDEX_TYPES.contains(&media) || (media.is_empty() && value.get("manifests").is_some());
    if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        return Err(ImageError::Invalid(format!(
            "{what}: Docker image manifest schema 1 is not supported (push the image again with a current tool)"
        )));
    }
    if is_index {
        serde_json::from_value(value)
            .map(|i| Document::Index(Box::new(i)))
            .map_err(|e| ImageError::json(what, e))
    } else {
        serde_json::from_value(value)
            .map(|m| Document::Manifest(Box::new(m)))
            .map_err(|e| ImageError::json(what, e))
    }
}

/// The digest of a descriptor, checked to be sha256.
pub fn descriptor_digest(d: &Descriptor, what: &str) -> Result<Digest, ImageError> {
    Digest::parse(d.digest().as_ref()).map_err(|e| ImageError::Digest {
        what: what.to_owned(),
        error: e,
    })
}

/// The `linux/amd64` manifest of an index (or its only entry without a platform).
pub fn pick_platform<'a>(index: &'a ImageIndex, what: &str) -> Result<&'a Descriptor, ImageError> {
    let manifests = index.manifests();
    let amd64 = manifests.iter().find(|d| {
        d.platform().as_ref().is_some_and(|p| {
            p.os().to_string() == "linux" && p.architecture().to_string() == "amd64"
        })
    });
    if let Some(d) = amd64 {
        return Ok(d);
    }
    match manifests.as_slice() {
        [only] if only.platform().is_none() => Ok(only),
        _ => {
            let have: Vec<String> = manifests
                .iter()
                .filter_map(|d| d.platform().as_ref())
                .map(|p| format!("{}/{}", p.os(), p.architecture()))
                .collect();
            Err(ImageError::Invalid(format!(
                "{what} has no linux/amd64 image (it has: {})",
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            )))
        }
    }
}

impl Image {
    /// Reads the image whose single-platform manifest is `digest`.
    pub fn load(store: &Store, digest: &Digest) -> Result<Image, ImageError> {
        let bytes = store.read(digest, "the manifest")?;
        let manifest = match parse_document(&bytes, "the manifest")? {
            Document::Manifest(m) => *m,
            Document::Index(_) => {
                return Err(ImageError::Invalid(format!(
                    "{digest} is an index, not an image manifest"
                )))
            }
        };
        let config_digest = descriptor_digest(manifest.config(), "the config descriptor")?;
        let config_bytes = store.read(&config_digest, "the image config")?;
        let config_json: serde_json::Value = serde_json::from_slice(&config_bytes)
            .map_err(|e| ImageError::json("the image config", e))?;
        let config: ImageConfiguration = serde_json::from_value(config_json.clone())
            .map_err(|e| ImageError::json("the image config", e))?;
        let arch = config.architecture().to_string();
        if arch != "amd64" || config.os().to_string() != "linux" {
            return Err(ImageError::Invalid(format!(
                "the image is for {}/{arch}; Coracle runs linux/amd64 images",
                config.os()
            )));
        }
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(ImageError::Invalid(format!(
                "the image config lists {} layers, the manifest {}",
                config.rootfs().diff_ids().len(),
                manifest.layers().len()
            )));
        }
        Ok(Image {
            manifest_digest: digest.clone(),
            manifest,
            config_digest,
            config,
            config_json,
        })
    }

    /// Total compressed size of the layers.
    pub fn size(&self) -> u64 {
        self.manifest.layers().iter().map(|l| l.size()).sum()
    }

    /// The root filesystem: every layer applied in order onto an empty tree.
    pub fn rootfs(&self, store: &Store, limits: Limits) -> Result<FsTree, ImageError> {
        let mut tree = FsTree::default();
        for (layer, diff_id) in self
            .manifest
            .layers()
            .iter()
            .zip(self.config.rootfs().diff_ids())
        {
            let digest = descriptor_digest(layer, "a layer descriptor")?;
            let diff_id = Digest::parse(diff_id).map_err(|e| ImageError::Digest {
                what: "the config's diff_ids".into(),
                error: e,
            })?;
            let file = store.open_blob(&digest, "layer")?;
            let fail = |error: layer::LayerError| ImageError::Layer {
                digest: digest.to_string(),
                error,
            };
            let io_fail = |e: std::io::Error| fail(layer::LayerError::Archive(e));
            let short = digest.to_string();
            let short = short.trim_start_matches("sha256:").get(..12).unwrap_or("");
            let bar = crate::progress::bar(layer.size(), &format!("reading layer {short}"));
            let file = bar.wrap_read(file);
            let mut blob = Hashing::new(BufReader::with_capacity(1 << 20, file));
            {
                let stream = layer::decompress(&mut blob).map_err(io_fail)?;
                let mut diff = Hashing::new(Limited::new(stream, limits.layer_bytes));
                layer::apply(&mut tree, &mut diff).map_err(fail)?;
                diff.verify(&diff_id, None)
                    .map_err(io_fail)?
                    .map_err(|error| ImageError::Digest {
                        what: format!("layer {digest} (uncompressed)"),
                        error,
                    })?;
            }
            blob.verify(&digest, Some(layer.size()))
                .map_err(io_fail)?
                .map_err(|error| ImageError::Digest {
                    what: format!("layer {digest}"),
                    error,
                })?;
            bar.finish_and_clear();
        }
        Ok(tree)
    }
}
