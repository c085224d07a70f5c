//! Stick-table counters through the real `lbd` binary: the classic rate limit
//! (`track-sc0 src table per_ip` + `deny deny_status 429 if { sc_http_req_rate(0) gt
//! 100 }`), `sc-inc-gpc0`/`sc-set-gpt0` with the fetches that read them, the runtime
//! socket's `show|clear|set table`, and tables kept across a SIGUSR2 reload while
//! their definition is unchanged.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use stats::*;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A frontend on `@FE@` tracking each source in `per_ip` (a backend holding only the
/// table), `rules` after the tracking rule, to origin `origin`.
fn config(sock: &str, origin: &str, store: &str, rules: &str) -> String {
    format!(
        "global\n    stats socket {sock} mode 600 level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    http-request track-sc0 src table per_ip\n{rules}    default_backend web\nbackend web\n    server s1 {origin}\nbackend per_ip\n    stick-table type ip size 1m expire 10s store {store}\n"
    )
}

/// The entry line of `key` in `show table per_ip key KEY` (None when absent).
async fn entry(sock: &str, key: &str) -> Option<String> {
    let out = cli(sock, &format!("show table per_ip key {key}")).await;
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("# table: per_ip, type: ip, size:1048576, used:")),
        "{out:?}"
    );
    lines.next().filter(|l| !l.is_empty()).map(str::to_string)
}

/// The value of `name=` in an entry line.
fn field(line: &str, name: &str) -> u64 {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

#[tokio::test]
async fn the_101st_request_in_a_second_gets_429() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let origin = HttpOrigin::start("s1").await;
    let lb = Lbd::start(&config(
        &sock,
        &origin.hostport(),
        "http_req_rate(1s),http_req_cnt",
        "    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100 }\n",
    ))
    .await;
    // A slow machine may take a second for 101 requests: such a run proves nothing
    // and is tried again from another source address, whose counters are fresh.
    let mut conclusive = false;
    for n in 2..6 {
        let src: IpAddr = format!("127.0.0.{n}").parse().unwrap();
        let mut c = KeepAlive::connect_from(lb.port, Some(src)).await;
        let start = Instant::now();
        let mut statuses = Vec::new();
        for _ in 0..101 {
            statuses.push(c.get("/").await.status);
        }
        let line = entry(&sock, &src.to_string()).await.expect("an entry");
        if start.elapsed() >= Duration::from_millis(900) {
            continue;
        }
        assert!(statuses[..100].iter().all(|&s| s == 200), "{statuses:?}");
        assert_eq!(statuses[100], 429);
        assert!(line.starts_with("0x"), "{line}");
        assert!(line.contains(&format!(": key={src} use=0 exp=")), "{line}");
        assert_eq!(field(&line, "http_req_cnt"), 101, "{line}");
        assert_eq!(field(&line, "http_req_rate(1000)"), 101, "{line}");
        let exp = field(&line, "exp");
        assert!(exp > 8000 && exp <= 10_000, "{line}");
        conclusive = true;
        break;
    }
    assert!(conclusive, "101 requests never fitted in 900 ms");
    // Another source has its own counter.
    let other: IpAddr = "127.0.0.9".parse().unwrap();
    let r = send_from(lb.port, Some(other), get_req("/")).await;
    assert_eq!(r.status, 200);
    let line = entry(&sock, "127.0.0.9").await.expect("an entry");
    assert_eq!(field(&line, "http_req_cnt"), 1, "{line}");
    assert_eq!(entry(&sock, "127.0.0.99").await, None);
}

