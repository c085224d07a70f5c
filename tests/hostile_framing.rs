//! Hostile framing: raw bytes through the real `lbd` binary to a raw TCP origin that
//! records exactly what it receives. Each rule checks both what the client gets and
//! what reaches the origin: a request lbd refuses must not leave a single byte
//! upstream, and a request it forwards must reach the origin in one unambiguous form.

mod common;
mod hostile;

use common::Lbd;
use hostile::{exchange, Answer, Behavior, Parsed, RawOrigin, OK_REPLY};
use std::time::Duration;

/// The longest wait for one answer.
const T: Duration = Duration::from_secs(5);

fn config(origin: &str, global: &str) -> String {
    format!(
        "global
    {global}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 3s
    timeout http-keep-alive 3s
frontend fe
    bind 127.0.0.1:@FE@
    default_backend be
backend be
    server o1 {origin}
"
    )
}

async fn setup() -> (Lbd, RawOrigin) {
    let o = RawOrigin::start(Behavior::Reply(OK_REPLY.to_vec())).await;
    let lbd = Lbd::start(&config(&o.hostport(), "")).await;
    (lbd, o)
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// Sends `req`; asserts that lbd answers one of `want`, closes, and forwards nothing.
async fn rejected(lbd: &Lbd, o: &RawOrigin, req: &[u8], want: &[u16]) -> Answer {
    o.rec.clear();
    let a = exchange(lbd.port, req, T).await;
    assert!(
        want.contains(&a.status()),
        "request {}: wanted {want:?}, got {}",
        show(req),
        show(&a.bytes)
    );
    assert!(a.closed, "lbd kept the connection after {}", a.status());
    // Give a forwarded byte time to arrive: there must be none.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        o.rec.bytes().is_empty(),
        "request {} was refused with {} but the origin received {}",
        show(req),
        a.status(),
        show(&o.rec.bytes())
    );
    a
}

/// Sends `req`; asserts a `200 ok` from the origin and returns the one request the
/// origin received.
async fn forwarded(lbd: &Lbd, o: &RawOrigin, req: &[u8]) -> Parsed {
    o.rec.clear();
    let a = exchange(lbd.port, req, T).await;
    assert_eq!(a.status(), 200, "request {}: got {}", show(req), a.text());
    assert_eq!(a.body(), b"ok");
    let reqs = o.rec.requests();
    assert_eq!(reqs.len(), 1, "origin got {}", show(&o.rec.bytes()));
    assert_eq!(o.rec.malformed.load(std::sync::atomic::Ordering::SeqCst), 0);
    let bytes = o.rec.bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "bare LF forwarded: {}",
                show(&bytes)
            );
        }
    }
    Parsed::new(&reqs[0])
}

fn post(fields: &str, body: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n{fields}\r\n{body}").into_bytes()
}

#[tokio::test]
async fn content_length_and_transfer_encoding_forward_chunked_only() {
    let (lbd, o) = setup().await;
    for fields in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: abc\r\n",
    ] {
        // No `Connection: close`: lbd must close by itself after such a request.
        let req = format!("POST /p HTTP/1.1\r\nHost: a\r\n{fields}\r\n5\r\nhello\r\n0\r\n\r\n");
        o.rec.clear();
        let a = exchange(lbd.port, req.as_bytes(), T).await;
        assert_eq!(a.status(), 200, "{}", a.text());
        assert!(
            a.closed && a.elapsed < Duration::from_secs(1),
            "the client connection stays open after CL+TE ({:?})",
            a.elapsed
        );
        let r = Parsed::new(&o.rec.requests()[0]);
        assert_eq!(r.field("transfer-encoding"), ["chunked"], "{}", r.head);
        assert!(r.field("content-length").is_empty(), "{}", r.head);
        assert_eq!(r.dechunk().0, b"hello");
    }
    // A smuggling attempt: by Content-Length the body is "0\r\n\r", by chunked it is
    // empty and a second request follows. lbd reads chunked and then closes: the origin
    // gets one request with an empty body, never "/smuggled".
    o.rec.clear();
    let req = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let a = exchange(lbd.port, req, T).await;
    assert_eq!(a.status(), 200);
    assert_eq!(a.text().matches("HTTP/1.1 ").count(), 1, "{}", a.text());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reqs = o.rec.requests();
    assert_eq!(reqs.len(), 1, "{}", show(&o.rec.bytes()));
    assert_eq!(Parsed::new(&reqs[0]).dechunk().0, b"");
    assert!(!String::from_utf8_lossy(&o.rec.bytes()).contains("smuggled"));
}

