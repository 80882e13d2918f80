//! Limits and abuse resistance: rate limits (REST 429 with `Retry-After`, gateway
//! `rate_limited` with the wait), brute-force delay on logins, connection caps, text rules,
//! CORS and security headers.

use banter_client::proto::rest::SendMessageRequest;
use banter_client::proto::ws::ServerEvent;
use banter_client::ClientError;

use crate::helpers::{assert_api_error, general_id, next_event, within, TestApp, PASSWORD};

fn send_req(channel: uuid::Uuid, body: &str, key: &str) -> SendMessageRequest {
    SendMessageRequest { channel_id: channel, body: body.into(), client_id: key.into(), reply_to: None }
}

#[tokio::test]
async fn repeated_failed_logins_lock_the_account_with_a_growing_delay() {
    let app = TestApp::spawn().await;
    app.register("ana").await;
    for _ in 0..5 {
        assert_api_error(app.client().login("ana", "wrong password").await, 401, "invalid_credentials");
    }
    assert_api_error(app.client().login("ana", "wrong password").await, 401, "invalid_credentials");
    // Now locked: even the right password waits, and the answer says for how long.
    let response = reqwest::Client::new()
        .post(format!("{}/api/auth/login", app.base_url))
        .json(&serde_json::json!({"username": "ANA", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some(), "Retry-After is set");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000));
    app.register("ben").await; // other accounts are not affected
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    within("login", app.client().login("ana", PASSWORD)).await.expect("allowed again after the delay");
}

#[tokio::test]
async fn auth_attempts_per_ip_are_limited() {
    let app = TestApp::spawn_with(|c| c.rate_auth_per_minute = 3).await;
    for name in ["ana", "ben", "cyd"] {
        app.register(name).await;
    }
    assert_api_error(app.client().login("ana", PASSWORD).await, 429, "rate_limited");
}

#[tokio::test]
async fn message_sends_are_limited_per_user_over_rest_and_the_gateway() {
    let app = TestApp::spawn_with(|c| (c.rate_messages_per_second, c.rate_messages_burst) = (1, 5)).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let general = general_id(&ana).await;
    for i in 0..5 {
        ana.client.send_message(&send_req(general, "hi", &format!("k{i}"))).await.expect("within the burst");
    }
    assert_api_error(ana.client.send_message(&send_req(general, "hi", "k5")).await, 429, "rate_limited");
    let mut conn = app.connect(&ana).await;
    match conn.send_message(general, "hi", "k6").await {
        Err(ClientError::Gateway { code, .. }) => assert_eq!(code, "rate_limited"),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    ben.client.send_message(&send_req(general, "mine", "b0")).await.expect("other users are not limited");
    let page = ben.client.messages(general, banter_client::Page::default()).await.expect("history");
    assert_eq!(page.messages.len(), 6, "refused sends stored nothing");
}

#[tokio::test]
async fn rate_limited_gateway_errors_carry_the_wait() {
    let app = TestApp::spawn_with(|c| (c.rate_messages_per_second, c.rate_messages_burst) = (1, 1)).await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    let mut conn = app.connect(&ana).await;
    conn.send_message(general, "one", "k1").await.expect("first is fine");
    conn.send_raw_text(&format!(
        r#"{{"type":"message:send","id":"x","data":{{"channel_id":"{general}","body":"two","client_id":"k2"}}}}"#
    ))
    .await
    .expect("send");
    loop {
        match next_event(&mut conn).await {
            (Some(id), ServerEvent::Error(e)) if id == "x" => {
                assert_eq!(e.code, "rate_limited");
                assert!(e.retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000), "{e:?}");
                break;
            }
            (_, ServerEvent::MessageReceive(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_upgrades_and_connections_are_capped() {
    let app = TestApp::spawn_with(|c| c.max_connections_per_user = 2).await;
    let ana = app.register("ana").await;
    let _a = app.connect(&ana).await;
    let _b = app.connect(&ana).await;
    assert_api_error(app.connect_token(&ana.token).await, 429, "too_many_connections");

    let app = TestApp::spawn_with(|c| c.max_connections = 1).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let _a = app.connect(&ana).await;
    assert_api_error(app.connect_token(&ben.token).await, 503, "server_full");

    let app = TestApp::spawn_with(|c| c.rate_upgrades_per_minute = 2).await;
    let ana = app.register("ana").await;
    let _a = app.connect(&ana).await;
    let _b = app.connect(&ana).await;
    assert_api_error(app.connect_token(&ana.token).await, 429, "rate_limited");
}

#[tokio::test]
async fn text_is_normalized_and_control_characters_are_refused() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    for (i, bad) in ["bell\u{7}", "escape \u{1b}[31m", "carriage\r\nreturn"].iter().enumerate() {
        assert_api_error(
            ana.client.send_message(&send_req(general, bad, &format!("bad{i}"))).await,
            400,
            "invalid_body",
        );
    }
    let (m, _) = ana.client.send_message(&send_req(general, "cafe\u{301}\n\tok", "good")).await.expect("send");
    assert_eq!(m.body, "caf\u{e9}\n\tok", "stored in NFC, newline and tab kept");
    assert_eq!(m.seq, 1, "the refused sends stored nothing");
}

#[tokio::test]
async fn security_headers_are_set_and_cors_is_off_unless_configured() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    for path in ["/", "/api/health"] {
        let r = http
            .get(format!("{}{path}", app.base_url))
            .header("origin", "https://elsewhere.example")
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h.get("content-security-policy").expect("CSP").to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        assert!(h.get("access-control-allow-origin").is_none(), "CORS is off by default");
    }
    let app = TestApp::spawn_with(|c| c.cors_origins = vec!["https://chat.example.com".into()]).await;
    let allowed = http
        .get(format!("{}/api/health", app.base_url))
        .header("origin", "https://chat.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.headers().get("access-control-allow-origin").unwrap(), "https://chat.example.com");
    let other =
        http.get(format!("{}/api/health", app.base_url)).header("origin", "https://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn channels_per_user_and_members_per_channel_are_capped() {
    use banter_client::proto::rest::CreateChannelRequest;
    use banter_client::proto::ChannelKind;
    let app = TestApp::spawn_with(|c| (c.max_channels_per_user, c.max_members_per_channel) = (3, 2)).await;
    let (ana, ben, cyd) = (app.register("ana").await, app.register("ben").await, app.register("cyd").await);
    let create = |name: &str| CreateChannelRequest { name: name.into(), kind: ChannelKind::Public, topic: None };
    let one = ana.client.create_channel(&create("one")).await.expect("second channel (after #general)");
    ben.client.join(one.id).await.expect("second member");
    assert_api_error(cyd.client.join(one.id).await, 403, "channel_full");
    ana.client.create_channel(&create("two")).await.expect("third channel");
    assert_api_error(ana.client.create_channel(&create("three")).await, 403, "too_many_channels");
    assert_api_error(ana.client.open_dm(cyd.id()).await, 403, "too_many_channels");
    let dm = ben.client.open_dm(cyd.id()).await.expect("ben and cyd have room");
    assert_eq!(cyd.client.open_dm(ben.id()).await.expect("an existing DM always opens").id, dm.id);
    app.register("dee").await; // #general has no member cap
}
