//! Passive health (`observe`, `error-limit`, `on-error`), end to end: real traffic
//! through the `lbd` binary to a dead or failing server, with active checks so rare
//! (`inter 1h`) that only the observed errors (and the checks they hurry) can act.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(3);

/// A frontend on `@FE@` and backend `web` (round robin, `retries 0`, so each request
/// to a dead server is exactly one observed connection error).
fn config(defaults: &str, backend: &str) -> String {
    let mut c = format!(
        "{defaults}    timeout check 500ms\nfrontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n    retries 0\n"
    );
    for l in backend.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    c
}

/// Sends requests until `n` of them failed (the dead server's share), asserting the
/// other answers come from `alive`; returns how many requests were sent.
async fn until_failures(lbd: &Lbd, n: usize, alive: &str) -> usize {
    let (mut failed, mut sent) = (0, 0);
    while failed < n {
        let r = get(lbd.port, "/").await;
        sent += 1;
        assert!(sent <= 4 * n, "too many requests for {n} failures");
        if r.status == 503 {
            failed += 1;
        } else {
            assert_eq!((r.status, r.body.as_str()), (200, alive), "{r:?}");
        }
    }
    sent
}

/// A DOWN from the data path counts the session that saw the error: HAProxy runs the
/// observation before releasing it from the server.
const DOWN_TAIL: &str = "1 sessions active, 0 requeued, 0 remaining in queue.";
/// A DOWN from a check, with no traffic at the time.
const CHECK_DOWN_TAIL: &str = "0 sessions active, 0 requeued, 0 remaining in queue.";

/// `observe layer4 error-limit 3 on-error mark-down`: the third failed connection
/// marks the server DOWN, no check needed; then all traffic goes to the other one.
#[tokio::test]
async fn mark_down_from_traffic_alone() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "server s1 127.0.0.1:{} check inter 30s init-state fully-up observe layer4 error-limit 3 on-error mark-down
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 2, "s2").await;
    assert!(lines_with(&lbd, "web/s1").is_empty(), "{:?}", lines(&lbd));
    until_failures(&lbd, 1, "s2").await;
    wait_line(
        &lbd,
        &warning(&format!(
            "Server web/s1 is DOWN, reason: Health analyze, info: \"Detected 3 consecutive errors, last one was: L4 unsuccessful connection\". 1 active and 0 backup servers left. {DOWN_TAIL}"
        )),
        Duration::from_secs(1),
    )
    .await;
    for _ in 0..4 {
        let r = get(lbd.port, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "s2"));
    }
}

/// A success in between resets the count: errors must be consecutive.
#[tokio::test]
async fn observe_layer7_counts_consecutive_5xx_answers() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "server s1 {} check inter 1h init-state fully-up observe layer7 error-limit 2 on-error mark-down",
            s1.hostport()
        ),
    ))
    .await;
    assert_eq!(get(lbd.port, "/code/503").await.status, 503);
    assert_eq!(get(lbd.port, "/").await.status, 200);
    assert_eq!(get(lbd.port, "/code/502").await.status, 502);
    // 501 and 505 are not server errors for HAProxy's observe: they reset the count.
    assert_eq!(get(lbd.port, "/code/501").await.status, 501);
    assert_eq!(get(lbd.port, "/code/404").await.status, 404);
    assert_eq!(get(lbd.port, "/code/500").await.status, 500);
    assert!(lines_with(&lbd, "web/s1").is_empty(), "{:?}", lines(&lbd));
    assert_eq!(get(lbd.port, "/code/503").await.status, 503);
    wait_line(
        &lbd,
        &warning(&format!(
            "Server web/s1 is DOWN, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: Wrong http response\". 0 active and 0 backup servers left. {DOWN_TAIL}"
        )),
        Duration::from_secs(1),
    )
    .await;
    wait_line(
        &lbd,
        &alert("backend 'web' has no server available!"),
        Duration::from_secs(1),
    )
    .await;
    // lbd answers itself now.
    let before = s1.traffic();
    assert_eq!(get(lbd.port, "/").await.status, 503);
    assert_eq!(s1.traffic(), before);
}

/// `on-error fail-check`: one simulated failed check. With the default start
/// (health = rise) that is enough to go DOWN.
#[tokio::test]
async fn fail_check_from_default_start_marks_down() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "server s1 127.0.0.1:{} check inter 1h observe layer4 error-limit 2 on-error fail-check
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 1, "s2").await;
    assert!(lines_with(&lbd, "web/s1").is_empty(), "{:?}", lines(&lbd));
    until_failures(&lbd, 1, "s2").await;
    wait_line(
        &lbd,
        &warning(&format!(
            "Server web/s1 is DOWN, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\". 1 active and 0 backup servers left. {DOWN_TAIL}"
        )),
        Duration::from_secs(1),
    )
    .await;
}

/// `on-error fail-check` from fully UP (rise 2, fall 3): one failed check of three,
/// so the server stays UP; with `option log-health-checks` the step is visible.
#[tokio::test]
async fn fail_check_from_fully_up_is_one_failure_of_fall() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "option log-health-checks
             server s1 127.0.0.1:{} check inter 1h init-state fully-up observe layer4 error-limit 2 on-error fail-check
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 2, "s2").await;
    wait_line(
        &lbd,
        &warning("Health check for server web/s1 failed, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\", status: 2/3 UP."),
        Duration::from_secs(1),
    )
    .await;
    assert!(lines_with(&lbd, "is DOWN").is_empty(), "{:?}", lines(&lbd));
}

