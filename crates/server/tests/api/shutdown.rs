//! Graceful shutdown: open sockets are closed with 1012 `server_restart`, and nothing of the
//! server runs on once it returns.

use banter_client::proto::ws::{ChannelRef, ClientEvent};
use banter_client::Connection;
use uuid::Uuid;

use crate::helpers::*;

/// Ana and Bob connected; Ana's `body` in `#general` is acknowledged (Bob's socket gets it).
/// Returns Ana, `#general`'s id and both connections.
async fn ana_to_bob(app: &TestApp, body: &str) -> (TestUser, Uuid, Connection, Connection) {
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let general = general_id(&ana).await;
    let mut ana_conn = app.connect(&ana).await;
    let bob_conn = app.connect(&bob).await;
    within("ack", ana_conn.send_message(general, body, "c1")).await.unwrap();
    (ana, general, ana_conn, bob_conn)
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1012() {
    let mut app = TestApp::spawn().await;
    let (ana, _, mut ana_conn, mut bob_conn) = ana_to_bob(&app, "last words").await;

    app.begin_shutdown();

    // What was committed before the shutdown is still delivered, then the close.
    assert_eq!(next_message(&mut bob_conn).await.body, "last words");
    for conn in [&mut ana_conn, &mut bob_conn] {
        assert_eq!(expect_closed(conn).await, (1012, "server_restart".to_string()));
    }
    app.stopped().await.expect("run_until_stopped returns Ok once the sockets closed");
    let after = within("request after shutdown", ana.client.me()).await;
    assert!(after.is_err(), "the server no longer answers: {after:?}");
}

#[tokio::test]
async fn an_idle_server_stops_promptly() {
    let mut app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let started = std::time::Instant::now();
    app.shutdown().await.expect("run_until_stopped returns Ok");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(within("request after shutdown", ana.client.me()).await.is_err());
}

#[tokio::test]
async fn nothing_of_a_stopped_server_runs_on() {
    let mut app = TestApp::spawn().await;
    let (_, general, mut ana_conn, mut bob_conn) = ana_to_bob(&app, "before the stop").await;
    assert_eq!(next_message(&mut bob_conn).await.body, "before the stop");
    let typing = ClientEvent::TypingStart(ChannelRef { channel_id: general });
    within("typing:start", ana_conn.request(&typing)).await.expect("typing starts");

    app.shutdown().await.expect("run_until_stopped returns Ok");

    // The background tasks (receipt flusher, presence worker, typing ticker) ended with the
    // run and released the state: the last handle on the store is gone, so it closed.
    let deadline = std::time::Instant::now() + WAIT;
    while app.store.upgrade().is_some() {
        assert!(std::time::Instant::now() < deadline, "the store is still held after the stop");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
