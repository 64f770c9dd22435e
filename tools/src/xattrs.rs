//! Extended attributes of a root filesystem's entries (`security.capability` on
//! `/usr/bin/ping`, `user.*`, POSIX ACLs), carried by the entry stream (`cpio::EntrySink`) to
//! the EROFS writer (`erofs`), which stores them; the initrd's cpio cannot, and drops them.
//!
//! Read from a host directory's files with the xattr system calls through `rustix` (already a
//! dependency; the `xattr` crate is a thin wrapper over the same calls) by `rootfs`, and from
//! an image layer's PAX records by `image::layer`: `SCHILY.xattr.NAME` (GNU tar, Go's
//! archive/tar, so Docker and BuildKit) with the raw value, and `LIBARCHIVE.xattr.NAME`
//! (libarchive, bsdtar) with the name %-encoded and the value in base64.

use std::io;
use std::path::Path;

use base64::Engine as _;

/// An entry's attributes: (name, value), sorted by name, each name once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Xattrs(Vec<(Vec<u8>, Vec<u8>)>);

/// Names and value sizes (values may be long and binary).
impl std::fmt::Debug for Xattrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), format!("{} bytes", v.len()))),
            )
            .finish()
    }
}

impl Xattrs {
    /// No attributes.
    pub const NONE: Xattrs = Xattrs(Vec::new());

    /// `pairs` sorted by name; of a name given twice, the last value stays.
    pub fn new(mut pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Xattrs {
        // A stable sort keeps equal names in the order given: keep the last of each run.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == name => last.1 = value,
                _ => out.push((name, value)),
            }
        }
        Xattrs(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (name, value) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    /// The attributes of the host file `path` (a symlink's own, not its target's); none where
    /// the filesystem keeps none.
    pub fn of_host_file(path: &Path) -> io::Result<Xattrs> {
        let with_path = |e: rustix::io::Errno| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("{}: reading extended attributes: {e}", path.display()),
            )
        };
        let list = |buf: &mut [u8]| rustix::fs::llistxattr(path, buf);
        let names = match read_sized(|| rustix::fs::llistxattr_query(path), list) {
            Ok(names) => names,
            Err(rustix::io::Errno::NOTSUP) => return Ok(Xattrs::NONE),
            Err(e) => return Err(with_path(e)),
        };
        let mut pairs = Vec::new();
        for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
            let query = || rustix::fs::lgetxattr_query(path, name);
            match read_sized(query, |buf| rustix::fs::lgetxattr(path, name, buf)) {
                Ok(value) => pairs.push((name.to_vec(), value)),
                // Removed since it was listed, or hidden from this caller.
                Err(rustix::io::Errno::NODATA) => {}
                Err(e) => return Err(with_path(e)),
            }
        }
        Ok(Xattrs::new(pairs))
    }

    /// The attributes in the PAX records of a layer's tar entry.
    pub fn of_pax<'a>(
        records: impl Iterator<Item = io::Result<tar::PaxExtension<'a>>>,
    ) -> Result<Xattrs, String> {
        let mut pairs = Vec::new();
        for record in records {
            let record = record.map_err(|e| format!("a PAX record: {e}"))?;
            let key = record.key_bytes();
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                pairs.push((name.to_vec(), record.value_bytes().to_vec()));
            } else if let Some(name) = key.strip_prefix(b"LIBARCHIVE.xattr.") {
                let shown = || String::from_utf8_lossy(name).into_owned();
                let name = percent_decode(name)
                    .ok_or_else(|| format!("LIBARCHIVE.xattr.{}: a bad %-escape", shown()))?;
                let value = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(trim_padding(record.value_bytes()))
                    .map_err(|e| format!("LIBARCHIVE.xattr.{}: {e}", shown()))?;
                pairs.push((name, value));
            }
        }
        if pairs
            .iter()
            .any(|(name, _)| name.is_empty() || name.contains(&0))
        {
            return Err("an extended attribute with an empty name or a NUL in it".into());
        }
        Ok(Xattrs::new(pairs))
    }
}

/// Asks for a list's or a value's size (`query`), then reads it (`call`), again while it grew
/// in between (`ERANGE`). (rustix's calls take an empty buffer as empty, not as a size query.)
fn read_sized(
    query: impl Fn() -> rustix::io::Result<usize>,
    mut call: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    loop {
        let mut buf = vec![0u8; query()?];
        if buf.is_empty() {
            return Ok(buf);
        }
        match call(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// libarchive pads its base64 (or not): accept both.
fn trim_padding(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    &v[..end]
}

/// `%XX` escapes decoded (libarchive escapes `%`, `=` and bytes outside printable ASCII).
fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_values_win_and_names_are_sorted() {
        let x = Xattrs::new(vec![
            (b"user.b".to_vec(), b"1".to_vec()),
            (b"user.a".to_vec(), b"2".to_vec()),
            (b"user.b".to_vec(), b"3".to_vec()),
        ]);
        let got: Vec<_> = x.iter().collect();
        assert_eq!(got, [(&b"user.a"[..], &b"2"[..]), (b"user.b", b"3")]);
    }

    #[test]
    fn a_host_file_s_attributes_are_read() {
        let dir = crate::tempdir::TempDir::new().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        rustix::fs::setxattr(&f, "user.a", b"1", rustix::fs::XattrFlags::empty()).unwrap();
        rustix::fs::setxattr(
            &f,
            "user.big",
            &[7u8; 3000],
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        let got = Xattrs::of_host_file(&f).unwrap();
        let want = Xattrs::new(vec![
            (b"user.big".to_vec(), vec![7u8; 3000]),
            (b"user.a".to_vec(), b"1".to_vec()),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(percent_decode(b"user.a%3Db%25").unwrap(), b"user.a=b%");
        assert_eq!(percent_decode(b"user.%4"), None);
        assert_eq!(percent_decode(b"user.%zz"), None);
    }
}
