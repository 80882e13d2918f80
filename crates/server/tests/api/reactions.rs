//! Reactions through real sockets and REST: validated emoji, idempotent adds, live
//! `reaction:update` with the actor and the new count, per-viewer aggregates in history, and
//! the distinct-emoji cap.

use banter_client::proto::ws::{ClientEvent, ReactionRequest, ReactionUpdate, ServerEvent};
use banter_client::proto::ReactionCount;
use banter_client::{Connection, Page};
use uuid::Uuid;

use crate::helpers::{assert_api_error, assert_gateway_error, general_id, next_live, post, within, TestApp};

fn react(channel_id: Uuid, message_id: Uuid, emoji: &str, add: bool) -> ClientEvent {
    let r = ReactionRequest { channel_id, message_id, emoji: emoji.into() };
    if add {
        ClientEvent::ReactionAdd(r)
    } else {
        ClientEvent::ReactionRemove(r)
    }
}

/// The next `reaction:update` (every member gets each one, the actor's devices included).
async fn next_reaction(conn: &mut Connection) -> ReactionUpdate {
    next_live(conn, "reaction:update", |e| match e {
        ServerEvent::ReactionUpdate(u) => Some(u),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn reactions_aggregate_live_and_in_history() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let general = general_id(&ana).await;
    let message = post(&ana, general, "react to me").await;
    let mut ana_conn = app.connect(&ana).await;
    let mut bob_conn = app.connect(&bob).await;

    within("add", bob_conn.request(&react(general, message.id, "👍", true))).await.unwrap();
    let u = next_reaction(&mut ana_conn).await;
    assert_eq!(
        (u.message_id, u.seq, u.user_id, u.emoji.as_str(), u.added, u.count),
        (message.id, 1, bob.id(), "👍", true, 1)
    );
    assert_eq!(next_reaction(&mut bob_conn).await.user_id, bob.id(), "the actor's devices hear it too");
    within("add again", bob_conn.request(&react(general, message.id, "👍", true))).await.unwrap();
    within("ana adds", ana_conn.request(&react(general, message.id, "👍", true))).await.unwrap();
    let u = next_reaction(&mut bob_conn).await;
    assert_eq!((u.user_id, u.count), (ana.id(), 2), "a repeated add is not announced or counted twice");
    within("heart over REST", ana.client.react(general, message.id, "❤️", true)).await.unwrap();
    assert_eq!(next_reaction(&mut bob_conn).await.emoji, "❤️");
    for _ in 0..2 {
        assert_eq!(next_reaction(&mut ana_conn).await.user_id, ana.id());
    }

    let seen_by_bob =
        within("history", bob.client.messages(general, Page::latest(10))).await.unwrap().messages.remove(0).reactions;
    let want = |me_thumb, me_heart| {
        vec![
            ReactionCount { emoji: "👍".into(), count: 2, me: me_thumb },
            ReactionCount { emoji: "❤️".into(), count: 1, me: me_heart },
        ]
    };
    assert_eq!(seen_by_bob, want(true, false), "first use order, `me` per viewer");
    let seen_by_ana =
        within("history", ana.client.messages(general, Page::latest(10))).await.unwrap().messages.remove(0).reactions;
    assert_eq!(seen_by_ana, want(true, true));

    within("remove", bob_conn.request(&react(general, message.id, "👍", false))).await.unwrap();
    let u = next_reaction(&mut ana_conn).await;
    assert_eq!((u.user_id, u.added, u.count), (bob.id(), false, 1));
    within("remove nothing", bob_conn.request(&react(general, message.id, "🎉", false))).await.unwrap();
    within("REST remove", ana.client.react(general, message.id, "❤️", false)).await.unwrap();
    assert!(!next_reaction(&mut bob_conn).await.added, "bob's own removal first");
    let u = next_reaction(&mut bob_conn).await;
    assert_eq!((u.emoji.as_str(), u.count), ("❤️", 0), "count 0 removes the chip");
}

#[tokio::test]
async fn bad_reactions_are_refused_and_change_nothing() {
    let app = TestApp::spawn_with(|c| c.max_reactions = 2).await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let general = general_id(&ana).await;
    let message = post(&ana, general, "limited").await;
    let mut conn = app.connect(&bob).await;
    for bad in ["", "a", "👍👍", ":+1:", "<b>"] {
        assert_gateway_error(conn.request(&react(general, message.id, bad, true)).await, "invalid_emoji");
    }
    assert_gateway_error(conn.request(&react(general, Uuid::now_v7(), "👍", true)).await, "not_found");
    within("one", conn.request(&react(general, message.id, "👍", true))).await.unwrap();
    within("two", conn.request(&react(general, message.id, "🎉", true))).await.unwrap();
    assert_gateway_error(conn.request(&react(general, message.id, "👀", true)).await, "too_many_reactions");
    assert_api_error(ana.client.react(general, message.id, "👀", true).await, 409, "too_many_reactions");
    within("a known emoji still counts", ana.client.react(general, message.id, "🎉", true)).await.unwrap();

    let dm = within("dm", ana.client.open_dm(bob.id())).await.unwrap();
    let private = post(&ana, dm.id, "just us").await;
    let eve = app.register("eve").await;
    assert_api_error(eve.client.react(dm.id, private.id, "👍", true).await, 404, "not_found");

    within("delete", ana.client.delete_message(general, message.id)).await.unwrap();
    assert_gateway_error(conn.request(&react(general, message.id, "👍", true)).await, "message_deleted");
    let page = within("history", ana.client.messages(general, Page::latest(10))).await.unwrap();
    assert!(page.messages[0].reactions.is_empty(), "a tombstone keeps no reactions");
}

#[tokio::test]
async fn history_and_sync_replay_carry_reactions_and_mentions() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let general = general_id(&ana).await;
    post(&ana, general, "plain").await;
    let mention = post(&ana, general, "hey @bob and @nobody").await;
    assert_eq!(mention.mentions, vec![bob.id()], "only members are resolved");
    within("react", bob.client.react(general, mention.id, "🎉", true)).await.unwrap();

    let page = within("history", bob.client.messages(general, Page::latest(10))).await.unwrap();
    let (plain, held) = (&page.messages[0], &page.messages[1]);
    assert!(plain.mentions.is_empty() && plain.reactions.is_empty());
    assert_eq!(held.mentions, vec![bob.id()]);
    assert_eq!(held.reactions, vec![ReactionCount { emoji: "🎉".into(), count: 1, me: true }]);

    let mut conn = app.connect(&bob).await;
    let position = banter_client::proto::ws::SyncPosition { channel_id: general, after_seq: 0 };
    within("sync", conn.sync(vec![position])).await.unwrap();
    let replayed = next_live(&mut conn, "sync:messages", |e| match e {
        ServerEvent::SyncMessages(s) if s.channel_id == general => Some(s.messages),
        _ => None,
    })
    .await;
    assert_eq!(&replayed, &page.messages, "a replay is the same as the history page");
}
