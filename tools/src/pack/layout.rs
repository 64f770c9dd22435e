//! The layout of a packed image file (docs/packed-image.md): where the kernel, the launch
//! configuration and the root filesystem's EROFS image lie, as the header at the file's end
//! says.
//!
//! The header is read from files of unknown origin, so [`Layout::parse`] checks every field
//! (magic, version, sizes, bounds, alignment, overlaps, the configuration's digest) and
//! returns an error naming the first that is wrong; it never panics (fuzzed in
//! `tools/fuzz/fuzz_targets/pack_header.rs`). Written by hand rather than with `zerocopy`:
//! eight little-endian integers are clearer read one by one than through a `repr(C)` view.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// The header's first bytes.
pub const MAGIC: &[u8; 8] = b"CRCLPACK";
/// The layout version this code writes and reads.
pub const VERSION: u32 = 1;
/// The header's size: the last bytes of the file.
pub const HEADER_LEN: usize = 128;
/// The root image's alignment in the file (and the EROFS block size).
pub const ROOT_ALIGN: u64 = 4096;
/// Upper bounds that keep a hostile header from making the reader allocate much.
pub const MAX_KERNEL: u64 = 64 << 20;
pub const MAX_CONFIG: u64 = 16 << 20;

/// Where each part lies in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The whole file's length, the header included.
    pub file_len: u64,
    pub kernel: Range<u64>,
    pub config: Range<u64>,
    pub root: Range<u64>,
    /// SHA-256 of the configuration's bytes.
    pub config_sha256: [u8; 32],
}

/// Why a header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "not a packed Coracle image (no {:?} header at the end)",
        String::from_utf8_lossy(MAGIC)
    )]
    Magic,
    #[error(
        "packed image version {0}, this coracle reads version {VERSION}: use a matching coracle"
    )]
    Version(u32),
    #[error("damaged packed image: {0}")]
    Bad(String),
}

fn bad(what: impl Into<String>) -> LayoutError {
    LayoutError::Bad(what.into())
}

