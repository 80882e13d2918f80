//! `fanout`: C members in one public channel, the first S of them paced senders at an
//! aggregate open-loop rate λ for T seconds, then a drain. Every member (senders included)
//! receives every message, so λ·C deliveries per second are offered.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::ensure;
use banter_client::proto::ChannelKind;
use clap::Args;

use super::traffic::{self, Plan, SenderPlan, Summary};
use super::Ctx;
use crate::metrics::Report;
use crate::setup::{self, BenchUser};

/// `fanout` flags.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Members of the channel (C), each with one connection.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Senders (S), the first S members; each sends at λ/S.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Aggregate send rate λ, messages per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Send window T, seconds (at most 600).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Longest wait after the last send for outstanding deliveries, seconds (at most 60).
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
}

impl FanoutArgs {
    /// Checks the flags are in range.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(self.members >= 1 && self.senders >= 1, "need at least one member and one sender");
        ensure!(self.senders <= self.members, "senders are members: --senders must be <= --members");
        ensure!(self.rate > 0.0 && self.rate <= 1_000_000.0, "--rate must be in (0, 1e6]");
        ensure!(self.seconds > 0.0 && self.seconds <= 600.0, "--seconds must be in (0, 600]");
        ensure!((0.0..=60.0).contains(&self.drain), "--drain must be in [0, 60]");
        Ok(())
    }

    fn params(&self, report: &mut Report) {
        report.param("members", self.members as u64).param("senders", self.senders as u64);
        report.param("rate_per_s", self.rate).param("seconds", self.seconds).param("drain_s", self.drain);
        report.param("offered_deliveries_per_s", self.rate * self.members as f64);
    }
}

/// Runs `fanout`: sets up C users, then one [`step`].
pub async fn run(ctx: &Ctx, args: &FanoutArgs) -> anyhow::Result<Report> {
    args.check()?;
    let users = setup::users(&ctx.client, &ctx.common.run, args.members, ctx.common.setup_concurrency).await?;
    let mut report = ctx.report("fanout");
    step(ctx, &users, args, &mut report).await?;
    Ok(report)
}

/// One fan-out measurement with existing `users` (at least `args.members`): a fresh public
/// channel they all join, one connection each, the traffic, and the accounting in `report`.
pub async fn step(ctx: &Ctx, users: &[BenchUser], args: &FanoutArgs, report: &mut Report) -> anyhow::Result<Summary> {
    args.check()?;
    let users = &users[..args.members];
    let concurrency = ctx.common.setup_concurrency;
    let channel = setup::create_channel(
        &ctx.client,
        &users[0],
        &setup::channel_name(&ctx.common.run, "fanout"),
        ChannelKind::Public,
    )
    .await?;
    setup::join_all(&ctx.client, &users[1..], channel.id, concurrency).await?;
    let conns = setup::connect_all(&ctx.dialer, users, ctx.common.connect_concurrency).await?;
    args.params(report);
    let interval = Duration::from_secs_f64(args.senders as f64 / args.rate);
    let senders = (0..args.senders)
        .map(|i| SenderPlan {
            conn: i,
            channel: channel.id,
            interval,
            phase: Duration::from_secs_f64(i as f64 / args.rate),
        })
        .collect();
    let plan = Plan {
        tracks: vec![channel.id; conns.len()],
        conns,
        senders,
        audience: HashMap::from([(channel.id, args.members as u64)]),
        seconds: Duration::from_secs_f64(args.seconds),
        drain: Duration::from_secs_f64(args.drain),
        body_bytes: ctx.common.body_bytes,
        server_pid: ctx.common.server_pid,
        receipts: !ctx.common.no_receipts,
    };
    Ok(traffic::run(plan, report).await)
}
