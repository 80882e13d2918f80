//! `persist`: closed-loop senders, each posting into its own private channel and waiting for
//! its `ack` (sent after the commit) before the next send. Measures committed messages/s and
//! ack latency: the cost of the store's write path with fan-out kept to one receiver.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure};
use banter_client::proto::ws::ServerEvent;
use banter_client::proto::ChannelKind;
use clap::Args;
use tokio::time::Instant;
use uuid::Uuid;

use super::Ctx;
use crate::clock::{body, now_ns};
use crate::conn::Frame;
use crate::metrics::{round, LatencyRecorder, LatencyShard, Percentiles, Report};
use crate::net::Ws;
use crate::proc::Window;
use crate::setup;
use crate::wire::{classify, client_id, send_frame, Incoming};

/// Longest wait for one ack before a sender gives up.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// `persist` flags.
#[derive(Debug, Clone, Args)]
pub struct PersistArgs {
    /// Closed-loop senders, each with its own channel and connection.
    #[arg(long, default_value_t = 8)]
    pub senders: usize,
    /// Send window, seconds (at most 600).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
}

/// Runs `persist`.
pub async fn run(ctx: &Ctx, args: &PersistArgs) -> anyhow::Result<Report> {
    ensure!(args.senders >= 1, "need at least one sender");
    ensure!(args.seconds > 0.0 && args.seconds <= 600.0, "--seconds must be in (0, 600]");
    let common = &ctx.common;
    let users = setup::users(&ctx.client, &common.run, args.senders, common.setup_concurrency).await?;
    let prefix = setup::channel_name(&common.run, "persist");
    let channels = setup::bounded(users.len(), common.setup_concurrency, |i| {
        let name = format!("{prefix}-{i}");
        let (client, user) = (&ctx.client, &users[i]);
        async move { Ok(setup::create_channel(client, user, &name, ChannelKind::Private).await?.id) }
    })
    .await?;
    let conns = setup::connect_all(&ctx.dialer, &users, common.connect_concurrency).await?;
    let mut report = ctx.report("persist");
    report.param("senders", args.senders as u64).param("seconds", args.seconds);

    let window = Window::start(common.server_pid);
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    // One recorder for all senders, made before the window (a histogram each would be zeroed
    // as the senders start, 136 KiB apiece).
    let latency = Arc::new(LatencyRecorder::per_cpu());
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(channels)
        .enumerate()
        .map(|(i, ((ws, _), channel))| {
            let latency = latency.shard(i);
            tokio::spawn(closed_loop(ws, channel, end, common.body_bytes, latency))
        })
        .collect();
    let (mut acked, mut errors) = (0u64, Vec::new());
    for task in tasks {
        let out = task.await?;
        acked += out.acked;
        errors.extend(out.error);
    }
    let latency = latency.merged();
    let elapsed = window.elapsed().as_secs_f64();
    window.finish(&mut report, Some(("commit", acked)));
    report.result("acked", acked).result("acked_per_s", round(acked as f64 / elapsed.max(1e-9), 0));
    report.result("sender_errors", errors.len() as u64);
    if let Some(first) = errors.first() {
        report.result("first_error", first.clone());
    }
    Percentiles::of(&latency).add_to(&mut report, "ack_latency");
    Ok(report)
}

struct LoopOutcome {
    acked: u64,
    error: Option<String>,
}

/// Sends, waits for the matching ack, records its latency into `latency`, repeats until `end`.
async fn closed_loop(mut ws: Ws, channel: Uuid, end: Instant, body_bytes: usize, latency: LatencyShard) -> LoopOutcome {
    let mut out = LoopOutcome { acked: 0, error: None };
    while Instant::now() < end {
        let id = format!("p{}", out.acked);
        let sent = now_ns();
        let frame = send_frame(&id, channel, body(sent, body_bytes), client_id());
        let result = match ws.send_text(&frame).await {
            Ok(()) => tokio::time::timeout(ACK_TIMEOUT, wait_ack(&mut ws, &id))
                .await
                .unwrap_or_else(|_| bail!("no ack within {ACK_TIMEOUT:?}")),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            out.error = Some(format!("{e:#}"));
            break;
        }
        latency.record_us((now_ns() - sent).div_ceil(1000));
        out.acked += 1;
    }
    out
}

/// Reads frames until the `ack` echoing `id` (answering pings); an `error` for it or a close is
/// an error. Frames after the ack stay buffered for the next call.
async fn wait_ack(ws: &mut Ws, id: &str) -> anyhow::Result<()> {
    loop {
        let mut pong = None;
        while let Some(frame) = ws.next_frame()? {
            match frame {
                Frame::Text(text) => {
                    if let Incoming::Event(Some(got), event) = classify(text) {
                        match *event {
                            ServerEvent::Ack(_) if got == id => return Ok(()),
                            ServerEvent::Error(e) if got == id => bail!("error {}: {}", e.code, e.message),
                            _ => {}
                        }
                    }
                }
                Frame::Ping(payload) => pong = Some(payload.to_vec()),
                Frame::Close(code) => bail!("connection closed while waiting for an ack ({code:?})"),
                Frame::Binary(_) | Frame::Pong => {}
            }
        }
        if let Some(payload) = pong {
            ws.send_pong(&payload).await?;
        }
        if ws.read().await? == 0 {
            bail!("connection closed while waiting for an ack");
        }
    }
}
