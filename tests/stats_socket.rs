//! The runtime socket (`stats socket PATH mode 600 level admin` in `global`) of the
//! real `lbd` binary, over a unix path: the `show` commands, steering servers (disable,
//! enable, drain, maint, weights) with the effect verified on live traffic, the error
//! answers, permission levels, the socket file's mode, `reload`, and runtime state
//! surviving a SIGUSR2 reload.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use stats::*;
use std::time::Duration;

/// An admin socket at `admin`, a `level user` socket at `user`, frontend `fe` on `@FE@`
/// to backend `web` (roundrobin) made of `servers` (`name rest-of-line`), plus `extra`
/// lines in the backend.
fn config(admin: &str, user: &str, servers: &[(&str, String)], extra: &str) -> String {
    let mut c = format!(
        "global\n    stats socket {admin} mode 600 level admin\n    stats socket {user} mode 660 level user\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n"
    );
    for l in extra.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    for (n, s) in servers {
        c.push_str(&format!("    server {n} {s}\n"));
    }
    c
}

/// A running lbd with its two sockets.
struct Setup {
    lb: Lbd,
    admin: String,
    user: String,
    _dir: SockDir,
}

async fn setup(servers: &[(&str, String)], extra: &str) -> Setup {
    let dir = SockDir::new();
    let (admin, user) = (dir.path("lbd.sock"), dir.path("user.sock"));
    let lb = Lbd::start(&config(&admin, &user, servers, extra)).await;
    Setup {
        lb,
        admin,
        user,
        _dir: dir,
    }
}

/// `show servers state web` as (server name -> fields).
async fn servers_state(sock: &str) -> std::collections::HashMap<String, Vec<String>> {
    let text = cli(sock, "show servers state web").await;
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("1"), "format version:\n{text}");
    assert!(
        lines.next().is_some_and(|l| l.starts_with(
            "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        )),
        "{text}"
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<String> = l.split(' ').map(str::to_string).collect();
            assert_eq!(f.len(), 25, "25 fields (HAProxy 2.6): {l}");
            (f[3].clone(), f)
        })
        .collect()
}

/// (srv_op_state, srv_admin_state, srv_uweight, srv_iweight) of `server`.
async fn state_of(sock: &str, server: &str) -> (u32, u32, u32, u32) {
    let all = servers_state(sock).await;
    let f = &all[server];
    let n = |i: usize| f[i].parse::<u32>().unwrap();
    (n(5), n(6), n(7), n(8))
}

#[tokio::test]
async fn show_info_stat_servers_state_and_backend() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let s = setup(
        &[
            ("a", a.hostport()),
            ("b", format!("{} weight 7", b.hostport())),
        ],
        "",
    )
    .await;

    let info = cli(&s.admin, "show info").await;
    assert!(info.starts_with("Name: lbd\nVersion: "), "{info}");
    assert!(info.contains(&format!("\nPid: {}\n", s.lb.pid())), "{info}");
    assert!(info.contains("\nUptime_sec: "), "{info}");
    assert!(info.contains("\nFrontends: 1\nBackends: 1\n"), "{info}");

    let stat = cli(&s.admin, "show stat").await;
    assert!(
        stat.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,"),
        "HAProxy's header:\n{stat}"
    );
    let csv = Csv::parse(&stat);
    let names: Vec<(&str, &str)> = csv
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("fe", "FRONTEND"),
            ("web", "a"),
            ("web", "b"),
            ("web", "BACKEND")
        ]
    );
    assert_eq!(csv.num("web", "b", "weight"), 7);
    assert_eq!(csv.num("web", "BACKEND", "weight"), 8);
    // The user level may read.
    assert_eq!(cli(&s.user, "show stat").await, stat);

    let all = servers_state(&s.admin).await;
    let fa = &all["a"];
    // be_id is HAProxy's proxy id: the runtime sockets' internal proxy is 1, fe 2, web 3.
    assert_eq!(
        fa[..9],
        ["3", "web", "1", "a", "127.0.0.1", "2", "0", "1", "1"]
    );
    assert_eq!(fa[18], a.addr.port().to_string(), "srv_port");
    let fb = &all["b"];
    assert_eq!(
        fb[..9],
        ["3", "web", "2", "b", "127.0.0.1", "2", "0", "7", "7"]
    );
    assert_eq!(fb[18], b.addr.port().to_string(), "srv_port");
    assert_eq!(
        cli(&s.admin, "show servers state nope").await,
        "Can't find backend.\n\n"
    );

    assert_eq!(cli(&s.user, "show backend").await, "# name\nweb\n\n");
    let help = cli(&s.user, "help").await;
    assert!(help.contains("set server <bk>/<srv> state <st>"), "{help}");
    let unknown = cli(&s.user, "frobnicate now").await;
    assert!(
        unknown.starts_with("Unknown command: 'frobnicate now'\n"),
        "{unknown}"
    );
    // Several commands on one line, separated by ';'.
    let two = cli(&s.user, "show backend; get weight web/b").await;
    assert_eq!(two, "# name\nweb\n\nPermission denied\n\n");
}

