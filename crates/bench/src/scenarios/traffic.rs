//! The engine behind `fanout`, `rooms` and `ramp`: open-loop paced senders on some
//! connections, receivers on all of them, a bounded send window and a drain, then the
//! accounting (expected, delivered, lost, duplicated) and latency percentiles.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use banter_proto::ws::Ready;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::clock::{body, now_ns};
use crate::metrics::{round, LatencyRecorder, LatencyShard, Percentiles, Report};
use crate::net::{head_seq, Ws};
use crate::peer::{receive, stamped_id, Shared, OUTGOING_FRAMES};
use crate::proc::Window;
use crate::wire::{client_id, send_frame};

/// One paced sender.
#[derive(Debug, Clone)]
pub struct SenderPlan {
    /// Index of the connection it sends on.
    pub conn: usize,
    /// Channel it posts in.
    pub channel: Uuid,
    /// Time between two of its sends.
    pub interval: Duration,
    /// Delay of its first send after the window starts (spreads senders over an interval).
    pub phase: Duration,
}

/// A traffic run over already-open connections.
pub struct Plan {
    /// Open sessions, one per user, with their `ready` frames.
    pub conns: Vec<(Ws, Ready)>,
    /// The channel each connection accounts deliveries for (same index as `conns`).
    pub tracks: Vec<Uuid>,
    /// The senders.
    pub senders: Vec<SenderPlan>,
    /// Receivers per channel: each message sent there is expected this many times.
    pub audience: HashMap<Uuid, u64>,
    /// Length of the send window.
    pub seconds: Duration,
    /// Longest wait after the last send for outstanding deliveries.
    pub drain: Duration,
    /// Body size in bytes.
    pub body_bytes: usize,
    /// Server pid for CPU/RSS sampling.
    pub server_pid: Option<u32>,
    /// Receivers report `receipt:delivered` (coalesced, at most every 250 ms).
    pub receipts: bool,
}

/// The headline numbers of a traffic run (all of them are also in the report).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Messages written to the sockets.
    pub sent: u64,
    /// Deliveries expected: each sent message times its channel's receivers.
    pub expected: u64,
    /// Distinct deliveries received.
    pub delivered: u64,
    /// Expected but never received (within the drain).
    pub lost: u64,
    /// Received more than once.
    pub duplicated: u64,
    /// End-to-end latency percentiles.
    pub latency: Percentiles,
}

