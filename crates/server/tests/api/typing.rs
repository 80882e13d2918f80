//! Typing on one node: `typing:indicator` to the other members (never listing the recipient),
//! the throttle, expiry after the ttl, and clearing on stop, on send and on disconnect.

use std::time::{Duration, Instant};

use banter_client::proto::rest::CreateChannelRequest;
use banter_client::proto::ws::{ChannelRef, ClientEvent, ServerEvent};
use banter_client::proto::ChannelKind;
use banter_client::{Connection, Incoming};
use uuid::Uuid;

use crate::helpers::*;

/// Sends `typing:start` (with an id, so it is answered `ok`).
async fn start(conn: &mut Connection, channel_id: Uuid) {
    let answer = within("typing:start", conn.request(&ClientEvent::TypingStart(ChannelRef { channel_id }))).await;
    assert_eq!(answer.expect("typing:start answered"), ServerEvent::Ok);
}

/// Sends `typing:stop` (answered `ok`).
async fn stop(conn: &mut Connection, channel_id: Uuid) {
    let answer = within("typing:stop", conn.request(&ClientEvent::TypingStop(ChannelRef { channel_id }))).await;
    assert_eq!(answer.expect("typing:stop answered"), ServerEvent::Ok);
}

/// Ana, ben and cat in `#general`, each connected once, after their own presence settled.
async fn trio(app: &TestApp) -> ([TestUser; 3], [Connection; 3], Uuid) {
    let users = [app.register("ana").await, app.register("ben").await, app.register("cat").await];
    let general = general_id(&users[0]).await;
    let mut conns = [app.connect(&users[0]).await, app.connect(&users[1]).await, app.connect(&users[2]).await];
    tokio::time::sleep(QUIET).await;
    for conn in &mut conns {
        while conn.next_event_timeout(Duration::from_millis(50)).await.expect("read").is_some() {}
    }
    (users, conns, general)
}

/// Others get the set in start order without themselves; the typer gets nothing for their own
/// change; a stop sends the smaller set.
#[tokio::test]
async fn indicators_reach_everyone_but_the_typer_and_clear_on_stop() {
    let app = TestApp::spawn().await;
    let ([ana, ben, _], [mut a, mut b, mut c], general) = trio(&app).await;
    start(&mut a, general).await;
    assert_eq!(next_typing(&mut b).await, (general, vec![ana.id()]));
    assert_eq!(next_typing(&mut c).await, (general, vec![ana.id()]));
    assert_quiet(&mut a).await;

    start(&mut b, general).await;
    assert_eq!(next_typing(&mut c).await, (general, vec![ana.id(), ben.id()]));
    assert_eq!(next_typing(&mut a).await, (general, vec![ben.id()]));
    assert_quiet(&mut b).await;

    stop(&mut a, general).await;
    assert_eq!(next_typing(&mut c).await, (general, vec![ben.id()]));
    assert_eq!(next_typing(&mut b).await, (general, vec![]));
    assert_quiet(&mut a).await;
    stop(&mut a, general).await;
    assert_quiet(&mut c).await;
}

/// Starts repeated faster than the throttle do not keep the state alive: it expires `ttl`
/// after the counted start while they go on; after the throttle window a start counts again.
#[tokio::test]
async fn extra_starts_are_throttled_and_the_state_expires_after_the_ttl() {
    let ttl = Duration::from_millis(700);
    let app = TestApp::spawn_with(|c| {
        c.typing_ttl_ms = ttl.as_millis() as u64;
        c.typing_throttle_ms = 2_500;
    })
    .await;
    let ([ana, ..], [mut a, mut b, _c], general) = trio(&app).await;
    let started = Instant::now();
    start(&mut a, general).await;
    assert_eq!(next_typing(&mut b).await, (general, vec![ana.id()]));
    loop {
        start(&mut a, general).await;
        match b.next_event_timeout(Duration::from_millis(100)).await.expect("read") {
            None => assert!(started.elapsed() < Duration::from_secs(2), "the state never expired"),
            Some(Incoming::Event { event: ServerEvent::TypingIndicator(t), .. }) if t.user_ids.is_empty() => break,
            Some(other) => panic!("expected an empty typing:indicator, got {other:?}"),
        }
    }
    assert!(started.elapsed() >= ttl * 9 / 10, "expired after the ttl ({:?})", started.elapsed());
    tokio::time::sleep(Duration::from_millis(2_600).saturating_sub(started.elapsed())).await;
    start(&mut a, general).await;
    assert_eq!(next_typing(&mut b).await, (general, vec![ana.id()]), "a start counts after the window");
}

/// Sending a message ends the sender's typing (the indicator comes before the message); the
/// device that typed disconnecting ends it too, even with another device still connected.
#[tokio::test]
async fn sending_or_disconnecting_clears_typing() {
    let app = TestApp::spawn().await;
    let ([ana, ..], [mut a, mut b, _c], general) = trio(&app).await;
    start(&mut a, general).await;
    assert_eq!(next_typing(&mut b).await, (general, vec![ana.id()]));
    within("send", a.send_message(general, "done typing", "t1")).await.expect("ack");
    assert_eq!(next_typing(&mut b).await, (general, vec![]));
    assert_eq!(next_message(&mut b).await.body, "done typing");

    let mut second = app.connect(&ana).await;
    start(&mut second, general).await;
    assert_eq!(next_typing(&mut b).await, (general, vec![ana.id()]));
    second.close().await.expect("close");
    assert_eq!(next_typing(&mut b).await, (general, vec![]));
    assert_quiet(&mut b).await;
}

/// Typing needs membership: `not_a_member` in a public channel not joined, `not_found` for an
/// unknown channel; nobody hears anything.
#[tokio::test]
async fn typing_requires_membership() {
    let app = TestApp::spawn().await;
    let ([ana, ..], [mut a, mut b, _c], _) = trio(&app).await;
    let req = CreateChannelRequest { name: "rust".into(), kind: ChannelKind::Public, topic: None };
    let rust = within("create", ana.client.create_channel(&req)).await.expect("create");
    assert!(matches!(next_event(&mut a).await.1, ServerEvent::ChannelJoined(_)));
    let refused = b.request(&ClientEvent::TypingStart(ChannelRef { channel_id: rust.id })).await;
    assert_gateway_error(refused, "not_a_member");
    let refused = b.request(&ClientEvent::TypingStop(ChannelRef { channel_id: Uuid::now_v7() })).await;
    assert_gateway_error(refused, "not_found");
    assert_quiet(&mut a).await;
}
