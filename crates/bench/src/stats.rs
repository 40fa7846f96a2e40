//! Pure statistics: a log-linear latency histogram (bounded memory whatever the op count, ~1.6 %
//! relative precision) and the reduction of per-thread results into one phase summary.

use serde::Serialize;
use std::time::Duration;

/// Sub-buckets per power of two: values are kept with 6 significant bits.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets for the full u64 range: exact below 2*SUB, then SUB per power of two.
const BUCKETS: usize = ((64 - SUB_BITS as usize) * SUB as usize) + SUB as usize;

/// Latency histogram over nanosecond values.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let m = v >> shift; // in [SUB, 2*SUB)
    ((shift as u64 + 1) * SUB + (m - SUB)) as usize
}

/// Inclusive value range of a bucket.
fn bucket_range(idx: usize) -> (u64, u64) {
    let idx = idx as u64;
    if idx < SUB {
        return (idx, idx);
    }
    let k = idx / SUB; // >= 1
    let shift = k - 1;
    let m = SUB + idx % SUB;
    let low = m << shift;
    let high = low.saturating_add((1u64 << shift) - 1);
    (low, high)
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one value in nanoseconds.
    pub fn record(&mut self, nanos: u64) {
        if let Some(c) = self.counts.get_mut(bucket_of(nanos)) {
            *c += 1;
        }
        self.count += 1;
        self.sum += u128::from(nanos);
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
    }

    pub fn record_duration(&mut self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the upper bound of the bucket holding the
    /// ceil(q*count)-th smallest value, clamped to the exact min and max. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (_, high) = bucket_range(idx);
                return high.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Summary in microseconds.
    pub fn summary(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            mean_us: self.mean() / 1000.0,
            min_us: us(self.min()),
            p50_us: us(self.quantile(0.50)),
            p90_us: us(self.quantile(0.90)),
            p99_us: us(self.quantile(0.99)),
            max_us: us(self.max()),
        }
    }
}

/// Latency of one kind of operation, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub mean_us: f64,
    pub min_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// What one thread did in one phase. Times are offsets from a common phase epoch.
#[derive(Debug, Clone, Default)]
pub struct ThreadOutcome {
    pub ops: u64,
    pub bytes: u64,
    pub latency: Histogram,
    /// fsync latencies, when the phase fsyncs.
    pub fsync: Histogram,
    pub start: Duration,
    pub end: Duration,
}

/// Reduced figures of one phase over all threads.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseFigures {
    pub ops: u64,
    pub bytes: u64,
    /// Wall time from the first thread's start to the last thread's end.
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub mib_per_sec: f64,
    pub latency: LatencySummary,
    pub fsync: Option<LatencySummary>,
}

/// Reduces per-thread outcomes to phase figures. Rates are 0 when no time elapsed or nothing ran.
pub fn reduce(outcomes: &[ThreadOutcome]) -> PhaseFigures {
    let mut lat = Histogram::new();
    let mut fs = Histogram::new();
    let mut ops = 0;
    let mut bytes = 0;
    let mut first = None::<Duration>;
    let mut last = Duration::ZERO;
    for o in outcomes {
        lat.merge(&o.latency);
        fs.merge(&o.fsync);
        ops += o.ops;
        bytes += o.bytes;
        first = Some(first.map_or(o.start, |f| f.min(o.start)));
        last = last.max(o.end);
    }
    let seconds = last
        .saturating_sub(first.unwrap_or(Duration::ZERO))
        .as_secs_f64();
    let rate = |x: f64| if seconds > 0.0 { x / seconds } else { 0.0 };
    PhaseFigures {
        ops,
        bytes,
        seconds,
        ops_per_sec: rate(ops as f64),
        mib_per_sec: rate(bytes as f64 / (1u64 << 20) as f64),
        latency: lat.summary(),
        fsync: (fs.count() > 0).then(|| fs.summary()),
    }
}

