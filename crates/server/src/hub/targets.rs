//! Delivery to people rather than to a channel's subscribers: every connection of some users
//! (presence, a user's own read position), or a channel's subscribers minus one user (typing).

use banter_proto::ws::ServerEvent;
use uuid::Uuid;

use super::{frame, wire, Frame, Hub};

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
        let registry = self.read();
        for (id, outbox) in registry.subscribers(channel) {
            if registry.get(*id).is_some_and(|e| e.user_id != except) {
                outbox.offer(frame.clone());
            }
        }
    }
}
