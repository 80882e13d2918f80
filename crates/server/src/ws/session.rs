//! One WebSocket session: registers with the hub, sends `ready`, then runs a reader (this
//! task) and a writer task. The writer owns the socket's sending half and coalesces queued
//! frames into one flush; the reader decodes frames and answers through the same outbox, so
//! replies and broadcasts keep one order.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use banter_proto::ws::{Ready, ServerEvent};
use banter_proto::Limits;
use tokio::io::{ReadHalf, WriteHalf};

use crate::clock::now_ms;
use crate::error::AppError;
use crate::hub::conn::QueuedBytes;
use crate::hub::{frame, CloseReason, CloseSignal, ConnId, Inbox, Outbox, OutboxLimits, Outgoing};
use crate::service::messages::MAX_PAGE;
use crate::service::sessions::Auth;
use crate::service::{presence, typing};
use crate::state::AppState;
use crate::ws::dispatch;
use crate::ws::heartbeat::Heartbeat;
use crate::ws::socket::read::{FrameReader, Incoming, ReadError};
use crate::ws::socket::upgrade::Socket;
use crate::ws::socket::write::Batch;

/// Most frames written in one socket write.
const MAX_BATCH: usize = 64;
/// Shortest time between two flushes of a busy socket. Once a socket has been flushed
/// [`BUSY_FLUSHES`] times in a row with less than this between flushes (a busy channel), a
/// frame arriving sooner waits out the rest, so frames arriving meanwhile share one socket
/// write: one `send` syscall per pace instead of one per frame, for at most this much latency.
/// A socket with occasional traffic (a request and its answer) is written at once.
const WRITE_PACE: Duration = Duration::from_millis(2);
/// Consecutive close flushes after which a socket counts as busy (see [`WRITE_PACE`]).
const BUSY_FLUSHES: u32 = 4;
/// Close for a frame over the size limit.
const FRAME_TOO_LARGE: CloseReason = CloseReason { code: 1009, reason: "frame_too_large" };
/// Close for a frame that breaks RFC 6455.
const PROTOCOL_ERROR: CloseReason = CloseReason { code: 1002, reason: "protocol_error" };
/// Close for a text frame that is not UTF-8.
const INVALID_UTF8: CloseReason = CloseReason { code: 1007, reason: "invalid_utf8" };
/// Close when the session could not start (store failure).
const INTERNAL: CloseReason = CloseReason { code: 1011, reason: "internal" };
/// Longest wait for the queued frames and the close frame to be written on close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Close for a peer that stopped answering heartbeats.
const TIMEOUT: CloseReason = CloseReason { code: 1001, reason: "heartbeat_timeout" };

/// Runs a session until the socket ends or it is closed (logout, overflow, shutdown).
pub async fn run(state: AppState, socket: Socket, auth: Auth) {
    let (stream, mut sink) = tokio::io::split(socket);
    let user_id = auth.user.user.id;
    let limits = OutboxLimits { frames: state.config.outbox_frames, bytes: state.config.outbox_bytes };
    let (conn, outbox, inbox) = state.hub.connect(user_id, auth.session_id, limits);
    presence::connected(&state, user_id, conn);
    // Boxed: the session's future stays small while it idles (see `read`).
    match Box::pin(ready(&state, conn, &auth)).await {
        Ok(ready) => {
            let mut batch = Batch::default();
            batch.text(&frame(None, &ServerEvent::Ready(Box::new(ready))));
            if batch.write_to(&mut sink).await.is_ok() {
                let last_heard = Arc::new(AtomicI64::new(now_ms()));
                let close = inbox.close.clone();
                let heartbeat = state.heartbeat.clone();
                let writer = tokio::spawn(write(sink, inbox, heartbeat, last_heard.clone(), outbox.clone()));
                let max = state.config.max_frame_bytes;
                let end = read(&state, stream, max, &auth, conn, &outbox, &close, &last_heard).await;
                outbox.close(end.unwrap_or(CloseReason { code: 1000, reason: "" }));
                let _ = writer.await;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "session could not start");
            let mut batch = Batch::default();
            batch.close(INTERNAL.code, INTERNAL.reason);
            let _ = batch.write_to(&mut sink).await;
        }
    }
    state.hub.disconnect(conn);
    typing::disconnected(&state, user_id, conn);
    presence::disconnected(&state, user_id, conn);
}

