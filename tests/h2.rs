//! HTTP/2 towards clients through the real `lbd` binary: curl, h2load and hyper's
//! http2 client against `bind ... proto h2` and against the preface detection of a
//! plain bind, HTTP/1.1 origins behind; and the protections (settings announced, rapid
//! reset, CONTINUATION flood, idle GOAWAY) with hand-built frames over a TcpStream.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Body = BoxBody<Bytes, Infallible>;

/// An HTTP/2 connection (prior knowledge) to lbd.
async fn h2(port: u16) -> SendRequest<Body> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    send
}

fn req(port: u16, path: &str, body: Body) -> Request<Body> {
    Request::builder()
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .body(body)
        .expect("request")
}

fn empty() -> Body {
    Full::new(Bytes::new()).boxed()
}

/// Sends one request; the status, headers and whole body.
async fn call(s: &mut SendRequest<Body>, r: Request<Body>) -> (u16, hyper::HeaderMap, Bytes) {
    within(DEADLINE, "an h2 response", async {
        let resp = s.send_request(r).await.expect("h2 response");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("h2 body").to_bytes();
        (parts.status.as_u16(), parts.headers, body)
    })
    .await
}

/// curl's answer: (HTTP version, status, `x-origin`).
async fn curl(args: &[&str], url: &str) -> (String, u16, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "--max-time", "10"])
        .args(args)
        .arg(url)
        .output()
        .await
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = text.lines().next().unwrap_or_default().to_string();
    let mut w = first.split_whitespace();
    let version = w.next().unwrap_or_default().to_string();
    let status = w.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let origin = text
        .lines()
        .find_map(|l| l.strip_prefix("x-origin: "))
        .unwrap_or_default()
        .trim()
        .to_string();
    (version, status, origin)
}

fn two_origins_config(a: &HttpOrigin, b: &HttpOrigin, extra_fe: &str) -> String {
    format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    bind 127.0.0.1:@FE2@ proto h2\n{extra_fe}    default_backend web\nbackend web\n    balance roundrobin\n    server a {}\n    server b {}\n",
        a.hostport(),
        b.hostport()
    )
}

#[tokio::test]
async fn h2_and_h1_requests_balance_the_same_way() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let lb = Lbd::start(&two_origins_config(&a, &b, "")).await;
    let plain = format!("http://127.0.0.1:{}/", lb.port);
    let h2c = format!("http://127.0.0.1:{}/", lb.port2);
    let mut seq = Vec::new();
    // The preface on the plain bind, prior knowledge on `proto h2`, and HTTP/1.1
    // share one round robin.
    for (args, url, version) in [
        (&["--http2-prior-knowledge"][..], &plain, "HTTP/2"),
        (&["--http1.1"][..], &plain, "HTTP/1.1"),
        (&["--http2-prior-knowledge"][..], &h2c, "HTTP/2"),
        (&["--http1.1"][..], &plain, "HTTP/1.1"),
        (&["--http2-prior-knowledge"][..], &h2c, "HTTP/2"),
        (&["--http2-prior-knowledge"][..], &plain, "HTTP/2"),
    ] {
        let (v, status, origin) = curl(args, url).await;
        assert_eq!((v.as_str(), status), (version, 200), "{args:?} {url}");
        seq.push(origin);
    }
    assert_eq!(seq, ["a", "b", "a", "b", "a", "b"]);
}