/// Runs `plan`, adding its results to `report`.
pub async fn run(plan: Plan, report: &mut Report) -> Summary {
    report.param("receipts", plan.receipts);
    let shared = Shared::new(LatencyRecorder::per_cpu());
    // One hand-over channel per connection that has senders.
    let mut outgoing: HashMap<usize, mpsc::Sender<String>> = HashMap::new();
    let mut receivers = Vec::with_capacity(plan.conns.len());
    for (i, ((ws, ready), channel)) in plan.conns.into_iter().zip(&plan.tracks).enumerate() {
        let tracked = vec![(*channel, head_seq(&ready, *channel))];
        let rx = plan.senders.iter().any(|s| s.conn == i).then(|| {
            let (tx, rx) = mpsc::channel(OUTGOING_FRAMES);
            outgoing.insert(i, tx);
            rx
        });
        receivers.push(tokio::spawn(receive(ws, rx, tracked, shared.clone(), i, plan.receipts)));
    }
    let window = Window::start(plan.server_pid);
    let start = Instant::now() + Duration::from_millis(20);
    let start_ns = now_ns() + 20_000_000;
    let end = start + plan.seconds;
    let mut senders = Vec::with_capacity(plan.senders.len());
    // One recorder for every sender's lag: a histogram per sender (136 KiB of counters each)
    // had 2,000 senders zero 272 MB as they first ran, stalling the bench for ~200 ms at the
    // start of the window.
    let lag = Arc::new(LatencyRecorder::per_cpu());
    for (n, s) in plan.senders.iter().enumerate() {
        let tx = outgoing[&s.conn].clone();
        let audience = plan.audience.get(&s.channel).copied().unwrap_or(0);
        let lag = lag.shard(n);
        senders.push(tokio::spawn(send_loop(tx, s.clone(), start, end, plan.body_bytes, audience, lag)));
    }
    drop(outgoing);
    let (mut sent, mut expected, mut send_errors) = (0, 0, 0);
    for task in senders {
        let out = task.await.expect("sender task");
        sent += out.sent;
        expected += out.sent * out.audience;
        send_errors += out.errors;
    }
    let drain_end = Instant::now() + plan.drain;
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered_in_window = shared.delivered.load(Ordering::Relaxed);
    window.finish(report, Some(("delivery", delivered_in_window)));
    shared.stop.cancel();
    let (mut delivered, mut duplicated, mut last_ns, mut closed) = (0, 0, start_ns, HashMap::<u16, u64>::new());
    for task in receivers {
        let out = task.await.expect("receiver task");
        delivered += out.unique();
        duplicated += out.duplicates();
        last_ns = last_ns.max(out.last_delivery_ns);
        if let Some(code) = out.closed {
            *closed.entry(code).or_default() += 1;
        }
    }
    let latency = Percentiles::of(&shared.latency.merged());
    let span_s = (last_ns.saturating_sub(start_ns)) as f64 / 1e9;
    let lost = expected.saturating_sub(delivered);
    report.result("sent", sent).result("send_errors", send_errors);
    let acks = shared.acks.load(Ordering::Relaxed);
    report.result("acks", acks);
    // Sent but not acknowledged when the drain ended: still queued in the server (overload),
    // which also shows up as `lost` below.
    report.result("unacked_at_end", sent.saturating_sub(acks));
    let server_cpu_s = ["server_cpu_user_s", "server_cpu_sys_s"].map(|k| report.get(k).and_then(|v| v.as_f64()));
    if let ([Some(user), Some(sys)], true) = (server_cpu_s, acks > 0) {
        // Commit plus fan-out of one message.
        report.result("server_cpu_us_per_message", round((user + sys) * 1e6 / acks as f64, 1));
    }
    report.result("error_frames", shared.errors.load(Ordering::Relaxed));
    report.result("receipts_sent", shared.receipts.load(Ordering::Relaxed));
    report.result("expected_deliveries", expected).result("delivered", delivered);
    report.result("lost", lost).result("duplicated", duplicated);
    report.result("deliveries_per_s", round(delivered as f64 / span_s.max(1e-9), 0));
    report.result("delivery_span_s", round(span_s, 3));
    report.result("server_closed_conns", closed.values().sum::<u64>());
    if !closed.is_empty() {
        report.result("server_close_codes", format!("{closed:?}"));
    }
    latency.add_to(report, "latency");
    // The sender's answer: queue, group commit and the hooks (the fan-out's direct writes too).
    Percentiles::of(&shared.ack_latency.merged()).add_to(report, "ack_latency");
    let lag = Percentiles::of(&lag.merged());
    report.result("send_lag_p99_ms", round(lag.p99_ms, 3)).result("send_lag_max_ms", round(lag.max_ms, 3));
    Summary { sent, expected, delivered, lost, duplicated, latency }
}

struct SendOutcome {
    sent: u64,
    errors: u64,
    audience: u64,
}

/// Sends on schedule `start + phase + k * interval` until `end`; each body carries the actual
/// send instant, and the lateness against the schedule is recorded separately.
async fn send_loop(
    tx: mpsc::Sender<String>,
    plan: SenderPlan,
    start: Instant,
    end: Instant,
    body_bytes: usize,
    audience: u64,
    lag: LatencyShard,
) -> SendOutcome {
    let (mut sent, mut errors) = (0u64, 0u64);
    let mut due = start + plan.phase;
    while due < end {
        tokio::time::sleep_until(due).await;
        let now = now_ns();
        let late_us = Instant::now().saturating_duration_since(due).as_micros() as u64;
        lag.record_us(late_us);
        let frame = send_frame(&stamped_id(now), plan.channel, body(now, body_bytes), client_id());
        if tx.send(frame).await.is_err() {
            errors += 1;
            break;
        }
        sent += 1;
        due += plan.interval;
    }
    SendOutcome { sent, errors, audience }
}
