//! One WebSocket session: registers with the hub, sends `ready`, then runs a reader (this
//! task) and a writer task ([`super::writer`]). The writer owns the socket's sending half and
//! coalesces queued frames into one write; the reader decodes frames and answers through the
//! same outbox, so replies and broadcasts keep one order.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use banter_proto::ws::{Ready, ServerEvent};
use banter_proto::Limits;
use tokio::io::{ReadHalf, WriteHalf};

use crate::clock::now_ms;
use crate::error::AppError;
use crate::hub::{frame, CloseReason, CloseSignal, ConnId, Inbox, Outbox, OutboxLimits};
use crate::service::messages::MAX_PAGE;
use crate::service::sessions::Auth;
use crate::service::{presence, typing};
use crate::state::AppState;
use crate::ws::dispatch;
use crate::ws::socket::read::{FrameReader, Incoming, ReadError};
use crate::ws::socket::upgrade::Socket;
use crate::ws::socket::write::{hold_segments, Batch};
use crate::ws::writer::write;

/// Close for a frame over the size limit.
const FRAME_TOO_LARGE: CloseReason = CloseReason { code: 1009, reason: "frame_too_large" };
/// Close for a frame that breaks RFC 6455.
const PROTOCOL_ERROR: CloseReason = CloseReason { code: 1002, reason: "protocol_error" };
/// Close for a text frame that is not UTF-8.
const INVALID_UTF8: CloseReason = CloseReason { code: 1007, reason: "invalid_utf8" };
/// Close when the session could not start (store failure).
const INTERNAL: CloseReason = CloseReason { code: 1011, reason: "internal" };

/// Runs a session until the socket ends or it is closed (logout, overflow, shutdown). Its
/// future lives as long as the connection, so everything only needed to start (the `ready`
/// queries and write) runs boxed in [`start`] and is freed before the session idles.
///
/// `fd` is the descriptor of the TCP connection under `socket`: the outbox writes single
/// frames to it directly while the writer idles.
pub async fn run(state: AppState, socket: Socket, fd: RawFd, auth: Auth) {
    let (stream, sink) = tokio::io::split(socket);
    let user_id = auth.user.user.id;
    let limits = OutboxLimits { frames: state.config.outbox_frames, bytes: state.config.outbox_bytes };
    let (conn, outbox, inbox) = state.hub.connect(user_id, auth.session_id, limits);
    // SAFETY: `fd` is the connection `socket` (and so `sink`) wraps, non-blocking (tokio) and
    // written unbuffered by the writer; it stays open until both halves are dropped, which is
    // after the writer task (owner of the inbox's frames) ends: `run` awaits the writer before
    // returning, and `start` drops the inbox before the sink when no writer starts.
    unsafe { outbox.attach(fd) };
    presence::connected(&state, user_id, conn);
    let close = inbox.close.clone();
    let last_heard = Arc::new(AtomicI64::new(now_ms()));
    // A statement of its own: a temporary in the `if let` would keep the box for the session.
    let writer = Box::pin(start(&state, conn, &auth, sink, inbox, &outbox, &last_heard)).await;
    // The gateway held the `101` back for the `ready` frame (or the close) just written.
    hold_segments(fd, false);
    if let Some(writer) = writer {
        let max = state.config.max_frame_bytes;
        let end = read(&state, stream, max, &auth, conn, &outbox, &close, &last_heard).await;
        outbox.close(end.unwrap_or(CloseReason { code: 1000, reason: "" }));
        let _ = writer.await;
    }
    state.hub.disconnect(conn);
    typing::disconnected(&state, user_id, conn);
    presence::disconnected(&state, user_id, conn);
}

/// Writes `ready` and spawns the writer task. `None` when the socket failed first, or when the
/// store failed (then the socket is closed with 1011 `internal`).
async fn start(
    state: &AppState,
    conn: ConnId,
    auth: &Auth,
    mut sink: WriteHalf<Socket>,
    inbox: Inbox,
    outbox: &Outbox,
    last_heard: &Arc<AtomicI64>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut batch = Batch::default();
    match ready(state, conn, auth).await {
        Ok(ready) => {
            batch.text(&frame(None, &ServerEvent::Ready(Box::new(ready))));
            batch.write_to(&mut sink).await.ok()?;
            let heartbeat = state.heartbeat.clone();
            Some(tokio::spawn(write(sink, inbox, heartbeat, last_heard.clone(), outbox.clone())))
        }
        Err(e) => {
            tracing::error!(error = %e, "session could not start");
            batch.close(INTERNAL.code, INTERNAL.reason);
            let _ = batch.write_to(&mut sink).await;
            None
        }
    }
}

/// Subscribes the connection to the user's channels, THEN reads their heads, so nothing
/// committed in between is missed (a client drops what it already has by `seq`).
async fn ready(state: &AppState, conn: ConnId, auth: &Auth) -> Result<Ready, AppError> {
    let user_id = auth.user.user.id;
    state.hub.subscribe(conn, state.store.channel_ids_of(user_id).await?);
    let snapshot = state.store.ready_snapshot(user_id, state.config.receipt_members).await?;
    let (channels, receipts) = (snapshot.channels, snapshot.receipts);
    let presence = presence::snapshot(state, user_id, snapshot.peers).await;
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
