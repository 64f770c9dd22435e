//! The prctl(2) options that set or read a switch of the process: what runtimes and sandboxes
//! query at start (systemd's and libseccomp's no_new_privs, glibc's and Go's capability
//! probes, jemalloc's and Ruby's THP setting), and the capability options, which change the
//! credentials (`crate::creds`). `prctl` in `mod.rs` handles
//! the options with an effect (pdeathsig, name, subreaper) and hands the rest to [`switches`].

use coracle_vfs::cap;

use crate::creds::secbit;
use crate::{Current, Errno, SysResult};

const PR_GET_KEEPCAPS: i32 = 7;
const PR_SET_KEEPCAPS: i32 = 8;
const PR_GET_SECCOMP: i32 = 21;
const PR_CAPBSET_READ: i32 = 23;
const PR_CAPBSET_DROP: i32 = 24;
const PR_GET_SECUREBITS: i32 = 27;
const PR_SET_SECUREBITS: i32 = 28;
const PR_CAP_AMBIENT: i32 = 47;
const PR_CAP_AMBIENT_IS_SET: u64 = 1;
const PR_CAP_AMBIENT_RAISE: u64 = 2;
const PR_CAP_AMBIENT_LOWER: u64 = 3;
const PR_CAP_AMBIENT_CLEAR_ALL: u64 = 4;
const PR_SET_TIMERSLACK: i32 = 29;
const PR_GET_TIMERSLACK: i32 = 30;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_GET_NO_NEW_PRIVS: i32 = 39;
const PR_SET_THP_DISABLE: i32 = 41;
const PR_GET_THP_DISABLE: i32 = 42;
/// The default timer slack of a task: 50 us (`init_task.timer_slack_ns`).
const DEFAULT_TIMER_SLACK_NS: u64 = 50_000;

/// The switch options of prctl(2); any other option is `EINVAL`, as Linux answers an unknown one.
pub(super) fn switches(
    p: &mut Current,
    option: i32,
    arg2: u64,
    arg3: u64,
    arg4: u64,
    arg5: u64,
) -> SysResult {
    // The options below take no further arguments and Linux rejects non-zero ones.
    let rest_zero = |from3: bool| {
        let unused = if from3 {
            arg3 | arg4 | arg5
        } else {
            arg2 | arg3 | arg4 | arg5
        };
        if unused == 0 {
            Ok(())
        } else {
            Err(Errno::EINVAL)
        }
    };
    if matches!(
        option,
        PR_GET_KEEPCAPS
            | PR_SET_KEEPCAPS
            | PR_CAPBSET_READ
            | PR_CAPBSET_DROP
            | PR_GET_SECUREBITS
            | PR_SET_SECUREBITS
            | PR_CAP_AMBIENT
    ) {
        return capabilities(p, option, arg2, arg3, arg4, arg5);
    }
    let mut life = p.process.life.lock();
    let state = &mut life.prctl;
    match option {
        // Mode 0: no seccomp filter (none can be installed: seccomp(2) is ENOSYS).
        PR_GET_SECCOMP => Ok(0),
        PR_SET_TIMERSLACK => {
            state.timer_slack_ns = arg2;
            Ok(0)
        }
        PR_GET_TIMERSLACK => Ok(match state.timer_slack_ns {
            0 => DEFAULT_TIMER_SLACK_NS,
            ns => ns,
        }),
        PR_SET_NO_NEW_PRIVS => {
            rest_zero(true)?;
            // It can be set, never cleared.
            if arg2 != 1 {
                return Err(Errno::EINVAL);
            }
            state.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => {
            rest_zero(false)?;
            Ok(u64::from(state.no_new_privs))
        }
        PR_SET_THP_DISABLE => {
            rest_zero(true)?;
            state.thp_disable = arg2 != 0;
            Ok(0)
        }
        PR_GET_THP_DISABLE => {
            rest_zero(false)?;
            Ok(u64::from(state.thp_disable))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// A valid capability number (PR_CAPBSET_READ of a higher one is EINVAL, which is how libcap
/// finds the number of capabilities).
fn cap_number(arg: u64) -> Result<u32, Errno> {
    if arg <= u64::from(cap::LAST_CAP) {
        Ok(arg as u32)
    } else {
        Err(Errno::EINVAL)
    }
}

/// The capability options (`cap_task_prctl`): the bounding set, keep-capabilities and the
/// other securebits, the ambient set.
fn capabilities(p: &Current, option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> SysResult {
    let mut creds = p.process.creds.lock();
    match option {
        PR_CAPBSET_READ => Ok(u64::from(creds.bounding & cap::bit(cap_number(arg2)?) != 0)),
        PR_CAPBSET_DROP => {
            if !creds.capable(cap::SETPCAP) {
                return Err(Errno::EPERM);
            }
            creds.bounding &= !cap::bit(cap_number(arg2)?);
            Ok(0)
        }
        PR_GET_KEEPCAPS => Ok(u64::from(creds.securebits & secbit::KEEP_CAPS != 0)),
        PR_SET_KEEPCAPS => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            if creds.securebits & (secbit::KEEP_CAPS << 1) != 0 {
                return Err(Errno::EPERM);
            }
            if arg2 == 1 {
                creds.securebits |= secbit::KEEP_CAPS;
            } else {
                creds.securebits &= !secbit::KEEP_CAPS;
            }
            Ok(0)
        }
        PR_GET_SECUREBITS => Ok(u64::from(creds.securebits)),
        PR_SET_SECUREBITS => {
            *creds = creds.set_securebits(arg2)?;
            Ok(0)
        }
        _ => {
            if arg2 == PR_CAP_AMBIENT_CLEAR_ALL {
                if arg3 | arg4 | arg5 != 0 {
                    return Err(Errno::EINVAL);
                }
                creds.ambient = 0;
                return Ok(0);
            }
            if arg4 | arg5 != 0 {
                return Err(Errno::EINVAL);
            }
            let bit = cap::bit(cap_number(arg3)?);
            match arg2 {
                PR_CAP_AMBIENT_IS_SET => Ok(u64::from(creds.ambient & bit != 0)),
                PR_CAP_AMBIENT_RAISE => {
                    if creds.permitted & bit == 0
                        || creds.inheritable & bit == 0
                        || creds.securebits & secbit::NO_CAP_AMBIENT_RAISE != 0
                    {
                        return Err(Errno::EPERM);
                    }
                    creds.ambient |= bit;
                    Ok(0)
                }
                PR_CAP_AMBIENT_LOWER => {
                    creds.ambient &= !bit;
                    Ok(0)
                }
                _ => Err(Errno::EINVAL),
            }
        }
    }
}
