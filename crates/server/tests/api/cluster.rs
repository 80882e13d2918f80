//! Several nodes on one PostgreSQL database and one Redis, in this process: cross-node chat
//! arrives once and in `seq` order, revocation and membership changes reach every node, and
//! (in [`failover`]) clients lose nothing when a node or Redis goes away.
//!
//! # Layout
//! - [`harness`]: `Cluster` (nodes, per-test Redis prefix, optional proxies), `chatter`.
//! - [`proxy`]: a TCP proxy per node, to take Redis away from one node or all of them.
//! - [`failover`]: node loss, Redis outage, a node losing its subscription or publisher.
//! - [`live`]: presence and typing across nodes; a lost node's users go offline.

mod failover;
mod harness;
mod live;
mod proxy;

use std::time::{Duration, Instant};

use banter_client::proto::rest::CreateChannelRequest;
use banter_client::proto::ws::ServerEvent;
use banter_client::proto::ChannelKind;

use self::harness::{stats, Cluster};
use crate::helpers::{expect_closed, general_id, next_event, next_message, post, within, TestUser};

/// Senders per user, messages per sender.
const LANES: usize = 2;
const PER_LANE: usize = 30;

/// Three users each listening on all three nodes (nine sockets) while each posts through its
/// own node from two tasks at once: `seq` is gap-free, and every socket gets every message
/// exactly once, in `seq` order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_across_three_nodes_arrives_once_in_seq_order() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let mut users: Vec<TestUser> = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        users.push(node.register(&format!("user{i}")).await);
    }
    let general = general_id(&users[0]).await;
    let mut sockets = Vec::new();
    for node in &cluster.nodes {
        for user in &users {
            sockets.push(node.connect(user).await);
        }
    }

    let mut senders = Vec::new();
    for user in &users {
        for lane in 0..LANES {
            let client = user.client.clone();
            senders.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for k in 0..PER_LANE {
                    let req = crate::helpers::send_req(general, &format!("lane {lane} msg {k}"));
                    seqs.push(client.send_message(&req).await.expect("send").0.seq);
                }
                seqs
            }));
        }
    }
    let mut committed = Vec::new();
    for sender in senders {
        let seqs = tokio::time::timeout(Duration::from_secs(60), sender).await.expect("senders finish in time");
        committed.extend(seqs.expect("sender"));
    }
    let total = (users.len() * LANES * PER_LANE) as i64;
    committed.sort_unstable();
    assert_eq!(committed, (1..=total).collect::<Vec<_>>(), "seq is gap-free across nodes");

    for (i, socket) in sockets.iter_mut().enumerate() {
        let mut seqs = Vec::new();
        while seqs.len() < total as usize {
            seqs.push(next_message(socket).await.seq);
        }
        assert_eq!(seqs, (1..=total).collect::<Vec<_>>(), "socket {i}: each message once, in order");
    }
    for node in &cluster.nodes {
        let relay = node.hub.relay().expect("relay");
        relay.check_invariants();
        assert_eq!((stats(node).resyncs, stats(node).lost), (0, 0), "no gap was skipped, nothing lost");
    }
    cluster.shutdown().await;
}

