//! Cases for reactions in `MessageStore`: idempotent add and remove with counts, the distinct
//! emoji limit (also under concurrent adds), `me` per viewer, and first-use order.

use std::sync::Arc;

use banter_client::proto::{ChannelKind, Me, Message, ReactionCount};
use banter_server::store::{NewReaction, Page, ReactionOutcome, Store};
use uuid::Uuid;

use super::fixtures::{channel, fill, join, user};

/// `who`'s reaction `emoji` on `m` at time `at`.
fn reaction(m: &Message, who: &Me, emoji: &str, at: i64) -> NewReaction {
    NewReaction {
        channel_id: m.channel_id,
        message_id: m.id,
        seq: m.seq,
        user_id: who.user.id,
        emoji: emoji.into(),
        created_at: at,
    }
}

/// The outcome of an add that counted.
fn counted(count: i64, added: bool) -> ReactionOutcome {
    ReactionOutcome::Counted { count, added }
}

/// One emoji's aggregate.
fn rc(emoji: &str, count: i64, me: bool) -> ReactionCount {
    ReactionCount { emoji: emoji.into(), count, me }
}

/// The reactions on `m` as `viewer` sees them.
async fn of(store: &Arc<dyn Store>, m: &Message, viewer: &Me) -> Vec<ReactionCount> {
    let all = store.reactions(m.channel_id, m.seq, m.seq, viewer.user.id).await.unwrap();
    all.into_iter().filter(|(id, _)| *id == m.id).map(|(_, count)| count).collect()
}

/// Add is idempotent and counts; remove is idempotent and counts; `me` is per viewer; the
/// limit refuses only a NEW distinct emoji.
pub async fn add_and_remove(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    join(&store, room.id, &bob).await;
    join(&store, room.id, &cyd).await;
    let sent = fill(&store, &ana, room.id, 2).await;
    let m = &sent[0];

    assert_eq!(store.add_reaction(reaction(m, &ana, "👍", 10), 2).await.unwrap(), counted(1, true));
    assert_eq!(store.add_reaction(reaction(m, &ana, "👍", 11), 2).await.unwrap(), counted(1, false), "idempotent");
    assert_eq!(store.add_reaction(reaction(m, &bob, "👍", 12), 2).await.unwrap(), counted(2, true));
    assert_eq!(store.add_reaction(reaction(m, &bob, "🎉", 13), 2).await.unwrap(), counted(1, true));
    assert_eq!(store.add_reaction(reaction(m, &cyd, "❤️", 14), 2).await.unwrap(), ReactionOutcome::TooMany);
    assert_eq!(store.add_reaction(reaction(m, &cyd, "🎉", 15), 2).await.unwrap(), counted(2, true), "a known emoji");
    assert_eq!(
        store.add_reaction(reaction(&sent[1], &cyd, "❤️", 16), 2).await.unwrap(),
        counted(1, true),
        "per message"
    );

    assert_eq!(of(&store, m, &ana).await, [rc("👍", 2, true), rc("🎉", 2, false)], "by first use");
    assert_eq!(of(&store, m, &bob).await, [rc("👍", 2, true), rc("🎉", 2, true)]);
    assert_eq!(of(&store, m, &cyd).await, [rc("👍", 2, false), rc("🎉", 2, true)]);

    assert_eq!(store.remove_reaction(m.id, bob.user.id, "👍").await.unwrap(), (1, true));
    assert_eq!(store.remove_reaction(m.id, bob.user.id, "👍").await.unwrap(), (1, false), "idempotent");
    assert_eq!(store.remove_reaction(m.id, ana.user.id, "🎉").await.unwrap(), (2, false), "not ana's");
    assert_eq!(store.remove_reaction(m.id, ana.user.id, "👍").await.unwrap(), (0, true));
    assert_eq!(of(&store, m, &ana).await, [rc("🎉", 2, false)], "an emoji at zero disappears");
    assert_eq!(store.add_reaction(reaction(m, &cyd, "❤️", 17), 2).await.unwrap(), counted(1, true), "room again");
    assert_eq!(store.remove_reaction(Uuid::now_v7(), ana.user.id, "👍").await.unwrap(), (0, false));

    let (history, _) = store.messages(room.id, Page::Latest { limit: 10 }).await.unwrap();
    assert!(history.iter().all(|m| m.reactions.is_empty()), "history leaves reactions to `reactions`");
    assert!(store.message(room.id, m.id).await.unwrap().unwrap().reactions.is_empty());
}

