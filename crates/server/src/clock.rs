//! Clock helpers: the store keeps Unix milliseconds, the wire carries RFC 3339; [`ticks_ms`]
//! measures short spans.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Milliseconds on a monotonic clock since its first reading in this process, wrapping at
/// 2^32 (49.7 days): for spans shorter than that, taken with `wrapping_sub`, in four bytes
/// and unmoved by wall-clock steps.
pub fn ticks_ms() -> u32 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u32
}

/// Unix milliseconds to a UTC time (out-of-range values clamp to the epoch).
pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
