//! The cpio `newc` writer: the one encoder of the format in the workspace.
//!
//! The `coracle` tool packs initrds with it (streaming file data itself, see
//! `tools/src/cpio.rs`), and the tests of `vfs` and `syscalls` build their archives with
//! [`Archive`]; the reader next door ([`super::Reader`]) reads back what it writes (the
//! round trip is tested in `tests/cpio_roundtrip.rs`).

use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use super::{HEADER_LEN, MAGIC, TRAILER};

/// The fields of one entry that vary; `c_dev*`, `c_rdev*` and `c_check` are always 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The path, without a leading `/` or `./`.
    pub name: &'a [u8],
    pub ino: u32,
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// The length of the data that follows the header.
    pub filesize: u32,
}

/// Why an entry cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// The name is empty or holds a NUL byte.
    BadName,
    /// A name or a file of 4 GiB or more: newc's size fields have 32 bits.
    TooBig,
    /// The data given is not `filesize` bytes long.
    WrongSize,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadName => "a cpio entry name must be non-empty and contain no NUL byte",
            Self::TooBig => "a file of 4 GiB or more does not fit in a cpio newc archive",
            Self::WrongSize => "the data of a cpio entry is not as long as its header says",
        })
    }
}

impl Header<'_> {
    /// The entry named `TRAILER!!!` that ends an archive.
    pub const TRAILER: Header<'static> = Header {
        name: TRAILER,
        ino: 0,
        mode: 0,
        uid: 0,
        gid: 0,
        nlink: 1,
        mtime: 0,
        filesize: 0,
    };

    /// What precedes the data: the 110-byte header (upper-case hex, as GNU cpio writes it),
    /// the name with its NUL, and the padding to a multiple of 4.
    pub fn encode(&self) -> Result<Vec<u8>, WriteError> {
        let name = self.name;
        if name.is_empty() || name.contains(&0) {
            return Err(WriteError::BadName);
        }
        let namesize = u32::try_from(name.len() + 1).map_err(|_| WriteError::TooBig)?;
        // c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor c_devminor
        // c_rdevmajor c_rdevminor c_namesize c_check
        let fields = [
            self.ino,
            self.mode,
            self.uid,
            self.gid,
            self.nlink,
            self.mtime,
            self.filesize,
            0,
            0,
            0,
            0,
            namesize,
            0,
        ];
        let mut head = Vec::with_capacity(HEADER_LEN + name.len() + 4);
        head.extend_from_slice(MAGIC);
        for field in fields {
            head.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        head.extend_from_slice(name);
        head.push(0);
        head.resize(head.len() + padding(head.len() as u64), 0);
        Ok(head)
    }
}

/// Zero bytes that follow `len` bytes of data to bring them to a multiple of 4.
pub const fn padding(len: u64) -> usize {
    ((4 - len % 4) % 4) as usize
}

/// A whole archive built in memory, entry by entry; [`Archive::finish`] adds the trailer.
#[derive(Debug, Default)]
pub struct Archive {
    out: Vec<u8>,
    next_ino: u32,
}

impl Archive {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh inode number: 1, 2, 3... in the order they are asked for.
    pub fn new_ino(&mut self) -> u32 {
        self.next_ino += 1;
        self.next_ino
    }

    /// Adds one entry; `data` must be `header.filesize` bytes.
    pub fn add(&mut self, header: &Header<'_>, data: &[u8]) -> Result<(), WriteError> {
        if u32::try_from(data.len()) != Ok(header.filesize) {
            return Err(WriteError::WrongSize);
        }
        self.out.extend(header.encode()?);
        self.out.extend_from_slice(data);
        self.out
            .resize(self.out.len() + padding(data.len() as u64), 0);
        Ok(())
    }

    /// Adds an entry owned by root with a fresh inode number, mtime 0 and one link (two
    /// for a directory); `mode` holds the file type and permission bits. A symbolic link's
    /// data is its target.
    pub fn entry(&mut self, name: &[u8], mode: u32, data: &[u8]) -> Result<(), WriteError> {
        let ino = self.new_ino();
        let header = Header {
            name,
            ino,
            mode,
            uid: 0,
            gid: 0,
            nlink: if mode & 0o170_000 == 0o040_000 { 2 } else { 1 },
            mtime: 0,
            filesize: u32::try_from(data.len()).map_err(|_| WriteError::TooBig)?,
        };
        self.add(&header, data)
    }

    /// The bytes written so far, without a trailer (for tests of truncated archives).
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// Adds the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        // The trailer's fixed name cannot fail to encode.
        if let Ok(t) = Header::TRAILER.encode() {
            self.out.extend(t);
        }
        self.out
    }
}
