//! `Cluster`: N servers in this process on one fresh PostgreSQL database and the real Redis,
//! each with its own Redis prefix per test (so concurrent tests never hear each other), each
//! node optionally reaching Redis through its own [`Proxy`].
//!
//! An unreachable Redis FAILS these tests (CI starts one); `BANTER_SKIP_REDIS=1` skips them,
//! as `BANTER_SKIP_POSTGRES=1` does for PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use banter_client::{Backoff, Reliable, ReliableEvent};
use banter_server::hub::bridge::RelayStats;
use uuid::Uuid;

use super::proxy::Proxy;
use crate::helpers::{within, TestApp, TestUser};
use crate::store_conformance::backends::TestDatabase;

/// The Redis the tests use unless `BANTER_TEST_REDIS_URL` names another.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Running nodes and what they share. Field order is drop order: nodes, proxies, database.
pub struct Cluster {
    /// The nodes, `nodes[i].base_url` for clients.
    pub nodes: Vec<TestApp>,
    /// Each node's proxy to Redis, when started with [`Cluster::start_proxied`].
    pub proxies: Vec<Proxy>,
    /// The shared database, dropped (after the nodes) with the cluster.
    _db: TestDatabase,
}

/// The Redis URL, or `None` when `BANTER_SKIP_REDIS=1`. Panics when Redis does not answer.
pub async fn redis_url() -> Option<String> {
    if std::env::var("BANTER_SKIP_REDIS").is_ok_and(|v| v == "1") {
        eprintln!("BANTER_SKIP_REDIS=1: skipping a Redis test");
        return None;
    }
    let url = std::env::var("BANTER_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_string());
    let ping = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => Some(url),
        other => panic!("Redis at {url} is unreachable ({other:?}); start it, or set BANTER_SKIP_REDIS=1 to skip"),
    }
}

impl Cluster {
    /// `n` nodes talking to Redis directly; `None` when Redis or PostgreSQL tests are skipped.
    pub async fn start(n: usize) -> Option<Cluster> {
        Self::launch(n, false).await
    }

    /// `n` nodes, each reaching Redis through its own [`Proxy`].
    pub async fn start_proxied(n: usize) -> Option<Cluster> {
        Self::launch(n, true).await
    }

    async fn launch(n: usize, proxied: bool) -> Option<Cluster> {
        let redis = redis_url().await?;
        let db = TestDatabase::create_for(n as u32).await?;
        let prefix = format!("banter-test-{}", Uuid::now_v7().simple());
        let mut proxies = Vec::new();
        if proxied {
            let target: SocketAddr = redis_addr(&redis);
            for _ in 0..n {
                proxies.push(Proxy::start(target).await);
            }
        }
        let mut nodes = Vec::new();
        for i in 0..n {
            let url = proxies.get(i).map_or_else(|| redis.clone(), Proxy::url);
            let (db_url, prefix) = (db.url.clone(), prefix.clone());
            nodes.push(
                TestApp::spawn_with(move |c| {
                    c.database_url = Some(db_url);
                    c.redis_url = Some(url);
                    c.redis_prefix = prefix;
                    c.node_id = Uuid::now_v7();
                })
                .await,
            );
        }
        for node in &nodes {
            assert!(node.hub.relay().is_some(), "every node has a relay");
            assert_eq!(health(node).await, ("ok".to_owned(), "ok".to_owned()), "nodes start with Redis up");
        }
        Some(Cluster { nodes, proxies, _db: db })
    }

    /// Base URLs, starting with node `first` and going round.
    pub fn urls_from(&self, first: usize) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.nodes[(first + i) % self.nodes.len()].base_url.clone()).collect()
    }

    /// Shuts every node down (waiting for each), before the database is dropped.
    pub async fn shutdown(mut self) {
        for node in &mut self.nodes {
            node.begin_shutdown();
        }
        for node in &mut self.nodes {
            if node.is_running() {
                node.stopped().await.expect("node stops cleanly");
            }
        }
    }
}

/// `(status, redis)` from a node's `GET /api/health`.
pub async fn health(node: &TestApp) -> (String, String) {
    let health = within("health", node.client().health()).await.expect("health answers");
    (health.status, health.redis.unwrap_or_default())
}

