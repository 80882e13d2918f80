//! Who is typing where, as plain data: per channel, the typers in the order they started,
//! each with the device that last counted (`None` when that was on another node), when that
//! start counted and when the state expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::hub::ConnId;

/// One typing user in one channel.
#[derive(Debug, Clone, Copy)]
struct Typer {
    user: Uuid,
    /// The device whose start counted last; `None` for a start on another node (a mirror).
    conn: Option<ConnId>,
    counted_at: Instant,
    expires_at: Instant,
}

/// What a `typing:start` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Within the throttle window of the last counted start: ignored.
    Ignored,
    /// The user was typing already: the state lives on.
    Refreshed,
    /// The user joined the channel's set of typers.
    Added,
}

/// Typers per channel.
#[derive(Default)]
pub struct Channels {
    typers: HashMap<Uuid, Vec<Typer>>,
}

impl Channels {
    /// Whether a start by `user` in `channel` at `now` falls in the throttle window.
    pub fn throttled(&self, channel: Uuid, user: Uuid, now: Instant, throttle: Duration) -> bool {
        self.find(channel, user).is_some_and(|t| now < t.counted_at + throttle)
    }

    /// Counts a start (unless throttled): the state expires `ttl` after `now`.
    pub fn start(
        &mut self,
        channel: Uuid,
        user: Uuid,
        conn: Option<ConnId>,
        now: Instant,
        ttl: Duration,
        throttle: Duration,
    ) -> Start {
        let typers = self.typers.entry(channel).or_default();
        let fresh = Typer { user, conn, counted_at: now, expires_at: now + ttl };
        match typers.iter_mut().find(|t| t.user == user) {
            Some(t) if now < t.counted_at + throttle => Start::Ignored,
            Some(t) => {
                *t = fresh;
                Start::Refreshed
            }
            None => {
                typers.push(fresh);
                Start::Added
            }
        }
    }

    /// Ends `user`'s state in `channel`; `false` if they were not typing there.
    pub fn stop(&mut self, channel: Uuid, user: Uuid) -> bool {
        let Some(typers) = self.typers.get_mut(&channel) else { return false };
        let before = typers.len();
        typers.retain(|t| t.user != user);
        let removed = typers.len() < before;
        if typers.is_empty() {
            self.typers.remove(&channel);
        }
        removed
    }

    /// The users typing in `channel`, in the order they started.
    pub fn users(&self, channel: Uuid) -> Vec<Uuid> {
        self.typers.get(&channel).map_or_else(Vec::new, |t| t.iter().map(|t| t.user).collect())
    }

    /// Ends the states whose last counted start came from `conn`; returns `(channel, user)`.
    pub fn drop_conn(&mut self, conn: ConnId) -> Vec<(Uuid, Uuid)> {
        self.take(|t| t.conn == Some(conn))
    }

    /// Ends states of this node that expired by `now`, and mirrored ones from other nodes
    /// expired for longer than `slack` (their node should have ended them); returns
    /// `(channel, user, mirrored)`.
    pub fn expire(&mut self, now: Instant, slack: Duration) -> Vec<(Uuid, Uuid, bool)> {
        let local = self.take(|t| t.conn.is_some() && t.expires_at <= now);
        let mirrored = self.take(|t| t.conn.is_none() && t.expires_at + slack <= now);
        let local = local.into_iter().map(|(channel, user)| (channel, user, false));
        local.chain(mirrored.into_iter().map(|(channel, user)| (channel, user, true))).collect()
    }

    fn take(&mut self, mut pred: impl FnMut(&Typer) -> bool) -> Vec<(Uuid, Uuid)> {
        let mut out = Vec::new();
        self.typers.retain(|channel, typers| {
            typers.retain(|t| {
                let ended = pred(t);
                if ended {
                    out.push((*channel, t.user));
                }
                !ended
            });
            !typers.is_empty()
        });
        out
    }

    fn find(&self, channel: Uuid, user: Uuid) -> Option<&Typer> {
        self.typers.get(&channel)?.iter().find(|t| t.user == user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(6);
    const THROTTLE: Duration = Duration::from_secs(2);

    #[test]
    fn starts_are_throttled_ordered_and_expire() {
        let (mut t, c, now) = (Channels::default(), Uuid::now_v7(), Instant::now());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(t.start(c, a, Some(1), now, TTL, THROTTLE), Start::Added);
        assert_eq!(t.start(c, b, None, now, TTL, THROTTLE), Start::Added);
        assert!(t.throttled(c, a, now + THROTTLE / 2, THROTTLE));
        assert_eq!(t.start(c, a, Some(1), now + THROTTLE / 2, TTL, THROTTLE), Start::Ignored);
        assert_eq!(t.start(c, a, Some(1), now + THROTTLE, TTL, THROTTLE), Start::Refreshed);
        assert_eq!(t.users(c), vec![a, b], "start order is kept");
        assert_eq!(t.expire(now + TTL, TTL), vec![], "a refreshed, b mirrored with slack");
        assert_eq!(t.expire(now + THROTTLE + TTL, TTL), vec![(c, a, false)]);
        assert_eq!(t.expire(now + TTL * 2, TTL), vec![(c, b, true)]);
        assert!(t.typers.is_empty());
    }

    #[test]
    fn stop_and_disconnect_end_states() {
        let (mut t, c, now) = (Channels::default(), Uuid::now_v7(), Instant::now());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        t.start(c, a, Some(1), now, TTL, THROTTLE);
        t.start(c, b, Some(2), now, TTL, THROTTLE);
        assert!(t.stop(c, a) && !t.stop(c, a));
        assert_eq!(t.drop_conn(1), vec![]);
        assert_eq!(t.drop_conn(2), vec![(c, b)]);
        assert_eq!(t.users(c), Vec::<Uuid>::new());
    }
}
