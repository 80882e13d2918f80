//! Local fan-out: the hub owns every live connection's outbox and the channel subscriptions,
//! and delivers events to them.
//!
//! An event is encoded ONCE into shared bytes and the handle is cloned into each subscriber's
//! bounded outbox ([`conn::Outbox::offer`]); a subscriber whose outbox is full is closed as a
//! slow consumer and never holds anyone else up. The hub knows nothing about SQL or HTTP.
//!
//! Across nodes (when Redis is configured) a [`bridge::Relay`] is attached: every event is
//! also queued once for Redis, remote events come back in through [`Hub::deliver_remote`],
//! and `message:receive` frames are put in `seq` order per channel before local delivery.

pub mod bridge;
pub mod conn;
pub mod direct;
pub mod ephemeral;
pub mod flush;
pub mod frames;
pub mod leases;
pub mod ledger;
pub mod order;
pub mod pace;
pub mod queue;
pub mod redis;
pub mod registry;
mod targets;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use banter_proto::ws::{encode, ServerEvent};
use uuid::Uuid;

pub use bridge::RESYNC;
use bridge::{RedisStatus, Relay};
pub use conn::{CloseReason, Frame, Offer, Outbox, OutboxLimits, Outgoing};
pub use frames::{Frames, Inbox};
pub use registry::ConnId;
use registry::Registry;

/// Closing because the session was logged out.
pub const SESSION_REVOKED: CloseReason = CloseReason { code: 4001, reason: "session_revoked" };
/// How long a closed session's connections keep being refused by [`Hub::connect`]: longer than
/// any upgrade takes between authentication and registration.
pub const CLOSED_SESSION_MEMORY: std::time::Duration = std::time::Duration::from_secs(120);
/// Closing because the server is shutting down; clients reconnect.
pub const SERVER_RESTART: CloseReason = CloseReason { code: 1012, reason: "server_restart" };

/// Cheap-to-clone handle to the process's fan-out state.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// std lock, not tokio's: every critical section is a few map operations and
    /// non-blocking `try_send`s; it is never held across an `.await`.
    registry: RwLock<Registry>,
    /// Sessions closed recently, so a connection registering late is closed too. Locked only
    /// while the registry's write lock is held (registry first), never across an `.await`.
    closed_sessions: Mutex<HashMap<Uuid, (CloseReason, Instant)>>,
    /// Cross-node fan-out, set once at start-up when Redis is configured.
    relay: OnceLock<Arc<Relay>>,
    /// The typing service's mirror of remote typing states, set once at start-up.
    typing_listener: OnceLock<ephemeral::Listener>,
    /// When each channel's last fan-out ended: back-to-back fan-outs queue, not write.
    fanouts: pace::FanoutPace,
    /// Outboxes whose quietly queued frames wait for their channel's flush.
    flushes: flush::Flushes,
}

/// Encodes an event as one shareable frame.
pub fn frame(id: Option<&str>, event: &ServerEvent) -> Frame {
    Frame::from(encode(id, event))
}

impl Hub {
    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner.registry.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Routes this hub's events through `relay` too (Redis fan-out). Set once; `false` if a
    /// relay was already attached.
    pub fn attach(&self, relay: Arc<Relay>) -> bool {
        self.inner.relay.set(relay).is_ok()
    }

    /// The attached relay, if Redis is configured.
    pub fn relay(&self) -> Option<&Arc<Relay>> {
        self.inner.relay.get()
    }

    /// Redis as `/api/health` reports it: `Off` when no relay is attached.
    pub fn redis_status(&self) -> RedisStatus {
        self.relay().map_or(RedisStatus::Off, |r| r.status())
    }

    /// Registers a connection of `user_id`/`session_id` with an outbox bounded by `limits`.
    /// The caller must [`Hub::disconnect`] it when the socket ends.
    ///
    /// A session closed (revoked) in the last [`CLOSED_SESSION_MEMORY`] is closed again at once:
    /// a socket authenticated just before a logout but registered just after it would
    /// otherwise survive the logout.
    pub fn connect(&self, user_id: Uuid, session_id: Uuid, limits: conn::OutboxLimits) -> (ConnId, Outbox, Inbox) {
        let (outbox, inbox) = conn::outbox(limits);
        let mut registry = self.write();
        let id = registry.insert(user_id, session_id, outbox.clone());
        if let Some(reason) = self.closed_sessions().get(&session_id).map(|(reason, _)| *reason) {
            outbox.close(reason);
        }
        drop(registry);
        (id, outbox, inbox)
    }

