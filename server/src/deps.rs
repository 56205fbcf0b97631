//! External dependencies probed for readiness.

#[cfg(feature = "redis")]
mod redis_probe {
    use std::time::Duration;

    /// Redis as `/health/ready` sees it: a fresh connection and a `PING` per probe, so a
    /// Redis that comes back is noticed without any reconnect logic here.
    pub struct Redis {
        client: redis::Client,
    }

    impl Redis {
        pub fn new(url: &str) -> Result<Self, String> {
            redis::Client::open(url)
                .map(|client| Self { client })
                .map_err(|e| format!("bad redis_url: {e}"))
        }

        pub async fn ping(&self, timeout: Duration) -> Result<(), String> {
            let probe = async {
                let mut conn = self
                    .client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            tokio::time::timeout(timeout, probe)
                .await
                .unwrap_or_else(|_| Err("timed out".into()))
        }
    }
}

#[cfg(feature = "redis")]
pub use redis_probe::Redis;

/// Without Redis support there is never a Redis to probe; the configuration refuses a
/// `redis_url` in such a build.
#[cfg(not(feature = "redis"))]
pub enum Redis {}

#[cfg(not(feature = "redis"))]
impl Redis {
    pub fn new(_url: &str) -> Result<Self, String> {
        Err("this build has no Redis support".into())
    }

    pub async fn ping(&self, _timeout: std::time::Duration) -> Result<(), String> {
        match *self {}
    }
}
