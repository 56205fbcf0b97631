//! Running a test inside a network namespace of its own, holding only a loopback interface,
//! so that nothing it starts (a browser gathering candidates, say) can send anywhere else.

use std::process::{Command, ExitStatus, Stdio};

/// Marks a run already inside its own namespace.
const ISOLATED: &str = "PARLOR_TEST_NETNS";

/// Whether this process is the isolated run.
pub fn isolated() -> bool {
    std::env::var_os(ISOLATED).is_some()
}

/// Runs the test `name` of this test binary again inside a new network namespace (and, unless
/// root, a user namespace) with loopback up, and returns how it ended. `None` when this already is that run, or when
/// namespaces are not available to this user (then the caller runs where it is).
pub fn rerun_isolated(name: &str) -> Option<ExitStatus> {
    rerun_with(name, "ip link set lo up")
}

/// The address of the pretend network card in [`rerun_on_lan`]'s namespace.
pub const LAN_ADDRESS: &str = "10.77.0.1";

/// [`rerun_isolated`], with the namespace made to look like a machine on a local network: one
/// end of a veth pair holds [`LAN_ADDRESS`] with the default route through it (both ends are
/// inside the namespace, so nothing sent there leaves it), and multicast is on, so mDNS works
/// between processes inside.
pub fn rerun_on_lan(name: &str) -> Option<ExitStatus> {
    rerun_with(
        name,
        &format!(
            "ip link set lo up && ip link set lo multicast on \
             && ip link add lan0 type veth peer name lan1 && ip link set lan1 up \
             && ip link set lan0 up && ip addr add {LAN_ADDRESS}/24 dev lan0 \
             && ip route add default dev lan0"
        ),
    )
}

/// Runs the test `name`, whose body is `test`, inside [`rerun_on_lan`]'s namespace. Where
/// namespaces are not available it says so and does nothing, rather than multicast on a real
/// network.
pub fn run_on_lan<F: std::future::Future<Output = ()>>(name: &str, test: impl FnOnce() -> F) {
    if let Some(status) = rerun_on_lan(name) {
        assert!(status.success(), "the isolated run failed: {status}");
        return;
    }
    if !isolated() {
        eprintln!("note: {name} skipped; it only runs inside a network namespace of its own");
        return;
    }
    crate::block_on(test());
}

fn rerun_with(name: &str, setup: &str) -> Option<ExitStatus> {
    if isolated() {
        return None;
    }
    // Root needs no user namespace for a network namespace, and without one every user is
    // still itself (the test's PostgreSQL runs as `postgres`).
    let unshare: &[&str] = if crate::is_root() {
        &["--net"]
    } else {
        &["--user", "--map-root-user", "--net"]
    };
    let probe = Command::new("unshare")
        .args(unshare)
        .arg("true")
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
        .args(unshare)
        .arg("--")
        .args(["sh", "-c", &format!("{setup} && exec \"$@\""), "sh"])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ISOLATED, "1")
        .status()
        .expect("unshare runs");
    Some(status)
}
