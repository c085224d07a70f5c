//! `http-request wait-for-body`, `http-response wait-for-body` and `option
//! http-buffer-request` through the real binary: the body read ahead is what
//! `req.body` reads, the server still gets every byte once, and a body that does not
//! come in time gets HAProxy's 408 (request) or 504 (response).

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head_and_part`, then `rest` after `pause` (when given), and returns what lbd
/// answered (the connection is closed by the request's `Connection: close`).
async fn exchange(port: u16, head_and_part: &[u8], rest: Option<(Duration, &[u8])>) -> String {
    let mut s = connect(port, None).await;
    s.write_all(head_and_part).await.unwrap();
    if let Some((pause, rest)) = rest {
        tokio::time::sleep(pause).await;
        // lbd may already have answered and closed (that is what some tests expect).
        let _ = s.write_all(rest).await;
    }
    let mut out = Vec::new();
    within(
        Duration::from_secs(5),
        "the answer",
        s.read_to_end(&mut out),
    )
    .await
    .ok();
    String::from_utf8_lossy(&out).into_owned()
}

fn config(origin: &str, rules: &str) -> String {
    format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 2s
    timeout server 2s
frontend fe
    bind 127.0.0.1:@FE@
{rules}
    default_backend be
backend be
    server s1 {origin}
"
    )
}

#[tokio::test]
async fn rules_read_the_body_and_the_server_gets_all_of_it() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config(
        &o.hostport(),
        "    http-request wait-for-body time 1s
    http-request deny deny_status 403 if { req.body -m sub forbidden }
    http-request set-header X-Len %[req.body_len]",
    ))
    .await;
    // Sent in two parts 50 ms apart: the rules wait for the whole body.
    let r = exchange(
        lbd.port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 11\r\n\r\nhello",
        Some((Duration::from_millis(50), b" world")),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.ends_with("\r\n\r\nhello world"), "{r}");
    let r = exchange(
        lbd.port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 14\r\n\r\nthis is ",
        Some((Duration::from_millis(50), b"forbidden"[..6].as_ref())),
    )
    .await;
    // "this is forbid": not the word yet, so it passes.
    assert!(r.ends_with("this is forbid"), "{r}");
    let r = exchange(
        lbd.port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 17\r\n\r\nthis is forbidden",
        None,
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    // A chunked body with trailers arrives whole and in order.
    let r = exchange(
        lbd.port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        Some((Duration::from_millis(50), b"2\r\nde\r\n0\r\nX-T: 1\r\n\r\n")),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("abcde"), "{r}");
}

#[tokio::test]
async fn body_len_counts_what_was_read_and_body_size_the_whole() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config(
        &o.hostport(),
        "    http-request wait-for-body time 1s at-least 2
    http-request set-header X-Len %[req.body_len]
    http-request set-header X-Size %[req.body_size]",
    ))
    .await;
    // Two bytes are enough: the rules go on before the other two come.
    let r = exchange(
        lbd.port,
        b"POST /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 4\r\n\r\nab",
        Some((Duration::from_millis(100), b"cd")),
    )
    .await;
    assert!(r.contains("x-len: 2") && r.contains("x-size: 4"), "{r}");
}

#[tokio::test]
async fn a_body_late_past_time_gets_408_and_at_least_goes_on_without_it() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config(
        &o.hostport(),
        "    http-request wait-for-body time 100ms if { path /a }
    http-request wait-for-body time 100ms at-least 5 if { path /b }",
    ))
    .await;
    let r = exchange(
        lbd.port,
        b"POST /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 10\r\n\r\n12345",
        Some((Duration::from_millis(400), b"67890")),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    assert_eq!(o.stats.requests(), 0, "the server never saw the request");
    // Five bytes are enough for /b: the request goes on, the rest follows.
    let r = exchange(
        lbd.port,
        b"POST /b?echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 10\r\n\r\n12345",
        Some((Duration::from_millis(400), b"67890")),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(o.stats.requests(), 1);
}

#[tokio::test]
async fn buffer_request_reads_the_body_before_the_rules() {
    let o = HttpOrigin::start("o").await;
    let lbd = Lbd::start(&config(
        &o.hostport(),
        "    option http-buffer-request
    http-request deny if { req.body -m sub evil }",
    ))
    .await;
    let r = exchange(
        lbd.port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 8\r\n\r\nsome",
        Some((Duration::from_millis(50), b"evil")),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert_eq!(o.stats.requests(), 0);
    let r = exchange(
        lbd.port,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 8\r\n\r\nsome",
        Some((Duration::from_millis(50), b"good")),
    )
    .await;
    assert!(r.ends_with("somegood"), "{r}");
}

#[tokio::test]
async fn a_response_body_late_past_time_gets_504() {
    // An origin that sends its head and half its body, then stalls.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
                    .await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = s.write_all(b"67890").await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            });
        }
    });
    let lbd = Lbd::start(&config(
        &addr.to_string(),
        "    http-response wait-for-body time 100ms if { path /wait }",
    ))
    .await;
    let r = exchange(
        lbd.port,
        b"GET /wait HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        None,
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 504"), "{r}");
    // Without the rule the response streams as it comes.
    let r = exchange(
        lbd.port,
        b"GET /other HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        None,
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 200") && r.ends_with("1234567890"),
        "{r}"
    );
}

#[test]
fn wait_for_body_needs_a_time() {
    let dir = std::env::temp_dir().join(format!("lbd-wfb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.cfg");
    std::fs::write(
        &f,
        "frontend fe\n    mode http\n    bind 127.0.0.1:0\n    http-request wait-for-body at-least 10\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f"])
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.cfg:4] : 'http-request wait-for-body' expects 'time <time>'"),
        "{err}"
    );
}

/// An origin that answers the first request of each connection and keeps it open, then
/// closes the connection when a second request comes on it (an idle connection that
/// goes away just as it is reused). Records each answered request's body.
async fn one_per_connection_origin() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = s2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // One request: the head, then Content-Length bytes.
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            seen.lock()
                                .unwrap()
                                .push(text[end + 4..end + 4 + len].to_string());
                            break;
                        }
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                // The next request on this connection: closed without an answer.
                let _ = s.read(&mut chunk).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn a_body_read_ahead_is_sent_again_when_a_reused_connection_fails() {
    let post = |body: &str| {
        format!(
            "POST /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let (addr, seen) = one_per_connection_origin().await;
    let lbd = Lbd::start(&config(&addr.to_string(), "    option http-buffer-request")).await;
    for body in ["first", "second", "third"] {
        let r = exchange(lbd.port, post(body).as_bytes(), None).await;
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("ok"),
            "{body}: {r}"
        );
    }
    assert_eq!(*seen.lock().unwrap(), ["first", "second", "third"]);
    // Without the body read ahead, such a request cannot be sent again: 502.
    let (addr, _) = one_per_connection_origin().await;
    let lbd = Lbd::start(&config(&addr.to_string(), "")).await;
    let r = exchange(lbd.port, post("first").as_bytes(), None).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = exchange(lbd.port, post("second").as_bytes(), None).await;
    assert!(r.starts_with("HTTP/1.1 502"), "{r}");
}