#[tokio::test]
async fn socket_file_has_the_configured_mode() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let a = HttpOrigin::start("a").await;
    let s = setup(&[("a", a.hostport())], "").await;
    let meta = std::fs::metadata(&s.admin).expect("admin socket exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "mode 600");
    let meta = std::fs::metadata(&s.user).expect("user socket exists");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660, "mode 660");
}

#[tokio::test]
async fn disable_and_enable_server_take_it_out_of_and_back_into_rotation() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let s = setup(&[("a", a.hostport()), ("b", b.hostport())], "").await;
    assert_eq!(bodies(s.lb.port, "/", 2).await, ["a", "b"]);

    assert_eq!(cli(&s.admin, "disable server web/a").await, "\n");
    assert_eq!(state_of(&s.admin, "a").await.1, 1, "srv_admin_state maint");
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.get("web", "a", "status"), "MAINT");
    assert_eq!(csv.num("web", "BACKEND", "act"), 1);
    assert_eq!(bodies(s.lb.port, "/", 4).await, ["b"; 4]);

    assert_eq!(cli(&s.admin, "enable server web/a").await, "\n");
    assert_eq!(state_of(&s.admin, "a").await.1, 0, "srv_admin_state ready");
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.get("web", "a", "status"), "no check");
    let seen = bodies(s.lb.port, "/", 4).await;
    assert_eq!(seen.iter().filter(|n| *n == "a").count(), 2, "{seen:?}");
}

#[tokio::test]
async fn drain_lets_the_open_request_finish_and_sends_no_new_ones() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let s = setup(&[("a", a.hostport()), ("b", b.hostport())], "").await;
    // The first roundrobin pick is a: hold that request open on it.
    let port = s.lb.port;
    let held = tokio::spawn(async move { get(port, "/hold").await });
    wait_until(DEADLINE, "a holds the request", || a.stats.inflight() == 1).await;

    assert_eq!(cli(&s.admin, "set server web/a state drain").await, "\n");
    assert_eq!(state_of(&s.admin, "a").await.1, 8, "srv_admin_state drain");
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.get("web", "a", "status"), "DRAIN");
    assert_eq!(csv.num("web", "a", "scur"), 1, "the held request");

    let before = a.stats.requests();
    assert_eq!(bodies(s.lb.port, "/", 5).await, ["b"; 5]);
    assert_eq!(a.stats.requests(), before, "a got no new request");
    assert!(!held.is_finished(), "the held request is still open");

    a.release();
    let r = within(DEADLINE, "held request", held).await.expect("task");
    assert_eq!((r.status, r.body.as_str()), (200, "a"));
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.num("web", "a", "scur"), 0);
    assert_eq!(csv.num("web", "a", "hrsp_2xx"), 1);

    assert_eq!(cli(&s.admin, "set server web/a state ready").await, "\n");
    let seen = bodies(s.lb.port, "/", 4).await;
    assert_eq!(seen.iter().filter(|n| *n == "a").count(), 2, "{seen:?}");
}

