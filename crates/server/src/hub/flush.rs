//! Channel flushes: how a fan-out that runs back to back with the previous one in its channel
//! reaches the sockets.
//!
//! A lone fan-out writes to each idle socket directly (one `send` per subscriber, see
//! [`super::direct`]). Fan-outs in quick succession would make that one `send` per frame,
//! so they queue instead ([`super::pace::FanoutPace`] tells them apart). Queued the ordinary
//! way, each frame would wake every subscriber's task: a thousand task wake-ups per
//! fan-out, each writing the one or two frames it finds. Here they queue *quietly*
//! ([`Outbox::offer_later`]: an idle writer is not woken) and the channel gets one flush a
//! moment later that writes each subscriber's queued frames in one `send`
//! ([`Outbox::flush_due`]), however many fan-outs queued meanwhile; until it has run, every
//! fan-out of the channel queues for it. Under load that is one task wake-up and one write
//! per subscriber per flush, instead of one of each per frame.
//!
//! Which fan-outs count as back to back is relative to the channel's size: one that starts
//! within four times the channel's last direct fan-out's duration after the previous one
//! ended, and within [`WRITE_PACE`] (see [`FanoutPace::direct`]). A channel of 1,000 (a few
//! ms per fan-out) is held to [`WRITE_PACE`]; a room of five (~20 µs) to ~80 µs, so two
//! messages a millisecond apart in a small room are both written at once. (With [`WRITE_PACE`]
//! for every channel, ~1% of the messages of `rooms` waited 2 ms for a flush, which was most of
//! its p99: 3.7 → 2.3 ms.)
//!
//! How long a flush waits ([`FanoutPace::flush_delay`]): that same gap, unless the channel's
//! last flush found frames piling up (on average at least 1.25 per socket: its fan-outs come
//! faster than a pace apart); then as long as the channel's last direct fan-out took (one frame
//! per socket), at least [`WRITE_PACE`], at most
//! [`MAX_FLUSH_DELAY`](super::pace::MAX_FLUSH_DELAY). A channel of 1,000 members takes a few
//! milliseconds a pass, so a busy one waits several milliseconds and its frames share writes;
//! one whose fan-outs only now and then come close together waits [`WRITE_PACE`], and a room
//! of five its ~80 µs. (A flush's own time is not the measure: it grows with the frames it
//! writes, and so would the delay, and so the frames, up to the cap.)
//!
//! A writer that owns its socket (busy writing, pacing, pinging) is woken for the frame as
//! usual and writes it itself; the flush then finds its socket taken and leaves it alone.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use super::conn::Outbox;
use super::pace::PassClock;
#[cfg(doc)]
use super::pace::{FanoutPace, WRITE_PACE};
use super::Hub;

/// Outboxes waiting for their channel's flush, per channel.
#[derive(Default)]
pub struct Flushes {
    /// std lock: held to add to or take one channel's list, never while writing or across an
    /// `.await`.
    due: Mutex<HashMap<Uuid, Vec<Outbox>>>,
}

impl Flushes {
    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<Outbox>>> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `outboxes` to `channel`'s next flush; `true` if that flush is new (the caller
    /// schedules it).
    fn add(&self, channel: Uuid, outboxes: Vec<Outbox>) -> bool {
        let mut due = self.lock();
        match due.get_mut(&channel) {
            Some(waiting) => {
                waiting.extend(outboxes);
                false
            }
            None => {
                due.insert(channel, outboxes);
                true
            }
        }
    }

    /// Whether a flush of `channel` is due: its fan-outs queue for it until it has run.
    pub fn pending(&self, channel: Uuid) -> bool {
        self.lock().contains_key(&channel)
    }

    /// Takes `channel`'s waiting outboxes.
    fn take(&self, channel: Uuid) -> Vec<Outbox> {
        self.lock().remove(&channel).unwrap_or_default()
    }
}

impl Hub {
    /// Offers `frame` to `subscribers` of `channel` quietly (see the module docs) and makes
    /// sure a flush of the channel is due for every outbox that now waits for one. Returns how
    /// many outboxes took the frame.
    pub(super) fn deliver_later(&self, channel: Uuid, subscribers: Vec<Outbox>, frame: &super::Frame) -> usize {
        let mut waiting = Vec::new();
        let mut taken = 0;
        for outbox in subscribers {
            let (offer, schedule) = outbox.offer_later(frame.clone());
            taken += usize::from(offer == super::Offer::Queued);
            if schedule {
                waiting.push(outbox);
            }
        }
        if !waiting.is_empty() && self.inner.flushes.add(channel, waiting) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let hub = self.clone();
                    let delay = self.inner.fanouts.flush_delay(channel);
                    runtime.spawn(async move {
                        tokio::time::sleep(delay).await;
                        hub.flush(channel);
                    });
                }
                // Outside a runtime (no timer): at once.
                Err(_) => self.flush(channel),
            }
        }
        taken
    }

    /// Writes what waits in each outbox due in `channel`'s flush, and records whether frames
    /// piled up (the next flush's delay follows it).
    fn flush(&self, channel: Uuid) {
        let due = self.inner.flushes.take(channel);
        let sockets = due.len();
        let mut clock = PassClock::default();
        let frames: usize = due.iter().map(|outbox| outbox.flush_due(&mut clock)).sum();
        let fanouts = &self.inner.fanouts;
        fanouts.ended(channel, None);
        fanouts.flushed(channel, sockets > 0 && frames * 4 >= sockets * 5);
    }
}
