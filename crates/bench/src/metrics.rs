//! Latency histograms, percentile summaries and the run [`Report`] (a human table plus one
//! JSON line).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use hdrhistogram::Histogram;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Largest latency a histogram tracks, in microseconds (60 s); larger values are clamped.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A new latency histogram in microseconds, 1 µs .. [`MAX_LATENCY_US`], 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Latency recorder shared by many tasks: a few mutex-guarded histograms (shards), so tasks
/// on different worker threads rarely contend. Values are in microseconds.
pub struct LatencyRecorder {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl LatencyRecorder {
    /// A recorder with `shards` histograms (at least one).
    pub fn new(shards: usize) -> Self {
        Self { shards: (0..shards.max(1)).map(|_| Mutex::new(latency_histogram())).collect() }
    }

    /// A recorder with one shard per CPU this process may run on (as many as the runtime has
    /// workers), so a bench pinned to one CPU records into one histogram, which stays in the
    /// cache: with 16 shards (~150 KiB of counters each) the counter loads were 10% of the
    /// bench's CPU at 1,000,000 deliveries/s, nearly every one a cache miss.
    pub fn per_cpu() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Records one latency of `us` microseconds into the shard chosen by `key` (e.g. the
    /// connection index); values above [`MAX_LATENCY_US`] are clamped.
    pub fn record_us(&self, key: usize, us: u64) {
        let shard = &self.shards[key % self.shards.len()];
        let mut hist = shard.lock().unwrap_or_else(PoisonError::into_inner);
        hist.saturating_record(us.clamp(1, MAX_LATENCY_US));
    }

    /// How many histograms it holds.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// A handle for one task that records into the shard `key` picks (e.g. the task's index).
    pub fn shard(self: &Arc<Self>, key: usize) -> LatencyShard {
        LatencyShard { recorder: self.clone(), key }
    }

    /// All shards merged into one histogram.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = latency_histogram();
        for shard in &self.shards {
            all.add(&*shard.lock().unwrap_or_else(PoisonError::into_inner)).expect("same bounds");
        }
        all
    }
}

/// One task's handle on a shared [`LatencyRecorder`] ([`LatencyRecorder::shard`]): many tasks
/// record into a few histograms made before the measured window, not one each (136 KiB of
/// counters apiece, zeroed as the task starts).
#[derive(Clone)]
pub struct LatencyShard {
    recorder: Arc<LatencyRecorder>,
    key: usize,
}

impl LatencyShard {
    /// Records one latency of `us` microseconds (clamped as [`LatencyRecorder::record_us`]).
    pub fn record_us(&self, us: u64) {
        self.recorder.record_us(self.key, us);
    }
}

/// Percentiles of a latency histogram, in milliseconds (microsecond resolution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Number of samples.
    pub count: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Largest sample, ms.
    pub max_ms: f64,
}

impl Percentiles {
    /// Summarises a histogram of microsecond values; all zeros when it is empty.
    pub fn of(hist: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if hist.is_empty() {
            return Self { count: 0, p50_ms: 0.0, p90_ms: 0.0, p99_ms: 0.0, p999_ms: 0.0, max_ms: 0.0 };
        }
        Self {
            count: hist.len(),
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p90_ms: ms(hist.value_at_quantile(0.90)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            p999_ms: ms(hist.value_at_quantile(0.999)),
            max_ms: ms(hist.max()),
        }
    }

    /// Adds `<prefix>_p50_ms` ... `<prefix>_max_ms` rows to `report`.
    pub fn add_to(&self, report: &mut Report, prefix: &str) {
        report.result(&format!("{prefix}_samples"), self.count);
        for (name, value) in [
            ("p50", self.p50_ms),
            ("p90", self.p90_ms),
            ("p99", self.p99_ms),
            ("p999", self.p999_ms),
            ("max", self.max_ms),
        ] {
            report.result(&format!("{prefix}_{name}_ms"), round(value, 3));
        }
    }
}

/// `value` rounded to `digits` decimals (for readable JSON).
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Everything one run reports: its parameters and its results, each an ordered list of
/// `(key, value)` pairs. Keys carry their unit (`_ms`, `_per_s`, `_kib`, `_us_per_delivery`).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Scenario name (`fanout`, `rooms`, ...).
    pub scenario: String,
    /// Parameters, in insertion order.
    pub params: Vec<(String, Value)>,
    /// Results, in insertion order.
    pub results: Vec<(String, Value)>,
}

