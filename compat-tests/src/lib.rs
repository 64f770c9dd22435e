//! Coracle's differential compatibility suite: real Linux programs run on the host and under
//! `coracle run`, their stdout, stderr and exit status compared byte for byte.
//!
//! `tools/tests/compat.rs` calls [`main`] with the freshly built `coracle` binary. The programs
//! are built at test time (`programs`), the cases are a table (`cases`), each is run on both
//! sides (`run`, `exec`) and compared (`diff`); `known-failures.txt` (`known`) lists what is
//! expected to fail, `pending.txt` what runs on the host only for now (the programs of features
//! Coracle does not have yet), and `report` prints one line per case and the totals. The
//! file-system programs get a fresh tmpfs directory on the host (`scratch`); the `rootfs/` cases
//! run busybox in a test root filesystem (`rootfs`), with `chroot` on the host, and the
//! `debian/` cases real Debian programs in a Debian root built with debootstrap and cached
//! between runs (`debian`), so the suite runs as root.
//!
//! A few cases check what only hardware does and TCG does not (`needs_kvm` in `cases`): with
//! any accelerator but `kvm` their host side runs and is checked, and they are reported as
//! `SKIP` with the reason, counted apart from the passes.
//!
//! Environment: `CORACLE_ACCEL` (default `tcg`) is passed as `--accel`; `CORACLE_COMPAT_FILTER`
//! (or a test-name argument: `cargo test --test compat -- NAME`) runs only the cases whose name
//! contains it; `CORACLE_COMPAT_CPUS` (say `2` or `1,4`) keeps only the SMP cases for those vCPU
//! counts; `CORACLE_COMPAT_JOBS` (default 2) sets the number of cases run at once;
//! `CORACLE_COMPAT_TIMEOUT` (seconds, default 120) bounds each `coracle run` (cases that need
//! more have their own); `CORACLE_COMPAT_REPEAT` (default 1) runs each case's guest side, and
//! each SMP case's host side, that many times, failing on the first difference or hang (for
//! hunting flakes); `CORACLE_COMPAT_PENDING=run` runs the pending cases in Coracle too, counted
//! like the others (to see whether a feature is ready to leave `pending.txt`).

#![forbid(unsafe_code)]

mod cases;
mod debian;
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

use known::CaseList;
use programs::{NotBuilt, Source};
use report::{Tally, KNOWN_FILE, PENDING_FILE};

/// The cached Debian root filesystem (built first when missing), for the VM tests and
/// benchmarks that run real Debian servers in it; `Err` says why it cannot be had.
pub fn debian_root() -> Result<PathBuf, String> {
    debian::root()
}

