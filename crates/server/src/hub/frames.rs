//! The consuming end of a connection's outbox ([`super::conn`]): what the connection's task
//! (`ws::duplex`, "the writer") holds to take queued frames, learn of a close or a due
//! heartbeat, and take the socket back from direct writes ([`super::direct`]).

use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::conn::{CloseReason, Outbox, Outgoing, QueuedBytes, Shared};
use super::pace::Pace;

/// The receiving side, owned by the connection's task (the consumer). Dropping its `frames`
/// closes the queue.
pub struct Inbox {
    /// Frames to write, in order; also the close signal ([`Frames::poll_closed`]).
    pub frames: Frames,
}

/// The writer's end of an outbox's queue; closes the queue when dropped. It holds the outbox
/// itself, so the connection's task reaches the sending end without a handle of its own.
pub struct Frames(pub(super) Outbox);

impl Frames {
    fn shared(&self) -> &Shared {
        &self.0 .0
    }

    /// The sending end of this outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.0
    }

    /// Ready once a close was requested, with its reason; registers `cx`'s waker as the
    /// consumer's (the connection's task).
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        let shared = self.shared();
        shared.queue.register_consumer(cx.waker());
        match shared.closing.load(Ordering::Acquire) {
            true => Poll::Ready(shared.reason.get().copied().unwrap_or(CloseReason { code: 1000, reason: "" })),
            false => Poll::Pending,
        }
    }

    /// [`Frames::poll_closed`] as a future (tests).
    #[cfg(test)]
    pub async fn closed(&self) -> CloseReason {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for at least one queued item, then moves up to `max` into `out`, oldest first;
    /// the consumer then owns the socket. While it waits, producers may write directly to a
    /// quiet attached socket.
    pub fn poll_recv_many(&self, cx: &mut Context<'_>, out: &mut Vec<Outgoing>, max: usize) -> Poll<()> {
        let lend = self.shared().socket.load(Ordering::Relaxed) >= 0 && self.shared().pace.quiet();
        self.shared().queue.poll_pop_into(cx, out, max, lend)
    }

    /// [`Frames::poll_recv_many`] as a future (tests).
    #[cfg(test)]
    pub async fn recv_many(&self, out: &mut Vec<Outgoing>, max: usize) {
        poll_fn(|cx| self.poll_recv_many(cx, out, max)).await
    }

    /// Takes the socket back from direct writes (for a ping, or the close).
    pub fn poll_own(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared().queue.poll_own(cx)
    }

    /// [`Frames::poll_own`] as a future.
    pub async fn own(&self) {
        poll_fn(|cx| self.poll_own(cx)).await
    }

    /// Whether a heartbeat ticked since the last call (see [`Outbox::heartbeat`]).
    pub fn take_ping(&self) -> bool {
        self.shared().ping_due.swap(false, Ordering::Relaxed)
    }

    /// The socket's write pace, shared with direct writes.
    pub fn pace(&self) -> &Pace {
        &self.shared().pace
    }

    /// Moves up to `max` queued items into `out` without waiting; returns how many.
    pub fn try_recv_many(&self, out: &mut Vec<Outgoing>, max: usize) -> usize {
        self.shared().queue.try_pop_into(out, max)
    }

    /// The oldest queued item, without waiting (tests).
    #[cfg(test)]
    pub fn try_recv(&self) -> Option<Outgoing> {
        let mut one = Vec::with_capacity(1);
        self.shared().queue.try_pop_into(&mut one, 1);
        one.pop()
    }

    /// The outbox's count of queued bytes: the writer releases each frame's bytes once written.
    pub fn queued(&self) -> &QueuedBytes {
        &self.shared().queued
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        self.shared().queue.close();
    }
}
