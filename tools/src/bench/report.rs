//! What `coracle bench` prints: metrics parsed from a benchmark's output, tabulated Coracle vs
//! Linux, the scaling between CPU counts, and the two outputs side by side.
//!
//! Pure functions over [`Series`] (the runs of one side at one CPU count), so that everything
//! printed is unit-tested without a VM. A benchmark reports a result as a line
//! `name value unit` on stdout; every other line is shown but not tabulated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One `name value unit` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// The metrics in a benchmark's stdout, in order. A line counts when it has exactly three
/// words: a name (letters, digits, `_`, `-`, `.`, `/`, starting with a letter), a finite
/// number, and a unit that does not start with a digit.
pub fn parse_metrics(stdout: &str) -> Vec<Metric> {
    stdout.lines().filter_map(parse_metric).collect()
}

fn parse_metric(line: &str) -> Option<Metric> {
    let mut words = line.split_whitespace();
    let (name, value, unit) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    let value: f64 = value.parse().ok().filter(|v: &f64| v.is_finite())?;
    let unit_ok = !unit.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
    (name_ok && unit_ok).then(|| Metric {
        name: name.to_owned(),
        value,
        unit: unit.to_owned(),
    })
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The program's exit status.
    Exited(i32),
    /// No status: why (a timeout, a VM that stopped without reporting one...).
    Failed(String),
}

/// One run of the program on one side.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub ended: Ended,
    pub stdout: String,
    pub stderr: String,
    /// Spawn to exit, host clock.
    pub wall: Duration,
    /// Spawn until the program started, host clock, when known.
    pub to_start: Option<Duration>,
    /// Kernel entry until the program started, by the guest's own clock: instructions under
    /// `--icount`, else guest ms; `None` when the side could not tell.
    pub boot: Option<f64>,
}

impl RunResult {
    fn succeeded(&self) -> bool {
        self.ended == Ended::Exited(0)
    }

    /// "failed (exit status 1)" and the like, or `None` for a run that exited with 0.
    pub fn failure(&self) -> Option<String> {
        match &self.ended {
            Ended::Exited(0) => None,
            Ended::Exited(code) => Some(format!("failed (exit status {code})")),
            Ended::Failed(why) => Some(format!("failed ({why})")),
        }
    }
}

/// The runs of one side at one CPU count.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub runs: Vec<RunResult>,
    /// Run under `--icount`: the guest's time metrics are instruction counts.
    pub icount: bool,
}

/// How a figure was measured, shown next to each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Instructions (QEMU `-icount`: one virtual ns per instruction, idle time skipped);
    /// repeatable to the instruction.
    Icount,
    /// Wall-clock time: the guest's clock (the program's own figures) or the host's.
    Wall,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Icount => "icount",
            Mode::Wall => "wall",
        }
    }
}

/// Under `--icount` the guest's clocks count virtual ns, one per instruction: a time in any
/// unit, or TSC ticks (unit `tsc`: QEMU's icount TSC runs at 1 GHz), becomes an instruction
/// count.
pub fn in_mode(m: Metric, icount: bool) -> (Metric, Mode) {
    let factor = match m.unit.as_str() {
        "ns" | "tsc" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => 0.0,
    };
    if icount && factor > 0.0 {
        let m = Metric {
            value: m.value * factor,
            unit: INSNS.to_owned(),
            ..m
        };
        (m, Mode::Icount)
    } else {
        (m, Mode::Wall)
    }
}

/// The unit of instruction counts.
pub const INSNS: &str = "insns";

impl Series {
    /// The first failed run's description, with the first line of its stderr.
    pub fn failure(&self) -> Option<String> {
        let run = self.runs.iter().find(|r| !r.succeeded())?;
        let mut text = run.failure()?;
        if let Some(line) = run.stderr.lines().map(str::trim).find(|l| !l.is_empty()) {
            let _ = write!(text, ": {line}");
        }
        Some(text)
    }

    /// A run's metrics in this series' mode.
    fn metrics_of(&self, run: &RunResult) -> Vec<(Metric, Mode)> {
        parse_metrics(&run.stdout)
            .into_iter()
            .map(|m| in_mode(m, self.icount))
            .collect()
    }

