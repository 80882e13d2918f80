//! Start-up and shutdown: [`Application::build`] opens the store, loads keys and binds the
//! listener; [`Application::run_until_stopped`] serves until the shutdown future resolves,
//! then closes every socket with 1012 and waits (bounded) for their writers to finish.
//! With `redis_url` set, build also starts the Redis bridge ([`crate::hub::redis`]) and stop
//! ends it after the sockets closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::config::Config;
use crate::http::peer::Accept;
use crate::hub::bridge::RedisStatus;
use crate::hub::redis::Bridge;
use crate::hub::{Hub, SERVER_RESTART};
use crate::service::limits::RateLimits;
use crate::service::passwords::Hasher;
use crate::service::sessions::TokenKey;
use crate::state::AppState;

/// How long shutdown waits for open sockets to finish writing and close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data dir or secret key file could not be created or read.
    #[error("data directory: {0}")]
    DataDir(#[source] io::Error),
    /// The configured secret key is shorter than 32 chars.
    #[error("secret key must be at least 32 characters")]
    WeakSecret,
    /// The database URL names a backend this build does not have.
    #[error("unsupported database URL (expected sqlite://... or postgres://...)")]
    UnsupportedDatabase,
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Argon2 parameters out of range.
    #[error("argon2 parameters: {0}")]
    Argon2(argon2::Error),
    /// `redis_url` is not a valid Redis URL.
    #[error("redis: {0}")]
    Redis(#[source] redis::RedisError),
    /// The address could not be bound.
    #[error("bind: {0}")]
    Bind(#[source] io::Error),
}

/// A built server with a bound listener, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The Redis bridge, when `redis_url` is set.
    bridge: Option<Bridge>,
    /// The receipt flusher, the presence worker and the typing ticker.
    background: Background,
}

/// The application's background tasks: stopped at the end of a run ([`Background::stop`]),
/// or told to stop when dropped (an application built and never run).
struct Background {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Cancels [`AppState::stop`] and waits for each task to end its current turn.
    async fn stop(mut self) {
        self.stop.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Application {
    /// Opens (and migrates) the database, ensures `#general`, loads or generates the secret
    /// key, binds `config.addr` (port 0 picks a free port; see [`Application::port`]) and,
    /// with `redis_url`, starts the Redis bridge (trying Redis once, for at most 2 s, then
    /// serving degraded while it reconnects).
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&config.data_dir).map_err(StartupError::DataDir)?;
        let secret = load_secret(&config)?;
        let url = config.effective_database_url();
        let store = crate::store::connect(&url).await?.ok_or(StartupError::UnsupportedDatabase)?;
        let general_id = store.ensure_channel("general", now_ms()).await?;
        let hasher = Hasher::new(config.argon2_memory_kib, config.argon2_iterations).map_err(StartupError::Argon2)?;
        let listener = bind(config.addr).map_err(StartupError::Bind)?;
        let hub = Hub::default();
        let bridge = match &config.redis_url {
            Some(url) => {
                if config.effective_database_url().starts_with("sqlite:") {
                    tracing::warn!(
                        "Redis is configured but the store is SQLite: nodes must share one PostgreSQL database"
                    );
                }
                let bridge = Bridge::start(url, &config.redis_prefix, config.node_id, &hub).await;
                Some(bridge.map_err(StartupError::Redis)?)
            }
            None => None,
        };
        let state = AppState {
            config: Arc::new(config.clone()),
            store,
            hub,
            token_key: Arc::new(TokenKey::new(&secret)),
            hasher: Arc::new(hasher),
            limits: Arc::new(RateLimits::new(&config)),
            general_id,
            presence: crate::service::presence::Tracker::new(&config),
            typing: Default::default(),
            receipts: Default::default(),
            stop: CancellationToken::new(),
        };
        let tasks = vec![
            crate::service::receipts::start_flusher(state.clone()),
            crate::service::presence::start_worker(state.clone()),
            crate::service::typing::start_ticker(state.clone()),
            crate::ws::heartbeat::start_ticker(state.clone()),
        ];
        let background = Background { stop: state.stop.clone(), tasks };
        Ok(Self { listener, state, bridge, background })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The shared state (tests inspect the hub through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Redis as `/api/health` reports it (`Off` without `redis_url`).
    pub fn redis_status(&self) -> RedisStatus {
        self.state.hub.redis_status()
    }

    /// Serves until `shutdown` resolves: then stops accepting, closes every socket with 1012
    /// `server_restart` after writing what was queued, and waits up to 5 s for them; then stops
    /// the background tasks, flushes the delivered receipts left, and stops the Redis bridge.
    /// On return nothing of the application runs on (its store closes with the last handle).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let hub = self.state.hub.clone();
        let limits = self.state.limits.clone();
        let pruning = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.prune();
            }
        });
        let state = self.state.clone();
        let background = self.background;
        let router = crate::http::router(self.state);
        let closing = hub.clone();
        let signal = async move {
            shutdown.await;
            closing.close_all(SERVER_RESTART);
        };
        let listener = Accept(self.listener);
        crate::http::serve::serve(listener, router, signal).await;
        pruning.abort();
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while hub.connection_count() > 0 && tokio::time::Instant::now() < deadline {
            hub.close_all(SERVER_RESTART);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        background.stop().await;
        crate::service::receipts::flush(&state, true, Duration::ZERO).await;
        if let Some(bridge) = self.bridge {
            bridge.stop().await;
        }
        Ok(())
    }
}

/// Pending connections the kernel queues before `accept`: above the default 1024, so a
/// reconnect storm (a node restart) is not pushed into SYN retries. The kernel caps it at
/// `net.core.somaxconn`.
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds `addr` with address reuse and an [`ACCEPT_BACKLOG`]-deep accept queue.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// The configured secret, or the one in `<data_dir>/secret.key`, generated on first start.
fn load_secret(config: &Config) -> Result<Vec<u8>, StartupError> {
    if let Some(secret) = &config.secret_key {
        return if secret.len() >= 32 { Ok(secret.as_bytes().to_vec()) } else { Err(StartupError::WeakSecret) };
    }
    let path = config.data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(hex_key) if hex_key.trim().len() >= 64 => Ok(hex_key.trim().as_bytes().to_vec()),
        Ok(_) => Err(StartupError::WeakSecret),
        Err(e) if e.kind() == io::ErrorKind::NotFound => generate_secret(&path),
        Err(e) => Err(StartupError::DataDir(e)),
    }
}

fn generate_secret(path: &Path) -> Result<Vec<u8>, StartupError> {
    use rand::RngCore;
    use std::io::Write;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex_key = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(StartupError::DataDir)?;
    file.write_all(hex_key.as_bytes()).map_err(StartupError::DataDir)?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(hex_key.into_bytes())
}
