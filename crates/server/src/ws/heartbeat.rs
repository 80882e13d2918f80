//! One ticker drives heartbeats for every connection: no per-connection timers. Each tick,
//! every session's writer pings its peer and drops it if nothing arrived for two intervals.

use std::time::Duration;

use tokio::sync::watch;

/// Handle to the process's heartbeat ticker; cheap to clone. The ticker task ends when the
/// last handle and the last subscriber are gone.
#[derive(Clone)]
pub struct Heartbeat {
    ticks: watch::Receiver<u64>,
    period: Duration,
}

impl Heartbeat {
    /// Starts the ticker on the current runtime, ticking every `period` (at least 10 ms).
    pub fn start(period: Duration) -> Self {
        let period = period.max(Duration::from_millis(10));
        let (tx, ticks) = watch::channel(0u64);
        tokio::spawn(async move {
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => tx.send_modify(|n| *n += 1),
                    _ = tx.closed() => return,
                }
            }
        });
        Self { ticks, period }
    }

    /// A subscription that wakes on every tick.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        let mut ticks = self.ticks.clone();
        ticks.mark_unchanged();
        ticks
    }

    /// The interval between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}
