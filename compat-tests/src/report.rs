//! Verdicts and the report: one line per case, then the totals the CI reads.
//!
//! A failure listed in `known-failures.txt` is `KNOWN` and does not fail the run; a listed case
//! that passes is `FIXED` and does, so that the list only shrinks. A case listed in
//! `pending.txt` runs on the host only and is `PENDING`: neither passed nor failed, counted
//! apart (unless its host side fails, which is a failure like any other). A `SKIP` (a toolchain
//! missing, a case that needs KVM under TCG) is neither either: it never counts as a pass.

use std::collections::BTreeMap;

use crate::known::Entry;

/// What running a case showed, before the known-failures list is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pass,
    Fail(String),
    /// Could not be meaningfully compared here (says why); neither passed nor failed.
    Skip(String),
    /// Listed in `pending.txt` (the reason): the host side ran as expected, Coracle's did not run.
    Pending(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    Fail(String),
    Known(String),
    Fixed { line: usize },
    Skip(String),
    Pending(String),
}

pub(crate) const KNOWN_FILE: &str = "compat-tests/known-failures.txt";
pub(crate) const PENDING_FILE: &str = "compat-tests/pending.txt";

pub(crate) fn classify(outcome: Outcome, known: Option<&Entry>) -> Verdict {
    match (outcome, known) {
        (Outcome::Pass, None) => Verdict::Pass,
        (Outcome::Pass, Some(entry)) => Verdict::Fixed { line: entry.line },
        (Outcome::Fail(message), None) => Verdict::Fail(message),
        (Outcome::Fail(message), Some(_)) => Verdict::Known(message),
        (Outcome::Skip(why), _) => Verdict::Skip(why),
        (Outcome::Pending(why), _) => Verdict::Pending(why),
    }
}

/// The report line of one case.
pub(crate) fn line(name: &str, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Pass => format!("PASS {name}"),
        Verdict::Fail(message) => format!("FAIL {name}: {message}"),
        Verdict::Known(message) => format!("KNOWN {name}: {message}"),
        Verdict::Fixed { line } => format!(
            "FIXED {name}: passes now; remove it from {KNOWN_FILE} (line {line}): the list only \
             shrinks"
        ),
        Verdict::Skip(why) => format!("SKIP {name}: {why}"),
        Verdict::Pending(why) => format!(
            "PENDING {name}: host side as expected; not run in Coracle ({why}; {PENDING_FILE})"
        ),
    }
}

/// Running totals.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    passed: usize,
    failed: usize,
    known: usize,
    fixed: usize,
    skipped: usize,
    pending: usize,
    /// Per program: whether every case of it that ran passed.
    programs: BTreeMap<String, bool>,
}

impl Tally {
    pub(crate) fn add(&mut self, program: &str, verdict: &Verdict) {
        let passed = match verdict {
            Verdict::Pass => {
                self.passed += 1;
                true
            }
            Verdict::Fixed { .. } => {
                self.passed += 1;
                self.fixed += 1;
                true
            }
            Verdict::Fail(_) => {
                self.failed += 1;
                false
            }
            Verdict::Known(_) => {
                self.failed += 1;
                self.known += 1;
                false
            }
            Verdict::Skip(_) => {
                self.skipped += 1;
                return;
            }
            Verdict::Pending(_) => {
                self.pending += 1;
                return;
            }
        };
        let all = self.programs.entry(program.to_string()).or_insert(true);
        *all &= passed;
    }

    /// Whether the run succeeds: every failure known, nothing fixed but still listed.
    pub(crate) fn ok(&self) -> bool {
        self.failed == self.known && self.fixed == 0
    }

