//! Cases for `ChannelStore`: `#general`, creation, visibility, membership and counts, DMs
//! (once per pair, also under concurrent opens from both sides), read watermarks.

use std::sync::Arc;

use banter_client::proto::{ChannelKind, Role};
use banter_server::clock::{now_ms, to_datetime};
use banter_server::store::{NewChannel, Store};
use uuid::Uuid;

use super::fixtures::{channel, fill, general, user};

fn names(channels: &[banter_client::proto::Channel]) -> Vec<&str> {
    channels.iter().map(|c| c.name.as_str()).collect()
}

/// `ensure_channel` creates once and then returns the same id.
pub async fn ensure_channel(store: Arc<dyn Store>) {
    let first = store.ensure_channel("general", 1_000).await.unwrap();
    let again = store.ensure_channel("general", 2_000).await.unwrap();
    assert_eq!(first, again);
    let ana = user(&store, "ana").await;
    let general = store.channel(ana.user.id, first).await.unwrap().expect("exists");
    assert_eq!((general.kind, general.name.as_str(), general.topic.as_str()), (ChannelKind::Public, "general", ""));
    assert_eq!((general.head_seq, general.member_count, general.created_at), (0, 1, to_datetime(1_000)));
    assert_eq!(general.peer, None);
}

/// Create, name taken, what members and non-members see, directory listing and search.
pub async fn create_and_visibility(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let lobby = channel(&store, &ana, ChannelKind::Public, "lobby").await;
    assert_eq!((lobby.kind, lobby.name.as_str(), lobby.topic.as_str()), (ChannelKind::Public, "lobby", "about lobby"));
    assert_eq!((lobby.head_seq, lobby.member_count, lobby.peer.clone()), (0, 1, None));
    let owner = lobby.membership.clone().expect("the creator is a member");
    assert_eq!((owner.role, owner.read_seq, owner.joined_at), (Role::Owner, 0, lobby.created_at));
    assert_eq!(store.channel(ana.user.id, lobby.id).await.unwrap().as_ref(), Some(&lobby));

    let taken = NewChannel {
        id: Uuid::now_v7(),
        kind: ChannelKind::Private,
        name: "lobby".into(),
        topic: String::new(),
        created_by: bob.user.id,
        created_at: now_ms(),
    };
    assert!(store.create_channel(taken).await.unwrap().is_none(), "name taken");
    let outsider = store.channel(bob.user.id, lobby.id).await.unwrap().expect("visible by id");
    assert_eq!(outsider.membership, None);
    assert_eq!(outsider.id, lobby.id);
    assert_eq!(store.channel(bob.user.id, Uuid::now_v7()).await.unwrap(), None);

    let secret = channel(&store, &ana, ChannelKind::Private, "secret").await;
    assert_eq!(secret.kind, ChannelKind::Private);
    for name in ["axb", "a_b"] {
        channel(&store, &bob, ChannelKind::Public, name).await;
    }
    let directory = store.public_channels(ana.user.id, "", 10).await.unwrap();
    assert_eq!(names(&directory), ["a_b", "axb", "general", "lobby"], "public only, by name");
    assert!(directory[0].membership.is_none() && directory[3].membership.is_some(), "as the viewer sees them");
    assert_eq!(names(&store.public_channels(ana.user.id, "A_", 10).await.unwrap()), ["a_b"], "`_` is literal");
    assert_eq!(names(&store.public_channels(ana.user.id, "a", 1).await.unwrap()), ["a_b"]);
    assert!(store.public_channels(ana.user.id, "%", 10).await.unwrap().is_empty(), "`%` is literal");

    assert_eq!(names(&store.channels_of(ana.user.id).await.unwrap()), ["general", "lobby", "secret"]);
    let mut ids = store.channel_ids_of(ana.user.id).await.unwrap();
    ids.sort();
    let mut want = vec![general(&store).await, lobby.id, secret.id];
    want.sort();
    assert_eq!(ids, want);
}

