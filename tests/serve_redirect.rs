//! `redirect` and `http-request redirect` answer without reaching a server; `ssl_fc` is
//! false because lbd terminates no TLS, so `redirect scheme https if !{ ssl_fc }` always
//! sends plain-HTTP clients to https.

mod common;

use common::*;

const CFG: &str = "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    redirect scheme https code 301 if !{ ssl_fc } { path_beg /secure }
    http-request redirect prefix /new drop-query if { path_beg /old }
    http-request redirect location /moved code 308 append-slash if { path /x }
    http-request redirect prefix / set-cookie SEEN=1 if { path /cookie }
    http-request return status 200 content-type text/plain string ok
";

#[tokio::test]
async fn redirects_answer_with_the_right_code_and_location() {
    let lb = Lbd::start(CFG).await;
    let r = raw(
        lb.port,
        b"GET /secure/a?b=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 301 Moved Permanently\r\n"), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("\r\nlocation: https://shop.example/secure/a?b=1\r\n"),
        "{r}"
    );
    assert!(
        r.to_ascii_lowercase().contains("\r\ncontent-length: 0\r\n"),
        "{r}"
    );
    let r = raw(
        lb.port,
        b"GET /old/page?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 302 Found\r\n"), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("\r\nlocation: /new/old/page\r\n"),
        "drop-query: {r}"
    );
    let r = raw(
        lb.port,
        b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"), "{r}");
    assert!(
        r.to_ascii_lowercase().contains("\r\nlocation: /moved/\r\n"),
        "append-slash: {r}"
    );
    let r = raw(
        lb.port,
        b"GET /cookie?k=v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        r.to_ascii_lowercase()
            .contains("\r\nlocation: /cookie?k=v\r\n"),
        "{r}"
    );
    assert!(
        r.to_ascii_lowercase()
            .contains("\r\nset-cookie: seen=1; path=/\r\n"),
        "{r}"
    );
    let r = get(lb.port, "/other").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
}
