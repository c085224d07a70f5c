//! The runtime socket's acl and map commands against the real binary: a pattern added
//! to a `-f` file over the socket flips a `deny` on the next request, an inline acl is
//! changed through its `#id`, a map value set over the socket changes a response
//! header, `clear`, and `prepare`/`commit` replacing a map atomically; the master CLI
//! (`-S`) routing `@1` commands to the runtime API.

mod common;
#[allow(dead_code)]
#[path = "common/sock.rs"]
mod sock;

use common::*;
use sock::*;

/// A frontend denying user agents listed in `agents` and paths starting with `/admin`,
/// and tagging responses with `x-tier` from the prefix map `tiers`.
fn config(sock: &str, agents: &str, tiers: &str, origin: &str) -> String {
    format!(
        "global
    stats socket {sock} mode 600 level admin
{HTTP_DEFAULTS}frontend fe
    bind 127.0.0.1:@FE@
    acl bad_agent req.hdr(user-agent) -i -f {agents}
    http-request deny if bad_agent
    http-request deny if {{ path_beg /admin }}
    http-request set-var(txn.tier) path,map_beg({tiers},none)
    http-response set-header x-tier %[var(txn.tier)]
    default_backend app
backend app
    server s1 {origin}
"
    )
}

async fn get_ua(port: u16, path: &str, ua: &str) -> Resp {
    let req = hyper::Request::get(path)
        .header("host", "t")
        .header("user-agent", ua)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    send(port, req).await
}

struct Setup {
    lb: Lbd,
    sock: String,
    agents: String,
    tiers: String,
    _origin: HttpOrigin,
    _dir: SockDir,
}

async fn setup(args: &[String]) -> Setup {
    let dir = SockDir::new();
    let (sock, agents, tiers) = (dir.sock(), dir.path("agents.acl"), dir.path("tiers.map"));
    std::fs::write(&agents, "# blocked agents\nEvil Bot\n").unwrap();
    std::fs::write(&tiers, "/api gold\n/static  bronze\n").unwrap();
    let origin = HttpOrigin::start("s1").await;
    let cfg = config(&sock, &agents, &tiers, &origin.hostport());
    let opts = StartOpts {
        args: args
            .iter()
            .map(|a| a.replace("@SK@", &dir.path("")))
            .collect(),
        ..StartOpts::default()
    };
    let lb = Lbd::start_with(&cfg, &opts).await;
    Setup {
        lb,
        sock,
        agents,
        tiers,
        _origin: origin,
        _dir: dir,
    }
}

#[tokio::test]
async fn acl_patterns_added_and_deleted_at_runtime_change_decisions() {
    let s = setup(&[]).await;
    let port = s.lb.port;
    assert_eq!(get_ua(port, "/", "evil bot").await.status, 403);
    assert_eq!(get_ua(port, "/", "Curious Crawler; v1").await.status, 200);
    // Escaped blanks and `;` make one pattern, as in HAProxy's CLI.
    let add = format!("add acl {} Curious\\ Crawler\\;\\ v1", s.agents);
    assert_eq!(cli(&s.sock, &add).await, "\n");
    assert_eq!(get_ua(port, "/", "curious crawler; V1").await.status, 403);
    let shown = cli(&s.sock, &format!("show acl {}", s.agents)).await;
    let keys: Vec<&str> = shown
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, k)| k))
        .collect();
    assert_eq!(keys, ["Evil Bot", "Curious Crawler; v1"], "{shown}");
    assert!(shown.lines().all(|l| l.is_empty() || l.starts_with("0x")));
    let got = cli(&s.sock, &format!("get acl {} EVIL\\ BOT", s.agents)).await;
    assert_eq!(
        got,
        "type=str, case=insensitive, match=yes, idx=list, pattern=\"Evil Bot\"\n\n"
    );
    let del = format!("del acl {} Curious\\ Crawler\\;\\ v1", s.agents);
    assert_eq!(cli(&s.sock, &del).await, "\n");
    assert_eq!(get_ua(port, "/", "curious crawler; V1").await.status, 200);
    assert_eq!(cli(&s.sock, &del).await, "Key not found.\n\n");

    // The listing: the file first (read while its flag was parsed), then the inline
    // patterns of each acl, numbered in order.
    let list = cli(&s.sock, "show acl").await;
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines[0], "# id (file) description");
    assert!(
        lines[1].starts_with(&format!(
            "0 ({0}) pattern loaded from file '{0}' used by acl at file '",
            s.agents
        )) && lines[1].ends_with("' line 10. curr_ver=0 next_ver=0 entry_cnt=1"),
        "{list}"
    );
    assert!(lines[2].starts_with("1 () acl 'req.hdr' file '"), "{list}");
    assert!(lines[3].starts_with("2 () acl 'path_beg' file '"), "{list}");
    assert!(lines[3].ends_with("' line 12. curr_ver=0 next_ver=0 entry_cnt=1"));

    // An inline acl, by id.
    assert_eq!(get_ua(port, "/secret/x", "ok").await.status, 200);
    assert_eq!(cli(&s.sock, "add acl #2 /secret").await, "\n");
    assert_eq!(get_ua(port, "/secret/x", "ok").await.status, 403);
    assert_eq!(cli(&s.sock, "clear acl #2").await, "\n");
    assert_eq!(get_ua(port, "/admin", "ok").await.status, 200);
    assert_eq!(
        cli(&s.sock, "add acl /nonexistent x").await,
        "Unknown ACL identifier. Please use #<id> or <file>.\n\n"
    );
}

