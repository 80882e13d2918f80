//! Flags shared by every scenario.

use clap::Args;

/// Flags every scenario accepts (they go before or after the scenario name).
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Base URL of the Banter server; must resolve to a loopback address (127.0.0.0/8).
    #[arg(long, global = true, env = "BANTER_BENCH_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,

    /// Process id of the server: its RSS (`/proc/PID/status` VmRSS) and CPU time
    /// (`/proc/PID/stat` utime + stime) are sampled before and after the measured window.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,

    /// `CTL,ACK`: the control and ack FIFOs of a `perf record -D -1 --control fifo:CTL,ACK` of
    /// the server; its recording is enabled for each measured window only (`scripts/bench` with
    /// `PERF=1` sets this up).
    #[arg(long, global = true)]
    pub perf_control: Option<String>,

    /// Also print one JSON line with every parameter and result at the end of the run.
    #[arg(long, global = true)]
    pub json: bool,

    /// Bind client sockets to 127.0.0.1 ..= 127.0.0.N round robin (N in 1..=254), so more
    /// than ~28k sockets fit in the ephemeral port range.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub source_addrs: u8,

    /// Seed for every random choice (the send phases of `rooms`).
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,

    /// Run name in user names `bench-<run>-<i>`: the same name reuses the same users
    /// (logged in instead of registered). 1–16 chars of `a-z 0-9`.
    #[arg(long, global = true, default_value = "b", value_parser = parse_run)]
    pub run: String,

    /// Message body size in bytes (at least the timestamp, `t=<ns>;`, about 16 bytes).
    #[arg(long, global = true, default_value_t = 64)]
    pub body_bytes: usize,

    /// Concurrent REST calls during setup (registrations are Argon2-bound on the server).
    #[arg(long, global = true, default_value_t = 32)]
    pub setup_concurrency: usize,

    /// Concurrent WebSocket connects during setup (not used by `storm`, which connects all at once).
    #[arg(long, global = true, default_value_t = 64)]
    pub connect_concurrency: usize,

    /// Do not report delivered receipts. By default every receiving connection sends
    /// `receipt:delivered` (no request id, so no answer) with the highest seq per channel it
    /// received, at most once per 250 ms, as a real client does.
    #[arg(long, global = true)]
    pub no_receipts: bool,
}

fn parse_run(s: &str) -> Result<String, String> {
    let ok = (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err("run names are 1-16 chars of a-z and 0-9".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_fit_user_and_channel_names() {
        assert!(parse_run("b").is_ok());
        assert!(parse_run("run42").is_ok());
        for bad in ["", "Upper", "a-b", "12345678901234567"] {
            assert!(parse_run(bad).is_err(), "{bad}");
        }
    }
}
