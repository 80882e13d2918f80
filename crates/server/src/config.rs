//! Runtime configuration: CLI flags, each with a `BANTER_*` environment variable and a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use uuid::Uuid;

/// Everything the server can be told at start-up. Flags win over environment variables.
#[derive(Debug, Clone, Parser)]
#[command(name = "banter", version, about = "Banter: real-time chat in one binary")]
pub struct Config {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    #[arg(long, env = "BANTER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory for the SQLite database and the generated secret key; created if missing.
    #[arg(long, env = "BANTER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://path` or `postgres://user@host/db` (several nodes share one
    /// PostgreSQL database); defaults to `sqlite://<data_dir>/banter.db`.
    #[arg(long, env = "BANTER_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Secret key (at least 32 chars) that keys session-token hashes. When unset, one is
    /// generated on first start and kept in `<data_dir>/secret.key`. Changing it revokes every
    /// session.
    #[arg(long, env = "BANTER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Longest message body, in chars (Unicode scalar values).
    #[arg(long, env = "BANTER_MAX_BODY_CHARS", default_value_t = 4000)]
    pub max_body_chars: usize,

    /// Largest WebSocket frame accepted, in bytes; larger frames close the socket with 1009.
    #[arg(long, env = "BANTER_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Frames a session's outbox holds before the session is disconnected as a slow consumer.
    #[arg(long, env = "BANTER_OUTBOX_FRAMES", default_value_t = 1024)]
    pub outbox_frames: usize,

    /// Most messages per channel a `sync` replays; a longer gap gets a `sync:gap` marker and
    /// only the newest page.
    #[arg(long, env = "BANTER_SYNC_GAP_LIMIT", default_value_t = 500)]
    pub sync_gap_limit: i64,

    /// Bytes a session's outbox holds before the session is disconnected as a slow consumer.
    #[arg(long, env = "BANTER_OUTBOX_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub outbox_bytes: usize,

    /// Most WebSocket connections this process holds; more are refused with 503 `server_full`.
    #[arg(long, env = "BANTER_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most WebSocket connections one user holds; more are refused with 429
    /// `too_many_connections`.
    #[arg(long, env = "BANTER_MAX_CONNECTIONS_PER_USER", default_value_t = 32)]
    pub max_connections_per_user: usize,

    /// Most channels (DMs included) one user may belong to; more are refused with 403
    /// `too_many_channels`.
    #[arg(long, env = "BANTER_MAX_CHANNELS_PER_USER", default_value_t = 1000)]
    pub max_channels_per_user: usize,

    /// Most members one channel may have (`#general` is exempt); more are refused with 403
    /// `channel_full`.
    #[arg(long, env = "BANTER_MAX_MEMBERS_PER_CHANNEL", default_value_t = 10_000)]
    pub max_members_per_channel: i64,

    /// Register + login attempts per IP per minute (also the burst).
    #[arg(long, env = "BANTER_RATE_AUTH_PER_MINUTE", default_value_t = 20)]
    pub rate_auth_per_minute: u32,

    /// Sustained message sends per user per second.
    #[arg(long, env = "BANTER_RATE_MESSAGES_PER_SECOND", default_value_t = 10)]
    pub rate_messages_per_second: u32,

    /// Message sends per user allowed in a burst.
    #[arg(long, env = "BANTER_RATE_MESSAGES_BURST", default_value_t = 50)]
    pub rate_messages_burst: u32,

    /// WebSocket upgrades per IP per minute (also the burst).
    #[arg(long, env = "BANTER_RATE_UPGRADES_PER_MINUTE", default_value_t = 60)]
    pub rate_upgrades_per_minute: u32,

    /// Origins allowed to call the API cross-origin with credentials (CORS), comma-separated;
    /// empty (the default) turns CORS off.
    #[arg(long, env = "BANTER_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Interval between server pings, in milliseconds; a peer silent for two is dropped.
    #[arg(long, env = "BANTER_HEARTBEAT_MS", default_value_t = 30_000)]
    pub heartbeat_ms: u64,

