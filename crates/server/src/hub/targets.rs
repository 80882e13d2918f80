//! Delivery to people rather than to a channel's subscribers: every connection of some users
//! (presence, a user's own read position), or a channel's subscribers minus one user (typing).

use banter_proto::ws::ServerEvent;
use uuid::Uuid;

use super::{frame, wire, Frame, Hub, Outbox};

impl Hub {
    /// Sends `event` to every connection of each of `users`, on every node (encoded once).
    pub fn to_users(&self, users: &[Uuid], event: &ServerEvent) {
        if users.is_empty() {
            return;
        }
        let frame = frame(None, event);
        self.to_users_local(users, &frame);
        if let Some(relay) = self.relay() {
            relay.send(&wire::Action::Users { users: users.to_vec() }, &frame);
        }
    }

    pub(super) fn to_users_local(&self, users: &[Uuid], frame: &Frame) {
        let registry = self.read();
        for user in users {
            for id in registry.of_user(*user) {
                if let Some(entry) = registry.get(*id) {
                    entry.outbox.offer(frame.clone());
                }
            }
        }
    }

    /// Delivers `event` to every subscriber of `channel` except the connections of `except`,
    /// on every node, now (no `seq` ordering: for ephemeral state such as typing).
    pub fn publish_except(&self, channel: Uuid, except: Uuid, event: &ServerEvent) {
        let frame = frame(None, event);
        self.deliver_except(channel, except, &frame);
        if let Some(relay) = self.relay() {
            relay.send(&wire::Action::ChannelExcept { channel, except }, &frame);
        }
    }

    pub(super) fn deliver_except(&self, channel: Uuid, except: Uuid, frame: &Frame) {
        for outbox in self.subscribers_where(channel, |user| user != except) {
            outbox.offer(frame.clone());
        }
    }

    /// The outboxes of `channel`'s subscribers whose user passes `keep`, copied out so the
    /// registry lock is released before anything is offered (an offer may write to a socket).
    pub(super) fn subscribers_where(&self, channel: Uuid, keep: impl Fn(Uuid) -> bool) -> Vec<Outbox> {
        let registry = self.read();
        let subscribers = registry.subscribers(channel).iter();
        subscribers
            .filter(|(id, _)| registry.get(**id).is_some_and(|e| keep(e.user_id)))
            .map(|(_, o)| o.clone())
            .collect()
    }
}
