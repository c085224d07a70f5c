//! Stick tables (`stick-table type ip` + `stick on src`) through the real `lbd` binary,
//! in http and in tcp mode: one client address keeps its server while roundrobin would
//! alternate, addresses spread, entries expire after `expire` without use (and not while
//! used), survive a reload, are replaced when their server is DOWN, and are listed by
//! `show table` on the runtime socket in HAProxy's format.
//!
//! Clients connect from 127.0.0.1, 127.0.0.2, ... (all of 127/8 is loopback on Linux).

mod common;
#[path = "common/persist.rs"]
mod persist;

use bytes::Bytes;
use common::*;
use persist::*;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Http,
    Tcp,
}

/// Origins of either kind, by name; kept alive for the test.
enum Origins {
    Http(Vec<Origin>),
    Tcp(Vec<TcpOrigin>),
}

impl Origins {
    async fn start(mode: Mode, names: &[&str]) -> Origins {
        match mode {
            Mode::Http => {
                let mut v = Vec::new();
                for n in names {
                    v.push(Origin::start(n).await);
                }
                Origins::Http(v)
            }
            Mode::Tcp => {
                let mut v = Vec::new();
                for n in names {
                    v.push(
                        TcpOrigin::start(TcpMode::ReplyAfterEof(Bytes::from(n.to_string()))).await,
                    );
                }
                Origins::Tcp(v)
            }
        }
    }

    fn servers(&self, names: &[&str]) -> Vec<(String, String)> {
        let addrs: Vec<String> = match self {
            Origins::Http(v) => v.iter().map(Origin::hostport).collect(),
            Origins::Tcp(v) => v.iter().map(TcpOrigin::hostport).collect(),
        };
        names
            .iter()
            .zip(addrs)
            .map(|(n, a)| (n.to_string(), a))
            .collect()
    }

    async fn stop(&mut self, i: usize) {
        match self {
            Origins::Http(v) => v[i].stop().await,
            Origins::Tcp(v) => v[i].stop().await,
        }
    }
}

/// lbd in `mode` with an admin runtime socket at `sock`, frontend on `@FE@`, backend
/// `be` balancing roundrobin over `servers` with a stick table expiring after `expire`.
fn config(
    mode: Mode,
    sock: &str,
    expire: &str,
    extra: &str,
    servers: &[(String, String)],
) -> String {
    let defaults = match mode {
        Mode::Http => HTTP_DEFAULTS,
        Mode::Tcp => TCP_DEFAULTS,
    };
    let mut c = format!(
        "global\n    stats socket {sock} mode 600 level admin\n{defaults}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n    balance roundrobin\n    stick-table type ip size 100 expire {expire}\n    stick on src\n"
    );
    for l in extra.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    for (n, a) in servers {
        c.push_str(&format!("    server {n} {a}\n"));
    }
    c
}

/// Which server answers a client at `src` (one request or connection).
async fn who(mode: Mode, port: u16, src: IpAddr) -> String {
    match mode {
        Mode::Http => {
            let r = send_from(port, Some(src), get_req("/")).await;
            assert_eq!(r.status, 200, "{r:?}");
            r.body
        }
        Mode::Tcp => tcp_name(port, src).await,
    }
}

async fn pins_each_address_and_spreads_addresses(mode: Mode) {
    let dir = SockDir::new();
    let sock = dir.sock();
    let names = ["s1", "s2"];
    let o = Origins::start(mode, &names).await;
    let lb = Lbd::start(&config(mode, &sock, "30s", "", &o.servers(&names))).await;
    // roundrobin: .1 gets s1, .2 gets s2, .3 gets s1 again.
    let mut home = Vec::new();
    for n in 1..=3 {
        home.push(who(mode, lb.port, lo(n)).await);
    }
    assert_eq!(home, ["s1", "s2", "s1"]);
    // Each address keeps its server; without the table roundrobin would alternate.
    for round in 0..10 {
        for n in 1..=3u8 {
            assert_eq!(
                who(mode, lb.port, lo(n)).await,
                home[n as usize - 1],
                "127.0.0.{n}, round {round}"
            );
        }
    }
    let (size, entries) = show_table(&sock, "be").await;
    assert_eq!(size, 100);
    let listed: Vec<(IpAddr, &str)> = entries.iter().map(|e| (e.key, e.server.as_str())).collect();
    assert_eq!(listed, [(lo(1), "s1"), (lo(2), "s2"), (lo(3), "s1")]);
    for e in &entries {
        let exp = e.exp.expect("an expiring table shows exp");
        assert!(exp > 0 && exp <= 30_000, "{e:?}");
    }
    // A new address is balanced: roundrobin's next pick is s2.
    assert_eq!(who(mode, lb.port, lo(4)).await, "s2");
}

