//! A per-address rate limit for sign-in, registration and invitation codes: a token bucket per
//! client address, kept in memory (a restart forgets it, which only relaxes the limit).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    /// Attempts allowed at once.
    burst: f64,
    /// Attempts regained per second.
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before full ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// `burst` attempts at once, then one more every `refill`.
    pub fn new(burst: u32, refill: Duration) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: 1.0 / refill.as_secs_f64().max(0.001),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `key`; `Err(seconds)` says how long until the next one is allowed.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() >= MAX_BUCKETS {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        let available = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if available >= 1.0 {
            *tokens = available - 1.0;
            Ok(())
        } else {
            *tokens = available;
            Err(((1.0 - available) / self.per_second).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refills() {
        let limit = RateLimiter::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limit.check_at("10.0.0.1", t0).is_ok());
        }
        let wait = limit.check_at("10.0.0.1", t0).unwrap_err();
        assert_eq!(wait, 10);
        assert!(limit.check_at("10.0.0.2", t0).is_ok(), "addresses are counted apart");
        assert!(limit.check_at("10.0.0.1", t0 + Duration::from_secs(10)).is_ok(), "one attempt regained");
        assert!(limit.check_at("10.0.0.1", t0 + Duration::from_secs(10)).is_err());
    }
}
