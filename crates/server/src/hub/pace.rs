//! How often a connection's socket is written, shared by its task and the outbox's
//! direct writes: a busy socket is paced (its frames wait up to [`WRITE_PACE`] to share one
//! write), a quiet one is written at once; and per channel ([`FanoutPace`]), whether a
//! fan-out may write directly at all, and how long a channel flush waits.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Shortest time between two flushes of a busy socket. Once a socket has been flushed
/// [`BUSY_FLUSHES`] times in a row with less than this between flushes (a busy channel), a
/// frame arriving sooner waits out the rest in the writer, so frames arriving meanwhile share
/// one socket write: one `send` syscall per pace instead of one per frame, for at most this
/// much latency. A socket with occasional traffic is written at once (directly, when idle).
pub const WRITE_PACE: Duration = Duration::from_millis(2);
/// Consecutive close flushes after which a socket counts as busy (see [`WRITE_PACE`]).
const BUSY_FLUSHES: u32 = 4;

/// When the socket was last flushed (µs on a process-wide monotonic clock) and how many
/// flushes in a row came within [`WRITE_PACE`]. Only the socket's current owner (the writer,
/// or the producer that claimed it) touches it, so relaxed atomics suffice.
#[derive(Default)]
pub struct Pace {
    last_flush_us: AtomicU64,
    close_flushes: AtomicU32,
}

impl Pace {
    /// Called before a flush: how long to hold it back, if the socket is busy and the peer
    /// not `talking` (a peer that sent a frame lately waits for an answer, so its frames are
    /// never held back). Counts the flush as close when it comes within [`WRITE_PACE`].
    pub fn hold(&self, talking: bool) -> Option<Duration> {
        self.hold_at(mono_us(), talking)
    }

    /// [`Pace::hold`] at `now_us` (a [`PassClock`] reading).
    pub fn hold_at(&self, now_us: u64, talking: bool) -> Option<Duration> {
        let since = Duration::from_micros(now_us.saturating_sub(self.last_flush_us.load(Ordering::Relaxed)));
        if since >= WRITE_PACE {
            self.close_flushes.store(0, Ordering::Relaxed);
            return None;
        }
        let close = self.close_flushes.load(Ordering::Relaxed) + 1;
        self.close_flushes.store(close, Ordering::Relaxed);
        (close >= BUSY_FLUSHES && !talking).then(|| WRITE_PACE - since)
    }

    /// Records a flush, now.
    pub fn flushed(&self) {
        self.flushed_at(mono_us());
    }

    /// Records a flush at `now_us` (a [`PassClock`] reading).
    pub fn flushed_at(&self, now_us: u64) {
        self.last_flush_us.store(now_us, Ordering::Relaxed);
    }

    /// Whether the socket is quiet enough for direct writes (not busy).
    pub fn quiet(&self) -> bool {
        self.close_flushes.load(Ordering::Relaxed) < BUSY_FLUSHES
    }
}

/// Slots of [`FanoutPace`]; channels share a slot when their ids hash alike (then a busy
/// channel may briefly make a quiet one queue as well, nothing worse).
const FANOUT_SLOTS: usize = 1024;

/// Longest a channel flush waits (see [`FanoutPace::flush_delay`]).
pub const MAX_FLUSH_DELAY: Duration = Duration::from_millis(10);

/// A channel's fan-outs count as back to back when one starts less than this many times its
/// last direct fan-out's duration after the previous one ended (and less than [`WRITE_PACE`]):
/// then the channel's writes fill at least a fifth of the time, and sharing them pays. A
/// channel of 1,000 (a few ms per fan-out) is measured against [`WRITE_PACE`] as before; a room
/// of five (~20 µs) against ~80 µs, so two messages close together in a small room are both
/// written at once instead of the second waiting [`WRITE_PACE`] for a flush.
const BACK_TO_BACK: u64 = 4;

/// When each channel's last fan-out ended and how long its writes took, so a channel whose
/// broadcasts run back to back is delivered by a channel flush (see [`super::flush`]: what
/// piles up per socket meanwhile shares one `send`) instead of directly (one `send` per frame).
/// Without it, direct writes would make an overloaded fan-out ever slower: no frame would
/// wait long enough to share a write. Fixed size (13 KiB), lock-free.
pub struct FanoutPace {
    ended_us: Box<[AtomicU64]>,
    /// How long the channel's last direct fan-out took (µs of wall time): one frame written
    /// to each subscriber's socket.
    took_us: Box<[AtomicU32]>,
    /// Whether the channel's last flush found frames piling up (see [`FanoutPace::flushed`]).
    piling: Box<[AtomicBool]>,
}