#[tokio::test]
async fn http_stick_on_src_pins_each_address_and_spreads_addresses() {
    pins_each_address_and_spreads_addresses(Mode::Http).await;
}

#[tokio::test]
async fn tcp_stick_on_src_pins_each_address_and_spreads_addresses() {
    pins_each_address_and_spreads_addresses(Mode::Tcp).await;
}

async fn entries_expire_after_expire_without_use(mode: Mode) {
    let dir = SockDir::new();
    let sock = dir.sock();
    let names = ["s1", "s2"];
    let o = Origins::start(mode, &names).await;
    let lb = Lbd::start(&config(mode, &sock, "1s", "", &o.servers(&names))).await;
    assert_eq!(who(mode, lb.port, lo(1)).await, "s1");
    // Used every 250 ms for 2 s, the entry never expires (each use stores it again).
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(who(mode, lb.port, lo(1)).await, "s1", "refreshed by use");
    }
    let last_use = Instant::now();
    let (_, entries) = show_table(&sock, "be").await;
    assert_eq!(entries.len(), 1);
    assert!(entries[0].exp.is_some_and(|e| e <= 1000), "{entries:?}");

    // Left alone, it disappears from `show table` about 1 s after its last use.
    wait_async(DEADLINE, "show table no longer lists 127.0.0.1", || async {
        table_server(&sock, "be", lo(1)).await.is_none()
    })
    .await;
    let gone = last_use.elapsed();
    assert!(
        gone >= Duration::from_millis(900),
        "expired too early: {gone:?}"
    );
    assert_eq!(show_table(&sock, "be").await.1, []);
    // The address is balanced anew: roundrobin's next pick after s1 is s2, and the
    // new entry says so.
    assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
    assert_eq!(
        table_server(&sock, "be", lo(1)).await.as_deref(),
        Some("s2")
    );
    assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
}

#[tokio::test]
async fn http_entries_expire_after_expire_without_use() {
    entries_expire_after_expire_without_use(Mode::Http).await;
}

#[tokio::test]
async fn tcp_entries_expire_after_expire_without_use() {
    entries_expire_after_expire_without_use(Mode::Tcp).await;
}

async fn entries_survive_a_reload(mode: Mode) {
    let dir = SockDir::new();
    let sock = dir.sock();
    let names = ["s1", "s2"];
    let o = Origins::start(mode, &names).await;
    let lb = Lbd::start(&config(mode, &sock, "30s", "", &o.servers(&names))).await;
    // .2 takes s1 first, so .1 lands on s2: after the reload roundrobin (reset or not)
    // would give .1 s1, so s2 can only come from the table.
    assert_eq!(who(mode, lb.port, lo(2)).await, "s1");
    assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
    reload_same(&lb).await;
    assert_eq!(
        table_server(&sock, "be", lo(1)).await.as_deref(),
        Some("s2")
    );
    assert_eq!(
        table_server(&sock, "be", lo(2)).await.as_deref(),
        Some("s1")
    );
    for _ in 0..4 {
        assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
        assert_eq!(who(mode, lb.port, lo(2)).await, "s1");
    }
    // A second reload as well.
    reload_same(&lb).await;
    assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
    assert_eq!(show_table(&sock, "be").await.1.len(), 2);
}

#[tokio::test]
async fn http_entries_survive_a_reload() {
    entries_survive_a_reload(Mode::Http).await;
}

#[tokio::test]
async fn tcp_entries_survive_a_reload() {
    entries_survive_a_reload(Mode::Tcp).await;
}

