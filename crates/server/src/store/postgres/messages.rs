//! Messages in PostgreSQL: `seq` assignment (with the reply and mentions written in the same
//! transaction), idempotency, commit-hook order, paged history, edits and tombstones.
//! Reactions live in [`super::reactions`].
//!
//! Across nodes, the channel row lock taken by `UPDATE ... RETURNING head_seq` serializes
//! senders and keeps `seq` gap-free (see the module doc of [`super`]). It does not order the
//! commit hooks: two tasks of this process sending to one channel may commit seq 5 and 6 and
//! then run their hooks in either order, and the hub would broadcast 6 before 5. So each send
//! also holds this process's [`ChannelLocks`] entry for its channel from before the UPDATE until
//! its hook returned: within the process, the next send to the channel cannot take the row
//! lock (so cannot get a `seq`) before the previous hook ran.

use async_trait::async_trait;
use banter_proto::{Message, ReactionCount};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{reactions, PostgresStore};
use crate::store::sql::{MessageRow, MESSAGE_SELECT};
use crate::store::{CommitHook, MessageStore, NewMessage, NewReaction, Page, ReactionOutcome, StoreResult};

/// Number of stripes in [`ChannelLocks`].
const STRIPES: usize = 256;

/// This process's send locks: a fixed array of async mutexes, a channel using the one its id
/// hashes to. Channels sharing a stripe only share in-process commit concurrency (never
/// correctness), and memory stays bounded however many channels exist. Async (tokio) mutexes,
/// because they are held across the transaction's `.await`s; they are fair (FIFO).
pub struct ChannelLocks {
    stripes: Box<[Mutex<()>]>,
}

impl Default for ChannelLocks {
    fn default() -> Self {
        Self { stripes: (0..STRIPES).map(|_| Mutex::new(())).collect() }
    }
}

impl ChannelLocks {
    /// The mutex ordering sends to `channel`.
    fn of(&self, channel: Uuid) -> &Mutex<()> {
        let (high, low) = channel.as_u64_pair();
        &self.stripes[((high ^ low) % STRIPES as u64) as usize]
    }
}

impl PostgresStore {
    /// One message by channel and id, read through `executor` (pool or transaction).
    async fn message_via<'e, E>(executor: E, channel: Uuid, id: Uuid) -> StoreResult<Option<Message>>
    where
        E: sqlx::Executor<'e, Database = sqlx::Postgres>,
    {
        let sql = format!("{MESSAGE_SELECT} WHERE m.channel_id = $1 AND m.id = $2");
        let row: Option<MessageRow> = sqlx::query_as(&sql).bind(channel).bind(id).fetch_optional(executor).await?;
        Ok(row.map(Message::from))
    }

