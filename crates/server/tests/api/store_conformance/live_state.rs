//! Cases for live conversation state in `UserStore` and `ChannelStore`: last seen, unread and
//! mention counts, delivered/read watermarks (forward only, clamped to the head), receipt
//! lists and counts, and presence peers.

use std::sync::Arc;

use banter_client::proto::{ChannelKind, MemberReceipt, Membership};
use banter_server::clock::now_ms;
use banter_server::store::Store;
use uuid::Uuid;

use super::fixtures::{channel, fill, join, mentioning, send, user};

/// A watermark pair, as compared in these cases.
fn mark(user: Uuid, delivered_seq: i64, read_seq: i64) -> MemberReceipt {
    MemberReceipt { user_id: user, delivered_seq, read_seq }
}

/// `ids`, sorted.
fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// `marks` sorted by user id, as `receipts` answers.
fn by_user(mut marks: Vec<MemberReceipt>) -> Vec<MemberReceipt> {
    marks.sort_by_key(|m| m.user_id);
    marks
}

/// `last_seen` round trip; `None` before the first and for unknown users.
pub async fn last_seen(store: Arc<dyn Store>) {
    let ana = user(&store, "ana").await;
    assert_eq!(store.last_seen(ana.user.id).await.unwrap(), None, "never went offline");
    store.set_last_seen(ana.user.id, 1_000).await.unwrap();
    assert_eq!(store.last_seen(ana.user.id).await.unwrap(), Some(1_000));
    store.set_last_seen(ana.user.id, 2_500).await.unwrap();
    assert_eq!(store.last_seen(ana.user.id).await.unwrap(), Some(2_500), "the latest wins");
    assert_eq!(store.last_seen(Uuid::now_v7()).await.unwrap(), None);
    store.set_last_seen(Uuid::now_v7(), 3_000).await.expect("an unknown user is no error");
}

/// `mark_read` answers the membership with fresh `unread_count` and `mention_count` (stored
/// from `NewMessage::mentions`, duplicates once), and leaves `delivered_seq >= read_seq`.
/// Sending moves the sender's own marks to their message.
pub async fn unread_and_mentions(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    join(&store, room.id, &bob).await;
    join(&store, room.id, &cyd).await;
    fill(&store, &ana, room.id, 3).await;
    send(&store, mentioning(&ana, room.id, "@bob 4", &[&bob, &bob])).await;
    send(&store, mentioning(&ana, room.id, "@bob @ana 5", &[&bob, &ana])).await;
    send(&store, mentioning(&cyd, room.id, "@ana 6", &[&ana])).await;
    let counts = |m: &Membership| (m.read_seq, m.delivered_seq, m.unread_count, m.mention_count);

    let seen = store.channel(bob.user.id, room.id).await.unwrap().unwrap().membership.unwrap();
    assert_eq!(counts(&seen), (0, 0, 6, 2));
    let listed = store.channels_of(bob.user.id).await.unwrap();
    let listed = listed.iter().find(|c| c.id == room.id).and_then(|c| c.membership.clone()).unwrap();
    assert_eq!(listed, seen, "channels_of computes the same counts");
    let theirs = store.channel(ana.user.id, room.id).await.unwrap().unwrap().membership.unwrap();
    assert_eq!(counts(&theirs), (5, 5, 1, 1), "per viewer; ana's own sends moved her marks to 5");

    let view = store.mark_read(room.id, bob.user.id, 4).await.unwrap().expect("a member");
    assert_eq!((view.id, view.head_seq), (room.id, 6));
    let read = view.membership.clone().unwrap();
    assert_eq!(counts(&read), (4, 4, 2, 1), "delivered follows read; the mention at seq 5 is unread");
    assert_eq!(store.channel(bob.user.id, room.id).await.unwrap(), Some(view));
    assert!(store.advance_delivered(&[(room.id, bob.user.id, 3)]).await.unwrap().is_empty(), "already past");

    let read = store.mark_read(room.id, bob.user.id, 99).await.unwrap().unwrap().membership.unwrap();
    assert_eq!(counts(&read), (6, 6, 0, 0), "clamped to the head");
    let read = store.mark_read(room.id, bob.user.id, 2).await.unwrap().unwrap().membership.unwrap();
    assert_eq!(counts(&read), (6, 6, 0, 0), "never backwards");
    let read = store.mark_read(room.id, ana.user.id, 3).await.unwrap().unwrap().membership.unwrap();
    assert_eq!(counts(&read), (5, 5, 1, 1), "ana's mention at seq 6 stays unread");
}

