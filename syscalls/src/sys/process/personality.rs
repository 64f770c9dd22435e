//! personality(2): the process's execution domain and its flags.
//!
//! Linux keeps any value it is given (the execution domains are gone since 4.1) and returns
//! the old one; 0xffffffff only asks. The flag Coracle acts on is ADDR_NO_RANDOMIZE, which
//! exec reads (`image.rs`) to lay the new image out at fixed addresses, as `setarch -R` does.

use core::sync::atomic::Ordering;

use crate::{Current, Platform, SysResult};

/// Turns address-space randomisation off for the programs this process executes.
pub const ADDR_NO_RANDOMIZE: u32 = 0x0040000;
/// personality(0xffffffff) reads the persona without changing it.
const QUERY: u32 = 0xffff_ffff;

pub(crate) fn personality(p: &mut Current, _k: &mut dyn Platform, persona: u64) -> SysResult {
    // The argument is an unsigned int: the upper half of the register is not looked at.
    let persona = persona as u32;
    let old = if persona == QUERY {
        p.process.personality.load(Ordering::Relaxed)
    } else {
        p.process.personality.swap(persona, Ordering::Relaxed)
    };
    Ok(u64::from(old))
}
