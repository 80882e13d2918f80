//! The bench's monotonic clock and the timestamped message body.
//!
//! Every task of the process measures time against ONE [`Instant`] taken at start-up (the
//! epoch), so a send instant written into a message body by one task can be subtracted from the
//! receive instant read by another. Bodies look like `t=<ns since epoch>;xxxx...`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The bench epoch: the first call fixes it (call it once at start-up).
pub fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the bench epoch (monotonic).
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// The instant `ns` nanoseconds after the bench epoch.
pub fn at_ns(ns: u64) -> Instant {
    epoch() + Duration::from_nanos(ns)
}

/// Prefix of every bench message body.
const PREFIX: &str = "t=";

/// A message body carrying `sent_ns` (nanoseconds since the epoch), padded with `x` to
/// `body_bytes` bytes; never shorter than the stamp itself (`t=<ns>;`).
pub fn body(sent_ns: u64, body_bytes: usize) -> String {
    let mut body = format!("{PREFIX}{sent_ns};");
    if body.len() < body_bytes {
        body.extend(std::iter::repeat_n('x', body_bytes - body.len()));
    }
    body
}

/// The send instant (nanoseconds since the epoch) in a body made by [`body`]; `None` for any
/// other text.
pub fn parse_body(body: &str) -> Option<u64> {
    parse_body_bytes(body.as_bytes())
}

/// [`parse_body`] of a body's bytes as they appear in a frame's JSON (the stamp is ASCII, so
/// whatever follows it need not be decoded).
pub fn parse_body_bytes(body: &[u8]) -> Option<u64> {
    let rest = body.strip_prefix(PREFIX.as_bytes())?;
    let (ns, digits) = leading_number(rest)?;
    (rest.get(digits) == Some(&b';')).then_some(ns)
}

/// The decimal number `bytes` starts with, and how many digits it has; `None` without a digit
/// or on overflow.
pub fn leading_number(bytes: &[u8]) -> Option<(u64, usize)> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut n = 0u64;
    for &b in &bytes[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((n, digits))
}

/// Converts nanoseconds to microseconds, rounding up so a positive delay is never 0 µs.
pub fn ns_to_us_ceil(ns: u64) -> u64 {
    ns.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_the_stamp_and_the_requested_size() {
        let b = body(123_456_789, 64);
        assert_eq!(b.len(), 64);
        assert!(b.starts_with("t=123456789;x"));
        assert_eq!(parse_body(&b), Some(123_456_789));
        // Too small a size still carries the whole stamp.
        assert_eq!(body(42, 1), "t=42;");
        assert_eq!(parse_body("t=42;"), Some(42));
    }

    #[test]
    fn foreign_bodies_have_no_stamp() {
        for text in ["hello", "t=;", "t=12", "t=1x;", "x=1;", "", "t=99999999999999999999;"] {
            assert_eq!(parse_body(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_clock_is_monotonic_from_one_epoch() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        assert_eq!(at_ns(a).duration_since(epoch()).as_nanos() as u64, a);
        assert_eq!(ns_to_us_ceil(1), 1);
        assert_eq!(ns_to_us_ceil(2_000), 2);
    }
}
