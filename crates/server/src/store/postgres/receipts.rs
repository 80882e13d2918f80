//! Receipt watermarks (`members.delivered_seq`, `members.read_seq`) and the audiences that
//! follow from membership (who sees whose receipts and presence), in PostgreSQL. The
//! [`ChannelStore`](crate::store::ChannelStore) methods of [`super::PostgresStore`] call these.
//!
//! # Concurrency
//! [`advance_delivered`] updates many member rows in one transaction; two such batches (from
//! two nodes' flushers) taking the same row locks in different orders could deadlock, so each
//! batch is applied in `(channel, user)` order. The UPDATEs read `channels` without locking it,
//! so they never wait on a send holding the channel head's row lock.

use banter_proto::ws::ReceiptUpdate;
use banter_proto::MemberReceipt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::sql::{group_receipts, ChannelReceiptRow, ReceiptRow};
use crate::store::StoreResult;

/// Moves each `(channel, user)`'s `delivered_seq` forward to `min(seq, head_seq)` in one
/// transaction, skipping non-members and moves that would not raise the effective watermark
/// (`max(delivered_seq, read_seq)`). Returns the moved watermarks in the order of `moves`.
pub async fn advance_delivered(pool: &PgPool, moves: &[(Uuid, Uuid, i64)]) -> StoreResult<Vec<(Uuid, MemberReceipt)>> {
    if moves.is_empty() {
        return Ok(Vec::new());
    }
    // Lock order: by (channel, user); a stable sort keeps repeated pairs in their given order.
    let mut order: Vec<usize> = (0..moves.len()).collect();
    order.sort_by_key(|&i| (moves[i].0, moves[i].1));
    let mut moved: Vec<Option<MemberReceipt>> = vec![None; moves.len()];
    let mut tx = pool.begin().await?;
    for i in order {
        let (channel, user, seq) = moves[i];
        let row: Option<ReceiptRow> = sqlx::query_as(
            "UPDATE members m SET delivered_seq = LEAST($3, c.head_seq) FROM channels c \
             WHERE c.id = m.channel_id AND m.channel_id = $1 AND m.user_id = $2 \
             AND GREATEST(m.delivered_seq, m.read_seq) < LEAST($3, c.head_seq) \
             RETURNING m.user_id, m.delivered_seq, m.read_seq",
        )
        .bind(channel)
        .bind(user)
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await?;
        moved[i] = row.map(MemberReceipt::from);
    }
    tx.commit().await?;
    Ok(moves.iter().zip(moved).filter_map(|(&(channel, _, _), receipt)| receipt.map(|r| (channel, r))).collect())
}

/// Every member's watermarks in `channel`, by user id.
pub async fn of_channel(pool: &PgPool, channel: Uuid) -> StoreResult<Vec<MemberReceipt>> {
    let rows: Vec<ReceiptRow> =
        sqlx::query_as("SELECT user_id, delivered_seq, read_seq FROM members WHERE channel_id = $1 ORDER BY user_id")
            .bind(channel)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(MemberReceipt::from).collect())
}

/// Every member's watermarks in each of `user`'s channels of at most `max_members` members,
/// one update per channel, by channel id then user id.
pub async fn of_user(pool: &PgPool, user: Uuid, max_members: i64) -> StoreResult<Vec<ReceiptUpdate>> {
    let rows: Vec<ChannelReceiptRow> = sqlx::query_as(
        "SELECT o.channel_id, o.user_id, o.delivered_seq, o.read_seq FROM members me \
         JOIN channels c ON c.id = me.channel_id AND c.member_count <= $2 \
         JOIN members o ON o.channel_id = me.channel_id \
         WHERE me.user_id = $1 ORDER BY o.channel_id, o.user_id",
    )
    .bind(user)
    .bind(max_members)
    .fetch_all(pool)
    .await?;
    Ok(group_receipts(rows))
}

/// Of the members of `channel` other than `except`: how many, how many have received `seq`,
/// how many have read it.
pub async fn counts(pool: &PgPool, channel: Uuid, seq: i64, except: Uuid) -> StoreResult<(i64, i64, i64)> {
    sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE GREATEST(delivered_seq, read_seq) >= $2), \
         COUNT(*) FILTER (WHERE read_seq >= $2) \
         FROM members WHERE channel_id = $1 AND user_id <> $3",
    )
    .bind(channel)
    .bind(seq)
    .bind(except)
    .fetch_one(pool)
    .await
}

/// Users other than `user` sharing a DM, or a channel of at most `max_members` members, with
/// `user`; each once.
pub async fn presence_peers(pool: &PgPool, user: Uuid, max_members: i64) -> StoreResult<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT DISTINCT o.user_id FROM members me \
         JOIN channels c ON c.id = me.channel_id AND (c.kind = 'dm' OR c.member_count <= $2) \
         JOIN members o ON o.channel_id = me.channel_id AND o.user_id <> $1 \
         WHERE me.user_id = $1",
    )
    .bind(user)
    .bind(max_members)
    .fetch_all(pool)
    .await
}
