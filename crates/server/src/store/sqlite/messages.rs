//! Messages in SQLite: `seq` assignment, idempotency, paged history.

use async_trait::async_trait;
use banter_proto::Message;
use uuid::Uuid;

use super::SqliteStore;
use crate::clock::to_datetime;
use crate::store::sql::{MessageRow, MESSAGE_SELECT};
use crate::store::{CommitHook, MessageStore, NewMessage, Page, StoreResult};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_message(&self, message: NewMessage, on_commit: CommitHook<'_>) -> StoreResult<(Message, bool)> {
        // One writer connection, held until `on_commit` returned: this transaction is the only
        // one assigning seqs (so `head_seq + 1` is gap-free and the idempotency check cannot
        // race), and the hook runs before the next message can commit (so in seq order).
        let mut writer = self.writer.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer).await?;
        let sql = format!("{MESSAGE_SELECT} WHERE m.sender_id = ? AND m.client_id = ?");
        let original: Option<MessageRow> =
            sqlx::query_as(&sql).bind(message.sender.id).bind(&message.client_id).fetch_optional(&mut *tx).await?;
        if let Some(original) = original {
            return Ok((original.into(), false));
        }
        let seq: i64 =
            sqlx::query_scalar("UPDATE channels SET head_seq = head_seq + 1 WHERE id = ? RETURNING head_seq")
                .bind(message.channel_id)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO messages (id, channel_id, seq, sender_id, client_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(message.id)
        .bind(message.channel_id)
        .bind(seq)
        .bind(message.sender.id)
        .bind(&message.client_id)
        .bind(&message.body)
        .bind(message.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let committed = Message {
            id: message.id,
            channel_id: message.channel_id,
            seq,
            sender: message.sender,
            client_id: message.client_id,
            body: message.body,
            created_at: to_datetime(message.created_at),
        };
        on_commit(&committed);
        drop(writer);
        Ok((committed, true))
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
}
