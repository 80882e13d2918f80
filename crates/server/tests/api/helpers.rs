//! `TestApp`: one server per test on port 0 with its own SQLite file; plus helpers that wait
//! for network events with a deadline, so a bug fails the test instead of hanging it.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use banter_client::proto::rest::{RegisterRequest, SendMessageRequest};
use banter_client::proto::ws::ServerEvent;
use banter_client::proto::{Me, Message};
use banter_client::{Client, ClientError, Connection, Incoming};
use banter_server::{Application, Config};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// How long any single network wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test listens to conclude that an event does NOT arrive.
pub const QUIET: Duration = Duration::from_millis(300);
/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A raw WebSocket, for tests that need a client that misbehaves.
pub type RawSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A running server on a fresh database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The server's hub (connections, and the Redis relay when configured).
    pub hub: banter_server::hub::Hub,
    /// The server's store, not kept alive by the test: gone once nothing of the server runs.
    pub store: std::sync::Weak<dyn banter_server::store::Store>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    _data_dir: tempfile::TempDir,
}

/// A registered user with a signed-in client.
pub struct TestUser {
    /// Signed in with `token`.
    pub client: Client,
    /// The profile `register` returned.
    pub user: Me,
    /// The session token.
    pub token: String,
}

impl TestUser {
    /// The user's id.
    pub fn id(&self) -> Uuid {
        self.user.user.id
    }
}

