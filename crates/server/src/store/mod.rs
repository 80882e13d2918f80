//! Persistence: the [`Store`] trait the services call, and its backends ([`sqlite`], the
//! default, and [`postgres`]); [`connect`] picks one by the database URL's scheme.
//!
//! The store owns durability and ordering: it assigns each message its per-channel `seq` in
//! the committing transaction (from 1, gap-free) and enforces the `(sender, client_id)`
//! idempotency key. It returns wire types from `banter_proto`; it knows nothing of HTTP,
//! sessions on sockets, or fan-out.

pub mod postgres;
pub mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use banter_proto::ws::ReceiptUpdate;
use banter_proto::{Channel, ChannelKind, Me, Member, MemberReceipt, Message, ReactionCount, ReplyPreview, Role, User};
use uuid::Uuid;

/// Errors are the driver's; services turn them into `internal`.
pub type StoreResult<T> = Result<T, sqlx::Error>;

/// Opens and migrates the backend `url` names: `sqlite:` → [`sqlite::SqliteStore`],
/// `postgres:` or `postgresql:` → [`postgres::PostgresStore`]; `Ok(None)` for any other scheme.
/// Errors: the database cannot be reached, opened or migrated.
pub async fn connect(url: &str) -> StoreResult<Option<Arc<dyn Store>>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::connect(url).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Arc::new(postgres::PostgresStore::connect(url).await?)
    } else {
        return Ok(None);
    };
    Ok(Some(store))
}

/// A user row to insert.
pub struct NewUser {
    /// UUIDv7.
    pub id: Uuid,
    /// Validated username.
    pub username: String,
    /// Validated display name.
    pub display_name: String,
    /// Validated email, if given.
    pub email: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Unix ms.
    pub created_at: i64,
}

/// A channel row to insert (public or private).
pub struct NewChannel {
    /// UUIDv7.
    pub id: Uuid,
    /// Public or private.
    pub kind: ChannelKind,
    /// Validated, lower-case name.
    pub name: String,
    /// Validated topic.
    pub topic: String,
    /// The creator, who becomes owner.
    pub created_by: Uuid,
    /// Unix ms.
    pub created_at: i64,
}

/// A message to commit.
pub struct NewMessage {
    /// UUIDv7, used only if the message is new.
    pub id: Uuid,
    /// Target channel.
    pub channel_id: Uuid,
    /// The author.
    pub sender: User,
    /// Idempotency key.
    pub client_id: String,
    /// Validated body.
    pub body: String,
    /// Unix ms, used only if the message is new.
    pub created_at: i64,
    /// The replied-to message of the same channel, already checked by the service.
    pub reply_to: Option<ReplyPreview>,
    /// Members the body mentions (stored in `mentions` in the same transaction).
    pub mentions: Vec<Uuid>,
}

impl NewMessage {
    /// The wire message this becomes once committed with `seq`.
    pub fn committed(&self, seq: i64) -> Message {
        Message {
            id: self.id,
            channel_id: self.channel_id,
            seq,
            sender: self.sender.clone(),
            client_id: self.client_id.clone(),
            body: self.body.clone(),
            created_at: crate::clock::to_datetime(self.created_at),
            edited_at: None,
            deleted_at: None,
            reply_to: self.reply_to.clone(),
            mentions: self.mentions.clone(),
            reactions: Vec::new(),
        }
    }
}

/// Which slice of a channel's history to read; `limit` is 1–100.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// The newest `limit` messages.
    Latest { limit: u32 },
    /// The newest `limit` messages with `seq < before`.
    Before { before: i64, limit: u32 },
    /// The oldest `limit` messages with `seq > after`.
    After { after: i64, limit: u32 },
}

/// Stored account with its password hash, for login.
pub struct Credentials {
    /// The account.
    pub me: Me,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// Everything the services need from persistence: one trait per aggregate. Implementations
/// must be safe to call concurrently.
#[async_trait]
pub trait Store: UserStore + ChannelStore + MessageStore + Send + Sync + 'static {
    /// Answers when the database is reachable.
    async fn ping(&self) -> StoreResult<()>;
}

/// Accounts and sessions, in create-read-update-delete order.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user and makes them a member of `join_channel`, atomically. `Ok(None)` when
    /// the username is taken (case-insensitively).
    async fn create_user(&self, user: NewUser, join_channel: Uuid) -> StoreResult<Option<Me>>;
    /// The account whose username matches case-insensitively, with its hash.
    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>>;
    /// One user by id.
    async fn user(&self, id: Uuid) -> StoreResult<Option<Me>>;
    /// Users whose username or display name starts with `prefix` (case-insensitive), by username.
    async fn search_users(&self, prefix: &str, limit: u32) -> StoreResult<Vec<User>>;
    /// Stores a session keyed by the token's keyed hash.
    async fn create_session(&self, id: Uuid, user_id: Uuid, token_hash: &[u8], now: i64) -> StoreResult<()>;
    /// The live (not revoked) session for a token hash: `(session id, user)`.
    async fn session(&self, token_hash: &[u8]) -> StoreResult<Option<(Uuid, Me)>>;
    /// Marks a session revoked; `false` if it was unknown or already revoked.
    async fn revoke_session(&self, id: Uuid, now: i64) -> StoreResult<bool>;
    /// When the user last went offline (Unix ms), if ever.
    async fn last_seen(&self, user: Uuid) -> StoreResult<Option<i64>>;
    /// Records that the user went offline at `at` (Unix ms).
    async fn set_last_seen(&self, user: Uuid, at: i64) -> StoreResult<()>;
}

