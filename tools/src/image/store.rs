//! Coracle's local image store: content-addressed blobs and an index of names.
//!
//! Lives in `$XDG_DATA_HOME/coracle` (else `~/.local/share/coracle`): `blobs/sha256/HEX` holds
//! manifests, configs and layers exactly as they came (checked against their digest before
//! they get their name, written to `tmp/` first and renamed, so a half-written blob never has
//! a name), and `images.json` maps image names (normalised references) to manifest digests.
//! Every path under it is built from a checked digest, never from image content.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::digest::{Digest, DigestError, Hashing};
use super::ImageError;

/// The store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// `$XDG_DATA_HOME/coracle`, else `~/.local/share/coracle`.
fn default_root() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/share")
        }
    };
    Some(base.join("coracle"))
}

/// One named image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// A normalised reference, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    /// The digest of its single-platform manifest.
    pub manifest: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    images: Vec<Entry>,
}

impl Store {
    /// The user's store (created on first use).
    pub fn open_default() -> Result<Store, ImageError> {
        let root = default_root()
            .ok_or_else(|| ImageError::Store("neither XDG_DATA_HOME nor HOME is set".into()))?;
        Store::open(root)
    }

    /// The user's store if it has been made, without making it: looking a name up must not
    /// leave directories behind when `coracle run` turns out to run a host program.
    pub fn existing_default() -> Option<Store> {
        let root = default_root()?;
        root.join("images.json").is_file().then_some(Store { root })
    }

    pub fn open(root: PathBuf) -> Result<Store, ImageError> {
        for dir in ["blobs/sha256", "tmp"] {
            fs::create_dir_all(root.join(dir)).map_err(|e| {
                ImageError::io(format!("cannot create {}", root.join(dir).display()), e)
            })?;
        }
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// A temporary directory inside the store (same filesystem, so renames work).
    pub fn temp_dir(&self) -> io::Result<crate::tempdir::TempDir> {
        crate::tempdir::TempDir::new_in(&self.root.join("tmp"))
    }

    /// Copies `reader` into the store and names it by its digest; checks it against
    /// `expected` (and `size`) when given. `what` names it in errors.
    pub fn put(
        &self,
        reader: impl Read,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
    ) -> Result<(Digest, u64), ImageError> {
        if let Some(d) = expected.filter(|d| self.has_blob(d)) {
            return Ok((
                d.clone(),
                fs::metadata(self.blob_path(d))
                    .map(|m| m.len())
                    .unwrap_or(0),
            ));
        }
        let tmp = self
            .temp_dir()
            .map_err(|e| ImageError::io("cannot create a temporary file in the store", e))?;
        let path = tmp.path().join("blob");
        let mut file = fs::File::create(&path)
            .map_err(|e| ImageError::io(format!("cannot write {}", path.display()), e))?;
        let mut hashing = Hashing::new(reader);
        io::copy(&mut hashing, &mut file)
            .map_err(|e| ImageError::io(format!("cannot copy {what}"), e))?;
        file.flush()
            .map_err(|e| ImageError::io(format!("cannot write {}", path.display()), e))?;
        let (digest, count) = hashing
            .finish()
            .map_err(|e| ImageError::io(format!("cannot read {what}"), e))?;
        let mismatch = |e: DigestError| ImageError::Digest {
            what: what.to_owned(),
            error: e,
        };
        if let Some(size) = size.filter(|&s| s != count) {
            return Err(mismatch(DigestError::Size {
                expected: size,
                actual: count,
            }));
        }
        if let Some(expected) = expected.filter(|&e| *e != digest) {
            return Err(mismatch(DigestError::Mismatch {
                expected: expected.clone(),
                actual: digest,
            }));
        }
        fs::rename(&path, self.blob_path(&digest))
            .map_err(|e| ImageError::io(format!("cannot store {what}"), e))?;
        Ok((digest, count))
    }

    pub fn put_bytes(&self, bytes: &[u8], what: &str) -> Result<Digest, ImageError> {
        self.put(bytes, None, None, what).map(|(d, _)| d)
    }

    /// A small blob (JSON), read whole and checked against its digest.
    pub fn read(&self, digest: &Digest, what: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).map_err(|e| {
            ImageError::io(format!("cannot read {what} {digest} from the store"), e)
        })?;
        digest.verify(&bytes).map_err(|e| ImageError::Digest {
            what: what.to_owned(),
            error: e,
        })?;
        Ok(bytes)
    }

    pub fn open_blob(&self, digest: &Digest, what: &str) -> Result<fs::File, ImageError> {
        fs::File::open(self.blob_path(digest))
            .map_err(|e| ImageError::io(format!("cannot read {what} {digest} from the store"), e))
    }

    pub fn images(&self) -> Result<Vec<Entry>, ImageError> {
        Ok(self.load_index()?.images)
    }

    /// The manifest digest named `name` (a normalised reference).
    pub fn lookup(&self, name: &str) -> Result<Option<Digest>, ImageError> {
        let index = self.load_index()?;
        match index.images.iter().find(|e| e.name == name) {
            Some(e) => Ok(Some(
                Digest::parse(&e.manifest).map_err(|e| ImageError::Store(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    /// Names `manifest` `name`, replacing what had that name.
    pub fn tag(&self, name: &str, manifest: &Digest) -> Result<(), ImageError> {
        let mut index = self.load_index()?;
        index.images.retain(|e| e.name != name);
        index.images.push(Entry {
            name: name.to_owned(),
            manifest: manifest.to_string(),
        });
        index.images.sort_by(|a, b| a.name.cmp(&b.name));
        self.save_index(&index)
    }

    /// Removes the name; true if it was there. Blobs are kept (another name may share them).
    pub fn untag(&self, name: &str) -> Result<bool, ImageError> {
        let mut index = self.load_index()?;
        let before = index.images.len();
        index.images.retain(|e| e.name != name);
        let removed = index.images.len() != before;
        self.save_index(&index)?;
        Ok(removed)
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    fn load_index(&self) -> Result<Index, ImageError> {
        match fs::read(self.index_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                ImageError::Store(format!("{} is damaged: {e}", self.index_path().display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(ImageError::io(
                format!("cannot read {}", self.index_path().display()),
                e,
            )),
        }
    }

    fn save_index(&self, index: &Index) -> Result<(), ImageError> {
        let tmp = self
            .temp_dir()
            .map_err(|e| ImageError::io("cannot write the image index", e))?;
        let path = tmp.path().join("images.json");
        let bytes =
            serde_json::to_vec_pretty(index).map_err(|e| ImageError::Store(e.to_string()))?;
        fs::write(&path, bytes).map_err(|e| ImageError::io("cannot write the image index", e))?;
        fs::rename(&path, self.index_path())
            .map_err(|e| ImageError::io("cannot write the image index", e))
    }
}