/// `reactions` over a seq range: grouped per message, emoji by first use (`MIN(created_at)`),
/// ties by emoji; nothing outside the range or channel.
pub async fn order_and_range(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    let other = channel(&store, &ana, ChannelKind::Public, "other").await;
    join(&store, room.id, &bob).await;
    let sent = fill(&store, &ana, room.id, 3).await;
    let elsewhere = fill(&store, &ana, other.id, 1).await;
    let add = |m: &Message, who: &Me, emoji: &str, at: i64| {
        let (store, r) = (store.clone(), reaction(m, who, emoji, at));
        async move { assert!(matches!(store.add_reaction(r, 20).await.unwrap(), ReactionOutcome::Counted { .. })) }
    };
    // Message 1: 🎉 first used at 20, 👍 at 10 (then again at 30): 👍 comes first.
    add(&sent[0], &bob, "🎉", 20).await;
    add(&sent[0], &ana, "👍", 10).await;
    add(&sent[0], &bob, "👍", 30).await;
    // Message 2: three emoji first used at the same instant: byte order (🎉 < 👍 < 🙂).
    for emoji in ["🙂", "👍", "🎉"] {
        add(&sent[1], &ana, emoji, 50).await;
    }
    // Message 3: removing the first use moves the emoji back.
    add(&sent[2], &ana, "👀", 1).await;
    add(&sent[2], &bob, "🔥", 2).await;
    add(&sent[2], &bob, "👀", 3).await;
    store.remove_reaction(sent[2].id, ana.user.id, "👀").await.unwrap();
    add(&elsewhere[0], &ana, "👍", 1).await;

    let all = store.reactions(room.id, 1, 3, ana.user.id).await.unwrap();
    let mut want = vec![
        (sent[0].id, rc("👍", 2, true)),
        (sent[0].id, rc("🎉", 1, false)),
        (sent[1].id, rc("🎉", 1, true)),
        (sent[1].id, rc("👍", 1, true)),
        (sent[1].id, rc("🙂", 1, true)),
        (sent[2].id, rc("🔥", 1, false)),
        (sent[2].id, rc("👀", 1, false)),
    ];
    // Messages in either order: per message, the order above.
    let group = |rows: &[(Uuid, ReactionCount)]| {
        let mut ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
        ids.dedup();
        ids.into_iter()
            .map(|id| (id, rows.iter().filter(|(m, _)| *m == id).map(|(_, c)| c.clone()).collect::<Vec<_>>()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(group(&all), group(&want));
    let mut ids: Vec<Uuid> = all.iter().map(|(id, _)| *id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each message's rows together: {ids:?}");

    want.retain(|(id, _)| *id == sent[1].id);
    assert_eq!(store.reactions(room.id, 2, 2, ana.user.id).await.unwrap(), want, "the range is inclusive");
    assert!(store.reactions(room.id, 4, 10, ana.user.id).await.unwrap().is_empty());
    assert_eq!(store.reactions(other.id, 1, 1, bob.user.id).await.unwrap(), [(elsewhere[0].id, rc("👍", 1, false))]);
}

/// Concurrent adds of distinct emoji to one message: exactly `max_distinct` get in.
pub async fn distinct_limit_under_concurrency(store: Arc<dyn Store>) {
    const MAX: usize = 3;
    let ana = user(&store, "ana").await;
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    let mut reactors = Vec::new();
    for i in 0..8 {
        let who = user(&store, &format!("r{i}")).await;
        join(&store, room.id, &who).await;
        reactors.push(who);
    }
    let m = fill(&store, &ana, room.id, 1).await.remove(0);
    let emoji = ["😀", "😁", "😂", "😃", "😄", "😅", "😆", "😇"];
    let adds: Vec<_> = reactors
        .iter()
        .zip(emoji)
        .map(|(who, e)| {
            let (store, r) = (store.clone(), reaction(&m, who, e, 1));
            tokio::spawn(async move { store.add_reaction(r, MAX).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for add in adds {
        match add.await.unwrap() {
            ReactionOutcome::Counted { count: 1, added: true } => accepted += 1,
            ReactionOutcome::TooMany => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, MAX);
    assert_eq!(store.reactions(room.id, 1, 1, ana.user.id).await.unwrap().len(), MAX);
}