/// Subscribes the connection to the user's channels, THEN reads their heads, so nothing
/// committed in between is missed (a client drops what it already has by `seq`).
async fn ready(state: &AppState, conn: ConnId, auth: &Auth) -> Result<Ready, AppError> {
    let user_id = auth.user.user.id;
    state.hub.subscribe(conn, state.store.channel_ids_of(user_id).await?);
    let channels = state.store.channels_of(user_id).await?;
    let receipts = state.store.receipts_of(user_id, state.config.receipt_members).await?;
    let presence = presence::snapshot(state, user_id).await?;
    Ok(Ready {
        user: auth.user.clone(),
        session_id: auth.session_id,
        channels,
        limits: Limits {
            max_body_chars: state.config.max_body_chars,
            max_frame_bytes: state.config.max_frame_bytes,
            max_page: MAX_PAGE,
            max_reactions: state.config.max_reactions,
            receipt_members: state.config.receipt_members,
        },
        heartbeat_ms: state.config.heartbeat_ms,
        presence,
        receipts,
    })
}

/// Reads frames until the peer leaves, a close is requested, or a frame breaks the protocol
/// or the size limit of `max` bytes. Each request is handled in a boxed future, so the
/// session's own future (alive as long as the connection) only holds what an idle read needs.
#[allow(clippy::too_many_arguments)]
async fn read(
    state: &AppState,
    mut stream: ReadHalf<Socket>,
    max: usize,
    auth: &Auth,
    conn: ConnId,
    outbox: &Outbox,
    close: &CloseSignal,
    last_heard: &AtomicI64,
) -> Option<CloseReason> {
    let mut reader = FrameReader::new(max);
    // One close future for the whole loop, not a new one per frame.
    let closed = close.closed();
    tokio::pin!(closed);
    loop {
        let message = tokio::select! {
            _ = &mut closed => return None,
            message = reader.next(&mut stream) => message,
        };
        last_heard.store(now_ms(), Ordering::Relaxed);
        match message {
            Ok(Incoming::Text(text)) => Box::pin(dispatch::handle(state, auth, conn, outbox, &text)).await,
            Ok(Incoming::Binary) => Box::pin(dispatch::refuse_binary(outbox)).await,
            Ok(Incoming::Ping(payload)) => outbox.pong(payload),
            Ok(Incoming::Pong) => {}
            Ok(Incoming::Close) | Err(ReadError::Eof | ReadError::Io(_)) => return None,
            Err(ReadError::TooLarge) => return Some(FRAME_TOO_LARGE),
            Err(ReadError::Protocol) => return Some(PROTOCOL_ERROR),
            Err(ReadError::InvalidUtf8) => return Some(INVALID_UTF8),
        }
    }
}

