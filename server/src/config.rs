//! Configuration: defaults → TOML file (unknown keys rejected) → `PARLOR_*` environment →
//! command-line flags, then one [`Config::validate`] that reports every problem at once.

use clap::Parser;
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The server's settings after every source has been merged.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address for HTTP and WebSocket.
    pub listen: SocketAddr,
    /// Where the SQLite database and the generated token secret live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Redis for shared ephemeral state; `None` keeps it in-process.
    pub redis_url: Option<String>,
    /// This node's name in a cluster; `None` means a random one per start.
    pub node_id: Option<String>,
    /// In a cluster, this node takes no new meetings while it runs this many rooms.
    pub max_rooms: Option<usize>,
    pub log_format: LogFormat,
    /// HS256 key for tokens; `None` means generate once and keep it in `data_dir`. Nodes of one
    /// cluster must share it.
    pub token_secret: Option<String>,
    pub token_ttl: Seconds,
    /// Largest signaling message answered normally; larger ones get `message_too_large`.
    pub max_message_bytes: usize,
    /// Sustained signaling messages per second per connection.
    pub rate_limit_per_sec: u32,
    /// Messages a connection may send in a burst above the sustained rate.
    pub rate_limit_burst: u32,
    pub max_participants: usize,
    /// Messages queued for one client before it is judged too slow and disconnected.
    pub outbound_queue: usize,
    /// How long a dropped participant may resume, and how long an empty meeting waits before
    /// it ends.
    pub reconnect_grace: Seconds,
    /// How often the server pings each WebSocket; three silent intervals drop it.
    pub heartbeat_interval: Seconds,
    /// Chat messages a late joiner receives in `joined`.
    pub chat_history: usize,
    /// First UDP port of the SFU; worker `i` uses `media_port + i`. 0 picks free ports.
    pub media_port: u16,
    /// Address the media sockets bind to; `None` means the HTTP listen address.
    pub media_bind: Option<IpAddr>,
    /// Address put in ICE candidates, where clients reach the media ports; `None` means the
    /// bind address.
    pub public_ip: Option<IpAddr>,
    /// Media worker threads, each with its own socket; rooms are spread over them.
    pub media_workers: usize,
    /// Serve a local network: HTTPS with a self-signed certificate kept in `data_dir` (plain
    /// HTTP for this machine only) and an mDNS advert.
    pub lan: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: default_data_dir(),
            database_url: None,
            redis_url: None,
            node_id: None,
            max_rooms: None,
            log_format: LogFormat::Text,
            token_secret: None,
            token_ttl: Seconds(Duration::from_secs(12 * 3600)),
            max_message_bytes: 64 * 1024,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            max_participants: 50,
            outbound_queue: 512,
            reconnect_grace: Seconds(Duration::from_secs(30)),
            heartbeat_interval: Seconds(Duration::from_secs(15)),
            chat_history: 100,
            media_port: 50000,
            media_bind: None,
            public_ip: None,
            media_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lan: false,
        }
    }
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("parlor")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A duration written as `30s`, `500ms`, `2m`, `1h` or a bare number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (num, unit) = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or((s, ""), |i| s.split_at(i));
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration (try 30s, 500ms, 2m)"))?;
        let factor = match unit.trim() {
            "" | "s" => 1.0,
            "ms" => 0.001,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
        };
        let secs = n * factor;
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("{s:?} is not a valid duration"));
        }
        Ok(Self(Duration::from_secs_f64(secs)))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Seconds::from_str(&n.to_string()),
            Raw::Text(t) => Seconds::from_str(&t),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The command line. Every option can also come from the environment variable named in its
/// help and from the TOML file given with `--config`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "parlor-server",
    version,
    about = "Parlor's server: accounts, meetings and authenticated signaling in one binary.",
    long_about = "Parlor's server: accounts, meetings and authenticated signaling in one binary.\n\n\
        With no options it listens on 127.0.0.1:8080, keeps a SQLite database and a generated \
        token secret in a per-user data directory, and keeps ephemeral state in-process.\n\n\
        Settings are read in this order, later ones winning: built-in defaults, the TOML file \
        given with --config (its keys are the long option names with '_' for '-'), PARLOR_* \
        environment variables, then these flags."
)]
pub struct Cli {
    /// TOML file with any of these settings; unknown keys are an error
    #[arg(long, env = "PARLOR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Instead of serving: ask the cluster's node NODE (found through --redis-url) to drain,
    /// that is take no new meetings, move its participants to other nodes and stop, and wait
    /// until it has left (at most a minute). SIGTERM drains the node that receives it
    #[arg(long, value_name = "NODE")]
    pub drain: Option<String>,
    #[command(flatten)]
    pub settings: Settings,
}

