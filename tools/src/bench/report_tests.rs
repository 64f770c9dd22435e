use super::*;

fn run(ended: Ended, stdout: &str, stderr: &str, wall_ms: u64) -> RunResult {
    RunResult {
        ended,
        stdout: stdout.to_owned(),
        stderr: stderr.to_owned(),
        wall: Duration::from_millis(wall_ms),
        to_start: None,
        boot: None,
    }
}

fn ok(stdout: &str, wall_ms: u64) -> RunResult {
    run(Ended::Exited(0), stdout, "", wall_ms)
}

fn series(runs: Vec<RunResult>) -> Series {
    Series {
        runs,
        icount: false,
    }
}

#[test]
fn metric_lines() {
    let out = "# a comment 1 ns\n\
               syscall_getppid 356.3 ns\n\
               clock  12 ns \n\
               too many words 1 ns\n\
               name 1.5\n\
               nan_value NaN ns\n\
               inf_value inf ns\n\
               9starts_with_digit 3 ns\n\
               bad_unit 3 4\n\
               word word word\n\
               cpu_elapsed -2.5e1 ms\n";
    let m = parse_metrics(out);
    let got: Vec<(&str, f64, &str)> = m
        .iter()
        .map(|m| (m.name.as_str(), m.value, m.unit.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("syscall_getppid", 356.3, "ns"),
            ("clock", 12.0, "ns"),
            ("cpu_elapsed", -25.0, "ms"),
        ]
    );
}

#[test]
fn medians() {
    assert_eq!(median(vec![]), None);
    assert_eq!(median(vec![5.0]), Some(5.0));
    assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
}

#[test]
fn values_keep_about_four_digits() {
    assert_eq!(format_value(123456.7), "123457");
    assert_eq!(format_value(356.34), "356.3");
    assert_eq!(format_value(28.567), "28.57");
    assert_eq!(format_value(0.5), "0.500");
}

#[test]
fn series_metric_is_the_median_of_successful_runs() {
    let s = series(vec![
        ok("x 10 ns\n", 100),
        run(Ended::Exited(1), "x 1000 ns\n", "", 100),
        ok("x 30 ns\n", 100),
        ok("x 20 ns\ny 1 ms\n", 100),
    ]);
    assert_eq!(
        s.metric("x"),
        Some(Stats {
            median: 20.0,
            min: 10.0,
            max: 30.0,
            runs: 3
        })
    );
    assert_eq!(
        s.metric("y"),
        Some(Stats {
            median: 1.0,
            min: 1.0,
            max: 1.0,
            runs: 1
        })
    );
    assert_eq!(s.metric("z"), None);
}

#[test]
fn failures_are_described() {
    let exited = run(Ended::Exited(1), "", "\npthread_create: EAGAIN\nmore\n", 5);
    assert_eq!(exited.failure().as_deref(), Some("failed (exit status 1)"));
    let s = series(vec![ok("", 5), exited]);
    assert_eq!(
        s.failure().as_deref(),
        Some("failed (exit status 1): pthread_create: EAGAIN")
    );
    let timeout = series(vec![run(
        Ended::Failed("timed out after 9 s".into()),
        "",
        "",
        9,
    )]);
    assert_eq!(
        timeout.failure().as_deref(),
        Some("failed (timed out after 9 s)")
    );
    assert_eq!(series(vec![ok("", 5)]).failure(), None);
}

/// Medians, their ratio, then (with several runs) the smallest values.
#[test]
fn table_compares_both_sides() {
    let coracle = series(vec![ok("a 100 ns\nb 7 ms\n", 200), ok("a 300 ns\n", 400)]);
    let linux = series(vec![ok("a 400 ns\n", 3000)]);
    let table = format_table(&Comparison {
        cpus: 1,
        coracle: Some(&coracle),
        linux: Some(&linux),
    });
    let expected = "\
--cpus 1                mode  unit  coracle    linux  coracle/linux  min: coracle  linux
a                       wall    ns    200.0    400.0          0.50x         100.0  400.0
b                       wall    ms    7.000  missing                        7.000
wall: whole run (host)  wall    ms      300     3000          0.10x           200   3000
";
    assert_eq!(table, expected);
}

#[test]
fn failed_side_is_marked_and_explained() {
    let coracle = series(vec![run(
        Ended::Exited(1),
        "",
        "pthread_create: Resource temporarily unavailable\n",
        90,
    )]);
    let mut linux_run = ok("# note\nthread_create_join 41000 ns\n", 3000);
    linux_run.to_start = Some(Duration::from_millis(2500));
    let linux = series(vec![linux_run]);
    let table = format_table(&Comparison {
        cpus: 2,
        coracle: Some(&coracle),
        linux: Some(&linux),
    });
    let expected = "\
--cpus 2                             mode  unit  coracle  linux  coracle/linux
thread_create_join                   wall    ns   failed  41000
wall: whole run (host)               wall    ms       90   3000        0.0300x
wall: spawn -> program start (host)  wall    ms      n/a   2500
coracle: failed (exit status 1): pthread_create: Resource temporarily unavailable
";
    assert_eq!(table, expected);
}

#[test]
fn one_side_only() {
    let linux = series(vec![ok("a 1 ns\n", 10)]);
    let table = format_table(&Comparison {
        cpus: 1,
        coracle: None,
        linux: Some(&linux),
    });
    assert!(
        table.contains("\na                       wall    ns        -  1.000\n"),
        "{table}"
    );
}

