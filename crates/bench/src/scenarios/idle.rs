//! `idle`: N authenticated connections opened (bounded concurrency) and held open for T
//! seconds. Reports connect time and the server's resident memory per connection
//! ((RSS with the connections − RSS before them) / N), plus its CPU while they idle.

use std::time::{Duration, Instant};

use anyhow::ensure;
use clap::Args;

use super::Ctx;
use crate::metrics::{latency_histogram, round, LatencyRecorder, Percentiles, Report};
use crate::peer::{receive, Shared};
use crate::proc::{sample, self_cpu, Window};
use crate::setup;

/// `idle` flags.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Connections to hold open (N).
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Distinct users; connection i signs in as user i mod U (default: one user per connection).
    #[arg(long)]
    pub users: Option<usize>,
    /// How long to hold the connections open, seconds (at most 600).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
}

/// Runs `idle`.
pub async fn run(ctx: &Ctx, args: &IdleArgs) -> anyhow::Result<Report> {
    let n = args.connections;
    let user_count = args.users.unwrap_or(n).clamp(1, n.max(1));
    ensure!(n >= 1, "need at least one connection");
    ensure!(args.seconds > 0.0 && args.seconds <= 600.0, "--seconds must be in (0, 600]");
    let common = &ctx.common;
    let users = setup::users(&ctx.client, &common.run, user_count, common.setup_concurrency).await?;
    let mut report = ctx.report("idle");
    report.param("connections", n as u64).param("users", user_count as u64).param("seconds", args.seconds);

    let rss_before = common.server_pid.and_then(|p| sample(p).ok()).map(|s| s.rss_kib);
    let bench_rss_before = self_cpu().rss_kib;
    let started = Instant::now();
    let attempts = setup::bounded(n, common.connect_concurrency, |i| {
        let (dialer, token) = (&ctx.dialer, &users[i % users.len()].token);
        async move {
            let t = Instant::now();
            let result = tokio::time::timeout(Duration::from_secs(10), dialer.connect(token)).await;
            Ok((t.elapsed(), result))
        }
    })
    .await?;
    let connect_wall = started.elapsed().as_secs_f64();

    let shared = Shared::new(LatencyRecorder::new(1));
    let mut connect_us = latency_histogram();
    let (mut errors, mut receivers) = (Vec::new(), Vec::new());
    for (i, (took, result)) in attempts.into_iter().enumerate() {
        match result {
            Ok(Ok((ws, _ready))) => {
                connect_us.saturating_record(took.as_micros() as u64);
                receivers.push(tokio::spawn(receive(ws, None, Vec::new(), shared.clone(), i, false)));
            }
            Ok(Err(e)) => errors.push(format!("{e:#}")),
            Err(_) => errors.push("connect timed out after 10 s".into()),
        }
    }
    let open = receivers.len() as u64;
    report.result("connected", open).result("connect_errors", errors.len() as u64);
    if let Some(first) = errors.first() {
        report.result("first_connect_error", first.clone());
    }
    report.result("connect_wall_s", round(connect_wall, 3));
    report.result("connects_per_s", round(open as f64 / connect_wall.max(1e-9), 0));
    Percentiles::of(&connect_us).add_to(&mut report, "connect");

    let window = Window::start(common.server_pid);
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let rss_after = common.server_pid.and_then(|p| sample(p).ok()).map(|s| s.rss_kib);
    window.finish(&mut report, None);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        report.result("server_rss_before_connects_kib", before);
        report.result("server_rss_per_conn_kib", round(after.saturating_sub(before) as f64 / open.max(1) as f64, 2));
    }
    let bench_rss = self_cpu().rss_kib.saturating_sub(bench_rss_before);
    report.result("bench_rss_per_conn_kib", round(bench_rss as f64 / open.max(1) as f64, 2));

    shared.stop.cancel();
    let mut closed_early = 0u64;
    for task in receivers {
        closed_early += u64::from(task.await?.closed.is_some());
    }
    report.result("closed_by_server_during_hold", closed_early);
    Ok(report)
}
