//! `stick on|match|store-request` with any sample pattern (not only `src`): a string
//! table keyed on a URL parameter or a header keeps each key on its server while
//! roundrobin would alternate.

mod common;

use common::*;

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

/// The origin that answered (`x-origin`).
fn origin_of(r: &str) -> String {
    r.lines()
        .find_map(|l| l.strip_prefix("x-origin: "))
        .unwrap_or_else(|| panic!("no x-origin in {r}"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn stick_on_a_url_parameter_and_match_on_a_header() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    use_backend byhdr if {{ path_beg /h }}
    default_backend byurlp
backend byurlp
    balance roundrobin
    stick-table type string len 32 size 10
    stick on urlp(client)
    server a {a}
    server b {b}
backend byhdr
    balance roundrobin
    stick-table type string len 32 size 10
    stick match req.hdr(x-id)
    stick store-request req.hdr(x-id) if {{ path /h/login }}
    server a {a}
    server b {b}
",
        a = a.hostport(),
        b = b.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    // Each key keeps the server its first request got; roundrobin alternates the
    // first requests of new keys.
    let first_c1 = origin_of(&raw(lb.port, &get("/?client=c1", "")).await);
    let first_c2 = origin_of(&raw(lb.port, &get("/?client=c2", "")).await);
    assert_ne!(first_c1, first_c2);
    for _ in 0..3 {
        assert_eq!(
            origin_of(&raw(lb.port, &get("/?client=c1", "")).await),
            first_c1
        );
        assert_eq!(
            origin_of(&raw(lb.port, &get("/?client=c2", "")).await),
            first_c2
        );
    }
    // Without the parameter there is no key: plain roundrobin.
    let x = origin_of(&raw(lb.port, &get("/", "")).await);
    let y = origin_of(&raw(lb.port, &get("/", "")).await);
    assert_ne!(x, y);

    // `match` only finds what `store-request` stored (on /h/login).
    let login = origin_of(&raw(lb.port, &get("/h/login", "X-Id: u1\r\n")).await);
    for _ in 0..3 {
        assert_eq!(
            origin_of(&raw(lb.port, &get("/h/x", "X-Id: u1\r\n")).await),
            login
        );
    }
    let p = origin_of(&raw(lb.port, &get("/h/x", "X-Id: u2\r\n")).await);
    let q = origin_of(&raw(lb.port, &get("/h/x", "X-Id: u2\r\n")).await);
    assert_ne!(p, q, "u2 never logged in: not stored");
}
