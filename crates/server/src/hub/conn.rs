//! One connection's outbox: a bounded queue of encoded frames plus a close signal that works
//! even when the queue is full.

use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// An encoded text frame; cloning shares the bytes.
pub type Frame = Utf8Bytes;

/// Why and how a connection is being closed: WebSocket close code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code (1000, 1012, 4001, 4008, ...).
    pub code: u16,
    /// Short snake_case reason sent in the close frame.
    pub reason: &'static str,
}

/// The sending side of a connection: cheap to clone, owned by the hub's indexes.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Frame>,
    close: Arc<Closer>,
}

/// Close signal: the first reason set wins.
struct Closer {
    token: CancellationToken,
    reason: OnceLock<CloseReason>,
}

/// The receiving side, owned by the connection's writer task.
pub struct Inbox {
    /// Frames to write, in order.
    pub frames: mpsc::Receiver<Frame>,
    /// Fires when the connection must close.
    pub close: CloseSignal,
}

/// Waits for a close request; cheap to clone (the reader and writer each hold one).
#[derive(Clone)]
pub struct CloseSignal(Arc<Closer>);

/// A new outbox holding at most `capacity` frames.
pub fn outbox(capacity: usize) -> (Outbox, Inbox) {
    let (tx, frames) = mpsc::channel(capacity.max(1));
    let close = Arc::new(Closer { token: CancellationToken::new(), reason: OnceLock::new() });
    (Outbox { tx, close: close.clone() }, Inbox { frames, close: CloseSignal(close) })
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
    pub fn offer(&self, frame: Frame) -> Offer {
        match self.tx.try_send(frame) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(CloseReason { code: 4008, reason: "slow_consumer" });
                Offer::Overflowed
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    /// Queues a frame, waiting for room: for answers to this connection's own requests, so a
    /// client that floods requests is slowed down instead of disconnected.
    pub async fn send(&self, frame: Frame) -> bool {
        self.tx.send(frame).await.is_ok()
    }

    /// Queues a frame once at least `room` further slots are free, so bulk traffic (replay)
    /// leaves space for live broadcasts instead of pushing the connection over its limit.
    /// `room` is capped below the capacity.
    pub async fn send_leaving_room(&self, frame: Frame, room: usize) -> bool {
        let room = room.min(self.tx.max_capacity().saturating_sub(1));
        match self.tx.reserve_many(room + 1).await {
            Ok(mut permits) => {
                if let Some(permit) = permits.next() {
                    permit.send(frame);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Asks the writer to close the connection; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.close.reason.set(reason);
        self.close.token.cancel();
    }

    /// Whether a close was requested.
    pub fn is_closing(&self) -> bool {
        self.close.token.is_cancelled()
    }
}

impl CloseSignal {
    /// Resolves once a close was requested, with its reason.
    pub async fn closed(&self) -> CloseReason {
        self.0.token.cancelled().await;
        self.0.reason.get().copied().unwrap_or(CloseReason { code: 1000, reason: "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_outbox_closes_as_slow_consumer() {
        let (out, inbox) = outbox(2);
        assert_eq!(out.offer("a".into()), Offer::Queued);
        assert_eq!(out.offer("b".into()), Offer::Queued);
        assert_eq!(out.offer("c".into()), Offer::Overflowed);
        out.close(CloseReason { code: 1012, reason: "server_restart" });
        assert_eq!(inbox.close.closed().await, CloseReason { code: 4008, reason: "slow_consumer" });
        drop(inbox);
        assert_eq!(out.offer("d".into()), Offer::Gone);
    }
}
