//! Cookie persistence through the real `lbd` binary, with a client cookie jar: a user
//! stays on one server, moves (without an error) when that server breaks or goes into
//! maintenance, stays where it moved when the old server comes back, and keeps its
//! server while that server drains. Then every cookie option: `indirect`, `nocache`,
//! attributes, `postonly`, `preserve`, `maxidle`/`maxlife`, `rewrite` and `prefix`; and
//! two lbd processes with the same config routing the same cookie to the same server.

mod common;
#[path = "common/persist.rs"]
mod persist;

use common::*;
use persist::*;

/// A frontend on `@FE@` to backend `be` with `lines` then one `server NAME ADDR
/// cookie NAME` per origin; with a runtime socket at `sock` (level admin) if given.
fn config(sock: Option<&str>, lines: &str, origins: &[&Origin]) -> String {
    let mut c = String::new();
    if let Some(s) = sock {
        c.push_str(&format!(
            "global\n    stats socket {s} mode 600 level admin\n"
        ));
    }
    c.push_str(HTTP_DEFAULTS);
    c.push_str("frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n");
    for l in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    for o in origins {
        c.push_str(&format!(
            "    server {0} {1} cookie {0}\n",
            o.name,
            o.hostport()
        ));
    }
    c
}

/// One request with the jar's cookies on `ka`; the jar keeps what the response sets.
async fn jar_get(ka: &mut KeepAlive, jar: &mut Jar, path: &str) -> Resp {
    let r = ka.send(jar.request("GET", path)).await;
    jar.absorb(&r);
    r
}

/// Base 32 as lbd writes cookie dates (digits then a-v).
fn b32(mut n: u64) -> String {
    const A: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let mut v = Vec::new();
    loop {
        v.push(A[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    v.reverse();
    String::from_utf8(v).unwrap()
}

fn unb32(s: &str) -> u64 {
    s.bytes().fold(0, |acc, c| {
        let d = (c as char).to_digit(32).expect("base 32 digit") as u64;
        acc * 32 + d
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The single `Set-Cookie` of `r` (panics unless exactly one).
fn only_set_cookie(r: &Resp) -> String {
    let all = set_cookies(r);
    assert_eq!(all.len(), 1, "exactly one Set-Cookie: {r:?}");
    all[0].clone()
}

#[tokio::test]
async fn insert_pins_a_client_for_100_requests_while_roundrobin_alternates() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert indirect nocache",
        &[&a, &b],
    ))
    .await;
    // Without a cookie, roundrobin alternates, and each answer offers a cookie.
    let mut ka = KeepAlive::connect(lb.port).await;
    let mut firsts = Vec::new();
    for _ in 0..4 {
        let r = ka.get("/").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            only_set_cookie(&r),
            format!("SRVID={}; path=/", r.body),
            "{r:?}"
        );
        firsts.push(r.body);
    }
    assert_eq!(firsts, ["a", "b", "a", "b"]);

    // Two users with jars: each stays on its own server for 100 requests.
    let mut users = Vec::new();
    for _ in 0..2 {
        let mut jar = Jar::new();
        let mut ka = KeepAlive::connect(lb.port).await;
        let r = jar_get(&mut ka, &mut jar, "/").await;
        assert_eq!(jar.get("SRVID"), Some(r.body.as_str()));
        users.push((jar, ka, r.body));
    }
    assert_eq!(
        (users[0].2.as_str(), users[1].2.as_str()),
        ("a", "b"),
        "the two users were balanced onto different servers"
    );
    let before = (a.count(), b.count());
    for _ in 0..100 {
        for (jar, ka, home) in users.iter_mut() {
            let r = jar_get(ka, jar, "/").await;
            assert_eq!((r.status, r.body.as_str()), (200, home.as_str()));
            assert!(
                set_cookies(&r).is_empty(),
                "a valid cookie is not set again: {r:?}"
            );
            assert_eq!(
                r.header("cache-control"),
                "",
                "nocache only marks responses that set the cookie"
            );
        }
    }
    assert_eq!((a.count() - before.0, b.count() - before.1), (100, 100));
}

#[tokio::test]
async fn a_down_server_hands_its_users_over_and_does_not_take_them_back() {
    let (mut a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin
         cookie SRVID insert indirect nocache
         default-server check inter 100ms fall 2 rise 2",
        &[&a, &b],
    ))
    .await;
    let mut jar = Jar::new();
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = jar_get(&mut ka, &mut jar, "/").await;
    assert_eq!((r.body.as_str(), jar.get("SRVID")), ("a", Some("a")));
    for _ in 0..10 {
        assert_eq!(jar_get(&mut ka, &mut jar, "/").await.body, "a");
    }

    // a breaks: once its checks mark it DOWN, the user moves to b without an error, and
    // the answer re-pins it there.
    a.stop().await;
    lb.wait_for_log("Server be/a is DOWN").await;
    let r = jar_get(&mut ka, &mut jar, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "b"), "{r:?}");
    assert_eq!(only_set_cookie(&r), "SRVID=b; path=/");
    assert_eq!(r.header("cache-control"), "private");
    assert_eq!(jar.get("SRVID"), Some("b"));

    // a comes back: the user, now pinned to b, stays there...
    a.restart().await;
    lb.wait_for_log("Server be/a is UP").await;
    let a_before = a.count();
    for _ in 0..20 {
        let r = jar_get(&mut ka, &mut jar, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "b"));
        assert!(set_cookies(&r).is_empty(), "{r:?}");
    }
    assert_eq!(a.count(), a_before, "a took no request from b's user");
    // ...while new users reach a again (so a really is back).
    let mut fresh = Vec::new();
    for _ in 0..4 {
        fresh.push(get(lb.port, "/").await.body);
    }
    assert_eq!(fresh.iter().filter(|n| *n == "a").count(), 2, "{fresh:?}");
}