/// `advance_delivered`: forward only, clamped to the head, non-members and unknown channels
/// skipped, one batch over several channels; returns exactly the watermarks that moved.
pub async fn advance_delivered(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    join(&store, room.id, &bob).await;
    let (dm, _) = store.open_dm(ana.user.id, cyd.user.id, Uuid::now_v7(), now_ms()).await.unwrap();
    fill(&store, &ana, room.id, 5).await;
    fill(&store, &cyd, dm.id, 2).await;
    assert!(store.advance_delivered(&[]).await.unwrap().is_empty());

    let moves = [
        (room.id, bob.user.id, 3),
        (room.id, cyd.user.id, 3),
        (room.id, ana.user.id, 99),
        (Uuid::now_v7(), ana.user.id, 1),
        (dm.id, ana.user.id, 2),
    ];
    let mut moved = store.advance_delivered(&moves).await.unwrap();
    moved.sort_by_key(|(channel, r)| (*channel, r.user_id));
    let mut want = vec![(room.id, mark(bob.user.id, 3, 0)), (dm.id, mark(ana.user.id, 2, 0))];
    want.sort_by_key(|(channel, r)| (*channel, r.user_id));
    assert_eq!(moved, want, "non-member cyd, the unknown channel and ana (her sends put her at the head) skipped");

    let stale = [(room.id, bob.user.id, 2), (room.id, bob.user.id, 3), (room.id, ana.user.id, 7)];
    assert!(store.advance_delivered(&stale).await.unwrap().is_empty(), "backwards or no move: nothing");
    let moved = store.advance_delivered(&[(room.id, bob.user.id, 4)]).await.unwrap();
    assert_eq!(moved, [(room.id, mark(bob.user.id, 4, 0))]);
    let moved = store.advance_delivered(&[(room.id, bob.user.id, 99)]).await.unwrap();
    assert_eq!(moved, [(room.id, mark(bob.user.id, 5, 0))], "clamped to the head");
    store.mark_read(room.id, bob.user.id, 5).await.unwrap().unwrap();
    assert!(store.advance_delivered(&[(room.id, bob.user.id, 5)]).await.unwrap().is_empty(), "read implies delivered");
    assert_eq!(store.receipts(room.id).await.unwrap(), by_user(vec![mark(ana.user.id, 5, 5), mark(bob.user.id, 5, 5)]));
}

/// `receipts` per channel, `receipts_of` only over channels of at most `max_members`
/// members, `receipt_counts` leaving out `except`.
pub async fn receipts(store: Arc<dyn Store>) {
    let (ana, bob, cyd, dan) =
        (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await, user(&store, "dan").await);
    let room = channel(&store, &ana, ChannelKind::Private, "room").await;
    join(&store, room.id, &bob).await;
    let crowd = channel(&store, &ana, ChannelKind::Public, "crowd").await;
    for member in [&bob, &cyd, &dan] {
        join(&store, crowd.id, member).await;
    }
    let (dm, _) = store.open_dm(ana.user.id, bob.user.id, Uuid::now_v7(), now_ms()).await.unwrap();
    fill(&store, &ana, room.id, 3).await;
    fill(&store, &ana, crowd.id, 3).await;
    store
        .advance_delivered(&[(room.id, bob.user.id, 2), (crowd.id, bob.user.id, 3), (crowd.id, cyd.user.id, 1)])
        .await
        .unwrap();
    store.mark_read(room.id, bob.user.id, 1).await.unwrap().unwrap();
    store.mark_read(crowd.id, dan.user.id, 2).await.unwrap().unwrap();

    let room_marks = by_user(vec![mark(ana.user.id, 3, 3), mark(bob.user.id, 2, 1)]);
    assert_eq!(store.receipts(room.id).await.unwrap(), room_marks);
    let crowd_marks = by_user(vec![
        mark(ana.user.id, 3, 3),
        mark(bob.user.id, 3, 0),
        mark(cyd.user.id, 1, 0),
        mark(dan.user.id, 2, 2),
    ]);
    assert_eq!(store.receipts(crowd.id).await.unwrap(), crowd_marks);
    assert!(store.receipts(Uuid::now_v7()).await.unwrap().is_empty());

    // #general has all four users: over the limit of 3, like the crowd.
    let dm_marks = by_user(vec![mark(ana.user.id, 0, 0), mark(bob.user.id, 0, 0)]);
    let mut want = vec![(room.id, room_marks.clone()), (dm.id, dm_marks)];
    want.sort_by_key(|(channel, _)| *channel);
    let got: Vec<_> =
        store.receipts_of(ana.user.id, 3).await.unwrap().into_iter().map(|u| (u.channel_id, u.receipts)).collect();
    assert_eq!(got, want, "small channels only, by channel id");
    let got = store.receipts_of(cyd.user.id, 3).await.unwrap();
    assert!(got.is_empty(), "cyd is only in big channels");
    let all: Vec<Uuid> = store.receipts_of(cyd.user.id, 4).await.unwrap().into_iter().map(|u| u.channel_id).collect();
    assert_eq!(all.len(), 2, "#general and the crowd at the limit: {all:?}");
    assert!(all.contains(&crowd.id));

    assert_eq!(store.receipt_counts(room.id, 1, ana.user.id).await.unwrap(), (1, 1, 1));
    assert_eq!(store.receipt_counts(room.id, 2, ana.user.id).await.unwrap(), (1, 1, 0));
    assert_eq!(store.receipt_counts(room.id, 3, ana.user.id).await.unwrap(), (1, 0, 0));
    assert_eq!(store.receipt_counts(crowd.id, 1, ana.user.id).await.unwrap(), (3, 3, 1));
    assert_eq!(store.receipt_counts(crowd.id, 2, ana.user.id).await.unwrap(), (3, 2, 1));
    assert_eq!(store.receipt_counts(crowd.id, 2, bob.user.id).await.unwrap(), (3, 2, 2), "ana counted, bob not");
    assert_eq!(store.receipt_counts(Uuid::now_v7(), 1, ana.user.id).await.unwrap(), (0, 0, 0));
}

