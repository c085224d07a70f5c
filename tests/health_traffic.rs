//! Traffic follows health: requests through the real `lbd` binary stop reaching a
//! server once it is DOWN and reach it again once it is UP, in http and tcp mode.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STEP: Duration = Duration::from_secs(3);

fn config(mode_defaults: &str, backend: &str) -> String {
    let mut c = format!(
        "{mode_defaults}    timeout check 500ms\nfrontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n"
    );
    for l in backend.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    c
}

/// Bodies of `n` GETs through lbd; every answer must be a 200.
async fn bodies(port: u16, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = get(port, "/").await;
        assert_eq!(r.status, 200, "{r:?}");
        out.push(r.body);
    }
    out
}

#[tokio::test]
async fn traffic_leaves_a_failing_server_and_returns_after_up() {
    let s1 = HealthOrigin::start("s1").await;
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "option httpchk GET /health
             default-server check inter 100ms rise 2 fall 2 init-state fully-up
             server s1 {}
             server s2 {}",
            s1.hostport(),
            s2.hostport()
        ),
    ))
    .await;
    let b = bodies(lbd.port, 6).await;
    assert_eq!(b.iter().filter(|b| *b == "s1").count(), 3, "{b:?}");

    // s1 still answers traffic, only its health check fails: lbd must stop using it.
    s1.break_health().await;
    wait_line_with(&lbd, "Server web/s1 is DOWN", STEP).await;
    let before = s1.traffic();
    let b = bodies(lbd.port, 6).await;
    assert!(b.iter().all(|b| b == "s2"), "{b:?}");
    assert_eq!(s1.traffic(), before, "a DOWN server got requests");

    s1.recover().await;
    wait_line_with(&lbd, "Server web/s1 is UP", STEP).await;
    let b = bodies(lbd.port, 6).await;
    assert_eq!(b.iter().filter(|b| *b == "s1").count(), 3, "{b:?}");
}

#[tokio::test]
async fn traffic_leaves_a_stopped_server_and_returns_when_it_listens_again() {
    let mut s1 = HealthOrigin::start("s1").await;
    let s2 = HealthOrigin::start("s2").await;
    let lbd = Lbd::start(&config(
        HTTP_DEFAULTS,
        &format!(
            "default-server check inter 100ms rise 2 fall 2 init-state fully-up
             server s1 {}
             server s2 {}",
            s1.hostport(),
            s2.hostport()
        ),
    ))
    .await;
    assert!(bodies(lbd.port, 4).await.contains(&"s1".to_string()));

    s1.stop().await;
    wait_line_with(&lbd, "Server web/s1 is DOWN", STEP).await;
    // Once DOWN, no request even tries s1: every one is answered by s2.
    let b = bodies(lbd.port, 6).await;
    assert!(b.iter().all(|b| b == "s2"), "{b:?}");

    s1.restart().await;
    wait_line_with(&lbd, "Server web/s1 is UP", STEP).await;
    let b = bodies(lbd.port, 6).await;
    assert_eq!(b.iter().filter(|b| *b == "s1").count(), 3, "{b:?}");
}

/// One connection through a tcp-mode lbd: sends `ping`, returns what came back.
async fn tcp_roundtrip(port: u16) -> String {
    let mut s = connect(port, None).await;
    within(DEADLINE, "tcp exchange", async {
        s.write_all(b"ping").await.expect("write");
        s.shutdown().await.expect("shutdown");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
}

#[tokio::test]
async fn tcp_mode_traffic_follows_checks() {
    let mut s1 = TcpOrigin::start(TcpMode::ReplyAfterEof("one:".into())).await;
    let s2 = TcpOrigin::start(TcpMode::ReplyAfterEof("two:".into())).await;
    let lbd = Lbd::start(&config(
        TCP_DEFAULTS,
        &format!(
            "default-server check inter 100ms rise 1 fall 1 init-state fully-up
             server s1 {}
             server s2 {}",
            s1.hostport(),
            s2.hostport()
        ),
    ))
    .await;
    s1.stop().await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        STEP,
    )
    .await;
    for _ in 0..4 {
        assert!(tcp_roundtrip(lbd.port).await.starts_with("two:"));
    }
}
