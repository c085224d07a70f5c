//! What an operator reads from the real `lbd` binary, in HAProxy 2.6's words: the
//! admin state lines (runtime socket and reload), the lines at soft and hard stop, the
//! ALERTs a failed `reload` over the socket answers with, and start errors that name
//! the config line.

mod common;
#[path = "common/health.rs"]
mod health;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use health::{lines, wait_line};
use stats::*;

/// An admin socket at `sock`, frontend `fe` on `@FE@` to backend `web` (roundrobin)
/// made of `servers` (`name rest-of-line`).
fn config(sock: &str, servers: &[(&str, String)]) -> String {
    let mut c = format!(
        "global\n    stats socket {sock} mode 600 level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n"
    );
    for (n, s) in servers {
        c.push_str(&format!("    server {n} {s}\n"));
    }
    c
}

fn warning(text: &str) -> String {
    health::warning(text)
}

#[tokio::test]
async fn socket_admin_commands_log_haproxy_lines_with_the_counts() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let sock = dir.sock();
    let lb = Lbd::start(&config(&sock, &[("a", a.hostport()), ("b", b.hostport())])).await;
    let step = |cmd: &'static str, line: String| {
        let (sock, lb) = (&sock, &lb);
        async move {
            assert_eq!(cli(sock, cmd).await, "\n", "{cmd}");
            wait_line(lb, &line, DEADLINE).await;
        }
    };
    step(
        "disable server web/b",
        warning("Server web/b is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
    )
    .await;
    step(
        "set server web/a state drain",
        warning("Server web/a enters drain state. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
    )
    .await;
    step(
        "enable server web/b",
        warning("Server web/b is UP/READY (leaving forced maintenance)."),
    )
    .await;
    step(
        "set server web/a state ready",
        warning("Server web/a is UP/READY (leaving forced drain)."),
    )
    .await;
    // The same state again changes nothing and logs nothing.
    let before = lines(&lb).len();
    assert_eq!(cli(&sock, "set server web/a state ready").await, "\n");
    assert_eq!(lines(&lb).len(), before, "{:#?}", lines(&lb));
}

#[tokio::test]
async fn a_reload_that_adds_or_removes_disabled_logs_the_change() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let sock = dir.sock();
    let servers = |b_extra: &str| {
        config(
            &sock,
            &[
                ("a", a.hostport()),
                ("b", format!("{} {b_extra}", b.hostport())),
            ],
        )
    };
    let lb = Lbd::start(&servers("")).await;
    lb.write_config(&servers("disabled"));
    let done = reload_by_signal(&lb).await;
    assert!(done.contains("Reload complete: "), "{done}");
    wait_line(
        &lb,
        &warning("Server web/b is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        DEADLINE,
    )
    .await;
    let csv = Csv::parse(&cli(&sock, "show stat").await);
    assert_eq!(csv.get("web", "b", "status"), "MAINT");
    assert_eq!(bodies(lb.port, "/", 3).await, ["a"; 3]);
    // A reload that leaves `disabled` as it was keeps the state and logs nothing new.
    let done = reload_by_signal(&lb).await;
    assert!(done.contains("Reload complete: "), "{done}");
    assert_eq!(
        health::lines_with(&lb, "for maintenance").len(),
        1,
        "{:#?}",
        lines(&lb)
    );
    lb.write_config(&servers(""));
    reload_by_signal(&lb).await;
    wait_line(
        &lb,
        &warning("Server web/b is UP/READY (leaving forced maintenance)."),
        DEADLINE,
    )
    .await;
    let csv = Csv::parse(&cli(&sock, "show stat").await);
    assert_eq!(csv.get("web", "b", "status"), "no check");
}

/// A runtime socket at `sock`, `fe` → `web` (one server), `listen api` → that
/// server, and a `listen stats` without servers (on a unix socket beside `sock`).
fn three_proxies(sock: &str, origin: &HttpOrigin) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server s1 {0}\nlisten api\n    bind 127.0.0.1:@FE2@\n    server s1 {0}\nlisten stats\n    bind {sock}.stats\n    stats enable\n",
        origin.hostport()
    )
}

/// The lines lbd printed from the stop signal on (its own `Stopping:` notice aside).
fn stop_lines(lb: &Lbd) -> Vec<String> {
    lines(lb)
        .into_iter()
        .skip_while(|l| !l.contains("Exiting Master process..."))
        .filter(|l| !l.contains("Stopping: closing listeners"))
        .collect()
}

/// In HAProxy's words, for `fe` and `web` having handled 2 connections and `api` 1.
const STOPPED: [&str; 6] = [
    "Exiting Master process...",
    "Proxy fe stopped (cumulated conns: FE: 2, BE: 0).",
    "Proxy web stopped (cumulated conns: FE: 0, BE: 2).",
    "Proxy api stopped (cumulated conns: FE: 1, BE: 1).",
    "Proxy stats stopped (cumulated conns: FE: 0, BE: 0).",
    "All workers exited. Exiting... (0)",
];