/// Formats microseconds with a fitting unit (`850.0 us`, `1.25 ms`, `2.10 s`).
pub fn format_latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.1} us")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_their_values() {
        let mut prev_high = None::<u64>;
        for idx in 0..BUCKETS {
            let (low, high) = bucket_range(idx);
            assert!(low <= high);
            if let Some(p) = prev_high {
                assert_eq!(low, p + 1, "gap before bucket {idx}");
            }
            assert_eq!(bucket_of(low), idx);
            assert_eq!(bucket_of(high), idx);
            prev_high = Some(high);
        }
        assert_eq!(prev_high, Some(u64::MAX));
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), 50);
        assert_eq!(h.quantile(0.99), 99);
        assert_eq!(h.quantile(1.0), 100);
        assert_eq!(h.quantile(0.0), 1);
        assert_eq!(h.min(), 1);
        assert_eq!(h.max(), 100);
        assert!((h.mean() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn large_values_within_relative_precision() {
        let mut h = Histogram::new();
        // 1 us .. 10 s, geometric spread.
        let mut values = Vec::new();
        let mut v = 1000.0f64;
        while v < 1e10 {
            values.push(v as u64);
            v *= 1.01;
        }
        for &x in &values {
            h.record(x);
        }
        values.sort_unstable();
        for q in [0.1, 0.5, 0.9, 0.99] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = h.quantile(q) as f64;
            assert!(got >= exact, "q{q}: {got} < {exact}");
            assert!(
                (got - exact) / exact < 1.0 / 64.0 + 1e-9,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.quantile(1.0), *values.last().unwrap());
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let mut all = Histogram::new();
        for v in (0..5000u64).map(|i| i * 7919 % 100_000) {
            if v % 2 == 0 {
                a.record(v);
            } else {
                b.record(v);
            }
            all.record(v);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn empty_histogram_is_all_zero() {
        let h = Histogram::new();
        let s = h.summary();
        assert_eq!(s.mean_us, 0.0);
        assert_eq!(s.p99_us, 0.0);
        assert_eq!(s.max_us, 0.0);
        assert_eq!(s.min_us, 0.0);
    }

    #[test]
    fn reduce_uses_wall_time_across_threads() {
        let mut t1 = ThreadOutcome {
            ops: 100,
            bytes: 100 << 20,
            start: Duration::from_millis(0),
            end: Duration::from_millis(1000),
            ..Default::default()
        };
        t1.latency.record(10_000);
        let mut t2 = ThreadOutcome {
            ops: 300,
            bytes: 300 << 20,
            start: Duration::from_millis(500),
            end: Duration::from_millis(2000),
            ..Default::default()
        };
        t2.latency.record(30_000);
        t2.fsync.record(5_000_000);
        let f = reduce(&[t1, t2]);
        assert_eq!(f.ops, 400);
        assert_eq!(f.bytes, 400 << 20);
        assert!((f.seconds - 2.0).abs() < 1e-9);
        assert!((f.ops_per_sec - 200.0).abs() < 1e-9);
        assert!((f.mib_per_sec - 200.0).abs() < 1e-9);
        assert!((f.latency.mean_us - 20.0).abs() < 1e-9);
        let fs = f.fsync.unwrap();
        assert!((fs.max_us - 5000.0).abs() < 1e-9);
    }

    #[test]
    fn reduce_of_nothing_has_zero_rates() {
        let f = reduce(&[]);
        assert_eq!(f.ops, 0);
        assert_eq!(f.seconds, 0.0);
        assert_eq!(f.ops_per_sec, 0.0);
        assert!(f.fsync.is_none());
    }

    #[test]
    fn latency_formatting() {
        assert_eq!(format_latency(850.04), "850.0 us");
        assert_eq!(format_latency(1250.0), "1.25 ms");
        assert_eq!(format_latency(2_100_000.0), "2.10 s");
    }
}
