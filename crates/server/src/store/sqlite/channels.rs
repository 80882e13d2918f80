//! Channels and members in SQLite: the reads of every connect's `ready` snapshot and the
//! sender's role run inline ([`super::read`]); the rest go through the pools.

use async_trait::async_trait;
use banter_proto::ws::ReceiptUpdate;
use banter_proto::{Channel, Member, MemberReceipt, Role};
use sqlx::Connection;
use uuid::Uuid;

use super::read::{self, Reads};
use super::SqliteStore;
use crate::store::sql::{
    group_receipts, is_unique_violation, kind_str, like_prefix, parse_role, role_str, ChannelRow, MemberRow,
    ReceiptRow, CHANNEL_SELECT_SQLITE as CHANNEL_SELECT,
};
use crate::store::{ChannelStore, NewChannel, ReadySnapshot, StoreResult};

impl SqliteStore {
    /// One channel as `viewer` sees it, read through `executor` (pool or transaction).
    async fn channel_via<'e, E>(executor: E, viewer: Uuid, id: Uuid) -> StoreResult<Option<Channel>>
    where
        E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
    {
        let sql = format!("{CHANNEL_SELECT} WHERE c.id = ?2");
        let row: Option<ChannelRow> = sqlx::query_as(&sql).bind(viewer).bind(id).fetch_optional(executor).await?;
        Ok(row.map(Channel::from))
    }
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn ensure_channel(&self, name: &str, now: i64) -> StoreResult<Uuid> {
        let mut conn = self.writer.acquire().await?;
        sqlx::query("INSERT INTO channels (id, kind, name, created_at) VALUES (?, 'public', ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(Uuid::now_v7())
            .bind(name)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        sqlx::query_scalar("SELECT id FROM channels WHERE name = ?").bind(name).fetch_one(&mut *conn).await
    }

    async fn create_channel(&self, channel: NewChannel) -> StoreResult<Option<Channel>> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO channels (id, kind, name, topic, member_count, created_by, created_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
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
        sqlx::query("INSERT INTO members (channel_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)")
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
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM channels WHERE dm_a = ? AND dm_b = ?")
            .bind(a)
            .bind(b)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, created) = match existing {
            Some(existing) => (existing, false),
            None => {
                sqlx::query(
                    "INSERT INTO channels (id, kind, member_count, dm_a, dm_b, created_by, created_at) VALUES (?, 'dm', 2, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(a)
                .bind(b)
                .bind(viewer)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO members (channel_id, user_id, role, joined_at) VALUES (?1, ?2, 'member', ?4), (?1, ?3, 'member', ?4)")
                    .bind(id)
                    .bind(a)
                    .bind(b)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                (id, true)
            }
        };
        let channel = Self::channel_via(&mut *tx, viewer, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok((channel, created))
    }

    async fn dm_between(&self, viewer: Uuid, peer: Uuid) -> StoreResult<Option<Channel>> {
        let (a, b) = if viewer < peer { (viewer, peer) } else { (peer, viewer) };
        let sql = format!("{CHANNEL_SELECT} WHERE c.dm_a = ?2 AND c.dm_b = ?3");
        let row: Option<ChannelRow> =
            sqlx::query_as(&sql).bind(viewer).bind(a).bind(b).fetch_optional(&self.reader).await?;
        Ok(row.map(Channel::from))
    }

    async fn channel(&self, viewer: Uuid, id: Uuid) -> StoreResult<Option<Channel>> {
        Self::channel_via(&self.reader, viewer, id).await
    }

    async fn channels_of(&self, user: Uuid) -> StoreResult<Vec<Channel>> {
        self.inline.read(|r| channels_of(r, user))
    }

    async fn channel_ids_of(&self, user: Uuid) -> StoreResult<Vec<Uuid>> {
        self.inline.all("SELECT channel_id FROM members WHERE user_id = ?", [user], |r| r.get(0))
    }

    async fn public_channels(&self, viewer: Uuid, prefix: &str, limit: u32) -> StoreResult<Vec<Channel>> {
        let sql =
            format!("{CHANNEL_SELECT} WHERE c.kind = 'public' AND c.name LIKE ?2 ESCAPE '\\' ORDER BY c.name LIMIT ?3");
        let rows: Vec<ChannelRow> = sqlx::query_as(&sql)
            .bind(viewer)
            .bind(like_prefix(&prefix.to_lowercase()))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    async fn role(&self, channel: Uuid, user: Uuid) -> StoreResult<Option<Role>> {
        let sql = "SELECT role FROM members WHERE channel_id = ? AND user_id = ?";
        let role: Option<String> = self.inline.optional(sql, [channel, user], |r| r.get(0))?;
        Ok(role.as_deref().map(parse_role))
    }

    async fn add_member(&self, channel: Uuid, user: Uuid, role: Role, now: i64) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let added = sqlx::query(
            "INSERT INTO members (channel_id, user_id, role, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
            sqlx::query("UPDATE channels SET member_count = member_count + 1 WHERE id = ?")
                .bind(channel)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn members(&self, channel: Uuid) -> StoreResult<Vec<Member>> {
        let sql = "SELECT u.id, u.username, u.display_name, u.email, u.created_at, m.role \
                   FROM members m JOIN users u ON u.id = m.user_id WHERE m.channel_id = ? ORDER BY u.username_key";
        let rows: Vec<MemberRow> = sqlx::query_as(sql).bind(channel).fetch_all(&self.reader).await?;
        Ok(rows.into_iter().map(Member::from).collect())
    }

    async fn mark_read(&self, channel: Uuid, user: Uuid, seq: i64) -> StoreResult<Option<Channel>> {
        let mut conn = self.writer.acquire().await?;
        let moved = sqlx::query(
            "UPDATE members SET read_seq = MAX(read_seq, MIN(?3, (SELECT head_seq FROM channels WHERE id = ?1))), \
             delivered_seq = MAX(delivered_seq, read_seq, MIN(?3, (SELECT head_seq FROM channels WHERE id = ?1))) \
             WHERE channel_id = ?1 AND user_id = ?2",
        )
        .bind(channel)
        .bind(user)
        .bind(seq)
        .execute(&mut *conn)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(None);
        }
        Self::channel_via(&mut *conn, user, channel).await
    }

    async fn set_role(&self, channel: Uuid, user: Uuid, role: Role) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sqlx::query("UPDATE members SET role = ? WHERE channel_id = ? AND user_id = ?")
            .bind(role_str(role))
            .bind(channel)
            .bind(user)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn advance_delivered(&self, moves: &[(Uuid, Uuid, i64)]) -> StoreResult<Vec<(Uuid, MemberReceipt)>> {
        // On the message writer's thread, between message batches (in parts of at most
        // `writer::DELIVERED_CHUNK` moves per transaction).
        self.messages.advance_delivered(moves).await
    }

    async fn receipts(&self, channel: Uuid) -> StoreResult<Vec<MemberReceipt>> {
        let rows: Vec<ReceiptRow> = sqlx::query_as(
            "SELECT user_id, delivered_seq, read_seq FROM members WHERE channel_id = ? ORDER BY user_id",
        )
        .bind(channel)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(MemberReceipt::from).collect())
    }

    async fn receipts_of(&self, user: Uuid, max_members: i64) -> StoreResult<Vec<ReceiptUpdate>> {
        self.inline.read(|r| receipts_of(r, user, max_members))
    }

    async fn receipt_counts(&self, channel: Uuid, seq: i64, except: Uuid) -> StoreResult<(i64, i64, i64)> {
        sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(MAX(delivered_seq, read_seq) >= ?2), 0), COALESCE(SUM(read_seq >= ?2), 0) \
             FROM members WHERE channel_id = ?1 AND user_id <> ?3",
        )
        .bind(channel)
        .bind(seq)
        .bind(except)
        .fetch_one(&self.reader)
        .await
    }

