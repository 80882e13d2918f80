//! Server → client events ([`ServerEvent`]) and their payloads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ChannelRef;
use crate::model::{Channel, Limits, Me, MemberReceipt, Message, Presence};
use crate::rest::ErrorInfo;

/// Server → client events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ServerEvent {
    /// First frame on every connection (boxed: it is by far the largest event).
    #[serde(rename = "ready")]
    Ready(Box<Ready>),
    /// A request succeeded; carries the request's `id`.
    #[serde(rename = "ack")]
    Ack(Ack),
    /// Answer to `ping`.
    #[serde(rename = "pong")]
    Pong,
    /// A message was committed in a channel the user belongs to (including their own).
    #[serde(rename = "message:receive")]
    MessageReceive(Message),
    /// The user joined, created or was invited to a channel, or a DM was opened with them.
    #[serde(rename = "channel:joined")]
    ChannelJoined(Channel),
    /// The user left a channel; no more events arrive for it.
    #[serde(rename = "channel:left")]
    ChannelLeft(ChannelRef),
    /// A request failed or a frame was refused; carries the request's `id` when it had one.
    #[serde(rename = "error")]
    Error(ErrorInfo),
    /// Replayed history for `sync`: committed messages of one channel in ascending `seq`, at
    /// most 100 per frame.
    #[serde(rename = "sync:messages")]
    SyncMessages(SyncMessages),
    /// The gap since the client's position was longer than the server's gap limit: messages
    /// with `after_seq < seq < before_seq` are NOT replayed; page them with
    /// `GET /api/messages/:channelId?before=<before_seq>` when needed. Sent before that
    /// channel's `sync:messages`.
    #[serde(rename = "sync:gap")]
    SyncGap(SyncGap),
    /// Every listed channel has been replayed; carries the `sync` request's `id`.
    #[serde(rename = "sync:done")]
    SyncDone(SyncDone),
    /// A request without a result succeeded; sent only when the request had an `id`, which it
    /// carries.
    #[serde(rename = "ok")]
    Ok,
    /// A message's body was edited.
    #[serde(rename = "message:update")]
    MessageUpdate(MessageUpdate),
    /// A message was deleted; keep it as a tombstone (no body, reactions or quote).
    #[serde(rename = "message:deleted")]
    MessageDeleted(MessageDeleted),
    /// A reaction was added or removed.
    #[serde(rename = "reaction:update")]
    ReactionUpdate(ReactionUpdate),
    /// Who is typing in a channel now (the full set, never including the recipient's own
    /// user); an empty set clears the indicator.
    #[serde(rename = "typing:indicator")]
    TypingIndicator(TypingIndicator),
    /// A user who shares a small channel or a DM with the recipient changed presence.
    #[serde(rename = "presence:change")]
    PresenceChange(Presence),
    /// Members' receipt watermarks moved (coalesced; only in channels of at most
    /// `limits.receipt_members` members).
    #[serde(rename = "receipt:update")]
    ReceiptUpdate(ReceiptUpdate),
    /// The recipient's own read position in a channel moved (from any of their devices).
    #[serde(rename = "channel:unread")]
    ChannelUnread(ChannelUnread),
}

impl ServerEvent {
    /// Every `type` the server sends, for telling `unknown_type` from `invalid_data`.
    pub const TYPES: &'static [&'static str] = &[
        "ready",
        "ack",
        "pong",
        "message:receive",
        "channel:joined",
        "channel:left",
        "error",
        "sync:messages",
        "sync:gap",
        "sync:done",
        "ok",
        "message:update",
        "message:deleted",
        "reaction:update",
        "typing:indicator",
        "presence:change",
        "receipt:update",
        "channel:unread",
    ];
}

/// `message:update` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageUpdate {
    /// The channel.
    pub channel_id: Uuid,
    /// The edited message.
    pub message_id: Uuid,
    /// Its `seq`.
    pub seq: i64,
    /// The new body.
    pub body: String,
    /// When it was edited.
    #[serde(serialize_with = "crate::time::serialize")]
    pub edited_at: DateTime<Utc>,
}