#[tokio::test]
async fn a_hard_or_soft_stop_logs_each_proxy_and_the_exit_line() {
    let origin = HttpOrigin::start("s1").await;
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGUSR1] {
        let dir = SockDir::new();
        let sock = dir.sock();
        let mut lb = Lbd::start(&three_proxies(&sock, &origin)).await;
        for port in [lb.port, lb.port, lb.port2] {
            assert_eq!(get(port, "/").await.body, "s1");
        }
        // Session totals are booked when each response is done.
        let csv = cli_until(&sock, "show stat", |t| {
            let c = Csv::parse(t);
            c.get("web", "BACKEND", "stot") == "2" && c.get("api", "BACKEND", "stot") == "1"
        })
        .await;
        let c = Csv::parse(&csv);
        assert_eq!(c.get("web", "BACKEND", "stot"), "2", "{csv}");
        lb.signal(sig);
        let status = lb.wait_exit(DEADLINE).await;
        assert_eq!(status.code(), Some(0), "{status}");
        let want: Vec<String> = STOPPED.iter().map(|l| warning(l)).collect();
        assert_eq!(stop_lines(&lb), want, "signal {sig}");
    }
}

#[tokio::test]
async fn a_failed_reload_on_the_socket_answers_the_alerts_with_file_and_line() {
    let a = HttpOrigin::start("a").await;
    let dir = SockDir::new();
    let sock = dir.sock();
    let good = config(&sock, &[("a", a.hostport())]);
    let lb = Lbd::start(&good).await;
    let bad = good
        .replace("    balance roundrobin\n", "    balance nosuchalgo\n")
        .replace(
            "    default_backend web\n",
            "    default_backend web\n    bogus-keyword x\n",
        );
    let line_of = |needle: &str| 1 + bad.lines().position(|l| l.contains(needle)).unwrap();
    lb.write_config(&bad);
    let answer = cli(&sock, "reload").await;
    let path = lb.config_path().display().to_string();
    let pid = lb.pid();
    let mut lines = answer.lines();
    assert_eq!(lines.next(), Some("Success=0"), "{answer}");
    assert_eq!(lines.next(), Some("--"), "{answer}");
    let rest: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert_eq!(rest.len(), 3, "two ALERTs, then the failure:\n{answer}");
    let bogus = format!(
        "[ALERT]    ({pid}) : config : parsing [{path}:{}] : ",
        line_of("bogus-keyword")
    );
    assert!(
        rest[0].starts_with(&bogus) && rest[0].contains("'bogus-keyword'"),
        "{answer}"
    );
    let algo = format!(
        "[ALERT]    ({pid}) : config : parsing [{path}:{}] : ",
        line_of("nosuchalgo")
    );
    assert!(
        rest[1].starts_with(&algo) && rest[1].contains("nosuchalgo"),
        "{answer}"
    );
    assert_eq!(
        rest[2], "Reload failed, keeping the running configuration.",
        "{answer}"
    );
    // The same lines went to stderr, and the old configuration still serves.
    assert!(lb.stderr().contains(rest[0]), "{}", lb.stderr());
    assert_eq!(get(lb.port, "/").await.body, "a");
}

#[tokio::test]
async fn a_bind_that_fails_at_start_names_its_config_line() {
    let busy: Vec<_> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("occupy a port"))
        .collect();
    let ports: Vec<u16> = busy
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let (port, port2) = (ports[0], ports[1]);
    let dir = health::Scratch::new("bind");
    let cfg = dir.file("lb.cfg");
    let text = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend web\nbackend web\n    server s1 127.0.0.1:9\nlisten api\n    bind 127.0.0.1:{port2}\n    server s1 127.0.0.1:9\n"
    );
    std::fs::write(&cfg, &text).expect("write config");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
            .args(["-f", &cfg])
            .output()
            .expect("run lbd")
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = health::norm(&String::from_utf8_lossy(&out.stderr));
    let path = dir.file("lb.cfg");
    let bind = |line: usize, kind: &str, name: &str, port: u16| {
        health::alert(&format!(
            "Binding [{path}:{line}] for {kind} {name}: cannot bind socket (Address already in use) [127.0.0.1:{port}]"
        ))
    };
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            bind(7, "frontend", "fe", port),
            bind(12, "listener", "api", port2),
            health::alert("[lbd.main()] Some protocols failed to start their listeners! Exiting."),
        ],
        "{err}"
    );
}

/// The demo config (`examples/haproxy.cfg`, ports and check interval changed, a
/// runtime socket added) logs the requests it proxies, not every health check: its
/// servers are `listen` sections of the same file, which must not access-log the checks.
#[tokio::test]
async fn the_demo_config_logs_requests_not_health_checks() {
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/haproxy.cfg"))
            .expect("read the demo config");
    let dir = SockDir::new();
    let sock = dir.sock();
    let mut text = demo
        .replacen(
            "\nglobal\n",
            &format!("\nglobal\n    stats socket {sock} level admin\n"),
            1,
        )
        .replace("127.0.0.1:8080", "127.0.0.1:@FE@")
        .replace("inter 2s", "inter 50ms");
    for p in ["8081", "8082", "8083"] {
        text = text.replace(
            &format!("127.0.0.1:{p}"),
            &format!("127.0.0.1:{}", free_port()),
        );
    }
    let lb = Lbd::start(&text).await;
    // Three checks of each server answered by its `listen` section.
    let stat = cli_until(&sock, "show stat", |t| {
        let c = Csv::parse(t);
        ["s1", "s2", "s3"]
            .iter()
            .all(|s| c.get(s, "FRONTEND", "stot").parse::<u32>().unwrap() >= 3)
    })
    .await;
    let c = Csv::parse(&stat);
    assert!(
        c.get("s3", "FRONTEND", "stot").parse::<u32>().unwrap() >= 3,
        "{stat}"
    );
    assert_eq!(get(lb.port, "/").await.status, 200);
    health::wait_line_with(&lb, " web app/s", DEADLINE).await;
    let noisy = health::lines_with(&lb, "/health");
    assert!(noisy.is_empty(), "check lines logged: {noisy:#?}");
}