/// `presence_peers`: DM peers always, members of small channels, never big channels' members,
/// each peer once, never the user.
pub async fn presence_peers(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await);
    let (dan, eve) = (user(&store, "dan").await, user(&store, "eve").await);
    store.open_dm(ana.user.id, bob.user.id, Uuid::now_v7(), now_ms()).await.unwrap();
    let trio = channel(&store, &ana, ChannelKind::Private, "trio").await;
    join(&store, trio.id, &bob).await;
    join(&store, trio.id, &cyd).await;
    let crowd = channel(&store, &ana, ChannelKind::Public, "crowd").await;
    for member in [&cyd, &dan, &eve] {
        join(&store, crowd.id, member).await;
    }
    let peers = |user: Uuid, max: i64| {
        let store = store.clone();
        async move {
            let mut peers = store.presence_peers(user, max).await.unwrap();
            peers.sort();
            peers
        }
    };
    assert_eq!(peers(ana.user.id, 3).await, sorted(vec![bob.user.id, cyd.user.id]), "DM and trio, each once");
    assert_eq!(peers(ana.user.id, 1).await, [bob.user.id], "a DM counts whatever the limit");
    let everyone = sorted(vec![bob.user.id, cyd.user.id, dan.user.id, eve.user.id]);
    assert_eq!(peers(ana.user.id, 5).await, everyone, "#general (5 members) at the limit");
    assert_eq!(peers(dan.user.id, 3).await, Vec::<Uuid>::new(), "only big channels");
    assert_eq!(peers(bob.user.id, 3).await, sorted(vec![ana.user.id, cyd.user.id]), "DM and trio overlap: ana once");
    assert_eq!(peers(Uuid::now_v7(), 100).await, Vec::<Uuid>::new());
}

/// `ready_snapshot` reads what `channels_of`, `receipts_of` and `presence_peers` read, for a
/// user with a DM, a small and a big channel, and for a stranger.
pub async fn ready_snapshot(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "cyd").await);
    store.open_dm(ana.user.id, bob.user.id, Uuid::now_v7(), now_ms()).await.unwrap();
    let trio = channel(&store, &ana, ChannelKind::Private, "trio").await;
    join(&store, trio.id, &bob).await;
    join(&store, trio.id, &cyd).await;
    send(&store, mentioning(&bob, trio.id, "hi @ana", &[&ana])).await;
    store.advance_delivered(&[(trio.id, ana.user.id, 1)]).await.unwrap();
    for (who, max) in [(&ana, 3), (&ana, 1), (&cyd, 3)] {
        let snapshot = store.ready_snapshot(who.user.id, max).await.unwrap();
        assert_eq!(snapshot.channels, store.channels_of(who.user.id).await.unwrap());
        assert_eq!(snapshot.receipts, store.receipts_of(who.user.id, max).await.unwrap());
        assert_eq!(sorted(snapshot.peers), sorted(store.presence_peers(who.user.id, max).await.unwrap()));
    }
    let ana_now = store.ready_snapshot(ana.user.id, 3).await.unwrap();
    assert_eq!(ana_now.channels.len(), 3, "#general, the DM and trio");
    assert_eq!(sorted(ana_now.peers), sorted(vec![bob.user.id, cyd.user.id]));
    let stranger = store.ready_snapshot(Uuid::now_v7(), 50).await.unwrap();
    assert!(stranger.channels.is_empty() && stranger.receipts.is_empty() && stranger.peers.is_empty());
}