    fn closed_sessions(&self) -> MutexGuard<'_, HashMap<Uuid, (CloseReason, Instant)>> {
        self.inner.closed_sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets a connection and its subscriptions.
    pub fn disconnect(&self, id: ConnId) {
        self.write().remove(id);
    }

    /// Subscribes one connection to channels.
    pub fn subscribe(&self, id: ConnId, channels: impl IntoIterator<Item = Uuid>) {
        self.write().subscribe(id, channels);
    }

    /// Subscribes every connection of `user_id` to `channel`, then sends them `event` (on
    /// every node). With Redis, a connection that missed messages because this node already
    /// delivered past the head `event` announces is then closed with [`RESYNC`].
    pub fn join(&self, user_id: Uuid, channel: Uuid, event: &ServerEvent) {
        let frame = frame(None, event);
        let head_seq = match event {
            ServerEvent::ChannelJoined(c) => Some(c.head_seq),
            _ => None,
        };
        self.join_local(user_id, channel, &frame, head_seq);
        if let Some(relay) = self.relay() {
            relay.send(&wire::Action::Join { user: user_id, channel, head_seq }, &frame);
        }
    }

    fn join_local(&self, user_id: Uuid, channel: Uuid, frame: &Frame, head_seq: Option<i64>) {
        let subscribe = |delivered: Option<i64>| {
            let missed = matches!((delivered, head_seq), (Some(d), Some(h)) if d > h);
            let mut registry = self.write();
            for id in registry.of_user(user_id).to_vec() {
                registry.subscribe(id, [channel]);
                if let Some(entry) = registry.get(id) {
                    entry.outbox.offer(frame.clone());
                    if missed {
                        entry.outbox.close(RESYNC);
                    }
                }
            }
        };
        match self.relay() {
            Some(relay) => relay.at_position(channel, subscribe),
            None => subscribe(None),
        }
    }

    /// Unsubscribes every connection of `user_id` from `channel`, then sends them `event`.
    pub fn leave(&self, user_id: Uuid, channel: Uuid, event: &ServerEvent) {
        let frame = frame(None, event);
        self.leave_local(user_id, channel, &frame);
        if let Some(relay) = self.relay() {
            relay.send(&wire::Action::Leave { user: user_id, channel }, &frame);
        }
    }

    fn leave_local(&self, user_id: Uuid, channel: Uuid, frame: &Frame) {
        let mut registry = self.write();
        for id in registry.of_user(user_id).to_vec() {
            registry.unsubscribe(id, channel);
            if let Some(entry) = registry.get(id) {
                entry.outbox.offer(frame.clone());
            }
        }
    }

    /// Delivers `event` to every subscriber of `channel`, encoding it once, and queues it once
    /// for the other nodes when Redis is configured (then `message:receive` goes out in `seq`
    /// order per channel, possibly a moment later). Returns how many outboxes took it now.
    pub fn publish(&self, channel: Uuid, event: &ServerEvent) -> usize {
        let frame = frame(None, event);
        let Some(relay) = self.relay() else { return self.deliver(channel, &frame) };
        let seq = match event {
            ServerEvent::MessageReceive(m) => Some(m.seq),
            _ => None,
        };
        let action = match seq {
            Some(seq) => wire::Action::Message { channel, seq },
            None => wire::Action::Channel { channel },
        };
        relay.send(&action, &frame);
        relay.order(self, channel, seq, frame)
    }

