//! The SVG chart `--output DIR` writes: per metric, a bar for Coracle and one for Linux (the
//! medians), min-max whiskers over the runs, the values, the unit and mode, and the ratio
//! Coracle/Linux at the right. Each metric has its own scale (they range from a few hundred
//! instructions to seconds), so bars compare the two sides, never two metrics.
//!
//! Hand-written rather than drawn with plotters: its SVG backend would bring a font stack and
//! a coordinate system for what is a few dozen rectangles and lines with per-row scales, and
//! the text output here stays small and diffable in the repository.

use std::fmt::Write as _;

use super::output::{thousands, Report};
use super::report::{ratio_text, Figure, Row};

const WIDTH: f64 = 960.0;
const LABEL: f64 = 360.0;
const BARS: f64 = 440.0;
const ROW: f64 = 46.0;
const BAR: f64 = 14.0;
const TOP: f64 = 70.0;
const CORACLE: &str = "#2a7ab0";
const LINUX: &str = "#e08a1e";

/// The chart of every row of `report` (each comparison's, then the memory floor).
pub fn svg(report: &Report) -> String {
    let rows = report.all_rows();
    let height = TOP + ROW * rows.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="15" font-weight="bold">{}</text>
<text x="10" y="42" fill="#555">{}</text>"##,
        escape(&format!("coracle bench {}", report.command)),
        escape(&format!(
            "{} mode, --accel {}, -m {}M, {} run(s) per side; bars: medians, whiskers: min-max; \
             ratio: Coracle/Linux",
            report.mode.name(),
            report.accel,
            report.memory_mib,
            report.runs
        ))
    );
    legend(&mut s, WIDTH - 190.0, 18.0);
    for (i, (cpus, row)) in rows.iter().enumerate() {
        draw_row(&mut s, TOP + ROW * i as f64, *cpus, row);
    }
    let _ = writeln!(
        s,
        r##"<text x="10" y="{}" fill="#555">icount: instructions (QEMU -icount, one virtual ns per instruction, idle skipped), the same on every run; wall: time by a clock (guest or host).</text>"##,
        height - 14.0
    );
    s.push_str("</svg>\n");
    s
}

fn legend(s: &mut String, x: f64, y: f64) {
    for (i, (name, color)) in [("Coracle", CORACLE), ("Linux VM", LINUX)]
        .iter()
        .enumerate()
    {
        let x = x + 95.0 * i as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{y}" width="12" height="12" fill="{color}"/><text x="{}" y="{}">{name}</text>"##,
            x + 16.0,
            y + 10.5
        );
    }
}

fn draw_row(s: &mut String, y: f64, cpus: u32, row: &Row) {
    let _ = writeln!(
        s,
        r##"<line x1="10" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/>"##,
        WIDTH - 10.0
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="{}">{}</text><text x="10" y="{}" fill="#666" font-size="11">{}</text>"##,
        y + 18.0,
        escape(&row.metric),
        y + 34.0,
        escape(&format!(
            "{}, {} mode, --cpus {cpus}",
            row.unit,
            row.mode.name()
        ))
    );
    let top = [&row.coracle, &row.linux]
        .iter()
        .filter_map(|f| f.stats())
        .map(|s| s.max.max(s.median))
        .fold(0.0, f64::max);
    let scale = |v: f64| {
        if top > 0.0 {
            (v.max(0.0) / top) * BARS
        } else {
            0.0
        }
    };
    for (i, (figure, color)) in [(&row.coracle, CORACLE), (&row.linux, LINUX)]
        .into_iter()
        .enumerate()
    {
        let by = y + 6.0 + (BAR + 4.0) * i as f64;
        match figure {
            Figure::Value(st) => {
                let w = scale(st.median);
                let _ = writeln!(
                    s,
                    r##"<rect x="{LABEL}" y="{by}" width="{w:.1}" height="{BAR}" fill="{color}"/>"##
                );
                if st.min != st.max {
                    let (x0, x1, cy) =
                        (LABEL + scale(st.min), LABEL + scale(st.max), by + BAR / 2.0);
                    let _ = writeln!(
                        s,
                        r##"<path d="M{x0:.1} {cy}H{x1:.1}M{x0:.1} {}V{}M{x1:.1} {}V{}" stroke="black" fill="none"/>"##,
                        by + 2.0,
                        by + BAR - 2.0,
                        by + 2.0,
                        by + BAR - 2.0
                    );
                }
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{}" font-size="11">{}</text>"##,
                    LABEL + scale(st.max.max(st.median)) + 4.0,
                    by + 11.0,
                    thousands(st.median)
                );
            }
            other => {
                let text = match other {
                    Figure::NotRun => "not run",
                    Figure::Failed => "failed",
                    _ => "not reported",
                };
                let _ = writeln!(
                    s,
                    r##"<text x="{LABEL}" y="{}" font-size="11" fill="#a00">{text}</text>"##,
                    by + 11.0
                );
            }
        }
    }
    if let Some(r) = row.ratio() {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" font-size="14" font-weight="bold" text-anchor="end">{}</text>"##,
            WIDTH - 12.0,
            y + 27.0,
            escape(&ratio_text(r))
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::output::ComparisonReport;
    use crate::bench::report::{Mode, Stats};

    fn value(median: f64, min: f64, max: f64) -> Figure {
        Figure::Value(Stats {
            median,
            min,
            max,
            runs: 3,
        })
    }

    #[test]
    fn bars_whiskers_values_and_ratios() {
        let report = Report {
            coracle: "0",
            command: "prog <x>".into(),
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
                        metric: "boot: kernel -> program start".into(),
                        unit: "insns".into(),
                        mode: Mode::Icount,
                        coracle: value(300.0, 300.0, 300.0),
                        linux: value(1200.0, 1000.0, 1500.0),
                    },
                    Row {
                        metric: "x".into(),
                        unit: "ms".into(),
                        mode: Mode::Wall,
                        coracle: Figure::Failed,
                        linux: value(5.0, 5.0, 5.0),
                    },
                ],
                outputs_match: Some(true),
                coracle_failure: None,
                linux_failure: None,
            }],
            memory_floor: None,
        };
        let svg = svg(&report);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert!(svg.contains("prog &lt;x&gt;"), "{svg}");
        assert!(svg.contains("boot: kernel -&gt; program start"), "{svg}");
        // Linux's whisker reaches the end of the scale (its max); Coracle has none.
        assert_eq!(svg.matches("<path ").count(), 1, "{svg}");
        assert!(svg.contains(&format!("H{:.1}", LABEL + BARS)), "{svg}");
        // The median bar: 1200 of 1500.
        assert!(
            svg.contains(&format!("width=\"{:.1}\"", BARS * 0.8)),
            "{svg}"
        );
        assert!(svg.contains(">0.25x<"), "{svg}");
        assert!(svg.contains(">1,200<"), "{svg}");
        assert!(svg.contains(">failed<"), "{svg}");
        // Every element the chart opens is closed: a well-formed document.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
}
