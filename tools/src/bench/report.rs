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
}

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

    /// `name` over the runs that succeeded and reported it.
    pub fn metric(&self, name: &str) -> Option<Stats> {
        Stats::of(
            self.runs
                .iter()
                .filter(|r| r.succeeded())
                .flat_map(|r| parse_metrics(&r.stdout))
                .filter(|m| m.name == name)
                .map(|m| m.value)
                .collect(),
        )
    }

    /// Metric names in the order the runs first reported them, with their units.
    fn metric_names(&self) -> Vec<(String, String)> {
        let mut names: Vec<(String, String)> = Vec::new();
        for m in self.runs.iter().flat_map(|r| parse_metrics(&r.stdout)) {
            if !names.iter().any(|(n, _)| *n == m.name) {
                names.push((m.name, m.unit));
            }
        }
        names
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

/// The median and the best (smallest) of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
}

impl Stats {
    fn of(values: Vec<f64>) -> Option<Stats> {
        let min = values.iter().copied().reduce(f64::min)?;
        Some(Stats {
            median: median(values)?,
            min,
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
        format!("{:.2}x", a / b)
    }
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

/// Reads one wall time, in ms, off a series.
type WallOf = fn(&Series) -> Option<Stats>;

/// A table cell and the value behind it.
type Cell = (String, Option<Stats>);

/// The table for one CPU count: every metric either side reported, then the wall times, and
/// a line per failed side. Cells are medians over the runs; with more than one run, the
/// smallest values (the runs least disturbed by the host) follow in two more columns.
pub fn format_table(c: &Comparison<'_>) -> String {
    let sides = [c.coracle, c.linux];
    let several = sides.iter().flatten().any(|s| s.runs.len() > 1);
    let mut header = vec![
        format!("--cpus {}", c.cpus),
        "unit".into(),
        "coracle".into(),
        "linux".into(),
        "coracle/linux".into(),
    ];
    if several {
        header.extend(["min: coracle".into(), "linux".into()]);
    }
    let mut rows = vec![header];
    let mut push = |label: &str, unit: &str, coracle: Cell, linux: Cell, digits: Format| {
        let ratio = match (coracle.1, linux.1) {
            (Some(a), Some(b)) => format_ratio(a.median, b.median),
            _ => String::new(),
        };
        let mins = [coracle.1, linux.1].map(|v| v.map(|s| digits(s.min)).unwrap_or_default());
        let mut r = vec![label.to_owned(), unit.to_owned(), coracle.0, linux.0, ratio];
        if several {
            r.extend(mins);
        }
        rows.push(r);
    };

    let mut names: Vec<(String, String)> = Vec::new();
    for side in sides.into_iter().flatten() {
        for (name, unit) in side.metric_names() {
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, unit));
            }
        }
    }
    for (name, unit) in &names {
        let cell = |side: Option<&Series>| -> Cell {
            match side {
                None => (NOT_RUN.to_owned(), None),
                Some(s) => match s.metric(name) {
                    Some(v) => (format_value(v.median), Some(v)),
                    None if s.failure().is_some() => ("failed".to_owned(), None),
                    None => ("missing".to_owned(), None),
                },
            }
        };
        push(name, unit, cell(c.coracle), cell(c.linux), format_value);
    }
    let wall_rows: [(&str, WallOf); 2] = [
        ("wall: whole run", Series::wall_ms),
        ("wall: spawn -> program start", Series::to_start_ms),
    ];
    for (label, get) in wall_rows {
        let cell = |side: Option<&Series>| -> Cell {
            match side.map(get) {
                None => (NOT_RUN.to_owned(), None),
                Some(None) => ("n/a".to_owned(), None),
                Some(Some(v)) => (whole_ms(v.median), Some(v)),
            }
        };
        let (cv, lv) = (cell(c.coracle), cell(c.linux));
        if cv.1.is_some() || lv.1.is_some() {
            push(label, "ms", cv, lv, whole_ms);
        }
    }
    let mut out = align(&rows);
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
        for (name, unit) in side.metric_names() {
            if is_time_unit(&unit) && names.insert(name.clone(), unit).is_none() {
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