/// Channels and their members, in create-read-update-delete order.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Creates the public channel `name` if no channel has that name; returns its id.
    async fn ensure_channel(&self, name: &str, now: i64) -> StoreResult<Uuid>;
    /// Inserts a channel with its creator as owner. `Ok(None)` when the name is taken.
    async fn create_channel(&self, channel: NewChannel) -> StoreResult<Option<Channel>>;
    /// The DM channel of the pair, creating it (both as members) if missing. Returns the
    /// channel as `viewer` sees it and whether it was created.
    async fn open_dm(&self, viewer: Uuid, peer: Uuid, id: Uuid, now: i64) -> StoreResult<(Channel, bool)>;
    /// The existing DM channel of the pair as `viewer` sees it, if any.
    async fn dm_between(&self, viewer: Uuid, peer: Uuid) -> StoreResult<Option<Channel>>;
    /// One channel as `viewer` sees it (`membership` set if they belong to it).
    async fn channel(&self, viewer: Uuid, id: Uuid) -> StoreResult<Option<Channel>>;
    /// The channels `user` belongs to.
    async fn channels_of(&self, user: Uuid) -> StoreResult<Vec<Channel>>;
    /// Ids of the channels `user` belongs to.
    async fn channel_ids_of(&self, user: Uuid) -> StoreResult<Vec<Uuid>>;
    /// Public channels whose name starts with `prefix`, by name, as `viewer` sees them.
    async fn public_channels(&self, viewer: Uuid, prefix: &str, limit: u32) -> StoreResult<Vec<Channel>>;
    /// `user`'s role in `channel`, if a member.
    async fn role(&self, channel: Uuid, user: Uuid) -> StoreResult<Option<Role>>;
    /// Adds a member; `false` if already one (role unchanged).
    async fn add_member(&self, channel: Uuid, user: Uuid, role: Role, now: i64) -> StoreResult<bool>;
    /// Sets an existing member's role; `false` if they are not a member.
    async fn set_role(&self, channel: Uuid, user: Uuid, role: Role) -> StoreResult<bool>;
    /// Members of a channel, by username.
    async fn members(&self, channel: Uuid) -> StoreResult<Vec<Member>>;
    /// Moves `read_seq` forward to `min(seq, head_seq)` (and `delivered_seq` up to at least
    /// that); never backwards. Returns the channel as `user` sees it now (its membership with
    /// fresh `unread_count` and `mention_count`). `None` if not a member.
    async fn mark_read(&self, channel: Uuid, user: Uuid, seq: i64) -> StoreResult<Option<Channel>>;
    /// Moves each `(channel, user)`'s `delivered_seq` forward to `min(seq, head_seq)`; never
    /// backwards; non-members are skipped. Returns the watermarks that moved, with their
    /// channel, in input order. PostgreSQL writes them in one transaction; SQLite in
    /// transactions of at most 128 moves with message commits in between (an error in a later
    /// part leaves earlier parts written: harmless, as watermarks only move forward).
    async fn advance_delivered(&self, moves: &[(Uuid, Uuid, i64)]) -> StoreResult<Vec<(Uuid, MemberReceipt)>>;
    /// Every member's watermarks in one channel, by user id.
    async fn receipts(&self, channel: Uuid) -> StoreResult<Vec<MemberReceipt>>;
    /// Every member's watermarks in each of `user`'s channels of at most `max_members` members.
    async fn receipts_of(&self, user: Uuid, max_members: i64) -> StoreResult<Vec<ReceiptUpdate>>;
    /// Of the members of `channel` other than `except`: how many there are, how many have
    /// `delivered_seq >= seq`, and how many have `read_seq >= seq`.
    async fn receipt_counts(&self, channel: Uuid, seq: i64, except: Uuid) -> StoreResult<(i64, i64, i64)>;
    /// Users other than `user` who share a DM or a channel of at most `max_members` members
    /// with `user` (each once).
    async fn presence_peers(&self, user: Uuid, max_members: i64) -> StoreResult<Vec<Uuid>>;
    /// Removes a member; `false` if they were not one.
    async fn remove_member(&self, channel: Uuid, user: Uuid) -> StoreResult<bool>;
    /// What a connect's `ready` reads of `user`: [`ChannelStore::channels_of`],
    /// [`ChannelStore::receipts_of`] and [`ChannelStore::presence_peers`] with `max_members`.
    /// By default three reads; SQLite makes them one read transaction (one snapshot, one lock
    /// of the file), as every connect pays for them.
    async fn ready_snapshot(&self, user: Uuid, max_members: i64) -> StoreResult<ReadySnapshot> {
        Ok(ReadySnapshot {
            channels: self.channels_of(user).await?,
            receipts: self.receipts_of(user, max_members).await?,
            peers: self.presence_peers(user, max_members).await?,
        })
    }
}

