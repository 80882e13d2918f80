//! Cases for `MessageStore`: gap-free `seq` under concurrent writers, the commit hook (once per
//! new message, in `seq` order per channel, never for a replay), idempotent replays, paging.

use std::sync::Arc;
use std::time::Duration;

use banter_client::proto::{ChannelKind, Message};
use banter_server::store::{Page, Store};
use uuid::Uuid;

use super::fixtures::{channel, fill, join, message, user, Recorder};

/// Writers running at once in [`concurrent_writers`].
pub const WRITERS: usize = 8;
/// Messages each writer sends.
pub const PER_WRITER: usize = 50;

/// How long the hooks of the concurrent-writer cases block, to expose misordered hooks.
pub const HOOK_DELAY: Duration = Duration::from_millis(3);

/// Spawns `writers` tasks on `stores` (round robin), each sending `per_writer` messages with
/// fresh keys to `channel` from its own user; returns every committed message.
pub async fn write_concurrently(
    stores: &[(Arc<dyn Store>, Recorder)],
    channel: Uuid,
    senders: &[banter_client::proto::Me],
    per_writer: usize,
) -> Vec<Message> {
    let tasks: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(w, sender)| {
            let (store, recorder) = stores[w % stores.len()].clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let hook = recorder.hook();
                let mut sent = Vec::with_capacity(per_writer);
                for i in 0..per_writer {
                    let new = message(&sender, channel, &format!("w{w}-{i}"), &format!("{w}:{i}"));
                    let inserted = store.insert_message(new, hook.clone()).await.expect("insert_message");
                    let (m, created) = inserted.expect("the sender is a member");
                    assert!(created, "fresh keys are new");
                    sent.push(m);
                }
                sent
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("writer task"));
    }
    all
}

/// Asserts `seq`s 1..=n each once, and that every recorder saw its messages in `seq` order.
pub fn assert_gap_free(sent: &[Message], recorders: &[Recorder], channel: Uuid) {
    let mut seqs: Vec<i64> = sent.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=sent.len() as i64).collect::<Vec<_>>(), "seq from 1, gap-free, no duplicates");
    let mut hooked = 0;
    for recorder in recorders {
        let order = recorder.seqs(channel);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "hook calls in seq order: {order:?}");
        hooked += order.len();
    }
    assert_eq!(hooked, sent.len(), "the hook ran once per new message");
}

/// 8 concurrent writers × 50 messages into one channel.
pub async fn concurrent_writers(store: Arc<dyn Store>) {
    let owner = user(&store, "owner").await;
    let room = channel(&store, &owner, ChannelKind::Public, "busy").await;
    let mut senders = Vec::new();
    for w in 0..WRITERS {
        let writer = user(&store, &format!("writer{w}")).await;
        join(&store, room.id, &writer).await;
        senders.push(writer);
    }
    let recorder = Recorder::slow(HOOK_DELAY);
    let sent = write_concurrently(&[(store.clone(), recorder.clone())], room.id, &senders, PER_WRITER).await;
    assert_gap_free(&sent, &[recorder], room.id);
    let head = store.channel(owner.user.id, room.id).await.unwrap().unwrap().head_seq;
    assert_eq!(head, (WRITERS * PER_WRITER) as i64);
}

/// A resend returns the original and does not call the hook; concurrent sends of one key
/// store one message.
pub async fn idempotent_replay(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    join(&store, room.id, &bob).await;
    let recorder = Recorder::default();
    let hook = recorder.hook();
    let (first, created) =
        store.insert_message(message(&ana, room.id, "k1", "once"), hook.clone()).await.unwrap().unwrap();
    assert!(created);
    assert_eq!((first.seq, first.body.as_str(), first.client_id.as_str()), (1, "once", "k1"));
    assert_eq!(recorder.calls(), std::slice::from_ref(&first));

    let (again, created) =
        store.insert_message(message(&ana, room.id, "k1", "changed"), hook.clone()).await.unwrap().unwrap();
    assert!(!created);
    assert_eq!(again, first, "the ORIGINAL message");
    assert_eq!(recorder.calls().len(), 1, "no hook for a replay");
    let (other, created) =
        store.insert_message(message(&bob, room.id, "k1", "bob's"), hook.clone()).await.unwrap().unwrap();
    assert!(created, "keys are per sender");
    assert_eq!(other.seq, 2);

    // Concurrent sends of one key: one row, every caller gets it, one hook call, no gap.
    let sends: Vec<_> = (0..8)
        .map(|i| {
            let (store, hook, new) =
                (store.clone(), recorder.hook(), message(&ana, room.id, "race", &format!("try {i}")));
            tokio::spawn(async move { store.insert_message(new, hook).await.unwrap().unwrap() })
        })
        .collect();
    let mut results = Vec::new();
    for send in sends {
        results.push(send.await.unwrap());
    }
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert!(results.iter().all(|(m, _)| *m == results[0].0 && m.seq == 3));
    assert_eq!(recorder.seqs(room.id), [1, 2, 3]);
    let (after, _) = store.insert_message(message(&bob, room.id, "k2", "next"), hook.clone()).await.unwrap().unwrap();
    assert_eq!(after.seq, 4, "a lost race leaves no gap");
    let (history, _) = store.messages(room.id, Page::Latest { limit: 100 }).await.unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[2], results[0].0);
}

