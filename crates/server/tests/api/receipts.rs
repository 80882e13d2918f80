//! Delivery and read receipts and unread/mention counts, through real sockets: watermarks
//! only move forward, reading on one device clears the badge on every device, members of a
//! small channel see each other's watermarks, and a reconnect gets the same counts in `ready`.

use banter_client::proto::rest::CreateChannelRequest;
use banter_client::proto::ws::{ChannelUnread, ClientEvent, ReceiptRequest, ReceiptUpdate, ServerEvent};
use banter_client::proto::{ChannelKind, MemberReceipt};
use banter_client::Connection;
use banter_server::service::receipts::{FLUSH_PART, LARGE_CHANNEL_PERIOD};
use std::collections::HashSet;

use uuid::Uuid;

use crate::helpers::{assert_api_error, assert_gateway_error, next_live, post, within, TestApp, TestUser};

/// A private channel of `owner` with `guest` invited.
async fn room(owner: &TestUser, guest: &TestUser, name: &str) -> Uuid {
    let req = CreateChannelRequest { name: name.into(), kind: ChannelKind::Private, topic: None };
    let room = within("create", owner.client.create_channel(&req)).await.unwrap();
    within("invite", owner.client.invite(room.id, guest.id())).await.unwrap();
    room.id
}

fn read(channel_id: Uuid, seq: i64) -> ClientEvent {
    ClientEvent::ReceiptRead(ReceiptRequest { channel_id, seq })
}

fn delivered(channel_id: Uuid, seq: i64) -> ClientEvent {
    ClientEvent::ReceiptDelivered(ReceiptRequest { channel_id, seq })
}

async fn next_unread(conn: &mut Connection, channel: Uuid) -> ChannelUnread {
    next_live(conn, "channel:unread", |e| match e {
        ServerEvent::ChannelUnread(u) if u.channel_id == channel => Some(u),
        _ => None,
    })
    .await
}

/// The next `receipt:update` of `channel` that carries `user`'s watermarks at `delivered_seq`
/// or beyond.
async fn next_receipt(conn: &mut Connection, channel: Uuid, user: Uuid, delivered_seq: i64) -> MemberReceipt {
    next_live(conn, "receipt:update", |e| match e {
        ServerEvent::ReceiptUpdate(ReceiptUpdate { channel_id, receipts }) if channel_id == channel => {
            receipts.into_iter().find(|r| r.user_id == user && r.delivered_seq >= delivered_seq)
        }
        _ => None,
    })
    .await
}

fn membership(conn: &Connection, channel: Uuid) -> banter_client::proto::Membership {
    let c = conn.ready().channels.iter().find(|c| c.id == channel).expect("channel in ready");
    c.membership.clone().expect("a member")
}

#[tokio::test]
async fn read_on_one_device_clears_unread_on_every_device_and_counts_survive_reconnect() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let room = room(&ana, &bob, "receipts").await;
    post(&ana, room, "one").await;
    post(&ana, room, "two @bob").await;
    post(&ana, room, "three, also for @Bob").await;

    let mut phone = app.connect(&bob).await;
    let mut laptop = app.connect(&bob).await;
    let m = membership(&phone, room);
    assert_eq!((m.read_seq, m.unread_count, m.mention_count), (0, 3, 2));

    let mut sender = app.connect(&ana).await;
    within("read", phone.request(&read(room, 2))).await.unwrap();
    for device in [&mut phone, &mut laptop] {
        let u = next_unread(device, room).await;
        assert_eq!((u.read_seq, u.unread_count, u.mention_count), (2, 1, 1), "every device of bob hears it");
    }
    let seen = next_receipt(&mut sender, room, bob.id(), 0).await;
    assert_eq!((seen.read_seq, seen.delivered_seq), (2, 2), "reading counts as delivered");

    within("read back", phone.request(&read(room, 1))).await.unwrap();
    assert_eq!(next_unread(&mut laptop, room).await.read_seq, 2, "never backwards");

    within("delivered", laptop.request(&delivered(room, 3))).await.unwrap();
    let seen = next_receipt(&mut sender, room, bob.id(), 3).await;
    assert_eq!((seen.delivered_seq, seen.read_seq), (3, 2));

    let receipts = within("receipts", ana.client.message_receipts(room, 3)).await.unwrap();
    assert_eq!((receipts.recipients, receipts.delivered_count, receipts.read_count), (1, 1, 0));
    let who: Vec<_> = receipts.members.iter().map(|r| (r.user.username.as_str(), r.delivered, r.read)).collect();
    assert_eq!(who, vec![("bob", true, false)]);

    within("read all", phone.request(&read(room, 99))).await.unwrap();
    let u = next_unread(&mut laptop, room).await;
    assert_eq!((u.read_seq, u.unread_count, u.mention_count), (3, 0, 0), "clamped to the head");
    let receipts = within("receipts", ana.client.message_receipts(room, 3)).await.unwrap();
    assert_eq!((receipts.delivered_count, receipts.read_count), (1, 1));

    drop((phone, laptop));
    post(&ana, room, "four @bob").await;
    let again = app.connect(&bob).await;
    let m = membership(&again, room);
    assert_eq!((m.read_seq, m.delivered_seq, m.unread_count, m.mention_count), (3, 3, 1, 1));
    let in_ready = again.ready().receipts.iter().find(|r| r.channel_id == room).expect("small channel receipts");
    let mine = in_ready.receipts.iter().find(|r| r.user_id == bob.id()).unwrap();
    assert_eq!((mine.delivered_seq, mine.read_seq), (3, 3));
}