/// Every setting, optional: the flags, and also the keys of the TOML file.
#[derive(Debug, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on for HTTP and WebSocket [default: 127.0.0.1:8080]
    #[arg(long, env = "PARLOR_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and the generated token secret; created on first
    /// start [default: the per-user data directory, e.g. ~/.local/share/parlor]
    #[arg(long, env = "PARLOR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: SQLite in the data
    /// directory]
    #[arg(long, env = "PARLOR_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Redis for shared state between nodes, e.g. redis://127.0.0.1:6379 [default: none,
    /// state stays in this process]
    #[arg(long, env = "PARLOR_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// This node's name among the cluster's nodes (letters, digits, - and _) [default: a
    /// random one at each start]
    #[arg(long, env = "PARLOR_NODE_ID", value_name = "NAME")]
    pub node_id: Option<String>,
    /// In a cluster, take no new meetings while running this many rooms (other nodes get
    /// them) [default: no limit]
    #[arg(long, env = "PARLOR_MAX_ROOMS", value_name = "N")]
    pub max_rooms: Option<usize>,
    /// Log format: human-readable text or one JSON object per line [default: text]
    #[arg(long, env = "PARLOR_LOG_FORMAT", value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Secret for signing tokens (at least 32 characters); nodes of one cluster must share it
    /// [default: generated once and kept in the data directory]
    #[arg(
        long,
        env = "PARLOR_TOKEN_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub token_secret: Option<String>,
    /// How long issued tokens stay valid [default: 12h]
    #[arg(long, env = "PARLOR_TOKEN_TTL", value_name = "DURATION")]
    pub token_ttl: Option<Seconds>,
    /// Largest signaling message, in bytes, that is processed; larger ones are answered with
    /// `message_too_large` [default: 65536]
    #[arg(long, env = "PARLOR_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Sustained signaling messages per second allowed per connection [default: 50]
    #[arg(long, env = "PARLOR_RATE_LIMIT_PER_SEC", value_name = "N")]
    pub rate_limit_per_sec: Option<u32>,
    /// Burst of messages allowed above the sustained rate [default: 100]
    #[arg(long, env = "PARLOR_RATE_LIMIT_BURST", value_name = "N")]
    pub rate_limit_burst: Option<u32>,
    /// Most participants in one meeting [default: 50]
    #[arg(long, env = "PARLOR_MAX_PARTICIPANTS", value_name = "N")]
    pub max_participants: Option<usize>,
    /// Messages queued for one client before it is disconnected as too slow [default: 512]
    #[arg(long, env = "PARLOR_OUTBOUND_QUEUE", value_name = "N")]
    pub outbound_queue: Option<usize>,
    /// How long a participant whose connection dropped may resume, and how long an empty
    /// meeting waits before it ends [default: 30s]
    #[arg(long, env = "PARLOR_RECONNECT_GRACE", value_name = "DURATION")]
    pub reconnect_grace: Option<Seconds>,
    /// How often each WebSocket is pinged; a client silent for three intervals is dropped
    /// [default: 15s]
    #[arg(long, env = "PARLOR_HEARTBEAT_INTERVAL", value_name = "DURATION")]
    pub heartbeat_interval: Option<Seconds>,
    /// Recent chat messages sent to someone who joins [default: 100]
    #[arg(long, env = "PARLOR_CHAT_HISTORY", value_name = "N")]
    pub chat_history: Option<usize>,
    /// First UDP port for media; media worker i listens on this port + i, so keep the next
    /// few ports free too. 0 picks free ports [default: 50000]
    #[arg(long, env = "PARLOR_MEDIA_PORT", value_name = "PORT")]
    pub media_port: Option<u16>,
    /// Address the media ports bind to [default: the --listen address]
    #[arg(long, env = "PARLOR_MEDIA_BIND", value_name = "IP")]
    pub media_bind: Option<IpAddr>,
    /// Address announced to clients for media (ICE candidates): this machine's public or LAN
    /// address when binding to 0.0.0.0 or behind 1:1 NAT [default: the media bind address]
    #[arg(long, env = "PARLOR_PUBLIC_IP", value_name = "IP")]
    pub public_ip: Option<IpAddr>,
    /// Media worker threads, each with its own UDP port [default: the number of cores]
    #[arg(long, env = "PARLOR_MEDIA_WORKERS", value_name = "N")]
    pub media_workers: Option<usize>,
    /// Host for the local network: listen on every interface (port 8080 unless --listen
    /// says otherwise), serve HTTPS with a self-signed certificate kept in the data directory
    /// (its fingerprint is printed at start; plain HTTP is answered for this machine only),
    /// announce media on this machine's network address, and advertise over mDNS
    #[arg(
        long,
        env = "PARLOR_LAN",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub lan: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Applies every `Some` in `$src` over `$dst`, field by field.
