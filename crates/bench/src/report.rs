//! The benchmark's report: one JSON document (`--json`) or a table for people.

use crate::size::format_size;
use crate::stats::format_latency;
use crate::workload::{Config, PhaseReport, RandomLimit};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Version tag of the JSON document's layout.
pub const SCHEMA: &str = "gluster-rs-bench/1";

/// The parameters as reported.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigReport {
    pub threads: usize,
    pub big_file_size: u64,
    pub block_size: usize,
    pub random_block_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_ops: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seconds: Option<f64>,
    pub small_file_size: usize,
    pub small_files: u64,
    pub direct: bool,
    pub fsync_small: bool,
    pub skip_big: bool,
    pub skip_random: bool,
    pub skip_small: bool,
    pub seed: u64,
}

impl From<&Config> for ConfigReport {
    fn from(c: &Config) -> Self {
        let (random_ops, random_seconds) = match c.random {
            RandomLimit::Ops(n) => (Some(n), None),
            RandomLimit::Time(d) => (None, Some(d.as_secs_f64())),
        };
        Self {
            threads: c.threads,
            big_file_size: c.big_file_size,
            block_size: c.block_size,
            random_block_size: c.random_block_size,
            random_ops,
            random_seconds,
            small_file_size: c.small_file_size,
            small_files: c.small_files,
            direct: c.direct,
            fsync_small: c.fsync_small,
            skip_big: c.skip_big,
            skip_random: c.skip_random,
            skip_small: c.skip_small,
            seed: c.seed,
        }
    }
}

