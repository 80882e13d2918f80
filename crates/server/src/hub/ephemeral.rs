//! Fan-out of ephemeral per-(channel, user) state that every node mirrors: typing.
//!
//! The node where a state changes computes the indicator from its mirror and publishes it
//! once: local subscribers get it now, and the other nodes get a `typing` envelope
//! ([`wire::Action::Typing`]) that first updates their mirror (through the [`Listener`] the
//! typing service registered) and then delivers the same frame to their local subscribers.
//! A refresh (a counted start of a user already typing) travels with an empty frame: it only
//! extends the mirrors' expiry. The hub still knows nothing about what typing means.

use banter_proto::ws::ServerEvent;
use uuid::Uuid;

use super::{frame, wire, Frame, Hub};

/// One change of a user's state in a channel, as another node announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// The channel.
    pub channel: Uuid,
    /// The user whose state changed.
    pub user: Uuid,
    /// `true`: started or refreshed; `false`: ended.
    pub on: bool,
}

/// Applies a remote [`StateChange`] to the local mirror; called on the subscriber task before
/// the change's frame is delivered, so it must not block.
pub type Listener = Box<dyn Fn(StateChange) + Send + Sync>;

impl Hub {
    /// Registers the mirror of remote typing states. Set once; `false` if one was already set.
    pub fn listen_typing(&self, listener: Listener) -> bool {
        self.inner.typing_listener.set(listener).is_ok()
    }

    /// Delivers `event` (if any) to `channel`'s subscribers except the connections of the
    /// `except` users, on every node, now; other nodes first apply `change` to their mirror.
    pub fn publish_typing(&self, change: StateChange, except: &[Uuid], event: Option<&ServerEvent>) {
        let frame = event.map(|e| frame(None, e));
        if let Some(frame) = &frame {
            self.deliver_except_all(change.channel, except, frame);
        }
        if let Some(relay) = self.relay() {
            let action = wire::Action::Typing {
                channel: change.channel,
                user: change.user,
                typing: change.on,
                except: except.to_vec(),
            };
            relay.send(&action, frame.as_ref().map_or("", |f| f.as_str()));
        }
    }

    /// Delivers `event` to `channel`'s subscribers on THIS node only, except the connections
    /// of the `except` users (a node correcting its own sockets after a remote state lapsed).
    pub fn typing_here(&self, channel: Uuid, except: &[Uuid], event: &ServerEvent) {
        self.deliver_except_all(channel, except, &frame(None, event));
    }

    /// Sends `event` to every connection of each of `users` on THIS node only.
    pub fn to_users_here(&self, users: &[Uuid], event: &ServerEvent) {
        self.to_users_local(users, &frame(None, event));
    }

    /// The local half of [`Hub::publish_typing`] for an envelope from another node.
    pub(super) fn typing_remote(&self, channel: Uuid, user: Uuid, on: bool, except: &[Uuid], frame: Frame) {
        if let Some(listener) = self.inner.typing_listener.get() {
            listener(StateChange { channel, user, on });
        }
        if !frame.is_empty() {
            self.deliver_except_all(channel, except, &frame);
        }
    }

    fn deliver_except_all(&self, channel: Uuid, except: &[Uuid], frame: &Frame) {
        let outboxes = self.subscribers_where(channel, |user| !except.contains(&user));
        for outbox in outboxes {
            outbox.offer(frame.clone());
        }
    }
}
