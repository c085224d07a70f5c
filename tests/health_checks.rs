//! Active health checks, end to end: the real `lbd` binary checks origins that the test
//! runs on 127.0.0.1 and switches between healthy, unhealthy and gone; the tests assert
//! the exact lines an operator sees on stderr (pid and check durations normalised)
//! and how long the changes take.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::time::{Duration, Instant};

/// `defaults` (http) with `timeout check 500ms`, a frontend on `@FE@` and backend `web`
/// made of `backend` (one setting per line).
fn config(backend: &str) -> String {
    let mut c = format!(
        "{HTTP_DEFAULTS}    timeout check 500ms\nfrontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n"
    );
    for l in backend.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    c
}

const STEP: Duration = Duration::from_secs(3);

fn down_l7(server: &str, code: u16, info: &str, counts: &str) -> String {
    warning(&format!(
        "Server web/{server} is DOWN, reason: Layer7 wrong status, code: {code}, info: \"{info}\", check duration: Nms. {counts} 0 sessions active, 0 requeued, 0 remaining in queue."
    ))
}

fn up_l7(server: &str, counts: &str) -> String {
    warning(&format!(
        "Server web/{server} is UP, reason: Layer7 check passed, code: 200, check duration: Nms. {counts} 0 sessions requeued, 0 total in queue."
    ))
}

/// From fully UP it takes `fall` failed checks (no fewer, and no later than
/// fall x inter + timeout check) to go DOWN, and from DOWN `rise` passed checks to
/// come back; both lines are HAProxy's, with the counts of servers left.
#[tokio::test]
async fn fall_failures_mark_down_and_rise_successes_bring_back_in_time() {
    let s1 = HealthOrigin::start("s1").await;
    let s2 = HealthOrigin::start("s2").await;
    let inter = Duration::from_millis(200);
    let lbd = Lbd::start(&config(&format!(
        "option httpchk GET /health
         server s1 {} check inter 200ms rise 2 fall 3 init-state fully-up
         server s2 {} check inter 200ms init-state fully-up",
        s1.hostport(),
        s2.hostport()
    )))
    .await;

    let t0 = Instant::now();
    s1.break_health().await;
    let seen = wait_line(
        &lbd,
        &down_l7(
            "s1",
            503,
            "Service Unavailable",
            "1 active and 0 backup servers left.",
        ),
        STEP,
    )
    .await;
    let took = seen - t0;
    // Three failed checks: the first after the break, two more `inter` apart.
    assert!(
        took >= inter * 2,
        "DOWN after {took:?}: fewer than 3 checks"
    );
    assert!(
        took <= inter * 3 + Duration::from_millis(500),
        "DOWN after {took:?}, later than fall x inter + timeout check"
    );
    assert!(lines_with(&lbd, "web/s2").is_empty(), "{:?}", lines(&lbd));

    let t1 = Instant::now();
    s1.recover().await;
    let seen = wait_line(
        &lbd,
        &up_l7("s1", "2 active and 0 backup servers online."),
        STEP,
    )
    .await;
    let took = seen - t1;
    assert!(took >= inter, "UP after {took:?}: fewer than 2 checks");
    assert!(
        took <= inter * 2 + Duration::from_millis(500),
        "UP after {took:?}, later than rise x inter + timeout check"
    );
    // Exactly one DOWN and one UP, nothing about the backend as a whole.
    assert_eq!(lines_with(&lbd, "is DOWN").len(), 1, "{:?}", lines(&lbd));
    assert_eq!(lines_with(&lbd, "is UP").len(), 1, "{:?}", lines(&lbd));
    assert!(lines_with(&lbd, "no server available").is_empty());
}

/// A server that stops listening goes DOWN with `Layer4 connection problem` /
/// `Connection refused`; when it was the last one the backend alert follows at once;
/// when it listens again on the same port it comes back with `Layer4 check passed`.
#[tokio::test]
async fn refused_connections_mark_down_and_the_last_server_raises_the_alert() {
    let mut s1 = HealthOrigin::start("s1").await;
    let lbd = Lbd::start(&config(&format!(
        "server s1 {} check inter 100ms rise 2 fall 2",
        s1.hostport()
    )))
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "s1");

    s1.stop().await;
    let down = warning(
        "Server web/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    );
    wait_line(&lbd, &down, STEP).await;
    let all = lines(&lbd);
    let i = all.iter().position(|l| *l == down).unwrap();
    assert_eq!(
        all.get(i + 1).map(String::as_str),
        Some(alert("backend 'web' has no server available!").as_str()),
        "{all:?}"
    );
    assert_eq!(get(lbd.port, "/").await.status, 503);

    s1.restart().await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is UP, reason: Layer4 check passed, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
        STEP,
    )
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "s1");
}