#[tokio::test]
async fn without_checks_a_refused_connection_redispatches_the_user() {
    // No health checks: the user's next request finds a refusing; with `option
    // redispatch` lbd retries on b, answers 200 and re-pins the user to b.
    let (mut a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert indirect\noption redispatch\nretries 1",
        &[&a, &b],
    ))
    .await;
    let mut jar = Jar::new();
    jar.set("SRVID", "a");
    let mut ka = KeepAlive::connect(lb.port).await;
    assert_eq!(jar_get(&mut ka, &mut jar, "/").await.body, "a");
    a.stop().await;
    let r = jar_get(&mut ka, &mut jar, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "b"), "{r:?}");
    assert_eq!(only_set_cookie(&r), "SRVID=b; path=/");
    for _ in 0..5 {
        let r = jar_get(&mut ka, &mut jar, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "b"));
        assert!(set_cookies(&r).is_empty(), "{r:?}");
    }
}

#[tokio::test]
async fn a_draining_server_keeps_its_users_and_gets_no_new_ones_maint_moves_them() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        Some(&sock),
        "balance roundrobin\ncookie SRVID insert indirect",
        &[&a, &b],
    ))
    .await;
    let mut jar = Jar::new();
    let mut ka = KeepAlive::connect(lb.port).await;
    assert_eq!(jar_get(&mut ka, &mut jar, "/").await.body, "a");

    assert_eq!(cli(&sock, "set server be/a state drain").await.trim(), "");
    for _ in 0..10 {
        let r = jar_get(&mut ka, &mut jar, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "a"), "drain keeps users");
        assert!(set_cookies(&r).is_empty(), "{r:?}");
    }
    // New users (no cookie) all go to b and are pinned there.
    for _ in 0..10 {
        let r = get(lb.port, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "b"), "no new user on a");
        assert_eq!(only_set_cookie(&r), "SRVID=b; path=/");
    }
    // A user whose cookie names a is still welcome there (the cookie decides, not the
    // connection).
    let r = send(
        lb.port,
        Jar(std::iter::once(("SRVID".into(), "a".into())).collect()).request("GET", "/"),
    )
    .await;
    assert_eq!(r.body, "a");

    // Maintenance: users move, with a new cookie and no error.
    assert_eq!(cli(&sock, "set server be/a state maint").await.trim(), "");
    let r = jar_get(&mut ka, &mut jar, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "b"), "{r:?}");
    assert_eq!(only_set_cookie(&r), "SRVID=b; path=/");
    assert_eq!(jar.get("SRVID"), Some("b"));

    // Back to ready: the moved user stays on b.
    assert_eq!(cli(&sock, "set server be/a state ready").await.trim(), "");
    for _ in 0..5 {
        assert_eq!(jar_get(&mut ka, &mut jar, "/").await.body, "b");
    }
}

