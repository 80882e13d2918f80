//! Messages in SQLite: sends go to the group-committing [`super::writer`]; paged history is
//! read from the reader pool.

use async_trait::async_trait;
use banter_proto::Message;
use uuid::Uuid;

use super::SqliteStore;
use crate::store::sql::{MessageRow, MESSAGE_SELECT};
use crate::store::{CommitHook, MessageStore, NewMessage, Page, StoreResult};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_message(&self, message: NewMessage, on_commit: CommitHook) -> StoreResult<(Message, bool)> {
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
}
