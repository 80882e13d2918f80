//! The writer against a real database file: replays read the original as the store's own
//! reads do, a bad write in a batch fails alone, and the store's other writes never meet the
//! writer's connection in SQLite's lock.

use std::sync::Arc;

use banter_proto::{ChannelKind, Me, Message, ReplyPreview};
use uuid::Uuid;

use crate::clock::now_ms;
use crate::store::sqlite::SqliteStore;
use crate::store::{CommitHook, NewChannel, NewMessage, NewReaction, NewUser, ReactionOutcome, Store};

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    Arc::new(SqliteStore::connect(&url).await.expect("opens"))
}

async fn user(store: &Arc<dyn Store>, name: &str) -> Me {
    let general = store.ensure_channel("general", now_ms()).await.unwrap();
    let new = NewUser {
        id: Uuid::now_v7(),
        username: name.into(),
        display_name: name.to_uppercase(),
        email: None,
        password_hash: "x".into(),
        created_at: now_ms(),
    };
    store.create_user(new, general).await.unwrap().unwrap()
}

async fn room(store: &Arc<dyn Store>, owner: &Me) -> Uuid {
    let id = Uuid::now_v7();
    let (name, created_by, created_at) = (format!("r{}", id.simple()), owner.user.id, now_ms());
    let new = NewChannel { id, kind: ChannelKind::Public, name, topic: String::new(), created_by, created_at };
    store.create_channel(new).await.unwrap().unwrap().id
}

fn message(sender: &Me, channel: Uuid, key: &str, body: &str) -> NewMessage {
    NewMessage {
        id: Uuid::now_v7(),
        channel_id: channel,
        sender: sender.user.clone(),
        client_id: key.into(),
        body: body.into(),
        created_at: now_ms(),
        reply_to: None,
        mentions: Vec::new(),
    }
}

fn no_hook() -> CommitHook {
    Arc::new(|_: &Message| {})
}

#[tokio::test]
async fn a_replayed_reply_is_the_original_as_the_store_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let channel = room(&store, &ana).await;
    let (first, _) = store.insert_message(message(&bob, channel, "q", "the question"), no_hook()).await.unwrap();
    let mut reply = message(&ana, channel, "a", "the answer, @bob");
    reply.reply_to = Some(ReplyPreview {
        message_id: first.id,
        seq: first.seq,
        sender: first.sender.clone(),
        quote: ReplyPreview::quote_of(&first.body),
        deleted: false,
    });
    reply.mentions = vec![bob.user.id];
    let (committed, created) = store.insert_message(reply, no_hook()).await.unwrap();
    assert!(created);
    let (again, created) = store.insert_message(message(&ana, channel, "a", "changed"), no_hook()).await.unwrap();
    assert!(!created);
    assert_eq!(Some(&again), store.message(channel, committed.id).await.unwrap().as_ref());
    assert_eq!((again.seq, &again.body, &again.reply_to), (2, &committed.body, &committed.reply_to));
}

#[tokio::test]
async fn a_bad_write_fails_alone_and_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let ana = user(&store, "ana").await;
    let channel = room(&store, &ana).await;
    let sends: Vec<_> = (0..5)
        .map(|i| {
            let target = if i == 2 { Uuid::now_v7() } else { channel };
            let (store, new) = (store.clone(), message(&ana, target, &format!("k{i}"), "hi"));
            tokio::spawn(async move { store.insert_message(new, no_hook()).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for (i, send) in sends.into_iter().enumerate() {
        match send.await.unwrap() {
            Ok((m, true)) => seqs.push(m.seq),
            Ok((_, false)) => panic!("a fresh key is new"),
            Err(e) => assert!(i == 2 && matches!(e, sqlx::Error::RowNotFound), "{i}: {e}"),
        }
    }
    seqs.sort();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_writes_run_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let channel = room(&store, &ana).await;
    let (target, _) = store.insert_message(message(&ana, channel, "t", "react here"), no_hook()).await.unwrap();
    let senders: Vec<_> = (0..8)
        .map(|s| {
            let (store, ana) = (store.clone(), ana.clone());
            tokio::spawn(async move {
                for i in 0..40 {
                    let new = message(&ana, channel, &format!("{s}-{i}"), "hi");
                    store.insert_message(new, no_hook()).await.expect("send");
                }
            })
        })
        .collect();
    for _ in 0..60 {
        // Reads before it writes: it would fail (SQLITE_BUSY) if a second writer held the lock.
        let reaction = NewReaction {
            channel_id: channel,
            message_id: target.id,
            seq: target.seq,
            user_id: bob.user.id,
            emoji: "👍".into(),
            created_at: now_ms(),
        };
        let added = store.add_reaction(reaction, 20).await.expect("add_reaction");
        assert_eq!(added, ReactionOutcome::Counted { count: 1, added: true });
        assert!(store.remove_reaction(target.id, bob.user.id, "👍").await.expect("remove_reaction").1);
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(store.channel(ana.user.id, channel).await.unwrap().unwrap().head_seq, 321);
}
