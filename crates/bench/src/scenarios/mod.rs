//! The scenarios, one module each, and what they share ([`Ctx`]).

pub mod fanout;
pub mod idle;
pub mod persist;
pub mod ramp;
pub mod rooms;
pub mod storm;
pub mod traffic;

use anyhow::Context;
use banter_client::Client;
use clap::Subcommand;

use crate::calibrate;
use crate::metrics::{round, Report};
use crate::net::Dialer;
use crate::opts::Common;

/// The scenario to run (a subcommand).
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// C members in one channel, S paced senders at an aggregate λ msgs/s for T seconds.
    Fanout(fanout::FanoutArgs),
    /// C users in private channels of K members, each sending at a low rate.
    Rooms(rooms::RoomsArgs),
    /// N authenticated connections held open: connect time and server RSS per connection.
    Idle(idle::IdleArgs),
    /// N clients connecting and authenticating at once: connects/s and errors.
    Storm(storm::StormArgs),
    /// Closed-loop senders (each waits for its ack): committed messages/s and ack latency.
    Persist(persist::PersistArgs),
    /// `fanout` at rising λ: the highest λ with 0 lost and p99 within the bound.
    Ramp(ramp::RampArgs),
}

impl Scenario {
    /// Runs the scenario against `ctx`'s server; returns its report.
    pub async fn run(&self, ctx: &Ctx) -> anyhow::Result<Report> {
        match self {
            Scenario::Fanout(args) => fanout::run(ctx, args).await,
            Scenario::Rooms(args) => rooms::run(ctx, args).await,
            Scenario::Idle(args) => idle::run(ctx, args).await,
            Scenario::Storm(args) => storm::run(ctx, args).await,
            Scenario::Persist(args) => persist::run(ctx, args).await,
            Scenario::Ramp(args) => ramp::run(ctx, args).await,
        }
    }
}

/// What every scenario runs with: the common flags, a REST client and a dialer.
pub struct Ctx {
    /// Common flags.
    pub common: Common,
    /// Anonymous SDK client for the server (scenarios derive signed-in clients from it).
    pub client: Client,
    /// Dialer for WebSocket sessions.
    pub dialer: Dialer,
    /// This machine's loopback round trip, µs ([`calibrate`]), taken once before the
    /// scenario; `None` if it could not be measured.
    pub loopback_rtt_us: Option<f64>,
}

impl Ctx {
    /// Checks that the server is on loopback and answers `/api/health`, then measures this
    /// machine's loopback round trip (~0.1 s, before any load).
    pub async fn new(common: Common) -> anyhow::Result<Self> {
        let dialer = Dialer::new(&common.server, common.source_addrs).await?;
        let client = Client::new(dialer.base_url())?;
        let health = client.health().await.with_context(|| format!("GET {}/api/health", dialer.base_url()))?;
        eprintln!("server {} is up ({} {})", dialer.base_url(), health.status, health.version);
        let rtt = tokio::task::spawn_blocking(|| calibrate::loopback_round_trip_us(calibrate::ROUND_TRIPS)).await?;
        let loopback_rtt_us = rtt.inspect_err(|e| eprintln!("warning: no loopback round trip measured: {e}")).ok();
        Ok(Self { common, client, dialer, loopback_rtt_us })
    }

    /// A report for `scenario` with the common parameters filled in.
    pub fn report(&self, scenario: &str) -> Report {
        let mut report = Report::new(scenario);
        report.param("server", self.dialer.base_url()).param("seed", self.common.seed);
        report.param("source_addrs", self.common.source_addrs).param("body_bytes", self.common.body_bytes as u64);
        if let Some(rtt) = self.loopback_rtt_us {
            report.result("machine_loopback_rtt_us", round(rtt, 2));
        }
        report
    }
}