/// Headline figures by name, serialized as a JSON object in phase order.
#[derive(Debug, Clone, Default)]
pub struct Metrics(pub Vec<(&'static str, f64)>);

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: String,
    pub target: String,
    pub started_unix: u64,
    pub config: ConfigReport,
    pub fsync_policy: String,
    pub cache_policy: String,
    pub notes: Vec<String>,
    pub total_seconds: f64,
    pub phases: Vec<PhaseReport>,
    pub metrics: Metrics,
}

impl Report {
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A human-readable summary: a header line, a table, the fsync and cache policies, notes.
    pub fn to_table(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        let threads = if c.threads == 1 {
            "1 thread".to_string()
        } else {
            format!("{} threads", c.threads)
        };
        let mut parts = vec![threads];
        if !c.skip_big {
            parts.push(format!(
                "big file {} in {} blocks",
                format_size(c.big_file_size),
                format_size(c.block_size as u64)
            ));
        }
        if !c.skip_random {
            let limit = match (c.random_ops, c.random_seconds) {
                (Some(n), _) => format!("{n} ops"),
                (_, Some(s)) => format!("{s} s"),
                _ => String::new(),
            };
            parts.push(format!(
                "random {} {} for {limit}",
                format_size(c.random_block_size as u64),
                if c.direct { "O_DIRECT" } else { "buffered" }
            ));
        }
        if !c.skip_small {
            parts.push(format!(
                "{} small files of {}",
                c.small_files,
                format_size(c.small_file_size as u64)
            ));
        }
        out.push_str(&format!(
            "gluster-rs bench {}: {} (sizes and counts per thread)\n",
            self.target,
            parts.join(", ")
        ));
        let header = [
            "ITEM", "VALUE", "UNIT", "AVG LAT", "P50", "P99", "MAX", "FSYNC", "OPS",
        ];
        let rows: Vec<[String; 9]> = self
            .phases
            .iter()
            .map(|p| {
                [
                    p.title.to_string(),
                    format!("{:.2}", p.value),
                    p.unit.to_string(),
                    format_latency(p.latency.mean_us),
                    format_latency(p.latency.p50_us),
                    format_latency(p.latency.p99_us),
                    format_latency(p.latency.max_us),
                    p.fsync_latency
                        .map_or_else(|| "-".to_string(), |f| format_latency(f.max_us)),
                    p.ops.to_string(),
                ]
            })
            .collect();
        out.push_str(&render_table(&header, &rows));
        out.push_str("latency is per operation (block for big/random I/O, whole file op for small files); FSYNC is the slowest fsync, included in VALUE\n");
        out.push_str(&format!("fsync policy: {}\n", self.fsync_policy));
        out.push_str(&format!("cache policy: {}\n", self.cache_policy));
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out.push_str(&format!("total time: {:.1} s\n", self.total_seconds));
        out
    }
}

/// Renders a bordered table; the first column is left-aligned, the others right-aligned.
pub fn render_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut width = header.map(|h| h.chars().count());
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule = {
        let mut s = String::from("+");
        for w in &width {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let line = |cells: Vec<&str>| {
        let mut s = String::from("|");
        for (i, (cell, w)) in cells.iter().zip(&width).enumerate() {
            if i == 0 {
                s.push_str(&format!(" {cell:<w$} |"));
            } else {
                s.push_str(&format!(" {cell:>w$} |"));
            }
        }
        s.push('\n');
        s
    };
    let mut out = rule.clone();
    out.push_str(&line(header.to_vec()));
    out.push_str(&rule);
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out.push_str(&rule);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySummary;
    use crate::workload::Phase;

    fn phase(phase: Phase, value: f64) -> PhaseReport {
        let lat = LatencySummary {
            mean_us: 100.0,
            min_us: 10.0,
            p50_us: 90.0,
            p90_us: 150.0,
            p99_us: 1500.0,
            max_us: 2000.0,
        };
        PhaseReport {
            phase,
            title: phase.title(),
            value,
            unit: phase.unit(),
            ops: 10,
            bytes: 40960,
            seconds: 1.0,
            ops_per_sec: 10.0,
            mib_per_sec: 0.04,
            latency: lat,
            fsync_latency: (phase == Phase::BigWrite).then_some(lat),
            direct_io: (phase == Phase::RandRead).then_some(true),
        }
    }

    fn report() -> Report {
        let cfg = Config::default();
        let phases = vec![
            phase(Phase::BigWrite, 123.456),
            phase(Phase::RandRead, 5000.0),
        ];
        Report {
            schema: SCHEMA,
            tool: "gluster-rs test".into(),
            target: "/mnt/x".into(),
            started_unix: 1,
            config: ConfigReport::from(&cfg),
            fsync_policy: cfg.fsync_policy(),
            cache_policy: cfg.cache_policy(),
            notes: vec!["something odd".into()],
            total_seconds: 2.0,
            metrics: Metrics(crate::workload::metrics(&phases)),
            phases,
        }
    }

    #[test]
    fn table_lines_up() {
        let t = render_table(
            &["A", "BB"],
            &[
                ["x".to_string(), "1".to_string()],
                ["long".to_string(), "22222".to_string()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 6);
        assert!(lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count()));
        assert_eq!(lines[1], "| A    |    BB |");
        assert_eq!(lines[3], "| x    |     1 |");
        assert_eq!(lines[4], "| long | 22222 |");
    }

    #[test]
    fn table_report_has_rows_policies_and_notes() {
        let t = report().to_table();
        assert!(t.contains("| Write big file "));
        assert!(t.contains("123.46"));
        assert!(t.contains("MiB/s"));
        assert!(t.contains("IOPS"));
        assert!(t.contains("1.50 ms"));
        assert!(t.contains("fsync policy: big write"));
        assert!(t.contains("cache policy: "));
        assert!(t.contains("note: something odd"));
        assert!(t.contains("512 MiB in 1 MiB blocks"));
    }

    #[test]
    fn json_has_ordered_metrics_and_phases() {
        let j = report().to_json().unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["metrics"]["seqwrite_MiBs"], 123.456);
        assert_eq!(v["metrics"]["randread_iops"], 5000.0);
        assert!(j.find("seqwrite_MiBs").unwrap() < j.find("randread_iops").unwrap());
        assert_eq!(v["phases"][0]["phase"], "big_write");
        assert_eq!(v["phases"][0]["fsync_latency"]["p99_us"], 1500.0);
        assert!(v["phases"][0].get("direct_io").is_none());
        assert_eq!(v["phases"][1]["direct_io"], true);
        assert_eq!(v["config"]["random_seconds"], 5.0);
        assert!(v["config"].get("random_ops").is_none());
    }
}