/// Backup servers are called `Backup Server`; the counts track active and backup
/// servers separately, `Running on backup.` is said when only backups are left, and
/// the alert comes only when no server at all is left.
#[tokio::test]
async fn backup_servers_wording_and_counts() {
    let a1 = HealthOrigin::start("a1").await;
    let b1 = HealthOrigin::start("b1").await;
    let b2 = HealthOrigin::start("b2").await;
    let lbd = Lbd::start(&config(&format!(
        "option httpchk GET /health
         default-server check inter 100ms rise 1 fall 1 init-state fully-up
         server a1 {}
         server b1 {} backup
         server b2 {} backup",
        a1.hostport(),
        b1.hostport(),
        b2.hostport()
    )))
    .await;
    let tail = "0 sessions active, 0 requeued, 0 remaining in queue.";
    let down = |who: &str, counts: &str| {
        warning(&format!("{who} is DOWN, reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: Nms. {counts} {tail}"))
    };

    b1.break_health().await;
    wait_line(
        &lbd,
        &down(
            "Backup Server web/b1",
            "1 active and 1 backup servers left.",
        ),
        STEP,
    )
    .await;
    a1.break_health().await;
    wait_line(
        &lbd,
        &down(
            "Server web/a1",
            "0 active and 1 backup servers left. Running on backup.",
        ),
        STEP,
    )
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "b2");
    assert!(lines_with(&lbd, "no server available").is_empty());
    b2.break_health().await;
    wait_line(
        &lbd,
        &down(
            "Backup Server web/b2",
            "0 active and 0 backup servers left.",
        ),
        STEP,
    )
    .await;
    wait_line(&lbd, &alert("backend 'web' has no server available!"), STEP).await;

    b1.recover().await;
    wait_line(
        &lbd,
        &warning("Backup Server web/b1 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue."),
        STEP,
    )
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "b1");
    a1.recover().await;
    wait_line(
        &lbd,
        &up_l7("a1", "1 active and 1 backup servers online."),
        STEP,
    )
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "a1");
    assert_eq!(lines_with(&lbd, "no server available").len(), 1);
}

/// `port` sends checks to another port than traffic: the traffic port never sees a
/// check, and a broken check port takes the server out although traffic would work.
#[tokio::test]
async fn checks_on_another_port() {
    let traffic = HealthOrigin::start("t").await;
    let checks = HealthOrigin::start("c").await;
    let lbd = Lbd::start(&config(&format!(
        "option httpchk GET /health
         server s1 {} check port {} inter 100ms rise 1 fall 1 init-state fully-up",
        traffic.hostport(),
        checks.port()
    )))
    .await;
    wait_until(STEP, "the check port sees checks", || {
        checks.seen_for("/health").len() >= 2
    })
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "t");

    checks.break_health().await;
    wait_line(
        &lbd,
        &down_l7(
            "s1",
            503,
            "Service Unavailable",
            "0 active and 0 backup servers left.",
        ),
        STEP,
    )
    .await;
    let before = traffic.traffic();
    assert_eq!(get(lbd.port, "/").await.status, 503);
    assert_eq!(traffic.traffic(), before, "a DOWN server got traffic");

    checks.recover().await;
    wait_line(
        &lbd,
        &up_l7("s1", "1 active and 0 backup servers online."),
        STEP,
    )
    .await;
    assert_eq!(get(lbd.port, "/").await.body, "t");
    assert!(
        traffic.seen_for("/health").is_empty(),
        "checks went to the traffic port"
    );
}

/// `addr` (with `port`) sends checks to another address: 127.0.0.2 here.
#[tokio::test]
async fn checks_on_another_address() {
    let traffic = HealthOrigin::start("t").await;
    let mut checks = HealthOrigin::start_on("c", std::net::Ipv4Addr::new(127, 0, 0, 2)).await;
    let lbd = Lbd::start(&config(&format!(
        "option httpchk GET /health
         server s1 {} check addr 127.0.0.2 port {} inter 100ms rise 1 fall 1 init-state fully-up",
        traffic.hostport(),
        checks.port()
    )))
    .await;
    wait_until(STEP, "127.0.0.2 sees checks", || {
        checks.seen_for("/health").len() >= 2
    })
    .await;
    checks.stop().await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        STEP,
    )
    .await;
    assert!(traffic.seen_for("/health").is_empty());
}

/// `option httpchk GET /health`: that exact request line reaches the origin
/// (HTTP/1.0 by default, so no Host header).
#[tokio::test]
async fn option_httpchk_sends_its_request() {
    let s1 = HealthOrigin::start("s1").await;
    let _lbd = Lbd::start(&config(&format!(
        "option httpchk GET /health
         server s1 {} check inter 100ms",
        s1.hostport()
    )))
    .await;
    wait_until(STEP, "a check arrives", || {
        !s1.seen_for("/health").is_empty()
    })
    .await;
    let req = &s1.seen_for("/health")[0];
    assert_eq!(req.line, "GET /health HTTP/1.0");
    assert_eq!(req.header("host"), None, "{req:?}");
}

