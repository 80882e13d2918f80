//! Presence leases in Redis: each node's status for each user it serves, with expiry, so every
//! node sees the status over all nodes and a dead node's users go offline by themselves.
//!
//! # Keys (under the cluster prefix)
//! - `<prefix>:presence:<user>`: hash `node id → status digit` (0 offline … 3 dnd, the order of
//!   [`Status`]); a user's presence is the greatest digit in it.
//! - `<prefix>:presence:leases`: sorted set of `<user>/<node>`, scored by the lease's expiry
//!   (Unix ms by Redis' own clock, so node clocks do not matter).
//!
//! Both expire `2 × ttl` after the last write, so nothing outlives a cluster that is gone.
//! Every change runs as one Lua script that returns the user's status before and after it:
//! Redis serializes scripts, so each change of a user's presence is seen by exactly one node,
//! which announces it. [`Leases::sweep`] removes expired leases the same way (an atomic
//! `ZREM` inside the script decides which node announces a dead node's users going offline).
//! Scripts touch keys they do not declare: standalone Redis only, like the rest of the bridge.

use std::collections::HashMap;
use std::time::Duration;

use banter_proto::Status;
use redis::aio::MultiplexedConnection;
use redis::{Cmd, RedisResult};
use uuid::Uuid;

/// Users per script call.
const CHUNK: usize = 500;

/// Shared Lua: Redis time in ms, and the greatest status digit of a hash.
const COMMON: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function best(key)
  local b = 0
  for _, v in ipairs(redis.call('HVALS', key)) do
    local s = tonumber(v)
    if s and s > b then b = s end
  end
  return b
end
";

/// `KEYS[1]` leases; ARGV: key prefix, node, ttl ms, then (user, digit) pairs; digit 0 removes
/// the node's lease. Returns (before, after) digits per user, as strings.
const SET: &str = r"
local zset, prefix, node, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local expires = now_ms() + ttl
local out = {}
for i = 4, #ARGV, 2 do
  local user, status = ARGV[i], ARGV[i + 1]
  local key = prefix .. user
  local before = best(key)
  if status == '0' then
    redis.call('HDEL', key, node)
    redis.call('ZREM', zset, user .. '/' .. node)
  else
    redis.call('HSET', key, node, status)
    redis.call('PEXPIRE', key, 2 * ttl)
    redis.call('ZADD', zset, expires, user .. '/' .. node)
  end
  out[#out + 1] = tostring(before)
  out[#out + 1] = tostring(best(key))
end
redis.call('PEXPIRE', zset, 2 * ttl)
return out
";

/// `KEYS[1]` leases; ARGV: key prefix, most leases to remove. Removes expired leases; returns
/// (user, before, after) for each user whose status changed, as strings.
const SWEEP: &str = r"
local zset, prefix = KEYS[1], ARGV[1]
local expired = redis.call('ZRANGEBYSCORE', zset, '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(expired) do
  local slash = string.find(member, '/', 1, true)
  local user = string.sub(member, 1, slash - 1)
  local key = prefix .. user
  local before = best(key)
  redis.call('HDEL', key, string.sub(member, slash + 1))
  redis.call('ZREM', zset, member)
  local after = best(key)
  if after ~= before then
    out[#out + 1] = user
    out[#out + 1] = tostring(before)
    out[#out + 1] = tostring(after)
  end
end
return out
";

/// A user's presence before and after a change: `(user, before, after)`.
pub type Transition = (Uuid, Status, Status);

/// This node's view of the lease keys. Cheap to clone.
#[derive(Clone)]
pub struct Leases {
    node: String,
    leases_key: String,
    user_prefix: String,
    ttl_ms: u64,
    /// The scripts' sources (sent with `EVAL`: Redis caches them compiled by digest).
    set: String,
    sweep: String,
}

impl Leases {
    /// Leases of node `node` under `prefix`, each living `ttl` after its last refresh.
    pub fn new(prefix: &str, node: Uuid, ttl: Duration) -> Self {
        Leases {
            node: node.to_string(),
            leases_key: format!("{prefix}:presence:leases"),
            user_prefix: format!("{prefix}:presence:"),
            ttl_ms: ttl.as_millis().max(1) as u64,
            set: format!("{COMMON}{SET}"),
            sweep: format!("{COMMON}{SWEEP}"),
        }
    }

    /// Sets (or refreshes) this node's lease of each user to its status; `Offline` removes
    /// it. Returns every user's presence over all nodes before and after, in input order.
    /// Errors: Redis failed or timed out.
    pub async fn set(
        &self,
        conn: &mut MultiplexedConnection,
        changes: &[(Uuid, Status)],
    ) -> RedisResult<Vec<Transition>> {
        let mut out = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(CHUNK) {
            let mut call = self.eval(&self.set);
            call.arg(&self.node).arg(self.ttl_ms);
            for (user, status) in chunk {
                call.arg(user.to_string()).arg(digit(*status));
            }
            let got: Vec<String> = call.query_async(conn).await?;
            for ((user, _), pair) in chunk.iter().zip(got.chunks_exact(2)) {
                out.push((*user, status(&pair[0]), status(&pair[1])));
            }
        }
        Ok(out)
    }

    /// Removes up to `limit` expired leases (of any node); returns the users whose presence
    /// changed. Errors: Redis failed or timed out.
    pub async fn sweep(&self, conn: &mut MultiplexedConnection, limit: usize) -> RedisResult<Vec<Transition>> {
        let mut call = self.eval(&self.sweep);
        call.arg(limit);
        let got: Vec<String> = call.query_async(conn).await?;
        Ok(got.chunks_exact(3).filter_map(|t| Some((t[0].parse().ok()?, status(&t[1]), status(&t[2])))).collect())
    }

    /// `EVAL script 1 <leases key> <user key prefix>`, for the caller to add arguments to.
    fn eval(&self, script: &str) -> Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(1).arg(&self.leases_key).arg(&self.user_prefix);
        cmd
    }

    /// Each user's presence over the OTHER nodes' leases (this node's own lease is left out:
    /// the caller knows better), in input order, in one pipeline. Errors: Redis failed.
    pub async fn others(&self, conn: &mut MultiplexedConnection, users: &[Uuid]) -> RedisResult<Vec<Status>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.hgetall(format!("{}{user}", self.user_prefix));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(conn).await?;
        Ok(hashes
            .iter()
            .map(|h| h.iter().filter(|(node, _)| **node != self.node).map(|(_, s)| status(s)).max())
            .map(|best| best.unwrap_or(Status::Offline))
            .collect())
    }
}

/// The digit a status is stored as (its rank).
fn digit(status: Status) -> u8 {
    match status {
        Status::Offline => 0,
        Status::Away => 1,
        Status::Online => 2,
        Status::Dnd => 3,
    }
}

/// The status a stored digit names (anything unknown counts as offline).
fn status(digit: &str) -> Status {
    match digit {
        "1" => Status::Away,
        "2" => Status::Online,
        "3" => Status::Dnd,
        _ => Status::Offline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_follow_the_status_order() {
        let all = [Status::Offline, Status::Away, Status::Online, Status::Dnd];
        for pair in all.windows(2) {
            assert!(pair[0] < pair[1] && digit(pair[0]) < digit(pair[1]));
        }
        for s in all {
            assert_eq!(status(&digit(s).to_string()), s);
        }
        assert_eq!(status("x"), Status::Offline);
    }
}
