//! Test fixtures: layer tars (hostile ones included) and whole images, built in memory.
//!
//! The tar crate's builder refuses `..` and absolute names, so [`Layer::raw`] writes the
//! header's name field by hand; everything else goes through the crate.

use std::io::Write;

use super::digest::Digest;

/// A layer tar under construction.
pub struct Layer {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer {
            builder: tar::Builder::new(Vec::new()),
        }
    }
}

impl Layer {
    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(size);
        h
    }

    /// An entry whose name (and link name) bytes go into the header unchecked.
    pub fn raw(mut self, name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Self {
        let mut h = Self::header(kind, 0o644, data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name);
        gnu.linkname = [0; 100];
        gnu.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    /// A PAX extended header (`x`) whose records apply to the next entry.
    pub fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        let mut body = Vec::new();
        for (key, value) in records {
            // "LEN KEY=VALUE\n", LEN counting its own digits.
            let rest = key.len() + value.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        let mut h = Self::header(tar::EntryType::XHeader, 0o644, body.len() as u64);
        self.builder
            .append_data(&mut h, "PaxHeaders/entry", body.as_slice())
            .unwrap();
        self
    }

    pub fn file(self, name: &str, mode: u32, data: &[u8]) -> Self {
        self.file_owned(name, mode, 0, 0, data)
    }

    pub fn file_owned(mut self, name: &str, mode: u32, uid: u64, gid: u64, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.builder.append_data(&mut h, name, data).unwrap();
        self
    }

    pub fn dir(mut self, name: &str, mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        self.builder.append_data(&mut h, name, &[][..]).unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut h, name, target).unwrap();
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.builder.append_link(&mut h, name, target).unwrap();
        self
    }

    pub fn special(mut self, name: &str, kind: tar::EntryType) -> Self {
        let mut h = Self::header(kind, 0o600, 0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        self.builder.append_data(&mut h, name, &[][..]).unwrap();
        self
    }

    pub fn whiteout(self, dir: &str, name: &str) -> Self {
        let path = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&path, 0o644, b"")
    }

    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), 0o644, b"")
    }

    pub fn tar(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).unwrap()
}

/// An OCI image (config + layers) as blobs, written as a layout directory or archives.
pub struct ImageFixture {
    /// (digest, bytes) of every blob: the layers, the config, the manifest.
    pub blobs: Vec<(Digest, Vec<u8>)>,
    pub manifest: Digest,
    pub manifest_bytes: Vec<u8>,
    pub config: Digest,
}

impl ImageFixture {
    /// `layers` are (stored bytes, uncompressed tar) pairs.
    pub fn new(layers: &[(Vec<u8>, Vec<u8>)], config: serde_json::Value) -> ImageFixture {
        let mut blobs = Vec::new();
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        for (stored, tar) in layers {
            let d = Digest::of(stored);
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": d.as_str(), "size": stored.len()}));
            diff_ids.push(Digest::of(tar).to_string());
            blobs.push((d, stored.clone()));
        }
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let config_digest = Digest::of(&config_bytes);
        blobs.push((config_digest.clone(), config_bytes.clone()));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest.as_str(), "size": config_bytes.len()},
            "layers": descriptors,
        });
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
        let digest = Digest::of(&manifest_bytes);
        blobs.push((digest.clone(), manifest_bytes.clone()));
        ImageFixture {
            blobs,
            manifest: digest,
            manifest_bytes,
            config: config_digest,
        }
    }

    pub fn index(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": self.manifest.as_str(), "size": self.manifest_bytes.len(),
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
                "platform": {"architecture": "amd64", "os": "linux"}}]
        }))
        .unwrap()
    }

    pub fn write_layout(&self, dir: &std::path::Path) {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        for (d, bytes) in &self.blobs {
            std::fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        }
        std::fs::write(dir.join("index.json"), self.index()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    }

    fn append(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }

    pub fn oci_archive(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        Self::append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        Self::append(&mut b, "index.json", &self.index());
        for (d, bytes) in &self.blobs {
            Self::append(&mut b, &format!("blobs/sha256/{}", d.hex()), bytes);
        }
        b.into_inner().unwrap()
    }

    /// `docker save`'s layout: `<id>/layer.tar` members and a `manifest.json`.
    pub fn docker_archive(&self, layers: &[(Vec<u8>, Vec<u8>)], tag: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let config = self.blobs.iter().find(|(d, _)| *d == self.config).unwrap();
        let config_name = format!("{}.json", self.config.hex());
        Self::append(&mut b, &config_name, &config.1);
        let mut names = Vec::new();
        for (i, (stored, _)) in layers.iter().enumerate() {
            let name = format!("layer{i}/layer.tar");
            Self::append(&mut b, &name, stored);
            names.push(name);
        }
        let manifest =
            serde_json::json!([{"Config": config_name, "RepoTags": [tag], "Layers": names}]);
        Self::append(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        b.into_inner().unwrap()
    }
}
