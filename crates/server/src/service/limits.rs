//! Rate limits and brute-force protection, with `governor`'s keyed GCRA limiters: auth
//! requests per IP, message sends per user (burst + sustained), WebSocket upgrades per IP, and
//! a growing delay for an account after repeated failed logins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::Config;
use crate::error::AppError;

/// Failed logins for one account that cost nothing extra.
const FREE_FAILURES: u32 = 5;
/// Longest delay an account's failures can impose.
const MAX_LOCK: Duration = Duration::from_secs(300);
/// A failure streak is forgotten after this long without another failure.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);

/// Every limiter of the process; cheap to share behind an `Arc`.
pub struct RateLimits {
    auth_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    sends_per_user: DefaultKeyedRateLimiter<Uuid>,
    upgrades_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Lower-cased username → failure streak. std Mutex: short map operations, never held
    /// across an `.await`.
    failures: Mutex<HashMap<String, Streak>>,
    clock: DefaultClock,
}

struct Streak {
    count: u32,
    last: Instant,
    locked_until: Instant,
}

/// `n` per `period`, bursting to `burst` (both at least 1).
fn quota(n: u32, period: Duration, burst: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("non-zero");
    let burst = NonZeroU32::new(burst.max(1)).expect("non-zero");
    Quota::with_period(period / n.get()).expect("positive period").allow_burst(burst)
}

impl RateLimits {
    /// Limiters with the configured rates.
    pub fn new(config: &Config) -> Self {
        let minute = Duration::from_secs(60);
        Self {
            auth_per_ip: RateLimiter::keyed(quota(config.rate_auth_per_minute, minute, config.rate_auth_per_minute)),
            sends_per_user: RateLimiter::keyed(quota(
                config.rate_messages_per_second,
                Duration::from_secs(1),
                config.rate_messages_burst,
            )),
            upgrades_per_ip: RateLimiter::keyed(quota(
                config.rate_upgrades_per_minute,
                minute,
                config.rate_upgrades_per_minute,
            )),
            failures: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), AppError> {
        limiter.check_key(key).map_err(|not_until| AppError::RateLimited(not_until.wait_time_from(self.clock.now())))
    }

    /// One register or login attempt from `ip`. Error: `rate_limited` with the wait.
    pub fn auth(&self, ip: IpAddr) -> Result<(), AppError> {
        self.check(&self.auth_per_ip, &ip)
    }

    /// One message send by `user`. Error: `rate_limited` with the wait.
    pub fn send(&self, user: Uuid) -> Result<(), AppError> {
        self.check(&self.sends_per_user, &user)
    }

    /// One WebSocket upgrade from `ip`. Error: `rate_limited` with the wait.
    pub fn upgrade(&self, ip: IpAddr) -> Result<(), AppError> {
        self.check(&self.upgrades_per_ip, &ip)
    }

    fn streaks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Streak>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `username` may try a password now: after [`FREE_FAILURES`] failures each further
    /// one doubles the wait (1 s, 2 s, 4 s, ... up to 5 min). Error: `rate_limited`.
    pub fn login_allowed(&self, username: &str) -> Result<(), AppError> {
        let now = Instant::now();
        match self.streaks().get(&username.to_lowercase()) {
            Some(streak) if streak.locked_until > now => Err(AppError::RateLimited(streak.locked_until - now)),
            _ => Ok(()),
        }
    }

    /// Records a failed login for `username`.
    pub fn login_failed(&self, username: &str) {
        let now = Instant::now();
        let mut streaks = self.streaks();
        let streak =
            streaks.entry(username.to_lowercase()).or_insert(Streak { count: 0, last: now, locked_until: now });
        if now.duration_since(streak.last) > FAILURE_MEMORY {
            streak.count = 0;
        }
        streak.count += 1;
        streak.last = now;
        if streak.count > FREE_FAILURES {
            let exponent = (streak.count - FREE_FAILURES - 1).min(16);
            streak.locked_until = now + Duration::from_secs(1u64 << exponent).min(MAX_LOCK);
        }
    }

    /// Clears `username`'s failure streak after a successful login.
    pub fn login_succeeded(&self, username: &str) {
        self.streaks().remove(&username.to_lowercase());
    }

    /// Forgets idle keys so memory stays bounded; call periodically.
    pub fn prune(&self) {
        self.auth_per_ip.retain_recent();
        self.sends_per_user.retain_recent();
        self.upgrades_per_ip.retain_recent();
        let now = Instant::now();
        self.streaks().retain(|_, s| s.locked_until > now || now.duration_since(s.last) < FAILURE_MEMORY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_logins_impose_a_growing_delay_and_success_clears_it() {
        let limits = RateLimits::new(&Config::for_tests(std::path::Path::new("/tmp")));
        for _ in 0..FREE_FAILURES {
            limits.login_failed("Ana");
            assert!(limits.login_allowed("ana").is_ok());
        }
        limits.login_failed("ana");
        let Err(AppError::RateLimited(first)) = limits.login_allowed("ANA") else { panic!("locked") };
        limits.login_failed("ana");
        let Err(AppError::RateLimited(second)) = limits.login_allowed("ana") else { panic!("locked") };
        assert!(first <= Duration::from_secs(1) && second > Duration::from_secs(1), "{first:?} then {second:?}");
        assert!(limits.login_allowed("ben").is_ok(), "per account");
        limits.login_succeeded("ana");
        assert!(limits.login_allowed("ana").is_ok());
    }

    #[test]
    fn sends_allow_a_burst_then_limit() {
        let mut config = Config::for_tests(std::path::Path::new("/tmp"));
        (config.rate_messages_per_second, config.rate_messages_burst) = (1, 3);
        let limits = RateLimits::new(&config);
        let user = Uuid::now_v7();
        for _ in 0..3 {
            assert!(limits.send(user).is_ok());
        }
        assert!(matches!(limits.send(user), Err(AppError::RateLimited(wait)) if wait <= Duration::from_secs(1)));
        assert!(limits.send(Uuid::now_v7()).is_ok(), "per user");
    }
}