    /// `name` over the runs that succeeded and reported it.
    pub fn metric(&self, name: &str) -> Option<Stats> {
        Stats::of(
            self.runs
                .iter()
                .filter(|r| r.succeeded())
                .flat_map(|r| self.metrics_of(r))
                .filter(|(m, _)| m.name == name)
                .map(|(m, _)| m.value)
                .collect(),
        )
    }

    /// Metric names in the order the runs first reported them, with their units and modes.
    fn metric_names(&self) -> Vec<(String, String, Mode)> {
        let mut names: Vec<(String, String, Mode)> = Vec::new();
        for (m, mode) in self.runs.iter().flat_map(|r| self.metrics_of(r)) {
            if !names.iter().any(|(n, _, _)| *n == m.name) {
                names.push((m.name, m.unit, mode));
            }
        }
        names
    }

    fn boot(&self) -> Option<Stats> {
        Stats::of(
            self.runs
                .iter()
                .filter(|r| r.succeeded())
                .filter_map(|r| r.boot)
                .collect(),
        )
    }

    fn wall_ms(&self) -> Option<Stats> {
        Stats::of(self.runs.iter().map(|r| ms(r.wall)).collect())
    }

    fn to_start_ms(&self) -> Option<Stats> {
        Stats::of(
            self.runs
                .iter()
                .filter_map(|r| r.to_start.map(ms))
                .collect(),
        )
    }
}

/// The median, the best (smallest) and the largest of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Stats {
    pub fn of(values: Vec<f64>) -> Option<Stats> {
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        let runs = values.len();
        Some(Stats {
            median: median(values)?,
            min,
            max,
            runs,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median; the mean of the middle two for an even count; `None` when empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// A number with about four significant digits and no exponent.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn format_ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        String::new()
    } else {
        ratio_text(a / b)
    }
}

/// A ratio with two decimals, or three significant digits below 0.1 (0.000094x).
pub fn ratio_text(r: f64) -> String {
    if r.abs() >= 0.1 || r == 0.0 {
        return format!("{r:.2}x");
    }
    let decimals = (2.0 - r.abs().log10().floor()).clamp(0.0, 12.0) as usize;
    format!("{r:.decimals$}x")
}

/// Whether a unit is a duration, so that smaller is better and a ratio of two is a speedup.
pub fn is_time_unit(unit: &str) -> bool {
    matches!(unit, "ns" | "us" | "µs" | "ms" | "s")
}

/// The two sides at one CPU count; `None` for a side that was not run.
#[derive(Debug, Clone, Copy)]
pub struct Comparison<'a> {
    pub cpus: u32,
    pub coracle: Option<&'a Series>,
    pub linux: Option<&'a Series>,
}

const NOT_RUN: &str = "-";

/// One side's figure in a [`Row`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Figure {
    /// The side was not run.
    NotRun,
    /// Every run failed before reporting it.
    Failed,
    /// The runs succeeded but did not report it.
    Missing,
    Value(Stats),
}

impl Figure {
    pub fn stats(&self) -> Option<Stats> {
        match self {
            Figure::Value(s) => Some(*s),
            _ => None,
        }
    }
}

/// One metric of one comparison, as every report format shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    pub metric: String,
    pub unit: String,
    pub mode: Mode,
    pub coracle: Figure,
    pub linux: Figure,
}

impl Row {
    /// Coracle's median over Linux's, when both are there and Linux's is not 0.
    pub fn ratio(&self) -> Option<f64> {
        let (a, b) = (self.coracle.stats()?, self.linux.stats()?);
        (b.median != 0.0).then(|| a.median / b.median)
    }
}

/// Reads one figure off a series.
type FigureOf = fn(&Series) -> Option<Stats>;