#[tokio::test]
async fn indirect_hides_the_cookie_from_the_origin_and_nocache_marks_responses() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    for indirect in [true, false] {
        let mode = if indirect {
            "insert indirect nocache"
        } else {
            "insert nocache"
        };
        let lb = Lbd::start(&config(
            None,
            &format!("balance roundrobin\ncookie SRVID {mode}"),
            &[&a, &b],
        ))
        .await;
        let mut jar = Jar::new();
        jar.set("other", "1");
        jar.set("zeta", "2");
        let mut ka = KeepAlive::connect(lb.port).await;
        let r = jar_get(&mut ka, &mut jar, "/headers").await;
        assert_eq!(r.header("x-origin"), "a");
        assert_eq!(only_set_cookie(&r), "SRVID=a; path=/");
        assert_eq!(r.header("cache-control"), "private", "nocache");
        // Now the jar holds other, SRVID and zeta (sorted): SRVID sits in the middle.
        assert_eq!(jar.header(), "SRVID=a; other=1; zeta=2");
        let r = jar_get(&mut ka, &mut jar, "/headers").await;
        assert_eq!(r.header("x-origin"), "a");
        assert!(set_cookies(&r).is_empty());
        assert_eq!(
            r.header("cache-control"),
            "",
            "no cookie set, nothing to hide"
        );
        let cookie_line = r
            .body
            .lines()
            .find(|l| l.starts_with("cookie: "))
            .unwrap_or_default()
            .to_string();
        if indirect {
            assert_eq!(cookie_line, "cookie: other=1; zeta=2", "{}", r.body);
        } else {
            assert_eq!(
                cookie_line, "cookie: SRVID=a; other=1; zeta=2",
                "{}",
                r.body
            );
        }
        // A request whose only cookie is ours reaches the origin with no Cookie at all.
        if indirect {
            let mut solo = Jar::new();
            solo.set("SRVID", "b");
            let r = send(lb.port, solo.request("GET", "/headers")).await;
            assert_eq!(r.header("x-origin"), "b");
            assert!(!r.body.contains("cookie:"), "{}", r.body);
        }
    }
}

#[tokio::test]
async fn cookie_attributes_are_written_as_configured() {
    let a = Origin::start("a").await;
    let lb = Lbd::start(&config(
        None,
        "cookie SRVID insert httponly secure domain .example.com attr SameSite=Lax attr Partitioned",
        &[&a],
    ))
    .await;
    let r = get(lb.port, "/").await;
    assert_eq!(
        only_set_cookie(&r),
        "SRVID=a; path=/; domain=.example.com; HttpOnly; Secure; SameSite=Lax; Partitioned"
    );
    assert_eq!(r.header("cache-control"), "", "no nocache");
}

#[tokio::test]
async fn postonly_sets_the_cookie_only_on_post() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert indirect postonly",
        &[&a, &b],
    ))
    .await;
    let mut jar = Jar::new();
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = jar_get(&mut ka, &mut jar, "/").await;
    assert_eq!(r.body, "a");
    assert!(set_cookies(&r).is_empty(), "GET gets no cookie: {r:?}");
    let r = ka.send(jar.request("POST", "/")).await;
    jar.absorb(&r);
    assert_eq!(r.body, "b");
    assert_eq!(only_set_cookie(&r), "SRVID=b; path=/");
    // The cookie from the POST then pins GETs too.
    for _ in 0..6 {
        assert_eq!(jar_get(&mut ka, &mut jar, "/").await.body, "b");
    }
}

#[tokio::test]
async fn preserve_leaves_a_cookie_the_origin_sets_alone() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert preserve",
        &[&a, &b],
    ))
    .await;
    // The origin sets SRVID itself: lbd adds nothing.
    let r = get(lb.port, "/setcookie?v=mine").await;
    assert_eq!(r.body, "a");
    assert_eq!(set_cookies(&r), ["SRVID=mine; Path=/"]);
    // Another cookie set by the origin does not count: lbd still inserts SRVID.
    let r = get(lb.port, "/setcookie?n=sess&v=42").await;
    assert_eq!(r.body, "b");
    assert_eq!(set_cookies(&r), ["sess=42; Path=/", "SRVID=b; path=/"]);
    // Without preserve, the origin's own SRVID is removed (as in HAProxy) and lbd's
    // takes its place: the client never gets two values for one name.
    let lb2 = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert",
        &[&a, &b],
    ))
    .await;
    let r = get(lb2.port, "/setcookie?v=mine").await;
    assert_eq!(set_cookies(&r), ["SRVID=a; path=/"]);
    let r = get(lb2.port, "/setcookie?n=sess&v=42").await;
    assert_eq!(set_cookies(&r), ["sess=42; Path=/", "SRVID=b; path=/"]);
    drop(lb);
}

