//! Serve traffic: which server gets each request. The real `lbd` binary in front of
//! HTTP origins that answer with their own name.

mod common;

use common::*;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// A frontend on `@FE@` and a backend `be` with `backend_lines` then one `server` line
/// per `(name, "addr extra settings")`.
fn config(backend_lines: &str, servers: &[(&str, String)]) -> String {
    let mut c = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n"
    );
    for l in backend_lines.lines() {
        c.push_str(&format!("    {}\n", l.trim()));
    }
    for (name, rest) in servers {
        c.push_str(&format!("    server {name} {rest}\n"));
    }
    c
}

async fn bodies(port: u16, path: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = get(port, path).await;
        assert_eq!(r.status, 200, "{r:?}");
        out.push(r.body);
    }
    out
}

#[tokio::test]
async fn roundrobin_cycles_through_servers_in_config_order() {
    let (s1, s2, s3) = (
        HttpOrigin::start("s1").await,
        HttpOrigin::start("s2").await,
        HttpOrigin::start("s3").await,
    );
    let lb = Lbd::start(&config(
        "balance roundrobin",
        &[
            ("s1", s1.hostport()),
            ("s2", s2.hostport()),
            ("s3", s3.hostport()),
        ],
    ))
    .await;
    let seen = bodies(lb.port, "/", 9).await;
    assert_eq!(seen, ["s1", "s2", "s3", "s1", "s2", "s3", "s1", "s2", "s3"]);
    // Each server saw its requests as such, with its name in a header as well.
    assert_eq!(get(lb.port, "/").await.header("x-origin"), "s1");
    assert_eq!(
        (
            s1.stats.requests(),
            s2.stats.requests(),
            s3.stats.requests()
        ),
        (4, 3, 3)
    );
}

#[tokio::test]
async fn roundrobin_weights_interleave_three_to_one() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let lb = Lbd::start(&config(
        "balance roundrobin",
        &[
            ("a", format!("{} weight 3", a.hostport())),
            ("b", format!("{} weight 1", b.hostport())),
        ],
    ))
    .await;
    let seen = bodies(lb.port, "/", 8).await;
    assert_eq!(seen, ["a", "a", "b", "a", "a", "a", "b", "a"]);
}

#[tokio::test]
async fn leastconn_sends_new_requests_to_the_server_with_fewer_connections() {
    let (s1, s2) = (HttpOrigin::start("s1").await, HttpOrigin::start("s2").await);
    let lb = Lbd::start(&config(
        "balance leastconn",
        &[("s1", s1.hostport()), ("s2", s2.hostport())],
    ))
    .await;
    let port = lb.port;
    let held = tokio::spawn(async move { get(port, "/hold").await });
    wait_until(DEADLINE, "one server holds the request", || {
        s1.stats.inflight() + s2.stats.inflight() == 1
    })
    .await;
    let (busy, idle) = if s1.stats.inflight() == 1 {
        ("s1", "s2")
    } else {
        ("s2", "s1")
    };
    let seen = bodies(lb.port, "/", 6).await;
    assert_eq!(seen, vec![idle; 6], "all go to the idle server");
    s1.release();
    s2.release();
    let r = within(DEADLINE, "held request", held).await.expect("task");
    assert_eq!((r.status, r.body.as_str()), (200, busy));
}

#[tokio::test]
async fn balance_source_keeps_each_client_address_on_one_server() {
    let o = [
        HttpOrigin::start("s1").await,
        HttpOrigin::start("s2").await,
        HttpOrigin::start("s3").await,
    ];
    let servers: Vec<(&str, String)> = o.iter().map(|s| (s.name.as_str(), s.hostport())).collect();
    let lb = Lbd::start(&config("balance source", &servers)).await;
    let first = get(lb.port, "/").await.body;
    for _ in 0..20 {
        assert_eq!(get(lb.port, "/").await.body, first);
    }
    // Other loopback source addresses: each stable, and together spread.
    let mut used = HashMap::new();
    for last in 2..=31u8 {
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
        let a = send_from(lb.port, Some(src), get_req("/")).await.body;
        let b = send_from(lb.port, Some(src), get_req("/")).await.body;
        assert_eq!(a, b, "source {src} moved");
        *used.entry(a).or_insert(0) += 1;
    }
    assert_eq!(
        used.len(),
        3,
        "30 sources should reach all 3 servers: {used:?}"
    );
}

/// The server each of `uris` lands on.
async fn placement(port: u16, uris: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for u in uris {
        out.push(get(port, u).await.body);
    }
    out
}

