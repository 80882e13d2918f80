//! The WebSocket gateway: authentication before the upgrade, malformed frames, size limits,
//! heartbeats.

use std::time::Duration;

use banter_client::proto::ws::ServerEvent;
use banter_client::url::ws_url;
use banter_client::{ClientError, Incoming};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use uuid::Uuid;

use crate::helpers::*;

/// Connects without the SDK with extra `headers`; the refusal as a [`ClientError`].
async fn raw_upgrade(app: &TestApp, headers: &[(&'static str, String)]) -> Result<RawSocket, ClientError> {
    let mut req = ws_url(&app.base_url).unwrap().into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse().unwrap());
    }
    match within("upgrade", tokio_tungstenite::connect_async(req)).await {
        Ok((socket, _)) => Ok(socket),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
async fn upgrades_without_a_valid_session_are_refused_with_401() {
    let app = TestApp::spawn().await;
    assert_api_error(raw_upgrade(&app, &[]).await.map(drop), 401, "unauthorized");
    assert_api_error(app.connect_token("bnt_forged").await.map(drop), 401, "unauthorized");
    let cookie = [("cookie", "banter_session=bnt_forged".to_string())];
    assert_api_error(raw_upgrade(&app, &cookie).await.map(drop), 401, "unauthorized");
}

#[tokio::test]
async fn cookie_upgrades_must_come_from_the_same_origin() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let cookie = ("cookie", format!("banter_session={}", ana.token));
    let foreign = [cookie.clone(), ("origin", "http://evil.example".to_string())];
    assert_api_error(raw_upgrade(&app, &foreign).await.map(drop), 403, "origin_not_allowed");
    let same = [cookie, ("origin", app.base_url.clone())];
    let mut socket = raw_upgrade(&app, &same).await.expect("a same-origin cookie upgrade is accepted");
    let first = within("ready", socket.next()).await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains(r#""type":"ready""#), "{first:?}");
}

#[tokio::test]
async fn malformed_frames_are_refused_and_the_connection_survives() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut conn = app.connect(&ana).await;

    conn.send_raw_text("{not json").await.unwrap();
    assert_eq!(next_error(&mut conn).await, (None, "malformed_frame".into()));
    conn.send_raw_text(r#"{"id":"t1","data":{}}"#).await.unwrap();
    assert_eq!(next_error(&mut conn).await.1, "malformed_frame", "no type");
    conn.send_raw_text(r#"{"type":7,"id":"t2"}"#).await.unwrap();
    assert_eq!(next_error(&mut conn).await.1, "malformed_frame", "type not a string");
    conn.send_raw_binary(br#"{"type":"ping","id":"b1"}"#.to_vec()).await.unwrap();
    assert_eq!(next_error(&mut conn).await.1, "malformed_frame", "binary frame");

    conn.send_raw_text(r#"{"type":"typing:dance","id":"u1"}"#).await.unwrap();
    assert_eq!(next_error(&mut conn).await, (Some("u1".into()), "unknown_type".into()));
    conn.send_raw_text(r#"{"type":"message:send","id":"d1","data":{"body":1}}"#).await.unwrap();
    assert_eq!(next_error(&mut conn).await, (Some("d1".into()), "invalid_data".into()));
    conn.send_raw_text(r#"{"type":"message:send","id":"d2"}"#).await.unwrap();
    assert_eq!(next_error(&mut conn).await, (Some("d2".into()), "invalid_data".into()), "missing data");

    within("ping", conn.ping()).await.expect("the connection survives every refusal");
}

#[tokio::test]
async fn service_refusals_echo_the_request_id() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut conn = app.connect(&ana).await;
    let nowhere = Uuid::now_v7();
    match within("send", conn.send_message(nowhere, "hi", "c1")).await {
        Err(ClientError::Gateway { id, code, .. }) => {
            assert_eq!(code, "not_found");
            assert!(id.is_some_and(|id| id.starts_with('r')), "the SDK's request id is echoed");
        }
        other => panic!("expected not_found, got {other:?}"),
    }
    within("ping", conn.ping()).await.unwrap();
}

#[tokio::test]
async fn frames_over_the_limit_close_the_connection_with_1009() {
    let app = TestApp::spawn_with(|c| c.max_frame_bytes = 4096).await;
    let ana = app.register("ana").await;
    let mut conn = app.connect(&ana).await;
    assert_eq!(conn.ready().limits.max_frame_bytes, 4096);

    // Exactly at the limit is fine.
    let prefix = r#"{"type":"ping","id":""#;
    let at_limit = format!("{prefix}{}\"}}", "x".repeat(4096 - prefix.len() - 2));
    assert_eq!(at_limit.len(), 4096);
    conn.send_raw_text(&at_limit).await.unwrap();
    assert!(matches!(next_event(&mut conn).await, (Some(_), ServerEvent::Pong)));

    let over = format!("{prefix}{}\"}}", "x".repeat(4097 - prefix.len() - 2));
    conn.send_raw_text(&over).await.unwrap();
    assert_eq!(expect_closed(&mut conn).await, (1009, "frame_too_large".to_string()));
}

#[tokio::test]
async fn heartbeats_keep_readers_and_drop_silent_peers() {
    let app = TestApp::spawn_with(|c| c.heartbeat_ms = 250).await;
    let ana = app.register("ana").await;
    let mut reader = app.connect(&ana).await;
    assert_eq!(reader.ready().heartbeat_ms, 250);
    let mut silent = app.connect_raw(&ana.token).await;

    // The reader keeps reading (and so answers pings) for many intervals.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        if let Some(Incoming::Closed { code, reason }) =
            reader.next_event_timeout(Duration::from_millis(50)).await.unwrap()
        {
            panic!("a reading client was dropped: {code} {reason}");
        }
    }
    within("ping", reader.ping()).await.expect("the reading client is still connected");

    // The silent one (which never read, so never answered a ping) was dropped.
    let ended = within("the silent peer to be dropped", async {
        loop {
            match silent.next().await {
                Some(Ok(WsMessage::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await;
    if let Some(Some(frame)) = ended {
        assert_ne!(u16::from(frame.code), 1000, "a dropped peer is not a normal close: {frame:?}");
    }
}
