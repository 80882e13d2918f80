//! `ramp`: `fanout` steps at rising λ (each on a fresh channel, same users) until a step
//! loses a message or its p99 exceeds the bound; then a few bisection steps between the last
//! pass and the first failure (or, when the first step already fails, a few halvings).
//! Reports the highest λ that passed.

use anyhow::ensure;
use clap::Args;
use serde_json::json;

use super::fanout::{self, FanoutArgs};
use super::Ctx;
use crate::hiccup;
use crate::metrics::{round, Report};
use crate::setup;

/// How many times λ is halved when even the first step fails.
const MAX_HALVINGS: u32 = 4;

/// `ramp` flags.
#[derive(Debug, Clone, Args)]
pub struct RampArgs {
    /// Members of the channel (C).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Senders (S).
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// First λ, messages per second.
    #[arg(long, default_value_t = 100.0)]
    pub start_rate: f64,
    /// Each step multiplies λ by this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Highest λ tried.
    #[arg(long, default_value_t = 20_000.0)]
    pub max_rate: f64,
    /// Bisection steps after the first failure.
    #[arg(long, default_value_t = 2)]
    pub refine: u32,
    /// Send window per step, seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Drain per step, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub drain: f64,
    /// A step passes with 0 lost, 0 duplicated and p99 at most this, ms.
    #[arg(long, default_value_t = 50.0)]
    pub p99_ms: f64,
}

/// Runs `ramp`.
pub async fn run(ctx: &Ctx, args: &RampArgs) -> anyhow::Result<Report> {
    ensure!(args.factor > 1.0, "--factor must be above 1");
    ensure!(args.start_rate > 0.0 && args.start_rate <= args.max_rate, "need 0 < --start-rate <= --max-rate");
    let common = &ctx.common;
    let users = setup::users(&ctx.client, &common.run, args.members, common.setup_concurrency).await?;
    let mut report = ctx.report("ramp");
    report.param("members", args.members as u64).param("senders", args.senders as u64);
    report
        .param("start_rate_per_s", args.start_rate)
        .param("factor", args.factor)
        .param("max_rate_per_s", args.max_rate);
    report.param("seconds_per_step", args.seconds).param("drain_s", args.drain).param("p99_bound_ms", args.p99_ms);
    report.param("receipts", !ctx.common.no_receipts);

    let (mut best, mut failed, mut steps) = (None::<f64>, None::<f64>, Vec::new());
    let mut rate = args.start_rate;
    let (mut refinements, mut halvings) = (0, 0);
    loop {
        let step = FanoutArgs {
            members: args.members,
            senders: args.senders,
            rate: rate.round().max(1.0),
            seconds: args.seconds,
            drain: args.drain,
        };
        let mut step_report = ctx.report("ramp-step");
        let s = fanout::step(ctx, &users, &step, &mut step_report).await?;
        let pass = s.lost == 0 && s.duplicated == 0 && s.latency.p99_ms <= args.p99_ms;
        let cpu = step_report.get("server_cpu_us_per_delivery").cloned().unwrap_or_default();
        let bench_cpu = step_report.get("bench_cpu_pct_of_one_core").cloned().unwrap_or_default();
        // A step that failed on p99 within the hiccup max may have failed on the machine.
        let [hiccup_p99, hiccup_p999, hiccup_max] =
            hiccup::REPORT_KEYS.map(|k| step_report.get(k).cloned().unwrap_or_default());
        eprintln!(
            "ramp: λ={:>7} delivered={:>9} lost={:>8} p99={:>9.3} ms server_cpu_us/delivery={cpu} bench_cpu%={bench_cpu} hiccup_max={hiccup_max} ms -> {}",
            step.rate,
            s.delivered,
            s.lost,
            s.latency.p99_ms,
            if pass { "pass" } else { "FAIL" }
        );
        steps.push(
            json!({"rate_per_s": step.rate, "delivered": s.delivered, "lost": s.lost, "duplicated": s.duplicated,
            "p99_ms": round(s.latency.p99_ms, 3), "max_ms": round(s.latency.max_ms, 3),
            "server_cpu_us_per_delivery": cpu, "bench_cpu_pct_of_one_core": bench_cpu,
            "machine_hiccup_p99_ms": hiccup_p99, "machine_hiccup_p999_ms": hiccup_p999,
            "machine_hiccup_max_ms": hiccup_max, "pass": pass}),
        );
        if pass {
            best = Some(best.map_or(step.rate, |b: f64| b.max(step.rate)));
        } else {
            failed = Some(failed.map_or(step.rate, |f: f64| f.min(step.rate)));
        }
        rate = match (best, failed) {
            (_, None) if step.rate * args.factor <= args.max_rate => step.rate * args.factor,
            (_, None) => break,
            // Even the first step failed: halve λ (a few times) to find any passing rate.
            (None, Some(hi)) if halvings < MAX_HALVINGS && hi >= 2.0 => {
                halvings += 1;
                hi / 2.0
            }
            (Some(lo), Some(hi)) if refinements < args.refine && hi - lo > lo * 0.05 => {
                refinements += 1;
                (lo + hi) / 2.0
            }
            _ => break,
        };
    }
    report.result("highest_passing_rate_per_s", best.unwrap_or(0.0));
    report.result("lowest_failing_rate_per_s", failed.map_or(serde_json::Value::Null, serde_json::Value::from));
    report.result("steps", serde_json::Value::Array(steps));
    Ok(report)
}