#[tokio::test]
async fn consistent_uri_hash_is_stable_and_moves_only_the_keys_of_a_removed_server() {
    let o = [
        HttpOrigin::start("s1").await,
        HttpOrigin::start("s2").await,
        HttpOrigin::start("s3").await,
    ];
    let lines = "balance uri\nhash-type consistent";
    let all: Vec<(&str, String)> = o.iter().map(|s| (s.name.as_str(), s.hostport())).collect();
    let lb = Lbd::start(&config(lines, &all)).await;
    let uris: Vec<String> = (0..60).map(|i| format!("/obj/{i}?v={i}")).collect();
    let before = placement(lb.port, &uris).await;
    assert_eq!(
        placement(lb.port, &uris).await,
        before,
        "same URI, same server"
    );
    for s in ["s1", "s2", "s3"] {
        assert!(before.iter().any(|b| b == s), "{s} got no key: {before:?}");
    }
    // A second instance with the same config picks exactly the same servers.
    let twin = Lbd::start(&config(lines, &all)).await;
    assert_eq!(placement(twin.port, &uris).await, before);
    drop(twin);

    // s2 disabled: only s2's keys move.
    let mut without_s2 = all.clone();
    without_s2[1].1.push_str(" disabled");
    let lb2 = Lbd::start(&config(lines, &without_s2)).await;
    let after = placement(lb2.port, &uris).await;
    for (u, (b, a)) in uris.iter().zip(before.iter().zip(&after)) {
        if b == "s2" {
            assert_ne!(a, "s2", "{u}");
        } else {
            assert_eq!(a, b, "{u} moved although its server stayed");
        }
    }
    drop(lb2);

    // s3 removed from the config: s1 and s2 keep their keys.
    let lb3 = Lbd::start(&config(lines, &all[..2])).await;
    let after = placement(lb3.port, &uris).await;
    for (u, (b, a)) in uris.iter().zip(before.iter().zip(&after)) {
        if b != "s3" {
            assert_eq!(a, b, "{u} moved although its server stayed");
        }
    }
}

#[tokio::test]
async fn backup_takes_traffic_only_when_every_active_server_is_down() {
    let (b1, b2) = (HttpOrigin::start("b1").await, HttpOrigin::start("b2").await);
    // Actives whose port refuses connections, with health checks: DOWN.
    let (dead1, dead2) = (ClosedPort::new(), ClosedPort::new());
    let servers = [
        ("s1", format!("127.0.0.1:{} check inter 100", dead1.port)),
        ("s2", format!("127.0.0.1:{} check inter 100", dead2.port)),
        ("b1", format!("{} backup", b1.hostport())),
        ("b2", format!("{} backup", b2.hostport())),
    ];
    let lb = Lbd::start(&config("balance roundrobin", &servers)).await;
    lb.wait_for_log("Server be/s1 is DOWN").await;
    lb.wait_for_log("Server be/s2 is DOWN").await;
    assert_eq!(bodies(lb.port, "/", 4).await, ["b1", "b1", "b1", "b1"]);

    let lb = Lbd::start(&config("balance roundrobin\noption allbackups", &servers)).await;
    lb.wait_for_log("Server be/s1 is DOWN").await;
    lb.wait_for_log("Server be/s2 is DOWN").await;
    assert_eq!(bodies(lb.port, "/", 4).await, ["b1", "b2", "b1", "b2"]);
}

#[tokio::test]
async fn backup_gets_nothing_while_an_active_server_is_up() {
    let (s1, b1) = (HttpOrigin::start("s1").await, HttpOrigin::start("b1").await);
    let dead = ClosedPort::new();
    let servers = [
        ("s1", s1.hostport()),
        ("s2", format!("127.0.0.1:{} check inter 100", dead.port)),
        ("b1", format!("{} backup", b1.hostport())),
    ];
    let lb = Lbd::start(&config("balance roundrobin", &servers)).await;
    lb.wait_for_log("Server be/s2 is DOWN").await;
    assert_eq!(bodies(lb.port, "/", 5).await, vec!["s1"; 5]);
    assert_eq!(b1.stats.accepted(), 0);
}

#[tokio::test]
async fn backup_takes_over_when_the_active_origin_stops() {
    let (mut s1, b1) = (HttpOrigin::start("s1").await, HttpOrigin::start("b1").await);
    let servers = [
        (
            "s1",
            format!("{} check inter 100 fall 1 rise 1", s1.hostport()),
        ),
        ("b1", format!("{} backup", b1.hostport())),
    ];
    let lb = Lbd::start(&config("balance roundrobin", &servers)).await;
    assert_eq!(bodies(lb.port, "/", 3).await, vec!["s1"; 3]);
    s1.stop().await;
    lb.wait_for_log("Server be/s1 is DOWN").await;
    assert_eq!(bodies(lb.port, "/", 3).await, vec!["b1"; 3]);
}