#[tokio::test]
async fn maint_stops_traffic_and_checks_until_ready() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let s = setup(
        &[
            ("a", format!("{} check inter 100", a.hostport())),
            ("b", format!("{} check inter 100", b.hostport())),
        ],
        "option httpchk GET /health",
    )
    .await;
    // Checks reach a (the origin counts them as requests).
    wait_until(DEADLINE, "a is checked", || a.stats.requests() >= 2).await;

    assert_eq!(cli(&s.admin, "set server web/a state maint").await, "\n");
    assert_eq!(state_of(&s.admin, "a").await.1, 1);
    // A check already under way may still land; then nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quiet = a.stats.requests();
    assert_eq!(bodies(s.lb.port, "/", 4).await, ["b"; 4]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        a.stats.requests(),
        quiet,
        "no check and no request reached a in maintenance"
    );
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.get("web", "a", "status"), "MAINT");

    assert_eq!(cli(&s.admin, "set server web/a state ready").await, "\n");
    wait_until(DEADLINE, "checks of a resume", || {
        a.stats.requests() > quiet
    })
    .await;
    let seen = bodies(s.lb.port, "/", 4).await;
    assert_eq!(seen.iter().filter(|n| *n == "a").count(), 2, "{seen:?}");
}

#[tokio::test]
async fn set_weight_changes_the_roundrobin_sequence_at_once() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let s = setup(
        &[
            ("a", format!("{} weight 2", a.hostport())),
            ("b", format!("{} weight 1", b.hostport())),
        ],
        "",
    )
    .await;
    assert_eq!(bodies(s.lb.port, "/", 3).await, ["a", "b", "a"]);

    assert_eq!(cli(&s.admin, "set weight web/a 3").await, "\n");
    assert_eq!(
        bodies(s.lb.port, "/", 8).await,
        ["a", "a", "b", "a", "a", "a", "b", "a"]
    );
    assert_eq!(cli(&s.admin, "get weight web/a").await, "3 (initial 2)\n\n");
    assert_eq!(state_of(&s.admin, "a").await, (2, 0, 3, 2));

    // 50% of the configured weight 2 is 1: now 1:1.
    assert_eq!(cli(&s.admin, "set weight web/a 50%").await, "\n");
    assert_eq!(cli(&s.admin, "get weight web/a").await, "1 (initial 2)\n\n");
    assert_eq!(bodies(s.lb.port, "/", 4).await, ["a", "b", "a", "b"]);
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.num("web", "a", "weight"), 1);

    // The other spelling; weight 0 takes a out of rotation.
    assert_eq!(cli(&s.admin, "set server web/a weight 0").await, "\n");
    assert_eq!(bodies(s.lb.port, "/", 3).await, ["b"; 3]);
    assert_eq!(cli(&s.admin, "set weight web/a 100%").await, "\n");
    assert_eq!(cli(&s.admin, "get weight web/a").await, "2 (initial 2)\n\n");
}

#[tokio::test]
async fn errors_answer_like_haproxy_and_change_nothing() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let s = setup(&[("a", a.hostport()), ("b", b.hostport())], "").await;
    for (cmd, want) in [
        ("disable server web/nope", "No such server.\n\n"),
        ("enable server web/nope", "No such server.\n\n"),
        ("set server web/nope state drain", "No such server.\n\n"),
        ("set weight web/nope 3", "No such server.\n\n"),
        ("get weight web/nope", "No such server.\n\n"),
        ("disable server nope/a", "No such backend.\n\n"),
        ("set weight nope/a 3", "No such backend.\n\n"),
        ("disable server a", "Require 'backend/server'.\n\n"),
        (
            "set server web/a state sleepy",
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n",
        ),
        (
            "set weight web/a 257",
            "Absolute weight can only be between 0 and 256 inclusive.\n\n",
        ),
        (
            "set weight web/a 101%",
            "Invalid weight percentage (0-100).\n\n",
        ),
        (
            "set weight web/a heavy",
            "Absolute weight can only be between 0 and 256 inclusive.\n\n",
        ),
    ] {
        assert_eq!(cli(&s.admin, cmd).await, want, "{cmd}");
    }
    // A `level user` socket reads but may not steer.
    for cmd in [
        "disable server web/a",
        "enable server web/a",
        "set server web/a state maint",
        "set server web/a state drain",
        "set server web/a weight 5",
        "set weight web/a 5",
        "get weight web/a",
        "reload",
    ] {
        assert_eq!(cli(&s.user, cmd).await, "Permission denied\n\n", "{cmd}");
    }
    assert_eq!(
        state_of(&s.admin, "a").await,
        (2, 0, 1, 1),
        "nothing changed"
    );
    assert!(!s.lb.stderr().contains("Reload"), "no reload happened");
    assert_eq!(bodies(s.lb.port, "/", 2).await, ["a", "b"]);
}

