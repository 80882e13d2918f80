//! A hiccup meter in the style of jHiccup: a plain OS thread that sleeps [`TICK`] in a loop and
//! records by how much each sleep overshot. Whatever stalls it (the hypervisor taking the CPU,
//! other processes, the bench's own busy threads on the same core, page faults) stalls every
//! other thread on that CPU too, so its tail is the latency floor the machine imposes: a
//! message latency tail is only the server's when it is well above the hiccup max.
//!
//! The thread is a `std::thread`, not a tokio task, so it measures the CPU rather than the
//! bench's runtime. It inherits the CPU affinity of the thread that starts it, which is the
//! bench process's (`scripts/bench` pins the bench with `taskset` to one CPU): it measures
//! stalls of the bench's CPU.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::metrics::{latency_histogram, round, Percentiles, Report, MAX_LATENCY_US};

/// How long the meter's thread asks to sleep each time (1 ms, as jHiccup's default).
pub const TICK: Duration = Duration::from_millis(1);

/// Records, into a microsecond histogram from [`latency_histogram`], the overshoot of one
/// sleep that asked for [`TICK`] and took `elapsed`: `elapsed − TICK`, at least 1 µs and at
/// most [`MAX_LATENCY_US`]. Like jHiccup, it corrects for coordinated omission: an overshoot of
/// k ticks or more also records the k overshoots a thread that kept ticking would have seen
/// (overshoot − 1 tick, − 2 ticks, ... down to one tick), so percentiles are fractions of the
/// measured time rather than of the sleeps that happened to complete.
pub fn record_tick(hist: &mut Histogram<u64>, elapsed: Duration) {
    let tick_us = TICK.as_micros() as u64;
    let overshoot_us = (elapsed.saturating_sub(TICK).as_micros() as u64).clamp(1, MAX_LATENCY_US);
    hist.record_correct(overshoot_us, tick_us).expect("a clamped value fits the histogram");
}

/// A running hiccup meter: its thread ticks from [`HiccupMeter::start`] until
/// [`HiccupMeter::finish`] (or until it is dropped).
pub struct HiccupMeter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Histogram<u64>>>,
}

impl HiccupMeter {
    /// Starts the meter's thread (named `hiccup`), or `None` when no thread can be spawned.
    /// It inherits the calling thread's CPU affinity (see the module docs).
    pub fn start() -> Option<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::Builder::new().name("hiccup".into()).spawn(move || measure(&flag)).ok()?;
        Some(Self { stop, thread: Some(thread) })
    }

    /// Stops the thread (within about one tick, or one stall), joins it and returns its
    /// overshoots as a microsecond histogram (see [`record_tick`]); empty if the thread panicked.
    pub fn finish(mut self) -> Histogram<u64> {
        self.stop_and_join().unwrap_or_else(latency_histogram)
    }

    /// Raises the stop flag and joins the thread, once.
    fn stop_and_join(&mut self) -> Option<Histogram<u64>> {
        self.stop.store(true, Ordering::Release);
        self.thread.take()?.join().ok()
    }
}

impl Drop for HiccupMeter {
    /// A window abandoned on an error path must not leave the thread ticking.
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The meter's loop: sleep [`TICK`], record the overshoot, until `stop` is raised.
fn measure(stop: &AtomicBool) -> Histogram<u64> {
    let mut hist = latency_histogram();
    while !stop.load(Ordering::Acquire) {
        let before = Instant::now();
        thread::sleep(TICK);
        record_tick(&mut hist, before.elapsed());
    }
    hist
}

/// The report keys [`add_to`] writes, in order: the hiccups' p99, p99.9 and max, in ms.
pub const REPORT_KEYS: [&str; 3] = ["machine_hiccup_p99_ms", "machine_hiccup_p999_ms", "machine_hiccup_max_ms"];

/// Adds the [`REPORT_KEYS`] (ms, 3 decimals) of a histogram from [`HiccupMeter::finish`] to
/// `report`; nothing when it is empty (the meter saw no tick).
pub fn add_to(hist: &Histogram<u64>, report: &mut Report) {
    if hist.is_empty() {
        return;
    }
    let p = Percentiles::of(hist);
    for (key, ms) in REPORT_KEYS.into_iter().zip([p.p99_ms, p.p999_ms, p.max_ms]) {
        report.result(key, round(ms, 3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overshoot_is_recorded_in_us_with_the_missed_ticks() {
        let mut hist = latency_histogram();
        record_tick(&mut hist, Duration::from_micros(1_050));
        assert_eq!((hist.len(), hist.max()), (1, 50));
        // Faster than asked (cannot happen with sleep, but must not underflow): 1 µs.
        record_tick(&mut hist, Duration::from_micros(900));
        assert_eq!((hist.len(), hist.min()), (2, 1));
        // A 4.5 ms stall: 3.5 ms, plus the 2.5 and 1.5 ms a ticking thread would have seen.
        let mut stalled = latency_histogram();
        record_tick(&mut stalled, Duration::from_micros(4_500));
        assert_eq!(stalled.len(), 3);
        for us in [3_500, 2_500, 1_500] {
            assert_eq!(stalled.count_at(us), 1, "{us} µs");
        }
        // A stall beyond the histogram is clamped, not lost.
        let mut huge = latency_histogram();
        record_tick(&mut huge, Duration::from_secs(3600));
        assert!(huge.max() >= MAX_LATENCY_US - MAX_LATENCY_US / 1000);
    }

    #[test]
    fn the_meter_ticks_until_finished() {
        let meter = HiccupMeter::start().expect("a thread");
        thread::sleep(Duration::from_millis(200));
        let hist = meter.finish();
        // About 200 ticks on an idle machine; a loaded CI machine gets fewer, and longer ones.
        assert!(hist.len() > 50, "{} ticks", hist.len());
        let p50_ms = Percentiles::of(&hist).p50_ms;
        assert!(p50_ms < 5.0, "p50 {p50_ms} ms");
    }

    #[test]
    fn a_dropped_meter_stops_its_thread() {
        let meter = HiccupMeter::start().expect("a thread");
        let stop = meter.stop.clone();
        drop(meter);
        assert!(stop.load(Ordering::Acquire));
        assert_eq!(Arc::strong_count(&stop), 1, "the thread's flag was dropped: it ended");
    }

    #[test]
    fn the_report_gets_three_rounded_ms_figures() {
        let mut hist = latency_histogram();
        for _ in 0..999 {
            record_tick(&mut hist, Duration::from_micros(1_080));
        }
        record_tick(&mut hist, Duration::from_micros(1_000 + 12_345));
        let mut report = Report::new("x");
        add_to(&hist, &mut report);
        let keys: Vec<&str> = report.results.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["machine_hiccup_p99_ms", "machine_hiccup_p999_ms", "machine_hiccup_max_ms"]);
        // The 12.345 ms stall added 12 samples (12.345 .. 1.345 ms) to the 999 ticks of 80 µs.
        assert_eq!(hist.len(), 1011);
        // One stall in 1000 ticks still shows in p99 (uncorrected, p99 would be 0.08 ms).
        let p99 = report.get("machine_hiccup_p99_ms").and_then(|v| v.as_f64()).expect("p99");
        assert!((1.3..3.4).contains(&p99), "{p99}");
        let max = report.get("machine_hiccup_max_ms").and_then(|v| v.as_f64()).expect("max");
        assert!((max - 12.345).abs() < 0.02, "{max}");

        let mut empty = Report::new("x");
        add_to(&latency_histogram(), &mut empty);
        assert!(empty.results.is_empty());
    }
}
