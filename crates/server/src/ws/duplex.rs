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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use crate::clock::ticks_ms;
use crate::config::Config;
use crate::hub::direct::{lay_out, MAX_BATCH};
use crate::hub::pace::WRITE_PACE;
use crate::hub::Frames;
use crate::hub::{CloseReason, Inbox, Outbox};
use crate::ws::dispatch;
use crate::ws::heartbeat;
use crate::ws::session::Caller;
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
pub type Handling<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What one connection keeps between polls, and for its whole life: built before the
/// session's future, which holds it once.
pub struct Duplex {
    /// The outbox's receiving end (and, through it, its sending end and close signal).
    /// Declared before `socket`, so it is dropped first: the queue closes (no direct write can
    /// reach the socket any more) before the socket does.
    frames: Frames,
    socket: Socket,
    reader: FrameReader,
    /// When the peer last sent a frame, in [`ticks_ms`] (4 bytes: silences are compared
    /// with two heartbeats, far below its 49 days).
    last_heard: u32,
    /// Whether `batch` holds queued frames (its write counts as a flush for the pace).
    batch_is_flush: bool,
    /// A ping is due.
    ping: bool,
    /// Frames in `batch` while a pace's `hold` keeps it back (at most [`MAX_BATCH`]).
    held: u8,
    /// The bytes of the write in progress (kept if a close cuts it short), or of the frames
    /// a pace's hold keeps back; no buffer between writes.
    batch: Batch,
    /// Boxed: a timer entry only while pacing, not in every idle connection.
    hold: Option<Pin<Box<Sleep>>>,
}

impl Duplex {
    /// A connection on `socket`, whose first bytes were read already (`early`), and whose
    /// outbox's receiving end is `inbox`, with the limits of `config` (`max_frame_bytes`, the
    /// heartbeat).
    pub fn new(socket: Socket, early: &[u8], inbox: Inbox, config: &Config) -> Self {
        let mut reader = FrameReader::new(config.max_frame_bytes);
        reader.feed(early);
        Self {
            frames: inbox.frames,
            socket,
            reader,
            last_heard: ticks_ms(),
            batch_is_flush: false,
            ping: false,
            held: 0,
            batch: Batch::default(),
            hold: None,
        }
    }

    /// The socket, for the `ready` frame written before [`Duplex::run`].
    pub fn socket(&mut self) -> &mut Socket {
        &mut self.socket
    }

    /// Runs the session until the peer leaves, a close is requested (logout, overflow,
    /// shutdown), a frame breaks the protocol or the size limit, or the peer is silent for two
    /// heartbeats; the future's output is the reason to close, and a request still being
    /// handled. Requests are handled one at a time, in order, each in a boxed future.
    ///
    /// Then the caller ends the session with [`Duplex::end`]. A named future
    /// rather than an `async fn`, which would keep its arguments twice for the connection's
    /// whole life.
    pub fn run<'d, 'a>(&'d mut self, caller: &'a Caller) -> Run<'d, 'a> {
        Run { duplex: self, caller, handling: None }
    }

