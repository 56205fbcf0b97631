//! A server hosting on a local network, end to end: `parlor-server --lan`'s parts (HTTPS with
//! its self-signed certificate and plain HTTP on one port, the mDNS advert) found by browsing,
//! trusted by fingerprint, and joined by two `parlor-client`s over WSS that decode each
//! other's video.
//!
//! mDNS multicasts, so the test only runs inside a network namespace of its own that looks
//! like a machine on a LAN (`parlor_testkit::netns::rerun_on_lan`); where namespaces are not
//! available it says so and does nothing, rather than advertise on a real network.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{clean_video_from, client, finished, server_with};
use parlor_media::tls::{self, Trust};
use parlor_server::lan;
use parlor_testkit::netns;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const NAME: &str = "a_lan_server_is_found_trusted_by_its_fingerprint_and_joined";

#[test]
fn a_lan_server_is_found_trusted_by_its_fingerprint_and_joined() {
    netns::run_on_lan(NAME, lan_meeting);
}

async fn lan_meeting() {
    let lan_ip: IpAddr = netns::LAN_ADDRESS.parse().unwrap();
    // What `parlor-server --lan --listen 0.0.0.0:0` runs with.
    let s = server_with(|c| {
        c.lan = true;
        c.listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        c.lan_defaults(true);
    })
    .await;
    let port = s.addr.port();
    let announced = lan::Announced::start(&s.config, s.addr).unwrap();
    assert_eq!(
        announced.server,
        format!("https://{lan_ip}:{port}"),
        "the network address"
    );
    assert_eq!(
        announced.local.as_deref(),
        Some(format!("http://localhost:{port}").as_str())
    );
    assert!(announced.advert.is_some(), "{:?}", announced.advert_error);

    // Someone else on the network browses and finds it, fingerprint and all.
    let found = tokio::task::spawn_blocking(|| {
        lan::browse(IpAddr::V4(Ipv4Addr::UNSPECIFIED), Duration::from_secs(3))
    })
    .await
    .unwrap()
    .unwrap();
    let nearby = found
        .iter()
        .find(|n| n.fingerprint.as_deref() == Some(announced.fingerprint.as_str()))
        .unwrap_or_else(|| panic!("the advert among {found:?}"));
    assert_eq!(nearby.server, announced.server, "{nearby:?}");
    assert!(nearby.name.starts_with("Parlor on "), "{nearby:?}");
    assert_eq!(nearby.code, None, "a server, not a meeting");

    // The certificate the server presents is the advertised one.
    let presented = tls::presented_certificate(&nearby.server).await.unwrap();
    assert_eq!(presented.fingerprint, announced.fingerprint);
    assert!(presented.pem().starts_with("-----BEGIN CERTIFICATE-----\n"));

    // Pinned, HTTPS works; pinned to another certificate, or by public authorities, it is
    // refused.
    let pinned = Trust::Pinned(announced.fingerprint.clone());
    let live = format!("{}/health/live", nearby.server);
    let ok = tls::http_client(&pinned)
        .unwrap()
        .get(&live)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let other = Trust::Pinned(parlor_protocol::lan::fingerprint(b"another certificate"));
    for trust in [other, Trust::Public] {
        let refused = tls::http_client(&trust).unwrap().get(&live).send().await;
        assert!(refused.is_err(), "{trust:?} accepted the LAN certificate");
    }

    // Plain HTTP: this machine is served (localhost is a secure context for its browser),
    // anyone else is sent to HTTPS.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let here = plain
        .get(format!("http://127.0.0.1:{port}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(here.status(), 200);
    let elsewhere = plain
        .get(format!("http://{lan_ip}:{port}/m/abc-defg-hij"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 308);
    assert_eq!(
        elsewhere.headers()["location"],
        format!("https://{lan_ip}:{port}/m/abc-defg-hij").as_str()
    );

    // Two clients join through the advertised address over WSS, trusting the fingerprint the
    // advert carried.
    let room = parlor_testkit::http::host_meeting(&format!("http://127.0.0.1:{port}"), "LAN").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let fingerprint = nearby.fingerprint.clone().unwrap();
    let extra = [
        "--fingerprint",
        fingerprint.as_str(),
        "--bind",
        netns::LAN_ADDRESS,
    ];
    let a = client(&nearby.server, &room, "A", Some(8), &path("a"), &extra);
    let b = client(&nearby.server, &room, "B", Some(8), &path("b"), &extra);
    // One trusting another certificate is refused before it joins, and says why.
    let wrong = parlor_protocol::lan::fingerprint(b"not the server's");
    let c = client(
        &nearby.server,
        &room,
        "C",
        Some(2),
        &path("c"),
        &["--fingerprint", &wrong],
    );
    let out = tokio::task::spawn_blocking(move || c.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "joined with the wrong fingerprint");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    let (a_report, _) = finished(a, path("a")).await;
    let (b_report, _) = finished(b, path("b")).await;
    for (me, other) in [(&a_report, &b_report), (&b_report, &a_report)] {
        let video = clean_video_from(me, other, 30);
        eprintln!("decoded over the LAN server: {}", video["framesDecoded"]);
    }
}
