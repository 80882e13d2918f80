//! `banter-cli`: a small command-line client for a Banter server, built on the SDK.
//!
//! ```text
//! BANTER_PASSWORD=... banter-cli register ana     # prints the token and saves it
//! banter-cli channels
//! banter-cli send general "hello"
//! banter-cli tail general                         # prints live messages until Ctrl-C
//! ```
//! The token is saved to `$XDG_CONFIG_HOME/banter/token` (or `~/.config/banter/token`) and
//! used when neither `--token` nor `BANTER_TOKEN` is given.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use banter_client::proto::rest::{AuthResponse, RegisterRequest, SendMessageRequest};
use banter_client::proto::ws::ServerEvent;
use banter_client::proto::{Channel, ChannelKind};
use banter_client::{Client, ClientError, Connection, Incoming};
use clap::{Parser, Subcommand};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "banter-cli", version, about = "Command-line client for a Banter chat server")]
struct Cli {
    /// Server base URL.
    #[arg(long, env = "BANTER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Session token (default: the one saved by `register`/`login`).
    #[arg(long, env = "BANTER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account (password from BANTER_PASSWORD or stdin) and save its token.
    Register { username: String },
    /// Log in (password from BANTER_PASSWORD or stdin) and save the token.
    Login { username: String },
    /// List your channels with their unread counts.
    Channels,
    /// Post a message to a channel given by name (`general`, `#general`) or id.
    Send { channel: String, text: String },
    /// Print live messages (all your channels, or just one) until interrupted.
    Tail { channel: Option<String> },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("banter-cli: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let anonymous = Client::new(&cli.server)?;
    let signed_in = || -> Result<Client, Box<dyn std::error::Error>> {
        let token = match &cli.token {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(token_path()?)
                .map_err(|_| "not signed in: run `banter-cli login <user>` or set BANTER_TOKEN")?
                .trim()
                .to_owned(),
        };
        Ok(anonymous.with_token(token))
    };
    match cli.command {
        Command::Register { username } => {
            let password = password()?;
            let req = RegisterRequest { username, password, email: None, display_name: None };
            let (_, auth) = anonymous.register(&req).await?;
            save_token(&auth)?;
        }
        Command::Login { username } => {
            let (_, auth) = anonymous.login(&username, &password()?).await?;
            save_token(&auth)?;
        }
        Command::Channels => {
            for c in signed_in()?.channels().await? {
                let unread = c.head_seq - c.membership.as_ref().map_or(0, |m| m.read_seq);
                println!("{:<24} {:<8} {:>5} unread  {}", label(&c), kind(c.kind), unread, c.id);
            }
        }
        Command::Send { channel, text } => {
            let client = signed_in()?;
            let channel = find_channel(&client, &channel).await?;
            let req = SendMessageRequest {
                channel_id: channel.id,
                body: text,
                client_id: Uuid::now_v7().to_string(),
                reply_to: None,
            };
            let (message, _) = client.send_message(&req).await?;
            println!("sent to {} (seq {})", label(&channel), message.seq);
        }
        Command::Tail { channel } => {
            let client = signed_in()?;
            let only = match &channel {
                Some(name) => Some(find_channel(&client, name).await?.id),
                None => None,
            };
            tail(&client, only).await?;
        }
    }
    Ok(())
}

/// Prints `message:receive` events (of channel `only`, if given) until the connection closes.
async fn tail(client: &Client, only: Option<Uuid>) -> Result<(), Box<dyn std::error::Error>> {
    let token = client.token().ok_or(ClientError::NoToken)?;
    let mut conn = Connection::connect(client.base_url(), token).await?;
    let mut names: std::collections::HashMap<Uuid, String> =
        conn.ready().channels.iter().map(|c| (c.id, label(c))).collect();
    eprintln!("connected as {}; Ctrl-C to stop", conn.ready().user.user.username);
    loop {
        match conn.next_event().await? {
            Incoming::Event { event: ServerEvent::MessageReceive(m), .. } => {
                if only.is_none_or(|id| id == m.channel_id) {
                    let name = names.get(&m.channel_id).cloned().unwrap_or_else(|| m.channel_id.to_string());
                    println!("{} [{name}] {}: {}", m.created_at.format("%H:%M:%S"), m.sender.username, m.body);
                }
            }
            Incoming::Event { event: ServerEvent::ChannelJoined(c), .. } => {
                names.insert(c.id, label(&c));
            }
            Incoming::Event { .. } => {}
            Incoming::Closed { code, reason } => return Err(format!("connection closed: {code} {reason}").into()),
        }
    }
}

/// Finds one of the caller's channels by id, name, `#name` or DM peer username.
async fn find_channel(client: &Client, wanted: &str) -> Result<Channel, Box<dyn std::error::Error>> {
    let channels = client.channels().await?;
    let name = wanted.trim_start_matches(['#', '@']);
    let id = Uuid::parse_str(wanted).ok();
    channels
        .into_iter()
        .find(|c| Some(c.id) == id || c.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("you are in no channel named {wanted:?} (see `banter-cli channels`)").into())
}

fn label(c: &Channel) -> String {
    match (c.kind, &c.peer) {
        (ChannelKind::Dm, Some(peer)) => format!("@{}", peer.username),
        _ => format!("#{}", c.name),
    }
}

fn kind(k: ChannelKind) -> &'static str {
    match k {
        ChannelKind::Public => "public",
        ChannelKind::Private => "private",
        ChannelKind::Dm => "dm",
    }
}

/// `BANTER_PASSWORD`, or one line read from stdin (prompting on stderr).
fn password() -> std::io::Result<String> {
    if let Ok(p) = std::env::var("BANTER_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `$XDG_CONFIG_HOME/banter/token`, else `$HOME/.config/banter/token`.
fn token_path() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").ok_or("neither XDG_CONFIG_HOME nor HOME is set")?).join(".config")
        }
    };
    Ok(dir.join("banter").join("token"))
}

/// Prints the token and writes it (mode 0600 on Unix) to [`token_path`].
fn save_token(auth: &AuthResponse) -> Result<(), Box<dyn std::error::Error>> {
    let path = token_path()?;
    std::fs::create_dir_all(path.parent().expect("token path has a parent"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    writeln!(options.open(&path)?, "{}", auth.token)?;
    println!("{}", auth.token);
    eprintln!("signed in as {}; token saved to {}", auth.user.user.username, path.display());
    Ok(())
}
