//! Setup through the SDK's REST client: users (registered concurrently, or logged in when
//! they already exist), channels, joins and invitations, and bulk WebSocket connects.

use std::future::Future;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use banter_client::proto::rest::{CreateChannelRequest, RegisterRequest};
use banter_client::proto::ws::Ready;
use banter_client::proto::{Channel, ChannelKind};
use banter_client::{Client, ClientError};
use futures_util::{stream, StreamExt, TryStreamExt};
use uuid::Uuid;

use crate::net::{Dialer, Ws};

/// The password of every bench user.
pub const PASSWORD: &str = "bench-password-not-secret";

/// A signed-in bench user.
#[derive(Debug, Clone)]
pub struct BenchUser {
    /// User id.
    pub id: Uuid,
    /// `bench-<run>-<i>`.
    pub name: String,
    /// Session token from registration or login (one login per user per process).
    pub token: String,
}

/// The user name of bench user `i` of run `run`.
pub fn user_name(run: &str, i: usize) -> String {
    format!("bench-{run}-{i}")
}

/// A token unique to this moment: milliseconds since 1970 in base 36 (8 chars), for channel
/// names and idempotency keys (users are reused across runs, keys must not be).
pub fn nonce() -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    base36(ms)
}

/// A channel name unique to this moment: `bench-<run>-<what>-<nonce>`.
pub fn channel_name(run: &str, what: &str) -> String {
    format!("bench-{run}-{what}-{}", nonce())
}

fn base36(mut n: u128) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// Runs `f(i)` for `i in 0..count`, at most `concurrency` at a time; results in index order.
pub async fn bounded<T, F, Fut>(count: usize, concurrency: usize, f: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    stream::iter(0..count).map(f).buffered(concurrency.max(1)).try_collect().await
}

/// Users `bench-<run>-0 .. count-1`: registered, or logged in when the name is taken (from an
/// earlier run), `concurrency` at a time. Prints the time it took.
pub async fn users(client: &Client, run: &str, count: usize, concurrency: usize) -> anyhow::Result<Vec<BenchUser>> {
    let started = Instant::now();
    let users = bounded(count, concurrency, |i| sign_in(client, user_name(run, i))).await?;
    eprintln!("setup: {count} users signed in in {:.2} s", started.elapsed().as_secs_f64());
    Ok(users)
}

async fn sign_in(client: &Client, name: String) -> anyhow::Result<BenchUser> {
    let req = RegisterRequest { username: name.clone(), password: PASSWORD.into(), email: None, display_name: None };
    let auth = match client.register(&req).await {
        Ok((_, auth)) => auth,
        Err(ClientError::Api { code, .. }) if code == "username_taken" => {
            client.login(&name, PASSWORD).await.with_context(|| format!("login {name}"))?.1
        }
        Err(e) => return Err(e).with_context(|| format!("register {name}")),
    };
    Ok(BenchUser { id: auth.user.user.id, name, token: auth.token })
}

/// Creates a channel of `kind` named `name`, owned by `owner`.
pub async fn create_channel(
    client: &Client,
    owner: &BenchUser,
    name: &str,
    kind: ChannelKind,
) -> anyhow::Result<Channel> {
    let req = CreateChannelRequest { name: name.into(), kind, topic: None };
    client.with_token(&owner.token).create_channel(&req).await.with_context(|| format!("create channel {name}"))
}

/// Every user in `members` joins public `channel`, `concurrency` at a time.
pub async fn join_all(client: &Client, members: &[BenchUser], channel: Uuid, concurrency: usize) -> anyhow::Result<()> {
    bounded(members.len(), concurrency, |i| async move {
        client.with_token(&members[i].token).join(channel).await.map(drop).context("join")
    })
    .await
    .map(drop)
}

/// `owner` invites every user in `members` into `channel`, `concurrency` at a time.
pub async fn invite_all(
    client: &Client,
    owner: &BenchUser,
    members: &[BenchUser],
    channel: Uuid,
    concurrency: usize,
) -> anyhow::Result<()> {
    let owner = client.with_token(&owner.token);
    let owner = &owner;
    bounded(members.len(), concurrency, |i| async move {
        owner.invite(channel, members[i].id).await.map(drop).context("invite")
    })
    .await
    .map(drop)
}

/// Opens one WebSocket per user (`ready` read), `concurrency` at a time, in user order.
pub async fn connect_all(dialer: &Dialer, users: &[BenchUser], concurrency: usize) -> anyhow::Result<Vec<(Ws, Ready)>> {
    let started = Instant::now();
    let conns = bounded(users.len(), concurrency, |i| async move {
        dialer.connect(&users[i].token).await.with_context(|| format!("connect {}", users[i].name))
    })
    .await?;
    eprintln!("setup: {} sockets connected in {:.2} s", users.len(), started.elapsed().as_secs_f64());
    Ok(conns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_valid() {
        assert_eq!(user_name("b", 17), "bench-b-17");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36 * 36 + 35), "10z");
        let name = channel_name("b", "fanout");
        assert!(name.starts_with("bench-b-fanout-"));
        assert!(name.len() <= 64 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
}
