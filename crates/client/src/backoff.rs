//! [`Backoff`]: when a client reconnects after losing its connection ([`crate::Reliable`]):
//! exponential ceilings with full jitter, so many clients of a restarted server spread out.

use std::time::Duration;

/// Reconnection timing: attempt `n` waits a random time in `[0, min(max, base · 2ⁿ)]`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First ceiling (default 200 ms).
    pub base: Duration,
    /// Largest ceiling (default 10 s).
    pub max: Duration,
    /// Attempts before giving up with the last error (default: unlimited).
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(200), max: Duration::from_secs(10), max_attempts: None }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (0-based), with full jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.max);
        ceiling.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter() {
        let b = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(1), max_attempts: None };
        for attempt in 0..20 {
            let ceiling = Duration::from_millis(100).saturating_mul(1 << attempt.min(16)).min(Duration::from_secs(1));
            assert!(b.delay(attempt) <= ceiling);
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| b.delay(3)).collect();
        assert!(spread.len() > 1, "jittered");
    }
}
