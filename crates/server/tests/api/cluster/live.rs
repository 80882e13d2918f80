//! Presence and typing across nodes, with short grace, lease and ttl settings: a user online on
//! one node is online on the others (events, `ready`, profiles), the status is the best over
//! the devices of every node, typing sets list typers of every node, and a node cut off from
//! Redis takes its users offline once their leases expire.

use std::time::Duration;

use banter_client::proto::ws::{ChannelRef, ClientEvent, PresenceUpdate, ServerEvent};
use banter_client::proto::{Profile, Status};
use banter_client::{Client, Connection};
use reqwest::Method;
use uuid::Uuid;

use super::harness::{health, redis_addr, redis_url};
use super::proxy::{Cut, Proxy};
use crate::helpers::*;
use crate::store_conformance::backends::TestDatabase;

/// Short settings: offline 500 ms after the last device, leases refreshed every 250 ms (so
/// they expire 750 ms after a node stops refreshing).
const GRACE_MS: u64 = 500;
const LEASE_MS: u64 = 250;

/// Nodes on one fresh database and a per-test Redis prefix. Field order is drop order.
struct Live {
    nodes: Vec<TestApp>,
    proxies: Vec<Proxy>,
    _db: TestDatabase,
}

impl Live {
    /// `n` nodes (each through its own proxy when `proxied`); `None` when skipped.
    async fn start(n: usize, proxied: bool) -> Option<Live> {
        let redis = redis_url().await?;
        let db = TestDatabase::create_for(n as u32).await?;
        let prefix = format!("banter-test-{}", Uuid::now_v7().simple());
        let mut proxies = Vec::new();
        if proxied {
            for _ in 0..n {
                proxies.push(Proxy::start(redis_addr(&redis)).await);
            }
        }
        let mut nodes = Vec::new();
        for i in 0..n {
            let url = proxies.get(i).map_or_else(|| redis.clone(), Proxy::url);
            let (db_url, prefix) = (db.url.clone(), prefix.clone());
            let node = TestApp::spawn_with(move |c| {
                c.database_url = Some(db_url);
                c.redis_url = Some(url);
                c.redis_prefix = prefix;
                c.node_id = Uuid::now_v7();
                c.presence_grace_ms = GRACE_MS;
                c.presence_lease_ms = LEASE_MS;
            })
            .await;
            assert_eq!(health(&node).await, ("ok".to_owned(), "ok".to_owned()), "nodes start with Redis up");
            nodes.push(node);
        }
        Some(Live { nodes, proxies, _db: db })
    }

    /// Shuts every node down before the database is dropped.
    async fn shutdown(mut self) {
        for node in &mut self.nodes {
            node.begin_shutdown();
        }
        for node in &mut self.nodes {
            node.stopped().await.expect("node stops cleanly");
        }
    }
}

/// `GET /api/users/:id` on `node` with `viewer`'s token.
async fn profile_on(node: &TestApp, viewer: &TestUser, id: Uuid) -> Profile {
    let client = Client::new(&node.base_url).expect("url").with_token(&viewer.token);
    within("profile", client.call(client.req(Method::GET, &format!("/api/users/{id}")))).await.expect("profile")
}

/// Sends `event` and expects `ok`.
async fn ok(conn: &mut Connection, event: ClientEvent) {
    assert_eq!(within("request", conn.request(&event)).await.expect("answered"), ServerEvent::Ok);
}