#[tokio::test]
async fn bad_receipts_change_nothing() {
    let app = TestApp::spawn().await;
    let (ana, bob, eve) = (app.register("ana").await, app.register("bob").await, app.register("eve").await);
    let room = room(&ana, &bob, "private").await;
    post(&ana, room, "one").await;
    let mut sender = app.connect(&ana).await;
    let mut member = app.connect(&bob).await;
    let mut spy = app.connect(&eve).await;
    assert_gateway_error(spy.request(&read(room, 1)).await, "not_found");
    assert_gateway_error(spy.request(&read(room, -1)).await, "invalid_data");
    assert_gateway_error(spy.request(&delivered(room, -5)).await, "invalid_data");
    assert_api_error(eve.client.message_receipts(room, 1).await, 404, "not_found");
    assert_api_error(ana.client.message_receipts(room, 7).await, 404, "not_found");

    // A stranger's receipt queued next to a member's: the flush skips it and keeps the other.
    within("delivered by a stranger", spy.request(&delivered(room, 1))).await.unwrap();
    within("delivered by bob", member.request(&delivered(room, 1))).await.unwrap();
    let update = next_live(&mut sender, "receipt:update", |e| match e {
        ServerEvent::ReceiptUpdate(u) if u.channel_id == room => Some(u.receipts),
        _ => None,
    })
    .await;
    assert_eq!(update, vec![MemberReceipt { user_id: bob.id(), delivered_seq: 1, read_seq: 0 }]);
    let receipts = within("receipts", ana.client.message_receipts(room, 1)).await.unwrap();
    assert_eq!((receipts.recipients, receipts.delivered_count, receipts.read_count), (1, 1, 0));
}

#[tokio::test]
async fn big_channels_report_counts_but_no_per_member_receipts() {
    let app = TestApp::spawn_with(|c| c.receipt_members = 1).await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let room = room(&ana, &bob, "big").await;
    let message = post(&ana, room, "hello").await;
    let mut sender = app.connect(&ana).await;
    let mut reader = app.connect(&bob).await;
    assert!(reader.ready().receipts.iter().all(|r| r.channel_id != room), "no watermarks of big channels in ready");
    within("read", reader.request(&read(room, message.seq))).await.unwrap();
    assert_eq!(next_unread(&mut reader, room).await.unread_count, 0, "the reader's own devices still hear it");
    let receipts = within("receipts", ana.client.message_receipts(room, message.seq)).await.unwrap();
    assert_eq!((receipts.recipients, receipts.read_count), (1, 1));
    assert!(receipts.members.is_empty(), "no who-read list above receipt_members");
    if let Some(e) = sender.next_event_timeout(std::time::Duration::from_millis(500)).await.unwrap() {
        assert!(!matches!(&e, banter_client::Incoming::Event { event: ServerEvent::ReceiptUpdate(_), .. }), "{e:?}");
    }
}

/// A big channel's delivered watermarks are announced to nobody and wait in memory across
/// flushes once its size is known, but still reach the store on their own, slower flush: the
/// sender's counts show them within that period.
#[tokio::test]
async fn big_channels_write_delivered_marks_on_their_own_flush() {
    let app = TestApp::spawn_with(|c| c.receipt_members = 1).await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let room = room(&ana, &bob, "big").await;
    let mut reader = app.connect(&bob).await;
    for (i, body) in ["first", "second"].into_iter().enumerate() {
        let message = post(&ana, room, body).await;
        within("delivered", reader.request(&delivered(room, message.seq))).await.unwrap();
        // The first flush learns the channel is big; the second mark waits for the slower one.
        let deadline = std::time::Instant::now() + LARGE_CHANNEL_PERIOD * 2 + std::time::Duration::from_secs(1);
        loop {
            let receipts = within("receipts", ana.client.message_receipts(room, message.seq)).await.unwrap();
            if receipts.delivered_count == 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "message {i}: delivered mark never written");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn sending_marks_the_channel_read_for_the_sender() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let room = room(&ana, &bob, "own").await;
    post(&ana, room, "one").await;
    post(&ana, room, "two").await;
    post(&bob, room, "bob answers").await;
    let conn = app.connect(&bob).await;
    let m = membership(&conn, room);
    assert_eq!(
        (m.read_seq, m.delivered_seq, m.unread_count),
        (3, 3, 0),
        "one's own message means one has seen the rest"
    );
    let m = membership(&app.connect(&ana).await, room);
    assert_eq!((m.read_seq, m.unread_count), (2, 1));
}

/// A flush of more watermarks than one part ([`FLUSH_PART`]) is written and announced in full,
/// part after part: the sender hears the reader's delivered mark in every room, and the store
/// has the mark of the last room (in the last part).
#[tokio::test]
async fn a_flush_larger_than_one_part_announces_every_channel() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let mut rooms = Vec::new();
    for i in 0..=FLUSH_PART {
        rooms.push(room(&ana, &bob, &format!("part-{i}")).await);
    }
    let mut sender = app.connect(&ana).await;
    let mut reader = app.connect(&bob).await;
    for &r in &rooms {
        post(&ana, r, "hello").await;
    }
    for &r in &rooms {
        within("delivered", reader.request(&delivered(r, 1))).await.unwrap();
    }
    let mut unheard: HashSet<Uuid> = rooms.iter().copied().collect();
    while !unheard.is_empty() {
        let channel = next_live(&mut sender, "receipt:update", |e| match e {
            ServerEvent::ReceiptUpdate(u)
                if u.receipts.iter().any(|r| r.user_id == bob.id() && r.delivered_seq == 1) =>
            {
                Some(u.channel_id)
            }
            _ => None,
        })
        .await;
        unheard.remove(&channel);
    }
    let last = *rooms.iter().max().unwrap();
    let receipts = within("receipts", ana.client.message_receipts(last, 1)).await.unwrap();
    assert_eq!(receipts.delivered_count, 1, "the last part was written");
}
