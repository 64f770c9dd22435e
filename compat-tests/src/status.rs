//! Exit statuses in the docker convention: the exit code, or 128+N for death by signal N.
//!
//! Both sides of a comparison are reduced to this one number: the host run from its
//! `ExitStatus`, the `coracle run` side from the tool's own exit status (which already follows
//! the convention, see docs/guest-protocol.md).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// The docker-style status of a finished process.
pub(crate) fn docker_status(status: ExitStatus) -> i32 {
    from_parts(status.code(), status.signal())
}

/// The docker-style status from an exit code or a terminating signal (a shell's `$?`).
pub(crate) fn from_parts(code: Option<i32>, signal: Option<i32>) -> i32 {
    match (code, signal) {
        (Some(code), _) => code & 0xff,
        (None, Some(signal)) => 128 + signal,
        // Neither: stopped or continued, which `wait` without WUNTRACED never reports.
        (None, None) => -1,
    }
}

/// A status for a person: `139 (SIGSEGV)`.
pub(crate) fn describe(status: i32) -> String {
    match status.checked_sub(128).and_then(signal_name) {
        Some(name) => format!("{status} ({name})"),
        None => status.to_string(),
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        31 => "SIGSYS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pass_through() {
        assert_eq!(from_parts(Some(0), None), 0);
        assert_eq!(from_parts(Some(42), None), 42);
        assert_eq!(from_parts(Some(255), None), 255);
    }

    #[test]
    fn signals_become_128_plus_n() {
        assert_eq!(from_parts(None, Some(11)), 139);
        assert_eq!(from_parts(None, Some(9)), 137);
        assert_eq!(from_parts(None, Some(6)), 134);
    }

    #[test]
    fn real_exit_statuses() {
        // Raw wait statuses: exit code in bits 8-15, terminating signal in bits 0-6.
        assert_eq!(docker_status(ExitStatus::from_raw(42 << 8)), 42);
        assert_eq!(docker_status(ExitStatus::from_raw(11)), 139);
        // A core dump sets bit 7; the status is still the signal's.
        assert_eq!(docker_status(ExitStatus::from_raw(11 | 0x80)), 139);
    }

    #[test]
    fn descriptions_name_signals() {
        assert_eq!(describe(139), "139 (SIGSEGV)");
        assert_eq!(describe(1), "1");
        assert_eq!(describe(125), "125");
        assert_eq!(describe(255), "255");
    }
}