#[tokio::test]
async fn rules_errors_persistence_and_reload_apply_to_streams() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dead = ClosedPort::new();
    let cfg = |gen: u32| {
        format!(
            "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ proto h2\n\
    http-request deny deny_status 403 if {{ path /deny }}\n\
    http-request set-header x-gen {gen}\n\
    http-response set-header x-ver %[req.ver]\n\
    use_backend dead if {{ path /dead }}\n    default_backend web\n\
backend web\n    balance roundrobin\n    cookie SRV insert indirect nocache\n\
    server a {} cookie ca\n    server b {} cookie cb\n\
backend dead\n    server d 127.0.0.1:{}\n",
            a.hostport(),
            b.hostport(),
            dead.port
        )
    };
    let lb = Lbd::start(&cfg(1)).await;
    let port = lb.port;
    let mut s = h2(port).await;
    let (status, h, body) = call(&mut s, req(port, "/headers", empty())).await;
    assert_eq!(status, 200);
    let seen = String::from_utf8_lossy(&body).into_owned();
    assert!(seen.contains("x-gen: 1\n"), "{seen}");
    // `:authority` became Host; the origin got an origin-form target.
    assert!(
        seen.contains(&format!("host: 127.0.0.1:{port}\n")),
        "{seen}"
    );
    assert_eq!(h["x-uri"], "/headers");
    assert_eq!(h["x-ver"], "2.0");
    let cookie = h["set-cookie"].to_str().unwrap().to_string();
    let pinned = h["x-origin"].to_str().unwrap().to_string();
    // The persistence cookie pins the server.
    for _ in 0..3 {
        let mut r = req(port, "/", empty());
        let c = cookie.split(';').next().unwrap().to_string();
        r.headers_mut().insert("cookie", c.parse().unwrap());
        let (_, h, _) = call(&mut s, r).await;
        assert_eq!(h["x-origin"], pinned.as_str());
    }
    // lbd's own answers travel as HTTP/2 responses (no connection-specific header).
    let (status, _, body) = call(&mut s, req(port, "/deny", empty())).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("403 Forbidden"));
    let (status, _, body) = call(&mut s, req(port, "/dead", empty())).await;
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("503 Service Unavailable"));
    // A server's `Connection: close` is not passed on: the connection stays usable.
    let (status, _, _) = call(&mut s, req(port, "/close", empty())).await;
    assert_eq!(status, 200);
    // A reload: the next stream of the same connection runs on the new graph.
    assert!(lb.reload(&cfg(2)).await.contains("Reload complete"));
    let (_, _, body) = call(&mut s, req(port, "/headers", empty())).await;
    assert!(String::from_utf8_lossy(&body).contains("x-gen: 2\n"));
}

#[tokio::test]
async fn logs_show_http2_and_the_stream_byte_counts() {
    let a = HttpOrigin::start("a").await;
    let log = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let log_port = log.local_addr().unwrap().port();
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ proto h2\n    log 127.0.0.1:{log_port} local0\n\
    log-format \"%HV|%{{+Q}}r|%ST|%B|%U|%s\"\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let mut s = h2(lb.port).await;
    let (status, _, body) = call(&mut s, req(lb.port, "/x?y=1", empty())).await;
    assert_eq!((status, &body[..]), (200, &b"a"[..]));
    let mut buf = vec![0u8; 4096];
    let n = within(DEADLINE, "the log line", log.recv(&mut buf))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let line = text.split_once("]: ").unwrap().1.to_string();
    let f: Vec<&str> = line.split('|').collect();
    assert_eq!(
        &f[..3],
        [
            "HTTP/2.0",
            &format!("\"GET http://127.0.0.1:{}/x?y=1 HTTP/2.0\"", lb.port),
            "200"
        ],
        "{line}"
    );
    let (out, inn): (u64, u64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
    assert!(
        out > 1 && out < 400,
        "%B counts the head and the 1-byte body: {line}"
    );
    assert!(inn > 20 && inn < 400, "%U counts the request head: {line}");
    assert_eq!(f[5], "a");
}

#[tokio::test]
async fn many_streams_on_one_connection_spread_over_servers_and_queue() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let lb = Lbd::start(&two_origins_config(&a, &b, "")).await;
    let out = tokio::process::Command::new("h2load")
        .args(["-n", "200", "-c", "1", "-m", "50"])
        .arg(format!("http://127.0.0.1:{}/slow?ms=50", lb.port2))
        .output()
        .await
        .expect("run h2load");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("200 succeeded"), "{text}");
    assert!(text.contains("status codes: 200 2xx"), "{text}");
    assert_eq!((a.stats.requests(), b.stats.requests()), (100, 100));
    // Streams of one connection are served at once, over both servers.
    assert!(
        a.stats.max_inflight.load(SeqCst) > 5,
        "a served them one by one"
    );
    assert!(
        b.stats.max_inflight.load(SeqCst) > 5,
        "b served them one by one"
    );

    // `maxconn 1` on the server: streams queue and all succeed, one at a time.
    let c = HttpOrigin::start("c").await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ proto h2\n    default_backend web\nbackend web\n    server c {} maxconn 1\n",
        c.hostport()
    ))
    .await;
    let s = h2(lb.port).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let mut s = s.clone();
        let port = lb.port;
        set.spawn(async move { call(&mut s, req(port, "/slow?ms=20", empty())).await.0 });
    }
    while let Some(st) = set.join_next().await {
        assert_eq!(st.unwrap(), 200);
    }
    assert_eq!(c.stats.requests(), 10);
    assert_eq!(c.stats.max_inflight.load(SeqCst), 1);
}

