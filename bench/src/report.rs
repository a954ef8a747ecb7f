//! Medians, spreads, ratios and the markdown table.

use crate::benches::{Bench, Runtime};
use crate::node::Measurement;

/// A column of the results table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// A node runtime.
    Node(Runtime),
    /// skyhold's native-Rust benchmarks (no Lua), run inside the harness.
    Native,
}

impl Column {
    /// The column heading.
    pub fn label(self) -> &'static str {
        match self {
            Column::Node(r) => r.label(),
            Column::Native => "skyhold native (no Lua)",
        }
    }
}

/// Every run of one benchmark on one column.
pub type Runs = Vec<Result<Measurement, String>>;

/// One benchmark's runs, per column (same order as [`Report::columns`]).
#[derive(Debug)]
pub struct Row {
    /// The benchmark.
    pub bench: &'static Bench,
    /// Runs per column.
    pub runs: Vec<Runs>,
}

/// Everything the table is made of.
#[derive(Debug)]
pub struct Report {
    /// Lines for the header list (machine, versions, settings).
    pub meta: Vec<String>,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Rows in order.
    pub rows: Vec<Row>,
    /// A note on the native section.
    pub native_note: String,
}

/// Median of a non-empty slice (mean of the middle two for even lengths).
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// A figure with a k/M suffix and sensible precision.
pub fn human(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A ratio with two significant digits at least (`0.0036×`, `1.25×`).
pub fn ratio_text(r: f64) -> String {
    if r.is_nan() || r <= 0.0 || !r.is_finite() {
        return format!("{r}×");
    }
    let digits = if r >= 0.1 {
        2
    } else {
        ((-r.log10()).ceil() as usize + 1).min(9)
    };
    format!("{r:.digits$}×")
}

fn ok_values(runs: &Runs, f: impl Fn(&Measurement) -> Option<f64>) -> Vec<f64> {
    runs.iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(f)
        .collect()
}

fn first_error(runs: &Runs) -> Option<&str> {
    runs.iter()
        .find_map(|r| r.as_ref().err().map(String::as_str))
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The headline cell: `median (min–max)`, or why there is none.
fn cell(runs: &Runs) -> String {
    let vals = ok_values(runs, |m| Some(m.value));
    let failed = runs.len() - vals.len();
    match median(&vals) {
        None if runs.is_empty() => "—".into(),
        None => format!(
            "not run: {}",
            escape(first_error(runs).unwrap_or("no runs"))
        ),
        Some(med) => {
            let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut s = if vals.len() > 1 {
                format!("**{}** ({}–{})", human(med), human(min), human(max))
            } else {
                format!("**{}**", human(med))
            };
            if failed > 0 {
                s.push_str(&format!(" [{failed} of {} failed]", runs.len()));
            }
            s
        }
    }
}

fn med_of(runs: &Runs, f: impl Fn(&Measurement) -> Option<f64>) -> Option<f64> {
    median(&ok_values(runs, f))
}

fn opt(v: Option<f64>) -> String {
    v.map(human).unwrap_or_else(|| "—".into())
}

fn unit_of(row: &Row) -> String {
    if row.bench.lower_is_better {
        format!("{} (p99, lower is better)", row.bench.unit)
    } else {
        row.bench.unit.to_string()
    }
}

impl Report {
    /// Renders the whole report as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# skyhold vs skynet — benchmark results\n\n");
        for m in &self.meta {
            out.push_str(&format!("- {m}\n"));
        }
        out.push('\n');
        out.push_str(
            "Each cell: **median** (min–max) over the passes. Runs of a benchmark are \
             interleaved (every column once per pass, each pass starting one column later), \
             so compare within this file only. Ratio = skyhold median ÷ skynet median: above 1 means skyhold is \
             faster, except for `flood` (a latency), where below 1 means skyhold is better.\n\n",
        );

        let skynets: Vec<Column> = self
            .columns
            .iter()
            .copied()
            .filter(|c| matches!(c, Column::Node(Runtime::Skynet { .. })))
            .collect();
        // Ratios are taken against skyhold as configured by default (CPU
        // accounting on), or the only skyhold column there is.
        let sky_on = self
            .columns
            .iter()
            .position(|c| *c == Column::Node(Runtime::Skyhold { profile: true }));
        let sky_off = self
            .columns
            .iter()
            .position(|c| *c == Column::Node(Runtime::Skyhold { profile: false }));
        let sky = sky_on.or(sky_off);
        // With both, the cost of CPU accounting: on ÷ off.
        let profile_cost = sky_on.zip(sky_off);

        // Headline table.
        let mut head = vec!["benchmark".to_string(), "unit".to_string()];
        head.extend(self.columns.iter().map(|c| c.label().to_string()));
        for c in &skynets {
            head.push(format!("skyhold ÷ {}", c.label()));
        }
        if profile_cost.is_some() {
            head.push("skyhold, profile on ÷ off".to_string());
        }
        out.push_str(&format!("| {} |\n", head.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
        for row in &self.rows {
            let mut cells = vec![format!("`{}`", row.bench.name), unit_of(row)];
            cells.extend(row.runs.iter().map(cell));
            for c in &skynets {
                let i = self.columns.iter().position(|x| x == c).unwrap_or(0);
                let ratio = sky.and_then(|s| {
                    let a = med_of(&row.runs[s], |m| Some(m.value))?;
                    let b = med_of(&row.runs[i], |m| Some(m.value))?;
                    (b > 0.0).then(|| a / b)
                });
                cells.push(match ratio {
                    Some(r) => ratio_text(r),
                    None => "—".into(),
                });
            }
            if let Some((on, off)) = profile_cost {
                let ratio = med_of(&row.runs[on], |m| Some(m.value)).and_then(|a| {
                    let b = med_of(&row.runs[off], |m| Some(m.value))?;
                    (b > 0.0).then(|| a / b)
                });
                cells.push(ratio.map_or("—".into(), ratio_text));
            }
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }

        // Details.
        out.push_str(
            "\n## Details (medians of the successful runs)\n\n\
             | benchmark | runtime | runs ok | p50 ms | p99 ms | max ms | peak RSS MiB | CPU s | RSS KiB/service |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            for (ci, runs) in row.runs.iter().enumerate() {
                if runs.is_empty() {
                    continue;
                }
                let ok = runs.iter().filter(|r| r.is_ok()).count();
                out.push_str(&format!(
                    "| `{}` | {} | {ok}/{} | {} | {} | {} | {} | {} | {} |\n",
                    row.bench.name,
                    self.columns[ci].label(),
                    runs.len(),
                    opt(med_of(runs, |m| m.p50_ms)),
                    opt(med_of(runs, |m| m.p99_ms)),
                    opt(med_of(runs, |m| m.max_ms)),
                    opt(med_of(runs, |m| m.peak_rss_kb.map(|k| k as f64 / 1024.0))),
                    opt(med_of(runs, |m| m.cpu_s)),
                    opt(med_of(runs, |m| m.kb_per_service)),
                ));
            }
        }
        out.push_str(
            "\nPeak RSS is the node's VmHWM and CPU s its user+system time, both read \
             from /proc right after the result (whole process, boot included). \
             KiB/service is the growth of VmRSS across the spawn loop divided by the \
             services spawned. Native runs happen inside the harness process and have \
             no RSS/CPU figures.\n",
        );

        // Two-node benchmarks: the figures above are the caller's (node a);
        // here the callee's (node b).
        let mut peers = String::new();
        for row in &self.rows {
            for (ci, runs) in row.runs.iter().enumerate() {
                let rss = med_of(runs, |m| m.peer_rss_kb.map(|k| k as f64 / 1024.0));
                let cpu = med_of(runs, |m| m.peer_cpu_s);
                if rss.is_none() && cpu.is_none() {
                    continue;
                }
                peers.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    row.bench.name,
                    self.columns[ci].label(),
                    opt(rss),
                    opt(cpu)
                ));
            }
        }
        if !peers.is_empty() {
            out.push_str(
                "\nTwo-node benchmarks: the figures above are the caller's (node a); the \
                 callee's (node b), read at the same moment:\n\n\
                 | benchmark | runtime | node b peak RSS MiB | node b CPU s |\n\
                 |---|---|---|---|\n",
            );
            out.push_str(&peers);
        }

        out.push_str("\n## Benchmarks\n\n| name | what |\n|---|---|\n");
        for row in &self.rows {
            out.push_str(&format!("| `{}` | {} |\n", row.bench.name, row.bench.what));
        }
        out.push_str(&format!("\n{}\n", self.native_note));

        let mut errors = Vec::new();
        for row in &self.rows {
            for (ci, runs) in row.runs.iter().enumerate() {
                for (pass, r) in runs.iter().enumerate() {
                    if let Err(e) = r {
                        errors.push(format!(
                            "- `{}` on {}, pass {}: {}",
                            row.bench.name,
                            self.columns[ci].label(),
                            pass + 1,
                            escape(e)
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            out.push_str("\n## Failed runs\n\n");
            for e in errors {
                out.push_str(&e);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn human_figures() {
        assert_eq!(human(812_345.6), "812.3 k");
        assert_eq!(human(1_234_567.0), "1.23 M");
        assert_eq!(human(529.7), "530");
        assert_eq!(human(2.345), "2.35");
        assert_eq!(human(0.0093), "0.009");
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio_text(1.254), "1.25×");
        assert_eq!(ratio_text(0.00362), "0.0036×");
        assert_eq!(ratio_text(0.05), "0.050×");
    }

    #[test]
    fn cells_say_why_nothing_ran() {
        let runs: Runs = vec![Err("no binary".into()), Err("no binary".into())];
        assert_eq!(cell(&runs), "not run: no binary");
        let runs: Runs = vec![
            Ok(Measurement {
                value: 10.0,
                ..Measurement::default()
            }),
            Err("timeout".into()),
        ];
        assert_eq!(cell(&runs), "**10.00** [1 of 2 failed]");
    }
}
