//! The shape of the root filesystem a container gets: the image in a writable tmpfs, or a
//! read-only image under an overlay (`coracle.root=overlay`), `--read-only` and `--tmpfs`
//! mounts, as `docker run` makes them (docs/guest-protocol.md, docs/overlay.md).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::overlay::new_overlay;
use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::{Clock, Errno, Inode};

use crate::sys::fs::mount::{parse_octal, parse_size};

/// How the root filesystem is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RootKind {
    /// The image unpacked into one writable tmpfs.
    #[default]
    Tmpfs,
    /// The image as a read-only lower layer under an in-memory overlay.
    Overlay,
}

/// A `--tmpfs PATH[:OPTIONS]` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// Absolute path in the container.
    pub path: Vec<u8>,
    /// Largest total file data (`size=`; Linux's default: half of memory).
    pub max_bytes: u64,
    /// The root directory's mode (`mode=`, default 1777 as Docker's).
    pub mode: u32,
    /// `ro`.
    pub read_only: bool,
    /// The options /proc/mounts shows.
    pub shown: Vec<u8>,
}

impl TmpfsMount {
    /// Parses `PATH[:OPT,...]`, the value of `--tmpfs` (and of `coracle.tmpfs=`): options
    /// `size=N[kmg%]`, `mode=OCTAL`, `rw`/`ro` and the flags Docker accepts (`exec`, `noexec`,
    /// `suid`, `nosuid`, `dev`, `nodev`: shown in /proc/mounts, not enforced). `mem` is the
    /// memory size the default and `%` sizes are taken from.
    pub fn parse(spec: &[u8], mem: u64) -> Result<TmpfsMount, &'static str> {
        let (path, opts) = match spec.iter().position(|&b| b == b':') {
            Some(i) => (&spec[..i], &spec[i + 1..]),
            None => (spec, &b""[..]),
        };
        if !path.starts_with(b"/") {
            return Err("the path must be absolute");
        }
        let mut m = TmpfsMount {
            path: path.to_vec(),
            max_bytes: mem / 2,
            mode: 0o1777,
            read_only: false,
            shown: Vec::new(),
        };
        // Docker's defaults for --tmpfs.
        let mut flags: Vec<&[u8]> = alloc::vec![b"nosuid", b"nodev", b"noexec"];
        let mut size_shown = None;
        for opt in opts.split(|&b| b == b',').filter(|o| !o.is_empty()) {
            if let Some(v) = opt.strip_prefix(b"size=") {
                m.max_bytes = parse_size(v, mem).ok_or("bad size=")?;
                size_shown = Some(m.max_bytes);
            } else if let Some(v) = opt.strip_prefix(b"mode=") {
                m.mode = parse_octal(v).filter(|&v| v <= 0o7777).ok_or("bad mode=")?;
            } else {
                let (flag, opposite): (&[u8], &[u8]) = match opt {
                    b"rw" | b"ro" => {
                        m.read_only = opt == b"ro";
                        continue;
                    }
                    b"exec" => (b"", b"noexec"),
                    b"noexec" => (b"noexec", b""),
                    b"suid" => (b"", b"nosuid"),
                    b"nosuid" => (b"nosuid", b""),
                    b"dev" => (b"", b"nodev"),
                    b"nodev" => (b"nodev", b""),
                    _ => return Err("unknown option"),
                };
                flags.retain(|f| *f != opposite && *f != flag);
                if !flag.is_empty() {
                    flags.push(flag);
                }
            }
        }
        let mut shown = if m.read_only {
            b"ro".to_vec()
        } else {
            b"rw".to_vec()
        };
        for f in [b"nosuid".as_slice(), b"nodev", b"noexec"] {
            if flags.contains(&f) {
                shown.push(b',');
                shown.extend_from_slice(f);
            }
        }
        shown.extend_from_slice(b",relatime");
        if let Some(size) = size_shown {
            shown.extend_from_slice(alloc::format!(",size={}k", size / 1024).as_bytes());
        }
        if m.mode != 0o1777 {
            shown.extend_from_slice(alloc::format!(",mode={:o}", m.mode).as_bytes());
        }
        m.shown = shown;
        Ok(m)
    }

    /// The filesystem to mount.
    pub fn make(&self, clock: Arc<dyn Clock>) -> Arc<dyn Inode> {
        new_tmpfs(
            clock,
            TmpfsOptions {
                max_bytes: self.max_bytes,
                root_mode: self.mode,
                ..TmpfsOptions::default()
            },
        )
    }
}

/// The root directory for `kind`: for [`RootKind::Overlay`], the overlay over `image`, else
/// `image` itself. `mem` bounds the upper layer.
pub fn root_over(
    kind: RootKind,
    image: Arc<dyn Inode>,
    clock: Arc<dyn Clock>,
    mem: u64,
) -> Result<Arc<dyn Inode>, Errno> {
    match kind {
        RootKind::Tmpfs => Ok(image),
        RootKind::Overlay => {
            let upper = new_tmpfs(
                clock,
                TmpfsOptions {
                    max_bytes: mem,
                    ..TmpfsOptions::default()
                },
            );
            new_overlay(image, upper)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options_as_docker_takes_them() {
        let m = TmpfsMount::parse(b"/run", 1 << 30).unwrap();
        assert_eq!(
            (m.path.as_slice(), m.max_bytes, m.mode),
            (&b"/run"[..], 1 << 29, 0o1777)
        );
        assert_eq!(m.shown, b"rw,nosuid,nodev,noexec,relatime");
        let m = TmpfsMount::parse(b"/x:size=64m,mode=755,exec,ro", 1 << 30).unwrap();
        assert_eq!((m.max_bytes, m.mode, m.read_only), (64 << 20, 0o755, true));
        assert_eq!(m.shown, b"ro,nosuid,nodev,relatime,size=65536k,mode=755");
        assert!(TmpfsMount::parse(b"run", 1).is_err());
        assert!(TmpfsMount::parse(b"/run:size=lots", 1).is_err());
        assert!(TmpfsMount::parse(b"/run:mode=99999", 1).is_err());
        assert!(TmpfsMount::parse(b"/run:uid=5", 1).is_err());
    }
}
