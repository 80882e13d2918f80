//! Typing: per (channel, user) states that expire `typing_ttl_ms` after the last counted
//! `typing:start` (at most one counts per `typing_throttle_ms`), ended by `typing:stop`, by a
//! sent message and by the disconnect of the device that typed. Every change of a channel's
//! set of typers sends `typing:indicator` with the whole set, in start order, to the channel's
//! members; the set a member gets never lists themselves, and the user whose change it was
//! gets nothing.
//!
//! Across nodes every node mirrors every typing state: changes travel as `typing` envelopes
//! ([`crate::hub::ephemeral`]), so the set a node announces includes typers of all nodes. ONE
//! ticker per process ([`start_ticker`]) expires this node's states (announced to every node)
//! and mirrored states whose node never ended them (corrected on this node's sockets only).

mod table;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use banter_proto::ws::{ServerEvent, TypingIndicator};
use uuid::Uuid;

use self::table::{Channels, Start};
use crate::error::AppError;
use crate::hub::ephemeral::StateChange;
use crate::hub::ConnId;
use crate::service::channels::require_member;
use crate::state::AppState;

/// Stripes of the table (each a mutex over its channels).
const STRIPES: usize = 16;

/// The process's typing table, striped by channel. Cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    /// std locks: held for map operations and non-blocking hub offers, never across an
    /// `.await`; a channel's indicator is published under its stripe so announcements of one
    /// channel keep the order of its changes.
    stripes: Arc<[Mutex<Channels>]>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker { stripes: (0..STRIPES).map(|_| Mutex::default()).collect() }
    }
}

impl Tracker {
    fn stripe(&self, channel: Uuid) -> MutexGuard<'_, Channels> {
        let (high, low) = channel.as_u64_pair();
        self.stripes[((high ^ low) % STRIPES as u64) as usize].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies another node's change to the mirror (no announcement: its frame carries one).
    fn remote(&self, change: StateChange, ttl: Duration) {
        let mut typers = self.stripe(change.channel);
        if change.on {
            typers.start(change.channel, change.user, None, Instant::now(), ttl, Duration::ZERO);
        } else {
            typers.stop(change.channel, change.user);
        }
    }
}

/// `typing:start` from `conn`. A start within `typing_throttle_ms` of the user's last counted
/// one in the channel is ignored (no error, no membership read). Errors: `not_found`,
/// `not_a_member`.
pub async fn start(state: &AppState, user: Uuid, conn: ConnId, channel: Uuid) -> Result<(), AppError> {
    let (ttl, throttle) = durations(state);
    if state.typing.stripe(channel).throttled(channel, user, Instant::now(), throttle) {
        return Ok(());
    }
    require_member(state, user, channel).await?;
    let mut typers = state.typing.stripe(channel);
    match typers.start(channel, user, Some(conn), Instant::now(), ttl, throttle) {
        Start::Ignored => {}
        Start::Refreshed => state.hub.publish_typing(StateChange { channel, user, on: true }, &[], None),
        Start::Added => announce(state, &typers, channel, user, true),
    }
    Ok(())
}

/// `typing:stop` from `conn`: the user's state in the channel ends (from whichever device).
/// Errors: `not_found`, `not_a_member`.
pub async fn stop(state: &AppState, user: Uuid, _conn: ConnId, channel: Uuid) -> Result<(), AppError> {
    require_member(state, user, channel).await?;
    sent(state, user, channel);
    Ok(())
}

/// `user` sent a message in `channel`: their typing state there ends.
pub fn sent(state: &AppState, user: Uuid, channel: Uuid) {
    let mut typers = state.typing.stripe(channel);
    if typers.stop(channel, user) {
        announce(state, &typers, channel, user, false);
    }
}

/// `conn` of `user` disconnected: the typing states whose last counted start came from it end.
pub fn disconnected(state: &AppState, user: Uuid, conn: ConnId) {
    for stripe in state.typing.stripes.iter() {
        let mut typers = stripe.lock().unwrap_or_else(PoisonError::into_inner);
        for (channel, typer) in typers.drop_conn(conn) {
            debug_assert_eq!(typer, user);
            announce(state, &typers, channel, typer, false);
        }
    }
}

/// Registers the mirror of other nodes' typing states with the hub and starts the process's
/// one expiry ticker (every quarter `typing_ttl_ms`, 20–500 ms). Runs until
/// [`AppState::stop`] is cancelled.
pub fn start_ticker(state: AppState) -> tokio::task::JoinHandle<()> {
    let (ttl, _) = durations(&state);
    let mirror = state.typing.clone();
    state.hub.listen_typing(Box::new(move |change| mirror.remote(change, ttl)));
    let period = (ttl / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => expire(&state, ttl),
                _ = state.stop.cancelled() => return,
            }
        }
    })
}

/// Ends expired states: this node's are announced everywhere; mirrored ones still there a
/// `ttl` after expiring (their node is gone) are corrected on this node's sockets only.
fn expire(state: &AppState, ttl: Duration) {
    let now = Instant::now();
    for stripe in state.typing.stripes.iter() {
        let mut typers = stripe.lock().unwrap_or_else(PoisonError::into_inner);
        for (channel, user, mirrored) in typers.expire(now, ttl) {
            if mirrored {
                correct_here(state, &typers, channel, user);
            } else {
                announce(state, &typers, channel, user, false);
            }
        }
    }
}

/// `(typing_ttl_ms, typing_throttle_ms)`.
fn durations(state: &AppState) -> (Duration, Duration) {
    let config = &state.config;
    (Duration::from_millis(config.typing_ttl_ms), Duration::from_millis(config.typing_throttle_ms))
}

/// The indicator for `channel` as seen by `viewer` (`None`: by someone not typing there).
fn indicator(channel: Uuid, users: &[Uuid], viewer: Option<Uuid>) -> ServerEvent {
    let user_ids = users.iter().copied().filter(|u| Some(*u) != viewer).collect();
    ServerEvent::TypingIndicator(TypingIndicator { channel_id: channel, user_ids })
}

/// Who gets which frame after `user` changed the set of `channel`: the typers each get the
/// set without themselves, everyone else but `user` the whole set.
fn recipients(typers: &Channels, channel: Uuid, user: Uuid) -> (Vec<Uuid>, Vec<Uuid>) {
    let users = typers.users(channel);
    let mut except = users.clone();
    if !except.contains(&user) {
        except.push(user);
    }
    (users, except)
}

/// Announces `user`'s change of `channel`'s set on every node (under the channel's stripe).
fn announce(state: &AppState, typers: &Channels, channel: Uuid, user: Uuid, on: bool) {
    let (users, except) = recipients(typers, channel, user);
    let change = StateChange { channel, user, on };
    state.hub.publish_typing(change, &except, Some(&indicator(channel, &users, None)));
    for typer in users.iter().filter(|t| **t != user) {
        state.hub.to_users(&[*typer], &indicator(channel, &users, Some(*typer)));
    }
}

/// Like [`announce`], on this node's sockets only.
fn correct_here(state: &AppState, typers: &Channels, channel: Uuid, user: Uuid) {
    let (users, except) = recipients(typers, channel, user);
    state.hub.typing_here(channel, &except, &indicator(channel, &users, None));
    for typer in users.iter().filter(|t| **t != user) {
        state.hub.to_users_here(&[*typer], &indicator(channel, &users, Some(*typer)));
    }
}
