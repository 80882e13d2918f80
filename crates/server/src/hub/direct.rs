//! Direct writes: the outbox's producers writing to an idle connection's socket themselves
//! (see the [`super::conn`] docs), one frame at a time ([`Outbox::write_direct`]) or
//! everything queued meanwhile at once: for a connection handling its own send
//! ([`Outbox::cork`]), or for a channel's flush of back-to-back fan-outs ([`super::flush`]).

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

use super::conn::{CloseReason, Frame, Offer, Outbox, Outgoing, QueuedBytes};
use super::pace::PassClock;
use crate::ws::socket::write::{send_text, Batch, Sent};

/// Most queued items laid out for one socket write, by the writer or a corked outbox's flush;
/// what is left goes in the next one.
pub const MAX_BATCH: usize = 64;

impl Outbox {
    /// Attaches the socket the writer writes to, for direct writes.
    ///
    /// # Safety
    /// `fd` must be an open, non-blocking stream socket that stays open until this outbox's
    /// [`Inbox`](super::Inbox) frames are dropped (the writer's end): dropping them waits out a direct write
    /// in progress and stops further ones, so no write can reach a reused descriptor. Bytes
    /// written to it must not be buffered elsewhere (the writer writes it unbuffered).
    pub unsafe fn attach(&self, fd: RawFd) {
        self.0.socket.store(fd, Ordering::Relaxed);
    }

    /// Writes `frame` (already counted in the queued bytes) to the socket at once when the
    /// writer lent it (idle, nothing queued, not busy) and no close was requested; otherwise
    /// gives it back. What the socket does not take goes to the front of the queue for the
    /// writer (see [`Outbox::settle`]). `clock` is the pass's clock (see [`PassClock`]).
    pub(super) fn write_direct(&self, frame: Frame, clock: &mut PassClock) -> Result<Offer, Frame> {
        let fd = self.0.socket.load(Ordering::Relaxed);
        if fd < 0 || self.is_closing() || !self.0.queue.claim() {
            return Err(frame);
        }
        let now_us = clock.now_us();
        let pace = &self.0.pace;
        if pace.hold_at(now_us, false).is_some() {
            // Busy: the writer paces it.
            self.0.queue.release(Some(Outgoing::Event(frame)), false);
            return Ok(Offer::Queued);
        }
        self.0.queued.release(frame.len());
        Ok(self.settle(send_text(fd, frame.as_bytes()), now_us))
    }

    /// Ends this producer's write with what the socket took: records the flush (at `now_us`),
    /// leaves what it did not take to the writer (first in the queue), closes the connection
    /// (1006) if the socket failed.
    fn settle(&self, sent: Sent, now_us: u64) -> Offer {
        let pace = &self.0.pace;
        match sent {
            Sent::All => {
                pace.flushed_at(now_us);
                self.0.queue.release(None, pace.quiet());
                Offer::Queued
            }
            Sent::Part(rest) => {
                pace.flushed_at(now_us);
                self.0.queue.release(Some(Outgoing::Rest(rest)), false);
                Offer::Queued
            }
            Sent::Failed => {
                self.0.queue.release(None, false);
                self.close(CloseReason { code: 1006, reason: "" });
                Offer::Gone
            }
        }
    }

    /// Corks the outbox until the guard is dropped: frames offered meanwhile queue without
    /// waking an idle writer, and the drop writes them in one `send` (or leaves them to the
    /// writer if it owns the socket). For a connection's own send: its `message:receive` and
    /// the `ack` right after it then share one write instead of two.
    pub fn cork(&self) -> Cork<'_> {
        self.0.corked.store(true, Ordering::Relaxed);
        Cork(self)
    }

    /// Ends a cork: writes what queued meanwhile if the writer lent the socket.
    fn uncork(&self) {
        self.0.corked.store(false, Ordering::Relaxed);
        self.flush_queued(&mut PassClock::default());
    }

    /// A channel flush (see [`super::flush`]): writes what [`Outbox::offer_later`] queued, and
    /// whatever queued meanwhile, if the writer lent the socket. The flag goes first, so a
    /// frame queued after this flush took the queue schedules another one. Returns how many
    /// queued items it wrote (0 when the writer owns the socket). `clock`: the flush's.
    pub(super) fn flush_due(&self, clock: &mut PassClock) -> usize {
        self.0.flush_due.store(false, Ordering::Release);
        self.flush_queued(clock)
    }

    /// Writes everything queued (up to [`MAX_BATCH`] items) in one `send` if the writer lent
    /// the socket; if the writer owns it, it was woken for the items and writes them itself.
    /// Returns how many items it wrote (or left to the writer, if the socket failed or did not
    /// take them all). `clock`: the pass's (see [`PassClock`]).
    fn flush_queued(&self, clock: &mut PassClock) -> usize {
        let fd = self.0.socket.load(Ordering::Relaxed);
        if fd < 0 || self.is_closing() || !self.0.queue.claim_queued() {
            // The writer owns the socket (it was woken by each push), or the connection ends.
            return 0;
        }
        let now_us = clock.now_us();
        let pace = &self.0.pace;
        if pace.hold_at(now_us, false).is_some() {
            // Busy: the writer, woken by the release, paces what is queued.
            self.0.queue.release(None, false);
            return 0;
        }
        let mut taken = Vec::new();
        let n = self.0.queue.try_pop_into(&mut taken, MAX_BATCH);
        if n == 0 {
            self.0.queue.release(None, pace.quiet());
            return 0;
        }
        let mut batch = Batch::default();
        lay_out(&mut batch, &taken, &self.0.queued);
        self.settle(batch.send_now(fd), now_us);
        n
    }
}

/// An outbox corked by [`Outbox::cork`]; dropping it flushes.
pub struct Cork<'a>(&'a Outbox);

impl Drop for Cork<'_> {
    fn drop(&mut self) {
        self.0.uncork();
    }
}

/// Appends queued `items` to `batch` as wire bytes (room reserved once), releasing each
/// event's bytes from the outbox count `queued`.
pub fn lay_out(batch: &mut Batch, items: &[Outgoing], queued: &QueuedBytes) {
    let bytes = items.iter().map(|out| match out {
        Outgoing::Event(frame) => frame.len(),
        Outgoing::Pong(payload) | Outgoing::Rest(payload) => payload.len(),
    });
    batch.reserve(items.len(), bytes.sum());
    for out in items {
        match out {
            Outgoing::Event(frame) => {
                queued.release(frame.len());
                batch.text(frame);
            }
            Outgoing::Pong(payload) => {
                batch.pong(payload);
            }
            Outgoing::Rest(bytes) => {
                batch.raw(bytes);
            }
        }
    }
}
