//! Serve traffic in `mode http`: routing, error statuses, header rules, connection
//! reuse and upgrades, through the real `lbd` binary.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A frontend on `@FE@` with `fe_lines`, then a backend `be` with `be_lines` and one
/// server per address.
fn one_backend(fe_lines: &str, be_lines: &str, servers: &[String]) -> String {
    let mut c = format!("{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n");
    for l in fe_lines.lines() {
        c.push_str(&format!("    {}\n", l.trim()));
    }
    c.push_str("    default_backend be\nbackend be\n");
    for l in be_lines.lines() {
        c.push_str(&format!("    {}\n", l.trim()));
    }
    for (i, s) in servers.iter().enumerate() {
        c.push_str(&format!("    server s{} {s}\n", i + 1));
    }
    c
}

fn req(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::builder().uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        b = b.header("host", "lbd.test");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).expect("request")
}

#[tokio::test]
async fn routes_by_host_then_path_else_default_backend() {
    let (a, api, dflt) = (
        HttpOrigin::start("a").await,
        HttpOrigin::start("api").await,
        HttpOrigin::start("dflt").await,
    );
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}
frontend fe
    bind 127.0.0.1:@FE@
    acl h hdr(host) -i a.example
    acl is_api path_beg /api
    use_backend host_a if h
    use_backend api if is_api
    default_backend dflt
backend host_a
    server a {}
backend api
    server api {}
backend dflt
    server d {}
",
        a.hostport(),
        api.hostport(),
        dflt.hostport()
    ))
    .await;
    let cases = [
        ("a.example", "/", "a"),
        ("A.EXAMPLE", "/x", "a"),
        ("a.example", "/api/v1", "a"), // the first matching rule wins
        ("b.example", "/api/v1", "api"),
        ("b.example", "/api", "api"),
        ("b.example", "/ap", "dflt"),
        ("b.example", "/", "dflt"),
        ("a.example.org", "/", "dflt"),
    ];
    for (host, path, want) in cases {
        let r = send(lb.port, req(path, &[("host", host)])).await;
        assert_eq!((r.status, r.body.as_str()), (200, want), "{host} {path}");
    }
}

#[tokio::test]
async fn no_server_available_is_503_naming_the_backend_in_html_or_json() {
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}
frontend fe
    bind 127.0.0.1:@FE@
    use_backend nobody if {{ path_beg /be }}
backend nobody
    server s1 127.0.0.1:9 disabled
