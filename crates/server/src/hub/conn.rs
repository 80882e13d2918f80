//! One connection's outbox: a bounded queue of encoded frames plus a close signal that works
//! even when the queue is full.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;
use tungstenite::Utf8Bytes;

use super::queue::{PushError, Queue};

/// An encoded event (JSON text, without the WebSocket header); cloning shares the bytes.
pub type Frame = Utf8Bytes;

/// What a connection's writer sends, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// An event frame (text).
    Event(Frame),
    /// A pong answering the peer's ping, echoing its payload (at most 125 bytes).
    Pong(Vec<u8>),
}

/// Why and how a connection is being closed: WebSocket close code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code (1000, 1012, 4001, 4008, ...).
    pub code: u16,
    /// Short snake_case reason sent in the close frame.
    pub reason: &'static str,
}

/// How much one outbox may hold before its connection counts as a slow consumer.
#[derive(Debug, Clone, Copy)]
pub struct OutboxLimits {
    /// Frames.
    pub frames: usize,
    /// Bytes of frame text (shared frames are counted in full for every outbox holding them).
    pub bytes: usize,
}

/// The sending side of a connection: cheap to clone (one reference count), owned by the hub's
/// indexes.
#[derive(Clone)]
pub struct Outbox(Arc<Shared>);

/// One connection's queue, byte count and close signal, in one allocation.
struct Shared {
    queue: Queue<Outgoing>,
    queued: QueuedBytes,
    /// Set once a close was requested; `reason` is set just before.
    closing: AtomicBool,
    reason: OnceLock<CloseReason>,
    /// Wakes whoever waits in [`CloseSignal::closed`].
    close_waiters: Notify,
}

/// Bytes queued in one outbox and not yet written.
pub struct QueuedBytes {
    now: AtomicUsize,
    max: usize,
}

impl QueuedBytes {
    /// Counts `n` bytes as written.
    pub fn release(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The receiving side, owned by the connection's writer task. Dropping its `frames` closes the
/// queue.
pub struct Inbox {
    /// Frames to write, in order.
    pub frames: Frames,
    /// Fires when the connection must close.
    pub close: CloseSignal,
}

/// Waits for a close request; cheap to clone (the reader and writer each hold one).
#[derive(Clone)]
pub struct CloseSignal(Arc<Shared>);

/// The writer's end of an outbox's queue; closes the queue when dropped.
pub struct Frames(Arc<Shared>);

impl Frames {
    /// Waits for at least one queued item, then moves up to `max` into `out`, oldest first.
    pub async fn recv_many(&self, out: &mut Vec<Outgoing>, max: usize) {
        self.0.queue.pop_into(out, max).await
    }

    /// Moves up to `max` queued items into `out` without waiting; returns how many.
    pub fn try_recv_many(&self, out: &mut Vec<Outgoing>, max: usize) -> usize {
        self.0.queue.try_pop_into(out, max)
    }

    /// The oldest queued item, without waiting (tests).
    #[cfg(test)]
    pub fn try_recv(&self) -> Option<Outgoing> {
        let mut one = Vec::with_capacity(1);
        self.0.queue.try_pop_into(&mut one, 1);
        one.pop()
    }

    /// The outbox's count of queued bytes: the writer releases each frame's bytes once written.
    pub fn queued(&self) -> &QueuedBytes {
        &self.0.queued
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        self.0.queue.close();
    }
}

/// A new outbox bounded by `limits`.
pub fn outbox(limits: OutboxLimits) -> (Outbox, Inbox) {
    let shared = Arc::new(Shared {
        queue: Queue::new(limits.frames),
        queued: QueuedBytes { now: AtomicUsize::new(0), max: limits.bytes.max(1) },
        closing: AtomicBool::new(false),
        reason: OnceLock::new(),
        close_waiters: Notify::new(),
    });
    let inbox = Inbox { frames: Frames(shared.clone()), close: CloseSignal(shared.clone()) };
    (Outbox(shared), inbox)
}

/// What became of an offered frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Queued.
    Queued,
    /// The queue was full: the connection is now being closed as a slow consumer.
    Overflowed,
    /// The connection is gone.
    Gone,
}

impl Outbox {
    /// Queues a frame without waiting. A full queue closes the connection with 4008
    /// `slow_consumer`: it will resume, and nobody else waits for it.
    /// The same happens when the frame would take the queued bytes over the limit.
    pub fn offer(&self, frame: Frame) -> Offer {
        let len = frame.len();
        let overflow = || {
            self.close(CloseReason { code: 4008, reason: "slow_consumer" });
            Offer::Overflowed
        };
        if self.0.queued.now.fetch_add(len, Ordering::Relaxed) + len > self.0.queued.max {
            self.0.queued.release(len);
            return overflow();
        }
        match self.0.queue.try_push(Outgoing::Event(frame)) {
            Ok(()) => Offer::Queued,
            Err(e) => {
                self.0.queued.release(len);
                match e {
                    PushError::Full(_) => overflow(),
                    PushError::Closed(_) => Offer::Gone,
                }
            }
        }
    }