async fn an_entry_for_a_down_server_is_ignored_and_replaced(mode: Mode) {
    let dir = SockDir::new();
    let sock = dir.sock();
    let names = ["s1", "s2"];
    let mut o = Origins::start(mode, &names).await;
    let lb = Lbd::start(&config(
        mode,
        &sock,
        "30s",
        "default-server check inter 100ms fall 2 rise 2",
        &o.servers(&names),
    ))
    .await;
    assert_eq!(who(mode, lb.port, lo(1)).await, "s1");
    assert_eq!(who(mode, lb.port, lo(1)).await, "s1");
    o.stop(0).await;
    lb.wait_for_log("Server be/s1 is DOWN").await;
    // Still listed for s1, but s1 is DOWN: the client goes to s2 without an error.
    assert_eq!(
        table_server(&sock, "be", lo(1)).await.as_deref(),
        Some("s1")
    );
    assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
    assert_eq!(
        table_server(&sock, "be", lo(1)).await.as_deref(),
        Some("s2")
    );
    for _ in 0..4 {
        assert_eq!(who(mode, lb.port, lo(1)).await, "s2");
    }
}

#[tokio::test]
async fn http_an_entry_for_a_down_server_is_ignored_and_replaced() {
    an_entry_for_a_down_server_is_ignored_and_replaced(Mode::Http).await;
}

#[tokio::test]
async fn tcp_an_entry_for_a_down_server_is_ignored_and_replaced() {
    an_entry_for_a_down_server_is_ignored_and_replaced(Mode::Tcp).await;
}

#[tokio::test]
async fn a_recovered_server_does_not_take_its_old_clients_back() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let (mut s1, s2) = (Origin::start("s1").await, Origin::start("s2").await);
    let servers = vec![
        ("s1".to_string(), s1.hostport()),
        ("s2".to_string(), s2.hostport()),
    ];
    let lb = Lbd::start(&config(
        Mode::Http,
        &sock,
        "30s",
        "default-server check inter 100ms fall 2 rise 2",
        &servers,
    ))
    .await;
    assert_eq!(who(Mode::Http, lb.port, lo(1)).await, "s1");
    s1.stop().await;
    lb.wait_for_log("Server be/s1 is DOWN").await;
    assert_eq!(who(Mode::Http, lb.port, lo(1)).await, "s2");
    s1.restart().await;
    lb.wait_for_log("Server be/s1 is UP").await;
    for _ in 0..5 {
        assert_eq!(who(Mode::Http, lb.port, lo(1)).await, "s2");
    }
    // New addresses reach s1 again.
    let fresh = [
        who(Mode::Http, lb.port, lo(2)).await,
        who(Mode::Http, lb.port, lo(3)).await,
    ];
    assert!(fresh.contains(&"s1".to_string()), "{fresh:?}");
}

#[tokio::test]
async fn show_table_lists_entries_in_haproxy_format() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let (s1, s2) = (Origin::start("s1").await, Origin::start("s2").await);
    let servers = vec![
        ("s1".to_string(), s1.hostport()),
        ("s2".to_string(), s2.hostport()),
    ];
    let lb = Lbd::start(&config(Mode::Http, &sock, "1s", "", &servers)).await;
    // Answers end with an empty line, as HAProxy's do.
    let empty = cli(&sock, "show table").await;
    assert_eq!(empty, "# table: be, type: ip, size:100, used:0\n\n");
    assert_eq!(who(Mode::Http, lb.port, lo(1)).await, "s1");
    // Without a name: one summary line per table, as HAProxy prints.
    assert_eq!(
        cli(&sock, "show table").await,
        "# table: be, type: ip, size:100, used:1\n\n"
    );
    let out = cli(&sock, "show table be").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!(lines[2], "", "{out:?}");
    assert_eq!(lines[0], "# table: be, type: ip, size:100, used:1");
    let exp = lines[1]
        .strip_prefix("0x1: key=127.0.0.1 use=0 exp=")
        .and_then(|r| r.strip_suffix(" server_id=1 server_key=s1"))
        .unwrap_or_else(|| panic!("entry line: {:?}", lines[1]));
    let exp: u64 = exp.parse().expect("exp in ms");
    assert!(exp > 0 && exp <= 1000, "{exp}");
    // By name, and an unknown name.
    // The expiry counts down between the two calls: compare everything else.
    let by_name = cli(&sock, "show table be").await;
    let by_name: Vec<&str> = by_name.lines().collect();
    assert_eq!(by_name.len(), 3, "{by_name:?}");
    assert_eq!(by_name[0], lines[0]);
    assert!(
        by_name[1].starts_with("0x1: key=127.0.0.1 use=0 exp="),
        "{by_name:?}"
    );
    assert!(
        by_name[1].ends_with(" server_id=1 server_key=s1"),
        "{by_name:?}"
    );
    assert_eq!(
        cli(&sock, "show table nope").await.trim_end(),
        "No such table"
    );
}

