//! A session after `ready`, in the connection's one task: it reads and handles the client's
//! frames, writes what the outbox queued (many frames, one `write`), paces busy sockets,
//! pings on the heartbeat, and closes the connection with its close frame.
//!
//! One task and one small state per connection ([`Duplex`], polled by hand), not a reader and
//! a writer task each holding a future: an idle connection's task then costs a few hundred
//! bytes (see `docs/benchmarks.md`, memory per connection). The two directions still run
//! independently inside it: a write blocked on a peer that stopped reading does not stop its
//! requests from being read and handled, and a request being handled does not hold up the
//! deliveries queued meanwhile. Everything that wakes it (a queued frame, a close, a
//! heartbeat tick) wakes the outbox's one consumer waker, beside the socket's readiness.
//!
//! While it waits with nothing queued on a quiet socket, the outbox writes single frames
//! directly (see [`crate::hub::conn`]); it takes the socket back for everything it writes itself.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use crate::clock::now_ms;
use crate::hub::conn::Frames;
use crate::hub::direct::{lay_out, MAX_BATCH};
use crate::hub::pace::WRITE_PACE;
use crate::hub::{CloseReason, CloseSignal, ConnId, Inbox, Outbox, Outgoing};
use crate::service::sessions::Auth;
use crate::state::AppState;
use crate::ws::dispatch;
use crate::ws::heartbeat;
use crate::ws::socket::read::{FrameReader, Incoming, ReadError};
use crate::ws::socket::upgrade::Socket;
use crate::ws::socket::write::Batch;

/// Longest wait for the queued frames and the close frame to be written on close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Close for a peer that stopped answering heartbeats.
const TIMEOUT: CloseReason = CloseReason { code: 1001, reason: "heartbeat_timeout" };
/// Close for a frame over the size limit.
const FRAME_TOO_LARGE: CloseReason = CloseReason { code: 1009, reason: "frame_too_large" };
/// Close for a frame that breaks RFC 6455.
const PROTOCOL_ERROR: CloseReason = CloseReason { code: 1002, reason: "protocol_error" };
/// Close for a text frame that is not UTF-8.
const INVALID_UTF8: CloseReason = CloseReason { code: 1007, reason: "invalid_utf8" };
/// Close when the peer closed or left (it gets no answer if it left).
const NORMAL: CloseReason = CloseReason { code: 1000, reason: "" };
/// What is noted when the socket failed: nothing more can be written, not even a close frame.
const ABNORMAL: CloseReason = CloseReason { code: 1006, reason: "" };

/// A request being handled; the future owns its frame's text.
type Handling<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Runs the session on `socket` until the peer leaves, a close is requested (logout,
/// overflow, shutdown), a frame breaks the protocol or the size limit, or the peer is silent
/// for two heartbeats. Requests are handled one at a time, in order, each in a boxed future.
/// On close it writes what is queued (unless the reason is overflow or revocation) and the
/// close frame, bounded by [`CLOSE_TIMEOUT`], shuts the socket's sending side, then lets a
/// request in progress end.
pub async fn serve(state: &AppState, auth: &Auth, conn: ConnId, socket: Socket, inbox: Inbox, outbox: &Outbox) {
    let Inbox { frames, close } = inbox;
    let mut duplex = Duplex {
        state,
        auth,
        conn,
        outbox,
        socket,
        reader: FrameReader::new(state.config.max_frame_bytes),
        last_heard: now_ms(),
        silent_limit_ms: 2 * heartbeat::period(&state.config).as_millis() as i64,
        taken: Vec::new(),
        batch: Batch::default(),
        batch_is_flush: false,
        ping: false,
        hold: None,
        handling: None,
    };
    let reason = poll_fn(|cx| duplex.poll(cx, &frames, &close)).await;
    outbox.close(reason);
    if reason != ABNORMAL {
        // Boxed: the timer is only needed at the end, not in every idle connection.
        let _ = Box::pin(tokio::time::timeout(CLOSE_TIMEOUT, duplex.finish(&frames, reason))).await;
    }
    // No direct write reaches the socket once the queue is closed; only then may it close.
    drop(frames);
    if let Some(request) = duplex.handling.take() {
        request.await;
    }
}

/// What one connection keeps between polls.
struct Duplex<'a> {
    state: &'a AppState,
    auth: &'a Auth,
    conn: ConnId,
    outbox: &'a Outbox,
    socket: Socket,
    reader: FrameReader,
    /// When the peer last sent a frame, ms since the epoch.
    last_heard: i64,
    /// Silence after which the peer is dropped, ms.
    silent_limit_ms: i64,
    /// Items taken from the queue for the next write (held while pacing); no buffer between
    /// writes.
    taken: Vec<Outgoing>,
    /// The bytes of the write in progress (kept if a close cuts it short); no buffer between
    /// writes.
    batch: Batch,
    /// Whether `batch` holds queued frames (its write counts as a flush for the pace).
    batch_is_flush: bool,
    /// A ping is due.
    ping: bool,
    /// Boxed: a timer entry only while pacing, not in every idle connection.
    hold: Option<Pin<Box<Sleep>>>,
    handling: Option<Handling<'a>>,
}

