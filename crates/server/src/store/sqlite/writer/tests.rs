//! The writer against a real database file: replays read the original as the store's own
//! reads do, resends and refused sends in a batch take no `seq`, a bad write in a batch fails
//! alone, the store's other writes never meet the
//! writer's connection in SQLite's lock (also when one drops its transaction unfinished), and
//! delivered watermarks move as the store promises, also in a flush of several parts beside a
//! stream of sends.

use std::sync::Arc;

use banter_proto::{ChannelKind, Me, MemberReceipt, Message, ReplyPreview, Role};
use uuid::Uuid;

use super::DELIVERED_CHUNK;
use crate::clock::now_ms;
use crate::store::sqlite::SqliteStore;
use crate::store::{CommitHook, NewChannel, NewMessage, NewReaction, NewUser, Page, ReactionOutcome, Store};

pub(super) async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    Arc::new(SqliteStore::connect(&url).await.expect("opens"))
}

pub(super) async fn user(store: &Arc<dyn Store>, name: &str) -> Me {
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

pub(super) async fn room(store: &Arc<dyn Store>, owner: &Me) -> Uuid {
    let id = Uuid::now_v7();
    let (name, created_by, created_at) = (format!("r{}", id.simple()), owner.user.id, now_ms());
    let new = NewChannel { id, kind: ChannelKind::Public, name, topic: String::new(), created_by, created_at };
    store.create_channel(new).await.unwrap().unwrap().id
}

pub(super) fn message(sender: &Me, channel: Uuid, key: &str, body: &str) -> NewMessage {
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

/// Commits `new` from a member of its channel: the message and whether it is new.
pub(super) async fn sent(store: &Arc<dyn Store>, new: NewMessage) -> (Message, bool) {
    store.insert_message(new, no_hook()).await.expect("send").expect("the sender is a member")
}

#[tokio::test]
async fn a_replayed_reply_is_the_original_as_the_store_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let channel = room(&store, &ana).await;
    assert!(store.add_member(channel, bob.user.id, Role::Member, now_ms()).await.unwrap());
    let (first, _) = sent(&store, message(&bob, channel, "q", "the question")).await;
    let mut reply = message(&ana, channel, "a", "the answer, @bob");
    reply.reply_to = Some(ReplyPreview {
        message_id: first.id,
        seq: first.seq,
        sender: first.sender.clone(),
        quote: ReplyPreview::quote_of(&first.body),
        deleted: false,
    });
    reply.mentions = vec![bob.user.id];
    let (committed, created) = sent(&store, reply).await;
    assert!(created);
    let (again, created) = sent(&store, message(&ana, channel, "a", "changed")).await;
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
            let mut new = message(&ana, channel, &format!("k{i}"), "hi");
            if i == 2 {
                // Mentions a user who does not exist: the foreign key fails the statement.
                new.mentions = vec![Uuid::now_v7()];
            }
            let store = store.clone();
            tokio::spawn(async move { store.insert_message(new, no_hook()).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for (i, send) in sends.into_iter().enumerate() {
        match send.await.unwrap() {
            Ok(Some((m, true))) => seqs.push(m.seq),
            Ok(other) => panic!("a member's fresh key is new: {other:?}"),
            Err(e) => assert_eq!(i, 2, "{e}"),
        }
    }
    seqs.sort();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[tokio::test]
async fn resends_and_a_non_members_send_take_no_seq_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let channel = room(&store, &ana).await;
    sent(&store, message(&ana, channel, "k0", "first")).await;
    // Spawned together on this single-threaded runtime, all five queue before the writer's
    // task runs again, so they commit in one batch, in this order.
    let sends = [
        message(&ana, channel, "k1", "new"),
        message(&ana, channel, "k0", "a resend of an earlier batch's"),
        message(&bob, channel, "k2", "bob is not a member"),
        message(&ana, channel, "k1", "a resend of this batch's"),
        message(&ana, channel, "k3", "new again"),
    ]
    .map(|new| {
        let store = store.clone();
        tokio::spawn(async move { store.insert_message(new, no_hook()).await.unwrap() })
    });
    let mut got = Vec::new();
    for send in sends {
        got.push(send.await.unwrap().map(|(m, created)| (m.seq, m.body, created)));
    }
    let expected = [(2, "new", true), (1, "first", false)].map(|(seq, body, new)| Some((seq, body.to_string(), new)));
    assert_eq!(got[..2], expected);
    assert_eq!(got[2], None);
    assert_eq!(got[3..], [Some((2, "new".to_string(), false)), Some((3, "new again".to_string(), true))]);
    // Gap-free: the resends and the refused send gave their seqs back.
    assert_eq!(sent(&store, message(&ana, channel, "k4", "next")).await.0.seq, 4);
    let (page, _) = store.messages(channel, Page::Latest { limit: 10 }).await.unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // The channel's row holds the head the writer keeps in memory, as other connections read it.
    assert_eq!(store.channel(ana.user.id, channel).await.unwrap().unwrap().head_seq, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_writes_run_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let channel = room(&store, &ana).await;
    let (target, _) = sent(&store, message(&ana, channel, "t", "react here")).await;
    let senders: Vec<_> = (0..8)
        .map(|s| {
            let (store, ana) = (store.clone(), ana.clone());
            tokio::spawn(async move {
                for i in 0..40 {
                    let new = message(&ana, channel, &format!("{s}-{i}"), "hi");
                    sent(&store, new).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_under_the_gate_never_fails_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let ana = user(&store, "ana").await;
    let channel = room(&store, &ana).await;
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let (store, ana) = (store.clone(), ana.clone());
            tokio::spawn(async move {
                for i in 0..50 {
                    let new = message(&ana, channel, &format!("{s}-{i}"), "hi");
                    sent(&store, new).await;
                }
            })
        })
        .collect();
    for _ in 0..100 {
        // Writes (no row), then drops its transaction: the gate opens before sqlx's worker has
        // rolled it back, and the writer's thread must wait for that, not fail.
        assert_eq!(store.edit_message(channel, Uuid::now_v7(), "x", now_ms()).await.expect("edit"), None);
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(store.channel(ana.user.id, channel).await.unwrap().unwrap().head_seq, 200);
}

fn mark(user: &Me, delivered_seq: i64, read_seq: i64) -> MemberReceipt {
    MemberReceipt { user_id: user.user.id, delivered_seq, read_seq }
}

#[tokio::test]
async fn delivered_moves_forward_past_both_marks_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await);
    let channel = room(&store, &ana).await;
    assert!(store.add_member(channel, bob.user.id, Role::Member, now_ms()).await.unwrap());
    for i in 0..4 {
        sent(&store, message(&ana, channel, &format!("m{i}"), "hi")).await;
    }
    assert!(store.advance_delivered(&[]).await.unwrap().is_empty());
    let moves = [(channel, bob.user.id, 3), (channel, cyd.user.id, 2), (Uuid::now_v7(), bob.user.id, 1)];
    let moved = store.advance_delivered(&moves).await.unwrap();
    assert_eq!(moved, [(channel, mark(&bob, 3, 0))], "non-members and unknown channels skipped");
    // A repeated pair runs in its given order, whatever the order of the others.
    let moves = [(channel, bob.user.id, 2), (channel, ana.user.id, 4), (channel, bob.user.id, 99)];
    assert_eq!(store.advance_delivered(&moves).await.unwrap(), [(channel, mark(&bob, 4, 0))], "clamped to the head");
    let moves = [(channel, bob.user.id, 2), (channel, bob.user.id, 3)];
    assert!(store.advance_delivered(&moves).await.unwrap().is_empty(), "never backwards");
    store.mark_read(channel, bob.user.id, 4).await.unwrap().unwrap();
    sent(&store, message(&ana, channel, "m4", "hi")).await;
    let moves = [(channel, bob.user.id, 4), (channel, bob.user.id, 5), (channel, bob.user.id, 3)];
    assert_eq!(store.advance_delivered(&moves).await.unwrap(), [(channel, mark(&bob, 5, 4))], "past read only");
    assert_eq!(
        store.receipts(channel).await.unwrap().iter().find(|r| r.user_id == bob.user.id),
        Some(&mark(&bob, 5, 4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_of_several_parts_runs_beside_sends() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let ana = user(&store, "ana").await;
    let mut people = Vec::new();
    for i in 0..30 {
        people.push(user(&store, &format!("u{i}")).await);
    }
    let mut moves = Vec::new();
    for r in 0..30 {
        let channel = room(&store, &ana).await;
        sent(&store, message(&ana, channel, &format!("r{r}"), "hi")).await;
        for (i, person) in people.iter().enumerate() {
            assert!(store.add_member(channel, person.user.id, Role::Member, now_ms()).await.unwrap());
            moves.push((channel, person.user.id, 1 + (r + i) as i64 % 3));
        }
    }
    assert!(moves.len() > 3 * DELIVERED_CHUNK);
    moves.reverse();
    let busy = room(&store, &ana).await;
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let (store, ana) = (store.clone(), ana.clone());
            tokio::spawn(async move {
                for i in 0..50 {
                    sent(&store, message(&ana, busy, &format!("{s}-{i}"), "hi")).await;
                }
            })
        })
        .collect();
    let moved = store.advance_delivered(&moves).await.expect("advance_delivered");
    let want: Vec<_> = moves
        .iter()
        .map(|&(channel, user, _)| (channel, MemberReceipt { user_id: user, delivered_seq: 1, read_seq: 0 }))
        .collect();
    assert_eq!(moved, want, "every move, clamped to each room's head, in the order given");
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(store.channel(ana.user.id, busy).await.unwrap().unwrap().head_seq, 200);
    assert!(store.advance_delivered(&moves).await.unwrap().is_empty(), "all written");
}

/// Messages in `channel` as the database file itself holds them, ignoring the WAL (what a
/// checkpoint has copied back); 0 while not even the schema is there.
fn in_database_file(dir: &tempfile::TempDir, channel: Uuid) -> i64 {
    let uri = format!("file:{}?immutable=1", dir.path().join("banter.db").display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let connection = rusqlite::Connection::open_with_flags(uri, flags).unwrap();
    connection.query_row("SELECT COUNT(*) FROM messages WHERE channel_id = ?", [channel], |row| row.get(0)).unwrap_or(0)
}

#[tokio::test]
async fn commits_reach_the_database_file_by_a_background_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let ann = user(&store, "ann").await;
    let channel = room(&store, &ann).await;
    for i in 0..20 {
        sent(&store, message(&ann, channel, &format!("k{i}"), "hello")).await;
    }
    // Far below SQLite's own 1,000-page trigger: only the checkpoint thread copies them.
    let deadline = std::time::Instant::now() + 20 * super::checkpoint::INTERVAL;
    while in_database_file(&dir, channel) < 20 {
        assert!(std::time::Instant::now() < deadline, "not checkpointed");
        tokio::time::sleep(super::checkpoint::INTERVAL / 4).await;
    }
    let (read, _) = store.messages(channel, crate::store::Page::Latest { limit: 100 }).await.unwrap();
    assert_eq!(read.len(), 20, "and readable as ever");
}