"
    ))
    .await;
    let r = get(lb.port, "/be").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), "text/html");
    assert!(
        r.body.contains("<h1>503 Service Unavailable</h1>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("backend: nobody"), "{}", r.body);

    let r = send(lb.port, req("/be", &[("accept", "application/json")])).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(
        r.body
            .starts_with(r#"{"status":503,"backend":"nobody","time":""#),
        "{}",
        r.body
    );
    // HTML wins when the client prefers it.
    let r = send(
        lb.port,
        req("/be", &[("accept", "text/html, application/json;q=0.5")]),
    )
    .await;
    assert_eq!(r.header("content-type"), "text/html");

    // No use_backend matched and there is no default_backend.
    let r = send(lb.port, req("/other", &[("accept", "application/json")])).await;
    assert_eq!(r.status, 503);
    assert!(
        r.body.starts_with(r#"{"status":503,"backend":null,"#),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn origin_closing_without_an_answer_is_502_and_not_resent() {
    let origin = TcpOrigin::start(TcpMode::ReadHeadThenClose).await;
    let lb = Lbd::start(&one_backend("", "retries 2", &[origin.hostport()])).await;
    let r = get(lb.port, "/").await;
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.body.contains("<h1>502 Bad Gateway</h1>"), "{}", r.body);
    assert!(r.body.contains("backend: be"), "{}", r.body);
    // The request reached the server: HAProxy's default retries cover connection
    // failures only, so it is not sent again.
    assert_eq!(origin.stats.accepted(), 1);
}

#[tokio::test]
async fn origin_closing_at_accept_gives_an_error_in_bounded_time() {
    let origin = TcpOrigin::start(TcpMode::Close).await;
    let lb = Lbd::start(&one_backend("", "retries 2", &[origin.hostport()])).await;
    let r = within(Duration::from_secs(5), "answer", get(lb.port, "/")).await;
    assert_eq!(r.status, 502, "{r:?}");
    // At most the first try and `retries` more, never an endless reconnect loop.
    let n = origin.stats.accepted();
    assert!((1..=3).contains(&n), "{n} connections for one request");
}

#[tokio::test]
async fn timeout_server_gives_504() {
    let origin = HttpOrigin::start("slow").await;
    let lb = Lbd::start(&one_backend(
        "",
        "timeout server 200ms",
        &[origin.hostport()],
    ))
    .await;
    let t = Instant::now();
    let r = get(lb.port, "/slow?ms=3000").await;
    let took = t.elapsed();
    assert_eq!(r.status, 504, "{r:?}");
    assert!(
        r.body.contains("<h1>504 Gateway Time-out</h1>"),
        "{}",
        r.body
    );
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_millis(2000),
        "answered after {took:?}"
    );
    // A fast request on the same backend is fine.
    assert_eq!(get(lb.port, "/slow?ms=10").await.status, 200);
}

#[tokio::test]
async fn malformed_request_line_is_400_and_never_reaches_the_origin() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let out = raw(lb.port, b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400 "), "{out:?}");
    let out = raw(lb.port, b"NOT-HTTP\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400 "), "{out:?}");
    assert_eq!(origin.stats.accepted(), 0);
}

#[tokio::test]
async fn request_head_over_tune_bufsize_is_431() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    // Default tune.bufsize is 16384: a 12 KB header fits, a 20 KB one does not.
    let fits = "a".repeat(12 * 1024);
    let r = send(lb.port, req("/", &[("host", "x"), ("x-big", &fits)])).await;
    assert_eq!(r.status, 200);
    let big = "b".repeat(20 * 1024);
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let out = raw(lb.port, head.as_bytes()).await;
    assert!(
        out.starts_with("HTTP/1.1 431 "),
        "{:?}",
        &out[..out.len().min(200)]
    );
    assert_eq!(origin.stats.requests(), 1);
}

#[tokio::test]
async fn http_request_deny_answers_403_without_the_origin() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend(
        "http-request deny if { path_beg /admin }\nhttp-request deny deny_status 429 if { path /busy }",
        "",
        &[origin.hostport()],
    ))
    .await;
    let r = get(lb.port, "/admin/users").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<h1>403 Forbidden</h1>"), "{}", r.body);
    assert_eq!(get(lb.port, "/busy").await.status, 429);
    assert_eq!(origin.stats.requests(), 0);
    assert_eq!(get(lb.port, "/public").await.body, "o");
}

#[tokio::test]
async fn http_request_return_answers_with_its_status_body_and_headers() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend(
        r#"http-request return status 418 content-type text/plain string "short and stout" hdr x-kind teapot if { path /tea }"#,
        "",
        &[origin.hostport()],
    ))
    .await;
    let r = get(lb.port, "/tea").await;
    assert_eq!(r.status, 418);
    assert_eq!(r.body, "short and stout");
    assert_eq!(r.header("content-type"), "text/plain");
    assert_eq!(r.header("x-kind"), "teapot");
    assert_eq!(origin.stats.requests(), 0);
    assert_eq!(get(lb.port, "/coffee").await.body, "o");
}