    /// Queues a frame, waiting for room: for answers to this connection's own requests, so a
    /// client that floods requests is slowed down instead of disconnected.
    pub async fn send(&self, frame: Frame) -> bool {
        self.send_leaving_room(frame, 0).await
    }

    /// Queues a frame once at least `room` further slots are free, so bulk traffic (replay)
    /// leaves space for live broadcasts instead of pushing the connection over its limit.
    /// `room` is capped below the capacity.
    pub async fn send_leaving_room(&self, frame: Frame, room: usize) -> bool {
        let len = frame.len();
        self.0.queued.now.fetch_add(len, Ordering::Relaxed);
        let sent = self.0.queue.push(Outgoing::Event(frame), room).await;
        if !sent {
            self.0.queued.release(len);
        }
        sent
    }

    /// Queues a pong echoing a ping's `payload`, unless the queue is full: a peer pinging
    /// faster than it reads only gets answers to some of its pings (RFC 6455 allows answering
    /// just the latest).
    pub fn pong(&self, payload: Vec<u8>) {
        let _ = self.0.queue.try_push(Outgoing::Pong(payload));
    }

    /// Asks the writer to close the connection; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.0.reason.set(reason);
        self.0.closing.store(true, Ordering::Release);
        self.0.close_waiters.notify_waiters();
    }

    /// Whether a close was requested.
    pub fn is_closing(&self) -> bool {
        self.0.closing.load(Ordering::Acquire)
    }
}

impl CloseSignal {
    /// Resolves once a close was requested, with its reason.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let wait = self.0.close_waiters.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            if self.0.closing.load(Ordering::Acquire) {
                return self.0.reason.get().copied().unwrap_or(CloseReason { code: 1000, reason: "" });
            }
            wait.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_outbox_closes_as_slow_consumer() {
        let (out, inbox) = outbox(OutboxLimits { frames: 2, bytes: 1 << 20 });
        assert_eq!(out.offer("a".into()), Offer::Queued);
        assert_eq!(out.offer("b".into()), Offer::Queued);
        assert_eq!(out.offer("c".into()), Offer::Overflowed);
        out.close(CloseReason { code: 1012, reason: "server_restart" });
        assert_eq!(inbox.close.closed().await, CloseReason { code: 4008, reason: "slow_consumer" });
        drop(inbox);
        assert_eq!(out.offer("d".into()), Offer::Gone);
    }

    #[tokio::test]
    async fn too_many_queued_bytes_close_as_slow_consumer() {
        let (out, inbox) = outbox(OutboxLimits { frames: 100, bytes: 10 });
        assert_eq!(out.offer("12345".into()), Offer::Queued);
        assert_eq!(out.offer("67890".into()), Offer::Queued);
        let Some(Outgoing::Event(written)) = inbox.frames.try_recv() else { panic!("an event frame") };
        inbox.frames.queued().release(written.len());
        assert_eq!(out.offer("abcde".into()), Offer::Queued, "room again once written");
        assert_eq!(out.offer("x".into()), Offer::Overflowed);
        assert_eq!(inbox.close.closed().await.code, 4008);
    }
}