impl TestApp {
    /// A server with the test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server with the test configuration adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_tests(data_dir.path());
        adjust(&mut config);
        let app = within("build the app", Application::build(config)).await.expect("app builds");
        let base_url = format!("http://{}", app.local_addr());
        assert_eq!(app.port(), app.local_addr().port());
        let hub = app.state().hub.clone();
        let store = std::sync::Arc::downgrade(&app.state().store);
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self { base_url, hub, store, shutdown: Some(tx), handle: Some(handle), _data_dir: data_dir }
    }

    /// An anonymous SDK client.
    pub fn client(&self) -> Client {
        Client::new(&self.base_url).expect("valid base url")
    }

    /// Registers `name` (password [`PASSWORD`]) and returns it signed in.
    pub async fn register(&self, name: &str) -> TestUser {
        let req = RegisterRequest { username: name.into(), password: PASSWORD.into(), email: None, display_name: None };
        let (client, auth) = within("register", self.client().register(&req)).await.expect("register");
        TestUser { client, user: auth.user, token: auth.token }
    }

    /// Opens an SDK WebSocket connection for `user` (the `ready` frame is read).
    pub async fn connect(&self, user: &TestUser) -> Connection {
        self.connect_token(&user.token).await.expect("websocket connects")
    }

    /// Opens an SDK WebSocket connection with `token`.
    pub async fn connect_token(&self, token: &str) -> Result<Connection, ClientError> {
        within("websocket connect", Connection::connect(&self.base_url, token)).await
    }

    /// Opens a raw tokio-tungstenite connection with a bearer `token`; nothing is read.
    pub async fn connect_raw(&self, token: &str) -> RawSocket {
        let request = banter_client::url::ws_request(&self.base_url, token).expect("request");
        let (socket, _) =
            within("raw connect", tokio_tungstenite::connect_async(request)).await.expect("raw websocket connects");
        socket
    }

    /// Triggers graceful shutdown and waits (bounded) for `run_until_stopped` to return.
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        self.begin_shutdown();
        self.stopped().await
    }

    /// Triggers graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Whether [`stopped`](Self::stopped) has not been awaited yet.
    pub fn is_running(&self) -> bool {
        self.handle.is_some()
    }

    /// Waits (bounded) for `run_until_stopped` to return.
    pub async fn stopped(&mut self) -> std::io::Result<()> {
        let handle = self.handle.take().expect("wait for the server once");
        within("server to stop", handle).await.expect("server task panicked")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Awaits `fut`, failing the test if it takes longer than [`WAIT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Asserts that `result` is an API error with `status` and `code`.
#[track_caller]
pub fn assert_api_error<T: Debug>(result: Result<T, ClientError>, status: u16, code: &str) {
    match result {
        Err(ClientError::Api { status: s, code: c, message }) => {
            assert_eq!((s, c.as_str()), (status, code), "wrong error (message: {message:?})")
        }
        other => panic!("expected HTTP {status} `{code}`, got {other:?}"),
    }
}

/// Asserts that `result` is a gateway `error` with `code`.
#[track_caller]
pub fn assert_gateway_error<T: Debug>(result: Result<T, ClientError>, code: &str) {
    match result {
        Err(ClientError::Gateway { code: c, .. }) => assert_eq!(c, code),
        other => panic!("expected gateway error `{code}`, got {other:?}"),
    }
}

/// The next event on `conn` other than ambient live state (`presence:change`,
/// `receipt:update`, which other tests' clients cause as a side effect); fails on a close or
/// after [`WAIT`]. Tests of live state use [`next_live`].
pub async fn next_event(conn: &mut Connection) -> (Option<String>, ServerEvent) {
    loop {
        match next_any(conn).await {
            (None, ServerEvent::PresenceChange(_) | ServerEvent::ReceiptUpdate(_)) => continue,
            other => return other,
        }
    }
}

/// The next event on `conn`, whatever it is; fails on a close or after [`WAIT`].
pub async fn next_any(conn: &mut Connection) -> (Option<String>, ServerEvent) {
    match within("the next event", conn.next_event()).await.expect("read an event") {
        Incoming::Event { id, event } => (id, event),
        Incoming::Closed { code, reason } => panic!("connection closed ({code} {reason}) while expecting an event"),
    }
}

/// Skips events until one `pick` maps to `Some`; fails on a close or after [`WAIT`] in all.
pub async fn next_live<T>(conn: &mut Connection, what: &str, mut pick: impl FnMut(ServerEvent) -> Option<T>) -> T {
    let wait = async {
        loop {
            match conn.next_event().await.expect("read an event") {
                Incoming::Event { event, .. } => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Incoming::Closed { code, reason } => {
                    panic!("connection closed ({code} {reason}) while waiting for {what}")
                }
            }
        }
    };
    within(what, wait).await
}

/// The next event, which must be `message:receive`.
pub async fn next_message(conn: &mut Connection) -> Message {
    match next_event(conn).await {
        (None, ServerEvent::MessageReceive(m)) => m,
        other => panic!("expected message:receive, got {other:?}"),
    }
}

/// The next event, which must be an `error` frame; returns its id and code.
pub async fn next_error(conn: &mut Connection) -> (Option<String>, String) {
    match next_event(conn).await {
        (id, ServerEvent::Error(e)) => (id, e.code),
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// Reads until the connection closes (skipping events); returns the close code and reason.
pub async fn expect_closed(conn: &mut Connection) -> (u16, String) {
    loop {
        match within("the connection to close", conn.next_event()).await.expect("read") {
            Incoming::Closed { code, reason } => return (code, reason),
            Incoming::Event { .. } => continue,
        }
    }
}

/// Asserts that no event other than ambient live state (see [`next_event`]) arrives on
/// `conn` within [`QUIET`].
pub async fn assert_quiet(conn: &mut Connection) {
    let deadline = tokio::time::Instant::now() + QUIET;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match conn.next_event_timeout(left).await.expect("read") {
            None => return,
            Some(Incoming::Event {
                id: None,
                event: ServerEvent::PresenceChange(_) | ServerEvent::ReceiptUpdate(_),
            }) => {}
            Some(incoming) => panic!("expected no event, got {incoming:?}"),
        }
    }
}

/// A fresh idempotency key.
pub fn client_id() -> String {
    Uuid::now_v7().to_string()
}

/// The id of `#general` as `user` sees it.
pub async fn general_id(user: &TestUser) -> Uuid {
    let channels = within("list channels", user.client.channels()).await.expect("channels");
    channels.iter().find(|c| c.name == "general").expect("#general is listed").id
}

/// Posts `body` over REST with a fresh key; returns the new message.
pub async fn post(user: &TestUser, channel_id: Uuid, body: &str) -> Message {
    let req = SendMessageRequest { channel_id, body: body.into(), client_id: client_id(), reply_to: None };
    let (message, replayed) = within("post a message", user.client.send_message(&req)).await.expect("post");
    assert!(!replayed, "a fresh client_id must not be a replay");
    message
}

/// A REST send request with a fresh key.
pub fn send_req(channel_id: Uuid, body: &str) -> SendMessageRequest {
    SendMessageRequest { channel_id, body: body.into(), client_id: client_id(), reply_to: None }
}

/// The next event of any kind, which must be `presence:change`.
pub async fn next_presence(conn: &mut Connection) -> banter_client::proto::Presence {
    match next_any(conn).await {
        (None, ServerEvent::PresenceChange(p)) => p,
        other => panic!("expected presence:change, got {other:?}"),
    }
}

/// The next event of any kind, which must be `typing:indicator`; returns `(channel, ids)`.
pub async fn next_typing(conn: &mut Connection) -> (Uuid, Vec<Uuid>) {
    match next_any(conn).await {
        (None, ServerEvent::TypingIndicator(t)) => (t.channel_id, t.user_ids),
        other => panic!("expected typing:indicator, got {other:?}"),
    }
}

/// Asserts that no event at all (not even ambient live state) arrives on `conn` within `quiet`.
pub async fn assert_quiet_for(conn: &mut Connection, quiet: Duration) {
    if let Some(incoming) = conn.next_event_timeout(quiet).await.expect("read") {
        panic!("expected no event for {quiet:?}, got {incoming:?}");
    }
}

/// `GET /api/users/:id` as `viewer`: the profile with presence.
pub async fn profile(viewer: &TestUser, id: Uuid) -> banter_client::proto::Profile {
    let path = format!("/api/users/{id}");
    within("profile", viewer.client.call(viewer.client.req(reqwest::Method::GET, &path))).await.expect("profile")
}
