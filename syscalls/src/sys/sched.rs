//! CPU placement: sched_yield and affinity (one process on all of the VM's CPUs).

use crate::{Errno, Platform, Process, SysResult};

pub(crate) fn sched_getaffinity(
    p: &mut Process,
    k: &mut dyn Platform,
    pid: i32,
    len: u64,
    mask: u64,
) -> SysResult {
    if pid != 0 && pid != p.info.pid as i32 {
        return Err(Errno::ESRCH);
    }
    // Linux copies nr_cpu_ids bits rounded up to a long; smaller buffers are EINVAL.
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let cpus = p.info.cpus.clamp(1, 64);
    let bits: u64 = if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    };
    k.write_user(mask, &bits.to_le_bytes()).map(|_| 8)
}
