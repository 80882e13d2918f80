//! A session's writer task: owns the socket's sending half, takes what the outbox queued and
//! writes it coalesced (many frames, one `write`), paces busy sockets, pings on the process's
//! heartbeat, and closes the connection with its close frame. While it waits with nothing
//! queued on a quiet socket, the outbox writes single frames directly (see [`crate::hub::conn`]);
//! it takes the socket back for everything it writes itself.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::WriteHalf;

use crate::clock::now_ms;
use crate::hub::conn::{Frames, QueuedBytes};
use crate::hub::direct::{lay_out, MAX_BATCH};
use crate::hub::pace::WRITE_PACE;
use crate::hub::{CloseReason, Inbox, Outbox, Outgoing};
use crate::ws::heartbeat::Heartbeat;
use crate::ws::socket::upgrade::Socket;
use crate::ws::socket::write::Batch;

/// Longest wait for the queued frames and the close frame to be written on close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Close for a peer that stopped answering heartbeats.
const TIMEOUT: CloseReason = CloseReason { code: 1001, reason: "heartbeat_timeout" };

/// Writes queued frames, coalescing up to [`MAX_BATCH`] per socket write; pings on every tick
/// of the process's [`Heartbeat`] and gives up on a peer silent for two. A close request
/// interrupts even a write blocked on a peer that stopped reading. On close it writes what is
/// queued (unless the reason is overflow or revocation) and the close frame, bounded by
/// [`CLOSE_TIMEOUT`], then shuts the socket's sending side.
pub async fn write(
    mut sink: WriteHalf<Socket>,
    inbox: Inbox,
    heartbeat: Heartbeat,
    last_heard: Arc<AtomicI64>,
    outbox: Outbox,
) {
    let Inbox { frames, close } = inbox;
    let queued = frames.queued();
    let mut ticks = heartbeat.subscribe();
    let silent_limit_ms = 2 * heartbeat.period().as_millis() as i64;
    // Items taken from the queue for the next write, and the bytes of the write in progress
    // (kept if a close cuts it short); both hold no buffer between writes.
    let mut taken = Vec::new();
    let mut batch = Batch::default();
    // One close future for the whole loop, not a new one per frame.
    let closed = close.closed();
    tokio::pin!(closed);
    let reason = loop {
        let step = tokio::select! {
            biased;
            reason = &mut closed => break reason,
            _ = frames.recv_many(&mut taken, MAX_BATCH) => tokio::select! {
                written = paced_batch(&mut sink, &mut batch, &mut taken, &frames, queued, &last_heard) => written.is_ok(),
                reason = &mut closed => break reason,
            },
            _ = ticks.changed() => {
                let silent_ms = now_ms() - last_heard.load(Ordering::Relaxed);
                if silent_ms > silent_limit_ms {
                    break TIMEOUT;
                }
                frames.own().await;
                batch.ping();
                tokio::select! {
                    written = batch.write_to(&mut sink) => written.is_ok(),
                    reason = &mut closed => break reason,
                }
            }
        };
        if !step {
            // The socket failed: make the reader stop too.
            outbox.close(CloseReason { code: 1006, reason: "" });
            return;
        }
    };
    outbox.close(reason);
    let finish = async {
        frames.own().await;
        // The rest of a write a close cut short goes first, whatever the reason.
        if !matches!(reason.code, 4001 | 4008) {
            frames.try_recv_many(&mut taken, usize::MAX);
            lay_out(&mut batch, &taken, queued);
        }
        batch.close(reason.code, reason.reason);
        batch.write_to(&mut sink).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut sink).await
    };
    // Boxed: the timer is only needed at the end, not in every idle writer.
    let _ = Box::pin(tokio::time::timeout(CLOSE_TIMEOUT, finish)).await;
}

/// On a busy socket, waits until [`WRITE_PACE`] after the previous flush (see
/// [`crate::hub::pace::Pace`]); then writes the `taken` items and what queued meanwhile with
/// [`write_batch`], and records the flush. A peer that sent a frame in the last two paces is in
/// a conversation with the server (a closed-loop sender waiting for its `ack`), so its frames
/// are never held back.
async fn paced_batch(
    sink: &mut WriteHalf<Socket>,
    batch: &mut Batch,
    taken: &mut Vec<Outgoing>,
    frames: &Frames,
    queued: &QueuedBytes,
    last_heard: &AtomicI64,
) -> std::io::Result<()> {
    let talking = now_ms() - last_heard.load(Ordering::Relaxed) <= 2 * WRITE_PACE.as_millis() as i64;
    if let Some(hold) = frames.pace().hold(talking) {
        // Boxed: a timer entry only while pacing, not in every idle writer.
        Box::pin(tokio::time::sleep(hold)).await;
    }
    let written = write_batch(sink, batch, taken, frames, queued).await;
    frames.pace().flushed();
    written
}

/// Lays out the `taken` items and whatever else is queued (up to [`MAX_BATCH`] in all) into
/// `batch`, releasing each frame's bytes from the outbox count, and writes it. `taken` is
/// left empty without a buffer.
async fn write_batch(
    sink: &mut WriteHalf<Socket>,
    batch: &mut Batch,
    taken: &mut Vec<Outgoing>,
    frames: &Frames,
    queued: &QueuedBytes,
) -> std::io::Result<()> {
    if taken.len() < MAX_BATCH {
        frames.try_recv_many(taken, MAX_BATCH - taken.len());
    }
    lay_out(batch, taken, queued);
    *taken = Vec::new();
    batch.write_to(sink).await
}
