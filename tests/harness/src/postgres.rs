//! A PostgreSQL cluster of the test's own, from Debian's `postgresql` package.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Postgres {
    port: u16,
    bin: PathBuf,
    as_root: bool,
}

static SHARED: OnceLock<Result<Postgres, String>> = OnceLock::new();

impl Postgres {
    /// The cluster shared by every test in this process, started on first use.
    pub fn shared() -> &'static Postgres {
        match SHARED.get_or_init(Self::start) {
            Ok(pg) => pg,
            Err(e) => panic!("cannot start PostgreSQL for tests: {e}"),
        }
    }

    fn start() -> Result<Postgres, String> {
        let bin = find_bin_dir()?;
        let as_root = super::is_root();
        let dir = std::env::temp_dir().join(format!(
            "parlor-pg-{}-{}",
            std::process::id(),
            super::free_port()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if as_root {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))?;
        }
        let data = dir.join("data");
        let port = super::free_port();
        let pg = Postgres { port, bin, as_root };
        pg.run_pg(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            dir.display()
        );
        let stop = format!(
            "{} {} -D {} stop -m immediate; rm -rf {}",
            if as_root {
                "runuser -u postgres --"
            } else {
                ""
            },
            pg.bin.join("pg_ctl").display(),
            data.display(),
            dir.display()
        );
        pg.run_pg(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &dir.join("log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        super::watchdog(&stop);
        Ok(pg)
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).current_dir("/");
        run(&mut cmd)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs SQL as the superuser against `database`.
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new empty database; returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!("parlor_{}", super::free_port());
        let name = format!("{name}_{}", std::process::id());
        if let Err(e) = self.sql("postgres", &format!("CREATE DATABASE {name}")) {
            panic!("CREATE DATABASE {name}: {e}");
        }
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Debian keeps the server binaries under /usr/lib/postgresql/<version>/bin; take the newest.
fn find_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PARLOR_PG_BIN") {
        return Ok(dir.into());
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e} (install the postgresql package)", root.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no PostgreSQL server found under /usr/lib/postgresql".into())
}
