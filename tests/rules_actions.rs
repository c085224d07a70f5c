//! HTTP rule actions through the real binary: `set-timeout` (and the `*_timeout`
//! fetches), `strict-mode`, `reject`, `silent-drop`, `tarpit` and `normalize-uri`.

mod common;

use common::*;
use std::process::Command;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn set_timeout_changes_the_server_timeout_and_the_fetches_show_it() {
    let origin = HttpOrigin::start("o1").await;
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 7s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-response set-header x-t \"%[fe_client_timeout] %[be_server_timeout] %[cur_server_timeout] %[be_tunnel_timeout] %[cur_tunnel_timeout]\"
    default_backend be
backend be
    timeout tunnel 9s
    http-request set-timeout server 200ms if {{ path_beg /slow }}
    http-request set-timeout tunnel int(3),mul(1000) if {{ path_beg /slow }}
    server s1 {}
",
        origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    let r = raw(lb.port, &get("/", "")).await;
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    assert!(r.contains("\r\nx-t: 7000 5000 5000 9000 9000\r\n"), "{r}");
    // 200ms instead of 5s: the slow server is given up on.
    let t = Instant::now();
    let r = raw(lb.port, &get("/slow?ms=1500", "")).await;
    assert!(r.starts_with("HTTP/1.1 504 "), "{r}");
    assert!(
        t.elapsed() < Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
    let r = raw(lb.port, &get("/slow?ms=1", "")).await;
    assert!(r.contains("\r\nx-t: 7000 5000 200 9000 3000\r\n"), "{r}");
}

#[tokio::test]
async fn a_failed_rewrite_answers_500_unless_strict_mode_is_off() {
    let origin = HttpOrigin::start("o1").await;
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request strict-mode off if {{ path /soft }}
    http-request set-header x-bad %[req.hdr(x-in),url_dec]
    http-request set-header x-after yes
    default_backend be
backend be
    server s1 {}
",
        origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    // A value with a line feed cannot be a header value: the rewrite fails.
    let r = raw(lb.port, &get("/headers", "X-In: a%0Ab\r\n")).await;
    assert!(r.starts_with("HTTP/1.1 500 "), "{r}");
    assert_eq!(origin.stats.requests.load(SeqCst), 0);
    let r = raw(lb.port, &get("/headers", "X-In: ab\r\n")).await;
    assert!(
        r.contains("\nx-bad: ab\n") && r.contains("\nx-after: yes\n"),
        "{r}"
    );
    // strict-mode off: the failed rewrite is skipped, the next rules run.
    let origin_before = origin.stats.requests.load(SeqCst);
    let r = raw(lb.port, &get("/soft", "X-In: a%0Ab\r\n")).await;
    assert!(
        r.starts_with("HTTP/1.1 404 ") || r.starts_with("HTTP/1.1 200 "),
        "{r}"
    );
    assert_eq!(origin.stats.requests.load(SeqCst), origin_before + 1);
}

#[tokio::test]
async fn reject_silent_drop_and_tarpit() {
    let origin = HttpOrigin::start("o1").await;
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout tarpit 300ms
frontend fe
    bind 127.0.0.1:@FE@
    http-request reject if {{ path /reject }}
    http-request silent-drop if {{ path /drop }}
    http-request tarpit if {{ path /tarpit }}
    http-request tarpit deny_status 429 if {{ path /tarpit429 }}
    default_backend be
backend be
    server s1 {}
",
        origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    assert_eq!(raw(lb.port, &get("/reject", "")).await, "");
    assert_eq!(raw(lb.port, &get("/drop", "")).await, "");
    let t = Instant::now();
    let r = raw(lb.port, &get("/tarpit", "")).await;
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert!(
        r.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{r}"
    );
    let r = raw(lb.port, &get("/tarpit429", "")).await;
    assert!(r.starts_with("HTTP/1.1 429 "), "{r}");
    assert_eq!(origin.stats.requests.load(SeqCst), 0);
}

#[tokio::test]
async fn normalize_uri_rewrites_what_the_server_gets() {
    let origin = HttpOrigin::start("o1").await;
    let cfg = format!(
        "global
    expose-experimental-directives
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request normalize-uri path-merge-slashes
    http-request normalize-uri path-strip-dotdot full
    http-request normalize-uri percent-decode-unreserved strict
    http-request normalize-uri query-sort-by-name
    http-response set-header x-url %[url]
    http-response set-header x-ok 1
    default_backend be
backend be
    http-response set-header x-be-url %[url]
    server s1 {}
",
        origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    let r = raw(lb.port, &get("//a//..//%68eaders?z=1&a=2", "")).await;
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    assert!(r.contains("\r\nx-url: /headers?a=2&z=1\r\n"), "{r}");
    let r = raw(lb.port, &get("/%zz", "")).await;
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    assert_eq!(origin.stats.requests.load(SeqCst), 1);
}

#[test]
fn the_new_actions_refuse_bad_words() {
    let base = "defaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:0\n";
    for (line, msg) in [
        (
            "http-request normalize-uri path-merge-slashes",
            "'normalize-uri' directive is experimental, must be allowed via a global 'expose-experimental-directives'",
        ),
        (
            "http-request set-timeout client 1s",
            "'http-request set-timeout' : 'client' is not a valid timeout name; expects 'server' or 'tunnel'.",
        ),
        (
            "http-request strict-mode maybe",
            "'http-request strict-mode' expects 'on' or 'off'.",
        ),
        (
            "http-response reject",
            "'http-response' : unknown action 'reject'",
        ),
    ] {
        let dir = std::env::temp_dir().join(format!("lbd-actions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.cfg");
        std::fs::write(&f, format!("{base}    {line}\n")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
            .args(["-c", "-f"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {err}");
        assert!(err.contains(msg), "{line}: {err}");
    }
}

#[tokio::test]
async fn json_query_reads_values_out_of_json() {
    let cfg = "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    http-request set-var(txn.s) req.fhdr(x-j),json_query('$.a.b[1]')
    http-request set-var(txn.n) req.fhdr(x-j),json_query('$.n',\"int\"),add(1)
    http-request set-var(txn.t) req.fhdr(x-j),json_query('$.t')
    http-request set-var(txn.d) req.fhdr(x-j),json_query('$.d')
    http-request set-var(txn.k) req.fhdr(x-j),json_query('$.my\\\\.key')
    http-request return status 200 content-type text/plain lf-string \"s=%[var(txn.s)] n=%[var(txn.n)] t=%[var(txn.t)] d=%[var(txn.d)] k=%[var(txn.k)] none=%[var(txn.none)]\"
";
    let lb = Lbd::start(cfg).await;
    let j = r#"{"a":{"b":["x","two"]},"n":-4,"t":true,"d":4.5,"my.key":"v"}"#;
    let r = raw(lb.port, &get("/", &format!("X-J: {j}\r\n"))).await;
    assert!(r.ends_with("\r\n\r\ns=two n=-3 t=1 d=4.5 k=v none="), "{r}");
    let (code, err) = {
        let dir = std::env::temp_dir().join(format!("lbd-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.cfg");
        std::fs::write(
            &f,
            "defaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:0\n    http-request set-var(txn.x) req.fhdr(x),json_query('$.a','str')\n",
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
            .args(["-c", "-f"])
            .arg(&f)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("output_type only supports \"int\" as argument"),
        "{err}"
    );
}

#[tokio::test]
async fn http_reuse_never_opens_a_server_connection_per_request() {
    let (o1, o2) = (HttpOrigin::start("o1").await, HttpOrigin::start("o2").await);
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    use_backend never if {{ path_beg /n }}
    default_backend always
backend always
    http-reuse always
    server s1 {}
backend never
    http-reuse never
    server s1 {}
",
        o1.hostport(),
        o2.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    for _ in 0..3 {
        assert!(raw(lb.port, &get("/a", ""))
            .await
            .starts_with("HTTP/1.1 200 "));
        assert!(raw(lb.port, &get("/n", ""))
            .await
            .starts_with("HTTP/1.1 200 "));
    }
    assert_eq!(o1.stats.requests.load(SeqCst), 3);
    assert_eq!(o2.stats.requests.load(SeqCst), 3);
    assert_eq!(o1.stats.accepted(), 1, "pooled: one connection");
    assert_eq!(o2.stats.accepted(), 3, "never: one connection per request");
}
