//! Timestamps on the wire: RFC 3339 in UTC with `Z`, with fractional seconds only as precise
//! as the value needs (none, or 3, 6 or 9 digits): the text of chrono's own serde format
//! (`SecondsFormat::AutoSi`), written into a stack buffer and serialized as one string.
//!
//! chrono serializes through `collect_str`, which hands serde_json the text one character at a
//! time through `fmt::Write`, each checked for escaping: with two timestamps in a message event
//! and one in an `ack`, that was half of the JSON encoding of a send (session 10's `persist`
//! profile). Years outside 0–9999 and leap seconds, which never come from the server's clock,
//! are left to chrono. Only serialization changes; fields still deserialize with chrono.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// Longest text [`write()`] produces: `9999-12-31T23:59:59.123456789Z`.
const MAX_LEN: usize = 30;

/// Serializes `at` as chrono does (for `#[serde(serialize_with)]`).
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = [0u8; MAX_LEN];
    match write(at, &mut text) {
        Some(len) => serializer.serialize_str(std::str::from_utf8(&text[..len]).expect("ASCII digits")),
        None => serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// Serializes an optional timestamp as serde would (`null` or the timestamp), for
/// `#[serde(serialize_with)]`.
pub fn serialize_opt<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// Writes `at`'s RFC 3339 text into `out` and returns its length, or `None` for a year outside
/// 0–9999 or a leap second (chrono writes those).
fn write(at: &DateTime<Utc>, out: &mut [u8; MAX_LEN]) -> Option<usize> {
    let (year, nano) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return None;
    }
    let year = year as u32;
    let fields = [year / 100, year % 100, at.month(), at.day(), at.hour(), at.minute(), at.second()];
    // Where each two-digit field goes in `YYYY-MM-DDTHH:MM:SS`, and the separator after it.
    let places =
        [(0, None), (2, Some(b'-')), (5, Some(b'-')), (8, Some(b'T')), (11, Some(b':')), (14, Some(b':')), (17, None)];
    for (value, (index, after)) in fields.into_iter().zip(places) {
        out[index] = b'0' + (value / 10) as u8;
        out[index + 1] = b'0' + (value % 10) as u8;
        if let Some(separator) = after {
            out[index + 2] = separator;
        }
    }
    let (digits, mut fraction) = match nano {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (3, n / 1_000_000),
        n if n % 1_000 == 0 => (6, n / 1_000),
        n => (9, n),
    };
    let mut len = 19;
    if digits > 0 {
        out[len] = b'.';
        for i in (0..digits).rev() {
            out[len + 1 + i] = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
        len += 1 + digits;
    }
    out[len] = b'Z';
    Some(len + 1)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "serialize")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "serialize_opt")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chronos {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    fn same(at: DateTime<Utc>) {
        let ours = serde_json::to_string(&Ours { at, maybe: Some(at) }).unwrap();
        assert_eq!(ours, serde_json::to_string(&Chronos { at, maybe: Some(at) }).unwrap(), "{at:?}");
    }

    #[test]
    fn the_text_is_chronos_for_every_precision_and_range() {
        // A fixed sequence of pseudo-random instants from year 0 to 9999, at whole seconds and
        // at millisecond, microsecond and nanosecond precision.
        let low = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap();
        let high = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
        let span = (high - low).num_seconds() as u64;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000u64 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let seconds = (state >> 11) % span;
            let nano = match i % 4 {
                0 => 0,
                1 => (state as u32 % 1000) * 1_000_000,
                2 => (state as u32 % 1_000_000) * 1_000,
                _ => state as u32 % 1_000_000_000,
            };
            same(low + chrono::Duration::seconds(seconds as i64) + chrono::Duration::nanoseconds(nano as i64));
        }
        for at in [
            low,
            high,
            Utc.timestamp_millis_opt(0).unwrap(),
            Utc.timestamp_millis_opt(1_796_000_000_123).unwrap(),
            Utc.timestamp_nanos(1_796_000_000_000_000_010),
            Utc.timestamp_nanos(1_796_000_000_000_100_000),
        ] {
            same(at);
        }
    }

    #[test]
    fn out_of_range_years_and_leap_seconds_are_chronos_too() {
        same(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap());
        same(Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap());
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000);
        same(Utc.from_utc_datetime(&leap.unwrap()));
        let none = serde_json::to_string(&Ours { at: Utc.timestamp_millis_opt(5).unwrap(), maybe: None }).unwrap();
        assert_eq!(none, r#"{"at":"1970-01-01T00:00:00.005Z","maybe":null}"#);
    }
}
