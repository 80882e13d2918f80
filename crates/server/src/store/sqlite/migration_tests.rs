//! Upgrading a database made by an earlier version, on a real file: migration 3 rebuilds the
//! messages table with the idempotency key's index led by `client_id`, and every message
//! (rowid included) and every reaction survives it; a known key is still a resend.

use std::sync::Arc;

use banter_proto::Message;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Row;
use uuid::Uuid;

use crate::store::sqlite::SqliteStore;
use crate::store::{CommitHook, NewMessage, Store};

/// The migrations of the version before the rebuild, as it shipped them.
const BEFORE: [(&str, &str); 2] = [
    ("0001_init.sql", include_str!("../../../migrations/sqlite/0001_init.sql")),
    ("0002_live_state.sql", include_str!("../../../migrations/sqlite/0002_live_state.sql")),
];

/// Every message row, rowid first, in rowid order.
const MESSAGES: &str = "SELECT rowid, id, channel_id, seq, sender_id, client_id, body, created_at, \
     edited_at, deleted_at, reply_to FROM messages ORDER BY rowid";
/// Every reaction row, in key order.
const REACTIONS: &str = "SELECT message_id, user_id, emoji, channel_id, seq, created_at FROM reactions \
     ORDER BY message_id, user_id, emoji";

/// A database at schema 2 with two users in one channel, three messages (one edited, one a
/// reply, one deleted; rowids with a gap) and three reactions. Returns (alice, bob, channel).
async fn version_2_database(url: &str, dir: &tempfile::TempDir) -> (Uuid, Uuid, Uuid) {
    let scripts = dir.path().join("before");
    std::fs::create_dir(&scripts).unwrap();
    for (name, sql) in BEFORE {
        std::fs::write(scripts.join(name), sql).unwrap();
    }
    let options = url.parse::<SqliteConnectOptions>().unwrap().create_if_missing(true).foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(scripts.as_path()).await.unwrap().run(&pool).await.unwrap();
    let (alice, bob, channel) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (m1, m2, m3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let statements = [
        "INSERT INTO users (id, username, username_key, display_name, display_key, password_hash, created_at) \
         VALUES (?1, 'alice', 'alice', 'Alice', 'alice', 'x', 1), (?2, 'bob', 'bob', 'Bob', 'bob', 'x', 1)",
        "INSERT INTO channels (id, kind, name, head_seq, member_count, created_at) VALUES (?3, 'public', 'r', 3, 2, 1)",
        "INSERT INTO members (channel_id, user_id, role, joined_at) VALUES (?3, ?1, 'owner', 1), (?3, ?2, 'member', 1)",
        "INSERT INTO messages (rowid, id, channel_id, seq, sender_id, client_id, body, created_at, edited_at) \
         VALUES (1, ?4, ?3, 1, ?1, 'k-1', 'hello', 10, 12)",
        "INSERT INTO messages (rowid, id, channel_id, seq, sender_id, client_id, body, created_at, reply_to) \
         VALUES (5, ?5, ?3, 2, ?2, 'k-1', 'hi', 20, ?4)",
        "INSERT INTO messages (rowid, id, channel_id, seq, sender_id, client_id, body, created_at, deleted_at) \
         VALUES (6, ?6, ?3, 3, ?1, 'k-2', '', 30, 31)",
        "INSERT INTO reactions (message_id, user_id, emoji, channel_id, seq, created_at) \
         VALUES (?4, ?2, '👍', ?3, 1, 40), (?4, ?1, '🎉', ?3, 1, 41), (?5, ?1, '👍', ?3, 2, 42)",
    ];
    for sql in statements {
        let query = [alice, bob, channel, m1, m2, m3].into_iter().fold(sqlx::query(sql), |q, id| q.bind(id));
        query.execute(&pool).await.unwrap();
    }
    pool.close().await;
    (alice, bob, channel)
}

/// The rows of `sql` as text, to compare before and after.
async fn rows(pool: &sqlx::SqlitePool, sql: &str) -> Vec<String> {
    let rows = sqlx::query(sql).fetch_all(pool).await.unwrap();
    rows.iter()
        .map(|row| {
            let values: Vec<String> = (0..row.len())
                .map(|i| match row.try_get::<Option<i64>, _>(i) {
                    Ok(n) => format!("{n:?}"),
                    Err(_) => match row.try_get::<Option<String>, _>(i) {
                        Ok(s) => format!("{s:?}"),
                        Err(_) => format!("{:?}", row.get::<Option<Vec<u8>>, _>(i)),
                    },
                })
                .collect();
            values.join("|")
        })
        .collect()
}

#[tokio::test]
async fn the_rebuild_keeps_every_message_and_reaction_and_reorders_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    let (alice, bob, channel) = version_2_database(&url, &dir).await;
    let old = SqlitePoolOptions::new().connect(&url).await.unwrap();
    let (messages_before, reactions_before) = (rows(&old, MESSAGES).await, rows(&old, REACTIONS).await);
    old.close().await;
    assert_eq!((messages_before.len(), reactions_before.len()), (3, 3));

    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("migrates"));
    let check = SqlitePoolOptions::new().connect(&url).await.unwrap();
    assert_eq!(rows(&check, MESSAGES).await, messages_before, "messages and rowids kept");
    assert_eq!(rows(&check, REACTIONS).await, reactions_before, "reactions put back");
    let key = rows(
        &check,
        "SELECT il.name FROM pragma_index_list('messages') l, pragma_index_info(l.name) il \
         WHERE l.\"unique\" AND l.name IN (SELECT l2.name FROM pragma_index_list('messages') l2, \
         pragma_index_info(l2.name) i2 WHERE i2.name = 'client_id') ORDER BY l.name, il.seqno",
    )
    .await;
    assert_eq!(key, ["Some(\"client_id\")", "Some(\"sender_id\")"], "the key's index leads with client_id");
    assert!(rows(&check, "PRAGMA foreign_key_check").await.is_empty());
    // Reactions still reference the (new) messages table: one for no message is refused.
    let orphan = sqlx::query(
        "INSERT INTO reactions (message_id, user_id, emoji, channel_id, seq, created_at) \
         VALUES (?1, ?2, '👍', ?3, 9, 60)",
    )
    .bind(Uuid::now_v7())
    .bind(alice)
    .bind(channel)
    .execute(&check)
    .await;
    assert!(orphan.is_err(), "a reaction to no message is refused");
    assert_eq!(rows(&check, "PRAGMA integrity_check").await, ["Some(\"ok\")"]);
    assert!(rows(&check, "SELECT name FROM sqlite_temp_master").await.is_empty(), "no table left aside");

    // The key is still (sender, client_id): alice's `k-1` is a resend of message 1, and a
    // new key takes the next seq, 4.
    let hook: CommitHook = Arc::new(|_: &Message| {});
    let sender = store.user(alice).await.unwrap().expect("alice").user;
    let send = |key: &str| NewMessage {
        id: Uuid::now_v7(),
        channel_id: channel,
        sender: sender.clone(),
        client_id: key.into(),
        body: "again".into(),
        created_at: 50,
        reply_to: None,
        mentions: Vec::new(),
    };
    let (resent, new) = store.insert_message(send("k-1"), hook.clone()).await.unwrap().unwrap();
    assert_eq!((resent.seq, resent.body.as_str(), new), (1, "hello", false));
    let (fresh, new) = store.insert_message(send("k-3"), hook).await.unwrap().unwrap();
    assert_eq!((fresh.seq, new), (4, true));
    let bobs = rows(&check, &format!("SELECT seq FROM messages WHERE sender_id = x'{}'", bob.simple())).await;
    assert_eq!(bobs, ["Some(2)"]);
}