/// Writes queued frames, coalescing up to [`MAX_BATCH`] per socket write; pings on every tick
/// of the process's [`Heartbeat`] and gives up on a peer silent for two. A close request
/// interrupts even a write blocked on a peer that stopped reading. On close it writes what is
/// queued (unless the reason is overflow or revocation) and the close frame, bounded by
/// [`CLOSE_TIMEOUT`], then shuts the socket's sending side.
async fn write(
    mut sink: WriteHalf<Socket>,
    inbox: Inbox,
    heartbeat: Heartbeat,
    last_heard: Arc<AtomicI64>,
    outbox: Outbox,
) {
    let Inbox { mut frames, close, queued } = inbox;
    let mut ticks = heartbeat.subscribe();
    let silent_limit_ms = 2 * heartbeat.period().as_millis() as i64;
    let mut pace = Pace::default();
    // One close future for the whole loop, not a new one per frame.
    let closed = close.closed();
    tokio::pin!(closed);
    let reason = loop {
        let step = tokio::select! {
            biased;
            reason = &mut closed => break reason,
            next = frames.recv() => match next {
                Some(first) => tokio::select! {
                    written = paced_batch(&mut sink, first, &mut frames, &queued, &mut pace, &last_heard) => written.is_ok(),
                    reason = &mut closed => break reason,
                },
                None => false,
            },
            _ = ticks.changed() => {
                let silent_ms = now_ms() - last_heard.load(Ordering::Relaxed);
                if silent_ms > silent_limit_ms {
                    break TIMEOUT;
                }
                let mut batch = Batch::default();
                batch.ping();
                batch.write_to(&mut sink).await.is_ok()
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
        let mut batch = Batch::default();
        if !matches!(reason.code, 4001 | 4008) {
            while let Ok(out) = frames.try_recv() {
                add(&mut batch, &out, &queued);
            }
        }
        batch.close(reason.code, reason.reason);
        batch.write_to(&mut sink).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut sink).await
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, finish).await;
}

/// When a socket was last flushed and how many flushes in a row came within [`WRITE_PACE`].
#[derive(Default)]
struct Pace {
    last_flush: Option<tokio::time::Instant>,
    close_flushes: u32,
}

/// On a busy socket, waits until [`WRITE_PACE`] after the previous flush; then writes `first`
/// and what queued meanwhile with [`write_batch`], and updates `pace`. A peer that sent a frame
/// in the last two paces is in a conversation with the server (a closed-loop sender waiting
/// for its `ack`), so its frames are never held back.
async fn paced_batch(
    sink: &mut WriteHalf<Socket>,
    first: Outgoing,
    frames: &mut tokio::sync::mpsc::Receiver<Outgoing>,
    queued: &QueuedBytes,
    pace: &mut Pace,
    last_heard: &AtomicI64,
) -> std::io::Result<()> {
    let now = tokio::time::Instant::now();
    let talking = now_ms() - last_heard.load(Ordering::Relaxed) <= 2 * WRITE_PACE.as_millis() as i64;
    if let Some(due) = pace.last_flush.map(|at| at + WRITE_PACE) {
        if due > now {
            pace.close_flushes += 1;
            if pace.close_flushes >= BUSY_FLUSHES && !talking {
                tokio::time::sleep_until(due).await;
            }
        } else {
            pace.close_flushes = 0;
        }
    }
    let written = write_batch(sink, first, frames, queued).await;
    pace.last_flush = Some(tokio::time::Instant::now());
    written
}

/// Lays out `first` and whatever else is queued (up to [`MAX_BATCH`] in all) into one batch,
/// releasing each frame's bytes from the outbox count, and writes it.
async fn write_batch(
    sink: &mut WriteHalf<Socket>,
    first: Outgoing,
    frames: &mut tokio::sync::mpsc::Receiver<Outgoing>,
    queued: &QueuedBytes,
) -> std::io::Result<()> {
    let mut taken = Vec::with_capacity(frames.len().min(MAX_BATCH - 1) + 1);
    taken.push(first);
    while taken.len() < MAX_BATCH {
        let Ok(out) = frames.try_recv() else { break };
        taken.push(out);
    }
    let bytes = taken.iter().map(|out| match out {
        Outgoing::Event(frame) => frame.len(),
        Outgoing::Pong(payload) => payload.len(),
    });
    let mut batch = Batch::with_capacity(taken.len(), bytes.sum());
    for out in &taken {
        add(&mut batch, out, queued);
    }
    drop(taken);
    batch.write_to(sink).await
}

/// Appends one queued item to `batch`, releasing an event's bytes from the outbox count.
fn add(batch: &mut Batch, out: &Outgoing, queued: &QueuedBytes) {
    match out {
        Outgoing::Event(frame) => {
            queued.release(frame.len());
            batch.text(frame);
        }
        Outgoing::Pong(payload) => {
            batch.pong(payload);
        }
    }
}
