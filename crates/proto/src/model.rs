//! Resources as they appear on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// UUIDv7 assigned at registration; never changes.
    pub id: Uuid,
    /// Unique handle, 3–32 chars of ASCII letters, digits, `_`, `-`, `.`; unique case-insensitively.
    pub username: String,
    /// Free-form name shown in clients; defaults to the username.
    pub display_name: String,
    /// When the account was created.
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
}

/// The signed-in user's own profile: [`User`] plus private fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The public profile.
    #[serde(flatten)]
    pub user: User,
    /// Email given at registration, if any.
    pub email: Option<String>,
}

/// What kind of conversation a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Listed in the directory; anyone may join.
    Public,
    /// Hidden; members join by invitation from an owner or admin.
    Private,
    /// A direct message between exactly two users; no name, no invitations.
    Dm,
}

/// A member's role in one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A regular member: reads and posts.
    Member,
    /// May invite members.
    Admin,
    /// Created the channel; may invite members and appoint admins.
    Owner,
}

/// A channel as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// UUIDv7 assigned at creation.
    pub id: Uuid,
    /// Public, private or DM.
    pub kind: ChannelKind,
    /// Lower-case name, 1–64 chars of `a-z`, `0-9`, `-`, `_`, unique over public and private
    /// channels; for a DM, the other member's username (not unique).
    pub name: String,
    /// Free-form topic, at most 256 chars; empty when unset.
    pub topic: String,
    /// `seq` of the newest message, 0 for an empty channel.
    pub head_seq: i64,
    /// Number of members.
    pub member_count: i64,
    /// When the channel was created.
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// The other member of a DM; `None` for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<User>,
    /// The viewer's membership, `None` when the viewer is not a member (directory listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
}

/// The viewer's membership in a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The viewer's role.
    pub role: Role,
    /// The highest `seq` the viewer has marked read; 0 when none. Only moves forward.
    pub read_seq: i64,
    /// The highest `seq` a device of the viewer has received; at least `read_seq`. Only moves
    /// forward.
    #[serde(default)]
    pub delivered_seq: i64,
    /// Unread messages: `head_seq - read_seq`, computed by the server.
    #[serde(default)]
    pub unread_count: i64,
    /// Unread messages (`seq > read_seq`) whose body mentions the viewer as `@username`.
    #[serde(default)]
    pub mention_count: i64,
    /// When the viewer joined.
    #[serde(serialize_with = "crate::time::serialize")]
    pub joined_at: DateTime<Utc>,
}

/// A member of a channel, as listed by `GET /api/channels/:id/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's profile.
    pub user: User,
    /// The member's role.
    pub role: Role,
}

/// A committed chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// UUIDv7 assigned by the server.
    pub id: Uuid,
    /// The channel it was posted in.
    pub channel_id: Uuid,
    /// Per-channel position: starts at 1, gap-free, assigned by the store on commit.
    pub seq: i64,
    /// The author.
    pub sender: User,
    /// The sender's idempotency key (1–64 chars); a resend with the same key returns this message.
    pub client_id: String,
    /// Text exactly as sent (or as last edited), 1–4000 chars by default; never interpreted as
    /// HTML. Empty for a deleted message (a tombstone).
    pub body: String,
    /// Commit time, server clock.
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// When the body was last edited by its sender; absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "crate::time::serialize_opt")]
    pub edited_at: Option<DateTime<Utc>>,
    /// When the message was deleted; a deleted message keeps its `seq` and sender but has an
    /// empty body, no reactions and no quote.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "crate::time::serialize_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// The message this one replies to (same channel), with a short quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyPreview>,
    /// Ids of channel members the body mentions as `@username`, resolved at send time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Uuid>,
    /// Reactions, one entry per distinct emoji in first-use order; empty in live
    /// `message:receive` (a new message has none). `me` is relative to the viewer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
}

/// The replied-to message as quoted in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyPreview {
    /// The original message's id.
    pub message_id: Uuid,
    /// Its `seq` in the same channel.
    pub seq: i64,
    /// Its author.
    pub sender: User,
    /// The start of its body: at most [`ReplyPreview::QUOTE_CHARS`] chars, with `…` appended
    /// when cut; empty when the original was deleted.
    pub quote: String,
    /// Whether the original has been deleted.
    #[serde(default)]
    pub deleted: bool,
}

impl ReplyPreview {
    /// Longest quote, in chars (before the ellipsis).
    pub const QUOTE_CHARS: usize = 120;

    /// The quote of `body`: its first [`ReplyPreview::QUOTE_CHARS`] chars, `…` appended when cut.
    pub fn quote_of(body: &str) -> String {
        match body.char_indices().nth(Self::QUOTE_CHARS) {
            Some((end, _)) => format!("{}…", &body[..end]),
            None => body.to_owned(),
        }
    }
}

/// One emoji's reactions on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    /// The emoji, one grapheme (e.g. `"👍"`).
    pub emoji: String,
    /// How many users reacted with it (at least 1).
    pub count: i64,
    /// Whether the viewer is one of them.
    #[serde(default)]
    pub me: bool,
}

/// A user's availability. Ordered so that a user's presence is the greatest state over
/// their connected devices: `offline` < `away` < `online` < `dnd` (do-not-disturb is an
/// explicit choice, so it wins while any device holds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No device connected (after the grace period).
    Offline,
    /// Connected but inactive (set by the client after inactivity or when hidden).
    Away,
    /// Connected and active.
    Online,
    /// Do not disturb: connected, asked not to be notified.
    Dnd,
}

/// One user's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The user.
    pub user_id: Uuid,
    /// The greatest [`Status`] over their devices.
    pub status: Status,
    /// When the user was last connected (set when they go offline); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "crate::time::serialize_opt")]
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// One member's receipt watermarks in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberReceipt {
    /// The member.
    pub user_id: Uuid,
    /// A device of theirs received every message up to this `seq`.
    pub delivered_seq: i64,
    /// They have seen every message up to this `seq` (`read_seq <= delivered_seq`).
    pub read_seq: i64,
}

/// A user's profile as `GET /api/users/:id` answers it: [`User`] plus presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The public profile.
    #[serde(flatten)]
    pub user: User,
    /// Current presence (`status`, `last_seen_at`).
    pub presence: Presence,
}

/// Limits the server enforces, sent in `ready` so clients can validate before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest message body, in Unicode scalar values (chars).
    pub max_body_chars: usize,
    /// Largest WebSocket frame the server accepts, in bytes; larger frames close with 1009.
    pub max_frame_bytes: usize,
    /// Largest page `GET /api/messages/:channelId` returns.
    pub max_page: u32,
    /// Most distinct emoji on one message.
    #[serde(default)]
    pub max_reactions: usize,
    /// Receipts are shared per member (`receipt:update`, who-read lists) only in channels of
    /// at most this many members; larger channels report counts on request.
    #[serde(default)]
    pub receipt_members: i64,
}