impl<'a> Duplex<'a> {
    /// Makes what progress it can in both directions; ready with the reason to close.
    fn poll(&mut self, cx: &mut Context<'_>, frames: &Frames, close: &CloseSignal) -> Poll<CloseReason> {
        loop {
            if let Poll::Ready(reason) = close.poll_closed(cx) {
                return Poll::Ready(reason);
            }
            if frames.take_ping() {
                if now_ms() - self.last_heard > self.silent_limit_ms {
                    return Poll::Ready(TIMEOUT);
                }
                self.ping = true;
            }
            let wrote = match self.poll_write(cx, frames) {
                Poll::Ready(Err(())) => return Poll::Ready(ABNORMAL),
                Poll::Ready(Ok(())) => true,
                Poll::Pending => false,
            };
            if let Some(handling) = self.handling.as_mut() {
                match handling.as_mut().poll(cx) {
                    Poll::Ready(()) => self.handling = None,
                    Poll::Pending => {}
                }
            }
            let mut read = false;
            if self.handling.is_none() {
                if let Poll::Ready(message) = self.reader.poll_next(cx, &mut self.socket) {
                    self.last_heard = now_ms();
                    read = true;
                    match message {
                        Ok(Incoming::Text(text)) => self.handling = Some(self.request(text)),
                        Ok(Incoming::Binary) => self.handling = Some(Box::pin(dispatch::refuse_binary(self.outbox))),
                        Ok(Incoming::Ping(payload)) => self.outbox.pong(payload),
                        Ok(Incoming::Pong) => {}
                        Ok(Incoming::Close) | Err(ReadError::Eof | ReadError::Io(_)) => return Poll::Ready(NORMAL),
                        Err(ReadError::TooLarge) => return Poll::Ready(FRAME_TOO_LARGE),
                        Err(ReadError::Protocol) => return Poll::Ready(PROTOCOL_ERROR),
                        Err(ReadError::InvalidUtf8) => return Poll::Ready(INVALID_UTF8),
                    }
                }
            }
            if !wrote && !read {
                return Poll::Pending;
            }
        }
    }

    /// The future that handles one text frame; it owns the text.
    fn request(&self, text: String) -> Handling<'a> {
        let (state, auth, conn, outbox) = (self.state, self.auth, self.conn, self.outbox);
        Box::pin(async move { dispatch::handle(state, auth, conn, outbox, &text).await })
    }

    /// One step of the sending side: writes the batch in progress; or, after a pace's hold,
    /// lays out what was taken; or takes the socket back to ping; or takes what is queued
    /// (then holds it back if the socket is busy). `Ready(Ok)` when it made progress,
    /// `Ready(Err)` when the socket failed.
    fn poll_write(&mut self, cx: &mut Context<'_>, frames: &Frames) -> Poll<Result<(), ()>> {
        if !self.batch.is_empty() {
            std::task::ready!(self.batch.poll_write_to(cx, &mut self.socket)).map_err(drop)?;
            if std::mem::take(&mut self.batch_is_flush) {
                frames.pace().flushed();
            }
        } else if let Some(hold) = self.hold.as_mut() {
            std::task::ready!(hold.as_mut().poll(cx));
            self.hold = None;
            self.fill(frames);
        } else if self.ping {
            std::task::ready!(frames.poll_own(cx));
            self.batch.ping();
            self.ping = false;
        } else {
            std::task::ready!(frames.poll_recv_many(cx, &mut self.taken, MAX_BATCH));
            // A peer that sent a frame in the last two paces is in a conversation with the
            // server (a closed-loop sender waiting for its `ack`): its frames are never held.
            let talking = now_ms() - self.last_heard <= 2 * WRITE_PACE.as_millis() as i64;
            match frames.pace().hold(talking) {
                Some(wait) => self.hold = Some(Box::pin(tokio::time::sleep(wait))),
                None => self.fill(frames),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Lays out the taken items and whatever else is queued (up to [`MAX_BATCH`] in all) into
    /// the batch, releasing each frame's bytes from the outbox count.
    fn fill(&mut self, frames: &Frames) {
        let room = MAX_BATCH.saturating_sub(self.taken.len());
        if room > 0 {
            frames.try_recv_many(&mut self.taken, room);
        }
        lay_out(&mut self.batch, &self.taken, frames.queued());
        self.taken = Vec::new();
        self.batch_is_flush = true;
    }

    /// Writes the rest of a write a close cut short, then what is queued (unless the
    /// connection is closed as a slow consumer or revoked: 4008, 4001), then the close frame,
    /// and shuts the socket's sending side.
    async fn finish(&mut self, frames: &Frames, reason: CloseReason) -> std::io::Result<()> {
        frames.own().await;
        if !matches!(reason.code, 4001 | 4008) {
            frames.try_recv_many(&mut self.taken, usize::MAX);
            lay_out(&mut self.batch, &self.taken, frames.queued());
        }
        self.batch.close(reason.code, reason.reason);
        self.batch.write_to(&mut self.socket).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut self.socket).await
    }
}
