//! `rooms`: C users in private channels of K members each (the first member creates the
//! room and invites the others), every user sending at a low rate (default 1 msg/s) with a
//! random phase. Measures end-to-end latency at a realistic chat load.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::ensure;
use banter_client::proto::ChannelKind;
use clap::Args;
use rand::{Rng, SeedableRng};

use super::traffic::{self, Plan, SenderPlan};
use super::Ctx;
use crate::metrics::Report;
use crate::setup;

/// `rooms` flags.
#[derive(Debug, Clone, Args)]
pub struct RoomsArgs {
    /// Users (C), each with one connection, in ceil(C/K) rooms.
    #[arg(long, default_value_t = 2000)]
    pub users: usize,
    /// Members per room (K).
    #[arg(long, default_value_t = 5)]
    pub room_size: usize,
    /// Messages per second per user.
    #[arg(long, default_value_t = 1.0)]
    pub rate_per_user: f64,
    /// Send window T, seconds (at most 600).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Longest wait after the last send for outstanding deliveries, seconds (at most 60).
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
}

/// Runs `rooms`.
pub async fn run(ctx: &Ctx, args: &RoomsArgs) -> anyhow::Result<Report> {
    ensure!(args.users >= 1 && args.room_size >= 1, "need at least one user and rooms of at least one");
    ensure!(args.rate_per_user > 0.0 && args.rate_per_user <= 1000.0, "--rate-per-user must be in (0, 1000]");
    ensure!(args.seconds > 0.0 && args.seconds <= 600.0, "--seconds must be in (0, 600]");
    ensure!((0.0..=60.0).contains(&args.drain), "--drain must be in [0, 60]");
    let common = &ctx.common;
    let users = setup::users(&ctx.client, &common.run, args.users, common.setup_concurrency).await?;
    let groups: Vec<&[setup::BenchUser]> = users.chunks(args.room_size).collect();
    let prefix = setup::channel_name(&common.run, "rooms");
    let started = std::time::Instant::now();
    let rooms = setup::bounded(groups.len(), common.setup_concurrency, |r| {
        let (client, group, name) = (&ctx.client, groups[r], format!("{prefix}-{r}"));
        async move {
            let room = setup::create_channel(client, &group[0], &name, ChannelKind::Private).await?;
            setup::invite_all(client, &group[0], &group[1..], room.id, group.len()).await?;
            Ok(room.id)
        }
    })
    .await?;
    eprintln!("setup: {} rooms created in {:.2} s", rooms.len(), started.elapsed().as_secs_f64());
    let conns = setup::connect_all(&ctx.dialer, &users, common.connect_concurrency).await?;

    let mut report = ctx.report("rooms");
    report.param("users", args.users as u64).param("room_size", args.room_size as u64);
    report.param("rooms", rooms.len() as u64).param("rate_per_user_per_s", args.rate_per_user);
    report.param("aggregate_rate_per_s", args.rate_per_user * args.users as f64);
    report.param("seconds", args.seconds).param("drain_s", args.drain);

    let room_of = |i: usize| rooms[i / args.room_size];
    let interval = Duration::from_secs_f64(1.0 / args.rate_per_user);
    let mut rng = rand::rngs::StdRng::seed_from_u64(common.seed);
    let senders = (0..users.len())
        .map(|i| SenderPlan { conn: i, channel: room_of(i), interval, phase: interval.mul_f64(rng.gen::<f64>()) })
        .collect();
    let audience = groups.iter().zip(&rooms).map(|(g, room)| (*room, g.len() as u64)).collect::<HashMap<_, _>>();
    let plan = Plan {
        tracks: (0..users.len()).map(room_of).collect(),
        conns,
        senders,
        audience,
        seconds: Duration::from_secs_f64(args.seconds),
        drain: Duration::from_secs_f64(args.drain),
        body_bytes: common.body_bytes,
        server_pid: common.server_pid,
        receipts: !common.no_receipts,
    };
    traffic::run(plan, &mut report).await;
    Ok(report)
}