/// The rows of one CPU count: every metric either side reported, the boot (kernel entry to the
/// program's start, by the guest's clock), then the host's wall times.
pub fn rows(c: &Comparison<'_>) -> Vec<Row> {
    let sides = [c.coracle, c.linux];
    let icount = sides.iter().flatten().any(|s| s.icount);
    let mut names: Vec<(String, String, Mode)> = Vec::new();
    for side in sides.into_iter().flatten() {
        for (name, unit, mode) in side.metric_names() {
            if !names.iter().any(|(n, _, _)| *n == name) {
                names.push((name, unit, mode));
            }
        }
    }
    let mut rows = Vec::new();
    for (name, unit, mode) in names {
        let figure = |side: Option<&Series>| match side {
            None => Figure::NotRun,
            Some(s) => match s.metric(&name) {
                Some(v) => Figure::Value(v),
                None if s.failure().is_some() => Figure::Failed,
                None => Figure::Missing,
            },
        };
        let (coracle, linux) = (figure(c.coracle), figure(c.linux));
        rows.push(Row {
            metric: name,
            unit,
            mode,
            coracle,
            linux,
        });
    }
    let (boot_unit, boot_mode) = if icount {
        (INSNS, Mode::Icount)
    } else {
        ("ms", Mode::Wall)
    };
    let timed: [(&str, &str, Mode, FigureOf); 3] = [
        (
            "boot: kernel -> program start (guest)",
            boot_unit,
            boot_mode,
            Series::boot,
        ),
        ("wall: whole run (host)", "ms", Mode::Wall, Series::wall_ms),
        (
            "wall: spawn -> program start (host)",
            "ms",
            Mode::Wall,
            Series::to_start_ms,
        ),
    ];
    for (label, unit, mode, get) in timed {
        let figure = |side: Option<&Series>| match side.map(get) {
            None => Figure::NotRun,
            Some(None) => Figure::Missing,
            Some(Some(v)) => Figure::Value(v),
        };
        let (coracle, linux) = (figure(c.coracle), figure(c.linux));
        if coracle.stats().is_some() || linux.stats().is_some() {
            rows.push(Row {
                metric: label.to_owned(),
                unit: unit.to_owned(),
                mode,
                coracle,
                linux,
            });
        }
    }
    rows
}

/// The table for one CPU count (see [`rows`]), and a line per failed side. Cells are medians
/// over the runs; with more than one run, the smallest values (the runs least disturbed by
/// the host) follow in two more columns.
pub fn format_table(c: &Comparison<'_>) -> String {
    let sides = [c.coracle, c.linux];
    let several = sides.iter().flatten().any(|s| s.runs.len() > 1);
    let mut header = vec![
        format!("--cpus {}", c.cpus),
        "mode".into(),
        "unit".into(),
        "coracle".into(),
        "linux".into(),
        "coracle/linux".into(),
    ];
    if several {
        header.extend(["min: coracle".into(), "linux".into()]);
    }
    let mut table = vec![header];
    for row in rows(c) {
        let digits: Format = if row.metric.starts_with("wall:") {
            whole_ms
        } else {
            format_value
        };
        let cell = |f: &Figure| match f {
            Figure::NotRun => NOT_RUN.to_owned(),
            Figure::Failed => "failed".to_owned(),
            Figure::Missing if row.metric.contains(':') => "n/a".to_owned(),
            Figure::Missing => "missing".to_owned(),
            Figure::Value(s) => digits(s.median),
        };
        let ratio = row.ratio().map(ratio_text).unwrap_or_default();
        let mut r = vec![
            row.metric.clone(),
            row.mode.name().to_owned(),
            row.unit.clone(),
            cell(&row.coracle),
            cell(&row.linux),
            ratio,
        ];
        if several {
            r.extend(
                [&row.coracle, &row.linux]
                    .map(|f| f.stats().map(|s| digits(s.min)).unwrap_or_default()),
            );
        }
        table.push(r);
    }
    let mut out = align(&table);
    for (label, side) in [("coracle", c.coracle), ("linux", c.linux)] {
        if let Some(why) = side.and_then(Series::failure) {
            let _ = writeln!(out, "{label}: {why}");
        }
    }
    out
}

type Format = fn(f64) -> String;

fn whole_ms(v: f64) -> String {
    format!("{v:.0}")
}