impl Default for FanoutPace {
    fn default() -> Self {
        Self {
            ended_us: (0..FANOUT_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            took_us: (0..FANOUT_SLOTS).map(|_| AtomicU32::new(0)).collect(),
            piling: (0..FANOUT_SLOTS).map(|_| AtomicBool::new(false)).collect(),
        }
    }
}

impl FanoutPace {
    fn index(channel: Uuid) -> usize {
        let (high, low) = channel.as_u64_pair();
        ((high ^ low) as usize) % FANOUT_SLOTS
    }

    /// Whether a fan-out to `channel` starting now may write directly: its previous one ended
    /// at least the channel's gap ago ([`BACK_TO_BACK`] times its last direct fan-out's
    /// duration, at most [`WRITE_PACE`]).
    pub fn direct(&self, channel: Uuid) -> bool {
        let i = Self::index(channel);
        let since = mono_us().saturating_sub(self.ended_us[i].load(Ordering::Relaxed));
        since >= self.gap_us(i)
    }

    /// The channel in slot `i`'s gap between fan-outs below which they count as back to back,
    /// µs (see [`BACK_TO_BACK`]).
    fn gap_us(&self, i: usize) -> u64 {
        (u64::from(self.took_us[i].load(Ordering::Relaxed)) * BACK_TO_BACK).min(WRITE_PACE.as_micros() as u64)
    }

    /// Records that a fan-out to `channel` ended now; `took` is how long it took, for a
    /// direct one (one frame per socket; a queued one or a flush passes `None`).
    pub fn ended(&self, channel: Uuid, took: Option<Duration>) {
        let i = Self::index(channel);
        self.ended_us[i].store(mono_us(), Ordering::Relaxed);
        if let Some(took) = took {
            self.took_us[i].store(took.as_micros().min(u32::MAX as u128) as u32, Ordering::Relaxed);
        }
    }

    /// Records whether `channel`'s flush that just ran found frames piling up (more than
    /// one per socket on average, the caller's measure).
    pub fn flushed(&self, channel: Uuid, piling: bool) {
        self.piling[Self::index(channel)].store(piling, Ordering::Relaxed);
    }

    /// Whether `channel`'s last flush found frames piling up (tests).
    #[cfg(test)]
    pub(crate) fn piling(&self, channel: Uuid) -> bool {
        self.piling[Self::index(channel)].load(Ordering::Relaxed)
    }

    /// How long a channel flush of `channel` waits: the channel's gap between fan-outs (see
    /// [`FanoutPace::direct`]: [`WRITE_PACE`] for a large channel, less for a small one),
    /// unless its last flush found frames piling up; then as long as its last direct fan-out
    /// took (a channel of 1,000 takes a few ms), so that a busy channel's frames share writes,
    /// at least [`WRITE_PACE`], at most [`MAX_FLUSH_DELAY`].
    pub fn flush_delay(&self, channel: Uuid) -> Duration {
        let i = Self::index(channel);
        if !self.piling[i].load(Ordering::Relaxed) {
            return Duration::from_micros(self.gap_us(i));
        }
        let took = Duration::from_micros(self.took_us[i].load(Ordering::Relaxed).into());
        took.clamp(WRITE_PACE, MAX_FLUSH_DELAY)
    }
}

/// Writes of one pass that share a [`PassClock`] reading before it is read again: a pass
/// over 1,000 idle sockets reads the clock 32 times instead of 2,000 (two `clock_gettime`
/// per write were ~3% of the server's CPU at λ=50), and a reading is at most 32 writes
/// (~0.3 ms) old, well inside [`WRITE_PACE`].
const PASS_CLOCK_WRITES: u32 = 32;

/// The monotonic clock as one pass of writes (a fan-out, a channel flush) reads it for the
/// sockets' [`Pace`]: read on first use, then again every [`PASS_CLOCK_WRITES`] readings.
#[derive(Default)]
pub struct PassClock {
    now_us: u64,
    /// Readings given since the clock was last read.
    given: u32,
}

impl PassClock {
    /// µs on the process-wide monotonic clock [`Pace`] uses, at most [`PASS_CLOCK_WRITES`]
    /// readings old.
    pub fn now_us(&mut self) -> u64 {
        if self.given.is_multiple_of(PASS_CLOCK_WRITES) {
            self.now_us = mono_us();
        }
        self.given = self.given.wrapping_add(1);
        self.now_us
    }
}

/// Microseconds since the first call, on a monotonic clock; never 0 after the first call
/// (so a fresh [`Pace`]'s last flush counts as long ago).
fn mono_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(|| {
        let now = Instant::now();
        now.checked_sub(Duration::from_secs(1)).unwrap_or(now)
    });
    start.elapsed().as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_flushed_in_quick_succession_gets_paced_unless_its_peer_is_talking() {
        let pace = Pace::default();
        // The first flush, then close ones: the BUSY_FLUSHES-th close one waits.
        for _ in 0..BUSY_FLUSHES {
            assert_eq!(pace.hold(false), None);
            pace.flushed();
        }
        assert!(pace.quiet());
        let hold = pace.hold(false).expect("a busy socket's flush waits");
        assert!(hold <= WRITE_PACE);
        assert!(!pace.quiet(), "busy: no direct writes");
        assert_eq!(pace.hold(true), None, "a talking peer is never held back");
        std::thread::sleep(WRITE_PACE);
        assert_eq!(pace.hold(false), None, "a pause ends it");
        assert!(pace.quiet());
    }

