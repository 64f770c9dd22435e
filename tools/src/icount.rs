//! Deterministic mode (`--icount` of `coracle run` and `coracle bench`): QEMU counts executed
//! instructions instead of host time, and both guests are told to leave nothing to chance.
//!
//! With `-icount shift=0,sleep=off` the guest's virtual clock advances one nanosecond per
//! instruction executed and jumps over idle time (a `hlt` waiting for a timer costs nothing),
//! so a guest clock, the TSC included, reads instructions: the same program gives the same
//! figures on every run, however busy the host. `-seed` makes RDRAND repeat. icount needs TCG
//! and runs all vCPUs on one host thread, one after the other: a multi-CPU speedup is a
//! wall-clock measure only.

use crate::qemu::Accel;

/// QEMU's flags: one virtual ns per instruction, no sleeping, a fixed RDRAND seed.
pub const QEMU_ARGS: [&str; 4] = ["-icount", "shift=0,sleep=off", "-seed", "1"];

/// The TSC's rate under `-icount shift=0`: one tick per virtual ns.
pub const TSC_KHZ: u64 = 1_000_000;

/// The wall clock a deterministic guest starts at (2026-01-01T00:00:00Z), in place of the
/// host's time, so that nothing the guest prints depends on when it ran.
pub const EPOCH_NS: u128 = 1_767_225_600_000_000_000;

/// Coracle's command-line tokens (docs/guest-protocol.md): no address-space randomisation,
/// random bytes from a fixed seed, the TSC rate given rather than measured.
pub fn coracle_kernel_args() -> Vec<String> {
    vec![
        "norandmaps=1".into(),
        "coracle.seed=1".into(),
        format!("coracle.tsc_khz={TSC_KHZ}"),
    ]
}

/// Linux's command-line tokens for the same: no randomised layout, and the TSC rate given.
pub fn linux_kernel_args() -> Vec<String> {
    vec!["norandmaps".into(), format!("tsc_early_khz={TSC_KHZ}")]
}

/// The accelerator for a deterministic run: TCG (auto picks it), or an error for KVM.
pub fn accel(requested: Accel) -> Result<Accel, String> {
    match requested {
        Accel::Kvm => Err("--icount needs TCG (QEMU counts instructions only when it \
                           translates them): drop --accel kvm"
            .into()),
        Accel::Tcg | Accel::Auto => Ok(Accel::Tcg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icount_forces_tcg() {
        assert_eq!(accel(Accel::Auto), Ok(Accel::Tcg));
        assert_eq!(accel(Accel::Tcg), Ok(Accel::Tcg));
        assert!(accel(Accel::Kvm).unwrap_err().contains("TCG"));
    }
}
