//! WebSocket frames on `/api/ws`.
//!
//! Every frame is a JSON text frame `{"type": "noun:verb", "id": "...", "data": {...}}`. `id` is
//! optional and chosen by the client; the server echoes it on the `ack` or `error` answering
//! that request. Server-initiated events carry no `id`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Channel, Limits, Me, MemberReceipt, Message, Presence, Status};
use crate::rest::ErrorInfo;

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

/// Names one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The channel's id.
    pub channel_id: Uuid,
}

/// The envelope fields every frame has, read without knowing the event type.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// The event type, `noun:verb`.
    #[serde(rename = "type", borrow)]
    pub kind: std::borrow::Cow<'a, str>,
    /// The request id to echo, if any.
    #[serde(default)]
    pub id: Option<String>,
}

/// Serializes `{"type", "id"?, "data"?}` for one event.
#[derive(Serialize)]
struct Frame<'a, E> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(flatten)]
    event: &'a E,
}

/// Encodes an event as a frame's JSON text, with `id` when it answers a request.
pub fn encode<E: Serialize>(id: Option<&str>, event: &E) -> String {
    serde_json::to_string(&Frame { id, event }).expect("wire types always serialize")
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON, or no string `type`.
    Malformed,
    /// A `type` this side does not know; carries the frame's `id`.
    UnknownType(Option<String>),
    /// A known `type` whose `data` does not fit; carries the frame's `id` and serde's reason.
    InvalidData(Option<String>, String),
}

/// Decodes a frame's text into its `id` and typed event. `known` lists the accepted types
/// ([`ClientEvent::TYPES`] on the server).
pub fn decode<E: serde::de::DeserializeOwned>(text: &str, known: &[&str]) -> Result<(Option<String>, E), DecodeError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|_| DecodeError::Malformed)?;
    if !known.contains(&envelope.kind.as_ref()) {
        return Err(DecodeError::UnknownType(envelope.id));
    }
    match serde_json::from_str::<E>(text) {
        Ok(event) => Ok((envelope.id, event)),
        Err(e) => Err(DecodeError::InvalidData(envelope.id, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_id() {
        let text = r#"{"type":"message:send","id":"r1","data":{"channel_id":"0190e0a0-0000-7000-8000-000000000001","body":"hi","client_id":"c1"}}"#;
        let (id, event): (_, ClientEvent) = decode(text, ClientEvent::TYPES).unwrap();
        assert_eq!(id.as_deref(), Some("r1"));
        let ClientEvent::MessageSend(send) = &event else { panic!("{event:?}") };
        assert_eq!(send.body, "hi");
        let again = encode(Some("r1"), &event);
        let (id2, event2): (_, ClientEvent) = decode(&again, ClientEvent::TYPES).unwrap();
        assert_eq!((id2, event2), (id, event));
    }

    #[test]
    fn unit_events_have_no_data() {
        assert_eq!(encode(Some("p"), &ClientEvent::Ping), r#"{"id":"p","type":"ping"}"#);
        let (_, e): (_, ClientEvent) = decode(r#"{"type":"ping"}"#, ClientEvent::TYPES).unwrap();
        assert_eq!(e, ClientEvent::Ping);
    }

    #[test]
    fn decode_errors_are_classified() {
        let d = |t| decode::<ClientEvent>(t, ClientEvent::TYPES).unwrap_err();
        assert_eq!(d("not json"), DecodeError::Malformed);
        assert_eq!(d(r#"{"id":"x"}"#), DecodeError::Malformed);
        assert_eq!(d(r#"{"type":"nope","id":"x"}"#), DecodeError::UnknownType(Some("x".into())));
        assert!(matches!(
            d(r#"{"type":"message:send","id":"y","data":{"body":1}}"#),
            DecodeError::InvalidData(Some(id), _) if id == "y"
        ));
    }
}