#[tokio::test]
async fn map_values_set_at_runtime_change_headers() {
    let s = setup(&[]).await;
    let port = s.lb.port;
    let tier =
        |path: &'static str| async move { get(port, path).await.header("x-tier").to_string() };
    assert_eq!(tier("/api/v1").await, "gold");
    assert_eq!(
        cli(&s.sock, &format!("set map {} /api silver", s.tiers)).await,
        "\n"
    );
    assert_eq!(tier("/api/v1").await, "silver");
    assert_eq!(
        cli(&s.sock, &format!("set map {} /nope x", s.tiers)).await,
        "entry not found.\n\n"
    );
    let payload = format!("add map {} <<\n/img silver\n/docs gold\n", s.tiers);
    assert_eq!(cli(&s.sock, &payload).await, "\n");
    assert_eq!(tier("/img/a.png").await, "silver");
    let got = cli(&s.sock, &format!("get map {} /docs/x", s.tiers)).await;
    assert_eq!(
        got,
        "type=beg, case=sensitive, found=yes, idx=tree, key=\"/docs\", value=\"gold\", type=\"str\"\n\n"
    );
    assert_eq!(cli(&s.sock, &format!("clear map {}", s.tiers)).await, "\n");
    assert_eq!(tier("/api/v1").await, "none");
    assert_eq!(cli(&s.sock, &format!("show map {}", s.tiers)).await, "\n");

    // A new version is filled aside and replaces the map at once on commit.
    let prep = cli(&s.sock, &format!("prepare map {}", s.tiers)).await;
    assert_eq!(prep, "New version created: 1\n\n");
    let add = format!("add map @1 {} /api platinum", s.tiers);
    assert_eq!(cli(&s.sock, &add).await, "\n");
    assert_eq!(tier("/api/v1").await, "none");
    assert_eq!(
        cli(&s.sock, &format!("commit map @2 {}", s.tiers)).await,
        "Version number out of range.\n\n"
    );
    assert_eq!(
        cli(&s.sock, &format!("commit map @1 {}", s.tiers)).await,
        "\n"
    );
    assert_eq!(tier("/api/v1").await, "platinum");
    let list = cli(&s.sock, "show map").await;
    assert!(
        list.contains("curr_ver=1 next_ver=1 entry_cnt=1\n"),
        "{list}"
    );
}

#[tokio::test]
async fn master_cli_routes_commands_to_the_process() {
    let s = setup(&["-W".into(), "-S".into(), "@SK@master.sock".into()]).await;
    let master = s.sock.replace("admin.sock", "master.sock");
    let line = format!("@1 add acl {0} Mon\\ Agent\\;;@1 show acl {0}", s.agents);
    let out = cli(&master, &line).await;
    assert!(out.starts_with("\n0x"), "{out}");
    assert!(out.ends_with(" Mon Agent;\n\n"), "{out}");
    assert_eq!(get_ua(s.lb.port, "/", "Mon Agent;").await.status, 403);
    assert!(cli(&master, "@1 show info")
        .await
        .contains("\nProcess_num: 1\n"));
    assert_eq!(
        cli(&master, "@7 show info").await,
        "Can't find the target PID matching the prefix '@7'\n\n"
    );
    assert!(cli(&master, "help")
        .await
        .starts_with("The following commands are valid at this level:\n"));
}
