//! Runtime server management on the socket of the real `lbd` binary: `add server`
//! (traffic reaches the new server once enabled), `set server addr` (traffic moves),
//! `del server`, `enable health`, a reload dropping dynamic servers, and the
//! server-state file restoring weight and maintenance across a restart, a server that
//! `track`s another following its health and maintenance.

mod common;
#[path = "common/health.rs"]
mod health;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use health::{wait_line, warning, HealthOrigin};
use stats::*;
use std::time::Duration;

/// Frontend `fe` on `@FE@` to backend `web` (roundrobin) with `servers`, an admin
/// socket at `sock`, and `extra` lines in `global`.
fn config(sock: &str, servers: &[(&str, String)], global: &str) -> String {
    let mut c = format!(
        "global\n    stats socket {sock} mode 600 level admin\n{global}{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n    load-server-state-from-file global\n"
    );
    for (n, s) in servers {
        c.push_str(&format!("    server {n} {s}\n"));
    }
    c
}

#[tokio::test]
async fn add_set_addr_and_delete_servers_on_live_traffic() {
    let (a, b, c) = (
        HttpOrigin::start("a").await,
        HttpOrigin::start("b").await,
        HttpOrigin::start("c").await,
    );
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(&sock, &[("a", a.hostport())], "")).await;
    assert_eq!(origins(lb.port, 4).await, ["a"]);

    // Added in maintenance: no traffic until enabled.
    let add = format!("add server web/b {} check inter 100ms rise 1", b.hostport());
    assert_eq!(cli(&sock, &add).await, "New server registered.\n\n");
    assert_eq!(origins(lb.port, 4).await, ["a"]);
    assert_eq!(cli(&sock, "enable server web/b").await, "\n");
    assert_eq!(origins(lb.port, 4).await, ["a", "b"]);
    let state = cli(&sock, "show servers state web").await;
    assert!(state.contains(" 2 b 127.0.0.1 2 0 1 1 "), "{state}");
    // Its health check starts with `enable health` (the check state shows it).
    let checked = |s: &str| {
        s.lines()
            .any(|l| l.split(' ').nth(3) == Some("b") && l.split(' ').nth(13) == Some("6"))
    };
    assert!(!checked(&state), "{state}");
    assert_eq!(cli(&sock, "enable health web/b").await, "\n");
    assert!(checked(&cli(&sock, "show servers state web").await));

    // `set server addr` moves b's traffic to c.
    let msg = cli(
        &sock,
        &format!("set server web/b addr 127.0.0.1 port {}", c.addr.port()),
    )
    .await;
    assert_eq!(
        msg,
        format!(
            "no need to change the addr, port changed from '{}' to '{}' by 'stats socket command'\n\n",
            b.addr.port(),
            c.addr.port()
        )
    );
    let before = b.stats.requests();
    assert_eq!(origins(lb.port, 4).await, ["a", "c"]);
    assert_eq!(b.stats.requests(), before);

    // Deleted only in maintenance.
    assert_eq!(
        cli(&sock, "del server web/b").await,
        "Only servers in maintenance mode can be deleted.\n\n"
    );
    assert_eq!(cli(&sock, "disable server web/b").await, "\n");
    assert_eq!(cli(&sock, "del server web/b").await, "Server deleted.\n\n");
    assert_eq!(origins(lb.port, 4).await, ["a"]);
    assert_eq!(cli(&sock, "del server web/b").await, "No such server.\n\n");

    // A reload drops servers added at run time, as HAProxy does.
    let add = format!("add server web/d {}", b.hostport());
    assert_eq!(cli(&sock, &add).await, "New server registered.\n\n");
    reload_by_signal(&lb).await;
    let state = cli(&sock, "show servers state web").await;
    assert!(!state.contains(" d "), "{state}");
}

#[tokio::test]
async fn server_state_file_restores_weight_and_maintenance_after_a_restart() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let file = dir.path("servers.state");
    let cfg = config(
        &sock,
        &[
            ("a", format!("{} weight 10", a.hostport())),
            ("b", b.hostport()),
        ],
        &format!("    server-state-file {file}\n"),
    );
    let lb = Lbd::start(&cfg).await;
    assert_eq!(cli(&sock, "set weight web/a 3").await, "\n");
    assert_eq!(cli(&sock, "disable server web/b").await, "\n");
    // HAProxy's procedure: dump the state before the restart.
    let saved = cli(&sock, "show servers state").await;
    std::fs::write(&file, saved.trim_end()).unwrap();
    drop(lb);

    let lb = Lbd::start(&cfg).await;
    assert_eq!(cli(&sock, "get weight web/a").await, "3 (initial 10)\n\n");
    let state = cli(&sock, "show servers state web").await;
    assert!(state.contains(" 2 b 127.0.0.1 0 1 1 1 "), "{state}");
    assert_eq!(origins(lb.port, 4).await, ["a"]);
    assert_eq!(cli(&sock, "enable server web/b").await, "\n");
    assert_eq!(origins(lb.port, 4).await, ["a", "b"]);
}

/// A server that `track`s another goes DOWN and comes back UP with it (HAProxy's
/// `via` lines), takes its maintenance, and keeps it from being deleted.
#[tokio::test]
async fn a_tracking_server_follows_the_tracked_one() {
    let a = HealthOrigin::start("a").await;
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} mode 600 level admin\n{HTTP_DEFAULTS}    timeout check 500ms\nfrontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be2\nbackend be1\n    option httpchk GET /health\n    server s1 {} check inter 100ms rise 1 fall 1\nbackend be2\n    server s1 {} track be1/s1\n",
        a.hostport(),
        a.hostport()
    ))
    .await;
    let limit = Duration::from_secs(3);
    assert_eq!(get(lb.port, "/").await.status, 200);

    a.break_health().await;
    wait_line(&lb, &warning("Server be2/s1 is DOWN via be1/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."), limit).await;
    assert_eq!(get(lb.port, "/").await.status, 503);
    a.recover().await;
    wait_line(&lb, &warning("Server be2/s1 is UP via be1/s1. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."), limit).await;
    assert_eq!(get(lb.port, "/").await.status, 200);

    // Maintenance reaches the tracking server too (srv_admin_state 0x02: inherited).
    assert_eq!(cli(&sock, "disable server be1/s1").await, "\n");
    wait_line(&lb, &warning("Server be2/s1 is going DOWN for maintenance via be1/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."), limit).await;
    let state = cli(&sock, "show servers state be2").await;
    assert!(state.contains(" 1 s1 127.0.0.1 0 2 1 1 "), "{state}");
    assert_eq!(get(lb.port, "/").await.status, 503);
    assert_eq!(
        cli(&sock, "del server be1/s1").await,
        "This server cannot be removed at runtime due to other configuration elements pointing to it.\n\n"
    );
    assert_eq!(cli(&sock, "enable server be1/s1").await, "\n");
    wait_line(
        &lb,
        &warning("Server be2/s1 is UP/READY (leaving maintenance)."),
        limit,
    )
    .await;
    assert_eq!(get(lb.port, "/").await.status, 200);

    // `add server ... track` needs a checked, configured server.
    assert_eq!(
        cli(
            &sock,
            &format!("add server be2/s2 {} track be2/s1", a.hostport())
        )
        .await,
        "New server registered.\n\n"
    );
    assert_eq!(
        cli(
            &sock,
            &format!("add server be2/s3 {} track be2/s2", a.hostport())
        )
        .await,
        "unable to use be2/s2 for tracking as it is a dynamic server.\n\n"
    );
}
