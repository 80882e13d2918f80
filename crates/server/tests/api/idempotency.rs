//! Resends with the same `client_id`, and the limits on bodies and keys.

use banter_client::proto::rest::SendMessageRequest;
use banter_client::Page;
use reqwest::Method;

use crate::helpers::*;

#[tokio::test]
async fn rest_resend_returns_the_original_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    let mut watcher = app.connect(&app.register("bob").await).await;
    let req =
        SendMessageRequest { channel_id: general, body: "once".into(), client_id: "c-7f3a".into(), reply_to: None };

    let (first, replayed) = within("send", ana.client.send_message(&req)).await.unwrap();
    assert!(!replayed, "the first send answers 201");
    assert_eq!(first.seq, 1);
    assert_eq!(next_message(&mut watcher).await, first);

    let (second, replayed) = within("resend", ana.client.send_message(&req)).await.unwrap();
    assert!(replayed, "the resend answers 200");
    assert_eq!(second, first);
    let changed = SendMessageRequest { body: "different body".into(), ..req.clone() };
    let (third, replayed) = within("resend", ana.client.send_message(&changed)).await.unwrap();
    assert!(replayed);
    assert_eq!(third, first, "a resend returns the ORIGINAL message");

    assert_quiet(&mut watcher).await; // replays broadcast nothing
    assert_eq!(within("channel", ana.client.channel(general)).await.unwrap().head_seq, 1);
    let page = within("history", ana.client.messages(general, Page::default())).await.unwrap();
    assert_eq!(page.messages, vec![first.clone()]);

    // The key is per sender: another user may use the same key for a new message.
    let bob = app.register("cyd").await;
    let (other, replayed) = within("send", bob.client.send_message(&req)).await.unwrap();
    assert!(!replayed);
    assert_eq!(other.seq, 2);
    assert_ne!(other.id, first.id);
}

#[tokio::test]
async fn a_resend_returns_the_original_with_its_mentions_and_reactions() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let general = general_id(&ana).await;
    let req = SendMessageRequest {
        channel_id: general,
        body: "hey @bob".into(),
        client_id: "c-mention".into(),
        reply_to: None,
    };
    let (first, replayed) = within("send", ana.client.send_message(&req)).await.unwrap();
    assert!(!replayed);
    assert_eq!(first.mentions, vec![bob.id()]);
    within("react", bob.client.react(general, first.id, "🎉", true)).await.unwrap();

    let (again, replayed) = within("resend", ana.client.send_message(&req)).await.unwrap();
    assert!(replayed);
    // As history shows it to the sender: what the live events carried, and what came since.
    let page = within("history", ana.client.messages(general, Page::latest(1))).await.unwrap();
    assert_eq!(again, page.messages[0]);
    assert_eq!(again.mentions, vec![bob.id()]);
    assert_eq!(again.reactions.len(), 1, "{:?}", again.reactions);
}

#[tokio::test]
async fn websocket_resend_is_acked_the_same_and_broadcast_once() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let general = general_id(&ana).await;
    let mut ana_conn = app.connect(&ana).await;
    let mut bob_conn = app.connect(&bob).await;

    let first = within("ack", ana_conn.send_message(general, "hello", "dup-1")).await.unwrap();
    let second = within("ack", ana_conn.send_message(general, "hello", "dup-1")).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(next_message(&mut ana_conn).await.id, first.message_id);
    assert_eq!(next_message(&mut bob_conn).await.id, first.message_id);
    assert_quiet(&mut ana_conn).await;
    assert_quiet(&mut bob_conn).await;

    // The same key over REST replays the message sent over the socket.
    let req =
        SendMessageRequest { channel_id: general, body: "hello".into(), client_id: "dup-1".into(), reply_to: None };
    let (message, replayed) = within("rest resend", ana.client.send_message(&req)).await.unwrap();
    assert!(replayed);
    assert_eq!((message.id, message.seq), (first.message_id, first.seq));
    assert_eq!(within("channel", ana.client.channel(general)).await.unwrap().head_seq, 1);
}

#[tokio::test]
async fn bodies_and_keys_are_validated() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    let send = |body: String, client_id: String| {
        let client = ana.client.clone();
        async move {
            let req = SendMessageRequest { channel_id: general, body, client_id, reply_to: None };
            within("send", client.send_message(&req)).await
        }
    };
    assert_api_error(send(String::new(), client_id()).await, 400, "invalid_body");
    assert_api_error(send("a".repeat(4001), client_id()).await, 400, "invalid_body");
    assert_api_error(send("ok".into(), String::new()).await, 400, "invalid_client_id");
    assert_api_error(send("ok".into(), "k".repeat(65)).await, 400, "invalid_client_id");
    // The limit counts chars, not bytes: 4000 two-byte chars fit.
    let (m, _) = send("é".repeat(4000), "k".repeat(64)).await.expect("4000 chars and a 64-char key are valid");
    assert_eq!(m.body.chars().count(), 4000);
    let (m, _) = send("  <b>verbatim</b>\n".into(), client_id()).await.unwrap();
    assert_eq!(m.body, "  <b>verbatim</b>\n", "bodies are stored exactly as sent");

    // Over the socket too; the connection survives the refusal.
    let mut conn = app.connect(&ana).await;
    assert_gateway_error(within("ws send", conn.send_message(general, &"a".repeat(4001), "w1")).await, "invalid_body");
    assert_gateway_error(within("ws send", conn.send_message(general, "", "w2")).await, "invalid_body");
    assert_gateway_error(within("ws send", conn.send_message(general, "ok", "")).await, "invalid_client_id");
    let ack = within("ws send", conn.send_message(general, "fine", "w3")).await.expect("the socket still works");
    assert_eq!(ack.seq, 3);
    assert_eq!(within("channel", ana.client.channel(general)).await.unwrap().head_seq, 3);
}

#[tokio::test]
async fn oversized_and_malformed_request_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    let huge = send_req(general, &"a".repeat(70 * 1024));
    assert_api_error(within("send", ana.client.send_message(&huge)).await, 413, "payload_too_large");
    let rb = ana.client.req(Method::POST, "/api/messages").json(&serde_json::json!({"channel_id": general, "body": 5}));
    assert_api_error(within("send", ana.client.call::<serde_json::Value>(rb)).await, 400, "invalid_json");
}
