//! `storm`: N clients connect and authenticate at the same instant (no concurrency bound):
//! the WebSocket upgrade is authenticated by the session token, and with `--login` each
//! client first logs in (Argon2 on the server). Reports connects/s, latency and errors.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use clap::Args;
use tokio::time::Instant;

use super::Ctx;
use crate::metrics::{latency_histogram, round, Percentiles, Report};
use crate::proc::Window;
use crate::setup::{self, PASSWORD};

/// `storm` flags.
#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    /// Clients connecting at once (N), one user each.
    #[arg(long, default_value_t = 2000)]
    pub clients: usize,
    /// Each client logs in (POST /api/auth/login) before connecting, inside the storm.
    #[arg(long)]
    pub login: bool,
    /// Longest a single client may take, seconds (at most 120).
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
}

/// Runs `storm`.
pub async fn run(ctx: &Ctx, args: &StormArgs) -> anyhow::Result<Report> {
    ensure!(args.clients >= 1, "need at least one client");
    ensure!(args.timeout > 0.0 && args.timeout <= 120.0, "--timeout must be in (0, 120]");
    let common = &ctx.common;
    let users = setup::users(&ctx.client, &common.run, args.clients, common.setup_concurrency).await?;
    let mut report = ctx.report("storm");
    report.param("clients", args.clients as u64).param("login", args.login).param("timeout_s", args.timeout);

    let window = Window::start(common.server_pid);
    let start = Instant::now() + Duration::from_millis(50);
    let limit = Duration::from_secs_f64(args.timeout);
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let (client, user, login) = (ctx.client.clone(), user.clone(), args.login);
            let dialer = &ctx.dialer;
            async move {
                tokio::time::sleep_until(start).await;
                let attempt = async {
                    let token = if login { client.login(&user.name, PASSWORD).await?.1.token } else { user.token };
                    dialer.connect(&token).await.map(|(ws, _)| ws)
                };
                let result = tokio::time::timeout(limit, attempt).await;
                (start.elapsed(), result)
            }
        })
        .collect();
    let results = futures_util::future::join_all(tasks).await;
    let wall = start.elapsed().as_secs_f64();
    window.finish(&mut report, None);

    let mut latency = latency_histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut open = Vec::new();
    for (took, result) in results {
        match result {
            Ok(Ok(ws)) => {
                latency.saturating_record(took.as_micros() as u64);
                open.push(ws);
            }
            Ok(Err(e)) => *errors.entry(short(&format!("{e:#}"))).or_default() += 1,
            Err(_) => *errors.entry("timed out".into()).or_default() += 1,
        }
    }
    let last_ok_s = latency.max() as f64 / 1e6;
    report.result("connected", open.len() as u64).result("errors", errors.values().sum::<u64>());
    if !errors.is_empty() {
        report.result("error_kinds", format!("{errors:?}"));
    }
    report.result("storm_wall_s", round(wall, 3));
    report.result("connects_per_s", round(open.len() as f64 / last_ok_s.max(1e-9), 0));
    Percentiles::of(&latency).add_to(&mut report, "connect");
    drop(open);
    Ok(report)
}

/// The first line of an error chain, at most 100 chars, to group errors by kind.
fn short(error: &str) -> String {
    error.lines().next().unwrap_or("").chars().take(100).collect()
}
