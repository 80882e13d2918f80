//! Graceful shutdown: open sockets are closed with 1012 `server_restart`.

use crate::helpers::*;

#[tokio::test]
async fn shutdown_closes_sockets_with_1012() {
    let mut app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let general = general_id(&ana).await;
    let mut ana_conn = app.connect(&ana).await;
    let mut bob_conn = app.connect(&bob).await;
    within("ack", ana_conn.send_message(general, "last words", "c1")).await.unwrap();

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
