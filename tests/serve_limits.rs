//! Serve traffic when servers fail or are full: `retries`, `option redispatch`,
//! server `maxconn` with the backend queue, `timeout queue` and `maxqueue`, through the
//! real `lbd` binary.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A frontend on `@FE@` in `mode`, a backend `be` with `be_lines` and the servers.
fn config(mode: &str, be_lines: &str, servers: &[(&str, String)]) -> String {
    let defaults = if mode == "tcp" {
        TCP_DEFAULTS
    } else {
        HTTP_DEFAULTS
    };
    let mut c = format!(
        "{defaults}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n"
    );
    for l in be_lines.lines() {
        c.push_str(&format!("    {}\n", l.trim()));
    }
    for (name, rest) in servers {
        c.push_str(&format!("    server {name} {rest}\n"));
    }
    c
}

#[tokio::test]
async fn redispatch_moves_the_last_retry_to_another_server() {
    let dead = ClosedPort::new();
    let s2 = HttpOrigin::start("s2").await;
    let servers = [
        ("s1", format!("127.0.0.1:{}", dead.port)),
        ("s2", s2.hostport()),
    ];
    let lb = Lbd::start(&config(
        "http",
        "balance roundrobin\nretries 2\noption redispatch",
        &servers,
    ))
    .await;
    for _ in 0..4 {
        let r = get(lb.port, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "s2"));
    }
    assert_eq!(s2.stats.requests(), 4);
}

#[tokio::test]
async fn without_redispatch_connection_failures_end_in_503_after_retries() {
    let dead = ClosedPort::new();
    let s2 = HttpOrigin::start("s2").await;
    let servers = [
        ("s1", format!("127.0.0.1:{}", dead.port)),
        ("s2", s2.hostport()),
    ];
    let lb = Lbd::start(&config("http", "balance roundrobin\nretries 2", &servers)).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = get(lb.port, "/").await;
        seen.push(format!(
            "{} {}",
            r.status,
            if r.status == 200 { &r.body } else { "" }
        ));
    }
    assert_eq!(seen, ["503 ", "200 s2", "503 ", "200 s2"]);
}

#[tokio::test]
async fn tcp_redispatch_reaches_the_other_server() {
    let dead = ClosedPort::new();
    let echo = TcpOrigin::start(TcpMode::Echo).await;
    let servers = [
        ("s1", format!("127.0.0.1:{}", dead.port)),
        ("s2", echo.hostport()),
    ];
    let lb = Lbd::start(&config(
        "tcp",
        "balance roundrobin\nretries 1\noption redispatch",
        &servers,
    ))
    .await;
    for i in 0..2 {
        let mut s = connect(lb.port, None).await;
        within(DEADLINE, "echo", async {
            let msg = format!("hello {i}");
            s.write_all(msg.as_bytes()).await.expect("write");
            s.shutdown().await.expect("shutdown");
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.expect("read");
            assert_eq!(back, msg.as_bytes());
        })
        .await;
    }
    assert_eq!(echo.stats.accepted(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_maxconn_queues_requests_and_serves_them_in_turn() {
    let o = HttpOrigin::start("o").await;
    let lb = Lbd::start(&config(
        "http",
        "timeout queue 5s",
        &[("s1", format!("{} maxconn 1", o.hostport()))],
    ))
    .await;
    let t = Instant::now();
    let reqs: Vec<_> = (0..3)
        .map(|_| tokio::spawn(get(lb.port, "/slow?ms=200")))
        .collect();
    for r in reqs {
        let r = within(DEADLINE, "queued request", r).await.expect("task");
        assert_eq!((r.status, r.body.as_str()), (200, "o"));
    }
    assert!(
        t.elapsed() >= Duration::from_millis(590),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(o.stats.requests(), 3);
    assert_eq!(
        o.stats
            .max_inflight
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_queue_answers_503_to_requests_that_waited_too_long() {
    let o = HttpOrigin::start("o").await;
    let lb = Lbd::start(&config(
        "http",
        "timeout queue 100ms",
        &[("s1", format!("{} maxconn 1", o.hostport()))],
    ))
    .await;
    let port = lb.port;
    let first = tokio::spawn(get(port, "/hold"));
    wait_until(DEADLINE, "the first request holds the slot", || {
        o.stats.inflight() == 1
    })
    .await;
    let t = Instant::now();
    let waiting: Vec<_> = (0..2).map(|_| tokio::spawn(get(port, "/"))).collect();
    for w in waiting {
        let r = within(DEADLINE, "queued request", w).await.expect("task");
        assert_eq!(r.status, 503, "{r:?}");
        assert!(r.body.contains("backend: be"), "{}", r.body);
    }
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(95) && took < Duration::from_secs(2),
        "{took:?}"
    );
    o.release();
    let r = within(DEADLINE, "held request", first).await.expect("task");
    assert_eq!((r.status, r.body.as_str()), (200, "o"));
    assert_eq!(o.stats.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxqueue_refuses_at_once_when_the_queue_is_full() {
    let o = HttpOrigin::start("o").await;
    let lb = Lbd::start(&config(
        "http",
        "timeout queue 5s",
        &[("s1", format!("{} maxconn 1 maxqueue 1", o.hostport()))],
    ))
    .await;
    let port = lb.port;
    let first = tokio::spawn(get(port, "/hold"));
    wait_until(DEADLINE, "the first request holds the slot", || {
        o.stats.inflight() == 1
    })
    .await;
    // Two more: one waits in the queue (size 1), the other is refused at once.
    let t = Instant::now();
    let (mut a, mut b) = (tokio::spawn(get(port, "/")), tokio::spawn(get(port, "/")));
    let (refused, queued) = within(DEADLINE, "one refusal", async {
        tokio::select! {
            r = &mut a => (r.expect("task"), b),
            r = &mut b => (r.expect("task"), a),
        }
    })
    .await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    if queued.is_finished() {
        panic!("the queued request ended early: {:?}", queued.await);
    }
    o.release();
    for r in [first, queued] {
        let r = within(DEADLINE, "request", r).await.expect("task");
        assert_eq!((r.status, r.body.as_str()), (200, "o"));
    }
}