#[tokio::test]
async fn large_bodies_cross_intact_both_ways() {
    let a = HttpOrigin::start("a").await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let mut data = vec![0u8; 3 << 20];
    Prng::new(7).fill(&mut data);
    let data = Bytes::from(data);
    let mut s = h2(lb.port).await;
    // With a length, and without one (forwarded chunked to the HTTP/1.1 server).
    let sized: Body = Full::new(data.clone()).boxed();
    let (status, _, body) = call(&mut s, req(lb.port, "/echo", sized)).await;
    assert_eq!(status, 200);
    assert!(
        body == data,
        "sized body changed ({} bytes back)",
        body.len()
    );
    let pieces: Vec<Bytes> = data.chunks(70_000).map(Bytes::copy_from_slice).collect();
    let streamed: Body = Chunked::new(pieces).boxed();
    let (status, h, body) = call(&mut s, req(lb.port, "/echo", streamed)).await;
    assert_eq!(status, 200);
    assert!(
        body == data,
        "streamed body changed ({} bytes back) {h:?}",
        body.len()
    );
    let (_, _, seen) = call(
        &mut s,
        req(
            lb.port,
            "/headers",
            Chunked::new([Bytes::from_static(b"x")]).boxed(),
        ),
    )
    .await;
    assert!(
        String::from_utf8_lossy(&seen).contains("transfer-encoding: chunked"),
        "{seen:?}"
    );
}

// ---- hand-built frames ----

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A GET for `path` in HPACK without the dynamic table.
fn get_block(path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x04, path.len() as u8];
    b.extend_from_slice(path.as_bytes());
    b.extend_from_slice(&[0x01, 9]);
    b.extend_from_slice(b"localhost");
    b
}

/// A frame read from lbd (payload kept for SETTINGS and GOAWAY only).
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// Reads frames until lbd closes the connection (true) or `limit` passes (false).
async fn read_until_closed(c: &mut TcpStream, limit: Duration) -> (Vec<Frame>, bool) {
    let mut frames = Vec::new();
    let mut buf = Vec::new();
    let end = tokio::time::Instant::now() + limit;
    let mut chunk = vec![0u8; 65536];
    loop {
        let n = match tokio::time::timeout_at(end, c.read(&mut chunk)).await {
            Err(_) => return (frames, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (frames, true),
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 9 {
            let len = (buf[0] as usize) << 16 | (buf[1] as usize) << 8 | buf[2] as usize;
            if buf.len() < 9 + len {
                break;
            }
            let kind = buf[3];
            let keep = kind == 4 || kind == 7;
            frames.push(Frame {
                kind,
                flags: buf[4],
                stream: u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff,
                payload: if keep {
                    buf[9..9 + len].to_vec()
                } else {
                    Vec::new()
                },
            });
            buf.drain(..9 + len);
        }
    }
}

/// The settings of the first SETTINGS frame.
fn settings(frames: &[Frame]) -> Vec<(u16, u32)> {
    let f = frames
        .iter()
        .find(|f| f.kind == 4 && f.flags & 1 == 0)
        .expect("a SETTINGS frame");
    f.payload
        .chunks(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect()
}

fn goaway_code(frames: &[Frame]) -> Option<u32> {
    frames
        .iter()
        .find(|f| f.kind == 7)
        .map(|f| u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]]))
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn start_raw(port: u16) -> TcpStream {
    let mut c = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(4, 0, 0, &[]));
    c.write_all(&hello).await.expect("preface");
    c
}