#[test]
fn scaling_is_time_at_first_count_over_time_at_each_other() {
    let c1 = series(vec![ok("cpu_elapsed 1000 ms\nrate 5 ops/s\n", 1)]);
    let c2 = series(vec![ok("cpu_elapsed 500 ms\nrate 9 ops/s\n", 1)]);
    let l1 = series(vec![ok("cpu_elapsed 900 ms\n", 1)]);
    let l2 = series(vec![ok("cpu_elapsed 600 ms\n", 1)]);
    let c4 = series(vec![run(Ended::Exited(1), "", "", 1)]);
    let l4 = series(vec![ok("cpu_elapsed 300 ms\n", 1)]);
    let comparisons = [
        Comparison {
            cpus: 1,
            coracle: Some(&c1),
            linux: Some(&l1),
        },
        Comparison {
            cpus: 2,
            coracle: Some(&c2),
            linux: Some(&l2),
        },
        Comparison {
            cpus: 4,
            coracle: Some(&c4),
            linux: Some(&l4),
        },
    ];
    let expected = "\
speedup (time at first / time at this)    cpus  coracle  linux
cpu_elapsed                             1 -> 2    2.00x  1.50x
cpu_elapsed                             1 -> 4      n/a  3.00x
";
    // `rate` is not a time, so it has no speedup row.
    assert_eq!(format_scaling(&comparisons), expected);
    assert_eq!(format_scaling(&comparisons[..1]), "");
}

#[test]
fn outputs_side_by_side() {
    let left = run(Ended::Exited(2), "a\nlonger line\n", "oops\n", 1);
    let right = ok("x\ty\n", 1);
    let text = side_by_side(("coracle", Some(&left)), ("linux", Some(&right)));
    let expected = "\
coracle                   | linux
------------------------- | -------------------------
a                         | x    y
longer line               |
-- stderr --              |
oops                      |
=> failed (exit status 2) |
";
    assert_eq!(text, expected);
    let text = side_by_side(("c", None), ("l", Some(&right)));
    assert_eq!(text.lines().nth(2), Some("(not run) | x    y"));
}

#[test]
fn long_lines_are_cut() {
    let long = "x".repeat(80);
    let r = ok(&long, 1);
    let text = side_by_side(("c", Some(&r)), ("l", Some(&r)));
    let line = text.lines().nth(2).unwrap();
    let cut = format!("{}~", "x".repeat(55));
    assert_eq!(line, format!("{cut} | {cut}"));
}

#[test]
fn time_units() {
    for unit in ["ns", "us", "ms", "s"] {
        assert!(is_time_unit(unit), "{unit}");
    }
    for unit in ["ops/s", "MiB", "x", "count"] {
        assert!(!is_time_unit(unit), "{unit}");
    }
}

/// Under --icount the guest's times are instructions, and the boot row reads instructions.
#[test]
fn icount_times_are_instructions() {
    let mut coracle_run = ok(
        "syscall_getppid 0.4 us\nrate 3 ops/s\nvm_start 7 tsc\n",
        250,
    );
    coracle_run.boot = Some(299_569.0);
    let coracle = Series {
        runs: vec![coracle_run],
        icount: true,
    };
    let rows = rows(&Comparison {
        cpus: 1,
        coracle: Some(&coracle),
        linux: None,
    });
    let got: Vec<(&str, &str, Mode, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.metric.as_str(),
                r.unit.as_str(),
                r.mode,
                r.coracle.stats().map(|s| s.median),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("syscall_getppid", "insns", Mode::Icount, Some(400.0)),
            ("rate", "ops/s", Mode::Wall, Some(3.0)),
            ("vm_start", "insns", Mode::Icount, Some(7.0)),
            (
                "boot: kernel -> program start (guest)",
                "insns",
                Mode::Icount,
                Some(299_569.0)
            ),
            ("wall: whole run (host)", "ms", Mode::Wall, Some(250.0)),
        ]
    );
    assert_eq!(rows[0].linux, Figure::NotRun);
}

#[test]
fn outputs_are_compared_without_metrics_and_notes() {
    let a = series(vec![ok("hello\nx 1 ns\n# vDSO: yes\n", 1)]);
    let b = series(vec![ok("hello\nx 2 ns\n# vDSO: no\n", 1)]);
    let c = series(vec![ok("bye\nx 2 ns\n", 1)]);
    let d = series(vec![run(Ended::Exited(1), "hello\n", "", 1)]);
    let cmp = |l: &Series, r: &Series| {
        outputs_match(&Comparison {
            cpus: 1,
            coracle: Some(l),
            linux: Some(r),
        })
    };
    assert_eq!(cmp(&a, &b), Some(true));
    assert_eq!(cmp(&a, &c), Some(false));
    assert_eq!(cmp(&a, &d), Some(false));
    let one = Comparison {
        cpus: 1,
        coracle: Some(&a),
        linux: None,
    };
    assert_eq!(outputs_match(&one), None);
}

#[test]
fn small_ratios_keep_three_digits() {
    assert_eq!(ratio_text(0.5), "0.50x");
    assert_eq!(ratio_text(12.345), "12.35x");
    assert_eq!(ratio_text(315_715.0 / 3_350_037_000.0), "0.0000942x");
    assert_eq!(ratio_text(0.05), "0.0500x");
}
