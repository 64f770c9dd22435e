//! A writer for cpio `newc` archives, the initrd format the kernel unpacks.
//!
//! Owns only the byte format (header, name and data padding, trailer); what goes into the
//! archive is decided by `initrd`. Output is reproducible: inode numbers are assigned in the
//! order entries are added, owners are always 0, and every field comes from the caller.

use std::io::{self, Write};

/// `S_IFDIR` from `<sys/stat.h>`.
pub const S_IFDIR: u32 = 0o040000;
/// `S_IFREG` from `<sys/stat.h>`.
pub const S_IFREG: u32 = 0o100000;

const MAGIC: &[u8; 6] = b"070701";
const HEADER_LEN: usize = 110;
const TRAILER: &[u8] = b"TRAILER!!!";

/// Writes a `newc` archive entry by entry; call [`CpioWriter::finish`] to add the trailer.
#[derive(Debug)]
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        Self { out, next_ino: 1 }
    }

    /// Adds a directory. `path` has no leading `/`; `mode` holds the permission bits.
    pub fn add_dir(&mut self, path: &[u8], mode: u32, mtime: u32) -> io::Result<()> {
        let ino = self.take_ino();
        self.entry(ino, path, S_IFDIR | (mode & 0o7777), 2, mtime, &[])
    }

    /// Adds a regular file. `path` has no leading `/`; `mode` holds the permission bits.
    pub fn add_file(&mut self, path: &[u8], mode: u32, mtime: u32, data: &[u8]) -> io::Result<()> {
        let ino = self.take_ino();
        self.entry(ino, path, S_IFREG | (mode & 0o7777), 1, mtime, data)
    }

    /// Writes the `TRAILER!!!` entry and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry(0, TRAILER, 0, 1, 0, &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn take_ino(&mut self) -> u32 {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    fn entry(
        &mut self,
        ino: u32,
        name: &[u8],
        mode: u32,
        nlink: u32,
        mtime: u32,
        data: &[u8],
    ) -> io::Result<()> {
        if name.is_empty() || name.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a cpio entry name must be non-empty and contain no NUL byte",
            ));
        }
        let filesize = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a file larger than 4 GiB does not fit in a cpio newc archive",
            )
        })?;
        let namesize = name.len() as u32 + 1;
        // c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor c_devminor
        // c_rdevmajor c_rdevminor c_namesize c_check
        let fields = [
            ino, mode, 0, 0, nlink, mtime, filesize, 0, 0, 0, 0, namesize, 0,
        ];
        let mut header = Vec::with_capacity(HEADER_LEN + name.len() + 4);
        header.extend_from_slice(MAGIC);
        for field in fields {
            header.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        header.extend_from_slice(name);
        header.push(0);
        header.resize(header.len() + pad4(header.len()), 0);
        self.out.write_all(&header)?;
        self.out.write_all(data)?;
        self.out.write_all(&[0; 3][..pad4(data.len())])
    }
}

/// Zero bytes needed to bring `len` to a multiple of 4.
fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fields: [u32; 13]) -> Vec<u8> {
        let mut h = b"070701".to_vec();
        for f in fields {
            h.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        h
    }

    #[test]
    fn empty_archive_is_just_the_trailer() {
        let bytes = CpioWriter::new(Vec::new()).finish().unwrap();
        let mut expected = header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]);
        expected.extend_from_slice(b"TRAILER!!!\0");
        // 110 + 11 = 121 -> padded to 124.
        expected.extend_from_slice(&[0; 3]);
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn entries_are_byte_exact() {
        let mut w = CpioWriter::new(Vec::new());
        w.add_dir(b"usr", 0o755, 0x1234).unwrap();
        w.add_file(b"usr/a", 0o644, 7, b"hello").unwrap();
        let bytes = w.finish().unwrap();

        let mut expected = header([1, 0o040755, 0, 0, 2, 0x1234, 0, 0, 0, 0, 0, 4, 0]);
        expected.extend_from_slice(b"usr\0"); // 110 + 4 = 114 -> pad 2
        expected.extend_from_slice(&[0; 2]);
        expected.extend(header([2, 0o100644, 0, 0, 1, 7, 5, 0, 0, 0, 0, 6, 0]));
        expected.extend_from_slice(b"usr/a\0"); // 110 + 6 = 116, aligned
        expected.extend_from_slice(b"hello\0\0\0"); // 5 -> pad 3
        expected.extend(header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]));
        expected.extend_from_slice(b"TRAILER!!!\0\0\0\0");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn header_fields_are_uppercase_hex() {
        let mut w = CpioWriter::new(Vec::new());
        w.add_file(b"f", 0o755, 0xdeadbeef, &[0xaa; 4]).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[46..54], b"DEADBEEF");
        assert_eq!(&bytes[14..22], b"000081ED");
    }

    #[test]
    fn same_input_gives_same_bytes() {
        let build = || {
            let mut w = CpioWriter::new(Vec::new());
            w.add_dir(b".coracle", 0o755, 0).unwrap();
            w.add_file(b".coracle/argv", 0o644, 0, b"a\0b\0").unwrap();
            w.finish().unwrap()
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn rejects_bad_names() {
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.add_file(b"", 0o644, 0, b"").is_err());
        assert!(w.add_file(b"a\0b", 0o644, 0, b"").is_err());
    }
}
