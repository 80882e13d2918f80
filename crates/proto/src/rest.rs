//! REST request bodies, list wrappers and the error body (`/api/...`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Channel, ChannelKind, Me, Member, Message, User};

/// `POST /api/auth/register` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// 3–32 chars of ASCII letters, digits, `_`, `-`, `.`.
    pub username: String,
    /// At least 8 chars, at most 256.
    pub password: String,
    /// Optional; validated as an address when present and not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Optional; defaults to the username. At most 64 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `POST /api/auth/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The username, matched case-insensitively.
    pub username: String,
    /// The password.
    pub password: String,
}

/// Answer to register and login. The same token is also set as the `banter_session` cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthResponse {
    /// The signed-in user.
    pub user: Me,
    /// Bearer token for `Authorization: Bearer <token>`; shown once, stored server-side only
    /// as a keyed hash.
    pub token: String,
    /// Id of the server-side session this token belongs to.
    pub session_id: Uuid,
}

/// `GET /api/users?q=` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserList {
    /// Matching users, ordered by username, at most 20.
    pub users: Vec<User>,
}

/// `POST /api/channels` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateChannelRequest {
    /// 1–64 chars of `a-z`, `0-9`, `-`, `_` (upper case is folded to lower case).
    pub name: String,
    /// `public` or `private` (`dm` is refused: use `POST /api/dms`).
    pub kind: ChannelKind,
    /// Optional topic, at most 256 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// `GET /api/channels` and `GET /api/channels/public` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelList {
    /// The channels; `membership` is set on those the viewer belongs to.
    pub channels: Vec<Channel>,
}

/// `GET /api/channels/:id/members` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberList {
    /// Members ordered by username.
    pub members: Vec<Member>,
}

/// `POST /api/channels/:id/members` (invite) and `POST /api/dms` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRef {
    /// The user to invite, or to open a DM with.
    pub user_id: Uuid,
}

/// `PATCH /api/channels/:id/members/:userId` body: the channel owner appoints or demotes an
/// admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRequest {
    /// `admin` or `member` (`owner` is refused with `invalid_role`).
    pub role: crate::model::Role,
}

/// `POST /api/channels/:id/read` body: moves the viewer's read watermark forward.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadRequest {
    /// Highest `seq` seen; clamped to the channel head; never moves the watermark back.
    pub seq: i64,
}

/// `POST /api/messages` body (the REST twin of the `message:send` event).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMessageRequest {
    /// Target channel; the sender must be a member.
    pub channel_id: Uuid,
    /// 1–4000 chars by default; stored verbatim.
    pub body: String,
    /// Idempotency key chosen by the client, 1–64 chars; reuse it only to retry the same send.
    pub client_id: String,
    /// Id of a message in the same channel this one replies to; else `invalid_reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Uuid>,
}

/// `PATCH /api/messages/:channelId/:messageId` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditMessageRequest {
    /// The new body, validated like a sent one.
    pub body: String,
}

/// `GET /api/messages/:channelId/:seq/receipts` answer: who has received and read one
/// message. Counts and lists exclude the message's sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageReceipts {
    /// The channel.
    pub channel_id: Uuid,
    /// The message's `seq`.
    pub seq: i64,
    /// Members other than the sender.
    pub recipients: i64,
    /// How many of them have it delivered (`delivered_seq >= seq`).
    pub delivered_count: i64,
    /// How many of them have read it (`read_seq >= seq`).
    pub read_count: i64,
    /// Each recipient and how far they got, by username; only in channels of at most
    /// `limits.receipt_members` members, else empty.
    pub members: Vec<RecipientState>,
}

/// One recipient in [`MessageReceipts`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecipientState {
    /// The member.
    pub user: User,
    /// Whether the message was delivered to a device of theirs.
    pub delivered: bool,
    /// Whether they have read it.
    pub read: bool,
}

/// `GET /api/messages/:channelId` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagePage {
    /// Messages in ascending `seq` order.
    pub messages: Vec<Message>,
    /// Whether more messages exist beyond this page in the paging direction (older for the
    /// default and `before=`, newer for `after=`).
    pub has_more: bool,
}

/// Every REST error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInfo,
}

/// A stable error code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// Stable snake_case code, listed in `docs/protocol.md`.
    pub code: String,
    /// English explanation for people; may change between versions.
    pub message: String,
    /// With `rate_limited`: milliseconds to wait before trying again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorInfo {
    /// An error with no retry hint.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), retry_after_ms: None }
    }
}

/// `GET /api/health` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// `ok` when the store answers and Redis (if configured) is connected, otherwise
    /// `degraded`.
    pub status: String,
    /// Server version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Cross-node fan-out: `off` (no Redis configured), `ok`, or `down` (reconnecting; only
    /// this node's sockets get this node's events). Absent from servers before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
}
