//! The kernel key-retention calls: add_key, request_key, keyctl, refused as Docker refuses
//! them.
//!
//! Docker's default seccomp profile answers all three with `EPERM` in a container, and
//! Coracle keeps no keyrings. One thing more than `EPERM`: an operation on a positive key
//! serial number that names no key says `ENOKEY`, as Linux's `lookup_user_key` does before
//! any permission check, so a program that probes for a free serial (LTP keyctl01 counts
//! down from INT32_MAX until `ENOKEY`) stops at once instead of trying four billion numbers.

use crate::{Current, Errno, Platform, SysResult};

/// keyctl operations whose second argument is a key serial number.
const KEYCTL_GET_KEYRING_ID: i32 = 0;
const KEYCTL_UPDATE: i32 = 2;
const KEYCTL_INVALIDATE: i32 = 21;
const KEYCTL_SET_REQKEY_KEYRING: i32 = 14;
const KEYCTL_SESSION_TO_PARENT: i32 = 18;

pub(crate) fn add_key(
    _p: &mut Current,
    _k: &mut dyn Platform,
    _kind: u64,
    _description: u64,
    _payload: u64,
    _len: u64,
    _keyring: i32,
) -> SysResult {
    Err(Errno::EPERM)
}

pub(crate) fn request_key(
    _p: &mut Current,
    _k: &mut dyn Platform,
    _kind: u64,
    _description: u64,
    _callout: u64,
    _keyring: i32,
) -> SysResult {
    Err(Errno::EPERM)
}

pub(crate) fn keyctl(
    _p: &mut Current,
    _k: &mut dyn Platform,
    op: i32,
    key: i32,
    _arg3: u64,
    _arg4: u64,
    _arg5: u64,
) -> SysResult {
    let names_a_key = matches!(
        op,
        KEYCTL_GET_KEYRING_ID | KEYCTL_UPDATE..=KEYCTL_INVALIDATE
    ) && !matches!(op, KEYCTL_SET_REQKEY_KEYRING | KEYCTL_SESSION_TO_PARENT);
    if names_a_key && key > 0 {
        return Err(Errno::ENOKEY);
    }
    Err(Errno::EPERM)
}