/// `message:deleted` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    /// The channel.
    pub channel_id: Uuid,
    /// The deleted message.
    pub message_id: Uuid,
    /// Its `seq` (kept by the tombstone).
    pub seq: i64,
    /// When it was deleted.
    #[serde(serialize_with = "crate::time::serialize")]
    pub deleted_at: DateTime<Utc>,
}

/// `reaction:update` data: one user's reaction changed, with the new total for that emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionUpdate {
    /// The channel.
    pub channel_id: Uuid,
    /// The message.
    pub message_id: Uuid,
    /// Its `seq`.
    pub seq: i64,
    /// Who reacted or took the reaction back (clients set `me` when it is them).
    pub user_id: Uuid,
    /// The emoji.
    pub emoji: String,
    /// `true` for added, `false` for removed.
    pub added: bool,
    /// How many users now react with this emoji (0 removes the chip).
    pub count: i64,
}

/// `typing:indicator` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingIndicator {
    /// The channel.
    pub channel_id: Uuid,
    /// Users typing now, in the order they started.
    pub user_ids: Vec<Uuid>,
}

/// `receipt:update` data, and one entry of `ready.receipts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptUpdate {
    /// The channel.
    pub channel_id: Uuid,
    /// Watermarks of the members that moved (in `ready`: of every member).
    pub receipts: Vec<MemberReceipt>,
}

/// `channel:unread` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelUnread {
    /// The channel.
    pub channel_id: Uuid,
    /// The recipient's read position now.
    pub read_seq: i64,
    /// `head_seq - read_seq` when it moved.
    pub unread_count: i64,
    /// Unread messages mentioning the recipient.
    pub mention_count: i64,
}

/// `ready` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// The authenticated user.
    pub user: Me,
    /// The server-side session this connection belongs to.
    pub session_id: Uuid,
    /// Every channel the user belongs to, with `head_seq` and `membership.read_seq`.
    pub channels: Vec<Channel>,
    /// Limits the server enforces.
    pub limits: Limits,
    /// Interval, in milliseconds, at which the server pings; a peer silent for two intervals
    /// is dropped.
    pub heartbeat_ms: u64,
    /// Presence of the users who share a DM or a small channel (at most
    /// `limits.receipt_members` members) with this user, excluding offline ones.
    #[serde(default)]
    pub presence: Vec<Presence>,
    /// Every member's watermarks in this user's channels of at most `limits.receipt_members`
    /// members.
    #[serde(default)]
    pub receipts: Vec<ReceiptUpdate>,
}

/// `ack` data for `message:send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Id of the committed message.
    pub message_id: Uuid,
    /// Its channel.
    pub channel_id: Uuid,
    /// Its per-channel position.
    pub seq: i64,
    /// The idempotency key it was sent with.
    pub client_id: String,
    /// Commit time.
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
}

/// `sync:messages` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessages {
    /// The channel replayed.
    pub channel_id: Uuid,
    /// Messages in ascending `seq`.
    pub messages: Vec<Message>,
}

/// `sync:gap` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGap {
    /// The channel.
    pub channel_id: Uuid,
    /// The client's position (exclusive lower bound of the missing range).
    pub after_seq: i64,
    /// The first replayed `seq` (exclusive upper bound of the missing range).
    pub before_seq: i64,
}

/// `sync:done` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDone {
    /// Each listed channel's head at the time it was replayed; live `message:receive`
    /// events continue from there (the client drops any `seq` it already holds).
    pub channels: Vec<SyncHead>,
}

/// One channel's outcome in `sync:done`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncHead {
    /// The channel.
    pub channel_id: Uuid,
    /// Highest `seq` replayed or already held (0 when empty).
    pub head_seq: i64,
    /// Set when the channel was skipped: `not_a_member` or `not_found`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