    /// The committed message with this idempotency key, if any.
    async fn by_client_id(&self, sender: Uuid, client_id: &str) -> StoreResult<Option<Message>> {
        let sql = format!("{MESSAGE_SELECT} WHERE m.sender_id = $1 AND m.client_id = $2");
        let row: Option<MessageRow> =
            sqlx::query_as(&sql).bind(sender).bind(client_id).fetch_optional(&self.pool).await?;
        Ok(row.map(Message::from))
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn insert_message(&self, message: NewMessage, on_commit: CommitHook) -> StoreResult<Option<(Message, bool)>> {
        let member = sqlx::query("SELECT 1 FROM members WHERE channel_id = $1 AND user_id = $2")
            .bind(message.channel_id)
            .bind(message.sender.id)
            .fetch_optional(&self.pool)
            .await?;
        if member.is_none() {
            return Ok(None);
        }
        // A replay of a committed key needs no lock.
        if let Some(original) = self.by_client_id(message.sender.id, &message.client_id).await? {
            return Ok(Some((original, false)));
        }
        let order = self.locks.of(message.channel_id).lock().await;
        let mut tx = self.pool.begin().await?;
        // Row lock on the channel until commit: senders from every node serialize here.
        let seq: i64 =
            sqlx::query_scalar("UPDATE channels SET head_seq = head_seq + 1 WHERE id = $1 RETURNING head_seq")
                .bind(message.channel_id)
                .fetch_one(&mut *tx)
                .await?;
        // Waits for a concurrent insert of the same key; inserts nothing if that one committed.
        let inserted = sqlx::query(
            "INSERT INTO messages (id, channel_id, seq, sender_id, client_id, body, created_at, reply_to) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sender_id, client_id) DO NOTHING",
        )
        .bind(message.id)
        .bind(message.channel_id)
        .bind(seq)
        .bind(message.sender.id)
        .bind(&message.client_id)
        .bind(&message.body)
        .bind(message.created_at)
        .bind(message.reply_to.as_ref().map(|r| r.message_id))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            // Lost the race to a send with the same key: undo the increment, return the winner.
            tx.rollback().await?;
            drop(order);
            let original = self.by_client_id(message.sender.id, &message.client_id).await?;
            return Ok(Some((original.ok_or(sqlx::Error::RowNotFound)?, false)));
        }
        if !message.mentions.is_empty() {
            sqlx::query(
                "INSERT INTO mentions (channel_id, user_id, seq) SELECT $1, u, $3 FROM UNNEST($2::uuid[]) AS u \
                 ON CONFLICT DO NOTHING",
            )
            .bind(message.channel_id)
            .bind(&message.mentions)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        // Sending shows the sender has seen the channel up to their own message.
        sqlx::query(
            "UPDATE members SET read_seq = GREATEST(read_seq, $3), delivered_seq = GREATEST(delivered_seq, $3) \
             WHERE channel_id = $1 AND user_id = $2",
        )
        .bind(message.channel_id)
        .bind(message.sender.id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let committed = message.committed(seq);
        on_commit(&committed);
        drop(order);
        Ok(Some((committed, true)))
    }

    async fn messages(&self, channel: Uuid, page: Page) -> StoreResult<(Vec<Message>, bool)> {
        // Every shape binds and uses `$2`, which PostgreSQL requires of a prepared statement.
        let (condition, cursor, limit, ascending) = match page {
            Page::Latest { limit } => ("m.seq < $2", i64::MAX, limit, false),
            Page::Before { before, limit } => ("m.seq < $2", before, limit, false),
            Page::After { after, limit } => ("m.seq > $2", after, limit, true),
        };
        let order = if ascending { "ASC" } else { "DESC" };
        let sql = format!("{MESSAGE_SELECT} WHERE m.channel_id = $1 AND {condition} ORDER BY m.seq {order} LIMIT $3");
        let mut rows: Vec<MessageRow> =
            sqlx::query_as(&sql).bind(channel).bind(cursor).bind(i64::from(limit) + 1).fetch_all(&self.pool).await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if !ascending {
            rows.reverse();
        }
        Ok((rows.into_iter().map(Message::from).collect(), has_more))
    }

    async fn message(&self, channel: Uuid, id: Uuid) -> StoreResult<Option<Message>> {
        Self::message_via(&self.pool, channel, id).await
    }

    async fn edit_message(&self, channel: Uuid, id: Uuid, body: &str, at: i64) -> StoreResult<Option<Message>> {
        let mut tx = self.pool.begin().await?;
        // The row lock orders an edit against a concurrent delete: whichever runs second
        // re-checks `deleted_at` on the committed row.
        let done = sqlx::query(
            "UPDATE messages SET body = $1, edited_at = $2 WHERE channel_id = $3 AND id = $4 AND deleted_at IS NULL",
        )
        .bind(body)
        .bind(at)
        .bind(channel)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let edited = Self::message_via(&mut *tx, channel, id).await?;
        tx.commit().await?;
        Ok(edited)
    }

    async fn delete_message(&self, channel: Uuid, id: Uuid, at: i64) -> StoreResult<Option<Message>> {
        let mut tx = self.pool.begin().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE messages SET body = '', deleted_at = $1 WHERE channel_id = $2 AND id = $3 AND deleted_at IS NULL \
             RETURNING seq",
        )
        .bind(at)
        .bind(channel)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seq) = seq else { return Ok(None) };
        sqlx::query("DELETE FROM reactions WHERE message_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mentions WHERE channel_id = $1 AND seq = $2")
            .bind(channel)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        let tombstone = Self::message_via(&mut *tx, channel, id).await?;
        tx.commit().await?;
        Ok(tombstone)
    }

    async fn add_reaction(&self, reaction: NewReaction, max_distinct: usize) -> StoreResult<ReactionOutcome> {
        reactions::add(&self.pool, reaction, max_distinct).await
    }

    async fn remove_reaction(&self, message: Uuid, user: Uuid, emoji: &str) -> StoreResult<(i64, bool)> {
        reactions::remove(&self.pool, message, user, emoji).await
    }

    async fn reactions(
        &self,
        channel: Uuid,
        from_seq: i64,
        to_seq: i64,
        viewer: Uuid,
    ) -> StoreResult<Vec<(Uuid, ReactionCount)>> {
        reactions::in_range(&self.pool, channel, from_seq, to_seq, viewer).await
    }

    async fn mentions(&self, channel: Uuid, from_seq: i64, to_seq: i64) -> StoreResult<Vec<(i64, Uuid)>> {
        sqlx::query_as(
            "SELECT seq, user_id FROM mentions WHERE channel_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq, user_id",
        )
        .bind(channel)
        .bind(from_seq)
        .bind(to_seq)
        .fetch_all(&self.pool)
        .await
    }

    async fn resolve_mentions(&self, channel: Uuid, usernames: &[String]) -> StoreResult<Vec<Uuid>> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN members m ON m.user_id = u.id AND m.channel_id = $1 \
             WHERE u.username_key = ANY($2) ORDER BY u.username_key",
        )
        .bind(channel)
        .bind(usernames)
        .fetch_all(&self.pool)
        .await
    }
}
