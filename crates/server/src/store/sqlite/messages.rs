//! Messages in SQLite: sends go to the group-committing [`super::writer`]; single messages
//! and mention lookups (the send path) are read inline ([`super::read`]), paged history and
//! reactions from the reader pool; edits, deletes and reactions are written through the
//! write pool, behind the write gate ([`super::gate`]).

use async_trait::async_trait;
use banter_proto::{Message, ReactionCount};
use rusqlite::{params_from_iter, ToSql};
use sqlx::Connection;
use uuid::Uuid;

use super::{read, SqliteStore};
use crate::store::sql::{MessageRow, ReactionRow, MESSAGE_SELECT};
use crate::store::{CommitHook, MessageStore, NewMessage, NewReaction, Page, ReactionOutcome, StoreResult};

impl SqliteStore {
    /// One message by channel and id, read through `executor`.
    async fn message_via<'e, E>(executor: E, channel: Uuid, id: Uuid) -> StoreResult<Option<Message>>
    where
        E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
    {
        let sql = format!("{MESSAGE_SELECT} WHERE m.channel_id = ?1 AND m.id = ?2");
        let row: Option<MessageRow> = sqlx::query_as(&sql).bind(channel).bind(id).fetch_optional(executor).await?;
        Ok(row.map(Message::from))
    }

    /// How many users react to `message` with `emoji`, through `executor`.
    async fn reaction_count<'e, E>(executor: E, message: Uuid, emoji: &str) -> StoreResult<i64>
    where
        E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
    {
        sqlx::query_scalar("SELECT COUNT(*) FROM reactions WHERE message_id = ? AND emoji = ?")
            .bind(message)
            .bind(emoji)
            .fetch_one(executor)
            .await
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_message(&self, message: NewMessage, on_commit: CommitHook) -> StoreResult<Option<(Message, bool)>> {
        self.messages.write(message, on_commit).await
    }

    async fn messages(&self, channel: Uuid, page: Page) -> StoreResult<(Vec<Message>, bool)> {
        let (condition, cursor, limit, ascending) = match page {
            Page::Latest { limit } => ("", i64::MAX, limit, false),
            Page::Before { before, limit } => ("AND m.seq < ?2", before, limit, false),
            Page::After { after, limit } => ("AND m.seq > ?2", after, limit, true),
        };
        let order = if ascending { "ASC" } else { "DESC" };
        let sql = format!("{MESSAGE_SELECT} WHERE m.channel_id = ?1 {condition} ORDER BY m.seq {order} LIMIT ?3");
        let mut rows: Vec<MessageRow> =
            sqlx::query_as(&sql).bind(channel).bind(cursor).bind(i64::from(limit) + 1).fetch_all(&self.reader).await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if !ascending {
            rows.reverse();
        }
        Ok((rows.into_iter().map(Message::from).collect(), has_more))
    }

    async fn message(&self, channel: Uuid, id: Uuid) -> StoreResult<Option<Message>> {
        let sql = format!("{MESSAGE_SELECT} WHERE m.channel_id = ?1 AND m.id = ?2");
        Ok(self.inline.optional(&sql, [channel, id], read::message_row)?.map(Message::from))
    }

    async fn edit_message(&self, channel: Uuid, id: Uuid, body: &str, at: i64) -> StoreResult<Option<Message>> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE messages SET body = ?, edited_at = ? WHERE channel_id = ? AND id = ? AND deleted_at IS NULL",
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
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE messages SET body = '', deleted_at = ? WHERE channel_id = ? AND id = ? AND deleted_at IS NULL \
             RETURNING seq",
        )
        .bind(at)
        .bind(channel)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seq) = seq else { return Ok(None) };
        sqlx::query("DELETE FROM reactions WHERE message_id = ?").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mentions WHERE channel_id = ? AND seq = ?")
            .bind(channel)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        let tombstone = Self::message_via(&mut *tx, channel, id).await?;
        tx.commit().await?;
        Ok(tombstone)
    }

    async fn add_reaction(&self, r: NewReaction, max_distinct: usize) -> StoreResult<ReactionOutcome> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let (distinct, known): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(DISTINCT emoji), COALESCE(SUM(emoji = ?2), 0) FROM reactions WHERE message_id = ?1",
        )
        .bind(r.message_id)
        .bind(&r.emoji)
        .fetch_one(&mut *tx)
        .await?;
        if known == 0 && distinct >= max_distinct as i64 {
            return Ok(ReactionOutcome::TooMany);
        }
        let added = sqlx::query(
            "INSERT OR IGNORE INTO reactions (message_id, user_id, emoji, channel_id, seq, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(r.message_id)
        .bind(r.user_id)
        .bind(&r.emoji)
        .bind(r.channel_id)
        .bind(r.seq)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let count = Self::reaction_count(&mut *tx, r.message_id, &r.emoji).await?;
        tx.commit().await?;
        Ok(ReactionOutcome::Counted { count, added })
    }

    async fn remove_reaction(&self, message: Uuid, user: Uuid, emoji: &str) -> StoreResult<(i64, bool)> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let removed = sqlx::query("DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?")
            .bind(message)
            .bind(user)
            .bind(emoji)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        let count = Self::reaction_count(&mut *tx, message, emoji).await?;
        tx.commit().await?;
        Ok((count, removed))
    }

    async fn reactions(
        &self,
        channel: Uuid,
        from_seq: i64,
        to_seq: i64,
        viewer: Uuid,
    ) -> StoreResult<Vec<(Uuid, ReactionCount)>> {
        let rows: Vec<ReactionRow> = sqlx::query_as(
            "SELECT message_id, emoji, COUNT(*) AS count, SUM(user_id = ?4) AS me FROM reactions \
             WHERE channel_id = ?1 AND seq BETWEEN ?2 AND ?3 \
             GROUP BY message_id, emoji ORDER BY message_id, MIN(created_at), emoji",
        )
        .bind(channel)
        .bind(from_seq)
        .bind(to_seq)
        .bind(viewer)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(ReactionRow::into_pair).collect())
    }

    async fn mentions(&self, channel: Uuid, from_seq: i64, to_seq: i64) -> StoreResult<Vec<(i64, Uuid)>> {
        sqlx::query_as(
            "SELECT seq, user_id FROM mentions WHERE channel_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq, user_id",
        )
        .bind(channel)
        .bind(from_seq)
        .bind(to_seq)
        .fetch_all(&self.reader)
        .await
    }

    async fn resolve_mentions(&self, channel: Uuid, usernames: &[String]) -> StoreResult<Vec<Uuid>> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; usernames.len()].join(", ");
        let sql = format!(
            "SELECT u.id FROM users u JOIN members m ON m.user_id = u.id AND m.channel_id = ? \
             WHERE u.username_key IN ({placeholders}) ORDER BY u.username_key"
        );
        let params = std::iter::once(&channel as &dyn ToSql).chain(usernames.iter().map(|n| n as &dyn ToSql));
        self.inline.all(&sql, params_from_iter(params), |r| r.get(0))
    }
}