/// For each time metric, how much faster each side got going from the first CPU count to
/// each other one: time at the first count / time at the other. Empty with one count.
pub fn format_scaling(comparisons: &[Comparison<'_>]) -> String {
    let Some((first, rest)) = comparisons.split_first() else {
        return String::new();
    };
    if rest.is_empty() {
        return String::new();
    }
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut order = Vec::new();
    for side in comparisons
        .iter()
        .flat_map(|c| [c.coracle, c.linux])
        .flatten()
    {
        for (name, unit, _) in side.metric_names() {
            if (is_time_unit(&unit) || unit == INSNS) && names.insert(name.clone(), unit).is_none()
            {
                order.push(name);
            }
        }
    }
    if order.is_empty() {
        return String::new();
    }
    let mut rows = vec![row(&[
        "speedup (time at first / time at this)",
        "cpus",
        "coracle",
        "linux",
    ])];
    for name in &order {
        for other in rest {
            let speedup = |base: Option<&Series>, now: Option<&Series>| match (
                base.and_then(|s| s.metric(name)),
                now.and_then(|s| s.metric(name)),
            ) {
                (Some(a), Some(b)) => format_ratio(a.median, b.median),
                _ if base.is_none() => NOT_RUN.to_owned(),
                _ => "n/a".to_owned(),
            };
            rows.push(row(&[
                name,
                &format!("{} -> {}", first.cpus, other.cpus),
                &speedup(first.coracle, other.coracle),
                &speedup(first.linux, other.linux),
            ]));
        }
    }
    align(&rows)
}

/// What a run printed besides its metrics and `# ` notes: the output both VMs must agree on.
pub fn plain_output(r: &RunResult) -> (Vec<&str>, &Ended) {
    let lines = r
        .stdout
        .lines()
        .filter(|l| parse_metric(l).is_none() && !l.starts_with("# "))
        .collect();
    (lines, &r.ended)
}

/// Whether the two sides' last runs gave the same status and the same output besides their
/// metrics and notes: `None` unless both sides ran.
pub fn outputs_match(c: &Comparison<'_>) -> Option<bool> {
    fn last(s: Option<&Series>) -> Option<&RunResult> {
        s.and_then(|s| s.runs.last())
    }
    Some(plain_output(last(c.coracle)?) == plain_output(last(c.linux)?))
}

/// Two outputs in columns: stdout, then stderr after a `-- stderr --` line when there is any.
/// Lines longer than the column are cut with `~`.
pub fn side_by_side(left: (&str, Option<&RunResult>), right: (&str, Option<&RunResult>)) -> String {
    const WIDTH: usize = 56;
    let lines = |r: Option<&RunResult>| -> Vec<String> {
        let Some(r) = r else {
            return vec!["(not run)".to_owned()];
        };
        let mut v: Vec<String> = r.stdout.lines().map(expand_tabs).collect();
        if !r.stderr.trim().is_empty() {
            v.push("-- stderr --".to_owned());
            v.extend(r.stderr.lines().map(expand_tabs));
        }
        if let Some(why) = r.failure() {
            v.push(format!("=> {why}"));
        }
        v
    };
    let (l, r) = (lines(left.1), lines(right.1));
    let width = l
        .iter()
        .map(|s| s.chars().count())
        .chain([left.0.len()])
        .max()
        .unwrap_or(0)
        .min(WIDTH);
    let mut out = String::new();
    let mut push = |a: &str, b: &str| {
        let a = cut(a, width);
        let pad = width - a.chars().count();
        let line = format!("{a}{} | {}", " ".repeat(pad), cut(b, WIDTH));
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push(left.0, right.0);
    push(&"-".repeat(width), &"-".repeat(width.max(right.0.len())));
    for i in 0..l.len().max(r.len()) {
        push(
            l.get(i).map_or("", String::as_str),
            r.get(i).map_or("", String::as_str),
        );
    }
    out
}

fn expand_tabs(line: &str) -> String {
    line.replace('\t', "    ")
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('~');
    s
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// Columns padded to their widest cell: the first left-aligned, the rest right-aligned.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if i == 0 {
                line.push_str(cell);
                line.push_str(&pad);
            } else {
                line.push_str("  ");
                line.push_str(&pad);
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