    #[test]
    fn a_pass_clock_reads_the_clock_once_per_run_of_writes() {
        let mut clock = PassClock::default();
        let first = clock.now_us();
        assert!(first > 0, "read on first use");
        std::thread::sleep(Duration::from_millis(2));
        for _ in 1..PASS_CLOCK_WRITES {
            assert_eq!(clock.now_us(), first, "shared within a run");
        }
        assert!(clock.now_us() >= first + 2_000, "read again after {PASS_CLOCK_WRITES} writes");
    }

    #[test]
    fn a_channel_fanning_out_back_to_back_stops_writing_directly() {
        let fanouts = FanoutPace::default();
        let (busy, quiet) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(fanouts.direct(busy));
        // A large channel: its gap is the pace.
        fanouts.ended(busy, Some(Duration::from_millis(1)));
        assert!(!fanouts.direct(busy));
        assert!(FanoutPace::index(busy) == FanoutPace::index(quiet) || fanouts.direct(quiet));
        std::thread::sleep(WRITE_PACE);
        assert!(fanouts.direct(busy), "a pause ends it");
    }

    #[test]
    fn a_small_channel_counts_as_back_to_back_only_within_a_few_of_its_fan_outs() {
        let fanouts = FanoutPace::default();
        let (room, large) = (Uuid::from_u128(1), Uuid::from_u128(2));
        fanouts.ended(room, Some(Duration::from_micros(20)));
        fanouts.ended(large, Some(Duration::from_millis(5)));
        assert_eq!(fanouts.gap_us(FanoutPace::index(room)), 80, "four fan-outs of 20 µs");
        assert_eq!(fanouts.gap_us(FanoutPace::index(large)), WRITE_PACE.as_micros() as u64, "at most the pace");
        assert_eq!(fanouts.flush_delay(room), Duration::from_micros(80), "a queued room waits its gap, not the pace");
        std::thread::sleep(Duration::from_micros(200));
        assert!(fanouts.direct(room), "200 µs after its last fan-out a room writes directly again");
    }

    #[test]
    fn a_channel_whose_writes_take_long_waits_longer_for_its_flush() {
        let fanouts = FanoutPace::default();
        let (small, large, huge) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(fanouts.flush_delay(small), Duration::ZERO, "never written directly: no gap");
        for channel in [small, large, huge] {
            fanouts.flushed(channel, true);
        }
        fanouts.ended(small, Some(Duration::from_micros(40)));
        fanouts.ended(large, Some(Duration::from_millis(4)));
        fanouts.ended(huge, Some(Duration::from_millis(60)));
        assert_eq!(fanouts.flush_delay(small), WRITE_PACE);
        assert_eq!(fanouts.flush_delay(large), Duration::from_millis(4));
        assert_eq!(fanouts.flush_delay(huge), MAX_FLUSH_DELAY);
        fanouts.ended(large, None);
        assert_eq!(fanouts.flush_delay(large), Duration::from_millis(4), "a queued fan-out keeps the last figure");
        fanouts.flushed(large, false);
        assert_eq!(fanouts.flush_delay(large), WRITE_PACE, "frames stopped piling up: the pace");
    }
}
