//! Slow and broken peers against the real `lbd` binary: clients that trickle a head,
//! stop reading, or hold many connections; origins that never answer, stop half-way,
//! reset or send garbage. Each case checks what the client sees and when, and a final
//! test checks that none of it leaks descriptors.

mod common;
mod hostile;

use common::{ClosedPort, HttpOrigin, Lbd};
use hostile::{connect, exchange, fd_count, Answer, Behavior, RawOrigin, OK_REPLY};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(8);

/// A config whose `default_backend` is `servers[0]`, with `use_backend NAME if {
/// path_beg /NAME }` for every server; `extra` lines go into `defaults`.
fn config(extra: &str, servers: &[(&str, String)]) -> String {
    let mut c = format!(
        "defaults
    mode http
    timeout connect 500ms
    timeout client 2s
    timeout server 1s
{extra}
frontend fe
    bind 127.0.0.1:@FE@
"
    );
    for (name, _) in servers {
        c.push_str(&format!(
            "    use_backend {name} if {{ path_beg /{name} }}\n"
        ));
    }
    c.push_str(&format!("    default_backend {}\n", servers[0].0));
    for (name, addr) in servers {
        c.push_str(&format!("backend {name}\n    server s {addr}\n"));
    }
    c
}

/// Writes `first`, then one byte of `b'a'` every `every` until the write fails, while
/// reading until the server closes; returns what was read, and the time from the
/// first write to the close.
async fn trickle(port: u16, first: &[u8], every: Duration) -> Answer {
    let s = connect(port).await;
    let (mut r, mut w) = s.into_split();
    let start = Instant::now();
    w.write_all(first).await.unwrap();
    let writer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if w.write_all(b"a").await.is_err() {
                break;
            }
        }
    });
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(T, r.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    writer.abort();
    Answer {
        bytes,
        closed,
        elapsed: start.elapsed(),
    }
}

fn in_window(d: Duration, lo: f64, hi: f64) -> bool {
    (lo..=hi).contains(&d.as_secs_f64())
}

#[tokio::test]
async fn timeout_http_request_bounds_a_trickled_head() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config(
        "    timeout http-request 1s\n    timeout http-keep-alive 600ms",
        &[("ok", o.hostport())],
    ))
    .await;
    // One byte every 100 ms: each byte is progress, but the head never ends.
    let a = trickle(
        lbd.port,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ",
        Duration::from_millis(100),
    )
    .await;
    assert_eq!(a.status(), 408, "{}", a.text());
    assert!(a.closed);
    assert!(in_window(a.elapsed, 0.9, 1.6), "408 after {:?}", a.elapsed);
    // A connection that sends nothing gets the same 408 at the same time.
    let mut s = connect(lbd.port).await;
    let a = hostile::read_until_close(&mut s, T).await;
    assert_eq!(a.status(), 408, "{}", a.text());
    assert!(in_window(a.elapsed, 0.9, 1.6), "408 after {:?}", a.elapsed);
    // Between requests, `timeout http-keep-alive` closes silently.
    let mut s = connect(lbd.port).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let a = hostile::read_until_close(&mut s, T).await;
    assert_eq!(a.status(), 200);
    assert_eq!(a.text().matches("HTTP/1.1 ").count(), 1, "{}", a.text());
    assert!(
        in_window(a.elapsed, 0.55, 1.2),
        "closed after {:?}",
        a.elapsed
    );
    assert_eq!(o.stats.requests(), 1);
}

#[tokio::test]
async fn timeout_client_bounds_the_head_when_http_request_is_unset() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config("", &[("ok", o.hostport())])).await;
    let a = trickle(
        lbd.port,
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        Duration::from_millis(100),
    )
    .await;
    assert_eq!(a.status(), 408, "{}", a.text());
    assert!(in_window(a.elapsed, 1.9, 2.8), "408 after {:?}", a.elapsed);
}

/// A response of `len` bytes of body.
fn big_reply(len: usize) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    r.resize(r.len() + len, b'x');
    r
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_at_timeout_client() {
    // 64 MiB: far more than every socket buffer on the way can hold.
    let o = RawOrigin::start(Behavior::Reply(big_reply(64 << 20))).await;
    let lbd = Lbd::start(&config("", &[("big", o.hostport())])).await;
    let mut s = connect(lbd.port).await;
    s.write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    // Read nothing. lbd must give up on this client (and its server connection) after
    // `timeout client` (2 s) without progress.
    assert!(
        hostile::settle(T, || o.rec.ended() == 1).await,
        "lbd still holds the server connection of a client that reads nothing"
    );
    let held = start.elapsed();
    assert!(in_window(held, 1.9, 4.0), "released after {held:?}");
    let a = hostile::read_until_close(&mut s, T).await;
    assert!(a.closed);
    assert!(a.bytes.len() < 64 << 20, "the whole body arrived");
}

