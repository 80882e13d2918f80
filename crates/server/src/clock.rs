//! Wall-clock helpers: the store keeps Unix milliseconds, the wire carries RFC 3339.

use chrono::{DateTime, TimeZone, Utc};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Unix milliseconds to a UTC time (out-of-range values clamp to the epoch).
pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