#[tokio::test]
async fn request_header_rules_reach_the_origin() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend(
        "http-request set-header X-Env prod\nhttp-request del-header X-Secret\nhttp-request add-header X-Tag fe",
        "http-request add-header X-Tag be\nhttp-request set-header X-Backend be if { hdr(x-env) prod }",
        &[origin.hostport()],
    ))
    .await;
    let r = send(
        lb.port,
        req(
            "/headers",
            &[
                ("host", "x"),
                ("x-env", "dev"),
                ("x-secret", "s3cr3t"),
                ("x-tag", "client"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let lines: Vec<&str> = r.body.lines().collect();
    assert!(lines.contains(&"x-env: prod"), "{lines:?}");
    assert!(!lines.contains(&"x-env: dev"), "{lines:?}");
    assert!(!r.body.contains("x-secret"), "{lines:?}");
    let tags: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("x-tag: "))
        .collect();
    assert_eq!(tags, ["client", "fe", "be"]);
    // Backend conditions see the frontend's rewrites.
    assert!(lines.contains(&"x-backend: be"), "{lines:?}");
}

#[tokio::test]
async fn response_header_rules_reach_the_client() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend(
        "http-response set-header X-Frontend yes",
        "http-response set-header X-Served-By lbd\nhttp-response del-header X-Origin",
        &[origin.hostport()],
    ))
    .await;
    let r = get(lb.port, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "o"));
    assert_eq!(r.header("x-frontend"), "yes");
    assert_eq!(r.header("x-served-by"), "lbd");
    assert!(r.headers.get("x-origin").is_none(), "{:?}", r.headers);
}

#[tokio::test]
async fn option_forwardfor_appends_the_client_address() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("option forwardfor", "", &[origin.hostport()])).await;
    let r = get(lb.port, "/headers").await;
    let xff: Vec<&str> = r
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("x-forwarded-for: "))
        .collect();
    assert_eq!(xff, ["127.0.0.1"]);
    // An existing header is kept and the client address added after it.
    let r = send(
        lb.port,
        req(
            "/headers",
            &[("host", "x"), ("x-forwarded-for", "10.0.0.1")],
        ),
    )
    .await;
    let xff: Vec<&str> = r
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("x-forwarded-for: "))
        .collect();
    assert_eq!(xff, ["10.0.0.1", "127.0.0.1"]);
}

#[tokio::test]
async fn keep_alive_reuses_upstream_connections() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let mut c = KeepAlive::connect(lb.port).await;
    for i in 0..50 {
        let r = c.get(&format!("/n/{i}")).await;
        assert_eq!((r.status, r.body.as_str()), (200, "o"));
    }
    assert_eq!(origin.stats.requests(), 50);
    assert!(
        origin.stats.accepted() <= 2,
        "{} upstream connections for 50 keep-alive requests",
        origin.stats.accepted()
    );
    // A second client, one connection per request, still reuses the idle ones.
    for _ in 0..10 {
        assert_eq!(get(lb.port, "/").await.body, "o");
    }
    assert!(origin.stats.accepted() <= 3, "{}", origin.stats.accepted());
}

#[tokio::test]
async fn http_server_close_opens_one_upstream_connection_per_request() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend(
        "option http-server-close",
        "",
        &[origin.hostport()],
    ))
    .await;
    let mut c = KeepAlive::connect(lb.port).await;
    for _ in 0..20 {
        assert_eq!(c.get("/").await.body, "o");
    }
    // The client side stays keep-alive; the server side closes every time.
    assert!(!c.is_closed());
    assert_eq!(origin.stats.accepted(), 20);
    assert_eq!(origin.stats.requests(), 20);
}

#[tokio::test]
async fn httpclose_closes_the_client_connection_after_the_response() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("option httpclose", "", &[origin.hostport()])).await;
    let mut c = KeepAlive::connect(lb.port).await;
    let r = c.get("/").await;
    assert_eq!(r.body, "o");
    assert_eq!(r.header("connection"), "close");
    wait_until(DEADLINE, "lbd closes the client connection", || {
        c.is_closed()
    })
    .await;
}

