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
    /// The highest `seq` the viewer has marked read; 0 when none. Unread = `head_seq - read_seq`.
    pub read_seq: i64,
    /// When the viewer joined.
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
    /// Text exactly as sent, 1–4000 chars by default; never interpreted as HTML.
    pub body: String,
    /// Commit time, server clock.
    pub created_at: DateTime<Utc>,
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
}
