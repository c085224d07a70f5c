//! Client-side HTTP timers: `timeout http-request` answers 408 for a head that does not
//! complete in time; `timeout http-keep-alive` closes an idle connection silently and
//! leaves busy ones alone.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CFG: &str = "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout http-request 300ms
    timeout http-keep-alive 600ms
frontend fe
    bind 127.0.0.1:@FE@
    http-request return status 200 content-type text/plain string ok
";

async fn read_all(s: &mut tokio::net::TcpStream) -> (String, Duration) {
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = within(
        Duration::from_secs(5),
        "connection end",
        s.read_to_end(&mut out),
    )
    .await;
    (String::from_utf8_lossy(&out).into_owned(), t.elapsed())
}

#[tokio::test]
async fn an_incomplete_head_gets_408_after_timeout_http_request() {
    let lb = Lbd::start(CFG).await;
    let mut s = connect(lb.port, None).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (out, took) = read_all(&mut s).await;
    assert!(
        out.starts_with("HTTP/1.1 408 Request Time-out\r\n"),
        "{out:?}"
    );
    assert!(out.ends_with("</body></html>\n"), "{out:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(2000),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_gets_408_too() {
    let lb = Lbd::start(CFG).await;
    let mut s = connect(lb.port, None).await;
    let (out, _) = read_all(&mut s).await;
    assert!(out.starts_with("HTTP/1.1 408 "), "{out:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_silently_after_timeout_http_keep_alive() {
    let lb = Lbd::start(CFG).await;
    let mut s = connect(lb.port, None).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = within(Duration::from_secs(2), "first response", s.read(&mut buf))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 "));
    let (rest, took) = read_all(&mut s).await;
    assert_eq!(rest, "", "closed without a 408");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn requests_arriving_within_the_keep_alive_timeout_keep_the_connection() {
    let lb = Lbd::start(CFG).await;
    let mut s = connect(lb.port, None).await;
    let mut buf = vec![0u8; 4096];
    for _ in 0..4 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = within(Duration::from_secs(2), "response", s.read(&mut buf))
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 "));
        // Longer than timeout http-request, shorter than http-keep-alive.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}
