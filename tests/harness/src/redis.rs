//! A `redis-server` of the test's own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut r = Self {
            port: super::free_port(),
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server (install redis-server): {e}"));
        super::watchdog(&format!("kill {} 2>/dev/null", child.id()));
        self.child = Some(child);
        let deadline = Instant::now() + super::WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command with `redis-cli` (raw output, one value per line).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli (install redis-tools): {e}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Waits until the cluster records `node` as the host of meeting `code`'s room.
    pub async fn room_on(&self, code: &str, node: &str) {
        crate::eventually(&format!("the room on {node}"), || async {
            self.cli(&["GET", &format!("parlor:room:{code}")]) == node
        })
        .await;
    }

    /// Freezes it (SIGSTOP, or SIGCONT to thaw): connections stay open and nothing answers,
    /// as with a hung server or a network that drops packets.
    pub fn freeze(&self, frozen: bool) {
        let child = self.child.as_ref().expect("redis-server is running");
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill {signal} redis-server");
    }

    /// Stops it abruptly, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
