//! The API's rate limits: token buckets held in this process's memory, one per API key and
//! budget (general, publishing) and one per client address for failed authentications. A
//! bucket holds at most `burst` tokens, refills at `per_minute / 60` tokens a second, and each
//! request takes one. Nothing here knows HTTP or SQL: `api` turns a `Reading` into headers and
//! a 429, `services::rate_limits` stores an app's own budgets, `config` the instance's.
//!
//! Memory only, on purpose: a bucket changes on every request, and writing it would turn every
//! read of the API into a database write. A restart therefore starts every bucket full, which
//! at worst grants one extra burst per key and address; the README says so.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// One budget: a bucket of `burst` requests refilled at `per_minute`. A `per_minute` of 0
/// turns the limit off (no bucket, no headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_minute: u32,
    pub burst: u32,
}

impl Budget {
    pub fn is_off(self) -> bool {
        self.per_minute == 0
    }

    fn capacity(self) -> f64 {
        f64::from(self.burst.max(1))
    }
}

/// Which bucket a request draws from; named in `X-RateLimit-Resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Every authenticated request but the publishing ones.
    General,
    /// `POST /v1/posts` and `POST /v1/posts/scheduled`.
    Publishing,
    /// Requests with a missing or invalid key, per client address.
    FailedAuth,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::General => "general",
            Resource::Publishing => "publishing",
            Resource::FailedAuth => "failed-auth",
        }
    }
}

/// What a bucket says after a request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub resource: Resource,
    pub budget: Budget,
    /// The bucket's size (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Whole requests the bucket allows right now (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`X-RateLimit-Reset`); 0 when it is full.
    pub reset_secs: u64,
    /// When refused: seconds until the next request is allowed (`Retry-After`), at least 1.
    pub retry_after_secs: Option<u64>,
    /// A refusal that follows an allowed request (the first of a run of refusals), so a client
    /// retrying in a loop can be recorded once per run rather than once per attempt.
    pub first_refusal: bool,
}

impl Reading {
    pub fn refused(&self) -> bool {
        self.retry_after_secs.is_some()
    }
}

/// Within this much of a whole token counts as the whole token, so that float rounding never
/// turns a full bucket into "1 second until full".
const EPSILON: f64 = 1e-9;

struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
    budget: Budget,
    /// The last request was refused.
    refusing: bool,
}

impl Bucket {
    fn full(budget: Budget, now: DateTime<Utc>) -> Self {
        Self {
            tokens: budget.capacity(),
            at: now,
            budget,
            refusing: false,
        }
    }

    /// Adds what the time since the last look earned, under `budget` (an app's budget may have
    /// changed since: a smaller bucket keeps at most its new size).
    fn refill(&mut self, budget: Budget, now: DateTime<Utc>) {
        if budget != self.budget {
            self.tokens = self.tokens.min(budget.capacity());
            self.budget = budget;
        }
        // A clock set back earns nothing, and the later time stays the reference, so the
        // same interval is never counted twice.
        if now > self.at {
            // Multiplying before dividing keeps whole numbers whole (0.1 s at 600 a minute is
            // exactly one token).
            let micros = (now - self.at).num_microseconds().unwrap_or(i64::MAX) as f64;
            let earned = micros * f64::from(budget.per_minute) / 60e6;
            self.tokens = (self.tokens + earned).min(budget.capacity());
            self.at = now;
        }
    }

    fn is_full(&self) -> bool {
        self.tokens + EPSILON >= self.budget.capacity()
    }

    fn seconds_until(&self, tokens: f64) -> u64 {
        let missing = tokens - self.tokens;
        if missing <= EPSILON {
            return 0;
        }
        ((missing - EPSILON) * 60.0 / f64::from(self.budget.per_minute)).ceil() as u64
    }

    /// The bucket's state after a request it allowed or refused; a refusal is noted, so the
    /// next one is not the first of its run.
    fn reading(&mut self, resource: Resource, refused: bool) -> Reading {
        let first_refusal = refused && !self.refusing;
        self.refusing = refused;
        Reading {
            resource,
            budget: self.budget,
            limit: self.budget.burst.max(1),
            remaining: (self.tokens + EPSILON).floor().max(0.0) as u32,
            reset_secs: self.seconds_until(self.budget.capacity()),
            retry_after_secs: refused.then(|| self.seconds_until(1.0).max(1)),
            first_refusal,
        }
    }
}

/// Buckets under one lock, keyed by `K`. A full bucket is the same as no bucket, so a sweep
/// drops the full ones whenever the map has doubled since the last sweep: memory stays
/// proportional to the keys and addresses active within about a refill period.
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 1024;