    /// Ends the session that [`Duplex::run`] ended with `reason`: closes the connection (the
    /// close is also requested on the outbox, so producers stop), writing what is queued
    /// (unless the reason is overflow or revocation: 4008, 4001) and the close frame, bounded
    /// by [`CLOSE_TIMEOUT`], and shuts the socket's sending side; nothing is written when the
    /// socket failed (1006). Then drops this `Duplex`, closing the queue (so `request` cannot
    /// wait for room in it), and lets `request`, the one `run` left unfinished, end. Boxed:
    /// its timer and the request are only needed at the end, not in every idle connection.
    pub fn end<'a>(
        mut self,
        reason: CloseReason,
        request: Option<Handling<'a>>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        self.frames.outbox().close(reason);
        Box::pin(async move {
            if reason != ABNORMAL {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.finish(reason)).await;
            }
            drop(self);
            if let Some(request) = request {
                request.await;
            }
        })
    }

    /// Makes what progress it can in both directions; ready with the reason to close.
    fn poll<'a>(
        &mut self,
        cx: &mut Context<'_>,
        caller: &'a Caller,
        handling: &mut Option<Handling<'a>>,
    ) -> Poll<CloseReason> {
        loop {
            if let Poll::Ready(reason) = self.frames.poll_closed(cx) {
                return Poll::Ready(reason);
            }
            if self.frames.take_ping() {
                let silent_limit = 2 * heartbeat::period(&caller.state.config).as_millis();
                if u128::from(ticks_ms().wrapping_sub(self.last_heard)) > silent_limit {
                    return Poll::Ready(TIMEOUT);
                }
                self.ping = true;
            }
            // Whether anything moved: then the loop goes round again (an answer a finished
            // request queued, say, is written now rather than after a wake-up).
            let mut progress = match self.poll_write(cx) {
                Poll::Ready(Err(())) => return Poll::Ready(ABNORMAL),
                Poll::Ready(Ok(())) => true,
                Poll::Pending => false,
            };
            if let Some(request) = handling.as_mut() {
                if request.as_mut().poll(cx).is_ready() {
                    *handling = None;
                    progress = true;
                }
            }
            if handling.is_none() {
                if let Poll::Ready(message) = self.reader.poll_next(cx, &mut self.socket) {
                    self.last_heard = ticks_ms();
                    progress = true;
                    match message {
                        Ok(Incoming::Text(text)) => *handling = Some(request(caller, self.frames.outbox(), text)),
                        Ok(Incoming::Binary) => *handling = Some(refuse_binary(self.frames.outbox())),
                        Ok(Incoming::Ping(payload)) => self.frames.outbox().pong(payload),
                        Ok(Incoming::Pong) => {}
                        Ok(Incoming::Close) | Err(ReadError::Eof | ReadError::Io(_)) => return Poll::Ready(NORMAL),
                        Err(ReadError::TooLarge) => return Poll::Ready(FRAME_TOO_LARGE),
                        Err(ReadError::Protocol) => return Poll::Ready(PROTOCOL_ERROR),
                        Err(ReadError::InvalidUtf8) => return Poll::Ready(INVALID_UTF8),
                    }
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// One step of the sending side: after a pace's hold, adds what queued meanwhile to the
    /// frames it kept back; or writes the batch in progress; or takes the socket back to
    /// ping; or takes what is queued (then holds it back if the socket is busy). `Ready(Ok)`
    /// when it made progress, `Ready(Err)` when the socket failed.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        if let Some(hold) = self.hold.as_mut() {
            std::task::ready!(hold.as_mut().poll(cx));
            self.hold = None;
            let held = usize::from(std::mem::take(&mut self.held));
            self.fill(MAX_BATCH - held);
        } else if !self.batch.is_empty() {
            std::task::ready!(self.batch.poll_write_to(cx, &mut self.socket)).map_err(drop)?;
            if std::mem::take(&mut self.batch_is_flush) {
                self.frames.pace().flushed();
            }
        } else if self.ping {
            std::task::ready!(self.frames.poll_own(cx));
            self.batch.ping();
            self.ping = false;
        } else {
            let mut taken = Vec::new();
            std::task::ready!(self.frames.poll_recv_many(cx, &mut taken, MAX_BATCH));
            lay_out(&mut self.batch, &taken, self.frames.queued());
            self.batch_is_flush = true;
            // A peer that sent a frame in the last two paces is in a conversation with the
            // server (a closed-loop sender waiting for its `ack`): its frames are never held.
            let talking = u128::from(ticks_ms().wrapping_sub(self.last_heard)) <= 2 * WRITE_PACE.as_millis();
            match self.frames.pace().hold(talking) {
                Some(wait) => {
                    self.hold = Some(Box::pin(tokio::time::sleep(wait)));
                    self.held = taken.len() as u8;
                }
                None => self.fill(MAX_BATCH - taken.len()),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Adds up to `room` more queued frames to the batch, releasing each frame's bytes from
    /// the outbox count.
    fn fill(&mut self, room: usize) {
        let mut taken = Vec::new();
        if room > 0 && self.frames.try_recv_many(&mut taken, room) > 0 {
            lay_out(&mut self.batch, &taken, self.frames.queued());
        }
    }

    /// Writes the rest of a write a close cut short, then what is queued (unless the
    /// connection is closed as a slow consumer or revoked: 4008, 4001), then the close frame,
    /// and shuts the socket's sending side.
    async fn finish(&mut self, reason: CloseReason) -> std::io::Result<()> {
        self.frames.own().await;
        let dropping = matches!(reason.code, 4001 | 4008);
        if self.hold.take().is_some() && dropping {
            // Held back by the pace, not begun: nothing of it was written.
            self.batch = Batch::default();
        }
        if !dropping {
            self.fill(usize::MAX);
        }
        self.batch.close(reason.code, reason.reason);
        self.batch.write_to(&mut self.socket).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut self.socket).await
    }
}

/// The future of [`Duplex::run`].
pub struct Run<'d, 'a> {
    duplex: &'d mut Duplex,
    caller: &'a Caller,
    handling: Option<Handling<'a>>,
}

impl<'a> Future for Run<'_, 'a> {
    type Output = (CloseReason, Option<Handling<'a>>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let reason = std::task::ready!(this.duplex.poll(cx, this.caller, &mut this.handling));
        Poll::Ready((reason, this.handling.take()))
    }
}

/// The future that handles one text frame; it owns the text and a handle to the outbox.
fn request<'a>(caller: &'a Caller, outbox: &Outbox, text: String) -> Handling<'a> {
    let outbox = outbox.clone();
    Box::pin(async move { dispatch::handle(&caller.state, &caller.user, caller.conn, &outbox, &text).await })
}

/// The future that answers a binary frame.
fn refuse_binary(outbox: &Outbox) -> Handling<'static> {
    let outbox = outbox.clone();
    Box::pin(async move { dispatch::refuse_binary(&outbox).await })
}
