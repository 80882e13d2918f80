//! Smoke test: the server library in-process on port 0 with a fresh SQLite file, and tiny
//! runs of the scenarios against it over real loopback sockets.

use std::time::Duration;

use banter_bench::scenarios::{fanout, idle, persist, ramp, rooms, storm, Ctx, Scenario};
use banter_bench::{Common, Report};
use banter_server::{Application, Config};
use serde_json::Value;
use tokio::sync::oneshot;

/// A running server; stopped when dropped.
struct Server {
    base_url: String,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn spawn_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = Application::build(Config::for_tests(dir.path())).await.expect("server builds");
    let base_url = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Server { base_url, _stop: stop, _dir: dir }
}

fn common(server: &Server, run: &str) -> Common {
    Common {
        server: server.base_url.clone(),
        server_pid: Some(std::process::id()),
        perf_control: None,
        json: true,
        source_addrs: 2,
        seed: 7,
        run: run.into(),
        body_bytes: 64,
        setup_concurrency: 4,
        connect_concurrency: 4,
        no_receipts: false,
    }
}

async fn run(server: &Server, run_name: &str, scenario: Scenario) -> Report {
    let ctx = Ctx::new(common(server, run_name)).await.expect("server is up");
    let report = tokio::time::timeout(Duration::from_secs(60), scenario.run(&ctx)).await.expect("bounded run");
    let report = report.expect("scenario runs");
    println!("{}", report.table());
    let line = report.json_line();
    assert!(!line.contains('\n'));
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap()["scenario"], Value::from(report.scenario.clone()));
    // Every scenario's window (each of `ramp`'s steps) ran the hiccup meter on the bench's CPU.
    let keys = banter_bench::hiccup::REPORT_KEYS;
    let windows: Vec<[f64; 3]> = match report.get("steps").and_then(Value::as_array) {
        Some(steps) => steps.iter().map(|step| keys.map(|key| step[key].as_f64().expect(key))).collect(),
        None => vec![keys.map(|key| ms(&report, key))],
    };
    for [p99, p999, max] in windows {
        assert!(0.0 < p99 && p99 <= p999 && p999 <= max, "hiccups {p99} / {p999} / {max} ms");
    }
    report
}

fn ms(report: &Report, key: &str) -> f64 {
    report.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("{key} in {}", report.json_line()))
}

fn int(report: &Report, key: &str) -> u64 {
    report.get(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("{key} in {}", report.json_line()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_fanout_loses_and_duplicates_nothing() {
    let server = spawn_server().await;
    let args = fanout::FanoutArgs { members: 5, senders: 1, rate: 20.0, seconds: 1.0, drain: 5.0 };
    let report = run(&server, "f", Scenario::Fanout(args.clone())).await;
    assert_eq!((int(&report, "lost"), int(&report, "duplicated")), (0, 0));
    assert!(int(&report, "sent") >= 15, "about λ·T sends");
    assert_eq!(int(&report, "delivered"), int(&report, "sent") * 5);
    assert_eq!(int(&report, "acks"), int(&report, "sent"));
    assert_eq!(int(&report, "latency_samples"), int(&report, "delivered"));
    // Every ack echoes its send's stamped request id; a sender reads its ack with (or after) its
    // own echo, so ack latencies lie within the deliveries'.
    assert_eq!(int(&report, "ack_latency_samples"), int(&report, "acks"));
    assert!(
        0.0 < ms(&report, "ack_latency_p50_ms") && ms(&report, "ack_latency_p50_ms") <= ms(&report, "latency_max_ms")
    );
    assert!(report.get("server_cpu_us_per_delivery").is_some());
    // Every receiver reported delivered receipts, and the server refused none of them.
    assert!(int(&report, "receipts_sent") >= 5, "at least one receipt per receiver");
    assert_eq!(int(&report, "error_frames"), 0);
    // The same users again (logged in, not registered), on a new channel.
    let again = run(&server, "f", Scenario::Fanout(args)).await;
    assert_eq!((int(&again, "lost"), int(&again, "duplicated")), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_persist_idle_and_storm_complete() {
    let server = spawn_server().await;
    let args = rooms::RoomsArgs { users: 6, room_size: 3, rate_per_user: 5.0, seconds: 1.0, drain: 5.0 };
    let report = run(&server, "r", Scenario::Rooms(args)).await;
    assert_eq!((int(&report, "lost"), int(&report, "duplicated")), (0, 0));
    assert_eq!(int(&report, "delivered"), int(&report, "sent") * 3);

    let report = run(&server, "p", Scenario::Persist(persist::PersistArgs { senders: 2, seconds: 0.5 })).await;
    assert!(int(&report, "acked") > 0);
    assert_eq!(int(&report, "sender_errors"), 0);

    let report =
        run(&server, "i", Scenario::Idle(idle::IdleArgs { connections: 6, users: Some(3), seconds: 0.2 })).await;
    assert_eq!((int(&report, "connected"), int(&report, "connect_errors")), (6, 0));

    let report = run(&server, "s", Scenario::Storm(storm::StormArgs { clients: 8, login: true, timeout: 30.0 })).await;
    assert_eq!((int(&report, "connected"), int(&report, "errors")), (8, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_ramp_steps_up_and_loses_and_duplicates_nothing() {
    let server = spawn_server().await;
    let args = ramp::RampArgs {
        members: 4,
        senders: 1,
        start_rate: 10.0,
        factor: 2.0,
        max_rate: 20.0,
        refine: 0,
        seconds: 0.5,
        drain: 3.0,
        p99_ms: 50.0,
    };
    let report = run(&server, "m", Scenario::Ramp(args)).await;
    // Whether a step passes depends on its p99, which a busy machine may push over the bound;
    // what every step must show is nothing lost or duplicated.
    let steps = report.get("steps").and_then(Value::as_array).cloned().expect("steps");
    assert!(steps.len() >= 2, "{steps:?}");
    for step in &steps {
        assert_eq!((step["lost"].as_u64(), step["duplicated"].as_u64()), (Some(0), Some(0)), "{step}");
        assert!(step["delivered"].as_u64().unwrap() > 0, "{step}");
    }
}