    async fn presence_peers(&self, user: Uuid, max_members: i64) -> StoreResult<Vec<Uuid>> {
        self.inline.read(|r| presence_peers(r, user, max_members))
    }

    async fn ready_snapshot(&self, user: Uuid, max_members: i64) -> StoreResult<ReadySnapshot> {
        self.inline.transaction(|r| {
            Ok(ReadySnapshot {
                channels: channels_of(r, user)?,
                receipts: receipts_of(r, user, max_members)?,
                peers: presence_peers(r, user, max_members)?,
            })
        })
    }

    async fn remove_member(&self, channel: Uuid, user: Uuid) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let removed = sqlx::query("DELETE FROM members WHERE channel_id = ? AND user_id = ?")
            .bind(channel)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if removed {
            sqlx::query("UPDATE channels SET member_count = member_count - 1 WHERE id = ?")
                .bind(channel)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

/// `user`'s channels as they see them, DMs last.
fn channels_of(r: &Reads<'_>, user: Uuid) -> rusqlite::Result<Vec<Channel>> {
    let sql = format!("{CHANNEL_SELECT} WHERE m.user_id IS NOT NULL ORDER BY c.kind = 'dm', c.name, c.created_at");
    Ok(r.all(&sql, [user], read::channel_row)?.into_iter().map(Channel::from).collect())
}

/// Every member's watermarks in each of `user`'s channels of at most `max_members` members.
fn receipts_of(r: &Reads<'_>, user: Uuid, max_members: i64) -> rusqlite::Result<Vec<ReceiptUpdate>> {
    let rows = r.all(
        "SELECT o.channel_id, o.user_id, o.delivered_seq, o.read_seq FROM members me \
         JOIN channels c ON c.id = me.channel_id AND c.member_count <= ?2 \
         JOIN members o ON o.channel_id = me.channel_id \
         WHERE me.user_id = ?1 ORDER BY o.channel_id, o.user_id",
        (user, max_members),
        read::channel_receipt_row,
    )?;
    Ok(group_receipts(rows))
}

/// Users other than `user` sharing a DM or a channel of at most `max_members` members with them.
fn presence_peers(r: &Reads<'_>, user: Uuid, max_members: i64) -> rusqlite::Result<Vec<Uuid>> {
    r.all(
        "SELECT DISTINCT o.user_id FROM members me \
         JOIN channels c ON c.id = me.channel_id AND (c.kind = 'dm' OR c.member_count <= ?2) \
         JOIN members o ON o.channel_id = me.channel_id AND o.user_id <> ?1 \
         WHERE me.user_id = ?1",
        (user, max_members),
        |row| row.get(0),
    )
}
