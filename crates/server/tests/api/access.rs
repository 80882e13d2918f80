//! Access control for private channels and DMs: non-members cannot see, read, post or listen.

use banter_client::proto::rest::CreateChannelRequest;
use banter_client::proto::ws::ServerEvent;
use banter_client::proto::{ChannelKind, Role};
use banter_client::Page;
use uuid::Uuid;

use crate::helpers::*;

fn private(name: &str) -> CreateChannelRequest {
    CreateChannelRequest { name: name.into(), kind: ChannelKind::Private, topic: None }
}

#[tokio::test]
async fn private_channels_are_invisible_to_non_members() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let eve = app.register("eve").await;
    let mut eve_conn = app.connect(&eve).await;
    let secret = within("create", ana.client.create_channel(&private("secret"))).await.unwrap();
    assert_eq!(secret.kind, ChannelKind::Private);
    assert_eq!(secret.membership.as_ref().map(|m| m.role), Some(Role::Owner));
    let first = post(&ana, secret.id, "for members only").await;

    assert_api_error(within("channel", eve.client.channel(secret.id)).await, 404, "not_found");
    assert_api_error(within("history", eve.client.messages(secret.id, Page::default())).await, 404, "not_found");
    assert_api_error(
        within("post", eve.client.send_message(&send_req(secret.id, "let me in"))).await,
        404,
        "not_found",
    );
    assert_api_error(within("join", eve.client.join(secret.id)).await, 404, "not_found");
    assert_api_error(within("members", eve.client.members(secret.id)).await, 404, "not_found");
    assert_api_error(within("invite", eve.client.invite(secret.id, eve.id())).await, 404, "not_found");
    assert_api_error(within("leave", eve.client.leave(secret.id)).await, 404, "not_found");
    let send = within("ws send", eve_conn.send_message(secret.id, "ws too", "e1")).await;
    assert_gateway_error(send, "not_found");
    // A private channel is indistinguishable from a missing one.
    assert_api_error(within("channel", eve.client.channel(Uuid::now_v7())).await, 404, "not_found");

    let directory = within("directory", eve.client.public_channels("")).await.unwrap();
    assert!(directory.iter().all(|c| c.id != secret.id), "private channels are not listed");
    let eve_channels = within("channels", eve.client.channels()).await.unwrap();
    assert!(eve_channels.iter().all(|c| c.id != secret.id));

    // Live: nothing from the private channel reaches the non-member's socket.
    post(&ana, secret.id, "still secret").await;
    assert_quiet(&mut eve_conn).await;
    let history = within("history", ana.client.messages(secret.id, Page::default())).await.unwrap();
    assert_eq!(history.messages.len(), 2, "eve's attempts stored nothing");
    assert_eq!(history.messages[0], first);
}

#[tokio::test]
async fn owner_invites_and_the_invitee_joins_live() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let cy = app.register("cyd").await;
    let secret = within("create", ana.client.create_channel(&private("secret"))).await.unwrap();
    let before = post(&ana, secret.id, "before bob").await;
    let mut bob_conn = app.connect(&bob).await;
    let mut cy_conn = app.connect(&cy).await;

    let invited = within("invite", ana.client.invite(secret.id, bob.id())).await.expect("owner may invite");
    assert_eq!(invited.member_count, 2);
    match next_event(&mut bob_conn).await {
        (None, ServerEvent::ChannelJoined(c)) => {
            assert_eq!((c.id, c.kind), (secret.id, ChannelKind::Private));
            assert_eq!(c.membership.map(|m| m.role), Some(Role::Member), "the receiver's own membership");
        }
        other => panic!("expected channel:joined, got {other:?}"),
    }
    // Inviting again is a no-op.
    let again = within("invite", ana.client.invite(secret.id, bob.id())).await.unwrap();
    assert_eq!(again.member_count, 2);

    let live = post(&ana, secret.id, "welcome bob").await;
    assert_eq!(next_message(&mut bob_conn).await, live);
    let history = within("history", bob.client.messages(secret.id, Page::default())).await.unwrap();
    assert_eq!(history.messages, vec![before, live]);
    let ack = within("bob posts", bob_conn.send_message(secret.id, "thanks", "b1")).await.unwrap();
    assert_eq!(ack.seq, 3);
    assert_eq!(next_message(&mut bob_conn).await.seq, 3);

    // A plain member may not invite; cy saw none of it.
    assert_api_error(within("invite", bob.client.invite(secret.id, cy.id())).await, 403, "forbidden");
    assert_quiet(&mut cy_conn).await;
    let members = within("members", bob.client.members(secret.id)).await.unwrap();
    let roles: Vec<_> = members.iter().map(|m| (m.user.username.as_str(), m.role)).collect();
    assert_eq!(roles, [("ana", Role::Owner), ("bob", Role::Member)]);
}

#[tokio::test]
async fn dms_are_one_channel_per_pair_and_private() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let mut ana_conn = app.connect(&ana).await;
    let mut bob_conn = app.connect(&bob).await;
    let mut eve_conn = app.connect(&eve).await;

    let dm = within("open dm", ana.client.open_dm(bob.id())).await.unwrap();
    match next_event(&mut ana_conn).await {
        (None, ServerEvent::ChannelJoined(c)) => assert_eq!(c.id, dm.id),
        other => panic!("expected channel:joined, got {other:?}"),
    }
    assert_eq!(dm.kind, ChannelKind::Dm);
    assert_eq!(dm.peer.as_ref().map(|p| p.id), Some(bob.id()));
    match next_event(&mut bob_conn).await {
        (None, ServerEvent::ChannelJoined(c)) => {
            assert_eq!(c.id, dm.id);
            assert_eq!(c.peer.map(|p| p.id), Some(ana.id()), "bob's view names ana as the peer");
        }
        other => panic!("expected channel:joined, got {other:?}"),
    }
    let again = within("open dm", ana.client.open_dm(bob.id())).await.unwrap();
    let reverse = within("open dm", bob.client.open_dm(ana.id())).await.unwrap();
    assert_eq!((again.id, reverse.id), (dm.id, dm.id));
    assert_eq!(reverse.peer.map(|p| p.id), Some(ana.id()));
    assert_quiet(&mut bob_conn).await; // channel:joined only the first time

    let m = post(&ana, dm.id, "psst").await;
    assert_eq!(next_message(&mut bob_conn).await, m);
    assert_eq!(next_message(&mut ana_conn).await, m);
    assert_quiet(&mut eve_conn).await;
    assert_api_error(within("history", eve.client.messages(dm.id, Page::default())).await, 404, "not_found");
    assert_api_error(within("post", eve.client.send_message(&send_req(dm.id, "hi"))).await, 404, "not_found");
    assert_api_error(within("channel", eve.client.channel(dm.id)).await, 404, "not_found");

    assert_api_error(within("invite", ana.client.invite(dm.id, eve.id())).await, 403, "forbidden");
    assert_api_error(within("leave", ana.client.leave(dm.id)).await, 403, "forbidden");
    assert_api_error(within("dm self", ana.client.open_dm(ana.id())).await, 400, "cannot_dm_self");
    assert_api_error(within("dm nobody", ana.client.open_dm(Uuid::now_v7())).await, 404, "not_found");
    let listed = within("channels", bob.client.channels()).await.unwrap();
    assert!(listed.iter().any(|c| c.id == dm.id && c.kind == ChannelKind::Dm && c.head_seq == 1));
}
