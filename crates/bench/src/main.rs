//! `banter-bench`: parse the command line, raise the open-file limit, run one scenario
//! (bounded by `--max-run-seconds`), print its table and, with `--json`, one JSON line.

use std::process::ExitCode;
use std::time::Duration;

use banter_bench::scenarios::{Ctx, Scenario};
use banter_bench::{clock, perf, proc, Common};
use clap::Parser;

/// Load generator for a Banter server on loopback. Start the server with cheap Argon2 for
/// benches (`--argon2-memory-kib 64 --argon2-iterations 1`): it is a bench server, not a
/// production one. See docs/benchmarks.md, or use scripts/bench.
#[derive(Debug, Parser)]
#[command(name = "banter-bench", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Hard limit on the whole run (setup included), seconds: the run stops by itself.
    #[arg(long, global = true, default_value_t = 900)]
    max_run_seconds: u64,
    #[command(subcommand)]
    scenario: Scenario,
}

fn main() -> ExitCode {
    clock::epoch();
    let cli = Cli::parse();
    match proc::raise_nofile_limit() {
        Ok(limit) => eprintln!("open-file limit: {limit}"),
        Err(e) => eprintln!("warning: cannot raise the open-file limit: {e}"),
    }
    if let Some(spec) = &cli.common.perf_control {
        if let Err(e) = perf::attach(spec) {
            eprintln!("banter-bench: --perf-control {spec}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let outcome = runtime.block_on(async {
        let limit = Duration::from_secs(cli.max_run_seconds);
        let run = async {
            let ctx = Ctx::new(cli.common.clone()).await?;
            cli.scenario.run(&ctx).await
        };
        match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("the run exceeded --max-run-seconds {}", cli.max_run_seconds)),
        }
    });
    // Sockets still open in abandoned tasks are closed when the runtime drops.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(report) => {
            print!("{}", report.table());
            if cli.common.json {
                println!("{}", report.json_line());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("banter-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
