//! Running a test inside a network namespace of its own, holding only a loopback interface,
//! so that nothing it starts (a browser gathering candidates, say) can send anywhere else.

use std::process::{Command, ExitStatus, Stdio};

/// Marks a run already inside its own namespace.
const ISOLATED: &str = "PARLOR_TEST_NETNS";

/// Whether this process is the isolated run.
pub fn isolated() -> bool {
    std::env::var_os(ISOLATED).is_some()
}

/// Runs the test `name` of this test binary again inside a new user and network namespace
/// with loopback up, and returns how it ended. `None` when this already is that run, or when
/// namespaces are not available to this user (then the caller runs where it is).
pub fn rerun_isolated(name: &str) -> Option<ExitStatus> {
    if isolated() {
        return None;
    }
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!(
            "note: no network namespace available (unshare --user --net failed); \
             running in this one, where the SFU's candidates are still loopback only"
        );
        return None;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let status = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .args(["sh", "-c", "ip link set lo up && exec \"$@\"", "sh"])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ISOLATED, "1")
        .status()
        .expect("unshare runs");
    Some(status)
}
