//! One ticker drives heartbeats for every connection: no per-connection timers and no
//! per-connection subscription. Each tick it marks every connection of this node
//! ([`crate::hub::Hub::heartbeat`]); each session then pings its peer, or drops it if nothing
//! arrived for two intervals.

use std::time::Duration;

use crate::config::Config;
use crate::state::AppState;

/// The interval between ticks: `heartbeat_ms`, at least 10 ms.
pub fn period(config: &Config) -> Duration {
    Duration::from_millis(config.heartbeat_ms).max(Duration::from_millis(10))
}

/// Starts the ticker; it ends when the application stops ([`AppState::stop`]).
pub fn start_ticker(state: AppState) -> tokio::task::JoinHandle<()> {
    let period = period(&state.config);
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => state.hub.heartbeat(),
                _ = state.stop.cancelled() => return,
            }
        }
    })
}