/// `stick store-response res.cook(SID)` + `stick match req.cook(SID)`: the session id a
/// server sets in its response pins later requests carrying it to that server; a
/// response without the cookie stores nothing.
#[tokio::test]
async fn store_response_pins_the_session_the_server_set() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let o = Origins::start(Mode::Http, &["s1", "s2"]).await;
    let mut cfg = format!(
        "global\n    stats socket {sock} mode 600 level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n    balance roundrobin\n    stick-table type string len 32 size 100 expire 30s\n    stick match req.cook(SID)\n    stick store-response res.cook(SID)\n"
    );
    for (n, a) in o.servers(&["s1", "s2"]) {
        cfg.push_str(&format!("    server {n} {a}\n"));
    }
    let lb = Lbd::start(&cfg).await;
    // roundrobin: s1 answers and sets SID=abc, which is stored for s1.
    let mut jar = Jar::new();
    let r = send(lb.port, jar.request("GET", "/setcookie?n=SID&v=abc")).await;
    assert_eq!(r.body, "s1");
    assert_eq!(jar.absorb(&r), 1);
    // Without the table roundrobin would alternate; with it the cookie keeps s1.
    for _ in 0..6 {
        assert_eq!(send(lb.port, jar.request("GET", "/")).await.body, "s1");
    }
    // Requests without the cookie still alternate, and store nothing.
    let plain = Jar::new();
    let a = send(lb.port, plain.request("GET", "/")).await.body;
    let b = send(lb.port, plain.request("GET", "/")).await.body;
    assert_ne!(a, b);
    let out = cli(&sock, "show table be").await;
    assert!(
        out.contains("# table: be, type: string, size:100, used:1"),
        "{out}"
    );
    assert!(
        out.contains(" key=abc ") && out.contains("server_id=1"),
        "{out}"
    );
}

/// `use-server NAME if COND`: the first rule whose condition holds and whose server
/// is usable picks the server (before the stick table); a server in maintenance lets
/// the next rule or the balancing decide. In tcp mode too.
#[tokio::test]
async fn use_server_rules_pick_the_server() {
    let o = Origins::start(Mode::Http, &["s1", "s2", "s3"]).await;
    let t = Origins::start(Mode::Tcp, &["t1", "t2"]).await;
    let mut cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n    balance roundrobin\n    use-server s3 if {{ path_beg /three }}\n    use-server s2 if {{ path_beg /two }} || {{ path_beg /three }}\n    use-server s1 unless {{ path_beg /two }} || {{ path_beg /three }} || {{ path_beg /any }}\n"
    );
    let servers = o.servers(&["s1", "s2", "s3"]);
    for (n, a) in &servers {
        let off = if n == "s3" { " disabled" } else { "" };
        cfg.push_str(&format!("    server {n} {a}{off}\n"));
    }
    cfg.push_str(&format!(
        "listen t\n    mode tcp\n    bind 127.0.0.1:@FE2@\n    balance roundrobin\n    use-server t2 if {{ src 127.0.0.2 }}\n    server t1 {}\n    server t2 {}\n",
        t.servers(&["t1", "t2"])[0].1,
        t.servers(&["t1", "t2"])[1].1
    ));
    let lb = Lbd::start(&cfg).await;
    let name = |path: &'static str| {
        let port = lb.port;
        async move { get(port, path).await.body }
    };
    for _ in 0..3 {
        assert_eq!(name("/two").await, "s2");
        assert_eq!(name("/x").await, "s1");
        // s3 is in maintenance: the next rule that holds decides.
        assert_eq!(name("/three").await, "s2");
    }
    // No rule holds: roundrobin over the usable servers.
    let spread: std::collections::BTreeSet<String> = [name("/any").await, name("/any").await]
        .into_iter()
        .collect();
    assert_eq!(spread.len(), 2, "{spread:?}");
    for _ in 0..3 {
        assert_eq!(tcp_name(lb.port2, lo(2)).await, "t2");
    }
}