#[tokio::test]
async fn settings_follow_the_tune_keywords_and_idle_connections_get_a_goaway() {
    let a = HttpOrigin::start("a").await;
    let lb = Lbd::start(&format!(
        "global\n    tune.bufsize 32768\n    tune.h2.max-concurrent-streams 7\n\
    tune.h2.header-table-size 1024\n    tune.h2.initial-window-size 32768\n\
{HTTP_DEFAULTS}    timeout http-keep-alive 300ms\n    timeout http-request 300ms\n\
frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let mut c = start_raw(lb.port).await;
    let mut out = frame(4, 1, 0, &[]);
    out.extend(frame(1, 0x5, 1, &get_block("/")));
    c.write_all(&out).await.unwrap();
    let t0 = std::time::Instant::now();
    let (frames, closed) = read_until_closed(&mut c, DEADLINE).await;
    let s = settings(&frames);
    for want in [(3, 7), (1, 1024), (4, 32768), (6, 32768)] {
        assert!(s.contains(&want), "setting {want:?} missing from {s:?}");
    }
    assert!(
        frames
            .iter()
            .any(|f| f.kind == 0 && f.stream == 1 && f.flags & 1 == 1),
        "the request was answered"
    );
    // Idle after the answer: `timeout http-keep-alive` ends it with a GOAWAY.
    assert!(closed, "the idle connection was not closed");
    assert_eq!(goaway_code(&frames), Some(0), "a GOAWAY (NO_ERROR) first");
    assert!(t0.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn rapid_reset_ends_the_connection_and_bounds_upstream_requests() {
    let a = HttpOrigin::start("a").await;
    let lb = Lbd::start(&format!(
        "global\n    tune.h2.max-concurrent-streams 20\n{HTTP_DEFAULTS}\
frontend fe\n    bind 127.0.0.1:@FE@ proto h2\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let rss0 = rss_kib(lb.pid());
    let mut c = start_raw(lb.port).await;
    let block = get_block("/hold");
    const STREAMS: u32 = 5000;
    let mut out = Vec::new();
    for i in 0..STREAMS {
        let id = 1 + 2 * i;
        out.extend(frame(1, 0x5, id, &block));
        out.extend(frame(3, 0, id, &8u32.to_be_bytes())); // RST_STREAM CANCEL
    }
    // lbd may close before everything is written.
    let _ = within(DEADLINE, "writing the frames", c.write_all(&out)).await;
    let (_, closed) = read_until_closed(&mut c, DEADLINE).await;
    assert!(closed, "the connection survived {STREAMS} reset streams");
    let n = a.stats.requests();
    assert!(
        n <= 200,
        "{n} requests reached the server for {STREAMS} reset streams"
    );
    let grown = rss_kib(lb.pid()).saturating_sub(rss0);
    assert!(grown < 64 * 1024, "lbd grew by {grown} KiB");
    // lbd still serves.
    a.release();
    let mut s = h2(lb.port).await;
    assert_eq!(call(&mut s, req(lb.port, "/", empty())).await.0, 200);
}

#[tokio::test]
async fn a_continuation_flood_is_a_connection_error() {
    let a = HttpOrigin::start("a").await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ proto h2\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let rss0 = rss_kib(lb.pid());
    let mut c = start_raw(lb.port).await;
    // HEADERS without END_HEADERS, then CONTINUATION frames that never end it, each
    // with one more literal header of 1000 bytes.
    let mut field = vec![0x00, 6];
    field.extend_from_slice(b"x-fill");
    field.extend_from_slice(&[0x7f, 0xe9, 0x06]); // 1000 as a 7-bit prefix integer
    field.extend(std::iter::repeat_n(b'v', 1000));
    let mut first = vec![0x82, 0x86, 0x84];
    first.extend_from_slice(&field);
    c.write_all(&frame(1, 0x1, 1, &first)).await.unwrap();
    let cont = frame(9, 0, 1, &field);
    let mut sent = 0usize;
    let writing = async {
        while sent < 20_000 {
            if c.write_all(&cont).await.is_err() {
                break;
            }
            sent += 1;
        }
    };
    within(DEADLINE, "the flood to stop", writing).await;
    let (frames, closed) = read_until_closed(&mut c, DEADLINE).await;
    assert!(sent < 20_000, "lbd read 20,000 CONTINUATION frames");
    assert!(closed, "the connection stayed open");
    // ENHANCE_YOUR_CALM (or PROTOCOL_ERROR) when the GOAWAY got through first.
    if let Some(code) = goaway_code(&frames) {
        assert!(code == 0xb || code == 0x1, "GOAWAY code {code}");
    }
    assert_eq!(a.stats.requests(), 0);
    let grown = rss_kib(lb.pid()).saturating_sub(rss0);
    assert!(grown < 32 * 1024, "lbd grew by {grown} KiB");
}

#[tokio::test]
async fn soft_stop_sends_goaway_and_lets_streams_finish() {
    let a = HttpOrigin::start("a").await;
    let mut lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ proto h2\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let mut s = h2(lb.port).await;
    let port = lb.port;
    let slow =
        tokio::spawn(async move { call(&mut s, req(port, "/slow?ms=500", empty())).await.0 });
    wait_until(DEADLINE, "the request at the server", || {
        a.stats.inflight() == 1
    })
    .await;
    lb.signal(libc::SIGUSR1);
    assert_eq!(
        within(DEADLINE, "the slow answer", slow).await.unwrap(),
        200
    );
    assert!(lb.wait_exit(DEADLINE).await.success());
}