/// The value of our cookie in `set_cookie` and its `SERVER|LAST|FIRST` parts.
fn dated(set_cookie: &str) -> (String, u64, u64) {
    let v = set_cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("SRVID=")
        .unwrap_or_else(|| panic!("SRVID cookie: {set_cookie}"));
    let p: Vec<&str> = v.split('|').collect();
    assert_eq!(p.len(), 3, "SERVER|LAST|FIRST: {v}");
    (p[0].to_string(), unb32(p[1]), unb32(p[2]))
}

#[tokio::test]
async fn maxidle_ignores_and_replaces_an_idle_cookie_and_refreshes_a_live_one() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert indirect maxidle 30s",
        &[&a, &b],
    ))
    .await;
    let t = now();
    // Idle for an hour: ignored; roundrobin's first pick (a) answers and sets a fresh one.
    let mut jar = Jar::new();
    jar.set("SRVID", &format!("b|{}|{}", b32(t - 3600), b32(t - 3600)));
    let r = send(lb.port, jar.request("GET", "/")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "a"),
        "idle cookie ignored"
    );
    let sc = only_set_cookie(&r);
    assert!(sc.ends_with("; path=/; Max-Age=30"), "{sc}");
    let (srv, last, first) = dated(&sc);
    let t2 = now();
    assert_eq!(srv, "a");
    assert!(
        (t..=t2).contains(&last) && (t..=t2).contains(&first),
        "{sc} at {t}"
    );

    // Used 10 s ago (first set 100 s ago): honoured, and the answer refreshes LAST
    // while keeping FIRST.
    let mut jar = Jar::new();
    jar.set("SRVID", &format!("b|{}|{}", b32(t - 10), b32(t - 100)));
    let r = send(lb.port, jar.request("GET", "/")).await;
    assert_eq!(r.body, "b", "live cookie honoured");
    let (srv, last, first) = dated(&only_set_cookie(&r));
    assert_eq!((srv.as_str(), first), ("b", t - 100));
    assert!(last >= t, "LAST refreshed: {last} vs {t}");

    // A cookie without dates is not valid under maxidle either.
    let mut jar = Jar::new();
    jar.set("SRVID", "a");
    let r = send(lb.port, jar.request("GET", "/")).await;
    // roundrobin: a was picked once before, so b is next.
    assert_eq!(r.body, "b", "undated cookie ignored");
    assert_eq!(dated(&only_set_cookie(&r)).0, "b");
}

#[tokio::test]
async fn maxlife_ignores_an_old_cookie_whatever_its_last_use() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID insert indirect maxlife 60s",
        &[&a, &b],
    ))
    .await;
    let t = now();
    // Used just now but first set an hour ago: too old.
    let mut jar = Jar::new();
    jar.set("SRVID", &format!("b|{}|{}", b32(t), b32(t - 3600)));
    let r = send(lb.port, jar.request("GET", "/")).await;
    assert_eq!(r.body, "a", "expired by maxlife");
    let sc = only_set_cookie(&r);
    assert!(sc.ends_with("; Max-Age=60"), "{sc}");
    let (srv, _, first) = dated(&sc);
    assert_eq!(srv, "a");
    assert!(first >= t, "a new life starts: {first} vs {t}");

    // Young enough: honoured, and not rewritten (no maxidle to refresh).
    let mut jar = Jar::new();
    jar.set("SRVID", &format!("b|{}|{}", b32(t - 5), b32(t - 30)));
    for _ in 0..3 {
        let r = send(lb.port, jar.request("GET", "/")).await;
        assert_eq!(r.body, "b");
        assert!(set_cookies(&r).is_empty(), "{r:?}");
    }
}

#[tokio::test]
async fn rewrite_replaces_the_origin_cookie_value_with_the_server_value() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID rewrite",
        &[&a, &b],
    ))
    .await;
    let mut jar = Jar::new();
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = jar_get(&mut ka, &mut jar, "/setcookie?v=xyz").await;
    assert_eq!(r.body, "a");
    assert_eq!(
        set_cookies(&r),
        ["SRVID=a; Path=/"],
        "the client sees the server value"
    );
    // Without a cookie from the origin, rewrite mode adds nothing.
    let r = get(lb.port, "/").await;
    assert!(set_cookies(&r).is_empty(), "{r:?}");
    // The jar's SRVID=a pins the user to a; the origin receives it as sent.
    for _ in 0..6 {
        let r = jar_get(&mut ka, &mut jar, "/headers").await;
        assert_eq!(r.header("x-origin"), "a");
        assert!(r.body.contains("cookie: SRVID=a\n"), "{}", r.body);
    }
}

