//! [`Reliable`]: a gateway session that survives disconnects. It reconnects with exponential
//! backoff and full jitter, resumes every channel from the last `seq` it delivered (`sync`),
//! and keeps an outbox: sends made while offline, or whose `ack` was lost, go out again after
//! reconnecting with the SAME `client_id`, so the server stores them once.
//!
//! With several base URLs ([`Reliable::connect_any`], e.g. the nodes of a cluster), a failed
//! reconnect moves on to the next URL, so a client of a node that went away resumes on another.
//!
//! Messages come out exactly once and in `seq` order per channel: duplicates (a `seq` already
//! delivered) are dropped and early arrivals wait until the gap before them fills.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use banter_proto::ws::{Ack, ClientEvent, MessageSend, ServerEvent, SyncGap, SyncPosition};
use banter_proto::Message;
use uuid::Uuid;

use crate::backoff::Backoff;
use crate::error::{ClientError, Result};
use crate::gateway::{Connection, Incoming};
use crate::order::Order;

/// Close code after which reconnecting is pointless (the session was logged out).
const SESSION_REVOKED: u16 = 4001;

/// What [`Reliable::next_event`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReliableEvent {
    /// A committed message, exactly once, in `seq` order within its channel.
    Message(Message),
    /// Resume skipped older history (the gap was over the server's limit): page it with
    /// `GET /api/messages/:channelId?before=<before_seq>` if needed.
    Gap(SyncGap),
    /// A send from the outbox was committed (also after a retry whose first ack was lost).
    Acked(Ack),
    /// A send was refused for good (e.g. `invalid_body`, `not_a_member`) and left the outbox.
    Rejected {
        /// The send's idempotency key.
        client_id: String,
        /// The protocol's error code.
        code: String,
    },
    /// (Re)connected and caught up: every channel was resumed and the outbox re-sent.
    Connected {
        /// `false` for the first connection.
        resumed: bool,
    },
    /// Any other server event (`channel:joined`, `channel:left`, ...).
    Other(ServerEvent),
}

/// One queued send.
#[derive(Debug, Clone)]
struct Outgoing {
    client_id: String,
    channel_id: Uuid,
    body: String,
}

/// A self-healing gateway session; see the module docs.
#[derive(Debug)]
pub struct Reliable {
    /// Nodes to connect to; `base_urls[current]` is tried first.
    base_urls: Vec<String>,
    current: usize,
    token: String,
    backoff: Backoff,
    conn: Option<Connection>,
    connected_once: bool,
    /// Each channel's position and early arrivals.
    order: Order,
    /// Sends not yet acknowledged, oldest first.
    outbox: VecDeque<Outgoing>,
    /// Request id → `client_id` of sends on the current connection.
    in_flight: HashMap<String, String>,
    queue: VecDeque<ReliableEvent>,
}

impl Reliable {
    /// Connects to `base_url` with `token`. `positions` are where a previous run left off
    /// (each channel resumes after its `seq`); channels not listed start at their current head.
    /// Errors: the first connection's failure (e.g. 401).
    pub async fn connect(base_url: &str, token: &str, positions: HashMap<Uuid, i64>, backoff: Backoff) -> Result<Self> {
        Self::connect_any(&[base_url], token, positions, backoff).await
    }

    /// Like [`connect`](Self::connect) with a list of equivalent servers (nodes of one
    /// cluster): the first that answers is used, and each failed reconnect moves on to the
    /// next. Errors: every URL failed (the last error), or `base_urls` is empty.
    pub async fn connect_any(
        base_urls: &[&str],
        token: &str,
        positions: HashMap<Uuid, i64>,
        backoff: Backoff,
    ) -> Result<Self> {
        let mut this = Self {
            base_urls: base_urls.iter().map(|u| (*u).to_owned()).collect(),
            current: 0,
            token: token.to_owned(),
            backoff,
            conn: None,
            connected_once: false,
            order: Order::new(positions),
            outbox: VecDeque::new(),
            in_flight: HashMap::new(),
            queue: VecDeque::new(),
        };
        let mut outcome = Err(ClientError::InvalidUrl("no base URL given".into()));
        for _ in 0..this.base_urls.len() {
            outcome = this.establish().await;
            if outcome.is_ok() {
                break;
            }
            this.current = (this.current + 1) % this.base_urls.len();
        }
        outcome.map(|()| this)
    }

    /// The base URL of the current (or next) connection.
    pub fn base_url(&self) -> &str {
        &self.base_urls[self.current]
    }

    /// Queues a message for `channel_id` and sends it now if connected; returns its
    /// `client_id`. It leaves the outbox on [`ReliableEvent::Acked`] or
    /// [`ReliableEvent::Rejected`]; until then it is re-sent after every reconnect.
    pub async fn send(&mut self, channel_id: Uuid, body: &str) -> String {
        let out = Outgoing { client_id: Uuid::now_v7().to_string(), channel_id, body: body.to_owned() };
        let client_id = out.client_id.clone();
        self.outbox.push_back(out.clone());
        self.transmit(&out).await;
        client_id
    }

    /// Sends not yet acknowledged.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Highest `seq` delivered per channel: persist it to resume a later run from there.
    pub fn positions(&self) -> &HashMap<Uuid, i64> {
        self.order.positions()
    }