/// Reads from `s` until the end of an HTTP head; returns the head and any bytes after it.
async fn read_head(s: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = got.split_off(p + 4);
            return (String::from_utf8_lossy(&got).into_owned(), rest);
        }
        let n = s.read(&mut buf).await.expect("read head");
        assert!(n > 0, "closed before the end of the head: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn upgrade_tunnels_bytes_both_ways_after_101() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "timeout tunnel 5s", &[origin.hostport()])).await;
    let mut s = connect(lb.port, None).await;
    within(DEADLINE, "upgrade exchange", async move {
        s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            .await
            .expect("write");
        let (head, rest) = read_head(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("\r\nupgrade: echo\r\n"), "{head}");
        assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head}");
        assert!(rest.is_empty());
        for msg in [
            &b"hello through the tunnel"[..],
            &[0u8, 1, 2, 255, 13, 10][..],
        ] {
            s.write_all(msg).await.expect("write");
            let mut back = vec![0u8; msg.len()];
            s.read_exact(&mut back).await.expect("echo");
            assert_eq!(back, msg);
        }
        // Half-close travels through the tunnel: the echo ends and so does the stream.
        s.shutdown().await.expect("shutdown");
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).await.expect("read to end");
        assert!(tail.is_empty(), "{tail:?}");
    })
    .await;
    assert_eq!(origin.stats.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_response_bodies_stream_through_intact() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let mut data = vec![0u8; 4 << 20];
    Prng::new(3).fill(&mut data);
    let data = Bytes::from(data);
    // With a Content-Length.
    let post = Request::post("/echo")
        .header("host", "x")
        .body(Full::new(data.clone()))
        .expect("request");
    let r = send(lb.port, post).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), data.len().to_string());
    assert!(
        r.bytes == data,
        "echoed body differs ({} bytes)",
        r.bytes.len()
    );
    // Chunked, in uneven pieces.
    let pieces = data
        .chunks(100_003)
        .map(Bytes::copy_from_slice)
        .collect::<Vec<_>>();
    let post = Request::post("/echo")
        .header("host", "x")
        .body(Chunked::new(pieces))
        .expect("request");
    let r = send(lb.port, post).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), "chunked");
    assert!(
        r.bytes == data,
        "echoed body differs ({} bytes)",
        r.bytes.len()
    );
}

#[tokio::test]
async fn bodyless_responses_keep_upstream_connections_reusable() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let mut c = KeepAlive::connect(lb.port).await;
    for _ in 0..3 {
        let head = Request::head("/")
            .header("host", "x")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let r = c.send(head).await;
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        assert_eq!(r.header("content-length"), "1");
        let r = c.get("/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "o"));
        for code in [204, 304] {
            let r = c.get(&format!("/status/{code}")).await;
            assert_eq!((r.status, r.body.as_str()), (code, ""));
        }
        let r = c.get("/status/404").await;
        assert_eq!((r.status, r.body.as_str()), (404, "o"));
    }
    assert_eq!(origin.stats.requests(), 15);
    assert!(origin.stats.accepted() <= 2, "{}", origin.stats.accepted());
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (s1, s2) = (HttpOrigin::start("s1").await, HttpOrigin::start("s2").await);
    let lb = Lbd::start(&one_backend(
        "",
        "balance roundrobin",
        &[s1.hostport(), s2.hostport()],
    ))
    .await;
    let out = raw(
        lb.port,
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let lower = out.to_ascii_lowercase();
    assert_eq!(lower.matches("http/1.1 200 ok\r\n").count(), 2, "{out}");
    let first = lower.find("x-uri: /first").expect("first answer");
    let second = lower.find("x-uri: /second").expect("second answer");
    assert!(first < second, "{out}");
    assert!(
        lower.find("x-origin: s1") < lower.find("x-origin: s2"),
        "{out}"
    );
}

#[tokio::test]
async fn absolute_form_targets_reach_the_origin_in_origin_form() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}
frontend fe
    bind 127.0.0.1:@FE@
    use_backend be if {{ path_beg /api }}
backend be
    server s1 {}