/// Ana on node A shows online to ben on node B and in cat's `ready` on B; with devices on both
/// nodes her presence is the best of them (away on A + online on B = online); when the B
/// device leaves she is away, when the A device leaves she is offline, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn presence_is_shared_and_combined_across_nodes() {
    let Some(live) = Live::start(2, false).await else { return };
    let [a, b] = [&live.nodes[0], &live.nodes[1]];
    let (ana, ben, cat) = (a.register("ana").await, a.register("ben").await, a.register("cat").await);
    let mut ben_b = b.connect(&ben).await;
    assert_quiet_for(&mut ben_b, QUIET).await;

    let mut ana_a = a.connect(&ana).await;
    let change = next_presence(&mut ben_b).await;
    assert_eq!((change.user_id, change.status), (ana.id(), Status::Online), "from node A to node B");
    assert_eq!(profile_on(b, &ben, ana.id()).await.presence.status, Status::Online);
    let cat_b = b.connect(&cat).await;
    let mut listed: Vec<_> = cat_b.ready().presence.iter().map(|p| (p.user_id, p.status)).collect();
    listed.sort();
    assert_eq!(listed, vec![(ana.id(), Status::Online), (ben.id(), Status::Online)]);
    assert_eq!(next_presence(&mut ben_b).await.user_id, cat.id());

    let ana_b = b.connect(&ana).await;
    ok(&mut ana_a, ClientEvent::PresenceUpdate(PresenceUpdate { status: Status::Away })).await;
    assert_quiet_for(&mut ben_b, Duration::from_millis(GRACE_MS)).await;
    assert_eq!(profile_on(a, &ben, ana.id()).await.presence.status, Status::Online, "away on A + online on B");

    ana_b.close().await.expect("close");
    let change = next_presence(&mut ben_b).await;
    assert_eq!((change.user_id, change.status), (ana.id(), Status::Away));
    ana_a.close().await.expect("close");
    let change = next_presence(&mut ben_b).await;
    assert_eq!((change.user_id, change.status), (ana.id(), Status::Offline));
    assert!(change.last_seen_at.is_some());
    assert_eq!(profile_on(b, &ben, ana.id()).await.presence, change);
    assert_quiet_for(&mut ben_b, QUIET).await;
    live.shutdown().await;
}

/// Typers on two nodes: every socket sees the whole set (without its own user) whichever
/// node it is on, and changes made on either node update it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typing_sets_list_typers_of_every_node() {
    let Some(live) = Live::start(2, false).await else { return };
    let [a, b] = [&live.nodes[0], &live.nodes[1]];
    let (ana, ben, cat) = (a.register("ana").await, a.register("ben").await, a.register("cat").await);
    let general = general_id(&ana).await;
    let (mut ana_a, mut ben_b, mut cat_a) = (a.connect(&ana).await, b.connect(&ben).await, a.connect(&cat).await);
    tokio::time::sleep(QUIET).await;
    for conn in [&mut ana_a, &mut ben_b, &mut cat_a] {
        while conn.next_event_timeout(Duration::from_millis(50)).await.expect("read").is_some() {}
    }
    let start = |channel_id| ClientEvent::TypingStart(ChannelRef { channel_id });

    ok(&mut ana_a, start(general)).await;
    assert_eq!(next_typing(&mut cat_a).await, (general, vec![ana.id()]));
    assert_eq!(next_typing(&mut ben_b).await, (general, vec![ana.id()]), "node A's typer reaches node B");
    ok(&mut ben_b, start(general)).await;
    assert_eq!(next_typing(&mut cat_a).await, (general, vec![ana.id(), ben.id()]), "node B knows node A's typer");
    assert_eq!(next_typing(&mut ana_a).await, (general, vec![ben.id()]));

    ok(&mut ana_a, ClientEvent::TypingStop(ChannelRef { channel_id: general })).await;
    assert_eq!(next_typing(&mut cat_a).await, (general, vec![ben.id()]), "node A mirrors node B's typer");
    assert_eq!(next_typing(&mut ben_b).await, (general, vec![]));
    within("send", ben_b.send_message(general, "sent from B", "b1")).await.expect("ack");
    for conn in [&mut cat_a, &mut ana_a] {
        assert_eq!(next_typing(conn).await, (general, vec![]));
        assert_eq!(next_message(conn).await.body, "sent from B");
    }
    live.shutdown().await;
}

/// Node A loses Redis (as if it died): once its leases expire, node B's sweep takes ana
/// offline, with `last_seen_at`, for ben on node B.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_node_s_users_go_offline_when_their_leases_expire() {
    let Some(live) = Live::start(2, true).await else { return };
    let [a, b] = [&live.nodes[0], &live.nodes[1]];
    let (ana, ben) = (a.register("ana").await, a.register("ben").await);
    let mut ben_b = b.connect(&ben).await;
    assert_quiet_for(&mut ben_b, QUIET).await;
    let _ana_a = a.connect(&ana).await;
    assert_eq!(next_presence(&mut ben_b).await.status, Status::Online);

    live.proxies[0].refuse(true);
    live.proxies[0].cut(Cut::All);
    let change = next_presence(&mut ben_b).await;
    assert_eq!((change.user_id, change.status), (ana.id(), Status::Offline), "swept by node B");
    assert!(change.last_seen_at.is_some());
    assert_eq!(profile_on(b, &ben, ana.id()).await.presence.status, Status::Offline);
    live.shutdown().await;
}