    /// Extra origins (e.g. `https://chat.example.com`) allowed to open a WebSocket with the
    /// session cookie, comma-separated. The request's own host is always allowed.
    #[arg(long, env = "BANTER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Mark the session cookie `Secure` (set when served over HTTPS, e.g. behind a proxy).
    #[arg(long, env = "BANTER_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Argon2id memory cost in KiB (OWASP: 19456 with 2 iterations, parallelism 1).
    #[arg(long, env = "BANTER_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations.
    #[arg(long, env = "BANTER_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// Redis URL (`redis://host:6379[/db]`) joining this node to the others sharing its
    /// PostgreSQL database: events fan out across nodes through it. Unset (the default): one
    /// node, no Redis.
    #[arg(long, env = "BANTER_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel of this cluster (`<prefix>:events`); all its
    /// nodes must use the same one, and different clusters on one Redis different ones.
    #[arg(long, env = "BANTER_REDIS_PREFIX", default_value = "banter")]
    pub redis_prefix: String,

    /// This node's id among the nodes: random at every start, not configurable. A cloned
    /// `Config` keeps it, so give each node of an in-process test cluster a fresh one.
    #[arg(skip = Uuid::now_v7())]
    pub node_id: Uuid,

    /// A disconnected user stays online this long (ms) before going `offline`, so a quick
    /// reconnect never flaps.
    #[arg(long, env = "BANTER_PRESENCE_GRACE_MS", default_value_t = 15_000)]
    pub presence_grace_ms: u64,

    /// A node refreshes its devices' presence leases in Redis at this period (ms); a lease
    /// lives three periods, so a dead node's users go offline after at most that.
    #[arg(long, env = "BANTER_PRESENCE_LEASE_MS", default_value_t = 10_000)]
    pub presence_lease_ms: u64,

    /// A typing state expires this long (ms) after its last `typing:start`.
    #[arg(long, env = "BANTER_TYPING_TTL_MS", default_value_t = 6_000)]
    pub typing_ttl_ms: u64,

    /// At most one `typing:start` per user and channel counts within this window (ms).
    #[arg(long, env = "BANTER_TYPING_THROTTLE_MS", default_value_t = 2_000)]
    pub typing_throttle_ms: u64,

    /// Presence and per-member receipts are shared only through DMs and channels of at most
    /// this many members (larger channels report receipt counts on request).
    #[arg(long, env = "BANTER_RECEIPT_MEMBERS", default_value_t = 50)]
    pub receipt_members: i64,

    /// Delivered receipts are coalesced and written (and announced) once per this period (ms),
    /// longer while busy (up to 1 s), large channels' every 2 s (see `service::receipts`).
    #[arg(long, env = "BANTER_RECEIPT_FLUSH_MS", default_value_t = 200)]
    pub receipt_flush_ms: u64,

    /// Most distinct emoji on one message.
    #[arg(long, env = "BANTER_MAX_REACTIONS", default_value_t = 20)]
    pub max_reactions: usize,

    /// Log filter in `tracing` syntax (e.g. `info`, `banter_server=debug`).
    #[arg(long, env = "BANTER_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// A configuration for tests: port 0 on loopback, SQLite under `data_dir`, a fixed secret,
    /// cheap Argon2 parameters, rate and connection limits out of the way (tests of the limits
    /// set their own). Fields stay public for tests to adjust.
    pub fn for_tests(data_dir: &Path) -> Config {
        let mut config = Config::parse_from(["banter"]);
        config.addr = "127.0.0.1:0".parse().expect("valid address");
        config.data_dir = data_dir.to_path_buf();
        config.database_url = None;
        config.redis_url = None;
        config.redis_prefix = "banter".into();
        config.secret_key = Some("test-secret-key-test-secret-key-0123456789".into());
        config.argon2_memory_kib = 64;
        config.argon2_iterations = 1;
        config.allowed_origins = Vec::new();
        config.cors_origins = Vec::new();
        config.rate_auth_per_minute = 1_000_000;
        config.rate_messages_per_second = 1_000_000;
        config.rate_messages_burst = 1_000_000;
        config.rate_upgrades_per_minute = 1_000_000;
        config
    }

    /// The database URL in force: the configured one or the SQLite file in the data dir.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("banter.db").display()),
        }
    }
}