/// `http-check send meth GET uri /health ver HTTP/1.1 hdr Host x`: method, uri,
/// version and header as configured, one Host header only.
#[tokio::test]
async fn http_check_send_sets_method_uri_version_and_headers() {
    let s1 = HealthOrigin::start("s1").await;
    let _lbd = Lbd::start(&config(&format!(
        "option httpchk
         http-check send meth GET uri /health ver HTTP/1.1 hdr Host x
         server s1 {} check inter 100ms",
        s1.hostport()
    )))
    .await;
    wait_until(STEP, "a check arrives", || {
        !s1.seen_for("/health").is_empty()
    })
    .await;
    let req = &s1.seen_for("/health")[0];
    assert_eq!(req.line, "GET /health HTTP/1.1");
    let hosts: Vec<_> = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        .collect();
    assert_eq!(hosts.len(), 1, "{req:?}");
    assert_eq!(hosts[0].1, "x");
}

/// Starts lbd with `expect` on one server checked every 100 ms, rise 1 fall 1.
async fn with_expect(s1: &HealthOrigin, expect: &str) -> Lbd {
    Lbd::start(&config(&format!(
        "option httpchk GET /health
         http-check expect {expect}
         server s1 {} check inter 100ms rise 1 fall 1 init-state fully-up",
        s1.hostport()
    )))
    .await
}

/// Waits until the origin answered `n` more checks, then asserts lbd said nothing
/// about s1 (the answers passed).
async fn still_up_after_checks(lbd: &Lbd, s1: &HealthOrigin, n: usize) {
    let start = s1.seen_for("/health").len();
    wait_until(STEP, "more checks arrive", || {
        s1.seen_for("/health").len() >= start + n
    })
    .await;
    // The answer to the last check may still be on its way; one more makes sure.
    wait_until(STEP, "one more check arrives", || {
        s1.seen_for("/health").len() > start + n
    })
    .await;
    assert!(lines_with(lbd, "web/s1").is_empty(), "{:?}", lines(lbd));
}

#[tokio::test]
async fn http_check_expect_status() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = with_expect(&s1, "status 200").await;
    still_up_after_checks(&lbd, &s1, 2).await;
    s1.break_health().await;
    wait_line(
        &lbd,
        &down_l7(
            "s1",
            503,
            "Service Unavailable",
            "0 active and 0 backup servers left.",
        ),
        STEP,
    )
    .await;
    s1.recover().await;
    wait_line(
        &lbd,
        &up_l7("s1", "1 active and 0 backup servers online."),
        STEP,
    )
    .await;
}

#[tokio::test]
async fn http_check_expect_not_status() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = with_expect(&s1, "! status 500").await;
    // 503 is not 500: still passes.
    s1.break_health().await;
    still_up_after_checks(&lbd, &s1, 2).await;
    assert_eq!(s1.post("/break?code=500").await, 200);
    wait_line(
        &lbd,
        &down_l7(
            "s1",
            500,
            "Internal Server Error",
            "0 active and 0 backup servers left.",
        ),
        STEP,
    )
    .await;
}

#[tokio::test]
async fn http_check_expect_rstatus() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = with_expect(&s1, "rstatus ^2").await;
    assert_eq!(s1.post("/break?code=204&body=").await, 200);
    still_up_after_checks(&lbd, &s1, 2).await;
    assert_eq!(s1.post("/break?code=302").await, 200);
    wait_line(
        &lbd,
        &down_l7("s1", 302, "Found", "0 active and 0 backup servers left."),
        STEP,
    )
    .await;
}

/// `expect string`: the body must contain the string; a 200 without it fails with
/// HAProxy's `Layer7 invalid response` / `HTTP content check did not match` (no code).
#[tokio::test]
async fn http_check_expect_string() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = with_expect(&s1, "string OK").await;
    still_up_after_checks(&lbd, &s1, 2).await;
    assert_eq!(s1.post("/break?code=200&body=nope").await, 200);
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN, reason: Layer7 invalid response, info: \"HTTP content check did not match\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        STEP,
    )
    .await;
    assert_eq!(s1.post("/break?code=200&body=allOKhere").await, 200);
    wait_line(
        &lbd,
        &up_l7("s1", "1 active and 0 backup servers online."),
        STEP,
    )
    .await;
}

/// `expect rstring`: the body must match the regex.
#[tokio::test]
async fn http_check_expect_rstring() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = with_expect(&s1, "rstring ^[a-z]*OK$").await;
    assert_eq!(s1.post("/break?code=200&body=allOK").await, 200);
    still_up_after_checks(&lbd, &s1, 2).await;
    assert_eq!(s1.post("/break?code=200&body=OK!").await, 200);
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN, reason: Layer7 invalid response, info: \"HTTP content check did not match\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        STEP,
    )
    .await;
}

/// `expect ! string`: the body must not contain it.
#[tokio::test]
async fn http_check_expect_not_string() {
    let s1 = HealthOrigin::start("s1").await;
    let lbd = with_expect(&s1, "! string maintenance").await;
    still_up_after_checks(&lbd, &s1, 2).await;
    assert_eq!(s1.post("/break?code=200&body=in-maintenance").await, 200);
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN, reason: Layer7 invalid response, info: \"HTTP check matched unwanted content\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        STEP,
    )
    .await;
}
