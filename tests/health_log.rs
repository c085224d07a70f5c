//! Where health messages go: `option log-health-checks` per-check lines on stderr,
//! and the `log` targets (a file, a unix datagram syslog socket, with facility and
//! level filter), including a file renamed under lbd's feet by logrotate.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(3);

/// `global` with `global_lines`, http defaults with `log global`, a frontend on `@FE@`
/// and backend `web` made of `backend`.
fn config(global_lines: &str, backend: &str) -> String {
    let mut c = String::from("global\n");
    for l in global_lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        c.push_str(&format!("    {l}\n"));
    }
    c.push_str(&format!(
        "{HTTP_DEFAULTS}    timeout check 500ms\n    log global\nfrontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n"
    ));
    for l in backend.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    c
}

fn check_line(result: &str, reason: &str, status: &str) -> String {
    warning(&format!(
        "Health check for server web/s1 {result}, {reason}, check duration: Nms, status: {status}."
    ))
}

/// With `option log-health-checks` every check that changes the health (or the kind
/// of result) gets a line, the state change line follows without repeating the
/// reason, and checks that change nothing stay quiet.
#[tokio::test]
async fn log_health_checks_lines() {
    let s1 = HealthOrigin::start("s1").await;
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        "",
        &format!(
            "option httpchk GET /health
             option log-health-checks
             server s1 {} check inter 100ms rise 2 fall 3 init-state fully-up
             server s2 {}",
            s1.hostport(),
            s2.hostport()
        ),
    ))
    .await;
    let ok = "reason: Layer7 check passed, code: 200";
    let bad = "reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\"";
    // The first result is news (nothing was known): one line, even from fully UP.
    wait_line(&lbd, &check_line("succeeded", ok, "3/3 UP"), STEP).await;
    let n = s1.seen_for("/health").len();
    wait_until(STEP, "three more checks", || {
        s1.seen_for("/health").len() >= n + 3
    })
    .await;
    assert_eq!(lines_with(&lbd, "web/s1").len(), 1, "{:?}", lines(&lbd));

    s1.break_health().await;
    let down = warning(
        "Server web/s1 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    );
    wait_line(&lbd, &down, STEP).await;
    // Failures while fully DOWN change nothing: no more lines.
    let n = s1.seen_for("/health").len();
    wait_until(STEP, "three more checks", || {
        s1.seen_for("/health").len() >= n + 3
    })
    .await;
    assert_eq!(
        lines_with(&lbd, "web/s1"),
        vec![
            check_line("succeeded", ok, "3/3 UP"),
            check_line("failed", bad, "2/3 UP"),
            check_line("failed", bad, "1/3 UP"),
            check_line("failed", bad, "0/2 DOWN"),
            down.clone(),
        ]
    );

    s1.recover().await;
    let up = warning(
        "Server web/s1 is UP. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    );
    wait_line(&lbd, &up, STEP).await;
    let n = s1.seen_for("/health").len();
    wait_until(STEP, "three more checks", || {
        s1.seen_for("/health").len() >= n + 3
    })
    .await;
    let got = lines_with(&lbd, "web/s1");
    assert_eq!(
        got[5..],
        [
            check_line("succeeded", ok, "1/2 DOWN"),
            check_line("succeeded", ok, "3/3 UP"),
            up,
        ]
    );
}

/// A file target (`log <path> local0` in global, `log global` in the proxy) receives
/// the DOWN line and the backend alert, each behind an RFC 3164 timestamp, the host
/// name and `lbd[pid]:`; the syslog form of the alert has no quotes (as HAProxy's).
#[tokio::test]
async fn file_target_receives_state_changes() {
    let dir = Scratch::new("file");
    let file = dir.file("lbd.log");
    let mut s1 = HealthOrigin::start("s1").await;
    let lbd = Lbd::start(&config(
        &format!("log {file} local0"),
        &format!(
            "server s1 {} check inter 100ms rise 1 fall 1 init-state fully-up",
            s1.hostport()
        ),
    ))
    .await;
    s1.stop().await;
    wait_line_with(&lbd, "no server available", STEP).await;
    wait_until(STEP, "the alert reaches the file", || {
        file_messages(&file)
            .iter()
            .any(|m| m.contains("no server available"))
    })
    .await;
    let msgs = file_messages(&file);
    let down = "Server web/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.";
    let i = msgs
        .iter()
        .position(|m| *m == down)
        .unwrap_or_else(|| panic!("no DOWN line in {file}: {msgs:?}"));
    assert_eq!(
        msgs.get(i + 1).map(String::as_str),
        Some("backend web has no server available!")
    );
}

/// Messages of a file target: `Mmm dd hh:mm:ss host lbd[PID]: msg` lines, the prefix
/// checked and removed (pid and durations normalised).
fn file_messages(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    norm(&text).lines().map(strip_header).collect()
}

fn strip_header(line: &str) -> String {
    let re = regex::Regex::new(
        r"^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [^ ]+ lbd\[PID\]: (.*)$",
    )
    .unwrap();
    match re.captures(line) {
        Some(c) => c[1].to_string(),
        None => panic!("not a syslog-style line: {line:?}"),
    }
}

/// Receives datagrams on `sock` until `done` holds for the messages so far.
async fn receive_until(
    sock: &tokio::net::UnixDatagram,
    got: &mut Vec<String>,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) {
    let end = Instant::now() + STEP;
    let mut buf = vec![0u8; 8192];
    while !done(got) {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sock.recv(&mut buf)).await {
            Ok(Ok(n)) => got.push(norm(&String::from_utf8_lossy(&buf[..n]))),
            Ok(Err(e)) => panic!("recv: {e}"),
            Err(_) => panic!("no {what} within {STEP:?}; received: {got:?}"),
        }
    }
}

