//! Unit tests of [`super::Relay`] inside a [`Hub`], without Redis: local and remote messages
//! in `seq` order, one queued envelope per event, own events skipped, joins behind delivered
//! messages, remote closes.

use banter_proto::ws::ServerEvent;
use banter_proto::{Channel, ChannelKind, Message, User};
use chrono::Utc;

use super::*;
use crate::hub::{Inbox, OutboxLimits};

fn user() -> User {
    User { id: Uuid::now_v7(), username: "ana".into(), display_name: "Ana".into(), created_at: Utc::now() }
}

fn message(channel: Uuid, seq: i64) -> ServerEvent {
    ServerEvent::MessageReceive(Message {
        id: Uuid::now_v7(),
        channel_id: channel,
        seq,
        client_id: format!("c{seq}"),
        body: format!("m{seq}"),
        created_at: Utc::now(),
        sender: user(),
        edited_at: None,
        deleted_at: None,
        reply_to: None,
        mentions: Vec::new(),
        reactions: Vec::new(),
    })
}

fn joined(channel: Uuid, head_seq: i64) -> ServerEvent {
    ServerEvent::ChannelJoined(Channel {
        id: channel,
        kind: ChannelKind::Public,
        name: "rust".into(),
        topic: String::new(),
        head_seq,
        member_count: 1,
        created_at: Utc::now(),
        peer: None,
        membership: None,
    })
}

/// A hub with a relay whose ordering is on, as after a live subscription.
fn clustered() -> (Hub, Arc<Relay>, mpsc::Receiver<Outgoing>) {
    let (hub, (relay, queue)) = (Hub::default(), Relay::new(Uuid::now_v7()));
    assert!(hub.attach(relay.clone()));
    relay.on_subscribed(&hub);
    (hub, relay, queue)
}

/// The seqs of the `message:receive` frames queued so far.
fn seqs(inbox: &mut Inbox) -> Vec<i64> {
    let mut out = Vec::new();
    while let Some(crate::hub::Outgoing::Event(frame)) = inbox.frames.try_recv() {
        let value: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        out.push(value["data"]["seq"].as_i64().unwrap());
    }
    out
}

fn remote(relay: &Relay, hub: &Hub, event: &ServerEvent, channel: Uuid, seq: i64) {
    let payload = wire::encode(Uuid::now_v7(), &Action::Message { channel, seq }, &crate::hub::frame(None, event));
    relay.receive(hub, Bytes::from(payload));
}

const OUTBOX: OutboxLimits = OutboxLimits { frames: 64, bytes: 1 << 20 };

#[tokio::test]
async fn local_and_remote_messages_go_out_in_seq_order_and_queue_once() {
    let (hub, relay, mut queue) = clustered();
    let channel = Uuid::now_v7();
    let (id, _outbox, mut inbox) = hub.connect(Uuid::now_v7(), Uuid::now_v7(), OUTBOX);
    hub.subscribe(id, [channel]);

    assert_eq!(hub.publish(channel, &message(channel, 1)), 1);
    remote(&relay, &hub, &message(channel, 3), channel, 3);
    assert_eq!(seqs(&mut inbox), vec![1], "3 waits for 2");
    hub.publish(channel, &message(channel, 2));
    assert_eq!(seqs(&mut inbox), vec![2, 3]);
    relay.check_invariants();

    let mut published = Vec::new();
    while let Ok(out) = queue.try_recv() {
        published.push(wire::decode(Bytes::from(out.payload)).unwrap().1);
    }
    let expected: Vec<Action> = [1, 2].map(|seq| Action::Message { channel, seq }).into();
    assert_eq!(published, expected, "local events queued once each, remote ones not again");
    assert_eq!(relay.stats().received, 1);
}

#[tokio::test]
async fn own_events_are_skipped_and_remote_closes_applied() {
    let (hub, relay, _queue) = clustered();
    let session = Uuid::now_v7();
    let (_, _outbox, inbox) = hub.connect(Uuid::now_v7(), session, OUTBOX);
    let close = Action::Close { session, code: 4001, reason: "session_revoked".into() };
    relay.receive(&hub, Bytes::from(wire::encode(relay.node(), &close, "")));
    assert_eq!(relay.stats().received, 0, "its own event");
    relay.receive(&hub, Bytes::from(wire::encode(Uuid::now_v7(), &close, "")));
    assert_eq!(inbox.frames.closed().await, SESSION_REVOKED);
}

#[tokio::test]
async fn a_join_behind_delivered_messages_makes_the_socket_resync() {
    let (hub, relay, _queue) = clustered();
    let channel = Uuid::now_v7();
    for seq in 1..=3 {
        remote(&relay, &hub, &message(channel, seq), channel, seq);
    }
    let (late, on_time) = (Uuid::now_v7(), Uuid::now_v7());
    let (_, late_out, late_inbox) = hub.connect(late, Uuid::now_v7(), OUTBOX);
    let (_, on_time_out, _on_time_inbox) = hub.connect(on_time, Uuid::now_v7(), OUTBOX);
    hub.join(late, channel, &joined(channel, 2));
    hub.join(on_time, channel, &joined(channel, 3));
    assert!(late_out.is_closing(), "message 3 went out before it was subscribed");
    assert_eq!(late_inbox.frames.closed().await, RESYNC);
    assert!(!on_time_out.is_closing());
    hub.check_invariants();
}

#[tokio::test]
async fn without_a_subscription_events_go_straight_out() {
    let (hub, relay, _queue) = clustered();
    relay.on_unsubscribed(&hub);
    let channel = Uuid::now_v7();
    let (id, _outbox, mut inbox) = hub.connect(Uuid::now_v7(), Uuid::now_v7(), OUTBOX);
    hub.subscribe(id, [channel]);
    hub.publish(channel, &message(channel, 5));
    hub.publish(channel, &message(channel, 7));
    assert_eq!(seqs(&mut inbox), vec![5, 7], "no ordering while Redis is down");
    assert_eq!(relay.status(), RedisStatus::Down);
    relay.on_subscribed(&hub);
    assert_eq!(inbox.frames.closed().await, RESYNC, "resubscribing makes every socket resume");
}

#[tokio::test]
async fn a_gap_left_open_goes_out_after_the_wait_and_makes_subscribers_resync() {
    let (hub, relay, _queue) = clustered();
    let channel = Uuid::now_v7();
    let (id, _outbox, mut inbox) = hub.connect(Uuid::now_v7(), Uuid::now_v7(), OUTBOX);
    hub.subscribe(id, [channel]);
    remote(&relay, &hub, &message(channel, 1), channel, 1);
    remote(&relay, &hub, &message(channel, 3), channel, 3);
    relay.tick(&hub, false);
    assert_eq!(seqs(&mut inbox), vec![1], "still waiting for 2");
    tokio::time::sleep(REORDER_WAIT + Duration::from_millis(20)).await;
    relay.tick(&hub, true);
    assert_eq!(seqs(&mut inbox), vec![3]);
    assert_eq!(inbox.frames.closed().await, RESYNC, "2 is missing: resume with sync");
    assert_eq!(relay.stats().resyncs, 1);
}
