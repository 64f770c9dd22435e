//! The machine-readable and shareable forms of a `coracle bench` run: one [`Report`] holding
//! every comparison's rows (each figure with the mode that measured it), as JSON or as a
//! Markdown table; the plain-text tables stay in `report`.

use std::fmt::Write as _;

use serde::Serialize;

use super::report::{self, Comparison, Figure, Mode, Row, Series};

/// How `coracle bench` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text tables, then both outputs side by side.
    Table,
    /// One JSON document (the same as `--output DIR` writes to report.json).
    Json,
    /// Markdown tables, for a README or an issue.
    Markdown,
}

/// Everything one run of `coracle bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `coracle bench`'s version.
    pub coracle: &'static str,
    pub command: String,
    /// `icount` (instructions) or `wall`: how the guest's figures were measured.
    pub mode: Mode,
    pub accel: &'static str,
    pub memory_mib: u64,
    pub runs: u32,
    /// The Linux VM's kernel and command line, when it ran.
    pub linux_kernel: Option<String>,
    pub linux_cmdline: Option<String>,
    pub comparisons: Vec<ComparisonReport>,
    /// `--min-memory`: the smallest `-m` at which each side still gave the same output.
    pub memory_floor: Option<MemoryFloor>,
}

/// The rows of one CPU count.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonReport {
    pub cpus: u32,
    pub rows: Vec<Row>,
    /// Both sides' last runs gave the same status and output besides metrics; `None` unless
    /// both ran.
    pub outputs_match: Option<bool>,
    pub coracle_failure: Option<String>,
    pub linux_failure: Option<String>,
}

impl ComparisonReport {
    pub fn new(c: &Comparison<'_>) -> Self {
        ComparisonReport {
            cpus: c.cpus,
            rows: report::rows(c),
            outputs_match: report::outputs_match(c),
            coracle_failure: c.coracle.and_then(Series::failure),
            linux_failure: c.linux.and_then(Series::failure),
        }
    }
}

/// The result of `--min-memory` for both sides, in MiB.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryFloor {
    pub coracle_mib: Option<u64>,
    pub linux_mib: Option<u64>,
    /// Why a side has no floor (it failed even at the most memory tried), when it has none.
    pub coracle_note: Option<String>,
    pub linux_note: Option<String>,
}

impl MemoryFloor {
    /// One line per side: `memory floor: coracle 9 MiB, linux 84 MiB` and any notes.
    pub fn describe(&self) -> String {
        let side = |mib: Option<u64>, note: &Option<String>| match (mib, note) {
            (Some(m), _) => format!("{m} MiB"),
            (None, Some(why)) => format!("none ({why})"),
            (None, None) => "-".to_owned(),
        };
        format!(
            "memory floor (smallest -m with the same status and output): coracle {}, linux {}",
            side(self.coracle_mib, &self.coracle_note),
            side(self.linux_mib, &self.linux_note)
        )
    }

    /// The floor as a row, so that every format and the chart show it like any metric.
    pub fn row(&self) -> Row {
        let figure = |mib: Option<u64>| match mib {
            Some(m) => Figure::Value(report::Stats {
                median: m as f64,
                min: m as f64,
                max: m as f64,
                runs: 1,
            }),
            None => Figure::Failed,
        };
        Row {
            metric: "memory floor (smallest -m with the same output)".into(),
            unit: "MiB".into(),
            mode: Mode::Wall,
            coracle: figure(self.coracle_mib),
            linux: figure(self.linux_mib),
        }
    }
}

impl Report {
    /// The report of `runs` runs of `command` per side, before `finish` adds the
    /// comparisons; `linux`: the Linux VM's kernel and command line, when it runs.
    pub fn new(
        command: String,
        mode: Mode,
        accel: &'static str,
        memory_mib: u64,
        runs: u32,
        linux: Option<(String, String)>,
    ) -> Report {
        let (linux_kernel, linux_cmdline) = linux.unzip();
        Report {
            coracle: env!("CARGO_PKG_VERSION"),
            command,
            mode,
            accel,
            memory_mib,
            runs,
            linux_kernel,
            linux_cmdline,
            comparisons: Vec::new(),
            memory_floor: None,
        }
    }

