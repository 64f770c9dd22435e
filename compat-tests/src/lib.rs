//! Coracle's differential compatibility suite: real Linux programs run on the host and under
//! `coracle run`, their stdout, stderr and exit status compared byte for byte.
//!
//! `tools/tests/compat.rs` calls [`main`] with the freshly built `coracle` binary. The programs
//! are built at test time (`programs`), the cases are a table (`cases`), each is run on both
//! sides (`run`, `exec`) and compared (`diff`); `known-failures.txt` (`known`) lists what is
//! expected to fail, and `report` prints one line per case and the totals. The file-system
//! programs get a fresh tmpfs directory on the host (`scratch`); the `rootfs/` cases run busybox
//! in a test root filesystem (`rootfs`), with `chroot` on the host, so the suite runs as root.
//!
//! Environment: `CORACLE_ACCEL` (default `tcg`) is passed as `--accel`; `CORACLE_COMPAT_FILTER`
//! (or a test-name argument: `cargo test --test compat -- NAME`) runs only the cases whose name
//! contains it; `CORACLE_COMPAT_JOBS` (default 2) sets the number of cases run at once;
//! `CORACLE_COMPAT_TIMEOUT` (seconds, default 120) bounds each `coracle run`.

#![forbid(unsafe_code)]

mod cases;
mod diff;
mod exec;
mod known;
mod programs;
mod report;
mod rootfs;
mod run;
mod scratch;
mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use known::KnownFailures;
use programs::Source;
use report::{Tally, KNOWN_FILE};

/// Runs the suite against the `coracle` binary at `coracle`; the process exit code: 0 when
/// every failure is a known one and no known one passes, 1 otherwise, 2 when the suite itself
/// is misconfigured.
pub fn main(coracle: &Path) -> i32 {
    let known_path = programs::crate_dir().join("known-failures.txt");
    let known_text = match std::fs::read_to_string(&known_path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => {
            println!("compat: cannot read {}: {err}", known_path.display());
            return 2;
        }
    };
    let known = match KnownFailures::parse(&known_text) {
        Ok(known) => known,
        Err(err) => {
            println!("compat: {KNOWN_FILE}: {err}");
            return 2;
        }
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let all = cases::all(now);
    let stale: Vec<&known::Entry> = known
        .entries()
        .iter()
        .filter(|e| !all.iter().any(|c| known::glob_match(&e.pattern, &c.name)))
        .collect();
    let args = TestArgs::parse(std::env::args().skip(1));
    let filter = args
        .filter
        .or_else(|| std::env::var("CORACLE_COMPAT_FILTER").ok());
    let selected: Vec<&cases::Case> = all
        .iter()
        .filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .collect();
    if args.list {
        for case in &selected {
            println!("{}: test", case.name);
        }
        return 0;
    }
    let accel = std::env::var("CORACLE_ACCEL").unwrap_or_else(|_| "tcg".to_string());
    let jobs = std::env::var("CORACLE_COMPAT_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2usize)
        .max(1);

    println!(
        "compat: {} of {} cases, {} --accel {accel}, {jobs} at a time",
        selected.len(),
        all.len(),
        coracle.display()
    );
    if !coracle.is_file() {
        println!(
            "compat: {} does not exist: every case will fail",
            coracle.display()
        );
    }

    let sources: Vec<Source> = selected
        .iter()
        .map(|c| c.source.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut builds: BTreeMap<Source, Result<PathBuf, String>> = BTreeMap::new();
    for_each_ordered(&sources, jobs, programs::build, |index, built| {
        if let Err(why) = &built {
            println!("compat: cannot build {:?}: {why}", sources[index]);
        }
        builds.insert(sources[index].clone(), built);
    });

    let setup = run::Setup::new(coracle, accel);
    let mut tally = Tally::default();
    for_each_ordered(
        &selected,
        jobs,
        |case| run::run_case(&setup, case, &builds[&case.source]),
        |index, outcome| {
            let case = selected[index];
            let verdict = report::classify(outcome, known.lookup(&case.name));
            println!("{}", report::line(&case.name, &verdict));
            tally.add(&case.program, &verdict);
        },
    );

    for entry in &stale {
        println!(
            "STALE {}: {KNOWN_FILE} line {} matches no case: remove it",
            entry.pattern, entry.line
        );
    }
    for line in tally.summary() {
        println!("{line}");
    }
    if tally.ok() && stale.is_empty() {
        0
    } else {
        1
    }
}

/// What of libtest's command line applies here (cargo passes it to every test binary):
/// `cargo test NAME` runs the cases whose name contains NAME, `-- --list` lists them.
#[derive(Debug, Default, PartialEq, Eq)]
struct TestArgs {
    filter: Option<String>,
    list: bool,
}

impl TestArgs {
    fn parse(args: impl IntoIterator<Item = String>) -> Self {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--list" => parsed.list = true,
                // libtest options that take a separate value.
                "--test-threads" | "--format" | "--color" | "--skip" | "--logfile" => {
                    args.next();
                }
                flag if flag.starts_with('-') => {}
                name => parsed.filter = Some(name.to_string()),
            }
        }
        parsed
    }
}

/// Applies `work` to every item on `workers` threads; `done` sees the results in item order,
/// each as soon as it and all before it are finished.
fn for_each_ordered<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    mut done: impl FnMut(usize, R),
) {
    let next = AtomicUsize::new(0);
    let (send, receive) = mpsc::channel();
    thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            let send = send.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else { break };
                if send.send((index, work(item))).is_err() {
                    break;
                }
            });
        }
        drop(send);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        for (index, result) in receive {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&wanted) {
                done(wanted, result);
                wanted += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let items: Vec<u64> = (0..50).collect();
        let mut seen = Vec::new();
        for_each_ordered(
            &items,
            3,
            |&n| {
                // Later items finish first.
                thread::sleep(std::time::Duration::from_micros(50 * (50 - n)));
                n * 2
            },
            |index, result| seen.push((index, result)),
        );
        let expected: Vec<(usize, u64)> = (0..50).map(|n| (n as usize, n * 2)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn libtest_arguments() {
        let parse = |args: &[&str]| TestArgs::parse(args.iter().map(|a| a.to_string()));
        assert_eq!(parse(&[]), TestArgs::default());
        assert_eq!(
            parse(&["--nocapture", "--test-threads", "1", "busybox"]),
            TestArgs {
                filter: Some("busybox".into()),
                list: false
            }
        );
        assert!(parse(&["--list", "--format=terse"]).list);
    }

    #[test]
    fn no_items() {
        for_each_ordered(&[] as &[u8], 2, |_| (), |_, _| panic!("no items"));
    }

    #[test]
    fn the_checked_in_list_parses_and_matches_cases() {
        let path = programs::crate_dir().join("known-failures.txt");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let known = KnownFailures::parse(&text).unwrap();
        let all = cases::all(0);
        for entry in known.entries() {
            assert!(
                all.iter()
                    .any(|c| known::glob_match(&entry.pattern, &c.name)),
                "{} matches no case",
                entry.pattern
            );
        }
    }
}
