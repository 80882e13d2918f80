//! PostgreSQL-only cases: two store instances (two pools, as two nodes would have) writing to
//! one channel at once, and the whole application booted on PostgreSQL.

use std::sync::Arc;

use banter_client::proto::rest::SendMessageRequest;
use banter_client::proto::ChannelKind;
use banter_client::Page;
use banter_server::store::Store;

use super::backends::TestDatabase;
use super::fixtures::{channel, join, message, user, Recorder};
use super::messages::{assert_gap_free, write_concurrently, HOOK_DELAY, PER_WRITER, WRITERS};
use crate::helpers::{client_id, general_id, within, TestApp};

/// Two nodes, 8 writers between them × 50 messages into one channel: `seq` stays gap-free and
/// each node calls its hooks in `seq` order; a key raced across nodes is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_write_one_channel() {
    let Some(db) = TestDatabase::create().await else { return };
    let (one, two) = (db.store().await, db.store().await);
    let nodes: Vec<(Arc<dyn Store>, Recorder)> =
        vec![(Arc::new(one.clone()), Recorder::slow(HOOK_DELAY)), (Arc::new(two.clone()), Recorder::slow(HOOK_DELAY))];
    let store = &nodes[0].0;
    let owner = user(store, "owner").await;
    let room = channel(store, &owner, ChannelKind::Public, "busy").await;
    let mut senders = Vec::new();
    for w in 0..WRITERS {
        let writer = user(store, &format!("writer{w}")).await;
        join(store, room.id, &writer).await;
        senders.push(writer);
    }

    let sent = write_concurrently(&nodes, room.id, &senders, PER_WRITER).await;
    let recorders: Vec<Recorder> = nodes.iter().map(|(_, r)| r.clone()).collect();
    assert_gap_free(&sent, &recorders, room.id);
    assert!(recorders.iter().all(|r| !r.calls().is_empty()), "both nodes wrote");
    let head = nodes[1].0.channel(owner.user.id, room.id).await.unwrap().unwrap().head_seq;
    assert_eq!(head, (WRITERS * PER_WRITER) as i64);

    // The same key from both nodes at once: one message, one hook call in all.
    let races: Vec<_> = nodes
        .iter()
        .map(|(store, recorder)| {
            let (store, hook, new) = (store.clone(), recorder.hook(), message(&owner, room.id, "race", "once"));
            tokio::spawn(async move { store.insert_message(new, hook).await.unwrap().unwrap() })
        })
        .collect();
    let mut results = Vec::new();
    for race in races {
        results.push(race.await.unwrap());
    }
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert_eq!(results[0].0, results[1].0);
    assert_eq!(results[0].0.seq, head + 1);
    let hooked: usize = recorders.iter().map(|r| r.calls().len()).sum();
    assert_eq!(hooked, sent.len() + 1);
    one.close().await;
    two.close().await;
}

/// The application on PostgreSQL: register, send over REST and the gateway, read history.
#[tokio::test]
async fn the_app_runs_on_postgres() {
    let Some(db) = TestDatabase::create().await else { return };
    // Declared after `db`, so the server stops before its database is dropped.
    let app = TestApp::spawn_with(|config| config.database_url = Some(db.url.clone())).await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let general = general_id(&ana).await;
    let mut conn = app.connect(&bob).await;

    let req = SendMessageRequest {
        channel_id: general,
        body: "hello from postgres".into(),
        client_id: client_id(),
        reply_to: None,
    };
    let (first, replayed) = within("send", ana.client.send_message(&req)).await.expect("send");
    assert_eq!((first.seq, replayed), (1, false));
    let (again, replayed) = within("resend", ana.client.send_message(&req)).await.expect("resend");
    assert_eq!((again, replayed), (first.clone(), true));
    let ack = within("gateway send", conn.send_message(general, "hi ana", "b1")).await.expect("ack");
    assert_eq!(ack.seq, 2);

    let page = within("history", bob.client.messages(general, Page::default())).await.expect("history");
    let bodies: Vec<_> = page.messages.iter().map(|m| (m.seq, m.body.as_str())).collect();
    assert_eq!(bodies, [(1, "hello from postgres"), (2, "hi ana")]);
    assert_eq!(page.messages[0], first);
    assert!(!page.has_more);
}