/// [`ChannelStore::ready_snapshot`]'s reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadySnapshot {
    /// The user's channels as they see them, heads and unread counts included.
    pub channels: Vec<Channel>,
    /// Every member's watermarks in the user's small channels.
    pub receipts: Vec<ReceiptUpdate>,
    /// Users sharing a DM or a small channel with the user.
    pub peers: Vec<Uuid>,
}

/// Called with each newly committed message, after its commit and before any later message
/// of the same channel is announced: calls happen in commit (so `seq`) order per channel.
/// Must not block (it runs on the store's writer path).
pub type CommitHook = Arc<dyn Fn(&Message) + Send + Sync>;

/// Messages: commit with `seq` assignment and idempotency, and paged history.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Commits a message, assigning the next `seq` of its channel, unless `(sender,
    /// client_id)` exists: then returns the stored original (and does not call `on_commit`).
    /// The flag is `true` if new. `None` (nothing written, no hook) if the sender is not a
    /// member of the channel, checked first, in the same transaction where the store has one
    /// per message batch (SQLite), so the service needs no read of its own before a send.
    async fn insert_message(&self, message: NewMessage, on_commit: CommitHook) -> StoreResult<Option<(Message, bool)>>;
    /// A page of history in ascending `seq`, and whether more lie in the paging direction.
    /// `reactions` is left empty (see [`MessageStore::reactions`]).
    async fn messages(&self, channel: Uuid, page: Page) -> StoreResult<(Vec<Message>, bool)>;
    /// One message of `channel` by id (tombstones included, `reactions` empty).
    async fn message(&self, channel: Uuid, id: Uuid) -> StoreResult<Option<Message>>;
    /// Replaces the body of a message that is not deleted and sets `edited_at`; returns the
    /// edited message, `None` if missing or deleted.
    async fn edit_message(&self, channel: Uuid, id: Uuid, body: &str, at: i64) -> StoreResult<Option<Message>>;
    /// Turns a message into a tombstone: empty body, `deleted_at` set, its reactions and
    /// mentions removed. Returns the tombstone, `None` if missing or already deleted.
    async fn delete_message(&self, channel: Uuid, id: Uuid, at: i64) -> StoreResult<Option<Message>>;
    /// Adds `user`'s reaction unless present; refuses a new distinct emoji beyond
    /// `max_distinct` on the message.
    async fn add_reaction(&self, reaction: NewReaction, max_distinct: usize) -> StoreResult<ReactionOutcome>;
    /// Removes `user`'s reaction if present; returns the emoji's count after and whether
    /// anything changed.
    async fn remove_reaction(&self, message: Uuid, user: Uuid, emoji: &str) -> StoreResult<(i64, bool)>;
    /// Reaction counts of the messages of `channel` with `from_seq <= seq <= to_seq`: per
    /// message id, emoji in first-use order, `me` set for `viewer`.
    async fn reactions(
        &self,
        channel: Uuid,
        from_seq: i64,
        to_seq: i64,
        viewer: Uuid,
    ) -> StoreResult<Vec<(Uuid, ReactionCount)>>;
    /// Who the messages of `channel` with `from_seq <= seq <= to_seq` mention: `(seq, user)`
    /// pairs by seq.
    async fn mentions(&self, channel: Uuid, from_seq: i64, to_seq: i64) -> StoreResult<Vec<(i64, Uuid)>>;
    /// Ids of the members of `channel` whose usernames are in `usernames` (lower-case keys).
    async fn resolve_mentions(&self, channel: Uuid, usernames: &[String]) -> StoreResult<Vec<Uuid>>;
}

/// A reaction to add.
pub struct NewReaction {
    /// The message's channel.
    pub channel_id: Uuid,
    /// The message (not deleted, checked by the service).
    pub message_id: Uuid,
    /// Its `seq`.
    pub seq: i64,
    /// Who reacts.
    pub user_id: Uuid,
    /// A validated emoji.
    pub emoji: String,
    /// Unix ms.
    pub created_at: i64,
}

/// What [`MessageStore::add_reaction`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionOutcome {
    /// The reaction is there now: the emoji's count and whether it was added by this call.
    Counted { count: i64, added: bool },
    /// The message already has `max_distinct` other emoji; nothing changed.
    TooMany,
}
