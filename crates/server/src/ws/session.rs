//! One WebSocket session: registers with the hub, sends `ready`, then runs the connection
//! ([`super::duplex`]) in this one task until it closes, and unregisters.

use std::future::Future;
use std::os::fd::RawFd;
use std::sync::Arc;

use bytes::Bytes;

use banter_proto::ws::{Ready, ServerEvent};
use banter_proto::Limits;

use crate::error::AppError;
use crate::hub::{frame, CloseReason, ConnId, OutboxLimits};
use crate::service::messages::MAX_PAGE;
use crate::service::sessions::Auth;
use crate::service::{presence, typing};
use crate::state::AppState;
use crate::ws::duplex::{Duplex, Peer};
use crate::ws::socket::upgrade::Socket;
use crate::ws::socket::write::{hold_segments, Batch};

/// Close when the session could not start (store failure).
const INTERNAL: CloseReason = CloseReason { code: 1011, reason: "internal" };

/// A session on `socket`, registered with the hub at once; the future runs it until the
/// socket ends or it is closed (logout, overflow, shutdown), then unregisters it. That future
/// lives as long as the connection, so it holds each part once (the shared state, the
/// account, the [`Duplex`]), and everything only needed to start (the `ready` queries and
/// write) runs boxed in [`start`] and is freed before the session idles.
///
/// `early` holds bytes the client sent past its upgrade request (read before the session
/// began; usually none). `fd` is the descriptor of `socket`: the outbox writes single frames
/// to it directly while the session has nothing queued.
pub fn run(
    state: Arc<AppState>,
    socket: Socket,
    early: Bytes,
    fd: RawFd,
    auth: Auth,
) -> impl Future<Output = ()> + Send {
    let limits = OutboxLimits { frames: state.config.outbox_frames, bytes: state.config.outbox_bytes };
    let (conn, outbox, inbox) = state.hub.connect(auth.user.user.id, auth.session_id, limits);
    // SAFETY: `fd` is `socket`'s, non-blocking (tokio) and written unbuffered; it stays open until `socket` is dropped, which is after the inbox's frames
    // are: the `Duplex` drops them first (field order).
    unsafe { outbox.attach(fd) };
    presence::connected(&state, auth.user.user.id, conn);
    let mut duplex = Duplex::new(socket, &early, inbox, &state.config);
    async move {
        // A statement of its own: a temporary in the `match` would keep the box for the session.
        let started = Box::pin(start(&state, conn, &auth, duplex.socket())).await;
        // The gateway held the `101` back for the `ready` frame (or the close) just written.
        hold_segments(fd, false);
        let request = match started {
            true => {
                let (reason, request) = duplex.run(Peer { state: &state, auth: &auth, conn, outbox: &outbox }).await;
                duplex.close(&outbox, reason).await;
                request
            }
            false => None,
        };
        drop(duplex);
        if let Some(request) = request {
            request.await;
        }
        let user_id = auth.user.user.id;
        state.hub.disconnect(conn);
        typing::disconnected(&state, user_id, conn);
        presence::disconnected(&state, user_id, conn);
    }
}

/// Writes `ready`; `false` when the socket failed first, or when the store failed (then the
/// socket is closed with 1011 `internal`).
async fn start(state: &AppState, conn: ConnId, auth: &Auth, socket: &mut Socket) -> bool {
    let mut batch = Batch::default();
    match ready(state, conn, auth).await {
        Ok(ready) => {
            batch.text(&frame(None, &ServerEvent::Ready(Box::new(ready))));
            batch.write_to(socket).await.is_ok()
        }
        Err(e) => {
            tracing::error!(error = %e, "session could not start");
            batch.close(INTERNAL.code, INTERNAL.reason);
            let _ = batch.write_to(socket).await;
            false
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