#[tokio::test]
async fn reload_through_the_socket_succeeds_and_is_logged() {
    let a = HttpOrigin::start("a").await;
    let s = setup(&[("a", a.hostport())], "").await;
    let answer = cli(&s.admin, "reload").await;
    assert!(
        answer.starts_with("Success=1\n--\nReload complete: "),
        "{answer}"
    );
    let msg = answer.lines().nth(2).unwrap();
    assert!(msg.contains(" 0 removed, 0 weight changed ("), "{msg}");
    s.lb.wait_for_log(&format!("[NOTICE]   ({}) : {msg}", s.lb.pid()))
        .await;
    // Still serving, and the socket still answers after the reload.
    assert_eq!(get(s.lb.port, "/").await.body, "a");
    assert!(cli(&s.admin, "show info").await.starts_with("Name: lbd\n"));
}

#[tokio::test]
async fn admin_state_and_weight_survive_a_sigusr2_reload() {
    let (a, b, c) = (
        HttpOrigin::start("a").await,
        HttpOrigin::start("b").await,
        HttpOrigin::start("c").await,
    );
    let s = setup(
        &[
            ("a", a.hostport()),
            ("b", b.hostport()),
            ("c", c.hostport()),
            ("d", a.hostport()),
        ],
        "",
    )
    .await;
    for cmd in [
        "set server web/a state drain",
        "set weight web/b 3",
        "disable server web/c",
        "set weight web/d 0",
    ] {
        assert_eq!(cli(&s.admin, cmd).await, "\n", "{cmd}");
    }
    let line = reload_by_signal(&s.lb).await;
    assert!(
        line.contains(
            "Reload complete: +0 backends, -0, 0 servers added, 0 removed, 0 weight changed"
        ),
        "{line}"
    );
    assert_eq!(
        state_of(&s.admin, "a").await,
        (2, 8, 1, 1),
        "a still drained"
    );
    assert_eq!(
        state_of(&s.admin, "b").await,
        (2, 0, 3, 1),
        "b keeps weight 3"
    );
    let (_, adm, uw, iw) = state_of(&s.admin, "c").await;
    assert_eq!((adm, uw, iw), (1, 1, 1), "c still in maint");
    assert_eq!(
        state_of(&s.admin, "d").await,
        (2, 0, 0, 1),
        "d keeps weight 0"
    );
    let csv = Csv::parse(&cli(&s.admin, "show stat").await);
    assert_eq!(csv.get("web", "a", "status"), "DRAIN");
    assert_eq!(csv.get("web", "c", "status"), "MAINT");
    // Only b is eligible.
    assert_eq!(bodies(s.lb.port, "/", 4).await, ["b"; 4]);
    assert_eq!((a.stats.requests(), c.stats.requests()), (0, 0));
    // And the socket's own reload keeps them too.
    assert!(cli(&s.admin, "reload").await.starts_with("Success=1\n"));
    assert_eq!(state_of(&s.admin, "a").await.1, 8);
    assert_eq!(state_of(&s.admin, "b").await.2, 3);
    assert_eq!(state_of(&s.admin, "c").await.1, 1);
}
