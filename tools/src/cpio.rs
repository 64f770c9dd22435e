//! Streams cpio `newc` archives, the initrd format the kernel unpacks.
//!
//! The byte format (header, name and data padding, trailer) is `coracle_vfs::cpio`'s writer,
//! the same one the tests build archives with; this module adds streaming from any reader, so
//! big files never sit in memory. What goes into the archive, in which order and with which
//! inode numbers, is decided by `initrd` and `rootfs`.

use std::io::{self, Read, Write};

pub use coracle_vfs::cpio::Header;
use coracle_vfs::cpio::{padding, WriteError};

use crate::xattrs::Xattrs;

/// `S_IFMT` and the file types from `<sys/stat.h>`.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;

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

    /// A fresh inode number: 1, 2, 3... in the order they are asked for.
    pub fn new_ino(&mut self) -> u32 {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    /// Adds a directory owned by root with a fresh inode number; `mode` holds the permission
    /// bits, `nlink` follows Linux (2 + the number of subdirectories).
    pub fn add_dir(&mut self, path: &[u8], mode: u32, mtime: u32, nlink: u32) -> io::Result<()> {
        let ino = self.new_ino();
        self.add(
            &Header {
                name: path,
                ino,
                mode: S_IFDIR | (mode & 0o7777),
                uid: 0,
                gid: 0,
                nlink,
                mtime,
                filesize: 0,
            },
            &[][..],
        )
    }

    /// Adds a regular file owned by root with a fresh inode number and its data in memory.
    pub fn add_file(&mut self, path: &[u8], mode: u32, mtime: u32, data: &[u8]) -> io::Result<()> {
        let ino = self.new_ino();
        self.add(
            &Header {
                name: path,
                ino,
                mode: S_IFREG | (mode & 0o7777),
                uid: 0,
                gid: 0,
                nlink: 1,
                mtime,
                filesize: size_u32(data.len() as u64)?,
            },
            data,
        )
    }

    /// Adds one entry whose data is the first `header.filesize` bytes of `data`; a reader that
    /// ends sooner (a file that shrank while being packed) is an error.
    pub fn add(&mut self, header: &Header<'_>, data: impl Read) -> io::Result<()> {
        let head = header.encode().map_err(invalid)?;
        self.out.write_all(&head)?;
        let want = u64::from(header.filesize);
        let copied = io::copy(&mut data.take(want), &mut self.out)?;
        if copied != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {copied} bytes read, {want} expected (did it change while being packed?)",
                    String::from_utf8_lossy(header.name)
                ),
            ));
        }
        self.out.write_all(&[0; 3][..padding(want)])
    }

    /// Writes the `TRAILER!!!` entry and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.add(&Header::TRAILER, &[][..])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Where a root filesystem's entries go, in archive order (docs/guest-protocol.md): the cpio
/// writer for the initrd, `erofs::ErofsWriter` for a block-device root.
pub trait EntrySink {
    /// A fresh inode number: 1, 2, 3... in the order they are asked for.
    fn new_ino(&mut self) -> u32;
    /// Adds one entry with its extended attributes, whose data is the first
    /// `header.filesize` bytes of `data`. (A hard link's second name repeats its inode's.)
    fn add(&mut self, header: &Header<'_>, xattrs: &Xattrs, data: impl Read) -> io::Result<()>;
}

/// The initrd: `newc` has no place for extended attributes, which stay behind.
impl<W: Write> EntrySink for CpioWriter<W> {
    fn new_ino(&mut self) -> u32 {
        CpioWriter::new_ino(self)
    }
    fn add(&mut self, header: &Header<'_>, _xattrs: &Xattrs, data: impl Read) -> io::Result<()> {
        CpioWriter::add(self, header, data)
    }
}

fn invalid(e: WriteError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

/// A size as the 32-bit header field, or the error that newc cannot hold it.
pub fn size_u32(size: u64) -> io::Result<u32> {
    u32::try_from(size).map_err(|_| invalid(WriteError::TooBig))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(fields: [u32; 13]) -> Vec<u8> {
        let mut h = b"070701".to_vec();
        for f in fields {
            h.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        h
    }

    #[test]
    fn empty_archive_is_just_the_trailer() {
        let bytes = CpioWriter::new(Vec::new()).finish().unwrap();
        let mut expected = header_of([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]);
        expected.extend_from_slice(b"TRAILER!!!\0");
        // 110 + 11 = 121 -> padded to 124.
        expected.extend_from_slice(&[0; 3]);
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn entries_are_byte_exact() {
        let mut w = CpioWriter::new(Vec::new());
        w.add_dir(b"usr", 0o755, 0x1234, 2).unwrap();
        w.add_file(b"usr/a", 0o644, 7, b"hello").unwrap();
        let bytes = w.finish().unwrap();

        let mut expected = header_of([1, 0o040755, 0, 0, 2, 0x1234, 0, 0, 0, 0, 0, 4, 0]);
        expected.extend_from_slice(b"usr\0"); // 110 + 4 = 114 -> pad 2
        expected.extend_from_slice(&[0; 2]);
        expected.extend(header_of([2, 0o100644, 0, 0, 1, 7, 5, 0, 0, 0, 0, 6, 0]));
        expected.extend_from_slice(b"usr/a\0"); // 110 + 6 = 116, aligned
        expected.extend_from_slice(b"hello\0\0\0"); // 5 -> pad 3
        expected.extend(header_of([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0]));
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
            w.add_dir(b".coracle", 0o755, 0, 2).unwrap();
            w.add_file(b".coracle/argv", 0o644, 0, b"a\0b\0").unwrap();
            w.finish().unwrap()
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn add_writes_every_field_and_streams_exactly_filesize_bytes() {
        let mut w = CpioWriter::new(Vec::new());
        let header = Header {
            name: b"bin/sh",
            ino: 7,
            mode: S_IFLNK | 0o777,
            uid: 1000,
            gid: 100,
            nlink: 3,
            mtime: 5,
            filesize: 7,
        };
        // The reader has more than filesize bytes: only filesize are taken.
        w.add(&header, &b"busybox and more"[..]).unwrap();
        let bytes = w.finish().unwrap();
        let mut expected = header_of([7, 0o120777, 1000, 100, 3, 5, 7, 0, 0, 0, 0, 7, 0]);
        expected.extend_from_slice(b"bin/sh\0"); // 110 + 7 = 117 -> pad 3
        expected.extend_from_slice(&[0; 3]);
        expected.extend_from_slice(b"busybox\0"); // 7 -> pad 1
        assert_eq!(&bytes[..expected.len()], expected);
    }

    #[test]
    fn a_short_reader_is_an_error() {
        let mut w = CpioWriter::new(Vec::new());
        let header = Header {
            name: b"f",
            ino: 1,
            mode: S_IFREG | 0o644,
            uid: 0,
            gid: 0,
            nlink: 1,
            mtime: 0,
            filesize: 10,
        };
        let err = w.add(&header, &b"short"[..]).unwrap_err();
        assert!(
            err.to_string().contains("5 bytes read, 10 expected"),
            "{err}"
        );
        assert!(size_u32(1 << 32).is_err());
        assert_eq!(size_u32(u64::from(u32::MAX)).unwrap(), u32::MAX);
    }

    #[test]
    fn rejects_bad_names() {
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.add_file(b"", 0o644, 0, b"").is_err());
        assert!(w.add_file(b"a\0b", 0o644, 0, b"").is_err());
    }
}
