//! What the SQL backends share: row shapes, the SELECT prefixes that produce them (per
//! placeholder style), their conversion into wire types (so SQLite and PostgreSQL answer
//! identically), LIKE escaping and unique-violation detection.

use banter_proto::{Channel, ChannelKind, Me, Member, MemberReceipt, Membership, Message, ReplyPreview, Role, User};
use sqlx::FromRow;
use uuid::Uuid;

use crate::clock::to_datetime;

/// Columns selected for a user ([`UserRow`]).
pub const USER_COLUMNS: &str = "id, username, display_name, email, created_at";

/// A user as stored, without the password hash.
#[derive(FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub created_at: i64,
}

impl UserRow {
    /// The signed-in view (profile and email).
    pub fn into_me(self) -> Me {
        let email = self.email.clone();
        Me { user: self.into_user(), email }
    }

    /// The public profile.
    pub fn into_user(self) -> User {
        User {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            created_at: to_datetime(self.created_at),
        }
    }
}

/// The channel SELECT with `$viewer` as the viewer's placeholder.
macro_rules! channel_select {
    ($viewer:literal) => {
        concat!("SELECT c.id, c.kind, c.name, c.topic, c.head_seq, c.member_count, c.created_at, \
     m.role, m.read_seq, m.delivered_seq, m.joined_at, \
     (SELECT COUNT(*) FROM mentions x WHERE x.user_id = ", $viewer, " AND x.channel_id = c.id AND x.seq > m.read_seq) AS mention_count, \
     p.id AS peer_id, p.username AS peer_username, p.display_name AS peer_display_name, p.created_at AS peer_created_at \
     FROM channels c \
     LEFT JOIN members m ON m.channel_id = c.id AND m.user_id = ", $viewer, " \
     LEFT JOIN users p ON c.kind = 'dm' AND p.id = (CASE WHEN c.dm_a = ", $viewer, " THEN c.dm_b ELSE c.dm_a END)")
    };
}

/// Selects a channel as the viewer (`?1`) sees it: membership and DM peer joined in (SQLite).
pub const CHANNEL_SELECT_SQLITE: &str = channel_select!("?1");
/// Selects a channel as the viewer (`$1`) sees it: membership and DM peer joined in (PostgreSQL).
pub const CHANNEL_SELECT_POSTGRES: &str = channel_select!("$1");

/// A channel joined with the viewer's membership and the DM peer ([`CHANNEL_SELECT_SQLITE`], [`CHANNEL_SELECT_POSTGRES`]).
#[derive(FromRow)]
pub struct ChannelRow {
    pub id: Uuid,
    pub kind: String,
    pub name: Option<String>,
    pub topic: String,
    pub head_seq: i64,
    pub member_count: i64,
    pub created_at: i64,
    pub role: Option<String>,
    pub read_seq: Option<i64>,
    pub delivered_seq: Option<i64>,
    pub joined_at: Option<i64>,
    pub mention_count: i64,
    pub peer_id: Option<Uuid>,
    pub peer_username: Option<String>,
    pub peer_display_name: Option<String>,
    pub peer_created_at: Option<i64>,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Channel {
        let peer = match (r.peer_id, r.peer_username, r.peer_display_name, r.peer_created_at) {
            (Some(id), Some(username), Some(display_name), Some(at)) => {
                Some(User { id, username, display_name, created_at: to_datetime(at) })
            }
            _ => None,
        };
        let membership = match (r.role, r.read_seq, r.joined_at) {
            (Some(role), Some(read_seq), Some(at)) => Some(Membership {
                role: parse_role(&role),
                read_seq,
                delivered_seq: r.delivered_seq.unwrap_or(read_seq).max(read_seq),
                unread_count: (r.head_seq - read_seq).max(0),
                mention_count: r.mention_count,
                joined_at: to_datetime(at),
            }),
            _ => None,
        };
        let kind = parse_kind(&r.kind);
        let name = match (&peer, r.name) {
            (Some(peer), _) if kind == ChannelKind::Dm => peer.username.clone(),
            (_, name) => name.unwrap_or_default(),
        };
        Channel {
            id: r.id,
            kind,
            name,
            topic: r.topic,
            head_seq: r.head_seq,
            member_count: r.member_count,
            created_at: to_datetime(r.created_at),
            peer,
            membership,
        }
    }
}

/// Selects a message with its sender and the quoted original of a reply (none for a deleted
/// message: a tombstone carries no quote).
pub const MESSAGE_SELECT: &str = "SELECT m.id, m.channel_id, m.seq, m.client_id, m.body, m.created_at, \
     m.edited_at, m.deleted_at, \
     u.id AS sender_id, u.username, u.display_name, u.created_at AS sender_created_at, \
     r.id AS reply_id, r.seq AS reply_seq, r.body AS reply_body, r.deleted_at AS reply_deleted_at, \
     ru.id AS reply_sender_id, ru.username AS reply_username, ru.display_name AS reply_display_name, \
     ru.created_at AS reply_sender_created_at \
     FROM messages m JOIN users u ON u.id = m.sender_id \
     LEFT JOIN messages r ON r.id = m.reply_to AND m.deleted_at IS NULL \
     LEFT JOIN users ru ON ru.id = r.sender_id";

