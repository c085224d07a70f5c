//! The rule language through the real binary: sample expressions with converters in
//! acls, `%[...]` in header values and `return lf-string`, variables carried from the
//! request to the response, request-line rewrites, `replace-header`, `del-header -m`,
//! `set-status`, `allow`, and `proc.` variables set in `global`.

mod common;
#[allow(dead_code)]
#[path = "common/sock.rs"]
mod sock;

use common::*;

fn cfg(origin: &str) -> String {
    format!(
        "global
    set-var proc.site str(shop)
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@ name web
    acl api path_beg -i /API
    acl has_user req.hdr(x-user) -m found
    acl long_ua req.hdr(user-agent),length gt 10
    http-request return status 200 content-type text/plain lf-string \"user=%[req.hdr(x-user),lower] site=%[var(proc.site)] ua=%[req.hdr(user-agent)] so=%[so_name]/%[so_id]\" if has_user long_ua
    http-request set-var(txn.seg) path,field(2,/)
    http-request set-var(txn.n) req.hdr_cnt(x-a),mul(10),add(2)
    http-request del-header ^x-drop -m reg
    http-request replace-header x-rw ^(\\w+)-(\\w+)$ \\2-\\1
    http-request set-path /v2%[path] if api
    http-request set-query q=%[url_param(x),upper] if {{ url_param(x) -m found }}
    http-request allow if {{ path_end /stop }}
    http-request set-header x-after-allow yes
    http-response set-header x-seg %[var(txn.seg)]
    http-response set-header x-n %[var(txn.n)]
    http-response set-header x-srv %[srv_name]/%[be_name]
    http-response set-status 203 if {{ var(txn.seg) -m str teapot }}
    http-response redirect prefix /moved code 301 if {{ status 200 }} {{ var(txn.seg) -m str old }}
    default_backend be
backend be
    server s1 {origin}
"
    )
}

#[tokio::test]
async fn request_rules_answer_and_rewrite_response_rules_read_variables() {
    let origin = HttpOrigin::start("o1").await;
    let lb = Lbd::start(&cfg(&origin.hostport())).await;

    // An acl on a converter chain, -m found, and a return with samples in lf-string.
    let r = raw(
        lb.port,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-User: ALICE\r\nUser-Agent: a-long-agent/1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(
        r.ends_with("\r\n\r\nuser=alice site=shop ua=a-long-agent/1 so=web/1"),
        "{r}"
    );
    assert_eq!(
        origin
            .stats
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // A short user agent fails `long_ua`: the request goes on to the server.
    let r = raw(
        lb.port,
        b"GET /teapot/x HTTP/1.1\r\nHost: x\r\nX-User: bob\r\nUser-Agent: curl\r\nX-A: 1, 2\r\nX-A: 3\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 203 "),
        "set-status from a txn variable: {r}"
    );
    let lower = r.to_ascii_lowercase();
    assert!(lower.contains("\r\nx-seg: teapot\r\n"), "{r}");
    assert!(lower.contains("\r\nx-n: 32\r\n"), "3 values * 10 + 2: {r}");
    assert!(lower.contains("\r\nx-srv: s1/be\r\n"), "{r}");

    // A response rule answers with a redirect built from the request.
    let r = raw(
        lb.port,
        b"GET /old/page?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 301 "), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("\r\nlocation: /moved/old/page?q=1\r\n"),
        "{r}"
    );

    // Request-line rewrites and header rules, seen by the server.
    let resp = send(
        lb.port,
        hyper::Request::get("/Api/items?x=ab&y=1")
            .header("host", "x")
            .header("x-rw", "left-right")
            .header("x-drop-me", "1")
            .header("x-dropped", "2")
            .header("x-keep", "3")
            .body(ClientBody::default())
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-uri"), "/v2/Api/items?q=AB");
    assert_eq!(resp.header("x-seg"), "Api");
    assert_eq!(resp.header("x-n"), "2", "no x-a header: 0 * 10 + 2");
    let resp = send(
        lb.port,
        hyper::Request::get("/headers")
            .header("host", "x")
            .header("x-rw", "left-right")
            .header("x-drop-me", "1")
            .header("x-keep", "3")
            .body(ClientBody::default())
            .unwrap(),
    )
    .await;
    let body = resp.body.to_ascii_lowercase();
    assert!(body.contains("x-rw: right-left"), "{body}");
    assert!(!body.contains("x-drop-me"), "{body}");
    assert!(body.contains("x-keep: 3"), "{body}");
    assert!(body.contains("x-after-allow: yes"), "{body}");
    // `allow` stops the request rules: the header set after it is not added.
    let resp = send(
        lb.port,
        hyper::Request::get("/headers/stop")
            .header("host", "x")
            .body(ClientBody::default())
            .unwrap(),
    )
    .await;
    assert!(
        !resp.body.to_ascii_lowercase().contains("x-after-allow"),
        "{}",
        resp.body
    );
}

#[tokio::test]
async fn bad_expressions_are_refused_with_file_and_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(
                b"defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nfrontend fe\n bind :0\n http-request set-header x %[path,lowr]\n acl a req.hdr(x),field(x,/) y\n",
            )?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":8] : 'http-request set-header' : failed to parse sample expression <path,lowr> : unknown converter 'lowr'; did you mean 'lower' maybe ?."),
        "{err}"
    );
    assert!(
        err.contains(":9] : error detected while parsing ACL 'a' : invalid arg 1 in converter 'field' : expects an integer, not 'x'"),
        "{err}"
    );
}

