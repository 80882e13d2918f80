//! The bridge's Redis connections. A node holds exactly TWO, whatever its number of sockets:
//! one multiplexed publisher connection, to which queued events go out in pipelined batches,
//! and ONE subscriber connection on `<prefix>:events` that feeds the local hub. Both
//! reconnect by themselves with capped, jittered exponential backoff; the node keeps serving
//! meanwhile (`/api/health` says `redis: "down"`).
//!
//! Client: the `redis` crate (redis-rs, tokio). Its `ConnectionManager` reconnects silently;
//! here each connection is a plain [`redis::aio::MultiplexedConnection`] or
//! [`redis::aio::PubSub`] with our own reconnect loop, because the bridge must know exactly
//! when events may have been lost (a failed batch, a dropped subscription) to make clients
//! resume. What happens then is described in [`super::bridge`] and `docs/operations.md`.
//!
//! # Key layout
//! Everything lives under the configured prefix (default `banter`): `<prefix>:events` is the
//! pub/sub channel of every hub event. Presence leases ([`super::leases`]) use the publisher
//! connection for commands: `<prefix>:presence:<user>` (hash node → status) and
//! `<prefix>:presence:leases` (sorted set `<user>/<node>` → expiry). Typing travels only as
//! envelopes (kind `typing`, [`super::ephemeral`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rand::Rng;
use redis::aio::{MultiplexedConnection, PubSub};
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::bridge::{Outgoing, Relay};
use super::Hub;

/// Longest wait for a connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for Redis to answer a batch or a ping; longer counts as a dead connection.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the subscriber pings, to notice a silently dead connection.
pub const PING_EVERY: Duration = Duration::from_secs(5);
/// Most events per pipelined batch.
pub const BATCH: usize = 256;
/// Reconnect backoff: attempt `n` waits a random time in `[0, min(MAX, BASE · 2ⁿ)]`.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often lanes are checked for expired gaps (only when no received event is waiting, so
/// a gap is never declared while its filler sits in this node's own queue), and how many
/// ticks between idle-lane evictions.
const TICK: Duration = Duration::from_millis(50);
const EVICT_EVERY_TICKS: u32 = 200;

/// A running bridge: the relay the hub uses and the tasks behind it.
pub struct Bridge {
    relay: Arc<Relay>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Attaches a relay for node `node` to `hub`, opens both connections (each attempt
    /// bounded by [`CONNECT_TIMEOUT`]) and starts the publisher and the subscriber on
    /// `<prefix>:events` (which also expires reorder gaps). When Redis cannot be reached, the
    /// node starts degraded and the tasks keep trying. Errors: `url` is not a Redis URL.
    pub async fn start(url: &str, prefix: &str, node: Uuid, hub: &Hub) -> Result<Bridge, RedisError> {
        let client = Client::open(url)?;
        let topic = format!("{prefix}:events");
        let (relay, queue) = Relay::new(node);
        hub.attach(relay.clone());
        let config = connection_config();
        let (publisher, subscription) = tokio::join!(
            client.get_multiplexed_async_connection_with_config(&config),
            tokio::time::timeout(CONNECT_TIMEOUT, open_subscription(&client, &topic)),
        );
        let (publisher, subscription) = (publisher.ok(), subscription.ok().and_then(Result::ok));
        if publisher.is_none() || subscription.is_none() {
            tracing::warn!("Redis is not reachable yet: serving this node's sockets only until it is");
        }
        // Report `ok` as soon as build returns (the tasks repeat this, harmlessly: no socket
        // is open before the server runs).
        relay.set_publishing(publisher.is_some());
        if subscription.is_some() {
            relay.on_subscribed(hub);
        }
        let stop = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(publish(client.clone(), topic.clone(), relay.clone(), queue, stop.clone(), publisher)),
            tokio::spawn(subscribe(client, topic, relay.clone(), hub.clone(), stop.clone(), subscription)),
        ];
        Ok(Bridge { relay, stop, tasks })
    }

