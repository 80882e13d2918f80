//! Client → server events ([`ClientEvent`]) and their payloads.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ChannelRef;
use crate::model::Status;

/// Client → server events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ClientEvent {
    /// Post a message; answered by `ack` (or `error`) with the request's `id`.
    #[serde(rename = "message:send")]
    MessageSend(MessageSend),
    /// Application-level ping; answered by `pong` with the same `id`.
    #[serde(rename = "ping")]
    Ping,
    /// Resume after a (re)connect: replay what each listed channel committed after the given
    /// `seq`. Answered by `sync:gap`/`sync:messages` per channel, then `sync:done` with the id.
    #[serde(rename = "sync")]
    Sync(SyncRequest),
    /// Replace the body of one of the user's own messages; answered by `ok`, and members get
    /// `message:update`.
    #[serde(rename = "message:edit")]
    MessageEdit(MessageEdit),
    /// Delete a message (its sender, or an owner/admin of the channel); answered by `ok`, and
    /// members get `message:deleted`.
    #[serde(rename = "message:delete")]
    MessageDelete(MessageRef),
    /// React with one emoji; answered by `ok` (also when already reacted), and members get
    /// `reaction:update`.
    #[serde(rename = "reaction:add")]
    ReactionAdd(ReactionRequest),
    /// Take back a reaction; answered by `ok` (also when there was none).
    #[serde(rename = "reaction:remove")]
    ReactionRemove(ReactionRequest),
    /// The user is typing in a channel; repeat at most every 2 s while typing (more often is
    /// ignored), the state expires 6 s after the last one. No answer unless it fails.
    #[serde(rename = "typing:start")]
    TypingStart(ChannelRef),
    /// The user stopped typing (sending a message stops it too). No answer unless it fails.
    #[serde(rename = "typing:stop")]
    TypingStop(ChannelRef),
    /// Sets this device's presence (`online`, `away` or `dnd`); answered by `ok`.
    #[serde(rename = "presence:update")]
    PresenceUpdate(PresenceUpdate),
    /// This device has received every message of the channel up to `seq`. No answer unless it
    /// fails; the watermark only moves forward.
    #[serde(rename = "receipt:delivered")]
    ReceiptDelivered(ReceiptRequest),
    /// The user has seen every message of the channel up to `seq` (also counts as
    /// delivered); answered by `ok`, and the user's devices get `channel:unread`.
    #[serde(rename = "receipt:read")]
    ReceiptRead(ReceiptRequest),
}

impl ClientEvent {
    /// Every `type` a client may send, for telling `unknown_type` from `invalid_data`.
    pub const TYPES: &'static [&'static str] = &[
        "message:send",
        "ping",
        "sync",
        "message:edit",
        "message:delete",
        "reaction:add",
        "reaction:remove",
        "typing:start",
        "typing:stop",
        "presence:update",
        "receipt:delivered",
        "receipt:read",
    ];
}

/// `message:edit` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdit {
    /// The message's channel.
    pub channel_id: Uuid,
    /// The message; must be the user's own and not deleted.
    pub message_id: Uuid,
    /// The new body, validated like a sent one.
    pub body: String,
}

/// Names one message (`message:delete` data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The message's channel.
    pub channel_id: Uuid,
    /// The message.
    pub message_id: Uuid,
}

/// `reaction:add` / `reaction:remove` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionRequest {
    /// The message's channel.
    pub channel_id: Uuid,
    /// The message (not deleted).
    pub message_id: Uuid,
    /// Exactly one emoji (one grapheme the Unicode emoji list knows); else `invalid_emoji`.
    pub emoji: String,
}

/// `presence:update` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUpdate {
    /// `online`, `away` or `dnd` (`offline` is refused with `invalid_data`: disconnect instead).
    pub status: Status,
}

/// `receipt:delivered` / `receipt:read` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRequest {
    /// The channel.
    pub channel_id: Uuid,
    /// Highest `seq` received or seen; clamped to the channel head.
    pub seq: i64,
}

/// `sync` data: the client's position in each channel it holds history for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// At most 1000 positions; channels the user no longer belongs to are reported in
    /// `sync:done` as `not_a_member` and otherwise skipped.
    pub channels: Vec<SyncPosition>,
}

/// One channel's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPosition {
    /// The channel.
    pub channel_id: Uuid,
    /// Highest `seq` the client holds (0 for none): replay starts after it.
    pub after_seq: i64,
}

/// `message:send` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSend {
    /// Target channel; the sender must be a member.
    pub channel_id: Uuid,
    /// 1–4000 chars by default; stored verbatim.
    pub body: String,
    /// Idempotency key, 1–64 chars: a resend with the same key is acknowledged with the
    /// original message and stores nothing new.
    pub client_id: String,
    /// Id of a message in the same channel this one replies to; else `invalid_reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Uuid>,
}