/// Logging out on node A closes that session's sockets on nodes B and C with 4001; another
/// session of the same user stays open; joins and leaves reach sockets on other nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_joins_and_leaves_reach_every_node() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    let ana = a.register("ana").await;
    let (mut on_b, mut on_c) = (b.connect(&ana).await, c.connect(&ana).await);
    let (other, _) = within("login", c.client().login("ana", crate::helpers::PASSWORD)).await.expect("login");
    let mut other_on_c = c.connect_token(other.token().expect("token")).await.expect("connects");

    let rust = CreateChannelRequest { name: "rust".into(), kind: ChannelKind::Public, topic: None };
    let rust = within("create", ana.client.create_channel(&rust)).await.expect("create on node A");
    for conn in [&mut on_b, &mut on_c, &mut other_on_c] {
        match next_event(conn).await {
            (None, ServerEvent::ChannelJoined(channel)) => assert_eq!(channel.id, rust.id),
            other => panic!("expected channel:joined, got {other:?}"),
        }
    }
    let sent = post(&ana, rust.id, "subscribed everywhere").await;
    within("leave", ana.client.leave(rust.id)).await.expect("leave on node A");
    for conn in [&mut on_b, &mut on_c, &mut other_on_c] {
        assert_eq!(next_message(conn).await, sent, "the remote join subscribed the socket");
        assert!(matches!(next_event(conn).await, (None, ServerEvent::ChannelLeft(l)) if l.channel_id == rust.id));
    }

    within("logout", ana.client.logout()).await.expect("logout on node A");
    assert_eq!(expect_closed(&mut on_c).await, (4001, "session_revoked".to_owned()));
    assert_eq!(expect_closed(&mut on_b).await, (4001, "session_revoked".to_owned()));
    within("ping", other_on_c.ping()).await.expect("the other session stays open");
    let refused = c.connect_token(&ana.token).await;
    crate::helpers::assert_api_error(refused, 401, "unauthorized");
    cluster.shutdown().await;
}

/// Measures send → receive time for the sender's node and for another node (printed; the
/// bound is loose because CI machines are small and busy).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_node_delivery_is_fast() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let (ana, ben) = (cluster.nodes[0].register("ana").await, cluster.nodes[1].register("ben").await);
    let general = general_id(&ana).await;
    let mut sender = cluster.nodes[0].connect(&ana).await;
    let (mut local, mut remote) = (cluster.nodes[0].connect(&ben).await, cluster.nodes[1].connect(&ben).await);
    post(&ana, general, "warm-up").await;
    next_message(&mut local).await;
    next_message(&mut remote).await;

    let (mut local_ms, mut remote_ms) = (Vec::new(), Vec::new());
    for k in 0..200 {
        let start = Instant::now();
        let ack = within("send", sender.send_message(general, &format!("ping {k}"), &format!("k{k}"))).await;
        let seq = ack.expect("ack").seq;
        assert_eq!(next_message(&mut local).await.seq, seq);
        local_ms.push(start.elapsed());
        assert_eq!(next_message(&mut remote).await.seq, seq);
        remote_ms.push(start.elapsed());
    }
    let (local, remote) = (percentiles(&mut local_ms), percentiles(&mut remote_ms));
    eprintln!(
        "send -> receive, same node: p50 {:?} p99 {:?}; other node: p50 {:?} p99 {:?}",
        local.0, local.1, remote.0, remote.1
    );
    assert!(remote.0 < Duration::from_millis(100), "cross-node p50 {:?}", remote.0);
    cluster.shutdown().await;
}

/// (p50, p99).
fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort_unstable();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// A malformed Redis URL stops start-up; an unreachable Redis does not: the node serves its
/// own sockets, reports `degraded`/`down`, and joins the event stream once Redis appears,
/// closing the sockets it had with 1012 `resync` so they resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_starts_without_redis_and_joins_when_it_appears() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = banter_server::Config::for_tests(dir.path());
    config.redis_url = Some("http://not-redis".into());
    let built = banter_server::Application::build(config).await;
    assert!(matches!(built, Err(banter_server::StartupError::Redis(_))), "a bad URL is refused");

    let Some(redis) = harness::redis_url().await else { return };
    let proxy = proxy::Proxy::start(harness::redis_addr(&redis)).await;
    proxy.refuse(true);
    let url = proxy.url();
    let app = crate::helpers::TestApp::spawn_with(|c| c.redis_url = Some(url)).await;
    assert_eq!(harness::health(&app).await, ("degraded".to_owned(), "down".to_owned()));
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    let mut conn = app.connect(&ana).await;
    let sent = post(&ana, general, "local delivery without Redis").await;
    assert_eq!(next_message(&mut conn).await, sent);

    proxy.refuse(false);
    harness::wait_for_redis(&app, "ok").await;
    assert_eq!(expect_closed(&mut conn).await, (1012, "resync".to_owned()));
    assert_eq!(harness::health(&app).await.0, "ok");
}
