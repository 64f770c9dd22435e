//! A checked reader of cpio `newc` archives (the format of Linux initramfs images).
//!
//! Each entry: a 110-byte ASCII header starting `070701` with thirteen 8-digit hex fields, the
//! NUL-terminated name padded to 4 bytes (counting the header), then the data padded to 4. The
//! archive ends at the entry named `TRAILER!!!`. Everything is checked; a malformed archive is
//! an error, never a panic. The writer, [`Archive`] and [`Header::encode`], is in `write.rs`.

use core::fmt;

mod write;
pub use write::{padding, Archive, Header, WriteError};

const HEADER_LEN: usize = 110;
const MAGIC: &[u8; 6] = b"070701";
const TRAILER: &[u8] = b"TRAILER!!!";

/// One archive member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as stored, without a leading `./` or `/`.
    pub name: &'a [u8],
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// File type bits of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & 0o170_000
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == 0o040_000
    }

    pub fn is_file(&self) -> bool {
        self.file_type() == 0o100_000
    }
}

/// Why an archive was refused; `offset` is where in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpioError {
    Truncated { offset: usize },
    BadMagic { offset: usize },
    BadField { offset: usize },
    BadName { offset: usize },
    NoTrailer,
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { offset } => write!(f, "cpio archive truncated at byte {offset}"),
            Self::BadMagic { offset } => write!(f, "no cpio newc header (070701) at byte {offset}"),
            Self::BadField { offset } => {
                write!(f, "bad hex field in the cpio header at byte {offset}")
            }
            Self::BadName { offset } => {
                write!(f, "bad file name in the cpio entry at byte {offset}")
            }
            Self::NoTrailer => write!(f, "cpio archive ends without TRAILER!!!"),
        }
    }
}

/// Iterates over the members of an archive, up to the trailer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            done: false,
        }
    }

    /// Finds the member named `name` (compared without leading `./` or `/`).
    pub fn find(data: &'a [u8], name: &[u8]) -> Result<Option<Entry<'a>>, CpioError> {
        let name = strip(name);
        for e in Reader::new(data) {
            let e = e?;
            if e.name == name {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    fn parse_one(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        let start = self.pos;
        let header = self
            .data
            .get(
                start
                    ..start
                        .checked_add(HEADER_LEN)
                        .ok_or(CpioError::Truncated { offset: start })?,
            )
            .ok_or(CpioError::Truncated { offset: start })?;
        if &header[..6] != MAGIC {
            return Err(CpioError::BadMagic { offset: start });
        }
        let field = |i: usize| -> Result<u32, CpioError> {
            let raw = header
                .get(6 + i * 8..14 + i * 8)
                .ok_or(CpioError::BadField { offset: start })?;
            let mut v: u32 = 0;
            for &c in raw {
                let d = (c as char).to_digit(16).ok_or(CpioError::BadField {
                    offset: start + 6 + i * 8,
                })?;
                v = (v << 4) | d;
            }
            Ok(v)
        };
        let (ino, mode, uid, gid, nlink, mtime, filesize) = (
            field(0)?,
            field(1)?,
            field(2)?,
            field(3)?,
            field(4)?,
            field(5)?,
            field(6)? as usize,
        );
        let namesize = field(11)? as usize;
        let name_start = start + HEADER_LEN;
        let name_end = name_start
            .checked_add(namesize)
            .ok_or(CpioError::Truncated { offset: start })?;
        let raw_name = self
            .data
            .get(name_start..name_end)
            .ok_or(CpioError::Truncated { offset: name_start })?;
        // The name includes its NUL terminator and nothing after it.
        let Some((&0, name)) = raw_name.split_last() else {
            return Err(CpioError::BadName { offset: name_start });
        };
        if name.contains(&0) {
            return Err(CpioError::BadName { offset: name_start });
        }
        let data_start = align4(name_end).ok_or(CpioError::Truncated { offset: name_end })?;
        let data_end = data_start
            .checked_add(filesize)
            .ok_or(CpioError::Truncated { offset: data_start })?;
        let data = self
            .data
            .get(data_start..data_end)
            .ok_or(CpioError::Truncated { offset: data_start })?;
        self.pos = align4(data_end).ok_or(CpioError::Truncated { offset: data_end })?;
        if name == TRAILER {
            return Ok(None);
        }
        Ok(Some(Entry {
            name: strip(name),
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            data,
        }))
    }
}

fn align4(x: usize) -> Option<usize> {
    x.checked_add(3).map(|v| v & !3)
}

fn strip(mut name: &[u8]) -> &[u8] {
    loop {
        if let Some(rest) = name.strip_prefix(b"./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix(b"/") {
            name = rest;
        } else {
            return name;
        }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.pos >= self.data.len() {
            self.done = true;
            return Some(Err(CpioError::NoTrailer));
        }
        match self.parse_one() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests;
