//! Error pages through the binary: `errorfile` in `defaults`, frontends and backends,
//! `http-errors` sections imported with `errorfiles`, `errorloc303`, `deny`/`return`
//! with `errorfile`/`errorfiles`, and an empty page (`/dev/null`) that closes the
//! connection without an answer, also for the 408 of `timeout http-request`.

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A page file with a marker header and body.
fn page(dir: &std::path::Path, name: &str, status_line: &str, marker: &str) -> String {
    let path = dir.join(name);
    let text = format!(
        "{status_line}\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/plain\r\nX-Page: {marker}\r\n\r\npage {marker}\n"
    );
    std::fs::write(&path, text).expect("write page");
    path.display().to_string()
}

fn pages_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lbd-errorfiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("pages dir");
    dir
}

/// The value of header `name` in a raw response (names compared in lower case).
fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn configured_pages_replace_lbds_own_in_haproxys_order() {
    let dir = pages_dir();
    let d503 = page(
        &dir,
        "d503",
        "HTTP/1.0 503 Service Unavailable",
        "defaults-503",
    );
    let b503 = page(
        &dir,
        "b503",
        "HTTP/1.0 503 Service Unavailable",
        "backend-503",
    );
    let s403 = page(&dir, "s403", "HTTP/1.0 403 Forbidden", "section-403");
    let r404 = page(&dir, "r404", "HTTP/1.1 404 Not Found", "rule-404");
    let closed = ClosedPort::new();
    let cfg = format!(
        "http-errors site
    errorfile 403 {s403}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    errorfile 503 {d503}
frontend fe
    bind 127.0.0.1:@FE@
    errorfiles site
    errorloc303 502 https://status.example/down
    http-request deny if {{ path /deny }}
    http-request deny deny_status 502 if {{ path /loc }}
    http-request deny deny_status 404 errorfile {r404} if {{ path /gone }}
    http-request return status 403 errorfiles site if {{ path /ret }}
    http-request return status 500 errorfile /dev/null if {{ path /silent }}
    use_backend web if {{ path_beg /web }}
backend web
    errorfile 503 {b503}
    server s1 127.0.0.1:{}
",
        closed.port
    );
    let lb = Lbd::start(&cfg).await;
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

    // A plain deny uses the frontend's 403 page, imported from the section.
    let r = raw(lb.port, get("/deny").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{r}");
    assert_eq!(header(&r, "x-page"), Some("section-403"), "{r}");
    assert_eq!(header(&r, "content-length"), Some("17"), "{r}");
    assert_eq!(body(&r), "page section-403\n");

    // errorloc303 turns the 502 page into a redirect.
    let r = raw(lb.port, get("/loc").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 303 See Other\r\n"), "{r}");
    assert_eq!(
        header(&r, "location"),
        Some("https://status.example/down"),
        "{r}"
    );
    assert_eq!(header(&r, "content-length"), Some("0"), "{r}");

    // deny and return with their own pages.
    let r = raw(lb.port, get("/gone").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    assert_eq!(header(&r, "x-page"), Some("rule-404"), "{r}");
    let r = raw(lb.port, get("/ret").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{r}");
    assert_eq!(header(&r, "x-page"), Some("section-403"), "{r}");

    // An empty page: the connection closes without a byte.
    let r = raw(lb.port, get("/silent").as_bytes()).await;
    assert_eq!(r, "", "an empty page sends nothing");

    // No backend: the frontend's 503 (inherited from defaults); the backend's own 503
    // once the backend is chosen.
    let r = raw(lb.port, get("/nowhere").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
    assert_eq!(header(&r, "x-page"), Some("defaults-503"), "{r}");
    let r = raw(lb.port, get("/web").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
    assert_eq!(header(&r, "x-page"), Some("backend-503"), "{r}");
    drop(closed);
}

#[tokio::test]
async fn the_408_page_is_sent_as_written_and_an_empty_one_closes_silently() {
    let dir = pages_dir();
    let p408 = dir.join("p408");
    let raw408 = "HTTP/1.0 408 Request Time-out\r\nConnection: close\r\nX-Page: mine\r\n\r\nslow\n";
    std::fs::write(&p408, raw408).expect("write page");
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout http-request 200ms
frontend fe
    bind 127.0.0.1:@FE@
    errorfile 408 {}
frontend quiet
    bind 127.0.0.1:@FE2@
    errorfile 408 /dev/null
",
        p408.display()
    );
    let lb = Lbd::start(&cfg).await;
    for (port, want) in [(lb.port, raw408), (lb.port2, "")] {
        let mut s = connect(port, None).await;
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        let mut out = Vec::new();
        within(Duration::from_secs(5), "the 408 close", async {
            let _ = s.read_to_end(&mut out).await;
        })
        .await;
        assert_eq!(String::from_utf8_lossy(&out), want);
    }
}