/// Only members send: a non-member's message (even a replay of a key they used while a
/// member) writes nothing, moves no head and calls no hook, and the same holds after a removal.
pub async fn only_members_send(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let room = channel(&store, &ana, ChannelKind::Public, "members").await;
    let recorder = Recorder::default();
    let refused = store.insert_message(message(&bob, room.id, "b1", "let me in"), recorder.hook()).await.unwrap();
    assert_eq!(refused, None, "not a member");
    join(&store, room.id, &bob).await;
    let (sent, created) =
        store.insert_message(message(&bob, room.id, "b1", "joined"), recorder.hook()).await.unwrap().unwrap();
    assert!(created && sent.seq == 1, "the refused send left no gap");
    assert!(store.remove_member(room.id, bob.user.id).await.unwrap());
    for key in ["b1", "b2"] {
        let gone = store.insert_message(message(&bob, room.id, key, "still here?"), recorder.hook()).await.unwrap();
        assert_eq!(gone, None, "removed: neither a replay nor a new message ({key})");
    }
    assert_eq!(recorder.calls(), std::slice::from_ref(&sent), "one hook call, for the member's message");
    assert_eq!(store.channel(ana.user.id, room.id).await.unwrap().unwrap().head_seq, 1);
    let (history, _) = store.messages(room.id, Page::Latest { limit: 10 }).await.unwrap();
    assert_eq!(history, vec![sent]);
}

/// Latest / before / after pages: ascending, `has_more` at every boundary, identical messages.
pub async fn paging(store: Arc<dyn Store>) {
    let ana = user(&store, "ana").await;
    let room = channel(&store, &ana, ChannelKind::Public, "log").await;
    let empty = channel(&store, &ana, ChannelKind::Public, "empty").await;
    for page in [Page::Latest { limit: 1 }, Page::Before { before: 1, limit: 10 }, Page::After { after: 0, limit: 10 }]
    {
        assert_eq!(store.messages(empty.id, page).await.unwrap(), (vec![], false), "{page:?}");
    }
    let sent = fill(&store, &ana, room.id, 25).await;
    let check = |page: Page, want: Vec<i64>, more: bool| {
        let (store, sent) = (store.clone(), sent.clone());
        async move {
            let (got, has_more) = store.messages(room.id, page).await.unwrap();
            let expected: Vec<Message> = sent.into_iter().filter(|m| want.contains(&m.seq)).collect();
            assert_eq!((got, has_more), (expected, more), "{page:?}");
        }
    };
    check(Page::Latest { limit: 50 }, (1..=25).collect(), false).await;
    check(Page::Latest { limit: 25 }, (1..=25).collect(), false).await;
    check(Page::Latest { limit: 24 }, (2..=25).collect(), true).await;
    check(Page::Latest { limit: 1 }, (25..=25).collect(), true).await;
    check(Page::Before { before: 1, limit: 10 }, vec![], false).await;
    check(Page::Before { before: 2, limit: 10 }, (1..=1).collect(), false).await;
    check(Page::Before { before: 11, limit: 10 }, (1..=10).collect(), false).await;
    check(Page::Before { before: 12, limit: 10 }, (2..=11).collect(), true).await;
    check(Page::Before { before: 100, limit: 10 }, (16..=25).collect(), true).await;
    check(Page::After { after: 0, limit: 10 }, (1..=10).collect(), true).await;
    check(Page::After { after: 15, limit: 10 }, (16..=25).collect(), false).await;
    check(Page::After { after: 14, limit: 10 }, (15..=24).collect(), true).await;
    check(Page::After { after: 25, limit: 10 }, vec![], false).await;
    check(Page::After { after: 24, limit: 1 }, (25..=25).collect(), false).await;
    assert_eq!(store.messages(Uuid::now_v7(), Page::Latest { limit: 10 }).await.unwrap(), (vec![], false));
}
