//! One connection's outbox: a bounded queue of encoded frames plus a close signal that works
//! even when the queue is full. "The writer" here and in [`super::direct`] is the connection's
//! task (`ws::duplex`) in its writing role, the queue's one consumer.
//!
//! Direct writes: once the session attaches its socket ([`Outbox::attach`]), a frame offered
//! while the writer waits with nothing queued, on a socket that is not busy (see
//! [`Pace`]), is written to the socket right away by whoever offers it (one non-blocking
//! `send`; a chat-sized frame is copied next to its header on the stack), instead of being queued and waking the
//! writer. Whatever the socket does not take at once goes to the front of the queue for the
//! writer. This is the common case of a chat delivery: one frame for an idle connection.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tungstenite::Utf8Bytes;

use super::frames::{Frames, Inbox};
use super::pace::{Pace, PassClock};
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
    /// The unwritten end of a frame a direct write began (wire bytes, header included): it
    /// must go out before anything else.
    Rest(Vec<u8>),
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
pub struct Outbox(pub(super) Arc<Shared>);

/// One connection's queue, byte count and close signal, in one allocation.
pub(super) struct Shared {
    pub(super) queue: Queue<Outgoing>,
    pub(super) queued: QueuedBytes,
    /// Set once a close was requested; `reason` is set just before. Wakes the consumer.
    pub(super) closing: AtomicBool,
    pub(super) reason: OnceLock<CloseReason>,
    /// Set by the heartbeat ticker ([`Outbox::heartbeat`]), taken by the consumer.
    pub(super) ping_due: AtomicBool,
    /// The attached socket's file descriptor for direct writes; -1 until attached.
    pub(super) socket: AtomicI32,
    /// How often the socket is written: direct writes stop while it is busy.
    pub(super) pace: Pace,
    /// Set while the connection handles a send of its own (see [`Outbox::cork`]).
    pub(super) corked: AtomicBool,
    /// Set while a channel flush is due to write what queued here (see
    /// [`Outbox::offer_later`]); cleared by that flush before it takes the queue.
    pub(super) flush_due: AtomicBool,
}

/// Bytes queued in one outbox and not yet written.
pub struct QueuedBytes {
    pub(super) now: AtomicUsize,
    max: usize,
}

impl QueuedBytes {
    /// Counts `n` bytes as written.
    pub fn release(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::Relaxed);
    }
}

/// A new outbox bounded by `limits`.
pub fn outbox(limits: OutboxLimits) -> (Outbox, Inbox) {
    let shared = Arc::new(Shared {
        queue: Queue::new(limits.frames),
        queued: QueuedBytes { now: AtomicUsize::new(0), max: limits.bytes.max(1) },
        closing: AtomicBool::new(false),
        reason: OnceLock::new(),
        ping_due: AtomicBool::new(false),
        socket: AtomicI32::new(-1),
        pace: Pace::default(),
        corked: AtomicBool::new(false),
        flush_due: AtomicBool::new(false),
    });
    let inbox = Inbox { frames: Frames(Outbox(shared.clone())) };
    (Outbox(shared), inbox)
}

/// What became of an offered frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Queued, or written to the socket directly.
    Queued,
    /// The queue was full: the connection is now being closed as a slow consumer.
    Overflowed,
    /// The connection is gone.
    Gone,
}

impl Outbox {
    /// Queues a frame without waiting, or writes it to the socket at once when the writer
    /// idles on a quiet socket (see the module docs). A full queue closes the connection with
    /// 4008 `slow_consumer`: it will resume, and nobody else waits for it. The same happens
    /// when the frame would take the queued bytes over the limit.
    pub fn offer(&self, frame: Frame) -> Offer {
        self.offer_in(frame, &mut PassClock::default())
    }