impl Layout {
    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        let fields = [
            self.file_len,
            self.kernel.start,
            self.kernel.end - self.kernel.start,
            self.config.start,
            self.config.end - self.config.start,
            self.root.start,
            self.root.end - self.root.start,
        ];
        for (i, v) in fields.iter().enumerate() {
            out[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        out[72..104].copy_from_slice(&self.config_sha256);
        out
    }

    /// Reads and checks the header `bytes` (the file's last [`HEADER_LEN`] bytes) of a file of
    /// `file_len` bytes.
    pub fn parse(bytes: &[u8], file_len: u64) -> Result<Layout, LayoutError> {
        if bytes.len() != HEADER_LEN || bytes[..8] != MAGIC[..] {
            return Err(LayoutError::Magic);
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let version = u32_at(8);
        if version != VERSION {
            return Err(LayoutError::Version(version));
        }
        if u32_at(12) as usize != HEADER_LEN {
            return Err(bad(format!(
                "header length {} (expected {HEADER_LEN})",
                u32_at(12)
            )));
        }
        if bytes[104..].iter().any(|&b| b != 0) {
            return Err(bad("reserved header bytes are not zero"));
        }
        let declared = u64_at(16);
        if declared != file_len {
            return Err(bad(format!(
                "the header says {declared} bytes but the file has {file_len} (truncated or \
                 appended to?)"
            )));
        }
        let body_end = file_len
            .checked_sub(HEADER_LEN as u64)
            .ok_or_else(|| bad("shorter than its header"))?;
        let range = |name: &str, at: usize, max: u64| -> Result<Range<u64>, LayoutError> {
            let (start, len) = (u64_at(at), u64_at(at + 8));
            let end = start
                .checked_add(len)
                .filter(|&end| end <= body_end)
                .ok_or_else(|| {
                    bad(format!(
                        "the {name} ({len} bytes at {start}) lies past the end"
                    ))
                })?;
            if len == 0 || len > max {
                return Err(bad(format!(
                    "the {name} is {len} bytes (1 to {max} allowed)"
                )));
            }
            Ok(start..end)
        };
        let kernel = range("kernel", 24, MAX_KERNEL)?;
        let config = range("configuration", 40, MAX_CONFIG)?;
        let root = range("root filesystem image", 56, u64::MAX)?;
        if kernel.start != 0 {
            return Err(bad(
                "the kernel does not start the file (QEMU's -kernel needs it there)",
            ));
        }
        if root.start % ROOT_ALIGN != 0 || root.end % ROOT_ALIGN != 0 {
            return Err(bad(format!(
                "the root filesystem image ({}..{}) is not aligned to {ROOT_ALIGN} bytes",
                root.start, root.end
            )));
        }
        let overlap = |a: &Range<u64>, b: &Range<u64>| a.start < b.end && b.start < a.end;
        if overlap(&kernel, &config) || overlap(&kernel, &root) || overlap(&config, &root) {
            return Err(bad("its parts overlap"));
        }
        let mut config_sha256 = [0u8; 32];
        config_sha256.copy_from_slice(&bytes[72..104]);
        Ok(Layout {
            file_len,
            kernel,
            config,
            root,
            config_sha256,
        })
    }

    /// Checks the configuration's bytes against the header's digest.
    pub fn check_config(&self, config: &[u8]) -> Result<(), LayoutError> {
        let digest: [u8; 32] = Sha256::digest(config).into();
        if digest == self.config_sha256 {
            Ok(())
        } else {
            Err(bad("the launch configuration does not match its digest"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Layout {
        Layout {
            file_len: 3 * 4096 + 8192 + HEADER_LEN as u64,
            kernel: 0..5000,
            config: 8192..8300,
            root: 12288..20480,
            config_sha256: Sha256::digest(b"{}").into(),
        }
    }

    #[test]
    fn round_trip() {
        let l = sample();
        let bytes = l.to_bytes();
        assert_eq!(Layout::parse(&bytes, l.file_len), Ok(l.clone()));
        assert!(l.check_config(b"{}").is_ok());
        assert!(l.check_config(b"{ }").is_err());
    }

    #[test]
    fn every_field_is_checked() {
        let l = sample();
        let good = l.to_bytes();
        let parse = |edit: &dyn Fn(&mut [u8; HEADER_LEN]), len: u64| {
            let mut b = good;
            edit(&mut b);
            Layout::parse(&b, len)
        };
        let set = |at: usize, v: u64| {
            move |b: &mut [u8; HEADER_LEN]| b[at..at + 8].copy_from_slice(&v.to_le_bytes())
        };
        assert_eq!(parse(&|b| b[0] = b'X', l.file_len), Err(LayoutError::Magic));
        assert_eq!(
            parse(&|b| b[8] = 2, l.file_len),
            Err(LayoutError::Version(2))
        );
        assert!(parse(&|b| b[12] = 64, l.file_len).is_err());
        assert!(
            parse(&|b| b[127] = 1, l.file_len).is_err(),
            "reserved bytes"
        );
        assert!(parse(&|_| {}, l.file_len + 1).is_err(), "appended to");
        assert!(parse(&|_| {}, l.file_len - 1).is_err(), "truncated");
        assert!(parse(&set(24, 1), l.file_len).is_err(), "kernel not at 0");
        assert!(parse(&set(32, 0), l.file_len).is_err(), "empty kernel");
        assert!(
            parse(&set(32, MAX_KERNEL + 1), l.file_len).is_err(),
            "huge kernel"
        );
        assert!(
            parse(&set(40, u64::MAX), l.file_len).is_err(),
            "overflowing start"
        );
        assert!(
            parse(&set(48, u64::MAX), l.file_len).is_err(),
            "overflowing length"
        );
        assert!(
            parse(&set(56, 12289), l.file_len).is_err(),
            "misaligned root"
        );
        assert!(
            parse(&set(56, 8192), l.file_len).is_err(),
            "root over the config"
        );
        assert!(
            parse(&set(64, 8192 + 4096), l.file_len).is_err(),
            "root into the header"
        );
        assert!(
            parse(&set(40, 4096), l.file_len).is_err(),
            "config over the kernel"
        );
        assert_eq!(
            Layout::parse(&good[1..], l.file_len),
            Err(LayoutError::Magic)
        );
        assert!(Layout::parse(&good, 10).is_err());
    }
}
