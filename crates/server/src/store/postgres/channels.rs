//! Channels and members in PostgreSQL (receipt watermarks and presence peers are read and
//! written in [`super::receipts`]).

use async_trait::async_trait;
use banter_proto::ws::ReceiptUpdate;
use banter_proto::{Channel, Member, MemberReceipt, Role};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{receipts, PostgresStore};
use crate::store::sql::{
    is_unique_violation, kind_str, like_prefix, parse_role, role_str, ChannelRow, MemberRow,
    CHANNEL_SELECT_POSTGRES as CHANNEL_SELECT,
};
use crate::store::{ChannelStore, NewChannel, StoreResult};

impl PostgresStore {
    /// One channel as `viewer` sees it, read through `executor` (pool or transaction).
    async fn channel_via<'e, E>(executor: E, viewer: Uuid, id: Uuid) -> StoreResult<Option<Channel>>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let sql = format!("{CHANNEL_SELECT} WHERE c.id = $2");
        let row: Option<ChannelRow> = sqlx::query_as(&sql).bind(viewer).bind(id).fetch_optional(executor).await?;
        Ok(row.map(Channel::from))
    }

    /// Adds `delta` to a channel's `member_count` inside `tx`.
    async fn count_members(tx: &mut Transaction<'_, Postgres>, channel: Uuid, delta: i64) -> StoreResult<()> {
        sqlx::query("UPDATE channels SET member_count = member_count + $2 WHERE id = $1")
            .bind(channel)
            .bind(delta)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl ChannelStore for PostgresStore {
    async fn ensure_channel(&self, name: &str, now: i64) -> StoreResult<Uuid> {
        sqlx::query(
            "INSERT INTO channels (id, kind, name, created_at) VALUES ($1, 'public', $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query_scalar("SELECT id FROM channels WHERE name = $1").bind(name).fetch_one(&self.pool).await
    }

    async fn create_channel(&self, channel: NewChannel) -> StoreResult<Option<Channel>> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO channels (id, kind, name, topic, member_count, created_by, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $6)",
        )
        .bind(channel.id)
        .bind(kind_str(channel.kind))
        .bind(&channel.name)
        .bind(&channel.topic)
        .bind(channel.created_by)
        .bind(channel.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Ok(None),
            other => other?,
        };
        sqlx::query("INSERT INTO members (channel_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)")
            .bind(channel.id)
            .bind(channel.created_by)
            .bind(channel.created_at)
            .execute(&mut *tx)
            .await?;
        let created = Self::channel_via(&mut *tx, channel.created_by, channel.id).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn open_dm(&self, viewer: Uuid, peer: Uuid, id: Uuid, now: i64) -> StoreResult<(Channel, bool)> {
        let (a, b) = if viewer < peer { (viewer, peer) } else { (peer, viewer) };
        let mut tx = self.pool.begin().await?;
        // The pair's unique key decides a race: a concurrent insert of the same pair waits for
        // the first to commit and then inserts nothing; the SELECT below (a new snapshot under
        // READ COMMITTED) then sees the winner's channel and members.
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO channels (id, kind, member_count, dm_a, dm_b, created_by, created_at) \
             VALUES ($1, 'dm', 2, $2, $3, $4, $5) ON CONFLICT (dm_a, dm_b) DO NOTHING RETURNING id",
        )
        .bind(id)
        .bind(a)
        .bind(b)
        .bind(viewer)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, created) = match inserted {
            Some(id) => {
                sqlx::query(
                    "INSERT INTO members (channel_id, user_id, role, joined_at) \
                     VALUES ($1, $2, 'member', $4), ($1, $3, 'member', $4)",
                )
                .bind(id)
                .bind(a)
                .bind(b)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                (id, true)
            }
            None => {
                let existing: Uuid = sqlx::query_scalar("SELECT id FROM channels WHERE dm_a = $1 AND dm_b = $2")
                    .bind(a)
                    .bind(b)
                    .fetch_one(&mut *tx)
                    .await?;
                (existing, false)
            }
        };
        let channel = Self::channel_via(&mut *tx, viewer, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok((channel, created))
    }

    async fn dm_between(&self, viewer: Uuid, peer: Uuid) -> StoreResult<Option<Channel>> {
        let (a, b) = if viewer < peer { (viewer, peer) } else { (peer, viewer) };
        let sql = format!("{CHANNEL_SELECT} WHERE c.dm_a = $2 AND c.dm_b = $3");
        let row: Option<ChannelRow> =
            sqlx::query_as(&sql).bind(viewer).bind(a).bind(b).fetch_optional(&self.pool).await?;
        Ok(row.map(Channel::from))
    }

    async fn channel(&self, viewer: Uuid, id: Uuid) -> StoreResult<Option<Channel>> {
        Self::channel_via(&self.pool, viewer, id).await
    }

    async fn channels_of(&self, user: Uuid) -> StoreResult<Vec<Channel>> {
        // NULLS FIRST as in SQLite (DM names are NULL; DMs sort after the rest anyway).
        let sql = format!(
            "{CHANNEL_SELECT} WHERE m.user_id IS NOT NULL ORDER BY c.kind = 'dm', c.name NULLS FIRST, c.created_at"
        );
        let rows: Vec<ChannelRow> = sqlx::query_as(&sql).bind(user).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    async fn channel_ids_of(&self, user: Uuid) -> StoreResult<Vec<Uuid>> {
        sqlx::query_scalar("SELECT channel_id FROM members WHERE user_id = $1").bind(user).fetch_all(&self.pool).await
    }

    async fn public_channels(&self, viewer: Uuid, prefix: &str, limit: u32) -> StoreResult<Vec<Channel>> {
        let sql =
            format!("{CHANNEL_SELECT} WHERE c.kind = 'public' AND c.name LIKE $2 ESCAPE '\\' ORDER BY c.name LIMIT $3");
        let rows: Vec<ChannelRow> = sqlx::query_as(&sql)
            .bind(viewer)
            .bind(like_prefix(&prefix.to_lowercase()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    async fn role(&self, channel: Uuid, user: Uuid) -> StoreResult<Option<Role>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM members WHERE channel_id = $1 AND user_id = $2")
                .bind(channel)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(role.as_deref().map(parse_role))
    }

    async fn set_role(&self, channel: Uuid, user: Uuid, role: Role) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE members SET role = $1 WHERE channel_id = $2 AND user_id = $3")
            .bind(role_str(role))
            .bind(channel)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_member(&self, channel: Uuid, user: Uuid, role: Role, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // A concurrent add of the same pair waits on the primary key, then inserts nothing.
        let added = sqlx::query(
            "INSERT INTO members (channel_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(channel)
        .bind(user)
        .bind(role_str(role))
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if added {
            Self::count_members(&mut tx, channel, 1).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn members(&self, channel: Uuid) -> StoreResult<Vec<Member>> {
        let sql = "SELECT u.id, u.username, u.display_name, u.email, u.created_at, m.role \
                   FROM members m JOIN users u ON u.id = m.user_id WHERE m.channel_id = $1 ORDER BY u.username_key";
        let rows: Vec<MemberRow> = sqlx::query_as(sql).bind(channel).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Member::from).collect())
    }

    async fn mark_read(&self, channel: Uuid, user: Uuid, seq: i64) -> StoreResult<Option<Channel>> {
        let mut tx = self.pool.begin().await?;
        // The row lock taken by UPDATE makes a concurrent mark re-read the row, so GREATEST
        // never moves a watermark backwards. SET reads the old values: delivered ends at least
        // at the new read_seq.
        let moved = sqlx::query(
            "UPDATE members m SET read_seq = GREATEST(m.read_seq, LEAST($3, c.head_seq)), \
             delivered_seq = GREATEST(m.delivered_seq, m.read_seq, LEAST($3, c.head_seq)) \
             FROM channels c WHERE c.id = m.channel_id AND m.channel_id = $1 AND m.user_id = $2",
        )
        .bind(channel)
        .bind(user)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(None);
        }
        let view = Self::channel_via(&mut *tx, user, channel).await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn remove_member(&self, channel: Uuid, user: Uuid) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM members WHERE channel_id = $1 AND user_id = $2")
            .bind(channel)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if removed {
            Self::count_members(&mut tx, channel, -1).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn advance_delivered(&self, moves: &[(Uuid, Uuid, i64)]) -> StoreResult<Vec<(Uuid, MemberReceipt)>> {
        receipts::advance_delivered(&self.pool, moves).await
    }

    async fn receipts(&self, channel: Uuid) -> StoreResult<Vec<MemberReceipt>> {
        receipts::of_channel(&self.pool, channel).await
    }

    async fn receipts_of(&self, user: Uuid, max_members: i64) -> StoreResult<Vec<ReceiptUpdate>> {
        receipts::of_user(&self.pool, user, max_members).await
    }

    async fn receipt_counts(&self, channel: Uuid, seq: i64, except: Uuid) -> StoreResult<(i64, i64, i64)> {
        receipts::counts(&self.pool, channel, seq, except).await
    }

    async fn presence_peers(&self, user: Uuid, max_members: i64) -> StoreResult<Vec<Uuid>> {
        receipts::presence_peers(&self.pool, user, max_members).await
    }
}