/// A message joined with its sender ([`MESSAGE_SELECT`]).
#[derive(FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub seq: i64,
    pub client_id: String,
    pub body: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub sender_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub sender_created_at: i64,
    pub reply_id: Option<Uuid>,
    pub reply_seq: Option<i64>,
    pub reply_body: Option<String>,
    pub reply_deleted_at: Option<i64>,
    pub reply_sender_id: Option<Uuid>,
    pub reply_username: Option<String>,
    pub reply_display_name: Option<String>,
    pub reply_sender_created_at: Option<i64>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Message {
        let reply_to = match (r.reply_id, r.reply_seq, r.reply_body, r.reply_sender_id, r.reply_username) {
            (Some(message_id), Some(seq), Some(body), Some(id), Some(username)) => Some(ReplyPreview {
                message_id,
                seq,
                sender: User {
                    id,
                    username,
                    display_name: r.reply_display_name.unwrap_or_default(),
                    created_at: to_datetime(r.reply_sender_created_at.unwrap_or_default()),
                },
                quote: ReplyPreview::quote_of(&body),
                deleted: r.reply_deleted_at.is_some(),
            }),
            _ => None,
        };
        Message {
            id: r.id,
            channel_id: r.channel_id,
            seq: r.seq,
            sender: User {
                id: r.sender_id,
                username: r.username,
                display_name: r.display_name,
                created_at: to_datetime(r.sender_created_at),
            },
            client_id: r.client_id,
            body: r.body,
            created_at: to_datetime(r.created_at),
            edited_at: r.edited_at.map(to_datetime),
            deleted_at: r.deleted_at.map(to_datetime),
            reply_to,
            mentions: Vec::new(),
            reactions: Vec::new(),
        }
    }
}

/// One member's watermarks, as selected by `user_id, delivered_seq, read_seq`.
#[derive(FromRow)]
pub struct ReceiptRow {
    pub user_id: Uuid,
    pub delivered_seq: i64,
    pub read_seq: i64,
}

impl From<ReceiptRow> for MemberReceipt {
    fn from(r: ReceiptRow) -> MemberReceipt {
        MemberReceipt { user_id: r.user_id, delivered_seq: r.delivered_seq.max(r.read_seq), read_seq: r.read_seq }
    }
}

/// A member's watermarks with their channel, for grouping into `ReceiptUpdate`s.
#[derive(FromRow)]
pub struct ChannelReceiptRow {
    pub channel_id: Uuid,
    #[sqlx(flatten)]
    pub receipt: ReceiptRow,
}

/// Groups rows ordered by channel into one `ReceiptUpdate` per channel.
pub fn group_receipts(rows: Vec<ChannelReceiptRow>) -> Vec<banter_proto::ws::ReceiptUpdate> {
    let mut out: Vec<banter_proto::ws::ReceiptUpdate> = Vec::new();
    for row in rows {
        let receipt = MemberReceipt::from(row.receipt);
        match out.last_mut() {
            Some(last) if last.channel_id == row.channel_id => last.receipts.push(receipt),
            _ => out.push(banter_proto::ws::ReceiptUpdate { channel_id: row.channel_id, receipts: vec![receipt] }),
        }
    }
    out
}

/// One reaction aggregate row: message, emoji, count, whether the viewer is among them.
#[derive(FromRow)]
pub struct ReactionRow {
    pub message_id: Uuid,
    pub emoji: String,
    pub count: i64,
    pub me: i64,
}

impl ReactionRow {
    /// The message id and its wire aggregate.
    pub fn into_pair(self) -> (Uuid, banter_proto::ReactionCount) {
        (self.message_id, banter_proto::ReactionCount { emoji: self.emoji, count: self.count, me: self.me > 0 })
    }
}

/// A member's profile and role.
#[derive(FromRow)]
pub struct MemberRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub role: String,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Member {
        Member { role: parse_role(&r.role), user: r.user.into_user() }
    }
}

/// A role as stored in `members.role`.
pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// A stored role (the CHECK constraint admits only the three names).
pub fn parse_role(s: &str) -> Role {
    match s {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        _ => Role::Member,
    }
}

/// A kind as stored in `channels.kind`.
pub fn kind_str(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Public => "public",
        ChannelKind::Private => "private",
        ChannelKind::Dm => "dm",
    }
}

fn parse_kind(s: &str) -> ChannelKind {
    match s {
        "public" => ChannelKind::Public,
        "private" => ChannelKind::Private,
        _ => ChannelKind::Dm,
    }
}

/// `prefix` as a LIKE pattern matching strings that start with it (`\` escapes).
pub fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Whether an error is a unique constraint violation (SQLite's or PostgreSQL's).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    pub fn like_prefix_escapes_wildcards_and_the_escape() {
        assert_eq!(like_prefix("ab"), "ab%");
        assert_eq!(like_prefix("a%b_c\\"), "a\\%b\\_c\\\\%");
        assert_eq!(like_prefix(""), "%");
    }
}
