//! Per-connection token bucket. Time comes in as an argument so the limiter is tested
//! without waiting.

use std::time::{Duration, Instant};

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Over the limit: drop this message and say so.
    Limited,
    /// Still sending after a burst's worth of refusals: disconnect.
    Abuse,
}

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Refusals since the last allowed message.
    strikes: u32,
}

impl RateLimiter {
    pub fn new(per_sec: u32, burst: u32, now: Instant) -> Self {
        Self {
            rate: f64::from(per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
            strikes: 0,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            return Verdict::Allow;
        }
        self.strikes += 1;
        if f64::from(self.strikes) > self.burst {
            Verdict::Abuse
        } else {
            Verdict::Limited
        }
    }

    /// How long until one more message would be allowed.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_then_abuse() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(10, 5, t0);
        for _ in 0..5 {
            assert_eq!(rl.check(t0), Verdict::Allow);
        }
        assert_eq!(rl.check(t0), Verdict::Limited);
        assert!(rl.retry_after() > Duration::ZERO);
        // 100 ms at 10/s refills one token.
        assert_eq!(rl.check(t0 + Duration::from_millis(100)), Verdict::Allow);
        let t1 = t0 + Duration::from_millis(100);
        for _ in 0..5 {
            assert_eq!(rl.check(t1), Verdict::Limited);
        }
        assert_eq!(rl.check(t1), Verdict::Abuse);
    }

    #[test]
    fn never_exceeds_burst() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(10, 3, t0);
        let later = t0 + Duration::from_secs(3600);
        let allowed = (0..10)
            .filter(|_| rl.check(later) == Verdict::Allow)
            .count();
        assert_eq!(allowed, 3);
    }
}
