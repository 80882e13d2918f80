//! The server's CPU time per thread name, from `/proc/PID/task/TID/{comm,schedstat}`: which of
//! its threads (the async runtime's workers, a database writer, a checkpointer...) the time of
//! a window went to, so a report says which one a target waits on.

use std::collections::{BTreeMap, HashMap};

use crate::proc::parse_schedstat;

/// CPU time run so far by each live thread of a process: thread id → (name, nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadTimes(HashMap<u32, (String, u64)>);

impl ThreadTimes {
    /// Samples every live thread of process `pid`; empty if `/proc` cannot be read. A thread
    /// that exits between listing and reading is skipped.
    pub fn sample(pid: u32) -> Self {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Self::default() };
        let threads = tasks
            .flatten()
            .filter_map(|task| {
                let tid = task.file_name().to_str()?.parse().ok()?;
                let name = std::fs::read_to_string(task.path().join("comm")).ok()?.trim_end().to_owned();
                let (ns, _) = parse_schedstat(&std::fs::read_to_string(task.path().join("schedstat")).ok()?)?;
                Some((tid, (name, ns)))
            })
            .collect();
        Self(threads)
    }

    /// Adds one thread's sample (as [`ThreadTimes::sample`] reads it).
    pub fn insert(&mut self, tid: u32, name: &str, ns: u64) {
        self.0.insert(tid, (name.to_owned(), ns));
    }

    /// CPU nanoseconds per thread name run between `earlier` and `self` (a thread started in
    /// between counts from zero; one that ended in between is lost), names sorted.
    pub fn since(&self, earlier: &ThreadTimes) -> BTreeMap<String, u64> {
        let mut by_name = BTreeMap::new();
        for (tid, (name, ns)) in &self.0 {
            let before = earlier.0.get(tid).filter(|(n, _)| n == name).map_or(0, |&(_, ns)| ns);
            *by_name.entry(name.clone()).or_insert(0) += ns.saturating_sub(before);
        }
        by_name
    }
}

/// The report's text for [`ThreadTimes::since`]: `name time` pairs (CPU µs per `per` units, or
/// the window's total in ms when `per` is 0), largest first, threads under 1% of the total
/// left out; e.g. `"tokio-rt-worker 21.4, banter-sqlite-w 18.9"`.
pub fn summary(by_name: &BTreeMap<String, u64>, per: u64) -> String {
    let total: u64 = by_name.values().sum();
    let mut rows: Vec<_> = by_name.iter().filter(|&(_, &ns)| ns * 100 >= total.max(1)).collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    rows.iter()
        .map(|(name, &ns)| match per {
            0 => format!("{name} {:.1}", ns as f64 / 1e6),
            n => format!("{name} {:.2}", ns as f64 / 1e3 / n as f64),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_summed_per_name_and_new_threads_count_from_zero() {
        let mut before = ThreadTimes::default();
        before.insert(1, "worker", 1_000_000);
        before.insert(2, "worker", 5_000_000);
        before.insert(3, "writer", 2_000_000);
        let mut after = ThreadTimes::default();
        after.insert(1, "worker", 4_000_000);
        after.insert(2, "worker", 6_000_000);
        after.insert(3, "writer", 9_000_000);
        after.insert(4, "fresh", 500_000);
        // A reused thread id under another name is a new thread.
        after.insert(5, "renamed", 300_000);
        before.insert(5, "old", 200_000);
        let since = after.since(&before);
        let expected = [("fresh", 500_000), ("renamed", 300_000), ("worker", 4_000_000), ("writer", 7_000_000)];
        assert_eq!(since, expected.iter().map(|&(n, ns)| (n.to_owned(), ns)).collect());
        assert_eq!(summary(&since, 1_000), "writer 7.00, worker 4.00, fresh 0.50, renamed 0.30");
        assert_eq!(summary(&since, 0), "writer 7.0, worker 4.0, fresh 0.5, renamed 0.3");
    }

    #[test]
    fn threads_under_one_percent_are_left_out() {
        let since: BTreeMap<String, u64> = [("big".to_owned(), 990_000), ("tiny".to_owned(), 9_000)].into();
        assert_eq!(summary(&since, 1), "big 990.00");
    }

    #[test]
    fn this_process_threads_are_seen() {
        let spin = std::thread::Builder::new()
            .name("bench-test-spin".into())
            .spawn(|| {
                let start = std::time::Instant::now();
                while start.elapsed() < std::time::Duration::from_millis(30) {}
            })
            .unwrap();
        let before = ThreadTimes::sample(std::process::id());
        std::thread::sleep(std::time::Duration::from_millis(5));
        let after = ThreadTimes::sample(std::process::id());
        spin.join().unwrap();
        let since = after.since(&before);
        assert!(since.get("bench-test-spin").is_some_and(|&ns| ns > 0), "{since:?}");
    }
}