    /// Whether a connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Drops the connection abruptly, as a network failure would (tests, or a client that
    /// knows its network changed). The next [`next_event`](Self::next_event) reconnects.
    pub fn drop_connection(&mut self) {
        self.conn = None;
        self.in_flight.clear();
    }

    /// The next event, reconnecting as needed. Errors: the session was revoked (4001, as
    /// [`ClientError::Closed`]), or reconnecting gave up after `max_attempts`.
    pub async fn next_event(&mut self) -> Result<ReliableEvent> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(event);
            }
            let Some(conn) = self.conn.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            match conn.next_event().await {
                Ok(Incoming::Event { id, event }) => self.handle(id, event),
                Ok(Incoming::Closed { code, reason }) if code == SESSION_REVOKED => {
                    self.conn = None;
                    return Err(ClientError::Closed { code, reason });
                }
                Ok(Incoming::Closed { .. }) | Err(_) => self.drop_connection(),
            }
        }
    }

    /// Like [`next_event`](Self::next_event), `Ok(None)` after `timeout` without one.
    /// Cancelling it mid-reconnect is safe (the next call reconnects again).
    pub async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<ReliableEvent>> {
        match tokio::time::timeout(timeout, self.next_event()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    fn handle(&mut self, id: Option<String>, event: ServerEvent) {
        let client_id = id.and_then(|id| self.in_flight.remove(&id));
        match (event, client_id) {
            (ServerEvent::MessageReceive(m), _) => self.order.accept(m, deliver(&mut self.queue)),
            (ServerEvent::SyncMessages(batch), _) => {
                batch.messages.into_iter().for_each(|m| self.order.accept(m, deliver(&mut self.queue)))
            }
            (ServerEvent::SyncGap(gap), _) => {
                self.queue.push_back(ReliableEvent::Gap(gap));
                self.order.skip_to(gap.channel_id, gap.before_seq, deliver(&mut self.queue));
            }
            (ServerEvent::Ack(ack), Some(client_id)) => {
                self.outbox.retain(|o| o.client_id != client_id);
                self.queue.push_back(ReliableEvent::Acked(ack));
            }
            (ServerEvent::Error(e), Some(client_id)) if !retryable(&e.code) => {
                self.outbox.retain(|o| o.client_id != client_id);
                self.queue.push_back(ReliableEvent::Rejected { client_id, code: e.code });
            }
            (ServerEvent::Error(_), Some(_)) => {} // stays in the outbox for the next connection
            (ServerEvent::ChannelJoined(channel), _) => {
                self.order.start(channel.id, channel.head_seq);
                self.queue.push_back(ReliableEvent::Other(ServerEvent::ChannelJoined(channel)));
            }
            (other, _) => self.queue.push_back(ReliableEvent::Other(other)),
        }
    }

    /// Writes one send on the current connection, if any; a failed write drops it.
    async fn transmit(&mut self, out: &Outgoing) {
        let Some(conn) = self.conn.as_mut() else { return };
        let event = ClientEvent::MessageSend(MessageSend {
            channel_id: out.channel_id,
            body: out.body.clone(),
            client_id: out.client_id.clone(),
            reply_to: None,
        });
        match conn.send(&event).await {
            Ok(id) => {
                self.in_flight.insert(id, out.client_id.clone());
            }
            Err(_) => self.drop_connection(),
        }
    }

    /// Reconnects with backoff until it works or `max_attempts` is spent.
    async fn reconnect(&mut self) -> Result<()> {
        let mut attempt = 0;
        loop {
            tokio::time::sleep(self.backoff.delay(attempt)).await;
            match self.establish().await {
                Ok(()) => return Ok(()),
                Err(e) if e.status() == Some(401) => return Err(e),
                Err(e) if self.backoff.max_attempts.is_some_and(|max| attempt + 1 >= max) => return Err(e),
                Err(_) => {
                    attempt += 1;
                    self.current = (self.current + 1) % self.base_urls.len();
                }
            }
        }
    }

    /// Connects, resumes every channel from its position, and re-sends the outbox.
    async fn establish(&mut self) -> Result<()> {
        let mut conn = Connection::connect(&self.base_urls[self.current], &self.token).await?;
        let resumed = self.connected_once;
        for channel in &conn.ready().channels {
            // First connection: unknown channels start at their head. Later: a channel that
            // appeared while offline is replayed from the start (within the gap limit).
            self.order.start(channel.id, if resumed { 0 } else { channel.head_seq });
        }
        let positions = self
            .order
            .positions()
            .iter()
            .map(|(&channel_id, &after_seq)| SyncPosition { channel_id, after_seq })
            .collect();
        conn.sync(positions).await?;
        self.conn = Some(conn);
        self.connected_once = true;
        self.in_flight.clear();
        for out in self.outbox.clone() {
            self.transmit(&out).await;
        }
        self.queue.push_back(ReliableEvent::Connected { resumed });
        Ok(())
    }
}

/// Queues each message handed to it as a [`ReliableEvent::Message`].
fn deliver(queue: &mut VecDeque<ReliableEvent>) -> impl FnMut(Message) + '_ {
    |m| queue.push_back(ReliableEvent::Message(m))
}

/// Refusals worth retrying on the next connection.
fn retryable(code: &str) -> bool {
    matches!(code, "internal" | "rate_limited")
}
