//! Reactions in PostgreSQL: one row per (message, user, emoji). The
//! [`MessageStore`](crate::store::MessageStore) methods of [`super::PostgresStore`] call these.
//!
//! # Concurrency
//! [`add`] first locks the message row (`SELECT ... FOR UPDATE`), so adds to one message — from
//! any node — run one at a time: the distinct-emoji count it reads cannot change before its
//! insert commits, and `max_distinct` holds. Removes need no lock: they can only lower counts.

use banter_proto::ReactionCount;
use sqlx::{Executor, PgPool, Postgres};
use uuid::Uuid;

use crate::store::sql::ReactionRow;
use crate::store::{NewReaction, ReactionOutcome, StoreResult};

/// How many users react to `message` with `emoji`, through `executor`.
async fn count<'e, E>(executor: E, message: Uuid, emoji: &str) -> StoreResult<i64>
where
    E: Executor<'e, Database = Postgres>,
{
    sqlx::query_scalar("SELECT COUNT(*) FROM reactions WHERE message_id = $1 AND emoji = $2")
        .bind(message)
        .bind(emoji)
        .fetch_one(executor)
        .await
}

/// Adds the reaction unless present (idempotent); refuses an emoji the message does not have
/// yet when it already has `max_distinct` distinct ones.
pub async fn add(pool: &PgPool, r: NewReaction, max_distinct: usize) -> StoreResult<ReactionOutcome> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE").bind(r.message_id).execute(&mut *tx).await?;
    let (distinct, known): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(DISTINCT emoji), COUNT(*) FILTER (WHERE emoji = $2) FROM reactions WHERE message_id = $1",
    )
    .bind(r.message_id)
    .bind(&r.emoji)
    .fetch_one(&mut *tx)
    .await?;
    if known == 0 && distinct >= max_distinct as i64 {
        return Ok(ReactionOutcome::TooMany);
    }
    let added = sqlx::query(
        "INSERT INTO reactions (message_id, user_id, emoji, channel_id, seq, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
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
    let count = count(&mut *tx, r.message_id, &r.emoji).await?;
    tx.commit().await?;
    Ok(ReactionOutcome::Counted { count, added })
}

/// Removes the reaction if present; the emoji's count after, and whether anything changed.
pub async fn remove(pool: &PgPool, message: Uuid, user: Uuid, emoji: &str) -> StoreResult<(i64, bool)> {
    let mut tx = pool.begin().await?;
    let removed = sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
        .bind(message)
        .bind(user)
        .bind(emoji)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    let count = count(&mut *tx, message, emoji).await?;
    tx.commit().await?;
    Ok((count, removed))
}

/// Reaction counts of the messages of `channel` with `from_seq <= seq <= to_seq`: grouped by
/// message id, each message's emoji by first use (then by emoji, byte order), `me` for
/// `viewer`.
pub async fn in_range(
    pool: &PgPool,
    channel: Uuid,
    from_seq: i64,
    to_seq: i64,
    viewer: Uuid,
) -> StoreResult<Vec<(Uuid, ReactionCount)>> {
    let rows: Vec<ReactionRow> = sqlx::query_as(
        "SELECT message_id, emoji, COUNT(*) AS count, COUNT(*) FILTER (WHERE user_id = $4) AS me FROM reactions \
         WHERE channel_id = $1 AND seq BETWEEN $2 AND $3 \
         GROUP BY message_id, emoji ORDER BY message_id, MIN(created_at), emoji",
    )
    .bind(channel)
    .bind(from_seq)
    .bind(to_seq)
    .bind(viewer)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(ReactionRow::into_pair).collect())
}