    /// The relay (status, counters).
    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// Stops the tasks and closes both connections.
    pub async fn stop(mut self) {
        self.stop.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Bridge {
    /// A bridge dropped without [`Bridge::stop`] (an application never run) stops its tasks.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The publisher: drains the queue in pipelined batches over one multiplexed connection.
/// Events queued while disconnected, and a batch that failed, are recorded as lost and
/// announced with a `resync` envelope once connected again.
async fn publish(
    client: Client,
    topic: String,
    relay: Arc<Relay>,
    mut queue: mpsc::Receiver<Outgoing>,
    stop: CancellationToken,
    mut first: Option<MultiplexedConnection>,
) {
    let config = connection_config();
    let mut batch = Vec::with_capacity(BATCH);
    let mut attempt = 0u32;
    loop {
        let connected = match first.take() {
            Some(conn) => Ok(conn),
            None => tokio::select! {
                _ = stop.cancelled() => return,
                c = client.get_multiplexed_async_connection_with_config(&config) => c,
            },
        };
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(e) => {
                log_failure("publisher", attempt, &e);
                let pause = tokio::time::sleep(backoff(attempt));
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = &mut pause => break,
                        Some(out) = queue.recv() => relay.mark_lost(out.channel),
                    }
                }
                attempt += 1;
                continue;
            }
        };
        attempt = 0;
        relay.set_publishing(true);
        relay.set_commands(Some(conn.clone()));
        tracing::info!("Redis publisher connected");
        loop {
            if let Some(resync) = relay.take_lost() {
                if !send_batch(&mut conn, &topic, std::iter::once(&resync[..])).await {
                    relay.mark_lost(None);
                    break;
                }
            }
            batch.clear();
            let n = tokio::select! {
                _ = stop.cancelled() => return,
                n = queue.recv_many(&mut batch, BATCH) => n,
            };
            if n == 0 {
                return;
            }
            if send_batch(&mut conn, &topic, batch.iter().map(|o| &o.payload[..])).await {
                relay.count_published(n);
            } else {
                batch.drain(..).for_each(|out| relay.mark_lost(out.channel));
                break;
            }
        }
        relay.set_publishing(false);
        relay.set_commands(None);
        tracing::warn!("Redis publisher lost its connection; reconnecting");
    }
}

/// Publishes payloads as one pipeline; `false` when Redis failed or did not answer in time.
async fn send_batch<'a>(
    conn: &mut MultiplexedConnection,
    topic: &str,
    payloads: impl Iterator<Item = &'a [u8]>,
) -> bool {
    let mut pipe = redis::pipe();
    for payload in payloads {
        pipe.cmd("PUBLISH").arg(topic).arg(payload).ignore();
    }
    matches!(tokio::time::timeout(RESPONSE_TIMEOUT, pipe.exec_async(conn)).await, Ok(Ok(())))
}

/// The subscriber: ONE connection subscribed to `topic`, feeding `hub`; resubscribes with
/// backoff after any failure.
async fn subscribe(
    client: Client,
    topic: String,
    relay: Arc<Relay>,
    hub: Hub,
    stop: CancellationToken,
    mut first: Option<PubSub>,
) {
    let mut attempt = 0u32;
    loop {
        let subscribed = match first.take() {
            Some(pubsub) => Ok(Ok(pubsub)),
            None => tokio::select! {
                _ = stop.cancelled() => return,
                s = tokio::time::timeout(CONNECT_TIMEOUT, open_subscription(&client, &topic)) => s,
            },
        };
        match subscribed {
            Ok(Ok(pubsub)) => {
                relay.on_subscribed(&hub);
                tracing::info!(%topic, "Redis subscription live");
                let end = listen(pubsub, &relay, &hub, &stop).await;
                relay.on_unsubscribed(&hub);
                if stop.is_cancelled() {
                    return;
                }
                tracing::warn!(reason = end, "Redis subscription lost; delivering local events only until it is back");
                // Resubscribe at once: a blip should not wait for backoff.
                attempt = 0;
                continue;
            }
            Ok(Err(e)) => log_failure("subscriber", attempt, &e),
            Err(_) => log_failure("subscriber", attempt, &"connect timed out"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff(attempt)) => {}
        }
        attempt += 1;
    }
}

/// Timeouts for the publisher connection.
fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

async fn open_subscription(client: &Client, topic: &str) -> Result<PubSub, RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(topic).await?;
    Ok(pubsub)
}

/// Feeds received events to the relay until the connection ends, a ping goes unanswered, or
/// `stop`; returns why. Between events it expires reorder gaps every [`TICK`].
async fn listen(pubsub: PubSub, relay: &Relay, hub: &Hub, stop: &CancellationToken) -> &'static str {
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return "stopped",
            msg = stream.next() => match msg {
                Some(msg) => relay.receive(hub, Bytes::copy_from_slice(msg.get_payload_bytes())),
                None => return "connection closed",
            },
            _ = tick.tick() => {
                ticks = ticks.wrapping_add(1);
                relay.tick(hub, ticks.is_multiple_of(EVICT_EVERY_TICKS));
            }
            _ = ping.tick() => {
                let pong = tokio::time::timeout(RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return "ping unanswered";
                }
            }
        }
    }
}

/// Full-jitter exponential backoff for reconnect attempt `attempt` (0-based).
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << attempt.min(16)).min(BACKOFF_MAX);
    ceiling.mul_f64(rand::thread_rng().gen::<f64>())
}

/// Warns on the first failure of a streak and every 20th after it; the rest go to debug.
fn log_failure(what: &str, attempt: u32, error: &dyn std::fmt::Display) {
    if attempt.is_multiple_of(20) {
        tracing::warn!(attempt, error = %error, "Redis {what} cannot connect; retrying");
    } else {
        tracing::debug!(attempt, error = %error, "Redis {what} cannot connect; retrying");
    }
}