macro_rules! overlay {
    ($dst:ident, $src:ident, [$($field:ident),* $(,)?], [$($opt:ident),* $(,)?]) => {
        $( if let Some(v) = $src.$field { $dst.$field = v; } )*
        $( if $src.$opt.is_some() { $dst.$opt = $src.$opt; } )*
    };
}

impl Config {
    /// Merges defaults, the file named by `cli.config` (if any) and the command line, whose
    /// values already include the environment.
    pub fn load(cli: Cli) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let mut listen_given = cli.settings.listen.is_some();
        if let Some(path) = &cli.config {
            let file = read_file(path)?;
            listen_given |= file.listen.is_some();
            config.apply(file);
        }
        config.apply(cli.settings);
        if config.lan {
            config.lan_defaults(listen_given);
        }
        config.validate()?;
        Ok(config)
    }

    fn apply(&mut self, s: Settings) {
        overlay!(
            self,
            s,
            [
                listen,
                data_dir,
                log_format,
                token_ttl,
                max_message_bytes,
                rate_limit_per_sec,
                rate_limit_burst,
                max_participants,
                outbound_queue,
                reconnect_grace,
                heartbeat_interval,
                chat_history,
                media_port,
                media_workers,
                lan
            ],
            [
                database_url,
                redis_url,
                node_id,
                token_secret,
                media_bind,
                public_ip
            ]
        );
    }

    /// What `lan` implies where nothing else was said: every interface, and media announced
    /// on this machine's network address.
    pub fn lan_defaults(&mut self, listen_given: bool) {
        if !listen_given {
            self.listen = SocketAddr::from(([0, 0, 0, 0], 8080));
        }
        if self.public_ip.is_none() {
            let ip = self.media_bind_ip();
            self.public_ip = Some(if ip.is_unspecified() {
                crate::lan::network_address()
            } else {
                ip
            });
        }
    }

    /// The addresses a LAN certificate names: where it listens and where media is announced.
    pub fn lan_addresses(&self) -> Vec<IpAddr> {
        vec![self.listen.ip(), self.sfu().public_ip]
    }

    /// Checks every setting and reports all problems together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Some(url) = &self.database_url {
            let supported = url.starts_with("sqlite:")
                || (cfg!(feature = "postgres")
                    && (url.starts_with("postgres://") || url.starts_with("postgresql://")));
            if !supported {
                problems.push(format!(
                    "database_url must start with sqlite:{} (got {:?})",
                    if cfg!(feature = "postgres") {
                        " or postgres://"
                    } else {
                        " (this build has no PostgreSQL support)"
                    },
                    redact(url)
                ));
            }
        }
        if let Some(id) = &self.node_id {
            let fine = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if id.is_empty() || id.len() > 64 || !id.chars().all(fine) {
                problems.push(format!(
                    "node_id must be 1 to 64 letters, digits, - or _ (got {id:?})"
                ));
            }
        }
        if let Some(url) = &self.redis_url {
            if !cfg!(feature = "redis") {
                problems.push("redis_url is set but this build has no Redis support".into());
            } else if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push(format!(
                    "redis_url must start with redis:// or rediss:// (got {:?})",
                    redact(url)
                ));
            }
        }
        if let Some(secret) = &self.token_secret {
            if secret.len() < 32 {
                problems.push("token_secret must be at least 32 characters".into());
            }
        }
        let in_range = |name: &str, v: usize, lo: usize, hi: usize, p: &mut Vec<String>| {
            if !(lo..=hi).contains(&v) {
                p.push(format!("{name} must be between {lo} and {hi} (got {v})"));
            }
        };
        in_range(
            "max_message_bytes",
            self.max_message_bytes,
            1024,
            MAX_FRAME_BYTES,
            &mut problems,
        );
        in_range(
            "rate_limit_per_sec",
            self.rate_limit_per_sec as usize,
            1,
            100_000,
            &mut problems,
        );
        in_range(
            "rate_limit_burst",
            self.rate_limit_burst as usize,
            1,
            1_000_000,
            &mut problems,
        );
        in_range(
            "max_participants",
            self.max_participants,
            2,
            10_000,
            &mut problems,
        );
        in_range(
            "outbound_queue",
            self.outbound_queue,
            8,
            1_000_000,
            &mut problems,
        );
        in_range("chat_history", self.chat_history, 0, 10_000, &mut problems);
        if self.token_ttl.0 < Duration::from_secs(60) {
            problems.push("token_ttl must be at least 60s".into());
        }
        if self.heartbeat_interval.0 < Duration::from_millis(50) {
            problems.push("heartbeat_interval must be at least 50ms".into());
        }
        if self.reconnect_grace.0 > Duration::from_secs(3600) {
            problems.push("reconnect_grace must be at most 1h".into());
        }
        in_range("media_workers", self.media_workers, 1, 256, &mut problems);
        if self.public_ip.is_none() && self.media_bind_ip().is_unspecified() {
            problems.push(
                "public_ip must be set when media binds to all interfaces (clients need a \
                 reachable address in their ICE candidates)"
                    .into(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    pub fn media_bind_ip(&self) -> IpAddr {
        self.media_bind.unwrap_or(self.listen.ip())
    }

    /// The SFU's settings.
    pub fn sfu(&self) -> crate::sfu::SfuConfig {
        let bind = self.media_bind_ip();
        crate::sfu::SfuConfig {
            bind,
            port: self.media_port,
            public_ip: self.public_ip.unwrap_or(bind),
            workers: self.media_workers,
        }
    }

    /// The database URL in force: the configured one, or SQLite in the data directory.
    pub fn effective_database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("parlor.db").display()
            )
        })
    }
}

