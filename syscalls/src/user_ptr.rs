//! Typed user pointers: a buffer or a value at a user address, checked against the top of user
//! space when made, read and written through [`UserMemory`].
//!
//! The check is Linux's `access_ok`: the whole range lies below the top of user space and does
//! not wrap. It does not look at what is mapped (the copy does, with `EFAULT`), and it holds for
//! an empty range too, so a read at end of file into a kernel address is `EFAULT`, not 0.

use core::marker::PhantomData;

use crate::platform::UserMemory;
use crate::Errno;

/// The top of user space (Linux's TASK_SIZE_MAX): the last page below the non-canonical hole
/// is never mapped, so no user buffer reaches past it.
pub const USER_TOP: u64 = 0x0000_7fff_ffff_f000;

/// The end of the user half: the first non-canonical address.
pub const USER_HALF_END: u64 = 0x0000_8000_0000_0000;

/// `EFAULT` unless `[addr, addr+len)` lies below [`USER_TOP`] without wrapping.
pub fn access_ok(addr: u64, len: u64) -> Result<(), Errno> {
    match addr.checked_add(len) {
        Some(end) if end <= USER_TOP => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// A user buffer the kernel reads (a write's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSlice {
    addr: u64,
    len: u64,
}

impl UserSlice {
    /// The buffer at `addr` of `len` bytes; `EFAULT` when it is not all user space.
    pub fn new(addr: u64, len: u64) -> Result<Self, Errno> {
        access_ok(addr, len)?;
        Ok(Self { addr, len })
    }

    pub fn addr(self) -> u64 {
        self.addr
    }

    pub fn len(self) -> u64 {
        self.len
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// Fills `out` from bytes `offset..` of the buffer; `EFAULT` past its end or when a byte
    /// is not readable.
    pub fn read(
        self,
        k: &(impl UserMemory + ?Sized),
        offset: u64,
        out: &mut [u8],
    ) -> Result<(), Errno> {
        k.read_user(self.at(offset, out.len())?, out)
    }

    /// The address of bytes `offset..offset+len`, which must lie in the buffer.
    fn at(self, offset: u64, len: usize) -> Result<u64, Errno> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(self.addr + offset),
            _ => Err(Errno::EFAULT),
        }
    }
}

/// A user buffer the kernel writes (a read's destination); it can be read too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSliceMut(UserSlice);

impl UserSliceMut {
    /// The buffer at `addr` of `len` bytes; `EFAULT` when it is not all user space.
    pub fn new(addr: u64, len: u64) -> Result<Self, Errno> {
        UserSlice::new(addr, len).map(Self)
    }

    pub fn addr(self) -> u64 {
        self.0.addr
    }

    pub fn len(self) -> u64 {
        self.0.len
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// The same buffer, for reading.
    pub fn as_readable(self) -> UserSlice {
        self.0
    }

    /// Copies `data` to bytes `offset..` of the buffer; `EFAULT` past its end or when a byte
    /// is not writable.
    pub fn write(
        self,
        k: &mut (impl UserMemory + ?Sized),
        offset: u64,
        data: &[u8],
    ) -> Result<(), Errno> {
        k.write_user(self.0.at(offset, data.len())?, data)
    }
}

/// A value stored in user memory as its little-endian bytes.
pub trait UserValue: Copy {
    const SIZE: usize;
    fn from_bytes(b: &[u8]) -> Self;
    fn write_bytes(self, out: &mut [u8]);
}

macro_rules! user_value {
    ($($t:ty),*) => {$(
        impl UserValue for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn from_bytes(b: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            fn write_bytes(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

user_value!(u32, i32, u64, i64);

/// A pointer to one `T` in user memory.
#[derive(Debug)]
pub struct UserPtr<T> {
    addr: u64,
    value: PhantomData<T>,
}

impl<T> Clone for UserPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for UserPtr<T> {}

impl<T: UserValue> UserPtr<T> {
    /// The `T` at `addr`; `EFAULT` when it is not all user space.
    pub fn new(addr: u64) -> Result<Self, Errno> {
        access_ok(addr, T::SIZE as u64)?;
        Ok(Self {
            addr,
            value: PhantomData,
        })
    }

    pub fn addr(self) -> u64 {
        self.addr
    }

    pub fn read(self, k: &(impl UserMemory + ?Sized)) -> Result<T, Errno> {
        let mut b = [0u8; 8];
        k.read_user(self.addr, &mut b[..T::SIZE])?;
        Ok(T::from_bytes(&b[..T::SIZE]))
    }

    pub fn write(self, k: &mut (impl UserMemory + ?Sized), v: T) -> Result<(), Errno> {
        let mut b = [0u8; 8];
        v.write_bytes(&mut b[..T::SIZE]);
        k.write_user(self.addr, &b[..T::SIZE])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_ok_is_the_whole_range_below_the_top_without_wrapping() {
        assert_eq!(access_ok(USER_TOP - 8, 8), Ok(()));
        assert_eq!(access_ok(USER_TOP, 0), Ok(()));
        assert_eq!(access_ok(USER_TOP - 8, 9), Err(Errno::EFAULT));
        // Empty ranges are checked too.
        assert_eq!(access_ok(0xffff_8000_0000_0000, 0), Err(Errno::EFAULT));
        assert_eq!(access_ok(u64::MAX, 2), Err(Errno::EFAULT));
        assert_eq!(UserSliceMut::new(16, 0).map(UserSliceMut::len), Ok(0));
        assert_eq!(UserPtr::<u64>::new(USER_TOP - 4).err(), Some(Errno::EFAULT));
    }
}
