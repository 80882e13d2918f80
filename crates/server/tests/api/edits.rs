//! Edits, deletes and replies: who may edit (the sender only) and delete (the sender, or an
//! owner/admin of the channel), live `message:update` / `message:deleted`, tombstones in
//! history, and replies quoting a message of the same channel only.

use banter_client::proto::rest::{CreateChannelRequest, SendMessageRequest};
use banter_client::proto::ws::{ClientEvent, MessageEdit, MessageRef, MessageSend, ServerEvent};
use banter_client::proto::{ChannelKind, Role};
use banter_client::{Connection, Page};
use uuid::Uuid;

use crate::helpers::{
    assert_api_error, assert_gateway_error, client_id, next_live, next_message, post, within, TestApp, TestUser,
};

/// A public channel owned by `owner` that `members` joined.
async fn channel(owner: &TestUser, members: &[&TestUser], name: &str) -> Uuid {
    let req = CreateChannelRequest { name: name.into(), kind: ChannelKind::Public, topic: None };
    let id = within("create", owner.client.create_channel(&req)).await.unwrap().id;
    for m in members {
        within("join", m.client.join(id)).await.unwrap();
    }
    id
}

async fn next_change(conn: &mut Connection) -> ServerEvent {
    next_live(conn, "message:update or message:deleted", |e| match e {
        e @ (ServerEvent::MessageUpdate(_) | ServerEvent::MessageDeleted(_)) => Some(e),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn only_the_sender_edits_and_members_see_it_live() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let room = channel(&ana, &[&bob], "edits").await;
    let original = post(&bob, room, "helo").await;
    let mut watcher = app.connect(&ana).await;
    let mut author = app.connect(&bob).await;

    let edit =
        ClientEvent::MessageEdit(MessageEdit { channel_id: room, message_id: original.id, body: "hello".into() });
    within("edit", author.request(&edit)).await.unwrap();
    let ServerEvent::MessageUpdate(u) = next_change(&mut watcher).await else { panic!("expected message:update") };
    assert_eq!((u.message_id, u.seq, u.body.as_str()), (original.id, original.seq, "hello"));

    let stranger_edit =
        ClientEvent::MessageEdit(MessageEdit { channel_id: room, message_id: original.id, body: "x".into() });
    assert_gateway_error(watcher.request(&stranger_edit).await, "forbidden");
    assert_api_error(ana.client.edit_message(room, original.id, "owner edit").await, 403, "forbidden");
    assert_api_error(bob.client.edit_message(room, original.id, " ").await, 400, "invalid_body");
    assert_api_error(bob.client.edit_message(room, Uuid::now_v7(), "x").await, 404, "not_found");

    let page = within("history", ana.client.messages(room, Page::latest(10))).await.unwrap();
    let stored = &page.messages[0];
    assert_eq!((stored.body.as_str(), stored.edited_at), ("hello", Some(u.edited_at)));
    assert_eq!(stored.client_id, original.client_id, "an edit keeps the idempotency key and seq");
}

#[tokio::test]
async fn delete_by_sender_owner_and_admin_but_not_by_a_member() {
    let app = TestApp::spawn().await;
    let (ana, bob, cat) = (app.register("ana").await, app.register("bob").await, app.register("cat").await);
    let room = channel(&ana, &[&bob, &cat], "deletes").await;
    let by_bob = post(&bob, room, "bob's").await;
    let by_cat = post(&cat, room, "cat's").await;
    let by_cat_again = post(&cat, room, "cat's second").await;
    let mut watcher = app.connect(&bob).await;

    assert_api_error(bob.client.delete_message(room, by_cat.id).await, 403, "forbidden");
    let tombstone = within("sender deletes", bob.client.delete_message(room, by_bob.id)).await.unwrap();
    assert_eq!((tombstone.body.as_str(), tombstone.deleted_at.is_some()), ("", true));
    let ServerEvent::MessageDeleted(d) = next_change(&mut watcher).await else { panic!("expected message:deleted") };
    assert_eq!((d.message_id, d.seq), (by_bob.id, by_bob.seq));
    assert_api_error(bob.client.delete_message(room, by_bob.id).await, 409, "message_deleted");
    assert_api_error(bob.client.edit_message(room, by_bob.id, "back").await, 409, "message_deleted");

    let mut ana_conn = app.connect(&ana).await;
    let delete = ClientEvent::MessageDelete(MessageRef { channel_id: room, message_id: by_cat.id });
    within("owner deletes", ana_conn.request(&delete)).await.unwrap();

    assert_api_error(cat.client.set_role(room, bob.id(), Role::Admin).await, 403, "forbidden");
    assert_api_error(ana.client.set_role(room, bob.id(), Role::Owner).await, 400, "invalid_role");
    let member = within("appoint", ana.client.set_role(room, bob.id(), Role::Admin)).await.unwrap();
    assert_eq!(member.role, Role::Admin);
    within("admin deletes", bob.client.delete_message(room, by_cat_again.id)).await.unwrap();
    within("demote", ana.client.set_role(room, bob.id(), Role::Member)).await.unwrap();
    let later = post(&cat, room, "after the demotion").await;
    assert_api_error(bob.client.delete_message(room, later.id).await, 403, "forbidden");

    let page = within("history", cat.client.messages(room, Page::latest(10))).await.unwrap();
    let bodies: Vec<_> = page.messages.iter().map(|m| (m.seq, m.body.as_str(), m.deleted_at.is_some())).collect();
    assert_eq!(bodies, vec![(1, "", true), (2, "", true), (3, "", true), (4, "after the demotion", false)]);
}

#[tokio::test]
async fn replies_quote_a_message_of_the_same_channel_only() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let room = channel(&ana, &[&bob], "replies").await;
    let elsewhere = channel(&ana, &[&bob], "elsewhere").await;
    let long = "x".repeat(300);
    let original = post(&ana, room, &long).await;
    let foreign = post(&ana, elsewhere, "not here").await;

    let mut conn = app.connect(&bob).await;
    let mut watcher = app.connect(&ana).await;
    let send = |reply_to| {
        ClientEvent::MessageSend(MessageSend {
            channel_id: room,
            body: "agreed".into(),
            client_id: client_id(),
            reply_to,
        })
    };
    assert_gateway_error(conn.request(&send(Some(foreign.id))).await, "invalid_reply");
    assert_gateway_error(conn.request(&send(Some(Uuid::now_v7()))).await, "invalid_reply");
    within("reply", conn.request(&send(Some(original.id)))).await.unwrap();
    let live = next_message(&mut watcher).await;
    let quote = live.reply_to.expect("a reply carries its quote");
    assert_eq!((quote.message_id, quote.seq, quote.sender.id), (original.id, original.seq, ana.id()));
    assert_eq!(quote.quote.chars().count(), 121, "120 chars and an ellipsis");
    assert!(quote.quote.ends_with('…') && !quote.deleted);

    let req = SendMessageRequest {
        channel_id: room,
        body: "rest".into(),
        client_id: client_id(),
        reply_to: Some(foreign.id),
    };
    assert_api_error(bob.client.send_message(&req).await, 400, "invalid_reply");
    within("delete the original", ana.client.delete_message(room, original.id)).await.unwrap();
    let page = within("history", bob.client.messages(room, Page::latest(10))).await.unwrap();
    let reply = page.messages.iter().find(|m| m.reply_to.is_some()).expect("the reply is stored");
    let quote = reply.reply_to.as_ref().unwrap();
    assert_eq!((quote.quote.as_str(), quote.deleted), ("", true), "a deleted original is quoted without its body");
    assert_eq!(page.messages.len(), 2, "refused replies stored nothing");
}
