//! A fixed random seed for deterministic runs (`coracle.seed=N` on the command line, which
//! `coracle run --icount` passes): every random byte the kernel hands out (AT_RANDOM,
//! getrandom, /dev/urandom, address-space layout) then comes from SplitMix64 over that seed
//! instead of RDRAND or the TSC, so that two runs execute the same instructions.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static SEEDED: AtomicBool = AtomicBool::new(false);
static STATE: AtomicU64 = AtomicU64::new(0);

/// From now on, [`seeded`] gives the sequence of `seed`.
pub fn set_seed(seed: u64) {
    STATE.store(seed, Ordering::Relaxed);
    SEEDED.store(true, Ordering::Release);
}

/// The next value of the seeded sequence, or `None` when no seed was given. SplitMix64: the
/// state advances by a fixed odd constant and each value is a mix of it, so one atomic add
/// per value keeps concurrent callers from ever getting the same one.
pub fn seeded() -> Option<u64> {
    if !SEEDED.load(Ordering::Acquire) {
        return None;
    }
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut z = STATE
        .fetch_add(GAMMA, Ordering::Relaxed)
        .wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Some(z ^ (z >> 31))
}