#[tokio::test]
async fn invalid_content_length_is_400_and_never_forwarded() {
    let (lbd, o) = setup().await;
    for v in [
        "+5",
        "-5",
        "0x10",
        "5 5",
        "5,5",
        "",
        "99999999999999999999",
        "5\x0b",
    ] {
        let req = post(&format!("Content-Length: {v}\r\n"), "hello");
        rejected(&lbd, &o, &req, &[400]).await;
    }
    let req = post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello");
    rejected(&lbd, &o, &req, &[400]).await;
    // Accepted: optional whitespace around the value, leading zeros, an identical copy.
    for fields in [
        "Content-Length:    5  \r\n",
        "Content-Length: 005\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
    ] {
        let r = forwarded(&lbd, &o, &post(fields, "hello")).await;
        assert_eq!(r.raw_body, b"hello", "{fields:?}");
        assert_eq!(r.field("content-length").len(), 1, "{}", r.head);
    }
}

#[tokio::test]
async fn transfer_encoding_other_than_chunked_is_refused() {
    let (lbd, o) = setup().await;
    for v in [
        "gzip",
        "identity",
        "xchunked",
        "chunkedx",
        "chunked, gzip",
        "chunked;q=1",
        "chunked, chunked",
        "",
        "chun\x01ked",
        "chunked\x7f",
    ] {
        let req = post(
            &format!("Transfer-Encoding: {v}\r\n"),
            "5\r\nhello\r\n0\r\n\r\n",
        );
        rejected(&lbd, &o, &req, &[400]).await;
    }
    let req = post(
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
    );
    rejected(&lbd, &o, &req, &[400]).await;
    // A coding lbd cannot keep (it forwards the body de-chunked): 501.
    let req = post(
        "Transfer-Encoding: gzip, chunked\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
    );
    rejected(&lbd, &o, &req, &[501]).await;
    // Transfer-Encoding does not exist in HTTP/1.0.
    let req = b"POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    rejected(&lbd, &o, req, &[400]).await;
    // Accepted: case and optional whitespace.
    let r = forwarded(
        &lbd,
        &o,
        &post(
            "Transfer-Encoding:  Chunked \r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    )
    .await;
    assert_eq!(r.dechunk().0, b"hello");
}

#[tokio::test]
async fn malformed_field_lines_are_400_and_never_forwarded() {
    let (lbd, o) = setup().await;
    for fields in [
        "Host : a\r\n",
        "X-Pad : 1\r\n",
        "NoColonHere\r\n",
        "X(y): 1\r\n",
        "X y: 1\r\n",
        ": empty-name\r\n",
        "X: a\rb\r\n",
        "X: a\0b\r\n",
        "X: a\x01b\r\n",
        "X: a\nb\r\n",
        "X: a\r\n folded\r\n",
        "X: a\r\n\tfolded\r\n",
    ] {
        let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        rejected(&lbd, &o, req.as_bytes(), &[400]).await;
    }
    // A bare LF ends a line (RFC 9112 §2.2 allows it): two valid fields, forwarded as
    // two CRLF lines.
    let r = forwarded(
        &lbd,
        &o,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.field("x-a"), ["1"]);
    assert_eq!(r.field("x-b"), ["2"]);
}

#[tokio::test]
async fn host_is_required_once_in_http_1_1() {
    let (lbd, o) = setup().await;
    rejected(&lbd, &o, b"GET / HTTP/1.1\r\n\r\n", &[400]).await;
    rejected(
        &lbd,
        &o,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        &[400],
    )
    .await;
    rejected(
        &lbd,
        &o,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        &[400],
    )
    .await;
    rejected(&lbd, &o, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", &[400]).await;
    let r = forwarded(&lbd, &o, b"GET / HTTP/1.0\r\n\r\n").await;
    assert!(r.line.starts_with("GET / HTTP/1."), "{}", r.line);
}

#[tokio::test]
async fn other_http_versions_are_400() {
    let (lbd, o) = setup().await;
    for req in [
        &b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        b"GET / HTTP/3\r\nHost: a\r\n\r\n",
        b"GET / HTTP/0.9\r\nHost: a\r\n\r\n",
        b"GET / http/1.1\r\nHost: a\r\n\r\n",
        b"GET /\r\n\r\n",
    ] {
        rejected(&lbd, &o, req, &[400]).await;
    }
    // The HTTP/2 preface is HTTP/2 (preface detection): lbd answers with its SETTINGS.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = &o;
    let mut c = common::connect(lbd.port, None).await;
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    common::within(common::DEADLINE, "lbd's SETTINGS", c.read_exact(&mut head))
        .await
        .expect("a frame");
    assert_eq!((head[3], head[4]), (4, 0), "a SETTINGS frame: {head:?}");
}

#[tokio::test]
async fn absolute_form_reaches_the_origin_in_origin_form() {
    let (lbd, o) = setup().await;
    let r = forwarded(
        &lbd,
        &o,
        b"GET http://api.example:8080/p/q?x=1 HTTP/1.1\r\nHost: wrong\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.line, "GET /p/q?x=1 HTTP/1.1");
    assert_eq!(r.field("host"), ["api.example:8080"]);
    let r = forwarded(
        &lbd,
        &o,
        b"GET http://api.example HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.line, "GET / HTTP/1.1");
    rejected(
        &lbd,
        &o,
        b"GET ftp://api.example/ HTTP/1.1\r\nHost: x\r\n\r\n",
        &[400],
    )
    .await;
    rejected(
        &lbd,
        &o,
        b"GET http://user@api.example/ HTTP/1.1\r\nHost: x\r\n\r\n",
        &[400],
    )
    .await;
}

#[tokio::test]
async fn bad_chunks_never_reach_the_origin_as_a_complete_request() {
    let (lbd, o) = setup().await;
    for body in [
        "+5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "zz\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        "5 5\r\nhello\r\n0\r\n\r\n",
        "10000000000000000\r\nhello\r\n0\r\n\r\n",
        "fffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloworld\r\n0\r\n\r\n",
        "5\r\nhello0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n",
    ] {
        o.rec.clear();
        let req = post("Transfer-Encoding: chunked\r\n", body);
        let a = exchange(lbd.port, &req, T).await;
        // 400, or (when the origin already answered) a closed connection.
        assert!(
            a.status() == 400 || (a.status() == 0 && a.closed),
            "body {body:?}: {}",
            a.text()
        );
        assert!(a.closed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            o.rec.requests().is_empty(),
            "body {body:?}: the origin received a complete request: {}",
            show(&o.rec.bytes())
        );
    }
    // Leading zeros are not a longer size: accepted, as HAProxy does.
    let r = forwarded(
        &lbd,
        &o,
        &post(
            "Transfer-Encoding: chunked\r\n",
            "00000000000000005\r\nhello\r\n0\r\n\r\n",
        ),
    )
    .await;
    assert_eq!(r.dechunk().0, b"hello");
}

#[tokio::test]
async fn chunk_extensions_are_tolerated_up_to_a_cap_and_not_forwarded() {
    let (lbd, o) = setup().await;
    let r = forwarded(
        &lbd,
        &o,
        &post(
            "Transfer-Encoding: chunked\r\n",
            "5;a=b;c=\"d e\"\r\nhello\r\n6 ; x\r\n world\r\n0;last\r\n\r\n",
        ),
    )
    .await;
    assert_eq!(r.dechunk().0, b"hello world");
    assert!(
        !String::from_utf8_lossy(&r.raw_body).contains(';'),
        "extensions forwarded: {}",
        show(&r.raw_body)
    );
    // Over the cap (16 KiB of extensions per message): refused, nothing complete sent.
    o.rec.clear();
    let ext = ";x".repeat(10_000);
    let body = format!("1{ext}\r\na\r\n1{ext}\r\nb\r\n0\r\n\r\n");
    let a = exchange(lbd.port, &post("Transfer-Encoding: chunked\r\n", &body), T).await;
    assert!(
        a.status() == 400 || (a.status() == 0 && a.closed),
        "{}",
        a.text()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(o.rec.requests().is_empty(), "{}", show(&o.rec.bytes()));
}

#[tokio::test]
async fn trailers_never_carry_framing_fields_upstream() {
    let (lbd, o) = setup().await;
    for declared in ["", "Trailer: Content-Length, Transfer-Encoding, X-T\r\n"] {
        let r = forwarded(
            &lbd,
            &o,
            &post(
                &format!("Transfer-Encoding: chunked\r\n{declared}"),
                "5\r\nhello\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: gzip\r\nX-T: 1\r\n\r\n",
            ),
        )
        .await;
        let (body, trailers) = r.dechunk();
        assert_eq!(body, b"hello");
        let t = trailers.to_ascii_lowercase();
        assert!(
            !t.contains("content-length") && !t.contains("transfer-encoding"),
            "framing trailer forwarded: {trailers:?}"
        );
        assert!(r.field("content-length").is_empty(), "{}", r.head);
        assert_eq!(r.field("transfer-encoding"), ["chunked"]);
    }
}

#[tokio::test]
async fn oversized_heads_are_refused_before_any_byte_is_forwarded() {
    let (lbd, o) = setup().await;
    // One field over tune.bufsize (16384).
    let req = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    rejected(&lbd, &o, req.as_bytes(), &[431]).await;
    // More fields than tune.http.maxhdr (101).
    let many: String = (0..110).map(|i| format!("X-{i}: 1\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    rejected(&lbd, &o, req.as_bytes(), &[431]).await;
    // A request line longer than tune.bufsize: 431 too (the head does not fit).
    let req = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(20_000));
    rejected(&lbd, &o, req.as_bytes(), &[431]).await;
    // The same head sent slowly in pieces is refused the same way.
    o.rec.clear();
    let mut s = hostile::connect(lbd.port).await;
    use tokio::io::AsyncWriteExt;
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ").await;
    for _ in 0..20 {
        if s.write_all(&[b'a'; 1000]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let a = hostile::read_until_close(&mut s, T).await;
    assert_eq!(a.status(), 431, "{}", a.text());
    assert!(o.rec.bytes().is_empty());
}

#[tokio::test]
async fn a_target_over_64_kib_is_414_when_the_buffer_allows_it() {
    let o = RawOrigin::start(Behavior::Reply(OK_REPLY.to_vec())).await;
    let lbd = Lbd::start(&config(&o.hostport(), "tune.bufsize 131072")).await;
    let req = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(70_000));
    rejected(&lbd, &o, req.as_bytes(), &[414]).await;
    let req = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "a".repeat(30_000)
    );
    let r = forwarded(&lbd, &o, req.as_bytes()).await;
    assert_eq!(r.line.len(), "GET / HTTP/1.1".len() + 30_000);
}

/// A `GET` that asks lbd to close the client side (the upstream side stays pooled).
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn invalid_upstream_framing_is_502_and_the_connection_is_never_reused() {
    // One data-plane thread: idle upstream connections are kept per thread, and this
    // test counts them.
    let o = RawOrigin::start(Behavior::Reply(OK_REPLY.to_vec())).await;
    let lbd = Lbd::start(&config(&o.hostport(), "nbthread 1")).await;
    // Control: valid answers reuse one upstream connection.
    for _ in 0..3 {
        assert_eq!(exchange(lbd.port, GET, T).await.status(), 200);
    }
    assert_eq!(o.rec.accepted(), 1, "a valid connection was not reused");
    let bad: [&[u8]; 9] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: garbage\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"garbage\r\n\r\n",
    ];
    for reply in bad {
        o.set(Behavior::Reply(reply.to_vec()));
        let (acc, ended) = (o.rec.accepted(), o.rec.ended());
        let a = exchange(lbd.port, GET, T).await;
        assert_eq!(a.status(), 502, "reply {}: {}", show(reply), a.text());
        assert!(
            hostile::settle(T, || o.rec.ended() > ended).await,
            "reply {}: lbd kept the upstream connection open",
            show(reply)
        );
        o.set(Behavior::Reply(OK_REPLY.to_vec()));
        assert_eq!(exchange(lbd.port, GET, T).await.status(), 200);
        assert_eq!(
            o.rec.accepted(),
            acc + 1,
            "reply {}: the next request did not open a new connection",
            show(reply)
        );
    }
    // A bad chunk after a valid head: the head is already on its way, so the client gets
    // a close, after the head or before it (never a complete response), and the
    // upstream connection is closed.
    for reply in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokEXTRA\r\n0\r\n\r\n",
    ] {
        o.set(Behavior::Reply(reply.to_vec()));
        let ended = o.rec.ended();
        let a = exchange(lbd.port, GET, T).await;
        assert!(a.closed, "{}", a.text());
        if a.status() == 200 {
            assert!(
                !a.text().ends_with("0\r\n\r\n"),
                "a complete response: {}",
                a.text()
            );
        } else {
            assert!(matches!(a.status(), 0 | 502), "{}", a.text());
        }
        assert!(hostile::settle(T, || o.rec.ended() > ended).await);
    }
    // Content-Length with chunked: forwarded chunked, without Content-Length.
    o.set(Behavior::Reply(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
    ));
    let a = exchange(lbd.port, GET, T).await;
    assert_eq!(a.status(), 200, "{}", a.text());
    let head = a.text().to_ascii_lowercase();
    assert!(!head.contains("content-length"), "{}", a.text());
    assert!(head.contains("transfer-encoding: chunked"), "{}", a.text());
    assert!(head.ends_with("5\r\nhello\r\n0\r\n\r\n"), "{}", a.text());
    // Two identical lengths are one length.
    o.set(Behavior::Reply(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok".to_vec(),
    ));
    let a = exchange(lbd.port, GET, T).await;
    assert_eq!(a.status(), 200, "{}", a.text());
    assert_eq!(a.body(), b"ok");
}