#[tokio::test]
async fn prefix_mode_prefixes_the_origin_cookie_and_strips_the_prefix_on_the_way_in() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config(
        None,
        "balance roundrobin\ncookie SRVID prefix",
        &[&a, &b],
    ))
    .await;
    // roundrobin: a, then b sets the cookie.
    assert_eq!(get(lb.port, "/").await.body, "a");
    let mut jar = Jar::new();
    jar.set("lang", "en");
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = jar_get(&mut ka, &mut jar, "/setcookie?v=xyz").await;
    assert_eq!(r.body, "b");
    assert_eq!(set_cookies(&r), ["SRVID=b~xyz; Path=/"]);
    assert_eq!(jar.get("SRVID"), Some("b~xyz"));
    for _ in 0..6 {
        let r = jar_get(&mut ka, &mut jar, "/headers").await;
        assert_eq!(r.header("x-origin"), "b");
        assert!(
            r.body.contains("cookie: SRVID=xyz; lang=en\n"),
            "the origin sees its own value: {}",
            r.body
        );
    }
    // When the origin sets it again, the prefix goes on again (not twice).
    let r = jar_get(&mut ka, &mut jar, "/setcookie?v=new").await;
    assert_eq!(set_cookies(&r), ["SRVID=b~new; Path=/"]);
}

#[tokio::test]
async fn two_lbd_processes_route_the_same_cookie_to_the_same_server() {
    let (a, b, c) = (
        Origin::start("a").await,
        Origin::start("b").await,
        Origin::start("c").await,
    );
    let cfg = config(
        None,
        "balance roundrobin\ncookie SRVID insert indirect",
        &[&a, &b, &c],
    );
    let (one, two) = (Lbd::start(&cfg).await, Lbd::start(&cfg).await);
    // Get a cookie for each server from the first lbd (roundrobin: a, b, c)...
    let mut jars = Vec::new();
    for want in ["a", "b", "c"] {
        let mut jar = Jar::new();
        let r = send(one.port, jar.request("GET", "/")).await;
        assert_eq!(r.body, want);
        jar.absorb(&r);
        jars.push((jar, want));
    }
    // ...and replay them on the second, in an order its roundrobin would not pick.
    for round in 0..3 {
        for (jar, want) in jars.iter().rev() {
            let r = send(two.port, jar.request("GET", "/")).await;
            assert_eq!((r.status, r.body.as_str()), (200, *want), "round {round}");
            assert!(set_cookies(&r).is_empty(), "{r:?}");
        }
    }
    // The second lbd's own balancing was untouched: a fresh client starts at a.
    assert_eq!(get(two.port, "/").await.body, "a");
}

/// `option httplog`'s termination state carries HAProxy's cookie flags (`%tsc`): the
/// client's cookie (`N`one, `V`alid, `I`nvalid) and what the response did (`I`nserted,
/// `N`othing): `--NI` for a new visitor, `--VN` for a pinned one, `--II` for a cookie
/// naming no server (HAProxy's reg-test http-cookies/cookie_insert_indirect).
#[tokio::test]
async fn access_log_shows_haproxys_cookie_flags() {
    let s1 = Origin::start("s1").await;
    let dir = std::env::temp_dir().join(format!("lbd-cookie-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let cfg = config(None, "cookie SRVID insert indirect", &[&s1]).replace(
        "frontend fe\n",
        &format!(
            "frontend fe\n    option httplog\n    log {} local0\n",
            log.display()
        ),
    );
    let lb = Lbd::start(&cfg).await;
    let mut jar = Jar::new();
    let r = send(lb.port, jar.request("GET", "/new")).await;
    jar.absorb(&r);
    assert_eq!(jar.0.get("SRVID").map(String::as_str), Some("s1"));
    send(lb.port, jar.request("GET", "/pinned")).await;
    let mut stale = Jar::new();
    stale.set("SRVID", "gone");
    send(lb.port, stale.request("GET", "/stale")).await;
    let flags = |path: &str| -> Option<String> {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let line = text
            .lines()
            .find(|l| l.contains(&format!("\"GET {path} ")))?;
        line.split(' ')
            .find(|w| w.len() == 4 && w.starts_with("--"))
            .map(str::to_string)
    };
    wait_until(DEADLINE, "three access lines", || flags("/stale").is_some()).await;
    assert_eq!(flags("/new").as_deref(), Some("--NI"));
    assert_eq!(flags("/pinned").as_deref(), Some("--VN"));
    assert_eq!(flags("/stale").as_deref(), Some("--II"));
    drop(lb);
    let _ = std::fs::remove_dir_all(&dir);
}