/// `<PRI>` of a syslog message and the message after the header.
fn split_syslog(m: &str) -> (u8, String) {
    let (pri, rest) = m
        .strip_prefix('<')
        .and_then(|m| m.split_once('>'))
        .unwrap_or_else(|| panic!("no <PRI> in {m:?}"));
    (pri.parse().expect("numeric PRI"), strip_header(rest))
}

/// A unix datagram socket target gets RFC 3164 messages with PRI = facility x 8 +
/// severity: DOWN at alert (local0: `<129>`), the backend alert at emerg (`<128>`),
/// UP at notice (`<133>`). A second target with level `alert` on local1 gets DOWN
/// (`<137>`) and the emergency (`<136>`) but not UP.
#[tokio::test]
async fn unix_datagram_syslog_target() {
    let dir = Scratch::new("syslog");
    let all_path = dir.file("all.sock");
    let alerts_path = dir.file("alerts.sock");
    let all = tokio::net::UnixDatagram::bind(&all_path).expect("bind all.sock");
    let alerts = tokio::net::UnixDatagram::bind(&alerts_path).expect("bind alerts.sock");
    let mut s1 = HealthOrigin::start("s1").await;
    let _lbd = Lbd::start(&config(
        &format!("log {all_path} local0\nlog {alerts_path} local1 alert"),
        &format!(
            "server s1 {} check inter 100ms rise 1 fall 1 init-state fully-up",
            s1.hostport()
        ),
    ))
    .await;
    s1.stop().await;
    let down = "Server web/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.";
    let emerg = "backend web has no server available!";
    let mut got = Vec::new();
    receive_until(&all, &mut got, "DOWN and alert", |g| {
        g.iter().any(|m| m.contains(emerg))
    })
    .await;
    let parsed: Vec<(u8, String)> = got.iter().map(|m| split_syslog(m)).collect();
    assert!(parsed.contains(&(129, down.to_string())), "{parsed:?}");
    assert!(parsed.contains(&(128, emerg.to_string())), "{parsed:?}");

    s1.restart().await;
    let up = "Server web/s1 is UP, reason: Layer4 check passed, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.";
    receive_until(&all, &mut got, "UP", |g| {
        g.iter().any(|m| m.contains("is UP"))
    })
    .await;
    let parsed: Vec<(u8, String)> = got.iter().map(|m| split_syslog(m)).collect();
    assert!(parsed.contains(&(133, up.to_string())), "{parsed:?}");

    // The alert-level target: DOWN and the emergency, then nothing about the UP.
    let mut high = Vec::new();
    receive_until(&alerts, &mut high, "alerts", |g| {
        g.iter().any(|m| m.contains(emerg))
    })
    .await;
    let parsed: Vec<(u8, String)> = high.iter().map(|m| split_syslog(m)).collect();
    assert!(parsed.contains(&(137, down.to_string())), "{parsed:?}");
    assert!(parsed.contains(&(136, emerg.to_string())), "{parsed:?}");
    // Another DOWN: once it arrived here, the UP before it would have too.
    s1.stop().await;
    let before = high.len();
    receive_until(&alerts, &mut high, "the second DOWN", |g| {
        g[before..].iter().any(|m| m.contains("is DOWN"))
    })
    .await;
    for m in &high {
        let (pri, msg) = split_syslog(m);
        assert!(pri % 8 <= 1, "level filter let through <{pri}> {msg}");
    }
}

/// logrotate renames the file; lbd notices within about a second and writes to a new
/// file at the configured path, no line lost in between (access log lines of
/// `option httplog` are counted across both files), and the next DOWN line lands in
/// the new file.
#[tokio::test]
async fn renamed_file_target_is_reopened() {
    let dir = Scratch::new("rotate");
    let file = dir.file("lbd.log");
    let rotated = dir.file("lbd.log.1");
    let mut s1 = HealthOrigin::start("s1").await;
    let _s2 = HealthOrigin::start("s2").await;
    let cfg = config(
        &format!("log {file} local0"),
        &format!(
            "server s1 {} check inter 100ms rise 1 fall 1 init-state fully-up
             server s2 {}",
            s1.hostport(),
            _s2.hostport()
        ),
    )
    .replace("frontend fe\n", "frontend fe\n    option httplog\n");
    let lbd = Lbd::start(&cfg).await;
    let access = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"GET /n"))
            .count()
    };
    let mut sent = 0;
    assert_eq!(get(lbd.port, &format!("/n{sent}")).await.status, 200);
    sent += 1;
    wait_until(STEP, "the first access line", || access(&file) == 1).await;

    std::fs::rename(&file, &rotated).expect("rename");
    let t0 = Instant::now();
    // Keep traffic flowing until the new file appears (lbd looks at most once a second).
    while access(&file) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "no new file after {:?}",
            t0.elapsed()
        );
        assert_eq!(get(lbd.port, &format!("/n{sent}")).await.status, 200);
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until(STEP, "every access line written", || {
        access(&file) + access(&rotated) == sent
    })
    .await;

    s1.stop().await;
    wait_line_with(&lbd, "Server web/s1 is DOWN", STEP).await;
    let msgs = file_messages(&file);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Server web/s1 is DOWN, reason: Layer4 connection problem")),
        "{msgs:?}"
    );
    assert!(!std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("is DOWN"));
}
