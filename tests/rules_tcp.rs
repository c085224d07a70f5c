//! `tcp-request connection|session|content` and `tcp-response content` rules, the
//! connection's `sess.` variables across its requests, and `http-after-response` on
//! lbd's own answers, through the real binary.

mod common;

use common::*;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Reads until the peer closes; the bytes received.
async fn read_all(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    within(DEADLINE, "read to the end", async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    out
}

const HTTP: &str = "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request connection reject if { src 127.0.0.2 }
    tcp-request session set-var(sess.net) src,ipmask(24)
    tcp-request content reject if { path /nope }
    tcp-request content set-var(txn.seen) str(content)
    http-request set-var(sess.n) var(sess.n,0),add(1)
    http-request return status 200 content-type text/plain lf-string \"n=%[var(sess.n)] net=%[var(sess.net)] seen=%[var(txn.seen)]\" if { path /count }
    http-after-response set-header x-after %[status]
    default_backend empty
backend empty
";

#[tokio::test]
async fn connection_content_rules_and_session_variables_in_http_mode() {
    let lb = Lbd::start(HTTP).await;
    // A rejected client is closed before anything is read or written.
    let mut s = connect(lb.port, Some(ip("127.0.0.2"))).await;
    let _ = s.write_all(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(read_all(&mut s).await, b"", "rejected at connection");

    // sess.n counts the requests of one connection; txn vars start afresh.
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = ka.get("/count").await;
    assert_eq!(r.body, "n=1 net=127.0.0.0 seen=content");
    assert_eq!(r.header("x-after"), "200", "after-response on a return");
    let r = ka.get("/count").await;
    assert_eq!(r.body, "n=2 net=127.0.0.0 seen=content");
    let mut other = KeepAlive::connect(lb.port).await;
    assert_eq!(
        other.get("/count").await.body,
        "n=1 net=127.0.0.0 seen=content"
    );

    // lbd's own 503 (no server) goes through http-after-response too.
    let r = ka.get("/x").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("x-after"), "503");

    // A content reject closes the connection without an answer.
    let mut s = connect(lb.port, None).await;
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_all(&mut s).await, b"", "rejected at content");
}

#[tokio::test]
async fn tcp_mode_rules_reject_or_relay() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 1s
    tcp-request connection accept if {{ src 127.0.0.3 }}
    tcp-request connection reject if !{{ src 127.0.0.1 }}
    tcp-request content reject if {{ src_port lt 0 }}
    default_backend be
backend be
    tcp-response content reject if {{ src 127.0.0.3 }}
    server s1 {}
",
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    let mut ok = connect(lb.port, None).await;
    ok.write_all(b"ping").await.unwrap();
    ok.shutdown().await.unwrap();
    assert_eq!(read_all(&mut ok).await, b"ping");
    let mut no = connect(lb.port, Some(ip("127.0.0.2"))).await;
    let _ = no.write_all(b"ping").await;
    assert_eq!(
        read_all(&mut no).await,
        b"",
        "rejected by a connection rule"
    );
    // Accepted at connection, rejected once the server is connected.
    let mut late = connect(lb.port, Some(ip("127.0.0.3"))).await;
    let _ = late.write_all(b"ping").await;
    assert_eq!(read_all(&mut late).await, b"", "rejected by tcp-response");
}