impl Report {
    /// An empty report for `scenario`.
    pub fn new(scenario: &str) -> Self {
        Self { scenario: scenario.into(), ..Self::default() }
    }

    /// Adds a parameter.
    pub fn param(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Adds a result.
    pub fn result(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.results.push((key.into(), value.into()));
        self
    }

    /// The result under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.results.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A two-column table: parameters, then results.
    pub fn table(&self) -> String {
        let width = self.params.iter().chain(&self.results).map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = format!("== {} ==\n", self.scenario);
        for (title, rows) in [("parameters", &self.params), ("results", &self.results)] {
            let _ = writeln!(out, "-- {title}");
            for (key, value) in rows {
                let shown = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(out, "  {key:<width$}  {shown}");
            }
        }
        out
    }

    /// One JSON line: `{"scenario": ..., "params": {...}, "results": {...}}`, keys in order.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }
}

/// Ordered `(key, value)` pairs as a JSON object.
struct Ordered<'a>(&'a [(String, Value)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("scenario", &self.scenario)?;
        map.serialize_entry("params", &Ordered(&self.params))?;
        map.serialize_entry("results", &Ordered(&self.results))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram_in_ms() {
        let rec = LatencyRecorder::new(4);
        for us in 1..=1000u64 {
            rec.record_us(us as usize, us * 10); // 10 µs .. 10 ms, uniform
        }
        let p = Percentiles::of(&rec.merged());
        assert_eq!(p.count, 1000);
        assert!((p.p50_ms - 5.0).abs() < 0.01, "{p:?}");
        assert!((p.p90_ms - 9.0).abs() < 0.01, "{p:?}");
        assert!((p.p99_ms - 9.9).abs() < 0.01, "{p:?}");
        assert!((p.max_ms - 10.0).abs() < 0.01, "{p:?}");
        assert_eq!(Percentiles::of(&latency_histogram()).count, 0);
    }

    #[test]
    fn tasks_record_through_their_shards_into_one_recorder() {
        let rec = Arc::new(LatencyRecorder::new(2));
        let shards: Vec<_> = (0..3).map(|task| rec.shard(task)).collect();
        for (i, shard) in shards.iter().enumerate() {
            shard.record_us(1000 * (i as u64 + 1));
        }
        shards[0].record_us(0); // clamped to 1 µs
        let p = Percentiles::of(&rec.merged());
        assert_eq!(p.count, 4);
        assert!((p.max_ms - 3.0).abs() < 0.01, "{p:?}");
    }

    #[test]
    fn huge_latencies_are_clamped_not_lost() {
        let rec = LatencyRecorder::new(1);
        rec.record_us(0, u64::MAX);
        rec.record_us(0, 0);
        let p = Percentiles::of(&rec.merged());
        assert_eq!(p.count, 2);
        assert!(p.max_ms >= 59_000.0);
    }

    #[test]
    fn reports_print_a_table_and_an_ordered_json_line() {
        let mut r = Report::new("fanout");
        r.param("members", 5).param("rate_per_s", 20.0);
        r.result("lost", 0).result("p99_ms", round(1.23456, 3)).result("note", "ok");
        let json = r.json_line();
        assert_eq!(
            json,
            r#"{"scenario":"fanout","params":{"members":5,"rate_per_s":20.0},"results":{"lost":0,"p99_ms":1.235,"note":"ok"}}"#
        );
        assert!(!json.contains('\n'));
        let table = r.table();
        assert!(table.contains("== fanout =="));
        assert!(table.contains("  p99_ms      1.235"), "{table}");
        assert!(table.contains("  note        ok"), "{table}");
        assert_eq!(r.get("lost"), Some(&Value::from(0)));
    }
}