/// `on-error fastinter`: no state change at the limit, but the next check comes after
/// `fastinter` instead of the hour of `inter`, and checks go on at `fastinter` until
/// the server is DOWN (three failed checks from fully UP).
#[tokio::test]
async fn fastinter_hurries_the_checks_without_changing_state() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let fast = Duration::from_millis(200);
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "server s1 127.0.0.1:{} check inter 1h fastinter 200ms init-state fully-up observe layer4 error-limit 3 on-error fastinter
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 3, "s2").await;
    let t0 = Instant::now();
    assert!(lines_with(&lbd, "web/s1").is_empty(), "{:?}", lines(&lbd));
    let seen = wait_line(
        &lbd,
        &warning(&format!(
            "Server web/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 1 active and 0 backup servers left. {CHECK_DOWN_TAIL}"
        )),
        STEP,
    )
    .await;
    let took = seen - t0;
    assert!(took >= fast * 2, "DOWN after {took:?}: fewer than 3 checks");
}

/// `on-error sudden-death` from fully UP: still UP at the limit, and the very next
/// failed check marks it DOWN (not `fall` of them).
#[tokio::test]
async fn sudden_death_leaves_one_failure() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "option log-health-checks
             server s1 127.0.0.1:{} check inter 1h fastinter 200ms init-state fully-up observe layer4 error-limit 2 on-error sudden-death
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 2, "s2").await;
    let down = warning(&format!(
        "Server web/s1 is DOWN. 1 active and 0 backup servers left. {CHECK_DOWN_TAIL}"
    ));
    wait_line(&lbd, &down, STEP).await;
    let got = lines_with(&lbd, "web/s1");
    assert_eq!(
        got,
        vec![
            warning("Health check for server web/s1 failed, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\", status: 1/3 UP."),
            warning("Health check for server web/s1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms, status: 0/2 DOWN."),
            down,
        ]
    );
}

/// `on-error sudden-death` from the default start (health = rise): HAProxy's
/// simulated pre-fatal failure already crosses `rise`, so the server goes DOWN at once.
#[tokio::test]
async fn sudden_death_from_default_start_marks_down() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "server s1 127.0.0.1:{} check inter 1h observe layer4 error-limit 2 on-error sudden-death
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 2, "s2").await;
    wait_line(
        &lbd,
        &warning(&format!(
            "Server web/s1 is DOWN, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\". 1 active and 0 backup servers left. {DOWN_TAIL}"
        )),
        Duration::from_secs(1),
    )
    .await;
}

/// `mark-down` with `option log-health-checks`: the simulated check is logged, then
/// the DOWN line without a reason (HAProxy reports the cause only once).
#[tokio::test]
async fn mark_down_with_log_health_checks() {
    let dead = ClosedPort::new();
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "option log-health-checks
             server s1 127.0.0.1:{} check inter 1h init-state fully-up observe layer4 error-limit 2 on-error mark-down
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    until_failures(&lbd, 2, "s2").await;
    let down = warning(&format!(
        "Server web/s1 is DOWN. 1 active and 0 backup servers left. {DOWN_TAIL}"
    ));
    wait_line(&lbd, &down, Duration::from_secs(1)).await;
    assert_eq!(
        lines_with(&lbd, "web/s1"),
        vec![
            warning("Health check for server web/s1 failed, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\", status: 0/2 DOWN."),
            down,
        ]
    );
}

/// One connection through a tcp-mode lbd: sends `bytes`, shuts down writing and
/// returns what came back (nothing when lbd closes or resets the connection).
async fn tcp_roundtrip(port: u16, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = connect(port, None).await;
    within(DEADLINE, "tcp exchange", async {
        let _ = s.write_all(bytes).await;
        let _ = s.shutdown().await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
}

/// tcp mode: failed connections from real client connections count too.
#[tokio::test]
async fn observe_in_tcp_mode() {
    let dead = ClosedPort::new();
    let s2 = TcpOrigin::start(TcpMode::Echo).await;
    let lbd = Lbd::start(&config(
        TCP_DEFAULTS,
        &format!(
            "server s1 127.0.0.1:{} check inter 1h init-state fully-up observe layer4 error-limit 2 on-error mark-down
             server s2 {}",
            dead.port,
            s2.hostport()
        ),
    ))
    .await;
    // Each client connection is one attempt; the ones sent to s1 are closed at once.
    let mut n = 0;
    while lines_with(&lbd, "web/s1").is_empty() {
        n += 1;
        assert!(n <= 8, "no DOWN after {n} connections: {:?}", lines(&lbd));
        let _ = tcp_roundtrip(lbd.port, b"x").await;
    }
    wait_line(
        &lbd,
        &warning(&format!(
            "Server web/s1 is DOWN, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\". 1 active and 0 backup servers left. {DOWN_TAIL}"
        )),
        Duration::from_secs(1),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(tcp_roundtrip(lbd.port, b"hello").await, "hello");
    }
}