    /// Applies an event another node published: the local half of [`Hub::publish`],
    /// [`Hub::join`], [`Hub::leave`] or [`Hub::close_session`], or a resync request.
    pub fn deliver_remote(&self, action: wire::Action, frame: Frame) {
        use wire::Action;
        match action {
            Action::Message { channel, seq } => match self.relay() {
                Some(relay) => _ = relay.order(self, channel, Some(seq), frame),
                None => _ = self.deliver(channel, &frame),
            },
            Action::Channel { channel } => _ = self.deliver(channel, &frame),
            Action::Users { users } => self.to_users_local(&users, &frame),
            Action::ChannelExcept { channel, except } => self.deliver_except(channel, except, &frame),
            Action::Typing { channel, user, typing, except } => {
                self.typing_remote(channel, user, typing, &except, frame)
            }
            Action::Join { user, channel, head_seq } => self.join_local(user, channel, &frame, head_seq),
            Action::Leave { user, channel } => self.leave_local(user, channel, &frame),
            Action::Close { session, code, reason } => self.close_local(session, bridge::close_reason(code, &reason)),
            Action::Resync { channels } => match self.relay() {
                Some(relay) => relay.resync(self, channels),
                None => self.close_all(RESYNC),
            },
        }
    }

    /// Queues `frame` into every local subscriber of `channel`; returns how many took it.
    /// The subscribers are offered the frame after the registry lock is released: an offer
    /// may write to an idle socket directly (a syscall), and connects must not wait for that.
    /// A channel whose fan-outs run back to back, or whose flush is still due, queues
    /// instead, for one flush of the channel a moment later (see [`pace::FanoutPace`] and
    /// [`flush`]).
    pub(crate) fn deliver(&self, channel: Uuid, frame: &Frame) -> usize {
        let subscribers: Vec<Outbox> = self.read().subscribers(channel).iter().map(|(_, o)| o.clone()).collect();
        let fanouts = &self.inner.fanouts;
        if !fanouts.direct(channel) || self.inner.flushes.pending(channel) {
            let taken = self.deliver_later(channel, subscribers, frame);
            fanouts.ended(channel, None);
            return taken;
        }
        let start = Instant::now();
        let mut clock = pace::PassClock::default();
        let taken =
            subscribers.iter().filter(|outbox| outbox.offer_in(frame.clone(), &mut clock) == Offer::Queued).count();
        fanouts.ended(channel, Some(start.elapsed()));
        taken
    }

    /// Closes every connection of a session (e.g. on logout), on every node.
    pub fn close_session(&self, session_id: Uuid, reason: CloseReason) {
        self.close_local(session_id, reason);
        if let Some(relay) = self.relay() {
            let action = wire::Action::Close { session: session_id, code: reason.code, reason: reason.reason.into() };
            relay.send(&action, "");
        }
    }

    fn close_local(&self, session_id: Uuid, reason: CloseReason) {
        // The write lock orders this against `connect`: a connection of this session either
        // is registered now (and closed below) or registers later and sees the record.
        let registry = self.write();
        let mut closed = self.closed_sessions();
        closed.retain(|_, (_, at)| at.elapsed() < CLOSED_SESSION_MEMORY);
        closed.insert(session_id, (reason, Instant::now()));
        drop(closed);
        for id in registry.of_session(session_id) {
            if let Some(entry) = registry.get(*id) {
                entry.outbox.close(reason);
            }
        }
    }

    /// Closes every local subscriber of `channel`.
    pub(crate) fn close_channel(&self, channel: Uuid, reason: CloseReason) {
        for (_, outbox) in self.read().subscribers(channel) {
            outbox.close(reason);
        }
    }

    /// Closes every connection of this node (shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for (_, entry) in self.read().all() {
            entry.outbox.close(reason);
        }
    }

    /// A heartbeat tick for every connection of this node (see [`Outbox::heartbeat`]).
    pub fn heartbeat(&self) {
        for (_, entry) in self.read().all() {
            entry.outbox.heartbeat();
        }
    }

    /// Number of live connections.
    pub fn connection_count(&self) -> usize {
        self.read().len()
    }

    /// Number of live connections of one user.
    pub fn user_connection_count(&self, user_id: Uuid) -> usize {
        self.read().of_user(user_id).len()
    }

    /// Panics if the registry's indexes disagree (tests).
    pub fn check_invariants(&self) {
        self.read().check_invariants();
    }
}