#[tokio::test]
async fn a_slow_but_steady_reader_is_not_cut() {
    // `timeout client` is an inactivity timer: a reader that keeps taking bytes may take
    // longer than it in total.
    let len = 8 << 20;
    let o = RawOrigin::start(Behavior::Reply(big_reply(len))).await;
    let lbd = Lbd::start(&config("    timeout client 1s", &[("big", o.hostport())])).await;
    let mut s = connect(lbd.port).await;
    s.write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while got < len {
        tokio::time::sleep(Duration::from_millis(20)).await;
        match tokio::time::timeout(T, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("read stalled"),
        }
    }
    assert!(
        got >= len,
        "cut after {got} bytes and {:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() > Duration::from_secs(1),
        "too fast to prove anything"
    );
}

#[tokio::test]
async fn trickling_connections_do_not_delay_normal_requests() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config(
        "    timeout http-request 30s\n    timeout client 30s",
        &[("ok", o.hostport())],
    ))
    .await;
    let port = lbd.port;
    let mut slow = Vec::new();
    for _ in 0..200 {
        slow.push(tokio::spawn(async move {
            trickle(
                port,
                b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ",
                Duration::from_millis(200),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let r = common::get(port, "/").await;
        assert_eq!(r.status, 200);
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        worst < Duration::from_secs(1),
        "slowest normal request: {worst:?}"
    );
    eprintln!("slowest of 20 requests beside 200 trickling connections: {worst:?}");
    for t in &slow {
        assert!(!t.is_finished(), "a trickling connection was closed early");
    }
    for t in slow {
        t.abort();
    }
}

#[tokio::test]
async fn broken_origins_give_prompt_answers() {
    let silent = RawOrigin::start(Behavior::Silent).await;
    let half_body = RawOrigin::start(Behavior::ReplyClose(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec(),
    ))
    .await;
    let half_chunked = RawOrigin::start(Behavior::ReplyClose(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n5\r\nab".to_vec(),
    ))
    .await;
    let half_head = RawOrigin::start(Behavior::ReplyClose(
        b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
    ))
    .await;
    let reset_body = RawOrigin::start(Behavior::ReplyReset(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec(),
    ))
    .await;
    let reset_head = RawOrigin::start(Behavior::ReplyReset(Vec::new())).await;
    let garbage = RawOrigin::start(Behavior::Reply(b"garbage\r\n\r\n".to_vec())).await;
    let binary = RawOrigin::start(Behavior::Reply(vec![0u8; 100])).await;
    let lbd = Lbd::start(&config(
        "",
        &[
            ("silent", silent.hostport()),
            ("halfbody", half_body.hostport()),
            ("halfchunked", half_chunked.hostport()),
            ("halfhead", half_head.hostport()),
            ("resetbody", reset_body.hostport()),
            ("resethead", reset_head.hostport()),
            ("garbage", garbage.hostport()),
            ("binary", binary.hostport()),
        ],
    ))
    .await;
    let get = |path: &str| format!("GET /{path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

    // Accepts, reads, never answers: 504 at `timeout server` (1 s).
    let a = exchange(lbd.port, get("silent").as_bytes(), T).await;
    assert_eq!(a.status(), 504, "{}", a.text());
    assert!(in_window(a.elapsed, 0.9, 1.8), "504 after {:?}", a.elapsed);
    assert!(hostile::settle(T, || silent.rec.ended() == 1).await);

    // Half a body, then close: the client gets the head, the part, and a close at once.
    for (path, part) in [("halfbody", "0123456789"), ("halfchunked", "0123456789")] {
        let a = exchange(lbd.port, get(path).as_bytes(), T).await;
        assert_eq!(a.status(), 200, "{path}: {}", a.text());
        assert!(
            a.closed && a.elapsed < Duration::from_millis(500),
            "{path}: {:?}",
            a.elapsed
        );
        assert!(a.text().contains(part), "{path}: {}", a.text());
        assert!(
            !a.text().ends_with("0\r\n\r\n"),
            "{path}: looks complete: {}",
            a.text()
        );
        if path == "halfbody" {
            assert!(a.body().len() < 100, "{path}: {}", a.text());
        }
    }
    // Reset mid-body: the same, promptly.
    let a = exchange(lbd.port, get("resetbody").as_bytes(), T).await;
    assert_eq!(a.status(), 200, "{}", a.text());
    assert!(
        a.closed && a.elapsed < Duration::from_millis(500),
        "{:?}",
        a.elapsed
    );
    assert!(a.body().len() < 100);
    // No complete head: 502, promptly.
    for path in ["halfhead", "resethead", "garbage", "binary"] {
        let a = exchange(lbd.port, get(path).as_bytes(), T).await;
        assert_eq!(a.status(), 502, "{path}: {}", a.text());
        assert!(
            a.elapsed < Duration::from_millis(500),
            "{path}: {:?}",
            a.elapsed
        );
    }
}

#[tokio::test]
async fn a_stalled_upload_is_bounded() {
    // The origin waits for the whole body; the client sends half and stops.
    let o = RawOrigin::start(Behavior::Reply(OK_REPLY.to_vec())).await;
    let lbd = Lbd::start(&config("", &[("ok", o.hostport())])).await;
    let mut s = connect(lbd.port).await;
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let a = hostile::read_until_close(&mut s, T).await;
    // `timeout client` (2 s) bounds the wait for the client's bytes, not `timeout
    // server` (1 s): the server is not late, the client is.
    assert!(a.closed, "a stalled upload was held for {T:?}");
    assert_eq!(a.status(), 408, "{}", a.text());
    assert!(in_window(a.elapsed, 1.9, 3.0), "408 after {:?}", a.elapsed);
    assert!(o.rec.requests().is_empty());
}

#[tokio::test]
async fn a_slow_steady_upload_is_not_cut_by_timeout_server() {
    // 12 bytes at 300 ms intervals: 3.3 s in all, longer than `timeout server` (1 s)
    // and `timeout client` (2 s), but never silent for either.
    let o = RawOrigin::start(Behavior::Reply(OK_REPLY.to_vec())).await;
    let lbd = Lbd::start(&config("", &[("ok", o.hostport())])).await;
    let mut s = connect(lbd.port).await;
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    for b in b"0123456789ab" {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(&[*b]).await.unwrap();
    }
    let a = hostile::read_until_close(&mut s, T).await;
    assert_eq!(a.status(), 200, "{}", a.text());
    let got = o.rec.requests();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].ends_with(b"\r\n\r\n0123456789ab"),
        "{:?}",
        String::from_utf8_lossy(&got[0])
    );
}

/// Bad request number `i` (its kind is `i % 8`); never panics.
async fn bad_request(port: u16, i: usize) {
    let k = i % 8;
    let mut s = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(_) => return,
    };
    let req: &[u8] = match k {
        0 => b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        1 => b"POST /ok HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        2 => b"GET /garbage HTTP/1.1\r\nHost: a\r\n\r\n",
        3 => b"GET /halfbody HTTP/1.1\r\nHost: a\r\n\r\n",
        4 => b"GET /resetbody HTTP/1.1\r\nHost: a\r\n\r\n",
        5 => b"GET /refused HTTP/1.1\r\nHost: a\r\n\r\n",
        6 => b"GET / HTTP/1.1\r\nHo",
        _ => b"GET /silent HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    let _ = s.write_all(req).await;
    if k == 6 || (k == 7 && (i / 8) % 2 == 0) {
        // Client gone mid-head, or before the (slow) answer.
        tokio::time::sleep(Duration::from_millis(10)).await;
        return;
    }
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(T, async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn two_thousand_bad_requests_leak_no_descriptor() {
    let garbage = RawOrigin::start(Behavior::Reply(b"garbage\r\n\r\n".to_vec())).await;
    let half_body = RawOrigin::start(Behavior::ReplyClose(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec(),
    ))
    .await;
    let reset_body = RawOrigin::start(Behavior::ReplyReset(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec(),
    ))
    .await;
    let silent = RawOrigin::start(Behavior::Silent).await;
    let ok = RawOrigin::start(Behavior::Reply(OK_REPLY.to_vec())).await;
    let refused = ClosedPort::new();
    let mut cfg = config(
        "    timeout http-request 1s\n    timeout server 200ms",
        &[
            ("ok", ok.hostport()),
            ("garbage", garbage.hostport()),
            ("halfbody", half_body.hostport()),
            ("resetbody", reset_body.hostport()),
            ("silent", silent.hostport()),
            ("refused", format!("127.0.0.1:{}", refused.port)),
        ],
    );
    cfg = cfg.replace(
        "    timeout connect 500ms\n",
        "    timeout connect 500ms\n    retries 1\n",
    );
    let lbd = Lbd::start(&cfg).await;
    let pid = lbd.pid();
    let port = lbd.port;
    let run = |n: usize| async move {
        let mut set = tokio::task::JoinSet::new();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..16 {
            let next = next.clone();
            set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    bad_request(port, i).await;
                }
            });
        }
        while set.join_next().await.is_some() {}
    };
    // Warm up (lazy allocations, the log, thread pools), then let everything close.
    run(200).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = fd_count(pid);
    let start = Instant::now();
    run(2000).await;
    let took = start.elapsed();
    let during = fd_count(pid);
    let settled = hostile::settle(Duration::from_secs(15), || fd_count(pid) <= before + 3).await;
    let after = fd_count(pid);
    eprintln!(
        "lbd descriptors: {before} before, {during} right after 2,000 bad requests ({took:?}), {after} after settling"
    );
    assert!(
        settled,
        "descriptors: {before} before, {after} after settling"
    );
    // lbd still serves.
    let a = exchange(
        port,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        T,
    )
    .await;
    assert_eq!(a.status(), 200, "{}", a.text());
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_the_answer() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config("", &[("ok", o.hostport())])).await;
    for req in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok",
    ] {
        let mut s = connect(lbd.port).await;
        s.write_all(req).await.unwrap();
        // FIN after the request, as `nc -N` or `printf ... | nc` do.
        s.shutdown().await.unwrap();
        let a = hostile::read_until_close(&mut s, T).await;
        assert_eq!(
            a.status(),
            200,
            "{:?}: {}",
            String::from_utf8_lossy(req),
            a.text()
        );
        assert!(
            a.closed && a.elapsed < Duration::from_secs(1),
            "{:?}",
            a.elapsed
        );
    }
}