    /// Every row of every comparison with its CPU count, then the memory floor's.
    pub fn all_rows(&self) -> Vec<(u32, Row)> {
        let mut rows: Vec<(u32, Row)> = self
            .comparisons
            .iter()
            .flat_map(|c| c.rows.iter().map(move |r| (c.cpus, r.clone())))
            .collect();
        if let Some(floor) = &self.memory_floor {
            rows.push((self.comparisons.first().map_or(1, |c| c.cpus), floor.row()));
        }
        rows
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// A Markdown table of every row: medians, the ratio, and min-max with several runs.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "`coracle bench {}` ({} mode, --accel {}, -m {}M, {} run(s) per side)\n",
            self.command,
            self.mode.name(),
            self.accel,
            self.memory_mib,
            self.runs
        );
        let _ = writeln!(
            out,
            "| figure | cpus | mode | unit | Coracle | Linux | Coracle/Linux |\n\
             | --- | --- | --- | --- | ---: | ---: | ---: |"
        );
        for (cpus, row) in self.all_rows() {
            let cell = |f: &Figure| match f {
                Figure::NotRun => "-".to_owned(),
                Figure::Failed => "failed".to_owned(),
                Figure::Missing => "n/a".to_owned(),
                Figure::Value(s) if s.runs > 1 && s.min != s.max => format!(
                    "{} ({}–{})",
                    thousands(s.median),
                    thousands(s.min),
                    thousands(s.max)
                ),
                Figure::Value(s) => thousands(s.median),
            };
            let ratio = row.ratio().map(report::ratio_text).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {cpus} | {} | {} | {} | {} | {ratio} |",
                row.metric,
                row.mode.name(),
                row.unit,
                cell(&row.coracle),
                cell(&row.linux)
            );
        }
        for c in &self.comparisons {
            for (side, why) in [("Coracle", &c.coracle_failure), ("Linux", &c.linux_failure)] {
                if let Some(why) = why {
                    let _ = writeln!(out, "\n{side} at --cpus {}: {why}", c.cpus);
                }
            }
            match c.outputs_match {
                Some(true) => {}
                Some(false) => {
                    let _ = writeln!(out, "\nThe two VMs' outputs differ at --cpus {}.", c.cpus);
                }
                None => {}
            }
        }
        out
    }
}

/// A number with thousands separators: whole above 100 (or when it is whole), else four
/// significant digits.
pub fn thousands(v: f64) -> String {
    if v.abs() < 100.0 && v.fract() != 0.0 {
        return report::format_value(v);
    }
    let whole = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Stats;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(299_569.0), "299,569");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(100.4), "100");
        assert_eq!(thousands(-1_234_567.0), "-1,234,567");
        assert_eq!(thousands(12.5), "12.50");
        assert_eq!(thousands(8.0), "8");
    }

    fn stats(median: f64, min: f64, max: f64, runs: usize) -> Figure {
        Figure::Value(Stats {
            median,
            min,
            max,
            runs,
        })
    }

    #[test]
    fn markdown_and_json_carry_the_mode_of_each_figure() {
        let report = Report {
            coracle: "0",
            command: "prog".into(),
            mode: Mode::Icount,
            accel: "tcg",
            memory_mib: 128,
            runs: 3,
            linux_kernel: None,
            linux_cmdline: None,
            comparisons: vec![ComparisonReport {
                cpus: 1,
                rows: vec![
                    Row {
                        metric: "syscall".into(),
                        unit: "insns".into(),
                        mode: Mode::Icount,
                        coracle: stats(400.0, 400.0, 400.0, 3),
                        linux: stats(1600.0, 1600.0, 1600.0, 3),
                    },
                    Row {
                        metric: "wall: whole run (host)".into(),
                        unit: "ms".into(),
                        mode: Mode::Wall,
                        coracle: stats(250.0, 200.0, 300.0, 3),
                        linux: Figure::Failed,
                    },
                ],
                outputs_match: Some(true),
                coracle_failure: None,
                linux_failure: Some("failed (timed out after 9 s)".into()),
            }],
            memory_floor: Some(MemoryFloor {
                coracle_mib: Some(9),
                linux_mib: Some(84),
                coracle_note: None,
                linux_note: None,
            }),
        };
        let md = report.to_markdown();
        assert!(
            md.contains("| syscall | 1 | icount | insns | 400 | 1,600 | 0.25x |"),
            "{md}"
        );
        assert!(
            md.contains("| wall: whole run (host) | 1 | wall | ms | 250 (200–300) | failed |  |"),
            "{md}"
        );
        assert!(md.contains("| MiB | 9 | 84 | 0.11x |"), "{md}");
        assert!(
            md.contains("Linux at --cpus 1: failed (timed out after 9 s)"),
            "{md}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["mode"], "icount");
        let row = &json["comparisons"][0]["rows"][0];
        assert_eq!(row["mode"], "icount");
        assert_eq!(row["coracle"]["state"], "value");
        assert_eq!(row["coracle"]["median"], 400.0);
        assert_eq!(
            json["comparisons"][0]["rows"][1]["linux"]["state"],
            "failed"
        );
        assert_eq!(json["memory_floor"]["linux_mib"], 84);
    }
}