",
        origin.hostport()
    ))
    .await;
    let out = raw(
        lb.port,
        b"GET http://lbd.test/api/x?y=1 HTTP/1.1\r\nHost: lbd.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("\r\nx-uri: /api/x?y=1\r\n"),
        "{out}"
    );
}

#[tokio::test]
async fn close_delimited_origin_responses_are_forwarded_whole() {
    let origin = TcpOrigin::start(TcpMode::RawResponse(Bytes::from_static(
        b"HTTP/1.1 200 OK\r\nX-Origin: raw\r\n\r\nbody until the server closes",
    )))
    .await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let mut c = KeepAlive::connect(lb.port).await;
    for _ in 0..2 {
        let r = c.get("/").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "body until the server closes");
        assert_eq!(r.header("x-origin"), "raw");
    }
    assert_eq!(origin.stats.accepted(), 2);
}

#[tokio::test]
async fn an_invalid_origin_response_is_502() {
    let origin = TcpOrigin::start(TcpMode::RawResponse(Bytes::from_static(
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    )))
    .await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let r = get(lb.port, "/").await;
    assert_eq!(r.status, 502, "{r:?}");
}

#[tokio::test]
async fn origins_closing_after_each_response_never_cost_a_request() {
    let origin = HttpOrigin::start("o").await;
    let lb = Lbd::start(&one_backend("", "", &[origin.hostport()])).await;
    let mut c = KeepAlive::connect(lb.port).await;
    for i in 0..30 {
        let r = c.get("/close").await;
        assert_eq!((r.status, r.body.as_str()), (200, "o"), "request {i}");
        // `Connection: close` is hop-by-hop: it ends lbd's server side only.
        assert_eq!(r.header("connection"), "", "request {i}");
    }
    assert!(!c.is_closed());
    assert_eq!(origin.stats.requests(), 30);
}

/// `capture request header` / `capture response header`: the last value of each,
/// cut to its length, braced in the httplog line before the request line
/// (HAProxy's reg-test http-capture/multiple_headers).
#[tokio::test]
async fn captured_headers_appear_in_the_access_log() {
    let s1 = HttpOrigin::start("s1").await;
    let dir = std::env::temp_dir().join(format!("lbd-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    option httplog\n    log {} local0\n    \
         capture request header X-Req len 5\n    capture request header X-Absent len 8\n    \
         capture response header X-Origin len 10\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        log.display(),
        s1.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    let req = Request::get("/cap")
        .header("host", "x")
        .header("x-req", "first")
        .header("x-req", "second|value")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(lb.port, req).await.status, 200);
    let line = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("\"GET /cap "))
            .map(str::to_string)
    };
    wait_until(DEADLINE, "the access line", || line().is_some()).await;
    let line = line().unwrap();
    assert!(
        line.contains(" 0/0 {secon|} {s1} \"GET /cap HTTP/1.1\""),
        "{line}"
    );
    drop(lb);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `monitor-uri`: lbd answers the URI itself (200, 503 under `monitor fail`), before
/// any rule, never forwarding it; other URIs and other case go on (HAProxy's reg-test
/// checks/http-monitor-uri).
#[tokio::test]
async fn monitor_uri_is_answered_by_lbd() {
    let s1 = HttpOrigin::start("s1").await;
    let cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    monitor-uri /health\n    \
         acl maint hdr(x-maint) 1\n    monitor fail if maint\n    \
         http-request deny if {{ path /health }}\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        s1.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    let r = get(lb.port, "/health").await;
    assert_eq!(
        (r.status, r.body.contains("Service ready.")),
        (200, true),
        "{r:?}"
    );
    let req = Request::get("/health")
        .header("host", "x")
        .header("x-maint", "1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(lb.port, req).await.status, 503);
    assert_eq!(
        s1.stats.requests(),
        0,
        "monitor requests are never forwarded"
    );
    assert_eq!(get(lb.port, "/hEAlth").await.status, 200);
    assert_eq!(
        s1.stats.requests(),
        1,
        "another case is an ordinary request"
    );
}