#[tokio::test]
async fn use_backend_with_a_dynamic_name() {
    let a = HttpOrigin::start("a").await;
    let b = HttpOrigin::start("b").await;
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request set-var(txn.be) path,field(2,/)
    use_backend be_%[var(txn.be)] if {{ var(txn.be) -m found }}
    default_backend be_a
backend be_a
    server s {}
backend be_b
    server s {}
",
        a.hostport(),
        b.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    assert_eq!(get(lb.port, "/b/x").await.header("x-origin"), "b");
    assert_eq!(get(lb.port, "/a/x").await.header("x-origin"), "a");
    // No backend by that name: the rule is skipped, the default backend serves.
    assert_eq!(get(lb.port, "/zzz/x").await.header("x-origin"), "a");
}

/// `proc.` variables on the runtime socket: `get var` in HAProxy's words, and `set var`
/// (an expression or a format) once the session turned `experimental-mode` on.
#[tokio::test]
async fn proc_variables_are_read_and_set_on_the_runtime_socket() {
    let dir = sock::SockDir::new();
    let path = dir.sock();
    let lb = Lbd::start(&format!(
        "global
    stats socket {path} level admin
    set-var proc.n int(1)
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request set-var(proc.n) var(proc.n),add(1)
    http-request return status 200 hdr x-n %[var(proc.n)] hdr x-s %[var(proc.s)]
"
    ))
    .await;
    assert_eq!(
        sock::cli(&path, "get var proc.n").await,
        "proc.n: type=sint value=<1>\n"
    );
    let get = || async { send(lb.port, get_req("/")).await };
    assert_eq!(get().await.header("x-n"), "2");
    assert_eq!(
        sock::cli(&path, "get var proc.n").await,
        "proc.n: type=sint value=<2>\n"
    );
    assert_eq!(
        sock::cli(&path, "set var proc.n int(40)").await,
        "This command is restricted to experimental mode only.\n\n"
    );
    assert_eq!(
        sock::cli(
            &path,
            "experimental-mode on; set var proc.n int(40); set var proc.s fmt %[var(proc.n)]-x"
        )
        .await,
        "\n\n\n"
    );
    let r = get().await;
    assert_eq!((r.header("x-n"), r.header("x-s")), ("41", "40-x"));
    assert_eq!(
        sock::cli(&path, "get var proc.s").await,
        "proc.s: type=str value=<40-x>\n"
    );
    assert_eq!(
        sock::cli(&path, "get var proc.nope").await,
        "Variable not found.\n\n"
    );
}

/// `\xHH` escapes over 0x7f are bytes, as in HAProxy: in `str()`, in format text and
/// in `return string`.
#[tokio::test]
async fn hex_escapes_write_raw_bytes() {
    let lb = Lbd::start(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request return status 200 content-type text/plain string \"a\\xE9b\" hdr x-hex %[str(a\\xE9b),hex] hdr x-json \"%[str(-\\xE0-),json(utf8s)]\" hdr x-bad \"<%[str(\\xE0),json(utf8)]>\" hdr x-lit \"\\x41%[str(z)]\" if { path /b }
    http-request return status 200 content-type text/plain lf-string \"\\xFF%[str(\\xFE),length]\"
",
    )
    .await;
    let r = raw(
        lb.port,
        b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.contains("\r\nx-hex: 61E962\r\n"), "{r}");
    assert!(r.contains("\r\nx-json: --\r\n"), "{r}");
    assert!(r.contains("\r\nx-bad: <>\r\n"), "{r}");
    assert!(r.contains("\r\nx-lit: Az\r\n"), "{r}");
    // The body is the three bytes 61 E9 62 (a lone E9 reads as U+FFFD here).
    assert!(r.ends_with("\r\n\r\na\u{FFFD}b"), "{r}");
    let mut s = connect(lb.port, None).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /l HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    within(DEADLINE, "the answer", s.read_to_end(&mut got))
        .await
        .unwrap();
    assert!(got.ends_with(b"\r\n\r\n\xff1"), "{got:?}");
}

/// `fe_conn`: the frontend's current connections (this one, or a named one).
#[tokio::test]
async fn fe_conn_counts_the_frontends_connections() {
    let lb = Lbd::start(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request return status 200 hdr x-n %[fe_conn] hdr x-other %[fe_conn(other)]
frontend other
    bind 127.0.0.1:@FE2@
    http-request return status 200
",
    )
    .await;
    let mut a = KeepAlive::connect(lb.port).await;
    assert_eq!(a.get("/").await.header("x-n"), "1");
    let mut b = KeepAlive::connect(lb.port).await;
    let r = b.get("/").await;
    assert_eq!((r.header("x-n"), r.header("x-other")), ("2", "0"));
    assert_eq!(a.get("/").await.header("x-n"), "2");
}

/// `srv_sess_rate([BE/]SRV)`: a server's sessions over the last second; `srv_conn(SRV)`
/// names a server of the current backend.
#[tokio::test]
async fn srv_sess_rate_counts_the_servers_sessions() {
    let origin = HttpOrigin::start("o1").await;
    let lb = Lbd::start(&format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    default_backend web
backend web
    http-response set-header x-rate %[srv_sess_rate(web/s1)]
    http-response set-header x-here %[srv_sess_rate(s1)]/%[srv_conn(s1)]
    http-response set-header x-none <%[srv_sess_rate(web/nope)]>
    server s1 {}
",
        origin.hostport()
    ))
    .await;
    let mut last = 0;
    for _ in 0..3 {
        let r = get(lb.port, "/").await;
        last = r.header("x-rate").parse::<i64>().unwrap();
        assert!((1..=3).contains(&last), "{last}");
        let (rate, conn) = r.header("x-here").split_once('/').unwrap();
        assert!(rate.parse::<i64>().unwrap() >= 1);
        assert_eq!(conn, "1", "this request holds the server's slot");
        assert_eq!(r.header("x-none"), "<>");
    }
    assert!(last >= 1);
}
