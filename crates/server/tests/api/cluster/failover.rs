//! Failures during traffic, with [`banter_client::Reliable`] clients (reconnect, `sync`,
//! outbox): a node shut down, Redis gone for every node, one node losing only its subscriber
//! or only its publisher connection. In each case every client ends with every message
//! exactly once in `seq` order, and every send acknowledged.

use std::time::Duration;

use banter_client::Page;
use uuid::Uuid;

use super::harness::{chatter, health, reliable, stats, wait_for_redis, Cluster, Tally};
use super::proxy::Cut;
use crate::helpers::{general_id, within, TestUser};

/// Messages each client sends, and the pause between two.
const SENDS: usize = 40;
const PACE: Duration = Duration::from_millis(15);

/// Registers one user per node, in order.
async fn users(cluster: &Cluster) -> Vec<TestUser> {
    let mut users = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        users.push(node.register(&format!("user{i}")).await);
    }
    users
}

/// Starts one chatter per user, each connected to its own node first (then the next ones).
async fn start_chatters(
    cluster: &Cluster,
    users: &[TestUser],
    channel: Uuid,
) -> Vec<tokio::task::JoinHandle<(banter_client::Reliable, Tally)>> {
    let mut sessions = Vec::new();
    for (i, user) in users.iter().enumerate() {
        sessions.push(reliable(&cluster.urls_from(i), user).await);
    }
    let total = users.len() * SENDS;
    sessions.into_iter().map(|r| tokio::spawn(chatter(r, channel, SENDS, PACE, total))).collect()
}

/// Waits for every chatter and checks it saw all `chatters.len() × SENDS` messages once, in
/// order, with its sends acknowledged; returns the sessions and tallies.
async fn finish(
    chatters: Vec<tokio::task::JoinHandle<(banter_client::Reliable, Tally)>>,
) -> Vec<(banter_client::Reliable, Tally)> {
    let total = (chatters.len() * SENDS) as i64;
    let mut done = Vec::new();
    for (i, chatter) in chatters.into_iter().enumerate() {
        let (r, tally) =
            tokio::time::timeout(Duration::from_secs(90), chatter).await.expect("in time").expect("chatter");
        tally.assert_complete(&format!("client {i}"), total);
        eprintln!(
            "client {i}: {} messages, {} sends, resumed {} times",
            tally.seqs.len(),
            tally.sent.len(),
            tally.resumed
        );
        done.push((r, tally));
    }
    done
}

/// The channel's stored history holds each client id exactly once, `total` in all.
async fn assert_stored_once(user: &TestUser, channel: Uuid, total: usize) {
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let page = Page { before, after: None, limit: Some(100) };
        let page = within("history", user.client.messages(channel, page)).await.expect("history");
        ids.extend(page.messages.iter().map(|m| m.client_id.clone()));
        before = page.messages.first().map(|m| m.seq);
        if !page.has_more {
            break;
        }
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (total, total), "each send stored once");
}

fn log_stats(cluster: &Cluster) {
    for (i, node) in cluster.nodes.iter().enumerate() {
        eprintln!("node {i}: {:?}", stats(node));
    }
}

/// Node C shuts down mid-traffic: its client resumes on another node, nothing lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_node_s_clients_resume_on_another() {
    let Some(mut cluster) = Cluster::start(3).await else { return };
    let users = users(&cluster).await;
    let general = general_id(&users[0]).await;
    let chatters = start_chatters(&cluster, &users, general).await;
    tokio::time::sleep(PACE * 10).await;
    cluster.nodes[2].shutdown().await.expect("node C stops");

    let done = finish(chatters).await;
    assert!(done[2].1.resumed >= 1, "node C's client reconnected");
    assert_ne!(done[2].0.base_url(), cluster.nodes[2].base_url, "and is now on another node");
    assert_stored_once(&users[0], general, users.len() * SENDS).await;
    log_stats(&cluster);
    cluster.shutdown().await;
}

/// Redis disappears for every node mid-traffic (connections cut, new ones refused): health
/// says `degraded`/`down`, sends still commit; once Redis is back every node reconnects by
/// itself, closes its sockets with 1012 `resync`, and every client catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_during_traffic_loses_nothing_acknowledged() {
    let Some(cluster) = Cluster::start_proxied(3).await else { return };
    let users = users(&cluster).await;
    let general = general_id(&users[0]).await;
    let chatters = start_chatters(&cluster, &users, general).await;
    tokio::time::sleep(PACE * 8).await;
    for proxy in &cluster.proxies {
        proxy.refuse(true);
        proxy.cut(Cut::All);
    }
    wait_for_redis(&cluster.nodes[0], "down").await;
    assert_eq!(health(&cluster.nodes[0]).await.0, "degraded");
    tokio::time::sleep(PACE * 20).await;
    for proxy in &cluster.proxies {
        proxy.refuse(false);
    }
    for node in &cluster.nodes {
        wait_for_redis(node, "ok").await;
    }

    let done = finish(chatters).await;
    assert!(done.iter().any(|(_, t)| t.resumed >= 1), "clients were made to resume");
    assert!(cluster.nodes.iter().all(|n| stats(n).lost > 0 || stats(n).resyncs > 0));
    assert_stored_once(&users[0], general, users.len() * SENDS).await;
    log_stats(&cluster);
    cluster.shutdown().await;
}

/// Node B loses only its subscription (it resubscribes at once and makes its clients resume);
/// later node A loses only its publisher for a while (its events are lost to the others, and
/// it announces a `resync` once reconnected). Nothing is lost for any client.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_losing_its_subscriber_or_publisher_loses_nothing() {
    let Some(cluster) = Cluster::start_proxied(3).await else { return };
    let users = users(&cluster).await;
    let general = general_id(&users[0]).await;
    let chatters = start_chatters(&cluster, &users, general).await;
    tokio::time::sleep(PACE * 8).await;
    cluster.proxies[1].cut(Cut::Subscriber);
    tokio::time::sleep(PACE * 8).await;
    cluster.proxies[0].refuse(true);
    cluster.proxies[0].cut(Cut::Publisher);
    tokio::time::sleep(PACE * 10).await;
    cluster.proxies[0].refuse(false);
    wait_for_redis(&cluster.nodes[0], "ok").await;

    finish(chatters).await;
    assert!(stats(&cluster.nodes[0]).lost > 0, "node A lost publishes while cut off");
    assert!(stats(&cluster.nodes[2]).resyncs > 0, "node C made clients resume");
    assert_stored_once(&users[0], general, users.len() * SENDS).await;
    log_stats(&cluster);
    cluster.shutdown().await;
}
