//! `--min-memory`: the smallest `-m` at which a side still gives the same status and output
//! (besides metrics) as at the full size, found by bisection over whole MiB.
//!
//! Bisection assumes that more memory never hurts, which holds for the failures that matter
//! here (a kernel that cannot map itself, an initramfs that does not fit, an out-of-memory
//! kill). Every try is a fresh VM in wall-clock mode, whatever mode the benchmark ran in: a
//! memory size does not depend on how time is counted, and a deterministic Linux boot costs
//! ~40 s of TCG time. A try that hangs is cut off after a few times the full-size run's time.

use std::time::Duration;

use super::report::{self, RunResult};
use super::sides::Knobs;

/// The smallest value in `1..=known_ok` for which `ok_at` holds, given that it holds at
/// `known_ok` and that it holds at every value above one where it holds.
pub fn bisect(known_ok: u64, mut ok_at: impl FnMut(u64) -> bool) -> u64 {
    let (mut bad, mut good) = (0, known_ok.max(1));
    while good - bad > 1 {
        let mid = bad + (good - bad) / 2;
        if ok_at(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    good
}

/// Whether `run` ended like `reference` and printed the same, metrics and notes aside.
pub fn same_outcome(reference: &RunResult, run: &RunResult) -> bool {
    report::plain_output(reference) == report::plain_output(run)
}

/// How long a try may take: four times the full-size run, at least 30 s, at most `limit`.
pub fn try_timeout(reference_wall: Duration, limit: Duration) -> Duration {
    (reference_wall * 4).max(Duration::from_secs(30)).min(limit)
}

/// Finds one side's floor: a reference run at `knobs.memory_mib` (which must succeed), then
/// the bisection; `run` runs the side with the given knobs, `name` labels the progress lines.
pub fn find(name: &str, knobs: Knobs, run: impl Fn(Knobs) -> RunResult) -> Result<u64, String> {
    let knobs = Knobs {
        icount: false,
        ..knobs
    };
    let reference = run(knobs);
    if let Some(why) = reference.failure() {
        return Err(format!("the run at -m {}M {why}", knobs.memory_mib));
    }
    let tries = Knobs {
        timeout: try_timeout(reference.wall, knobs.timeout),
        ..knobs
    };
    Ok(bisect(knobs.memory_mib, |mib| {
        let r = run(Knobs {
            memory_mib: mib,
            ..tries
        });
        let same = same_outcome(&reference, &r);
        let how = if same {
            "same output".to_owned()
        } else {
            r.failure()
                .unwrap_or_else(|| "a different output".to_owned())
        };
        eprintln!("bench: memory floor: {name} -m {mib}M: {how}");
        same
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Ended;

    #[test]
    fn bisection_finds_the_edge_in_few_tries() {
        for edge in [1, 2, 9, 84, 127, 128] {
            let mut tries = 0;
            let got = bisect(128, |m| {
                tries += 1;
                m >= edge
            });
            assert_eq!(got, edge);
            assert!(tries <= 7, "{tries} tries for {edge}");
        }
        assert_eq!(bisect(1, |_| unreachable!()), 1);
    }

    fn result(ended: Ended, stdout: &str) -> RunResult {
        RunResult {
            ended,
            stdout: stdout.into(),
            stderr: String::new(),
            wall: Duration::from_millis(100),
            to_start: None,
            boot: None,
        }
    }

    #[test]
    fn a_different_status_or_output_is_a_failure_but_metrics_may_change() {
        let reference = result(Ended::Exited(0), "hello\nx 10 ns\n");
        assert!(same_outcome(
            &reference,
            &result(Ended::Exited(0), "hello\nx 99 ns\n")
        ));
        assert!(!same_outcome(&reference, &result(Ended::Exited(0), "")));
        assert!(!same_outcome(
            &reference,
            &result(Ended::Exited(137), "hello\nx 1 ns\n")
        ));
        let silent = result(Ended::Failed("timed out after 30 s".into()), "");
        assert!(!same_outcome(&reference, &silent));
    }

    #[test]
    fn tries_are_cut_off_early() {
        let limit = Duration::from_secs(300);
        assert_eq!(
            try_timeout(Duration::from_secs(1), limit),
            Duration::from_secs(30)
        );
        assert_eq!(
            try_timeout(Duration::from_secs(20), limit),
            Duration::from_secs(80)
        );
        assert_eq!(try_timeout(Duration::from_secs(200), limit), limit);
    }
}