/// Add and remove members: idempotent, roles, member lists, `member_count`.
pub async fn membership(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "ana").await, user(&store, "bob").await, user(&store, "Cyd").await);
    let room = channel(&store, &ana, ChannelKind::Private, "room").await;
    let count = |store: Arc<dyn Store>| async move { store.channel(ana.user.id, room.id).await.unwrap().unwrap() };

    assert!(store.add_member(room.id, bob.user.id, Role::Admin, now_ms()).await.unwrap());
    assert!(!store.add_member(room.id, bob.user.id, Role::Member, now_ms()).await.unwrap(), "already one");
    assert_eq!(store.role(room.id, bob.user.id).await.unwrap(), Some(Role::Admin), "role unchanged");
    assert_eq!(store.role(room.id, cyd.user.id).await.unwrap(), None);
    assert!(store.set_role(room.id, bob.user.id, Role::Member).await.unwrap());
    assert_eq!(store.role(room.id, bob.user.id).await.unwrap(), Some(Role::Member), "set_role changes it");
    assert!(store.set_role(room.id, bob.user.id, Role::Admin).await.unwrap());
    assert!(!store.set_role(room.id, cyd.user.id, Role::Admin).await.unwrap(), "not a member: nothing set");
    assert_eq!(store.role(room.id, cyd.user.id).await.unwrap(), None);
    // Concurrent adds of one user: one wins, the count moves once.
    let adds: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.add_member(room.id, cyd.user.id, Role::Member, now_ms()).await.unwrap() })
        })
        .collect();
    let mut added = 0;
    for add in adds {
        added += usize::from(add.await.unwrap());
    }
    assert_eq!(added, 1);
    assert_eq!(count(store.clone()).await.member_count, 3);
    let members: Vec<_> =
        store.members(room.id).await.unwrap().into_iter().map(|m| (m.user.username, m.role)).collect();
    assert_eq!(
        members,
        [("ana".into(), Role::Owner), ("bob".into(), Role::Admin), ("Cyd".into(), Role::Member)],
        "by lower-cased username"
    );

    assert!(store.remove_member(room.id, bob.user.id).await.unwrap());
    assert!(!store.remove_member(room.id, bob.user.id).await.unwrap(), "not a member any more");
    assert_eq!(store.role(room.id, bob.user.id).await.unwrap(), None);
    assert_eq!(count(store.clone()).await.member_count, 2);
    assert!(!store.channel_ids_of(bob.user.id).await.unwrap().contains(&room.id));
}

/// One DM per pair, whoever opens it; each side sees the other as `peer` and name.
pub async fn direct_messages(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    assert_eq!(store.dm_between(ana.user.id, bob.user.id).await.unwrap(), None);
    let (dm, created) = store.open_dm(ana.user.id, bob.user.id, Uuid::now_v7(), now_ms()).await.unwrap();
    assert!(created);
    assert_eq!(store.dm_between(ana.user.id, bob.user.id).await.unwrap().as_ref(), Some(&dm));
    let from_bob = store.dm_between(bob.user.id, ana.user.id).await.unwrap().expect("seen from either side");
    assert_eq!((from_bob.id, from_bob.peer.as_ref()), (dm.id, Some(&ana.user)));
    assert_eq!((dm.kind, dm.name.as_str(), dm.peer.as_ref()), (ChannelKind::Dm, "bob", Some(&bob.user)));
    assert_eq!((dm.member_count, dm.membership.as_ref().map(|m| m.role)), (2, Some(Role::Member)));
    let (theirs, created) = store.open_dm(bob.user.id, ana.user.id, Uuid::now_v7(), now_ms()).await.unwrap();
    assert!(!created);
    assert_eq!((theirs.id, theirs.name.as_str(), theirs.peer.as_ref()), (dm.id, "ana", Some(&ana.user)));
    assert_eq!(store.channel(ana.user.id, dm.id).await.unwrap().as_ref(), Some(&dm));
    let listed = store.channels_of(ana.user.id).await.unwrap();
    assert_eq!(names(&listed), ["general", "bob"], "DMs after the rest");
    assert!(store.public_channels(ana.user.id, "", 10).await.unwrap().iter().all(|c| c.kind != ChannelKind::Dm));

    // Concurrent opens from both sides: exactly one channel.
    let (cyd, dan) = (user(&store, "cyd").await, user(&store, "dan").await);
    let opens: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let (me, peer) = if i % 2 == 0 { (cyd.user.id, dan.user.id) } else { (dan.user.id, cyd.user.id) };
            tokio::spawn(async move { store.open_dm(me, peer, Uuid::now_v7(), now_ms()).await.unwrap() })
        })
        .collect();
    let mut results = Vec::new();
    for open in opens {
        results.push(open.await.unwrap());
    }
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1, "created once");
    assert!(results.iter().all(|(c, _)| c.id == results[0].0.id && c.member_count == 2));
    assert_eq!(store.channels_of(cyd.user.id).await.unwrap().len(), 2, "#general and one DM");
}

/// `mark_read` moves forward only, clamped to the head; `None` for non-members.
pub async fn mark_read(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    let cyd = user(&store, "cyd").await;
    assert!(store.add_member(room.id, cyd.user.id, Role::Member, now_ms()).await.unwrap());
    fill(&store, &cyd, room.id, 3).await;
    let read = |seq: i64| {
        let store = store.clone();
        async move {
            store.mark_read(room.id, ana.user.id, seq).await.unwrap().expect("a member").membership.unwrap().read_seq
        }
    };
    assert_eq!(read(2).await, 2);
    assert_eq!(read(1).await, 2, "never backwards");
    assert_eq!(read(99).await, 3, "clamped to head_seq");
    assert_eq!(read(-1).await, 3);
    let membership = store.mark_read(room.id, ana.user.id, 3).await.unwrap().unwrap().membership.unwrap();
    assert_eq!((membership.role, membership.joined_at), (Role::Owner, room.created_at));
    assert_eq!(store.channel(ana.user.id, room.id).await.unwrap().unwrap().membership, Some(membership));
    assert_eq!(store.mark_read(room.id, bob.user.id, 1).await.unwrap(), None, "not a member");
}