impl<K: Hash + Eq> Buckets<K> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            sweep_at: FIRST_SWEEP,
        }
    }

    fn refilled(&mut self, key: K, budget: Budget, now: DateTime<Utc>) -> &mut Bucket {
        if self.map.len() >= self.sweep_at {
            self.map.retain(|_, bucket| {
                bucket.refill(bucket.budget, now);
                !bucket.is_full()
            });
            self.sweep_at = (self.map.len() * 2).max(FIRST_SWEEP);
        }
        let bucket = self
            .map
            .entry(key)
            .or_insert_with(|| Bucket::full(budget, now));
        bucket.refill(budget, now);
        bucket
    }
}

/// Every bucket of the process. One lock per map: each critical section is a hash lookup and
/// a little arithmetic, far shorter than the request around it.
pub struct Limiter {
    keys: Mutex<Buckets<(String, String, Resource)>>,
    addresses: Mutex<Buckets<IpAddr>>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self::new()
    }
}

impl Limiter {
    pub fn new() -> Self {
        Self {
            keys: Mutex::new(Buckets::new()),
            addresses: Mutex::new(Buckets::new()),
        }
    }

    /// One request of key `key_id` (of app `app_id`) against its `resource` budget: takes a
    /// token when there is one. `None` when the budget is off.
    pub fn take(
        &self,
        app_id: &str,
        key_id: &str,
        resource: Resource,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Option<Reading> {
        if budget.is_off() {
            return None;
        }
        let mut buckets = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.refilled(
            (app_id.to_string(), key_id.to_string(), resource),
            budget,
            now,
        );
        Some(take_one(bucket, resource))
    }

    /// Before a key is checked: the refusal for an address that has used up its failed
    /// authentications, or `None` when it may try (or the limit is off).
    pub fn address_refusal(
        &self,
        address: IpAddr,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Option<Reading> {
        if budget.is_off() {
            return None;
        }
        let mut buckets = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.refilled(address_key(address), budget, now);
        (bucket.tokens + EPSILON < 1.0).then(|| bucket.reading(Resource::FailedAuth, true))
    }

    /// After a key was refused: one failed authentication of `address`. Requests with a valid
    /// key cost the address nothing.
    pub fn address_failure(
        &self,
        address: IpAddr,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Option<Reading> {
        if budget.is_off() {
            return None;
        }
        let mut buckets = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.refilled(address_key(address), budget, now);
        // Concurrent failures may all have passed `address_refusal`: each still counts, and
        // the bucket stops at empty.
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        Some(bucket.reading(Resource::FailedAuth, false))
    }
}

fn take_one(bucket: &mut Bucket, resource: Resource) -> Reading {
    if bucket.tokens + EPSILON >= 1.0 {
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        bucket.reading(resource, false)
    } else {
        bucket.reading(resource, true)
    }
}

/// The bucket an address counts against: itself for IPv4, its /64 for IPv6, since one host
/// usually holds a whole /64 and could otherwise try keys from billions of addresses.
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    const GENERAL: Budget = Budget {
        per_minute: 600,
        burst: 60,
    };

    fn at(seconds: f64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::microseconds((seconds * 1e6) as i64)
    }

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let limiter = Limiter::new();
        let take = |t: f64| {
            limiter
                .take("app", "key", Resource::General, GENERAL, at(t))
                .unwrap()
        };
        let first = take(0.0);
        assert_eq!(
            (first.limit, first.remaining, first.reset_secs),
            (60, 59, 1)
        );
        for n in 1..60 {
            let reading = take(0.0);
            assert!(!reading.refused(), "request {n}");
            assert_eq!(reading.remaining, 59 - n);
        }
        let refused = take(0.0);
        assert_eq!(
            refused.retry_after_secs,
            Some(1),
            "10 a second: 0.1 s, rounded up"
        );
        assert_eq!((refused.remaining, refused.reset_secs), (0, 6));
        assert!(refused.first_refusal);
        assert!(!take(0.0).first_refusal, "the second refusal in a row");
        // A tenth of a second later one more is allowed, and only one.
        assert!(!take(0.1).refused());
        assert!(take(0.1).first_refusal, "a new run of refusals");
        // A minute later the bucket is full again, never fuller.
        let full = take(60.0);
        assert_eq!((full.remaining, full.reset_secs), (59, 1));
    }

    #[test]
    fn budgets_keys_and_apps_do_not_share_buckets() {
        let limiter = Limiter::new();
        let tiny = Budget {
            per_minute: 1,
            burst: 1,
        };
        assert!(
            !limiter
                .take("a", "k", Resource::Publishing, tiny, at(0.0))
                .unwrap()
                .refused()
        );
        let refused = limiter
            .take("a", "k", Resource::Publishing, tiny, at(0.0))
            .unwrap();
        assert_eq!(refused.retry_after_secs, Some(60));
        assert!(
            !limiter
                .take("a", "k", Resource::General, tiny, at(0.0))
                .unwrap()
                .refused()
        );
        assert!(
            !limiter
                .take("a", "k2", Resource::Publishing, tiny, at(0.0))
                .unwrap()
                .refused()
        );
        assert!(
            !limiter
                .take("b", "k", Resource::Publishing, tiny, at(0.0))
                .unwrap()
                .refused()
        );
    }

    #[test]
    fn a_smaller_budget_applies_at_once_and_off_means_no_bucket() {
        let limiter = Limiter::new();
        limiter.take("a", "k", Resource::General, GENERAL, at(0.0));
        let smaller = Budget {
            per_minute: 60,
            burst: 2,
        };
        let reading = limiter
            .take("a", "k", Resource::General, smaller, at(0.0))
            .unwrap();
        assert_eq!((reading.limit, reading.remaining), (2, 1));
        assert!(
            !limiter
                .take("a", "k", Resource::General, smaller, at(0.0))
                .unwrap()
                .refused()
        );
        assert!(
            limiter
                .take("a", "k", Resource::General, smaller, at(0.0))
                .unwrap()
                .refused()
        );
        let off = Budget {
            per_minute: 0,
            burst: 2,
        };
        assert_eq!(
            limiter.take("a", "k", Resource::General, off, at(0.0)),
            None
        );
    }

    #[test]
    fn failed_authentications_count_per_address_and_ipv6_per_64() {
        let limiter = Limiter::new();
        let budget = Budget {
            per_minute: 30,
            burst: 30,
        };
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        for n in 0..30 {
            assert_eq!(limiter.address_refusal(v4, budget, at(0.0)), None, "{n}");
            let reading = limiter.address_failure(v4, budget, at(0.0)).unwrap();
            assert_eq!(reading.remaining, 29 - n);
        }
        let refused = limiter.address_refusal(v4, budget, at(0.0)).unwrap();
        assert_eq!(refused.retry_after_secs, Some(2));
        assert_eq!(refused.resource, Resource::FailedAuth);
        assert_eq!(
            limiter.address_refusal("203.0.113.8".parse().unwrap(), budget, at(0.0)),
            None
        );
        assert_eq!(limiter.address_refusal(v4, budget, at(2.0)), None);

        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        for _ in 0..30 {
            limiter.address_failure(one, budget, at(0.0));
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.address_refusal(same_64, budget, at(0.0)).is_some());
        assert_eq!(limiter.address_refusal(other_64, budget, at(0.0)), None);
    }

    #[test]
    fn a_clock_set_back_earns_nothing() {
        let limiter = Limiter::new();
        let tiny = Budget {
            per_minute: 60,
            burst: 1,
        };
        limiter.take("a", "k", Resource::General, tiny, at(100.0));
        assert!(
            limiter
                .take("a", "k", Resource::General, tiny, at(50.0))
                .unwrap()
                .refused()
        );
        assert!(
            !limiter
                .take("a", "k", Resource::General, tiny, at(101.0))
                .unwrap()
                .refused()
        );
    }

    #[test]
    fn sweeps_forget_only_full_buckets() {
        let mut buckets: Buckets<u32> = Buckets::new();
        let budget = Budget {
            per_minute: 60,
            burst: 1,
        };
        // Emptied at t = 0 (no sweep yet: the map reaches its size only with the last one).
        for n in 0..FIRST_SWEEP as u32 {
            buckets.refilled(n, budget, at(0.0)).tokens = 0.0;
        }
        // Half of them were emptied again at t = 1.
        for n in 0..FIRST_SWEEP as u32 / 2 {
            buckets.map.get_mut(&n).unwrap().at = at(1.0);
        }
        // At t = 1.5 the others are full again: the sweep drops them.
        buckets.refilled(u32::MAX, budget, at(1.5));
        assert_eq!(buckets.map.len(), FIRST_SWEEP / 2 + 1);
        assert_eq!(buckets.sweep_at, FIRST_SWEEP);
        assert!(buckets.map.contains_key(&0));
        assert!(!buckets.map.contains_key(&(FIRST_SWEEP as u32 - 1)));
    }
}
