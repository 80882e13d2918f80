//! Resume after disconnect and the client outbox, through [`banter_client::Reliable`]: every
//! message exactly once and in `seq` order, whatever happens to the connection.

use std::collections::HashMap;
use std::time::Duration;

use banter_client::proto::rest::SendMessageRequest;
use banter_client::{Backoff, Page, Reliable, ReliableEvent};
use uuid::Uuid;

use crate::helpers::{general_id, within, TestApp, TestUser};

/// Fast reconnects for tests.
fn quick() -> Backoff {
    Backoff { base: Duration::from_millis(10), max: Duration::from_millis(100), max_attempts: Some(50) }
}

async fn reliable(app: &TestApp, user: &TestUser) -> Reliable {
    let mut r = within("reliable connect", Reliable::connect(&app.base_url, &user.token, HashMap::new(), quick()))
        .await
        .expect("connects");
    assert_eq!(next(&mut r).await, ReliableEvent::Connected { resumed: false });
    r
}

async fn next(r: &mut Reliable) -> ReliableEvent {
    match r.next_event_timeout(Duration::from_secs(10)).await.expect("no fatal error") {
        Some(event) => event,
        None => panic!("no event within 10 s"),
    }
}

/// Sends `count` messages to `channel` over REST from `user`, `lanes` at a time.
async fn send_many(user: &TestUser, channel: Uuid, count: usize, lanes: usize) {
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let client = user.client.clone();
        tasks.push(tokio::spawn(async move {
            for i in (lane..count).step_by(lanes) {
                let req = SendMessageRequest {
                    channel_id: channel,
                    body: format!("m{i}"),
                    client_id: format!("k{i}"),
                    reply_to: None,
                };
                client.send_message(&req).await.expect("send");
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
}

/// Sends `count` messages numbered from `start` over REST from `user`, one at a time.
async fn send_many_from(user: &TestUser, channel: Uuid, start: usize, count: usize) {
    for i in start..start + count {
        let req = SendMessageRequest {
            channel_id: channel,
            body: format!("m{i}"),
            client_id: format!("k{i}"),
            reply_to: None,
        };
        user.client.send_message(&req).await.expect("send");
    }
}

/// Reads until `count` messages of `channel` arrived; returns their seqs (other events skipped).
async fn collect(r: &mut Reliable, channel: Uuid, count: usize) -> Vec<i64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        if let ReliableEvent::Message(m) = next(r).await {
            assert_eq!(m.channel_id, channel);
            seqs.push(m.seq);
        }
    }
    seqs
}

#[tokio::test]
async fn a_client_away_during_1000_messages_gets_each_once_in_order() {
    let app = TestApp::spawn_with(|c| c.sync_gap_limit = 5000).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    let mut r = reliable(&app, &ana).await;
    r.drop_connection();
    send_many(&ben, general, 1000, 4).await;
    let seqs = collect(&mut r, general, 1000).await;
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    assert_eq!(r.positions()[&general], 1000);
}

#[tokio::test]
async fn messages_sent_while_the_client_reconnects_are_not_lost_or_doubled() {
    let app = TestApp::spawn_with(|c| c.sync_gap_limit = 5000).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    let mut r = reliable(&app, &ana).await;
    let sender = {
        let client = ben.client.clone();
        tokio::spawn(async move {
            for i in 0..600 {
                let req = SendMessageRequest {
                    channel_id: general,
                    body: format!("m{i}"),
                    client_id: format!("k{i}"),
                    reply_to: None,
                };
                client.send_message(&req).await.expect("send");
            }
        })
    };
    let mut seqs = Vec::new();
    while seqs.len() < 600 {
        match next(&mut r).await {
            ReliableEvent::Message(m) => {
                seqs.push(m.seq);
                if seqs.len() % 37 == 0 {
                    r.drop_connection(); // the race: reconnect + replay while sends continue
                }
            }
            ReliableEvent::Connected { resumed } => assert!(resumed),
            other => panic!("unexpected {other:?}"),
        }
    }
    sender.await.expect("sender");
    assert_eq!(seqs, (1..=600).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_gap_over_the_limit_is_marked_and_the_rest_pages_from_history() {
    let app = TestApp::spawn_with(|c| c.sync_gap_limit = 120).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    let mut r = reliable(&app, &ana).await;
    r.drop_connection();
    send_many(&ben, general, 300, 4).await;
    let gap = loop {
        match next(&mut r).await {
            ReliableEvent::Gap(gap) => break gap,
            ReliableEvent::Connected { .. } => {}
            other => panic!("expected the gap marker first, got {other:?}"),
        }
    };
    assert_eq!((gap.channel_id, gap.after_seq, gap.before_seq), (general, 0, 201), "the newest 100 of 300");
    let replayed = collect(&mut r, general, (300 - gap.before_seq + 1) as usize).await;
    assert_eq!(replayed, (gap.before_seq..=300).collect::<Vec<_>>(), "the newest page, in order");
    let mut older = Vec::new();
    let mut before = gap.before_seq;
    loop {
        let page = ana.client.messages(general, Page::before(before, 100)).await.expect("page");
        older.splice(0..0, page.messages.iter().map(|m| m.seq));
        match page.messages.first() {
            Some(first) if page.has_more => before = first.seq,
            _ => break,
        }
    }
    assert_eq!(older, (1..gap.before_seq).collect::<Vec<_>>(), "history pages fill the gap exactly");
}

#[tokio::test]
async fn a_gap_limit_under_a_page_replays_only_missing_messages() {
    let app = TestApp::spawn_with(|c| c.sync_gap_limit = 20).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    let mut r = reliable(&app, &ana).await;
    send_many(&ben, general, 10, 2).await;
    assert_eq!(collect(&mut r, general, 10).await, (1..=10).collect::<Vec<_>>());
    r.drop_connection();
    send_many_from(&ben, general, 10, 41).await;
    let gap = loop {
        match next(&mut r).await {
            ReliableEvent::Gap(gap) => break gap,
            ReliableEvent::Connected { .. } => {}
            other => panic!("expected the gap marker, got {other:?}"),
        }
    };
    assert_eq!((gap.after_seq, gap.before_seq), (10, 32), "41 missing (11..=51): only the newest 20 replayed");
    assert_eq!(collect(&mut r, general, 20).await, (32..=51).collect::<Vec<_>>());
}

#[tokio::test]
async fn sends_made_offline_arrive_exactly_once_after_reconnect() {
    let app = TestApp::spawn().await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    let mut watcher = reliable(&app, &ben).await;
    let mut r = reliable(&app, &ana).await;
    r.drop_connection();
    for i in 0..10 {
        r.send(general, &format!("offline {i}")).await;
    }
    assert_eq!(r.outbox_len(), 10);
    let mut acked = 0;
    while acked < 10 {
        if let ReliableEvent::Acked(_) = next(&mut r).await {
            acked += 1;
        }
    }
    assert_eq!(r.outbox_len(), 0);
    let seqs = collect(&mut watcher, general, 10).await;
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    let page = ben.client.messages(general, Page::default()).await.expect("history");
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, (0..10).map(|i| format!("offline {i}")).collect::<Vec<_>>(), "once each, in send order");
}

#[tokio::test]
async fn a_retry_after_a_lost_ack_does_not_duplicate() {
    let app = TestApp::spawn().await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    let mut watcher = reliable(&app, &ben).await;
    let mut r = reliable(&app, &ana).await;
    let client_id = r.send(general, "sent once").await;
    // The frame is on the wire; drop the connection before its ack can be read.
    r.drop_connection();
    let mut acks = Vec::new();
    let mut delivered = Vec::new();
    while acks.is_empty() || delivered.is_empty() {
        match next(&mut r).await {
            ReliableEvent::Acked(ack) => acks.push(ack),
            ReliableEvent::Message(m) => delivered.push(m),
            _ => {}
        }
    }
    assert_eq!((acks[0].client_id.as_str(), acks[0].seq), (client_id.as_str(), 1));
    assert_eq!(delivered.len(), 1);
    assert_eq!(collect(&mut watcher, general, 1).await, vec![1]);
    assert!(watcher.next_event_timeout(Duration::from_millis(300)).await.expect("read").is_none(), "no duplicate");
    let page = ben.client.messages(general, Page::default()).await.expect("history");
    assert_eq!(page.messages.len(), 1, "stored once");
}