#[tokio::test]
async fn counters_tags_and_fetches() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let origin = HttpOrigin::start("s1").await;
    let rules = "    http-request sc-inc-gpc0(0) if { path /inc }\n    http-request sc-set-gpt0(0) 42 if { path /tag }\n    http-request return status 200 content-type text/plain lf-string \"gpc0=%[sc0_get_gpc0] gpt0=%[sc_get_gpt0(0)] req=%[sc0_http_req_cnt] cur=%[sc0_conn_cur] src_req=%[src_http_req_cnt(per_ip)] tracked=%[sc0_tracked],%[sc1_tracked] cnt=%[table_cnt(per_ip)] in=%[src,in_table(per_ip)] conv=%[src,table_gpc0(per_ip)]\" if { path /show }\n";
    let lb = Lbd::start(&config(
        &sock,
        &origin.hostport(),
        "gpc0,gpt0,conn_cur,conn_cnt,http_req_cnt",
        rules,
    ))
    .await;
    let mut c = KeepAlive::connect(lb.port).await;
    assert_eq!(c.get("/inc").await.status, 200);
    assert_eq!(c.get("/inc").await.status, 200);
    assert_eq!(c.get("/tag").await.status, 200);
    let r = c.get("/show").await;
    assert_eq!(
        r.body,
        "gpc0=2 gpt0=42 req=4 cur=1 src_req=4 tracked=1,0 cnt=1 in=1 conv=2"
    );
    // Each request tracks once: 4 tracked connections, none open now.
    let line = entry(&sock, "127.0.0.1").await.expect("an entry");
    assert!(
        line.ends_with(" gpt0=42 gpc0=2 conn_cnt=4 conn_cur=0 http_req_cnt=4"),
        "{line}"
    );
}

#[tokio::test]
async fn show_clear_and_set_table_on_the_socket() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let origin = HttpOrigin::start("s1").await;
    let lb = Lbd::start(&config(&sock, &origin.hostport(), "gpc0,http_req_cnt", "")).await;
    assert_eq!(
        cli(&sock, "set table per_ip key 10.0.0.1 data.gpc0 5").await,
        "\n"
    );
    assert_eq!(
        cli(&sock, "set table per_ip key 10.0.0.2 data.gpc0 1").await,
        "\n"
    );
    assert_eq!(get(lb.port, "/").await.status, 200);
    assert_eq!(
        cli(&sock, "show table").await,
        "# table: per_ip, type: ip, size:1048576, used:3\n\n"
    );
    let out = cli(&sock, "show table per_ip data.gpc0 gt 3").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(
        lines[1].contains(": key=10.0.0.1 use=0 exp=")
            && lines[1].ends_with(" gpc0=5 http_req_cnt=0"),
        "{out:?}"
    );
    let out = cli(&sock, "show table per_ip data.http_req_cnt eq 1").await;
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.contains("key=127.0.0.1 ")),
        "{out:?}"
    );
    assert_eq!(cli(&sock, "clear table per_ip key 10.0.0.1").await, "\n");
    assert_eq!(entry(&sock, "10.0.0.1").await, None);
    assert_eq!(cli(&sock, "show table nope").await, "No such table\n\n");
    assert_eq!(
        cli(&sock, "show table per_ip data.nope gt 1").await,
        "Unknown data type\n\n"
    );
    assert_eq!(
        cli(&sock, "set table per_ip key 10.0.0.3 data.conn_cur 1").await,
        "Data type not stored in this table\n\n"
    );
    assert_eq!(
        cli(&sock, "show table per_ip key not-an-ip").await,
        "Invalid key\n\n"
    );
    assert_eq!(cli(&sock, "clear table per_ip").await, "\n");
    assert_eq!(
        cli(&sock, "show table per_ip").await,
        "# table: per_ip, type: ip, size:1048576, used:0\n\n"
    );
}

#[tokio::test]
async fn a_reload_keeps_an_unchanged_table() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let origin = HttpOrigin::start("s1").await;
    let cfg = config(&sock, &origin.hostport(), "gpc0", "");
    let lb = Lbd::start(&cfg).await;
    cli(&sock, "set table per_ip key 10.0.0.1 data.gpc0 7").await;
    let line = reload_by_signal(&lb).await;
    assert!(line.contains("Reload complete"), "{line}");
    let e = entry(&sock, "10.0.0.1")
        .await
        .expect("kept across the reload");
    assert!(e.ends_with(" gpc0=7"), "{e}");
    // A changed definition starts empty.
    lb.write_config(&cfg.replace("store gpc0", "store gpc0,gpc1"));
    let line = reload_by_signal(&lb).await;
    assert!(line.contains("Reload complete"), "{line}");
    assert_eq!(entry(&sock, "10.0.0.1").await, None);
}
