//! Content digests (`sha256:HEX`) and a reader that checks one as the bytes stream past.
//!
//! Every blob an image is made of is named by its digest; whatever reads one from outside (an
//! archive, a registry, the store) checks it, and its declared size, before trusting it.

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// A checked `sha256:` digest: 64 lowercase hexadecimal digits, so it is also a safe file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected sha256: and 64 lowercase hex digits")]
    Invalid(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch { expected: Digest, actual: Digest },
    #[error("size mismatch: {expected} bytes declared, {actual} read")]
    Size { expected: u64, actual: u64 },
}

impl Digest {
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Invalid(text.to_owned()))?;
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Digest(text.to_owned()))
        } else {
            Err(DigestError::Invalid(text.to_owned()))
        }
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{:x}", Sha256::digest(bytes)))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The first 12 hex digits, as `docker images` shows an id.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `bytes` against this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        let actual = Digest::of(bytes);
        if actual == *self {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                expected: self.clone(),
                actual,
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reader that hashes and counts what it passes on.
#[derive(Debug)]
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left, then returns the digest and length of everything.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            Digest(format!("sha256:{:x}", self.hasher.finalize())),
            self.count,
        ))
    }

    /// [`Hashing::finish`], checked against an expected digest and (if known) size.
    pub fn verify(self, digest: &Digest, size: Option<u64>) -> io::Result<Result<(), DigestError>> {
        let (actual, count) = self.finish()?;
        if let Some(size) = size.filter(|&s| s != count) {
            return Ok(Err(DigestError::Size {
                expected: size,
                actual: count,
            }));
        }
        Ok(if actual == *digest {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                expected: digest.clone(),
                actual,
            })
        })
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_verify() {
        let d = Digest::of(b"hello");
        assert_eq!(
            d.as_str(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Digest::parse(d.as_str()), Ok(d.clone()));
        assert_eq!(d.short(), "2cf24dba5fb0");
        assert!(d.verify(b"hello").is_ok());
        assert!(matches!(
            d.verify(b"hellO"),
            Err(DigestError::Mismatch { .. })
        ));
        for bad in [
            "sha256:../../etc",
            "sha512:00",
            "2cf24dba",
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_reader_checks_size_and_digest() {
        let d = Digest::of(b"hello");
        let r = Hashing::new(&b"hello"[..]);
        assert_eq!(r.verify(&d, Some(5)).unwrap(), Ok(()));
        let r = Hashing::new(&b"hello!"[..]);
        assert!(matches!(
            r.verify(&d, Some(5)).unwrap(),
            Err(DigestError::Size {
                expected: 5,
                actual: 6
            })
        ));
        let r = Hashing::new(&b"jello"[..]);
        assert!(matches!(
            r.verify(&d, None).unwrap(),
            Err(DigestError::Mismatch { .. })
        ));
    }
}
