//! Answers lbd composes itself through the real binary: `http-error status N` (an
//! empty answer, HAProxy's own page, an `http-errors` section's page, an lf-string
//! evaluated per request) as `deny` and `return default-errorfiles` use them, and
//! `option http-restrict-req-hdr-names`.

mod common;

use common::*;
use std::process::Command;

/// `lbd -c` on `text`: the exit code and stderr.
pub fn check(text: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("lbd-replies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join(format!("c{}.cfg", text.len()));
    std::fs::write(&f, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
        .arg("-c")
        .arg("-f")
        .arg(&f)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn http_error_replaces_the_answers_for_its_status() {
    let dir = std::env::temp_dir().join(format!("lbd-http-error-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e404 = dir.join("404.http");
    std::fs::write(
        &e404,
        "HTTP/1.0 404 Not Found\r\nx-from: section\r\n\r\nnope\n",
    )
    .unwrap();
    let e500 = dir.join("500.http");
    std::fs::write(&e500, "HTTP/1.0 500 Oops\r\nx-from: file\r\n\r\n").unwrap();
    let cfg = format!(
        "http-errors errs
    errorfile 404 {e404}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    errorfile 400 {e500}
frontend fe
    bind 127.0.0.1:@FE@
    http-error status 400
    http-error status 403 default-errorfiles
    http-error status 404 errorfiles errs
    http-error status 500 errorfile {e500}
    http-error status 200 content-type text/plain hdr x-path \"p=%[path]\" lf-string \"path is %[path]\"
    http-request return status 200 default-errorfiles if {{ path /200 }}
    http-request deny deny_status 400 if {{ path /400 }}
    http-request deny if {{ path /403 }}
    http-request deny deny_status 404 if {{ path /404 }}
    http-request deny deny_status 500 if {{ path /500 }}
",
        e404 = e404.display(),
        e500 = e500.display()
    );
    let lb = Lbd::start(&cfg).await;
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

    let r = raw(lb.port, get("/200").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    let l = r.to_ascii_lowercase();
    assert!(l.contains("\r\ncontent-type: text/plain\r\n"), "{r}");
    assert!(l.contains("\r\nx-path: p=/200\r\n"), "{r}");
    assert!(l.contains("\r\ncontent-length: 12\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\npath is /200"), "{r}");

    // No answer given: an empty one, overriding the defaults' errorfile.
    let r = raw(lb.port, get("/400").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
    assert!(
        r.to_ascii_lowercase().contains("content-length: 0\r\n"),
        "{r}"
    );
    assert!(!r.contains("x-from"), "{r}");

    let r = raw(lb.port, get("/403").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{r}");
    assert!(r.ends_with("<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"), "{r}");

    let r = raw(lb.port, get("/404").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    assert!(
        r.contains("x-from: section\r\n") && r.ends_with("nope\n"),
        "{r}"
    );

    let r = raw(lb.port, get("/500").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 500 Oops\r\n"), "{r}");
    assert!(r.contains("x-from: file\r\n"), "{r}");
}

#[test]
fn http_error_refuses_what_haproxy_refuses() {
    let base = "defaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:0\n";
    for (line, msg) in [
        (
            "http-error status 302",
            "http-error : status code '302' not handled.",
        ),
        (
            "http-error 404",
            "http-error : expects 'status' <code> followed by the answer.",
        ),
        (
            "http-error status 404 bogus",
            "'http-error status' : unknown argument 'bogus'",
        ),
    ] {
        let (code, err) = check(&format!("{base}    {line}\n"));
        assert_eq!(code, 1, "{line}: {err}");
        assert!(err.contains(msg), "{line}: {err}");
    }
}

#[tokio::test]
async fn restrict_req_hdr_names_keeps_deletes_or_refuses() {
    let origin = HttpOrigin::start("o1").await;
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    use_backend del if {{ req.hdr(x-be) del }}
    use_backend rej if {{ req.hdr(x-be) rej }}
    default_backend keep
backend keep
    server s1 {o}
backend del
    option http-restrict-req-hdr-names delete
    server s1 {o}
backend rej
    option http-restrict-req-hdr-names reject
    server s1 {o}
",
        o = origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    let req = |be: &str| {
        format!("GET /headers HTTP/1.1\r\nHost: x\r\nX-be: {be}\r\nX-my_hdr: on\r\nX.dot: 1\r\nX-ok-1: y\r\nConnection: close\r\n\r\n")
    };
    // The origin answers the headers it got, one `name: value` line each.
    let r = raw(lb.port, req("keep").as_bytes()).await;
    assert!(
        r.contains("\nx-my_hdr: on\n") && r.contains("\nx.dot: 1\n"),
        "{r}"
    );
    let r = raw(lb.port, req("del").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(!r.contains("x-my_hdr") && !r.contains("x.dot"), "{r}");
    assert!(r.contains("\nx-ok-1: y\n"), "{r}");
    let r = raw(lb.port, req("rej").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{r}");
    assert_eq!(
        origin
            .stats
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}
