//! One WebSocket session: registers with the hub, sends `ready`, then runs the connection
//! ([`super::duplex`]) in this one task until it closes, and unregisters.

use std::future::Future;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

use banter_proto::model::{Me, User};
use banter_proto::ws::{Ready, ServerEvent};
use banter_proto::Limits;

use crate::error::AppError;
use crate::hub::{frame, CloseReason, ConnId, OutboxLimits};
use crate::service::messages::MAX_PAGE;
use crate::service::sessions::Auth;
use crate::service::{presence, typing};
use crate::state::AppState;
use crate::ws::duplex::Duplex;
use crate::ws::socket::upgrade::Socket;
use crate::ws::socket::write::{hold_segments, Batch};

/// Close when the session could not start (store failure).
const INTERNAL: CloseReason = CloseReason { code: 1011, reason: "internal" };

/// Who a session's [`Duplex`] serves, for the connection's whole life: kept once, in the
/// session's future, and lent to each request.
pub struct Caller {
    /// The server's shared state (one handle shared by all sessions, see [`crate::ws::router`]).
    pub state: Arc<AppState>,
    /// The session's account: its public profile, as its messages carry it.
    pub user: User,
    /// The connection's id in the hub.
    pub conn: ConnId,
}

/// A session on `socket`, registered with the hub at once; the future runs it until the
/// socket ends or it is closed (logout, overflow, shutdown), then unregisters it. That future
/// lives as long as the connection, so it holds each part once (the [`Caller`] and the
/// [`Duplex`]), and everything only needed to start or end (the `ready` queries and write, the
/// close) runs boxed and is freed before the session idles or only allocated at its end.
///
/// `early` holds bytes the client sent past its upgrade request (read before the session
/// began; usually none). The outbox writes single frames to `socket`'s descriptor directly
/// while the session has nothing queued.
pub fn run(state: Arc<AppState>, socket: Socket, early: Bytes, auth: Auth) -> impl Future<Output = ()> + Send {
    let limits = OutboxLimits { frames: state.config.outbox_frames, bytes: state.config.outbox_bytes };
    let Auth { session_id, user: Me { user, email } } = auth;
    let (conn, outbox, inbox) = state.hub.connect(user.id, session_id, limits);
    let fd = socket.as_raw_fd();
    // SAFETY: `fd` is `socket`'s, non-blocking (tokio) and written unbuffered; it stays open
    // until `socket` is dropped, which is after the inbox's frames are: the `Duplex` drops
    // them first (field order).
    unsafe { outbox.attach(fd) };
    drop(outbox);
    presence::connected(&state, user.id, conn);
    let mut duplex = Duplex::new(socket, &early, inbox, &state.config);
    // Built and boxed now, so that what only `ready` needs (the session's id, the email) is
    // not kept in the session's future.
    let ready = Box::pin(ready(state.clone(), conn, session_id, Me { user: user.clone(), email }));
    let caller = Caller { state, user, conn };
    async move {
        // A statement of its own: a temporary in the `match` would keep the box for the session.
        let started = Box::pin(start(ready, duplex.socket())).await;
        // The gateway held the `101` back for the `ready` frame (or the close) just written.
        hold_segments(duplex.socket().as_raw_fd(), false);
        if started {
            let (reason, request) = duplex.run(&caller).await;
            duplex.end(reason, request).await;
        } else {
            drop(duplex);
        }
        let Caller { state, user, conn } = &caller;
        state.hub.disconnect(*conn);
        typing::disconnected(state, user.id, *conn);
        presence::disconnected(state, user.id, *conn);
    }
}

/// Writes `ready` once it is read; `false` when the socket failed first, or when the store
/// failed (then the socket is closed with 1011 `internal`).
async fn start(ready: impl Future<Output = Result<Ready, AppError>>, socket: &mut Socket) -> bool {
    let mut batch = Batch::default();
    match ready.await {
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

/// `ready`'s data for connection `conn` of account `me` on session `session_id`. Subscribes
/// the connection to the user's channels, THEN reads their heads, so nothing committed in
/// between is missed (a client drops what it already has by `seq`).
async fn ready(state: Arc<AppState>, conn: ConnId, session_id: Uuid, me: Me) -> Result<Ready, AppError> {
    let state = &*state;
    let user_id = me.user.id;
    state.hub.subscribe(conn, state.store.channel_ids_of(user_id).await?);
    let snapshot = state.store.ready_snapshot(user_id, state.config.receipt_members).await?;
    let (channels, receipts) = (snapshot.channels, snapshot.receipts);
    let presence = presence::snapshot(state, user_id, snapshot.peers).await;
    Ok(Ready {
        user: me,
        session_id,
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
