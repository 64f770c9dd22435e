//! The prctl(2) options that set or read a switch of the process and change nothing else here:
//! what runtimes and sandboxes query at start (systemd's and libseccomp's no_new_privs, glibc's
//! and Go's capability probes, jemalloc's and Ruby's THP setting). `prctl` in `mod.rs` handles
//! the options with an effect (pdeathsig, name, subreaper) and hands the rest to [`switches`].

use crate::{Current, Errno, SysResult};

const PR_GET_KEEPCAPS: i32 = 7;
const PR_SET_KEEPCAPS: i32 = 8;
const PR_GET_SECCOMP: i32 = 21;
const PR_CAPBSET_READ: i32 = 23;
const PR_SET_TIMERSLACK: i32 = 29;
const PR_GET_TIMERSLACK: i32 = 30;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_GET_NO_NEW_PRIVS: i32 = 39;
const PR_SET_THP_DISABLE: i32 = 41;
const PR_GET_THP_DISABLE: i32 = 42;
/// Linux 6.1's CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE): PR_CAPBSET_READ of a higher number is
/// EINVAL, which is how libcap finds the number of capabilities.
const CAP_LAST_CAP: u64 = 40;
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
    let mut life = p.process.life.lock();
    let state = &mut life.prctl;
    match option {
        PR_GET_KEEPCAPS => Ok(u64::from(state.keepcaps)),
        PR_SET_KEEPCAPS => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            state.keepcaps = arg2 == 1;
            Ok(0)
        }
        // Mode 0: no seccomp filter (none can be installed: seccomp(2) is ENOSYS).
        PR_GET_SECCOMP => Ok(0),
        // The program runs as root with the full bounding set, as in a container.
        PR_CAPBSET_READ if arg2 <= CAP_LAST_CAP => Ok(1),
        PR_CAPBSET_READ => Err(Errno::EINVAL),
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