/// Runs the suite against the `coracle` binary at `coracle`; the process exit code: 0 when
/// every failure is a known one and no known one passes, 1 otherwise, 2 when the suite itself
/// is misconfigured.
pub fn main(coracle: &Path) -> i32 {
    let Some(known) = read_list("known-failures.txt", KNOWN_FILE) else {
        return 2;
    };
    let Some(pending) = read_list("pending.txt", PENDING_FILE) else {
        return 2;
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let all = cases::all(now);
    let stale: Vec<(&str, &known::Entry)> = [(KNOWN_FILE, &known), (PENDING_FILE, &pending)]
        .into_iter()
        .flat_map(|(file, list)| list.entries().iter().map(move |e| (file, e)))
        .filter(|(_, e)| !all.iter().any(|c| known::glob_match(&e.pattern, &c.name)))
        .collect();
    let args = TestArgs::parse(std::env::args().skip(1));
    let filter = args
        .filter
        .or_else(|| std::env::var("CORACLE_COMPAT_FILTER").ok());
    let cpus = match std::env::var("CORACLE_COMPAT_CPUS") {
        Ok(list) => match parse_cpus(&list) {
            Some(cpus) => Some(cpus),
            None => {
                println!("compat: CORACLE_COMPAT_CPUS={list:?}: give vCPU counts like 2 or 1,4");
                return 2;
            }
        },
        Err(_) => None,
    };
    let selected: Vec<&cases::Case> = all
        .iter()
        .filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .filter(|c| match (&cpus, c.cpus) {
            (Some(wanted), Some(n)) => wanted.contains(&n),
            _ => true,
        })
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
    let repeat = std::env::var("CORACLE_COMPAT_REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let run_pending = std::env::var("CORACLE_COMPAT_PENDING").is_ok_and(|v| v == "run");

    println!(
        "compat: {} of {} cases, {} --accel {accel}, {jobs} at a time{}{}",
        selected.len(),
        all.len(),
        coracle.display(),
        if repeat > 1 {
            format!(", each run {repeat} times")
        } else {
            String::new()
        },
        if run_pending {
            format!(", the ones in {PENDING_FILE} too")
        } else {
            String::new()
        }
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
    let mut builds: BTreeMap<Source, Result<PathBuf, NotBuilt>> = BTreeMap::new();
    for_each_ordered(&sources, jobs, programs::build, |index, built| {
        match &built {
            Err(NotBuilt::Failed(why)) => {
                println!("compat: cannot build {:?}: {why}", sources[index])
            }
            Err(NotBuilt::Unavailable(why)) => {
                println!("compat: skipping {:?}: {why}", sources[index])
            }
            Ok(_) => {}
        }
        builds.insert(sources[index].clone(), built);
    });

    let mut setup = run::Setup::new(coracle, accel);
    setup.repeat = repeat;
    setup.run_pending = run_pending;
    let mut tally = Tally::default();
    for_each_ordered(
        &selected,
        jobs,
        |case| {
            let pending = pending.lookup(&case.name).map(|e| e.reason.as_str());
            run::run_case(&setup, case, &builds[&case.source], pending)
        },
        |index, outcome| {
            let case = selected[index];
            let verdict = report::classify(outcome, known.lookup(&case.name));
            let mut line = report::line(&case.name, &verdict);
            if let (report::Verdict::Pass, Some(entry)) = (&verdict, pending.lookup(&case.name)) {
                line.push_str(&format!(
                    " (listed in {PENDING_FILE}, line {}: remove it once all its cases pass)",
                    entry.line
                ));
            }
            println!("{line}");
            tally.add(&case.program, &verdict);
        },
    );

    for (file, entry) in &stale {
        println!(
            "STALE {}: {file} line {} matches no case: remove it",
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

/// Reads and parses `compat-tests/<name>` (missing means empty); `None` after saying why not.
fn read_list(name: &str, shown: &str) -> Option<CaseList> {
    let path = programs::crate_dir().join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => {
            println!("compat: cannot read {}: {err}", path.display());
            return None;
        }
    };
    match CaseList::parse(&text) {
        Ok(list) => Some(list),
        Err(err) => {
            println!("compat: {shown}: {err}");
            None
        }
    }
}

/// `CORACLE_COMPAT_CPUS`: vCPU counts separated by commas.
fn parse_cpus(list: &str) -> Option<Vec<u32>> {
    let cpus: Option<Vec<u32>> = list
        .split(',')
        .map(|n| n.trim().parse().ok().filter(|&n| n > 0))
        .collect();
    cpus.filter(|c| !c.is_empty())
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
    fn the_checked_in_lists_parse_and_match_cases() {
        let all = cases::all(0);
        for name in ["known-failures.txt", "pending.txt"] {
            let path = programs::crate_dir().join(name);
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let list = CaseList::parse(&text).unwrap();
            for entry in list.entries() {
                assert!(
                    all.iter()
                        .any(|c| known::glob_match(&entry.pattern, &c.name)),
                    "{name}: {} matches no case",
                    entry.pattern
                );
            }
        }
    }

    #[test]
    fn pending_cases_are_not_known_failures() {
        let read = |name: &str| {
            let text = std::fs::read_to_string(programs::crate_dir().join(name));
            CaseList::parse(&text.unwrap_or_default()).unwrap()
        };
        let (known, pending) = (read("known-failures.txt"), read("pending.txt"));
        for case in cases::all(0) {
            assert!(
                known.lookup(&case.name).is_none() || pending.lookup(&case.name).is_none(),
                "{} is in both lists",
                case.name
            );
        }
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpus("2"), Some(vec![2]));
        assert_eq!(parse_cpus("1, 4"), Some(vec![1, 4]));
        assert_eq!(parse_cpus(""), None);
        assert_eq!(parse_cpus("0"), None);
        assert_eq!(parse_cpus("two"), None);
    }
}