/// Waits (up to 10 s) until a node's health reports `redis`.
pub async fn wait_for_redis(node: &TestApp, redis: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while health(node).await.1 != redis {
        assert!(tokio::time::Instant::now() < deadline, "{} never reported redis {redis:?}", node.base_url);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `host:port` of a TCP Redis URL (`localhost` as 127.0.0.1).
pub fn redis_addr(url: &str) -> SocketAddr {
    let client = redis::Client::open(url).expect("a Redis URL");
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => {
            let host = if host == "localhost" { "127.0.0.1" } else { host.as_str() };
            format!("{host}:{port}").parse().expect("a numeric Redis host for the proxy")
        }
        other => panic!("the proxy needs a TCP Redis URL, got {other:?}"),
    }
}

/// Fast reconnects for tests.
pub fn quick() -> Backoff {
    Backoff { base: Duration::from_millis(10), max: Duration::from_millis(200), max_attempts: Some(200) }
}

/// A [`Reliable`] session of `user` over `urls` (first one first), past its `Connected`.
pub async fn reliable(urls: &[String], user: &TestUser) -> Reliable {
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let mut r = within("reliable connect", Reliable::connect_any(&urls, &user.token, HashMap::new(), quick()))
        .await
        .expect("connects");
    assert_eq!(next(&mut r).await, ReliableEvent::Connected { resumed: false });
    r
}

/// The next event within 15 s.
pub async fn next(r: &mut Reliable) -> ReliableEvent {
    match r.next_event_timeout(Duration::from_secs(15)).await.expect("no fatal error") {
        Some(event) => event,
        None => panic!("no event within 15 s"),
    }
}

/// Relay counters of a node.
pub fn stats(node: &TestApp) -> RelayStats {
    node.hub.relay().expect("a clustered node has a relay").stats()
}

/// What one [`chatter`] client saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// `seq`s of the messages delivered, in delivery order.
    pub seqs: Vec<i64>,
    /// `client_id`s sent.
    pub sent: HashSet<String>,
    /// `client_id`s acknowledged.
    pub acked: HashSet<String>,
    /// Reconnections (`Connected { resumed: true }`).
    pub resumed: usize,
}

impl Tally {
    /// Asserts every message `1..=total` arrived once, in order, and every send was acked.
    #[track_caller]
    pub fn assert_complete(&self, who: &str, total: i64) {
        assert_eq!(self.seqs, (1..=total).collect::<Vec<_>>(), "{who}: every message once, in seq order");
        assert_eq!(self.acked, self.sent, "{who}: every send acknowledged");
    }
}

/// Drives `r` in `channel`: sends `sends` messages, one every `pace`, while reading events,
/// until `total` messages arrived and every send was acked (60 s at most). Returns the
/// session (to see where it ended up) and what it saw.
pub async fn chatter(mut r: Reliable, channel: Uuid, sends: usize, pace: Duration, total: usize) -> (Reliable, Tally) {
    let mut tally = Tally::default();
    let start = Instant::now();
    let mut next_send = start;
    while tally.seqs.len() < total || tally.acked.len() < sends {
        assert!(start.elapsed() < Duration::from_secs(60), "chatter stuck: {tally:?}");
        if tally.sent.len() < sends && Instant::now() >= next_send {
            let client_id = r.send(channel, &format!("msg {}", tally.sent.len())).await;
            tally.sent.insert(client_id);
            next_send += pace;
            continue;
        }
        let wait = next_send.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let wait = if tally.sent.len() < sends { wait } else { Duration::from_secs(1) };
        match r.next_event_timeout(wait).await.expect("no fatal error") {
            Some(ReliableEvent::Message(m)) => {
                assert_eq!(m.channel_id, channel);
                tally.seqs.push(m.seq);
            }
            Some(ReliableEvent::Acked(ack)) => _ = tally.acked.insert(ack.client_id),
            Some(ReliableEvent::Connected { resumed: true }) => tally.resumed += 1,
            Some(event @ (ReliableEvent::Rejected { .. } | ReliableEvent::Gap(_))) => panic!("unexpected {event:?}"),
            Some(_) | None => {}
        }
    }
    (r, tally)
}
