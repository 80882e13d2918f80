//! How often a connection's socket is written, shared by its writer task and the outbox's
//! direct writes: a busy socket is paced (its frames wait up to [`WRITE_PACE`] to share one
//! write), a quiet one is written at once.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
        let since = Duration::from_micros(mono_us().saturating_sub(self.last_flush_us.load(Ordering::Relaxed)));
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
        self.last_flush_us.store(mono_us(), Ordering::Relaxed);
    }

    /// Whether the socket is quiet enough for direct writes (not busy).
    pub fn quiet(&self) -> bool {
        self.close_flushes.load(Ordering::Relaxed) < BUSY_FLUSHES
    }
}

/// Microseconds since the first call, on a monotonic clock; never 0 after the first call
/// (so a fresh [`Pace`]'s last flush counts as long ago).
fn mono_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(|| Instant::now() - Duration::from_secs(1));
    start.elapsed().as_micros() as u64
}