    /// [`Outbox::offer`] as one write of a pass over many outboxes (a fan-out), which shares
    /// `clock`'s readings.
    pub(super) fn offer_in(&self, frame: Frame, clock: &mut PassClock) -> Offer {
        let len = frame.len();
        if !self.count(len) {
            return self.overflow();
        }
        let corked = self.0.corked.load(Ordering::Relaxed);
        let frame = match corked {
            false => match self.write_direct(frame, clock) {
                Ok(offer) => return offer,
                Err(frame) => frame,
            },
            true => frame,
        };
        let pushed = match corked {
            true => self.0.queue.try_push_quiet(Outgoing::Event(frame)).map(|_| ()),
            false => self.0.queue.try_push(Outgoing::Event(frame)),
        };
        match pushed {
            Ok(()) => Offer::Queued,
            Err(e) => self.refused(e, len),
        }
    }

    /// Queues a frame of a fan-out that runs back to back with the previous one in its
    /// channel, without waking a writer that lent the socket: a channel flush writes it a
    /// moment later, together with whatever else queues for this connection meanwhile (see
    /// [`super::flush`]). Also `true` when the caller must schedule that flush: the writer was
    /// not woken and no flush of this outbox is due yet. Bounds as for [`Outbox::offer`].
    pub(super) fn offer_later(&self, frame: Frame) -> (Offer, bool) {
        let len = frame.len();
        if !self.count(len) {
            return (self.overflow(), false);
        }
        match self.0.queue.try_push_quiet(Outgoing::Event(frame)) {
            Ok(woken) => (Offer::Queued, !woken && !self.0.flush_due.swap(true, Ordering::AcqRel)),
            Err(e) => (self.refused(e, len), false),
        }
    }

    /// Counts `len` more queued bytes; `false` (nothing counted) if that passes the limit.
    fn count(&self, len: usize) -> bool {
        if self.0.queued.now.fetch_add(len, Ordering::Relaxed) + len > self.0.queued.max {
            self.0.queued.release(len);
            return false;
        }
        true
    }

    /// Closes the connection as a slow consumer (4008).
    fn overflow(&self) -> Offer {
        self.close(CloseReason { code: 4008, reason: "slow_consumer" });
        Offer::Overflowed
    }

    /// A frame of `len` counted bytes the queue refused: uncounted; a full queue overflows.
    fn refused(&self, e: PushError<Outgoing>, len: usize) -> Offer {
        self.0.queued.release(len);
        match e {
            PushError::Full(_) => self.overflow(),
            PushError::Closed(_) => Offer::Gone,
        }
    }

    /// Queues a frame, waiting for room: for answers to this connection's own requests, so a
    /// client that floods requests is slowed down instead of disconnected.
    /// While the outbox is corked the frame joins the queue, to be flushed with it.
    pub async fn send(&self, frame: Frame) -> bool {
        let len = frame.len();
        self.0.queued.now.fetch_add(len, Ordering::Relaxed);
        let frame = match self.0.corked.load(Ordering::Relaxed) {
            true => match self.0.queue.try_push_quiet(Outgoing::Event(frame)) {
                Ok(_) => return true,
                Err(PushError::Full(Outgoing::Event(frame))) => frame,
                Err(_) => {
                    self.0.queued.release(len);
                    return false;
                }
            },
            false => match self.write_direct(frame, &mut PassClock::default()) {
                Ok(offer) => return offer == Offer::Queued,
                Err(frame) => frame,
            },
        };
        self.0.queued.release(len);
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

    /// Asks the connection's task to close it; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.0.reason.set(reason);
        self.0.closing.store(true, Ordering::Release);
        self.0.queue.wake_consumer();
    }

    /// A heartbeat tick: the connection's task pings its peer when it next runs, or closes
    /// the connection if the peer was silent too long. Called for every connection by the
    /// one ticker ([`crate::ws::heartbeat`]); no per-connection timers.
    pub fn heartbeat(&self) {
        self.0.ping_due.store(true, Ordering::Relaxed);
        self.0.queue.wake_consumer();
    }

    /// Whether a close was requested.
    pub fn is_closing(&self) -> bool {
        self.0.closing.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