/// Frames above this are refused by the WebSocket layer itself and close the connection;
/// between `max_message_bytes` and this, the server answers `message_too_large` and goes on.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// A URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("30s".parse::<Seconds>().unwrap().0, Duration::from_secs(30));
        assert_eq!(
            "250ms".parse::<Seconds>().unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!("2m".parse::<Seconds>().unwrap().0, Duration::from_secs(120));
        assert_eq!(
            "1.5".parse::<Seconds>().unwrap().0,
            Duration::from_millis(1500)
        );
        assert!("fast".parse::<Seconds>().is_err());
        assert!("3 weeks".parse::<Seconds>().is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("parlor-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nmax_participants = 7\nreconnect_grace = \"2s\"\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(path.clone()),
            settings: Settings {
                max_participants: Some(9),
                ..Settings::default()
            },
            ..Cli::default()
        };
        let c = Config::load(cli).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.max_participants, 9, "flag beats file");
        assert_eq!(c.reconnect_grace.0, Duration::from_secs(2));

        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nlisten_port = 3\n").unwrap();
        let err = Config::load(Cli {
            config: Some(path),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn validate_reports_every_problem() {
        let c = Config {
            max_message_bytes: 10,
            max_participants: 1,
            token_secret: Some("short".into()),
            database_url: Some("mysql://x".into()),
            ..Config::default()
        };
        let msg = c.validate().unwrap_err().to_string();
        for needle in [
            "max_message_bytes",
            "max_participants",
            "token_secret",
            "database_url",
        ] {
            assert!(msg.contains(needle), "{needle} missing from {msg}");
        }
    }

    #[test]
    fn lan_mode_listens_everywhere_unless_told_and_announces_an_address() {
        let load = |args: &[&str]| {
            let mut argv = vec!["parlor-server"];
            argv.extend_from_slice(args);
            Config::load(Cli::try_parse_from(argv).unwrap()).unwrap()
        };
        let lan = load(&["--lan"]);
        assert!(lan.lan);
        assert_eq!(lan.listen, SocketAddr::from(([0, 0, 0, 0], 8080)));
        let announced = lan.public_ip.unwrap();
        assert!(
            !announced.is_unspecified(),
            "media is announced on a real address"
        );

        let chosen = load(&["--lan", "--listen", "127.0.0.1:9443"]);
        assert_eq!(chosen.listen, SocketAddr::from(([127, 0, 0, 1], 9443)));
        assert_eq!(chosen.public_ip, Some(IpAddr::from([127, 0, 0, 1])));

        let off = load(&["--lan", "false"]);
        assert!(!off.lan);
        assert_eq!(off.listen, Config::default().listen);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://parlor:hunter2@db:5432/p"),
            "postgres://parlor:***@db:5432/p"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
