//! Users and sessions in SQLite: the session lookup (every connect) and `last_seen` read
//! inline ([`super::read`]), the rest through the pools.

use async_trait::async_trait;
use banter_proto::{Me, User};
use sqlx::Connection;
use uuid::Uuid;

use super::{read, SqliteStore};
use crate::store::sql::{is_unique_violation, like_prefix, UserRow, USER_COLUMNS};
use crate::store::{Credentials, NewUser, StoreResult, UserStore};

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser, join_channel: Uuid) -> StoreResult<Option<Me>> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, username_key, display_name, display_key, email, password_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id)
        .bind(&user.username)
        .bind(user.username.to_lowercase())
        .bind(&user.display_name)
        .bind(user.display_name.to_lowercase())
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Ok(None),
            other => other?,
        };
        sqlx::query("INSERT INTO members (channel_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)")
            .bind(join_channel)
            .bind(user.id)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE channels SET member_count = member_count + 1 WHERE id = ?")
            .bind(join_channel)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let row = UserRow {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            email: user.email,
            created_at: user.created_at,
        };
        Ok(Some(row.into_me()))
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_key = ?");
        let row: Option<UserRowWithHash> =
            sqlx::query_as(&sql).bind(username.to_lowercase()).fetch_optional(&self.reader).await?;
        Ok(row.map(|r| Credentials { password_hash: r.password_hash, me: r.user.into_me() }))
    }

    async fn user(&self, id: Uuid) -> StoreResult<Option<Me>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
        let row: Option<UserRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.reader).await?;
        Ok(row.map(UserRow::into_me))
    }

    async fn search_users(&self, prefix: &str, limit: u32) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_key LIKE ?1 ESCAPE '\\' OR display_key LIKE ?1 ESCAPE '\\' \
             ORDER BY username_key LIMIT ?2"
        );
        let rows: Vec<UserRow> =
            sqlx::query_as(&sql).bind(like_prefix(&prefix.to_lowercase())).bind(limit).fetch_all(&self.reader).await?;
        Ok(rows.into_iter().map(UserRow::into_user).collect())
    }

    async fn create_session(&self, id: Uuid, user_id: Uuid, token_hash: &[u8], now: i64) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        sqlx::query("INSERT INTO sessions (id, token_hash, user_id, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &[u8]) -> StoreResult<Option<(Uuid, Me)>> {
        let sql = "SELECT s.id AS session_id, u.id, u.username, u.display_name, u.email, u.created_at \
                   FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.token_hash = ? AND s.revoked_at IS NULL";
        let row = self.inline.optional(sql, [token_hash], |r| Ok((r.get("session_id")?, read::user_row(r)?)))?;
        Ok(row.map(|(session_id, user)| (session_id, user.into_me())))
    }

    async fn revoke_session(&self, id: Uuid, now: i64) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn last_seen(&self, user: Uuid) -> StoreResult<Option<i64>> {
        let at: Option<Option<i64>> =
            self.inline.optional("SELECT last_seen_at FROM users WHERE id = ?", [user], |r| r.get(0))?;
        Ok(at.flatten())
    }

    async fn set_last_seen(&self, user: Uuid, at: i64) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        sqlx::query("UPDATE users SET last_seen_at = ? WHERE id = ?").bind(at).bind(user).execute(&mut *conn).await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct UserRowWithHash {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}
