//! The EROFS image of a run's root filesystem, written once per content and kept in the cache
//! (`$XDG_CACHE_HOME/coracle/rootfs/<key>.erofs`, or `~/.cache/...`).
//!
//! The key is a SHA-256 over the entry stream the image is written from (`cpio::EntrySink`):
//! every entry's name, type, mode, owner, mtime, size, hard-link identity and extended
//! attributes, and, for an image's in-memory tree, the data too. A host directory's file data is not read for the key
//! (that would cost as much as writing the image): as make and rsync do, a file is taken as
//! unchanged while its size and mtime are. A new image is written under a temporary name and
//! renamed, so concurrent runs never see a partial one. Every use touches an image's mtime;
//! images unused for [`KEEP_UNUSED`] are removed when a new one is written (every new tree,
//! e.g. each test run's scratch root, makes one).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cpio::{EntrySink, Header};
use crate::erofs::ErofsWriter;
use crate::progress::Counted;
use crate::xattrs::Xattrs;

/// Bumped when the writer's output changes for the same entries, so old images are not used.
const FORMAT_VERSION: &[u8] = b"coracle-erofs-4";

/// Where the guest mounts its filesystems (and their modes when the kernel makes them on an
/// initrd root): a read-only root cannot get them at boot, so the image brings any missing.
const MOUNT_POINTS: &[(&[u8], u32)] = &[
    (b"dev", 0o755),
    (b"proc", 0o555),
    (b"sys", 0o555),
    (b"tmp", 0o1777),
];

/// How long an image nobody used stays in the cache.
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(2 * 24 * 3600);

/// Hashes an entry stream.
struct Fingerprint {
    hash: Sha256,
    next_ino: u32,
    with_data: bool,
}

impl EntrySink for Fingerprint {
    fn new_ino(&mut self) -> u32 {
        self.next_ino += 1;
        self.next_ino
    }

    fn add(&mut self, h: &Header<'_>, xattrs: &Xattrs, mut data: impl Read) -> io::Result<()> {
        let mut bytes = |b: &[u8]| {
            self.hash.update((b.len() as u64).to_le_bytes());
            self.hash.update(b);
        };
        bytes(h.name);
        for (name, value) in xattrs.iter() {
            bytes(name);
            bytes(value);
        }
        self.hash.update(xattrs.iter().count().to_le_bytes());
        for v in [h.ino, h.mode, h.uid, h.gid, h.nlink, h.mtime, h.filesize] {
            self.hash.update(v.to_le_bytes());
        }
        if self.with_data {
            io::copy(
                &mut (&mut data).take(u64::from(h.filesize)),
                &mut HashWriter(&mut self.hash),
            )?;
        }
        Ok(())
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What an image is written from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A host directory (its file data is not hashed for the key).
    Tree(&'a crate::rootfs::Tree),
    /// An image's root filesystem, in memory.
    Image(&'a crate::image::tree::FsTree),
}

impl Source<'_> {
    /// A bar for writing the image: of the file data's size for an image's tree (the image
    /// is a little larger), a byte count for a host directory.
    pub fn bar(&self) -> indicatif::ProgressBar {
        let len = match self {
            Source::Tree(_) => 0,
            Source::Image(t) => t.data_bytes(),
        };
        crate::progress::bar(len, "writing the root filesystem image")
    }

    /// Writes every entry of the tree to `out`, in archive order.
    pub fn write(&self, out: &mut impl EntrySink) -> io::Result<()> {
        match self {
            Source::Tree(t) => t.write(out),
            Source::Image(t) => t.write(out),
        }
    }
}

/// The image of `source`, from the cache or written now; returns its path.
pub fn cached_image(source: Source<'_>) -> io::Result<PathBuf> {
    let mut fp = Fingerprint {
        hash: Sha256::new(),
        next_ino: 0,
        with_data: matches!(source, Source::Image(_)),
    };
    fp.hash.update(FORMAT_VERSION);
    source.write(&mut fp)?;
    let key: String = fp
        .hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("{key}.erofs");
    let mut last_err = None;
    for dir in crate::kernel_image::cache_dirs() {
        let dir = dir.join("rootfs");
        let path = dir.join(&name);
        if fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            // Marks it used (best effort: a read-only cache still serves).
            let _ = File::options()
                .append(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            return Ok(path);
        }
        match write_image(&dir, &name, source) {
            Ok(()) => {
                remove_unused(&dir);
                return Ok(path);
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no cache directory")))
}

/// Removes the images (and temporaries left by killed runs) of `dir` not used for
/// [`KEEP_UNUSED`]; errors are ignored (another run may be removing them too).
fn remove_unused(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > KEEP_UNUSED));
        if old && e.file_name().to_string_lossy().contains(".erofs") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Writes the image of `source` to `out` (from its position 0); returns `out` and the
/// image's size.
pub fn write_to<W: Write + Seek>(source: Source<'_>, out: W) -> io::Result<(W, u64)> {
    let mut writer = ErofsWriter::new(out)?;
    source.write(&mut writer)?;
    writer.ensure_root_dirs(MOUNT_POINTS)?;
    writer.finish()
}

fn write_image(dir: &Path, name: &str, source: Source<'_>) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)?;
        let out = Counted::new(BufWriter::with_capacity(1 << 20, file), source.bar());
        let (out, _) = write_to(source, out)?;
        let out = out.into_inner();
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
