//! Access to user memory on top of the platform's user copies and [`crate::user_ptr`]:
//! strings, iovec arrays, little-endian words.
//!
//! Every user pointer a handler touches goes through here; a bad address is `EFAULT`.

use alloc::vec::Vec;

use coracle_abi::time::Timespec;
use coracle_abi::{FromBytes, Immutable, IntoBytes};

use crate::user_ptr::UserPtr;
use crate::{Errno, Platform};

/// Longest path Linux accepts, including the NUL (PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// Reads a little-endian u64 at `addr`.
pub fn read_u64(p: &dyn Platform, addr: u64) -> Result<u64, Errno> {
    UserPtr::<u64>::new(addr)?.read(p)
}

/// Writes a little-endian u64 at `addr`.
pub fn write_u64(p: &mut dyn Platform, addr: u64, v: u64) -> Result<(), Errno> {
    UserPtr::<u64>::new(addr)?.write(p, v)
}

/// Writes a little-endian u32 at `addr`.
pub fn write_u32(p: &mut dyn Platform, addr: u64, v: u32) -> Result<(), Errno> {
    UserPtr::<u32>::new(addr)?.write(p, v)
}

/// Reads one ABI struct (from `coracle_abi`) at `addr`: exactly its size, as Linux copies it.
pub fn read_struct<T: FromBytes + IntoBytes>(p: &dyn Platform, addr: u64) -> Result<T, Errno> {
    let mut v = T::new_zeroed();
    p.read_user(addr, v.as_mut_bytes())?;
    Ok(v)
}

/// Writes one ABI struct (from `coracle_abi`) at `addr`: exactly its size, never a libc's
/// larger layout.
pub fn write_struct<T: IntoBytes + Immutable>(
    p: &mut dyn Platform,
    addr: u64,
    v: &T,
) -> Result<(), Errno> {
    p.write_user(addr, v.as_bytes())
}

/// Reads a `struct timespec` as nanoseconds; `EINVAL` if negative or tv_nsec out of range.
pub fn read_timespec(p: &dyn Platform, addr: u64) -> Result<u64, Errno> {
    read_struct::<Timespec>(p, addr)?
        .to_ns()
        .ok_or(Errno::EINVAL)
}

/// Writes nanoseconds as a `struct timespec`.
pub fn write_timespec(p: &mut dyn Platform, addr: u64, ns: u64) -> Result<(), Errno> {
    write_struct(p, addr, &Timespec::from_ns(ns))
}

/// Reads a NUL-terminated string of at most `max` bytes including the NUL; longer is
/// `ENAMETOOLONG` (as for paths). Reads page by page so that a string ending just before an
/// unmapped page is fine.
pub fn read_cstr(p: &dyn Platform, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut cur = addr;
    loop {
        let to_page_end = 4096 - (cur % 4096) as usize;
        let room = max.saturating_sub(out.len());
        if room == 0 {
            return Err(Errno::ENAMETOOLONG);
        }
        let n = to_page_end.min(room).min(256);
        let mut chunk = [0u8; 256];
        p.read_user(cur, &mut chunk[..n])?;
        if let Some(nul) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        cur = cur.checked_add(n as u64).ok_or(Errno::EFAULT)?;
    }
}

/// One `struct iovec`.
#[derive(Debug, Clone, Copy)]
pub struct IoVec {
    pub base: u64,
    pub len: u64,
}

/// Most iovecs one call takes (UIO_MAXIOV).
pub const IOV_MAX: u64 = 1024;

/// Reads an iovec array; `EINVAL` when `count` is over `IOV_MAX` or the total overflows ssize_t.
pub fn read_iovecs(p: &dyn Platform, addr: u64, count: u64) -> Result<Vec<IoVec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut v = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for i in 0..count {
        let at = addr.checked_add(i * 16).ok_or(Errno::EFAULT)?;
        let base = read_u64(p, at)?;
        let len = read_u64(p, at + 8)?;
        // Each buffer is checked as the array is read (Linux's import_iovec), before the
        // file's mode.
        crate::user_ptr::access_ok(base, len)?;
        total = total
            .checked_add(len)
            .filter(|&t| t <= i64::MAX as u64)
            .ok_or(Errno::EINVAL)?;
        v.push(IoVec { base, len });
    }
    Ok(v)
}
