//! Public channels: create, browse, join, leave, and channel names.

use banter_client::proto::rest::CreateChannelRequest;
use banter_client::proto::ws::{ChannelRef, ServerEvent};
use banter_client::proto::{ChannelKind, Role};
use banter_client::Page;

use crate::helpers::*;

fn channel(name: &str, kind: ChannelKind) -> CreateChannelRequest {
    CreateChannelRequest { name: name.into(), kind, topic: None }
}

#[tokio::test]
async fn create_validates_names_topics_and_kinds() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let create = |req: CreateChannelRequest| {
        let client = ana.client.clone();
        async move { within("create", client.create_channel(&req)).await }
    };
    for bad in ["", "has space", "emoji😀", "dots.not.allowed", &"x".repeat(65)] {
        assert_api_error(create(channel(bad, ChannelKind::Public)).await, 400, "invalid_channel_name");
    }
    let long_topic = CreateChannelRequest { topic: Some("t".repeat(257)), ..channel("topics", ChannelKind::Public) };
    assert_api_error(create(long_topic).await, 400, "invalid_topic");
    assert_api_error(create(channel("dm-attempt", ChannelKind::Dm)).await, 400, "invalid_kind");

    let rust = create(CreateChannelRequest { topic: Some("crabs".into()), ..channel("Rust", ChannelKind::Public) })
        .await
        .expect("upper case folds to lower case");
    assert_eq!((rust.name.as_str(), rust.topic.as_str(), rust.kind), ("rust", "crabs", ChannelKind::Public));
    assert_eq!((rust.head_seq, rust.member_count), (0, 1));
    assert_eq!(rust.membership.map(|m| m.role), Some(Role::Owner));
    create(channel(&"x".repeat(64), ChannelKind::Public)).await.expect("64 chars is valid");
    create(channel("a-b_c9", ChannelKind::Private)).await.expect("a-z 0-9 - _ are valid");

    // Names are unique over public and private channels (and #general exists already).
    assert_api_error(create(channel("rust", ChannelKind::Public)).await, 409, "channel_name_taken");
    assert_api_error(create(channel("RUST", ChannelKind::Private)).await, 409, "channel_name_taken");
    assert_api_error(create(channel("a-b_c9", ChannelKind::Public)).await, 409, "channel_name_taken");
    assert_api_error(create(channel("general", ChannelKind::Public)).await, 409, "channel_name_taken");
}

#[tokio::test]
async fn browse_join_and_leave_a_public_channel() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let rust = within("create", ana.client.create_channel(&channel("rust", ChannelKind::Public))).await.unwrap();
    within("create", ana.client.create_channel(&channel("python", ChannelKind::Public))).await.unwrap();
    let first = post(&ana, rust.id, "first").await;
    let mut bob_conn = app.connect(&bob).await;

    // Browse: prefix search; no membership for bob yet.
    let listed = within("directory", bob.client.public_channels("ru")).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["rust"]);
    assert!(listed[0].membership.is_none());
    let all = within("directory", bob.client.public_channels("")).await.unwrap();
    assert!(all.iter().any(|c| c.name == "general" && c.membership.is_some()), "bob is in #general");
    assert_eq!(within("channel", bob.client.channel(rust.id)).await.unwrap().id, rust.id);

    // Not joined yet: visible but not readable or writable.
    assert_api_error(within("history", bob.client.messages(rust.id, Page::default())).await, 403, "not_a_member");
    assert_api_error(within("post", bob.client.send_message(&send_req(rust.id, "hi"))).await, 403, "not_a_member");
    assert_api_error(within("members", bob.client.members(rust.id)).await, 403, "not_a_member");
    assert_gateway_error(within("ws post", bob_conn.send_message(rust.id, "hi", "b0")).await, "not_a_member");
    post(&ana, rust.id, "unseen").await;
    assert_quiet(&mut bob_conn).await;

    // Join: the socket is subscribed at once.
    let joined = within("join", bob.client.join(rust.id)).await.unwrap();
    assert_eq!(joined.member_count, 2);
    assert_eq!(joined.membership.as_ref().map(|m| m.role), Some(Role::Member));
    match next_event(&mut bob_conn).await {
        (None, ServerEvent::ChannelJoined(c)) => assert_eq!(c.id, rust.id),
        other => panic!("expected channel:joined, got {other:?}"),
    }
    let twice = within("join", bob.client.join(rust.id)).await.expect("joining twice is a no-op");
    assert_eq!(twice.member_count, 2);
    let live = post(&ana, rust.id, "welcome").await;
    assert_eq!(next_message(&mut bob_conn).await, live);
    let history = within("history", bob.client.messages(rust.id, Page::default())).await.unwrap();
    assert_eq!(history.messages.first(), Some(&first));
    assert_eq!(history.messages.len(), 3);
    assert!(within("channels", bob.client.channels()).await.unwrap().iter().any(|c| c.id == rust.id));

    // Leave: channel:left, then nothing more arrives and history is closed again.
    within("leave", bob.client.leave(rust.id)).await.expect("leave answers 204");
    assert_eq!(next_event(&mut bob_conn).await, (None, ServerEvent::ChannelLeft(ChannelRef { channel_id: rust.id })));
    post(&ana, rust.id, "after bob left").await;
    assert_quiet(&mut bob_conn).await;
    assert!(within("channels", bob.client.channels()).await.unwrap().iter().all(|c| c.id != rust.id));
    assert_api_error(within("history", bob.client.messages(rust.id, Page::default())).await, 403, "not_a_member");
    assert_eq!(within("channel", ana.client.channel(rust.id)).await.unwrap().member_count, 1);
}

#[tokio::test]
async fn the_creators_sockets_get_channel_joined() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut conn = app.connect(&ana).await;
    let created = within("create", ana.client.create_channel(&channel("rust", ChannelKind::Private))).await.unwrap();
    match next_event(&mut conn).await {
        (None, ServerEvent::ChannelJoined(c)) => {
            assert_eq!(c.id, created.id);
            assert_eq!(c.membership.map(|m| m.role), Some(Role::Owner));
        }
        other => panic!("expected channel:joined, got {other:?}"),
    }
    // And the socket is subscribed: a post arrives live.
    let m = post(&ana, created.id, "hello").await;
    assert_eq!(next_message(&mut conn).await, m);
}

#[tokio::test]
async fn general_cannot_be_left() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    assert_api_error(within("leave", ana.client.leave(general)).await, 403, "forbidden");
    assert_api_error(within("leave", ana.client.leave(uuid::Uuid::now_v7())).await, 404, "not_found");
}