    /// The closing lines; the last one has the `N passed, M failed` form the CI reads.
    pub(crate) fn summary(&self) -> Vec<String> {
        let clean = self.programs.values().filter(|&&all| all).count();
        let cases = self.passed + self.failed;
        let mut lines = vec![
            format!(
                "compat: {} distinct programs, {clean} of them pass every case; {} of {cases} \
                 cases passed",
                self.programs.len(),
                self.passed
            ),
            format!(
                "compat: {} of the failures are known ({KNOWN_FILE})",
                self.known
            ),
        ];
        if self.fixed > 0 {
            lines.push(format!(
                "compat: {} listed cases pass now: remove them from {KNOWN_FILE}",
                self.fixed
            ));
        }
        if self.pending > 0 {
            lines.push(format!(
                "compat: {} pending cases ran on the host only, not counted ({PENDING_FILE})",
                self.pending
            ));
        }
        let mut totals = format!("compat: {} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            totals.push_str(&format!(", {} skipped", self.skipped));
        }
        lines.push(totals);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            pattern: "c/x".into(),
            reason: "because".into(),
            line: 7,
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(Outcome::Pass, None), Verdict::Pass);
        assert_eq!(
            classify(Outcome::Pass, Some(&entry())),
            Verdict::Fixed { line: 7 }
        );
        assert_eq!(
            classify(Outcome::Fail("m".into()), None),
            Verdict::Fail("m".into())
        );
        assert_eq!(
            classify(Outcome::Fail("m".into()), Some(&entry())),
            Verdict::Known("m".into())
        );
        assert_eq!(
            classify(Outcome::Skip("w".into()), Some(&entry())),
            Verdict::Skip("w".into())
        );
    }

    #[test]
    fn lines() {
        assert_eq!(line("c/a", &Verdict::Pass), "PASS c/a");
        assert_eq!(line("c/a", &Verdict::Fail("why".into())), "FAIL c/a: why");
        assert_eq!(line("c/a", &Verdict::Known("why".into())), "KNOWN c/a: why");
        assert!(line("c/a", &Verdict::Fixed { line: 3 }).starts_with("FIXED c/a: passes now"));
    }

    #[test]
    fn totals_and_success() {
        let mut tally = Tally::default();
        tally.add("c/a", &Verdict::Pass);
        tally.add("c/a", &Verdict::Known("k".into()));
        tally.add("c/b", &Verdict::Pass);
        tally.add("c/c", &Verdict::Skip("s".into()));
        assert!(tally.ok());
        assert_eq!(
            tally.summary(),
            [
                "compat: 2 distinct programs, 1 of them pass every case; 2 of 3 cases passed",
                "compat: 1 of the failures are known (compat-tests/known-failures.txt)",
                "compat: 2 passed, 1 failed, 1 skipped",
            ]
        );
        tally.add("c/b", &Verdict::Fail("f".into()));
        assert!(!tally.ok());
        assert_eq!(
            tally.summary().last().unwrap(),
            "compat: 2 passed, 2 failed, 1 skipped"
        );
    }

    #[test]
    fn pending_is_counted_apart() {
        let mut tally = Tally::default();
        assert_eq!(
            classify(Outcome::Pending("threads".into()), None),
            Verdict::Pending("threads".into())
        );
        let line = line(
            "c/t/musl/microvm/cpus=2",
            &Verdict::Pending("threads".into()),
        );
        assert!(
            line.starts_with("PENDING c/t/musl/microvm/cpus=2: "),
            "{line}"
        );
        tally.add("c/t", &Verdict::Pending("threads".into()));
        tally.add("c/a", &Verdict::Pass);
        assert!(tally.ok());
        assert_eq!(
            tally.summary(),
            [
                "compat: 1 distinct programs, 1 of them pass every case; 1 of 1 cases passed",
                "compat: 0 of the failures are known (compat-tests/known-failures.txt)",
                "compat: 1 pending cases ran on the host only, not counted \
                 (compat-tests/pending.txt)",
                "compat: 1 passed, 0 failed",
            ]
        );
    }

    #[test]
    fn fixed_fails_the_run() {
        let mut tally = Tally::default();
        tally.add("c/a", &Verdict::Fixed { line: 1 });
        assert!(!tally.ok());
        assert_eq!(
            tally.summary().last().unwrap(),
            "compat: 1 passed, 0 failed"
        );
    }
}
