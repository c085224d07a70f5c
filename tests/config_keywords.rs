//! Every supported keyword through the library API: `parse_str` must give the typed
//! model the reference describes, with HAProxy's defaults where a keyword is absent.

use lbd::config::model::*;
use lbd::config::{parse_str, Config, Level, Loaded};
use lbd::sample::Method;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn load(text: &str) -> Loaded {
    parse_str("t.cfg", text)
}

/// Parses `text`, which must give no alert and no warning.
#[track_caller]
fn ok(text: &str) -> Config {
    let l = load(text);
    let msgs: Vec<String> = l.diags.iter().map(|d| d.to_string()).collect();
    assert!(
        l.diags
            .iter()
            .all(|d| d.level != Level::Alert && d.level != Level::Warning),
        "unexpected diagnostics: {msgs:#?}"
    );
    l.config.expect("a config")
}

/// Parses `text`, which must give no alert; returns the warnings' texts too.
#[track_caller]
fn ok_warn(text: &str) -> (Config, Vec<String>) {
    let l = load(text);
    let alerts: Vec<String> = l
        .diags
        .iter()
        .filter(|d| d.level == Level::Alert)
        .map(|d| d.to_string())
        .collect();
    assert!(alerts.is_empty(), "unexpected alerts: {alerts:#?}");
    let warns = l
        .diags
        .iter()
        .filter(|d| d.level == Level::Warning)
        .map(|d| d.msg.clone())
        .collect();
    (l.config.expect("a config"), warns)
}

/// The alert messages (without location) of a config that must be refused.
#[track_caller]
fn alerts(text: &str) -> Vec<String> {
    let l = load(text);
    assert!(l.config.is_none(), "config should be refused");
    l.diags
        .iter()
        .filter(|d| d.level == Level::Alert)
        .map(|d| d.msg.clone())
        .collect()
}

#[track_caller]
fn px<'a>(c: &'a Config, name: &str) -> &'a Proxy {
    c.proxies
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no proxy {name}"))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const TIMEOUTS: &str = "defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
";

/// `TIMEOUTS` then `rest`.
fn cfg(rest: &str) -> String {
    format!("{TIMEOUTS}{rest}")
}

/// A backend `be` in `mode http` holding the given lines and one server.
fn backend(lines: &str) -> Config {
    ok(&cfg(&format!(
        "backend be\n    mode http\n{lines}\n    server s1 127.0.0.1:80\n"
    )))
}

/// The settings of server `s1` in backend `be` after `params`.
fn server(params: &str) -> ServerSettings {
    let c = ok(&cfg(&format!(
        "backend be\n    server s1 127.0.0.1:80 {params}\n"
    )));
    px(&c, "be").servers[0].settings.clone()
}

/// A frontend `fe` in `mode http` with `lines`.
fn frontend(lines: &str) -> Config {
    ok(&cfg(&format!(
        "frontend fe\n    mode http\n    bind :8080\n{lines}\n"
    )))
}

// ------------------------------------------------------------------ sections

#[test]
fn sections_and_kinds_in_file_order() {
    let c = ok(&cfg(
        "global\n    maxconn 10\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    server s 127.0.0.1:80\nlisten l\n    bind :81\n    server s 127.0.0.1:80\n",
    ));
    let kinds: Vec<(&str, ProxyKind)> = c
        .proxies
        .iter()
        .map(|p| (p.name.as_str(), p.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("f", ProxyKind::Frontend),
            ("b", ProxyKind::Backend),
            ("l", ProxyKind::Listen)
        ]
    );
    assert_eq!(px(&c, "f").loc.line, 7);
    assert_eq!(&*px(&c, "f").loc.file, "t.cfg");
    assert_eq!(c.frontends().count(), 2);
    assert_eq!(c.backends().count(), 2);
    assert_eq!(c.backend("b").unwrap().kind, ProxyKind::Backend);
    assert!(c.backend("f").is_none());
    assert_eq!(c.listener_count(), 2);
}

#[test]
fn mode_defaults_to_tcp() {
    let c = ok(&cfg("listen a\n    bind :80\n    server s 127.0.0.1:80\nlisten b\n    mode http\n    bind :81\n    server s 127.0.0.1:80\nlisten c\n    mode tcp\n    bind :82\n    server s 127.0.0.1:80\n"));
    assert_eq!(px(&c, "a").mode, Mode::Tcp);
    assert_eq!(px(&c, "b").mode, Mode::Http);
    assert_eq!(px(&c, "c").mode, Mode::Tcp);
    assert_eq!(Mode::Http.as_str(), "http");
}

#[test]
fn last_defaults_is_inherited_and_not_merged() {
    let c = ok(concat!(
        "defaults\n",
        "    mode http\n",
        "    timeout connect 1s\n",
        "    timeout client 1s\n",
        "    timeout server 1s\n",
        "    retries 7\n",
        "    option redispatch\n",
        "backend one\n",
        "    server s 127.0.0.1:80\n",
        "defaults\n",
        "    timeout connect 2s\n",
        "    timeout client 2s\n",
        "    timeout server 2s\n",
        "backend two\n",
        "    server s 127.0.0.1:80\n",
    ));
    let one = px(&c, "one");
    assert_eq!(one.mode, Mode::Http);
    assert_eq!(one.retries, 7);
    assert!(one.options.redispatch);
    assert_eq!(one.timeouts.connect, Some(secs(1)));
    // The second defaults starts from scratch: nothing of the first remains.
    let two = px(&c, "two");
    assert_eq!(two.mode, Mode::Tcp);
    assert_eq!(two.retries, 3);
    assert!(!two.options.redispatch);
    assert_eq!(two.timeouts.connect, Some(secs(2)));
    // Defaults sections are not proxies.
    assert_eq!(c.proxies.len(), 2);
}

#[test]
fn named_defaults_and_from() {
    let c = ok(concat!(
        "defaults web\n",
        "    mode http\n",
        "    timeout connect 1s\n",
        "    timeout client 1s\n",
        "    timeout server 1s\n",
        "    balance leastconn\n",
        "defaults raw\n",
        "    mode tcp\n",
        "    timeout connect 3s\n",
        "    timeout client 3s\n",
        "    timeout server 3s\n",
        "backend a from web\n",
        "    server s 127.0.0.1:80\n",
        "backend b\n",
        "    server s 127.0.0.1:80\n",
        "defaults derived from web\n",
        "    timeout connect 9s\n",
        "backend c\n",
        "    server s 127.0.0.1:80\n",
        "listen d from raw\n",
        "    bind :80\n",
        "    server s 127.0.0.1:80\n",
    ));
    let a = px(&c, "a");
    assert_eq!((a.mode, &a.balance), (Mode::Http, &Balance::LeastConn));
    let b = px(&c, "b");
    assert_eq!((b.mode, &b.balance), (Mode::Tcp, &Balance::RoundRobin));
    assert_eq!(b.timeouts.connect, Some(secs(3)));
    // `defaults derived from web` copies web, then changes one timeout.
    let cc = px(&c, "c");
    assert_eq!(cc.mode, Mode::Http);
    assert_eq!(cc.balance, Balance::LeastConn);
    assert_eq!(cc.timeouts.connect, Some(secs(9)));
    assert_eq!(cc.timeouts.client, Some(secs(1)));
    assert_eq!(px(&c, "d").timeouts.connect, Some(secs(3)));
}

#[test]
fn section_keywords_may_be_indented_and_comments_cut_words() {
    let c = ok(concat!(
        "   defaults   # comment\n",
        "\ttimeout connect 1s\n",
        "\ttimeout client 1s\n",
        "\ttimeout server 1s\n",
        "  listen web  \n",
        "    bind :80#,:81\n",
        "    server s1 127.0.0.1:80 check#weight 7\n",
        "    server s2 127.0.0.1:81 weight 3 # check\n",
    ));
    let w = px(&c, "web");
    assert_eq!(w.binds.len(), 1);
    assert!(w.servers[0].settings.check);
    assert_eq!(w.servers[0].settings.weight, 1);
    assert!(!w.servers[1].settings.check);
    assert_eq!(w.servers[1].settings.weight, 3);
}

#[test]
fn quoting_escapes_and_setenv() {
    let c = ok(&format!(
        "global\n    setenv LBD_KW_PORT 8443\n    setenv LBD_KW_DESC \"two words\"\n{}",
        cfg(concat!(
            "frontend fe\n",
            "    mode http\n",
            "    bind \"127.0.0.1:${LBD_KW_PORT}\"\n",
            "    bind \"127.0.0.1:${LBD_KW_NOT_SET_ANYWHERE-9000}\"\n",
            "    description \"$LBD_KW_DESC\" 'and $LBD_KW_DESC' a\\ b\\#c \"x\"'y'z\n",
            "    http-request set-header X-Tab \"a\\tb\"\n",
            "    http-request set-header X-Hex \\x41\\x42\n",
        ))
    ));
    let fe = px(&c, "fe");
    assert_eq!(fe.binds[0].addr.inet(), Some(sa("127.0.0.1:8443")));
    assert_eq!(fe.binds[1].addr.inet(), Some(sa("127.0.0.1:9000")));
    assert_eq!(
        fe.description.as_deref(),
        Some("two words and $LBD_KW_DESC a b#c xyz")
    );
    assert_eq!(
        fe.http_request[0].action,
        HttpAction::SetHeader("X-Tab".into(), "a\tb".into())
    );
    assert_eq!(
        fe.http_request[1].action,
        HttpAction::SetHeader("X-Hex".into(), "AB".into())
    );
}

#[test]
fn presetenv_unsetenv_resetenv() {
    let c = ok(&format!(
        concat!(
            "global\n",
            "    setenv LBD_KW_A 8001\n",
            "    presetenv LBD_KW_A 8002\n",
            "    presetenv LBD_KW_B 8003\n",
            "    setenv LBD_KW_C 8004\n",
            "    unsetenv LBD_KW_C\n",
            "{}",
            "frontend fe\n",
            "    bind \":${{LBD_KW_A}}\"\n",
            "    bind \":${{LBD_KW_B}}\"\n",
            "    bind \":${{LBD_KW_C-8005}}\"\n",
        ),
        TIMEOUTS
    ));
    let ports: Vec<u16> = px(&c, "fe")
        .binds
        .iter()
        .map(|b| b.addr.inet().unwrap().port())
        .collect();
    assert_eq!(ports, [8001, 8003, 8005]);
    // resetenv keeps only the names it lists.
    let c = ok(&format!(
        "global\n    setenv LBD_KW_K 7001\n    setenv LBD_KW_D 7002\n    resetenv LBD_KW_K\n{}frontend fe\n    bind \":${{LBD_KW_K}}\"\n    bind \":${{LBD_KW_D-7003}}\"\n    bind \":${{PATH-7004}}\"\n",
        TIMEOUTS
    ));
    let ports: Vec<u16> = px(&c, "fe")
        .binds
        .iter()
        .map(|b| b.addr.inet().unwrap().port())
        .collect();
    assert_eq!(ports, [7001, 7003, 7004]);
}

#[test]
fn conditional_blocks() {
    let c = ok(&format!(
        concat!(
            "global\n    setenv LBD_KW_ON 1\n",
            "{}",
            "listen web\n",
            "    bind :80\n",
            ".if defined(LBD_KW_ON)\n",
            "    server a 127.0.0.1:80\n",
            ".endif\n",
            ".if defined(LBD_KW_OFF_UNSET)\n",
            "    server b 127.0.0.1:80\n",
            ".elif streq(x,x)\n",
            "    server c 127.0.0.1:80\n",
            ".else\n",
            "    server d 127.0.0.1:80\n",
            ".endif\n",
            ".if version_atleast(2.8) && !version_atleast(2.9)\n",
            "    server e 127.0.0.1:80\n",
            ".endif\n",
            ".if 0\n",
            "    server f 127.0.0.1:80\n",
            ".endif\n",
        ),
        TIMEOUTS
    ));
    let names: Vec<&str> = px(&c, "web")
        .servers
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["a", "c", "e"]);
}

// ------------------------------------------------------------------ bind

#[test]
fn bind_forms() {
    let c = ok(&cfg(concat!(
        "frontend fe\n",
        "    bind :80\n",
        "    bind *:81\n",
        "    bind 0.0.0.0:82\n",
        "    bind :::83\n",
        "    bind [::1]:84\n",
        "    bind 127.0.0.1:9000-9002\n",
        "    bind 127.0.0.2:85,:86,[::]:87\n",
        "    bind ipv4@127.0.0.3:88\n",
        "    bind :::89 v4v6\n",
        "    bind :::90 v6only name public backlog 512\n",
        "    bind :91 id 3\n",
    )));
    let fe = px(&c, "fe");
    let addrs: Vec<SocketAddr> = fe.binds.iter().filter_map(|b| b.addr.inet()).collect();
    assert_eq!(
        addrs,
        [
            sa("0.0.0.0:80"),
            sa("0.0.0.0:81"),
            sa("0.0.0.0:82"),
            sa("[::]:83"),
            sa("[::1]:84"),
            sa("127.0.0.1:9000"),
            sa("127.0.0.1:9001"),
            sa("127.0.0.1:9002"),
            sa("127.0.0.2:85"),
            sa("0.0.0.0:86"),
            sa("[::]:87"),
            sa("127.0.0.3:88"),
            sa("[::]:89"),
            sa("[::]:90"),
            sa("0.0.0.0:91"),
        ]
    );
    assert!(fe.binds[..12]
        .iter()
        .all(|b| b.v6only.is_none() && b.backlog.is_none() && b.name.is_none()));
    assert_eq!(fe.binds[12].v6only, Some(false));
    let b = &fe.binds[13];
    assert_eq!(
        (b.v6only, b.backlog, b.name.as_deref()),
        (Some(true), Some(512), Some("public"))
    );
    // Every address of one line carries that line's location.
    assert!(fe.binds[5..8].iter().all(|b| b.loc.line == 11));
    assert_eq!(c.listener_count(), 15);
}

#[test]
fn bind_maxconn_is_accepted_with_a_warning() {
    let (c, w) = ok_warn(&cfg("frontend fe\n    bind :80 maxconn 10\n"));
    assert_eq!(px(&c, "fe").binds.len(), 1);
    assert_eq!(w, ["'bind :80' : per-bind 'maxconn' is not supported by lbd and is ignored; use the frontend's 'maxconn'."]);
}

#[test]
fn legacy_listen_address() {
    let c = ok(&cfg(
        "listen web 127.0.0.1:8080\n    server s 127.0.0.1:80\n",
    ));
    assert_eq!(
        px(&c, "web").binds[0].addr.inet(),
        Some(sa("127.0.0.1:8080"))
    );
}

// ------------------------------------------------------------------ routing

#[test]
fn default_backend_and_use_backend() {
    let c = ok(&cfg(concat!(
        "frontend fe\n",
        "    mode http\n",
        "    bind :80\n",
        "    acl is_api path_beg /api\n",
        "    acl is_admin src 10.0.0.0/8\n",
        "    use_backend api if is_api\n",
        "    use_backend web unless is_admin\n",
        "    use_backend web\n",
        "    default_backend web\n",
        "backend api\n    mode http\n    server s 127.0.0.1:80\n",
        "backend web\n    mode http\n    server s 127.0.0.1:80\n",
    )));
    let fe = px(&c, "fe");
    let d = fe.default_backend.as_ref().unwrap();
    assert_eq!((d.name.as_str(), d.loc.line), ("web", 13));
    let u = &fe.use_backends;
    assert_eq!(u.len(), 3);
    assert_eq!(u[0].backend, "api");
    assert_eq!(
        u[0].cond,
        Condition {
            unless: false,
            any_of: vec![vec![Term {
                negate: false,
                acl: TermAcl::Named("is_api".into())
            }]]
        }
    );
    assert!(u[1].cond.unless);
    assert_eq!(u[1].backend, "web");
    // Without a condition the rule always matches: one empty AND-group.
    assert_eq!(
        u[2].cond,
        Condition {
            unless: false,
            any_of: vec![vec![]]
        }
    );
    assert_eq!(u[0].loc.line, 10);
}

#[test]
fn default_backend_is_inherited_from_defaults() {
    let c = ok(&format!(
        "{TIMEOUTS}    default_backend web\nfrontend fe\n    bind :80\nbackend web\n    server s 127.0.0.1:80\n"
    ));
    assert_eq!(px(&c, "fe").default_backend.as_ref().unwrap().name, "web");
}

#[test]
fn every_acl_criterion() {
    let c = frontend(concat!(
        "    acl a hdr(Host) example.com\n",
        "    acl b hdr_beg(host) www.\n",
        "    acl c hdr_end(host) .example.com\n",
        "    acl d hdr_dom(host) example.com\n",
        "    acl e hdr_sub(User-Agent) curl\n",
        "    acl f path /health\n",
        "    acl g path_beg /api /v2\n",
        "    acl h path_end .jpg .png\n",
        "    acl i path_dir static\n",
        "    acl j path_sub admin\n",
        "    acl k src 10.0.0.0/8 192.168.1.1 ::1 172.16.0.0/255.240.0.0\n",
        "    acl l method GET POST\n",
        "    acl m always_true\n",
        "    acl n always_false\n",
        "    acl o req.hdr(host) x\n",
        "    acl p hdr(host) -m beg y\n",
        "    acl q path -m end z\n",
        "    acl r path -m dir z\n",
        "    acl s path -m sub z\n",
        "    acl t hdr(host) -m dom z\n",
        "    acl u hdr(host) -m sub z\n",
        "    acl v hdr(host) -m end z\n",
        "    acl w path -m str z\n",
    ));
    let acls = &px(&c, "fe").acls;
    let got: Vec<(&str, &str, Method)> = acls
        .iter()
        .map(|a| (a.name.as_str(), a.expr.text(), a.patterns.method()))
        .collect();
    use Method::*;
    assert_eq!(
        got,
        [
            ("a", "hdr(Host)", Str),
            ("b", "hdr(host)", Beg),
            ("c", "hdr(host)", End),
            ("d", "hdr(host)", Dom),
            ("e", "hdr(User-Agent)", Sub),
            ("f", "path", Str),
            ("g", "path", Beg),
            ("h", "path", End),
            ("i", "path", Dir),
            ("j", "path", Sub),
            ("k", "src", Ip),
            ("l", "method", Str),
            ("m", "always_true", Bool),
            ("n", "always_false", Bool),
            ("o", "req.hdr(host)", Str),
            ("p", "hdr(host)", Beg),
            ("q", "path", End),
            ("r", "path", Dir),
            ("s", "path", Sub),
            ("t", "hdr(host)", Dom),
            ("u", "hdr(host)", Sub),
            ("v", "hdr(host)", End),
            ("w", "path", Str),
        ]
    );
    assert_eq!(acls[6].text, "path_beg /api /v2");
    assert_eq!(
        acls[10].text,
        "src 10.0.0.0/8 192.168.1.1 ::1 172.16.0.0/255.240.0.0"
    );
}

#[test]
fn acl_flags_and_repeated_names() {
    let c = frontend(concat!(
        "    acl host_a hdr(host) -i A.example.com\n",
        "    acl host_a hdr(host) -i b.example.com\n",
        "    acl dash path -- -i\n",
    ));
    let acls = &px(&c, "fe").acls;
    // A repeated name is kept as several declarations that conditions OR together.
    assert_eq!(acls.len(), 3);
    assert_eq!(acls[0].name, acls[1].name);
    assert_eq!(acls[0].text, "hdr(host) -i A.example.com");
    assert_eq!(acls[0].loc.line, 8);
    let env = |host: &'static str| {
        let mut h = hyper::HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        h
    };
    let matches = |a: &Acl, h: &hyper::HeaderMap, path: &str| {
        let e = lbd::sample::Env {
            req: Some(lbd::sample::HttpReq {
                method: "GET",
                uri: path,
                version: "1.1",
                headers: h,
                body: None,
            }),
            ..Default::default()
        };
        a.expr.each(&e, &mut |v| a.patterns.matches(&v))
    };
    assert!(matches(&acls[0], &env("a.EXAMPLE.com"), "/"));
    // `--` ends the flags: `-i` is a value.
    assert_eq!(acls[2].text, "path -- -i");
    assert!(acls[2].patterns.matches(&lbd::sample::Value::str("-i")));
    assert!(!acls[2].patterns.matches(&lbd::sample::Value::str("-I")));
}

#[test]
fn conditions_and_or_not_anonymous() {
    let c = ok(&cfg(concat!(
        "frontend fe\n",
        "    mode http\n",
        "    bind :80\n",
        "    acl a path_beg /a\n",
        "    acl b path_beg /b\n",
        "    acl c method POST\n",
        "    use_backend be if a b or c\n",
        "    use_backend be if a || !b\n",
        "    use_backend be if ! a !c\n",
        "    use_backend be if { path_beg /x } !{ src 10.0.0.0/8 } or METH_GET\n",
        "    use_backend be unless a\n",
        "    use_backend be if a OR b Or c\n",
        "backend be\n    mode http\n    server s 127.0.0.1:80\n",
    )));
    let u = &px(&c, "fe").use_backends;
    let named = |n: &str, negate: bool| Term {
        negate,
        acl: TermAcl::Named(n.into()),
    };
    assert_eq!(
        u[0].cond.any_of,
        vec![
            vec![named("a", false), named("b", false)],
            vec![named("c", false)]
        ]
    );
    assert_eq!(
        u[1].cond.any_of,
        vec![vec![named("a", false)], vec![named("b", true)]]
    );
    assert_eq!(
        u[2].cond.any_of,
        vec![vec![named("a", true), named("c", true)]]
    );
    let g = &u[3].cond.any_of;
    assert_eq!((g.len(), g[0].len(), g[1].len()), (2, 2, 1));
    match (&g[0][0], &g[0][1], &g[1][0]) {
        (
            Term {
                negate: false,
                acl: TermAcl::Anonymous(x),
            },
            Term {
                negate: true,
                acl: TermAcl::Anonymous(y),
            },
            Term {
                negate: false,
                acl: TermAcl::Anonymous(m),
            },
        ) => {
            assert_eq!(
                (x.text.as_str(), x.patterns.method()),
                ("path_beg /x", Method::Beg)
            );
            assert_eq!(
                (y.text.as_str(), y.patterns.method()),
                ("src 10.0.0.0/8", Method::Ip)
            );
            // METH_GET is HAProxy's predefined acl: GET or HEAD.
            assert_eq!(m.text, "method GET HEAD");
        }
        other => panic!("unexpected terms {other:?}"),
    }
    assert!(u[4].cond.unless);
    assert_eq!(u[4].cond.any_of, vec![vec![named("a", false)]]);
    // `or` is matched without regard to case, as HAProxy does.
    assert_eq!(
        u[5].cond.any_of,
        vec![
            vec![named("a", false)],
            vec![named("b", false)],
            vec![named("c", false)]
        ]
    );
}

// ------------------------------------------------------------------ balance

#[test]
fn every_balance_algorithm() {
    let cases: &[(&str, Balance)] = &[
        ("roundrobin", Balance::RoundRobin),
        ("static-rr", Balance::StaticRr),
        ("leastconn", Balance::LeastConn),
        ("first", Balance::First),
        ("source", Balance::Source),
        (
            "uri",
            Balance::Uri {
                whole: false,
                len: 0,
                depth: 0,
            },
        ),
        (
            "uri whole len 20 depth 3",
            Balance::Uri {
                whole: true,
                len: 20,
                depth: 3,
            },
        ),
        (
            "uri path-only",
            Balance::Uri {
                whole: false,
                len: 0,
                depth: 0,
            },
        ),
        ("url_param userid", Balance::UrlParam("userid".into())),
        (
            "hdr(Host)",
            Balance::Hdr {
                name: "host".into(),
                domain_only: false,
            },
        ),
        (
            "hdr(host) use_domain_only",
            Balance::Hdr {
                name: "host".into(),
                domain_only: true,
            },
        ),
        ("random", Balance::Random(2)),
        ("random(5)", Balance::Random(5)),
    ];
    for (text, want) in cases {
        let c = backend(&format!("    balance {text}"));
        assert_eq!(&px(&c, "be").balance, want, "balance {text}");
    }
    // The default is roundrobin.
    assert_eq!(backend("").proxies[0].balance, Balance::RoundRobin);
    assert!(Balance::Source.is_hash());
    assert!(!Balance::Random(2).is_hash());
}

#[test]
fn layer7_hash_in_tcp_mode_falls_back_to_roundrobin() {
    let (c, w) = ok_warn(&cfg(
        "backend be\n    balance uri\n    server s 127.0.0.1:80\n",
    ));
    assert_eq!(px(&c, "be").balance, Balance::RoundRobin);
    assert_eq!(
        w,
        ["Layer 7 hash not possible for backend 'be' (needs 'mode http'). Falling back to round robin."]
    );
}

#[test]
fn hash_type() {
    assert_eq!(backend("").proxies[0].hash_type, HashType::MapBased);
    for (text, want) in [
        ("map-based", HashType::MapBased),
        ("consistent", HashType::Consistent),
        ("consistent sdbm avalanche", HashType::Consistent),
    ] {
        let c = backend(&format!("    balance source\n    hash-type {text}"));
        assert_eq!(px(&c, "be").hash_type, want, "{text}");
    }
}

// ------------------------------------------------------------------ servers

#[test]
fn server_defaults() {
    let s = server("");
    assert_eq!(s, ServerSettings::default());
    assert!(!s.check);
    assert_eq!(s.inter, secs(2));
    assert_eq!((s.fastinter, s.downinter), (None, None));
    assert_eq!((s.fastinter(), s.downinter()), (secs(2), secs(2)));
    assert_eq!((s.rise, s.fall, s.weight), (2, 3, 1));
    assert_eq!((s.maxconn, s.maxqueue, s.error_limit), (0, 0, 10));
    assert_eq!(s.on_error, OnError::FailCheck);
    assert_eq!(s.init_state, InitState::Up);
    assert_eq!(s.observe, None);
    assert_eq!(s.send_proxy, None);
}

#[test]
fn every_server_keyword() {
    let s = server(concat!(
        "check inter 3s fastinter 500 downinter 10s rise 4 fall 5 port 8081 addr 127.0.0.9 ",
        "weight 50 backup disabled maxconn 100 maxqueue 20 slowstart 1m observe layer7 ",
        "error-limit 7 on-error mark-down on-marked-down shutdown-sessions ",
        "on-marked-up shutdown-backup-sessions init-state fully-down cookie s1c send-proxy id 4 ",
        "agent-check agent-port 9999 agent-addr 127.0.0.8 agent-inter 250ms agent-send hello"
    ));
    let want = ServerSettings {
        check: true,
        inter: secs(3),
        fastinter: Some(ms(500)),
        downinter: Some(secs(10)),
        rise: 4,
        fall: 5,
        check_port: Some(8081),
        check_addr: Some(ip("127.0.0.9")),
        weight: 50,
        backup: true,
        disabled: true,
        maxconn: 100,
        maxqueue: 20,
        slowstart: Some(secs(60)),
        observe: Some(Observe::Layer7),
        error_limit: 7,
        on_error: OnError::MarkDown,
        shutdown_on_down: true,
        shutdown_backup_on_up: true,
        init_state: InitState::FullyDown,
        cookie: Some("s1c".into()),
        send_proxy: Some(1),
        pp_opts: Default::default(),
        check_send_proxy: false,
        agent: AgentSettings {
            enabled: true,
            port: Some(9999),
            addr: Some(ip("127.0.0.8")),
            inter: Some(ms(250)),
            send: Some("hello".into()),
        },
        tls: SrvTls::default(),
        dns: Default::default(),
        track: None,
        check_no_port: false,
    };
    assert_eq!(s, want);
    assert_eq!((s.fastinter(), s.downinter()), (ms(500), secs(10)));
}

#[test]
fn server_tls_keywords() {
    let s = server(concat!(
        "ssl verify required ca-file /x/ca.crt crl-file /x/crl.pem crt /x/c.pem ",
        "sni req.hdr(host) alpn h2,http/1.1 ciphers HIGH ciphersuites TLS_AES_128_GCM_SHA256 ",
        "ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 no-ssl-reuse verifyhost Www.Example.Test ",
        "check-ssl check-sni c.test check-alpn http/1.1 proto h2"
    ));
    let t = &s.tls;
    assert!(t.ssl && t.no_reuse && s.check_tls());
    assert_eq!(t.verify, Some(SrvVerify::Required));
    assert_eq!(
        t.ca_file.as_deref(),
        Some(std::path::Path::new("/x/ca.crt"))
    );
    assert_eq!(t.crt.as_deref(), Some(std::path::Path::new("/x/c.pem")));
    assert_eq!(t.sni.as_ref().map(|e| e.text()), Some("req.hdr(host)"));
    assert_eq!(t.alpn, Some(vec!["h2".to_string(), "http/1.1".to_string()]));
    assert_eq!(t.check_alpn, Some(vec!["http/1.1".to_string()]));
    assert_eq!(t.verifyhost.as_deref(), Some("www.example.test"));
    assert_eq!(t.check_sni.as_deref(), Some("c.test"));
    assert_eq!(t.versions.min, Some(SrvTlsVer::Tls12));
    assert_eq!(t.proto, SrvProto::H2);
    // Checks follow `ssl` unless they go elsewhere (`port`) or `no-check-ssl`.
    assert!(server("ssl verify none").check_tls());
    assert!(!server("ssl verify none port 8443").check_tls());
    assert!(!server("ssl verify none no-check-ssl").check_tls());
    let t = server("ssl verify none no-ssl").tls;
    // `no-ssl` after `ssl`: HAProxy's use_ssl -1, its TLS settings still prepared.
    assert!(!t.ssl && t.no_ssl && t.ssl_ready);
}

#[test]
fn server_tls_errors_use_haproxy_words() {
    let be = |l: &str| format!("backend b\n    server s1 127.0.0.1:443 {l}\n");
    let a = alerts(&be("ssl"));
    assert!(
        a[0].starts_with("'server b/s1' : verify is enabled by default but no CA file specified. If you're running on a LAN"),
        "{a:?}"
    );
    let a = alerts(&format!(
        "global\n    ssl-server-verify none\n{}",
        be("ssl verify required")
    ));
    assert_eq!(
        a,
        ["'server b/s1' : verify is enabled but no CA file specified."]
    );
    let (_, w) = ok_warn(&format!(
        "global\n    ssl-server-verify none\n{}",
        be("ssl")
    ));
    assert!(!w.iter().any(|w| w.contains("verify")), "{w:?}");
    let a = alerts(&be("check check-ssl"));
    assert!(a[0].contains("verify is enabled by default"), "{a:?}");
    let a = alerts(&be("verify bogus"));
    assert!(
        a[0].ends_with(
            "'verify' : unknown verify method 'bogus', only 'none' and 'required' are supported."
        ),
        "{a:?}"
    );
    let a = alerts(&be("ssl verify none ssl-min-ver TLSv1.4"));
    assert!(
        a[0].ends_with("'TLSv1.4' : unknown ssl/tls version."),
        "{a:?}"
    );
    let a = alerts(&be("ssl verify none ssl-max-ver TLSv1.1"));
    assert!(
        a[0].contains("all SSL/TLS versions are disabled for server 's1'"),
        "{a:?}"
    );
    let a = alerts(&be("ssl verify none sni foo(bar)"));
    assert!(
        a[0].contains("error detected while parsing sni expression"),
        "{a:?}"
    );
    let a = alerts(&be("proto h3"));
    assert!(
        a[0].ends_with("'proto' :  unknown MUX protocol 'h3'."),
        "{a:?}"
    );
    let a = alerts("global\n    ssl-server-verify maybe\n");
    assert_eq!(
        a,
        ["'ssl-server-verify' expects 'none' or 'required' as argument."]
    );
    let a = alerts("global\n    ssl-default-server-options bogus\n");
    assert_eq!(
        a,
        ["unknown option 'bogus' on global statement 'ssl-default-server-options'."]
    );
}

#[test]
fn server_keyword_values() {
    assert_eq!(server("send-proxy-v2").send_proxy, Some(2));
    assert_eq!(server("send-proxy no-send-proxy").send_proxy, None);
    assert_eq!(server("send-proxy-v2 no-send-proxy-v2").send_proxy, None);
    assert_eq!(server("observe layer4").observe, Some(Observe::Layer4));
    assert_eq!(server("observe layer4 observe none").observe, None);
    assert!(!server("check no-check").check);
    assert!(
        !server("agent-check agent-port 1 no-agent-check")
            .agent
            .enabled
    );
    // HAProxy: an agent needs its port (a `default-server` may leave it to servers).
    assert_eq!(
        alerts(&cfg("backend be\n    server s1 127.0.0.1:80 agent-check\n")),
        ["server s1 does not have agent port. Agent check has been disabled."]
    );
    let c = ok(&cfg(
        "backend be\n    default-server agent-check agent-inter 1s\n    server s1 127.0.0.1:80 agent-port 81\n",
    ));
    let a = &px(&c, "be").servers[0].settings.agent;
    assert_eq!(
        (a.enabled, a.port, a.inter),
        (true, Some(81), Some(secs(1)))
    );
    assert!(!server("backup no-backup").backup);
    assert!(!server("disabled enabled").disabled);
    assert_eq!(server("weight 0").weight, 0);
    assert_eq!(server("weight 256").weight, 256);
    for (word, want) in [
        ("fastinter", OnError::FastInter),
        ("fail-check", OnError::FailCheck),
        ("sudden-death", OnError::SuddenDeath),
        ("mark-down", OnError::MarkDown),
    ] {
        assert_eq!(server(&format!("on-error {word}")).on_error, want);
    }
    for (word, want) in [
        ("fully-up", InitState::FullyUp),
        ("up", InitState::Up),
        ("down", InitState::Down),
        ("fully-down", InitState::FullyDown),
    ] {
        assert_eq!(server(&format!("init-state {word}")).init_state, want);
    }
    // A zero slowstart is allowed (= none); a zero inter is not.
    assert_eq!(server("slowstart 0").slowstart, Some(Duration::ZERO));
}

#[test]
fn server_addresses_and_check_address() {
    let c = ok(&cfg(concat!(
        "backend be\n",
        "    server a 127.0.0.1:8080\n",
        "    server b 127.0.0.1\n",
        "    server c [::1]:81\n",
        "    server d ::1\n",
        "    server e localhost:82\n",
        "    server f ipv4@127.0.0.2:83\n",
        "    server g 127.0.0.1:84 port 9000 addr 127.0.0.5\n",
        "    server h 127.0.0.1:85 port 9001\n",
        "    server i :9090\n",
        "    server j *:9091\n",
    )));
    let s = &px(&c, "be").servers;
    assert_eq!(
        (s[0].host.as_str(), s[0].addr, s[0].has_port),
        ("127.0.0.1", sa("127.0.0.1:8080"), true)
    );
    assert_eq!((s[1].addr, s[1].has_port), (sa("127.0.0.1:0"), false));
    assert_eq!(s[2].addr, sa("[::1]:81"));
    assert_eq!((s[3].addr, s[3].has_port), (sa("[::1]:0"), false));
    assert_eq!(s[4].host, "localhost");
    assert!(s[4].addr.ip().is_loopback());
    assert_eq!(s[4].addr.port(), 82);
    assert_eq!(s[5].addr, sa("127.0.0.2:83"));
    assert_eq!(s[6].check_addr(), sa("127.0.0.5:9000"));
    assert_eq!(s[7].check_addr(), sa("127.0.0.1:9001"));
    assert_eq!(s[0].check_addr(), sa("127.0.0.1:8080"));
    assert_eq!(s[7].loc.line, 13);
    // No IP: the client's destination address (HAProxy's empty address).
    assert_eq!((s[8].addr, s[8].has_port), (sa("0.0.0.0:9090"), true));
    assert_eq!(s[9].addr, sa("0.0.0.0:9091"));
}

#[test]
fn check_without_any_port_is_disabled_with_a_warning() {
    let (c, w) = ok_warn(&cfg(
        "backend be\n    server a 127.0.0.1 check\n    server b 127.0.0.1 check port 81\n",
    ));
    let s = &px(&c, "be").servers;
    assert!(!s[0].settings.check);
    assert!(s[1].settings.check);
    assert_eq!(
        w,
        ["Server be/a has neither service port nor check port. Check has been disabled."]
    );
}

#[test]
fn default_server_inheritance() {
    let c = ok(concat!(
        "defaults\n",
        "    timeout connect 1s\n",
        "    timeout client 1s\n",
        "    timeout server 1s\n",
        "    default-server inter 3s fall 5 check\n",
        "backend be\n",
        "    server early 127.0.0.1:80\n",
        "    default-server rise 4 weight 10\n",
        "    server a 127.0.0.1:81\n",
        "    server b 127.0.0.1:82 weight 20 no-check\n",
        "backend other\n",
        "    server c 127.0.0.1:83\n",
    ));
    let be = px(&c, "be");
    let [early, a, b] = &be.servers[..] else {
        panic!("three servers")
    };
    // From the defaults section only (the proxy's default-server came later).
    assert_eq!(
        (
            early.settings.inter,
            early.settings.fall,
            early.settings.rise
        ),
        (secs(3), 5, 2)
    );
    assert!(early.settings.check);
    assert_eq!(early.settings.weight, 1);
    // defaults + the proxy's default-server.
    assert_eq!(
        (
            a.settings.inter,
            a.settings.fall,
            a.settings.rise,
            a.settings.weight
        ),
        (secs(3), 5, 4, 10)
    );
    assert!(a.settings.check);
    // The server line wins.
    assert_eq!(b.settings.weight, 20);
    assert!(!b.settings.check);
    assert_eq!(be.default_server.rise, 4);
    // Another backend sees only the defaults section's default-server.
    let c2 = &px(&c, "other").servers[0].settings;
    assert_eq!((c2.rise, c2.weight, c2.fall), (2, 1, 5));
}

// ------------------------------------------------------------------ limits

#[test]
fn every_timeout() {
    let c = ok(concat!(
        "defaults\n",
        "    timeout connect 1s\n",
        "    timeout client 2s\n",
        "    timeout server 3s\n",
        "    timeout http-request 4s\n",
        "    timeout http-keep-alive 5s\n",
        "    timeout queue 6s\n",
        "    timeout tunnel 1h\n",
        "    timeout check 8s\n",
        "    timeout client-fin 9s\n",
        "    timeout server-fin 10s\n",
        "    timeout tarpit 11s\n",
        "listen web\n",
        "    bind :80\n",
        "    timeout server 250us\n",
        "    server s 127.0.0.1:80\n",
    ));
    let t = &px(&c, "web").timeouts;
    assert_eq!(
        *t,
        Timeouts {
            connect: Some(secs(1)),
            client: Some(secs(2)),
            server: Some(Duration::from_micros(250)),
            http_request: Some(secs(4)),
            http_keep_alive: Some(secs(5)),
            queue: Some(secs(6)),
            tunnel: Some(secs(3600)),
            check: Some(secs(8)),
            client_fin: Some(secs(9)),
            server_fin: Some(secs(10)),
            tarpit: Some(secs(11)),
        }
    );
    assert_eq!(t.queue(), Some(secs(6)));
}

#[test]
fn timeout_units_zero_and_queue_fallback() {
    let c = ok(concat!(
        "defaults\n",
        "    timeout connect 1500\n",
        "    timeout client 2m\n",
        "    timeout server 1d\n",
        "    timeout tunnel 0\n",
        "backend be\n",
        "    server s 127.0.0.1:80\n",
    ));
    let t = &px(&c, "be").timeouts;
    assert_eq!(t.connect, Some(ms(1500)));
    assert_eq!(t.client, Some(secs(120)));
    assert_eq!(t.server, Some(secs(86400)));
    // 0 means infinite, like unset.
    assert_eq!(t.tunnel, None);
    // `timeout queue` falls back to `timeout connect`.
    assert_eq!(t.queue, None);
    assert_eq!(t.queue(), Some(ms(1500)));
    assert_eq!(Timeouts::default().queue(), None);
}

#[test]
fn maxconn_and_retries() {
    let c = ok(&format!(
        "global\n    maxconn 4000\n{}",
        cfg(concat!(
            "frontend a\n    bind :80\n    maxconn 300\n",
            "frontend b\n    bind :81\n    maxconn 0\n",
            "frontend c\n    bind :82\n",
            "backend d\n    retries 0\n    server s 127.0.0.1:80\n",
            "backend e\n    server s 127.0.0.1:80\n",
        ))
    ));
    assert_eq!(c.global.maxconn, Some(4000));
    assert_eq!(px(&c, "a").maxconn, Some(300));
    assert_eq!(px(&c, "b").maxconn, None);
    assert_eq!(px(&c, "c").maxconn, None);
    assert_eq!(px(&c, "d").retries, 0);
    assert_eq!(px(&c, "e").retries, 3);
}

// ------------------------------------------------------------------ options

#[test]
fn option_defaults() {
    let c = backend("");
    let p = px(&c, "be");
    assert_eq!(p.options, Options::default());
    assert_eq!(p.options.http_conn, HttpConnMode::KeepAlive);
    assert_eq!(p.check.proto, check::CheckProto::Connect);
    assert!(p.check.ruleset().is_none());
}

#[test]
fn every_option() {
    let c = ok(&cfg(concat!(
        "listen web\n",
        "    mode http\n",
        "    bind :80\n",
        "    option redispatch\n",
        "    option allbackups\n",
        "    option httplog\n",
        "    option log-health-checks\n",
        "    option dontlognull\n",
        "    option http-server-close\n",
        "    option forwardfor\n",
        "    server s 127.0.0.1:80\n",
        "listen raw\n",
        "    bind :81\n",
        "    option tcplog\n",
        "    option tcp-check\n",
        "    server s 127.0.0.1:80\n",
    )));
    let o = &px(&c, "web").options;
    assert!(o.redispatch && o.allbackups && o.httplog && o.log_health_checks && o.dontlognull);
    assert_eq!(o.http_conn, HttpConnMode::ServerClose);
    assert_eq!(
        o.forwardfor,
        Some(ForwardFor {
            except: None,
            header: "X-Forwarded-For".into(),
            if_none: false
        })
    );
    let raw = &px(&c, "raw").options;
    assert!(raw.tcplog && raw.tcp_check);
    assert!(!raw.httplog);
}

#[test]
fn connection_mode_options() {
    let mode = |lines: &str| px(&backend(lines), "be").options.http_conn;
    assert_eq!(mode("    option httpclose"), HttpConnMode::Close);
    assert_eq!(mode("    option forceclose"), HttpConnMode::Close);
    assert_eq!(
        mode("    option http-server-close"),
        HttpConnMode::ServerClose
    );
    assert_eq!(
        mode("    option httpclose\n    option http-keep-alive"),
        HttpConnMode::KeepAlive
    );
    assert_eq!(
        mode("    option httpclose\n    no option httpclose"),
        HttpConnMode::KeepAlive
    );
}

#[test]
fn option_forwardfor_arguments() {
    let c = backend("    option forwardfor except 127.0.0.0/8 header X-Client-IP if-none");
    assert_eq!(
        px(&c, "be").options.forwardfor,
        Some(ForwardFor {
            except: Some((ip("127.0.0.0"), 8)),
            header: "X-Client-IP".into(),
            if_none: true
        })
    );
}

#[test]
fn no_option_undoes_an_inherited_option() {
    let c = ok(concat!(
        "defaults\n",
        "    mode http\n",
        "    timeout connect 1s\n",
        "    timeout client 1s\n",
        "    timeout server 1s\n",
        "    option redispatch\n",
        "    option forwardfor\n",
        "    option httplog\n",
        "frontend fe\n",
        "    bind :80\n",
        "    no option httplog\n",
        "    no option forwardfor\n",
        "backend be\n",
        "    no option redispatch\n",
        "    server s 127.0.0.1:80\n",
    ));
    assert!(!px(&c, "be").options.redispatch);
    assert!(px(&c, "be").options.forwardfor.is_some());
    assert!(px(&c, "fe").options.forwardfor.is_none());
    assert!(!px(&c, "fe").options.httplog);
}

#[test]
fn option_http_tunnel_is_accepted_with_a_warning() {
    let (_, w) = ok_warn(&cfg(
        "backend be\n    mode http\n    option http-tunnel\n    server s 127.0.0.1:80\n",
    ));
    assert_eq!(w, ["'option http-tunnel' is deprecated in HAProxy and ignored by lbd; WebSocket upgrades are tunnelled anyway."]);
}

// ------------------------------------------------------------------ health checks

/// The request of a backend's http-check ruleset: method, uri, version, headers
/// (name, value text), body.
type Req = (
    String,
    String,
    String,
    Vec<(String, String)>,
    Option<String>,
);

fn http_req(p: &Proxy) -> Req {
    let rules = p.check.ruleset().expect("a check ruleset");
    let send = rules
        .rules
        .iter()
        .find_map(|r| match &r.act {
            check::CheckAct::Send(check::Send::Http(h)) => Some(h.clone()),
            _ => None,
        })
        .expect("an http send rule");
    let text = |t: &check::Text| match t {
        check::Text::Plain(s) => s.clone(),
        check::Text::Lf(f) => f.text().to_string(),
    };
    (
        send.meth.unwrap_or_else(|| "OPTIONS".into()),
        send.uri.as_ref().map_or("/".into(), text),
        send.ver.unwrap_or_else(|| "HTTP/1.0".into()),
        send.hdrs
            .iter()
            .map(|(n, v)| (n.clone(), v.text().to_string()))
            .collect(),
        send.body.as_ref().map(text),
    )
}

fn expects(p: &Proxy) -> Vec<check::Expect> {
    p.check
        .ruleset()
        .expect("a check ruleset")
        .rules
        .into_iter()
        .filter_map(|r| match r.act {
            check::CheckAct::Expect(e) => Some(*e),
            _ => None,
        })
        .collect()
}

#[test]
fn option_httpchk_forms() {
    let hc = |line: &str| http_req(px(&backend(line), "be"));
    let h = hc("    option httpchk");
    assert_eq!(
        (h.0.as_str(), h.1.as_str(), h.2.as_str()),
        ("OPTIONS", "/", "HTTP/1.0")
    );
    let h = hc("    option httpchk /health");
    assert_eq!((h.0.as_str(), h.1.as_str()), ("OPTIONS", "/health"));
    let h = hc("    option httpchk GET /health");
    assert_eq!((h.0.as_str(), h.1.as_str()), ("GET", "/health"));
    let h = hc("    option httpchk HEAD /h HTTP/1.1");
    assert_eq!(
        (h.0.as_str(), h.1.as_str(), h.2.as_str()),
        ("HEAD", "/h", "HTTP/1.1")
    );
    // The old way to send headers: CR LF inside the version (deprecated: a warning).
    let (c, w) = ok_warn(&cfg(
        "backend be\n    option httpchk GET /h HTTP/1.1\\r\\nHost:\\ example.com\n",
    ));
    assert!(
        w[0].contains("hiding headers or body at the end of the version string is deprecated"),
        "{w:?}"
    );
    let h = http_req(px(&c, "be"));
    assert_eq!(h.2, "HTTP/1.1");
    assert_eq!(h.3, [("Host".to_string(), "example.com".to_string())]);
    // The last check option wins.
    let c = backend("    option httpchk\n    option tcp-check");
    assert_eq!(px(&c, "be").check.proto, check::CheckProto::TcpCheck);
    assert!(px(&c, "be").options.tcp_check);
    let c = backend("    option tcp-check\n    option httpchk");
    assert_eq!(px(&c, "be").check.proto, check::CheckProto::Http);
    assert!(!px(&c, "be").options.tcp_check);
    let c = backend("    option httpchk\n    option redis-check");
    assert_eq!(px(&c, "be").check.proto, check::CheckProto::Redis);
}

#[test]
fn http_check_send_and_expect() {
    let c = backend(concat!(
        "    option httpchk\n",
        "    http-check send meth GET uri /ready ver HTTP/1.1 hdr Host example.com hdr X-A b body ping\n",
        "    http-check expect status 200,300-310\n",
        "    http-check disable-on-404",
    ));
    let p = px(&c, "be");
    assert_eq!(
        http_req(p),
        (
            "GET".into(),
            "/ready".into(),
            "HTTP/1.1".into(),
            vec![
                ("Host".into(), "example.com".into()),
                ("X-A".into(), "b".into())
            ],
            Some("ping".into())
        )
    );
    assert!(p.check.disable_on_404);
    let e = expects(p);
    assert_eq!(e.len(), 1);
    assert!(matches!(&e[0].kind, check::ExpectKind::Status(r) if r == &[(200, 200), (300, 310)]));
    let expect = |line: &str| {
        expects(px(
            &backend(&format!("    option httpchk\n    {line}")),
            "be",
        ))
        .remove(0)
    };
    let e = expect("http-check expect ! status 500");
    assert!(e.inverse && matches!(&e.kind, check::ExpectKind::Status(r) if r == &[(500, 500)]));
    assert!(matches!(
        expect("http-check expect rstatus ^2").kind,
        check::ExpectKind::RStatus(_)
    ));
    assert!(
        matches!(expect("http-check expect string OK").kind, check::ExpectKind::Body(b) if b == b"OK")
    );
    // Without a last expect, HAProxy's implicit `expect status 200-399`.
    let e = expects(px(&backend("    option httpchk"), "be"));
    assert!(matches!(&e[0].kind, check::ExpectKind::Status(r) if r == &[(200, 399)]));
    // Rules must come in the order connect, send, expect.
    let a = alerts("defaults\n mode http\nbackend be\n option httpchk\n http-check expect status 200\n http-check send meth GET\n");
    assert!(a[0].contains("'http-check send' : unable to add http-check send rule at step 2 (missing connect rule)."), "{a:?}");
    let c = backend("    option httpchk\n    http-check connect\n    http-check comment hello\n    http-check send meth GET\n    http-check expect status 200");
    let rules = px(&c, "be").check.ruleset().unwrap();
    assert_eq!(rules.rules.len(), 3);
    assert_eq!(rules.rules[1].comment.as_deref(), Some("hello"));
}

#[test]
fn tcp_check_rules_and_protocol_options() {
    let c = backend(concat!(
        "    option tcp-check\n",
        "    tcp-check comment first\n",
        "    tcp-check connect port 8080 linger\n",
        "    tcp-check send PING\\r\\n\n",
        "    tcp-check expect min-recv 3 !rstring ^-ERR comment neg\n",
        "    tcp-check expect string +PONG\n",
    ));
    let r = px(&c, "be").check.ruleset().unwrap();
    assert_eq!(r.rules.len(), 4);
    assert!(
        matches!(&r.rules[0].act, check::CheckAct::Connect(c) if c.port == Some(8080) && c.linger)
    );
    assert_eq!(r.rules[0].comment.as_deref(), Some("first"));
    assert_eq!((r.step(0), r.step(2)), (2, 4));
    let e = expects(px(&c, "be"));
    assert!(e[0].inverse && e[0].min_recv == 3);
    // The second expect waits from the first (inverted) one of its chain.
    assert_eq!((e[0].head, e[1].head), (2, 2));
    // Without a connect first, an implicit one (step 0).
    let c = backend("    option tcp-check\n    tcp-check send x\n");
    let r = px(&c, "be").check.ruleset().unwrap();
    assert_eq!(r.step(0), 0);
    for opt in [
        "redis-check",
        "ssl-hello-chk",
        "smtpchk",
        "smtpchk EHLO example.com",
        "ldap-check",
        "spop-check",
        "mysql-check",
        "mysql-check user u pre-41",
        "pgsql-check user p",
    ] {
        let c = backend(&format!("    option {opt}"));
        assert!(px(&c, "be").check.ruleset().is_some(), "{opt}");
    }
    let a = alerts("backend be\n option pgsql-check\n");
    assert!(
        a[0].contains("'option pgsql-check' expects 'user <username>' as argument."),
        "{a:?}"
    );
    let a = alerts("backend be\n option mysql-check user u post-42\n");
    assert!(
        a[0].contains("only supports 'post-41' and 'pre-41' (got 'post-42')"),
        "{a:?}"
    );
    let a = alerts("backend be\n tcp-check send x\n tcp-check connect\n");
    assert!(
        a[0].contains("'tcp-check connect' : first step MUST also be a 'connect'"),
        "{a:?}"
    );
    let a = alerts("backend be\n tcp-check expect status 200\n");
    assert!(
        a[0].contains("'tcp-check expect' : 'only supports min-recv"),
        "{a:?}"
    );
}

// ------------------------------------------------------------------ http rules

#[test]
fn http_request_and_response_actions() {
    let c = frontend(concat!(
        "    acl api path_beg /api\n",
        "    http-request set-header X-Forwarded-Proto http\n",
        "    http-request add-header X-Trace \"a b\" if api\n",
        "    http-request del-header X-Secret unless api\n",
        "    http-request del-header X-Other -m str\n",
        "    http-request deny if { src 10.0.0.0/8 }\n",
        "    http-request deny deny_status 429\n",
        "    http-request return status 503 content-type text/plain string \"down\" hdr Retry-After 30%% if api\n",
        "    http-request return\n",
        "    http-request return content-type text/html lf-string \"100%% ok\"\n",
        "    http-request use-service prometheus-exporter if { path /metrics }\n",
        "    http-response set-header Server \"lbd 100%%\"\n",
        "    http-response add-header X-A b\n",
        "    http-response del-header X-Powered-By\n",
        "    http-response deny\n",
        "    http-response return status 500\n",
    ));
    let fe = px(&c, "fe");
    let req: Vec<&HttpAction> = fe.http_request.iter().map(|r| &r.action).collect();
    assert_eq!(
        req,
        [
            &HttpAction::SetHeader("X-Forwarded-Proto".into(), "http".into()),
            &HttpAction::AddHeader("X-Trace".into(), "a b".into()),
            &HttpAction::DelHeader("X-Secret".into(), Method::Str),
            &HttpAction::DelHeader("X-Other".into(), Method::Str),
            &HttpAction::Deny(403),
            &HttpAction::Deny(429),
            &HttpAction::Return {
                status: 503,
                content_type: Some("text/plain".into()),
                body: Some("down".into()),
                headers: vec![("Retry-After".into(), "30%".into())],
            },
            &HttpAction::Return {
                status: 200,
                content_type: None,
                body: None,
                headers: vec![],
            },
            &HttpAction::Return {
                status: 200,
                content_type: Some("text/html".into()),
                body: Some("100% ok".into()),
                headers: vec![],
            },
            &HttpAction::UseServicePrometheus,
        ]
    );
    let conds: Vec<Option<bool>> = fe
        .http_request
        .iter()
        .map(|r| r.cond.as_ref().map(|c| c.unless))
        .collect();
    assert_eq!(
        conds,
        [
            None,
            Some(false),
            Some(true),
            None,
            Some(false),
            None,
            Some(false),
            None,
            None,
            Some(false)
        ]
    );
    assert_eq!(fe.http_request[0].loc.line, 9);
    let resp: Vec<&HttpAction> = fe.http_response.iter().map(|r| &r.action).collect();
    assert_eq!(
        resp,
        [
            // Header values are log-format strings: `%%` is one `%`.
            &HttpAction::SetHeader("Server".into(), "lbd 100%".into()),
            &HttpAction::AddHeader("X-A".into(), "b".into()),
            &HttpAction::DelHeader("X-Powered-By".into(), Method::Str),
            // A response deny answers 502.
            &HttpAction::Deny(502),
            &HttpAction::Return {
                status: 500,
                content_type: None,
                body: None,
                headers: vec![],
            },
        ]
    );
}

#[test]
fn http_rules_in_tcp_mode_are_ignored_with_a_warning() {
    let (c, w) = ok_warn(&cfg(
        "frontend fe\n    bind :80\n    http-request set-header A b\n",
    ));
    assert_eq!(px(&c, "fe").http_request.len(), 1);
    assert_eq!(
        w,
        ["'http-request'/'http-response' rules ignored for frontend 'fe' as they require HTTP mode."]
    );
}

// ------------------------------------------------------------------ persistence

#[test]
fn cookie() {
    let c = backend(
        "    cookie SRV insert indirect nocache postonly preserve httponly secure domain .a.com domain .b.com maxidle 30m maxlife 8h attr SameSite=Lax",
    );
    assert_eq!(
        px(&c, "be").cookie,
        Some(CookieCfg {
            name: "SRV".into(),
            mode: CookieMode::Insert,
            indirect: true,
            nocache: true,
            postonly: true,
            preserve: true,
            httponly: true,
            secure: true,
            domains: vec![".a.com".into(), ".b.com".into()],
            maxidle: Some(secs(1800)),
            maxlife: Some(secs(8 * 3600)),
            attrs: vec!["SameSite=Lax".into()],
        })
    );
    let mode = |line: &str| px(&backend(line), "be").cookie.as_ref().unwrap().mode;
    assert_eq!(mode("    cookie JSESSIONID prefix"), CookieMode::Prefix);
    assert_eq!(mode("    cookie SRV rewrite"), CookieMode::Rewrite);
    assert_eq!(mode("    cookie SRV"), CookieMode::Passive);
    assert!(px(&backend(""), "be").cookie.is_none());
}

#[test]
fn cookie_in_tcp_mode_is_dropped_with_a_warning() {
    let (c, w) = ok_warn(&cfg(
        "backend be\n    cookie SRV insert\n    server s 127.0.0.1:80 cookie a\n",
    ));
    assert!(px(&c, "be").cookie.is_none());
    assert_eq!(
        px(&c, "be").servers[0].settings.cookie.as_deref(),
        Some("a")
    );
    assert_eq!(w, ["'cookie' statement ignored for tcp backend 'be'."]);
}

#[test]
fn stick_table_and_stick_rules() {
    let c = ok(&cfg(concat!(
        "backend be\n",
        "    mode http\n",
        "    stick-table type ip size 100k expire 30m\n",
        "    acl api path_beg /api\n",
        "    stick on src\n",
        "    stick match src table other if api\n",
        "    stick store-request src unless api\n",
        "    server s 127.0.0.1:80\n",
        "backend other\n",
        "    stick-table type ip size 10 nopurge\n",
        "    server s 127.0.0.1:80\n",
    )));
    let be = px(&c, "be");
    let t = be.stick_table.as_ref().unwrap();
    assert_eq!(
        (t.size, t.expire, t.loc.line),
        (100 * 1024, Some(secs(1800)), 7)
    );
    let r = &be.stick_rules;
    assert_eq!(r.len(), 3);
    assert_eq!((r[0].kind, r[0].table.as_deref()), (StickKind::On, None));
    assert!(r[0].cond.is_none());
    assert_eq!(
        (r[1].kind, r[1].table.as_deref()),
        (StickKind::Match, Some("other"))
    );
    assert_eq!(r[1].cond.as_ref().map(|c| c.unless), Some(false));
    assert_eq!(r[2].kind, StickKind::StoreRequest);
    assert_eq!(r[2].cond.as_ref().map(|c| c.unless), Some(true));
    let o = px(&c, "other").stick_table.as_ref().unwrap();
    assert_eq!((o.size, o.expire), (10, None));
}

// ------------------------------------------------------------------ stats and logs

#[test]
fn stats_page() {
    let c = ok(&cfg(concat!(
        "listen stats\n",
        "    mode http\n",
        "    bind :8404\n",
        "    stats enable\n",
        "    stats uri /monitor\n",
        "    stats refresh 10s\n",
        "    stats auth admin:secret\n",
        "    stats auth ops:pa:ss\n",
        "    stats realm Load\\ balancer\n",
    )));
    assert_eq!(
        px(&c, "stats").stats,
        StatsCfg {
            enabled: true,
            uri: Some("/monitor".into()),
            refresh: Some(secs(10)),
            auth: vec![
                ("admin".into(), "secret".into()),
                ("ops".into(), "pa:ss".into())
            ],
            realm: Some("Load balancer".into()),
            admin: false,
        }
    );
    assert_eq!(px(&c, "stats").stats.uri(), "/monitor");
    // `stats uri` alone enables the page; the default URI is HAProxy's.
    let c = frontend("    stats uri /s");
    assert!(px(&c, "fe").stats.enabled);
    let c = frontend("    stats enable");
    assert_eq!(px(&c, "fe").stats.uri(), "/haproxy?stats");
    let c = frontend("    stats enable\n    stats disable");
    assert!(!px(&c, "fe").stats.enabled);
    let (c, w) = ok_warn(&cfg(
        "frontend fe\n    mode http\n    bind :80\n    stats enable\n    stats admin if TRUE\n",
    ));
    assert!(px(&c, "fe").stats.admin);
    assert_eq!(w, ["'stats admin' is accepted but lbd's stats page is read-only; use the stats socket to change servers."]);
}

#[test]
fn log_targets_and_log_global() {
    let c = ok(&format!(
        concat!(
            "global\n",
            "    log /dev/log local0\n",
            "    log 127.0.0.1:5140 local1 notice\n",
            "    log 127.0.0.2 daemon info err\n",
            "    log stdout format raw local2\n",
            "    log stderr user\n",
            "    log udp@[::1]:515 local3\n",
            "    log-tag edge\n",
            "{}",
            "frontend fe\n",
            "    bind :80\n",
            "    log global\n",
            "    log /var/log/lbd.log local4 warning\n",
            "frontend quiet\n",
            "    bind :81\n",
            "    log /var/log/x.log local4\n",
            "    no log\n",
            "frontend own\n",
            "    bind :82\n",
            "    log stdout local5\n",
        ),
        TIMEOUTS
    ));
    let g = &c.global.logs;
    let dests: Vec<&LogDest> = g.iter().map(|l| &l.dest).collect();
    assert_eq!(
        dests,
        [
            &LogDest::Path("/dev/log".into()),
            &LogDest::Udp(sa("127.0.0.1:5140")),
            &LogDest::Udp(sa("127.0.0.2:514")),
            &LogDest::Stdout,
            &LogDest::Stderr,
            &LogDest::Udp(sa("[::1]:515")),
        ]
    );
    let fl: Vec<(u8, u8)> = g.iter().map(|l| (l.facility, l.max_level)).collect();
    assert_eq!(fl, [(16, 7), (17, 5), (3, 6), (18, 7), (1, 7), (19, 7)]);
    assert_eq!(g[0].loc.line, 2);
    assert_eq!(c.global.log_tag.as_deref(), Some("edge"));
    // `log global` puts the global targets first, then the proxy's own.
    let fe = px(&c, "fe");
    assert!(fe.log_global);
    assert_eq!(fe.logs.len(), 7);
    assert_eq!(fe.logs[..6], g[..]);
    assert_eq!(
        (&fe.logs[6].dest, fe.logs[6].facility, fe.logs[6].max_level),
        (&LogDest::Path("/var/log/lbd.log".into()), 20, 4)
    );
    assert!(px(&c, "quiet").logs.is_empty());
    let own = px(&c, "own");
    assert!(!own.log_global);
    assert_eq!(own.logs.len(), 1);
    assert_eq!(own.logs[0].dest, LogDest::Stdout);
}

#[test]
fn log_global_is_inherited_from_defaults() {
    let c = ok(&format!(
        "global\n    log stdout local0\n{TIMEOUTS}    log global\nfrontend fe\n    bind :80\n"
    ));
    assert_eq!(px(&c, "fe").logs.len(), 1);
}

// ------------------------------------------------------------------ global

#[test]
fn global_defaults() {
    let c = ok(&cfg("listen l\n    bind :80\n    server s 127.0.0.1:80\n"));
    let g = &c.global;
    assert_eq!(g.maxconn, None);
    assert_eq!(g.nbthread, None);
    assert_eq!(g.pidfile, None);
    assert_eq!(g.hard_stop_after, None);
    assert_eq!(g.spread_checks, 0);
    assert_eq!(g.bufsize, 16384);
    assert_eq!(g.max_headers, 101);
    assert!(g.logs.is_empty() && g.stats_sockets.is_empty());
    assert_eq!(g.log_tag, None);
}

#[test]
fn every_global_keyword() {
    let c = ok(&format!(
        concat!(
            "global\n",
            "    maxconn 20000\n",
            "    nbthread 4\n",
            "    pidfile /run/lbd.pid\n",
            "    hard-stop-after 30s\n",
            "    spread-checks 5\n",
            "    tune.bufsize 32k\n",
            "    tune.http.maxhdr 64\n",
            "    log-tag lb1\n",
            "    description edge load balancer\n",
            "    node lb1\n",
            "    stats socket /run/lbd.sock mode 660 level admin\n",
            "    stats socket ipv4@127.0.0.1:9999\n",
            "{}",
        ),
        cfg("listen l\n    bind :80\n    server s 127.0.0.1:80\n")
    ));
    let g = &c.global;
    assert_eq!(g.maxconn, Some(20000));
    assert_eq!(g.nbthread, Some(4));
    assert_eq!(g.pidfile.as_deref(), Some("/run/lbd.pid"));
    assert_eq!(g.hard_stop_after, Some(secs(30)));
    assert_eq!(g.spread_checks, 5);
    assert_eq!(g.bufsize, 32 * 1024);
    assert_eq!(g.max_headers, 64);
    assert_eq!(g.log_tag.as_deref(), Some("lb1"));
    let s = &g.stats_sockets;
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].path.as_str(), s[0].mode, s[0].level, s[0].loc.line),
        ("/run/lbd.sock", 0o660, StatsLevel::Admin, 12)
    );
    assert_eq!(
        (s[1].path.as_str(), s[1].mode, s[1].level),
        ("ipv4@127.0.0.1:9999", 0o600, StatsLevel::Operator)
    );
    assert!(StatsLevel::Admin > StatsLevel::Operator && StatsLevel::Operator > StatsLevel::User);
}

// ------------------------------------------------------------------ misc proxy keywords

#[test]
fn description_disabled_enabled_id() {
    let c = ok(&cfg(concat!(
        "frontend a\n",
        "    bind :80\n",
        "    description the public side\n",
        "    id 10\n",
        "    disabled\n",
        "frontend b\n",
        "    bind :81\n",
        "    disabled\n",
        "    enabled\n",
    )));
    let a = px(&c, "a");
    assert_eq!(a.description.as_deref(), Some("the public side"));
    assert!(a.disabled);
    assert!(!px(&c, "b").disabled);
}

#[test]
fn disabled_proxy_may_share_a_bind_address() {
    let c = ok(&cfg(
        "frontend a\n    bind :80\n    disabled\nfrontend b\n    bind :80\n",
    ));
    assert!(px(&c, "a").disabled);
}

#[test]
fn frontend_only_and_backend_only_keywords_warn_in_the_wrong_proxy() {
    let (c, w) = ok_warn(&cfg(concat!(
        "frontend fe\n",
        "    bind :80\n",
        "    balance leastconn\n",
        "    timeout server 5s\n",
        "backend be\n",
        "    maxconn 10\n",
        "    server s 127.0.0.1:80\n",
    )));
    assert_eq!(px(&c, "fe").balance, Balance::RoundRobin);
    assert_eq!(px(&c, "be").maxconn, None);
    assert_eq!(
        w,
        [
            "'balance' ignored because frontend 'fe' has no backend capability.",
            "'timeout server' ignored because frontend 'fe' has no backend capability.",
            "'maxconn' ignored because backend 'be' has no frontend capability.",
        ]
    );
}

#[test]
fn ignored_sections_and_keywords_warn() {
    let (_, w) = ok_warn(&format!(
        "global\n    daemon\ncache c\n    total-max-size 4\n{}",
        cfg("listen l\n    bind :80\n    option tcpka\n    server s 127.0.0.1:80 tfo\n")
    ));
    assert_eq!(
        w,
        [
            "'daemon' is not supported by lbd and is ignored.",
            "'cache' sections are not supported by lbd; section 'c' is ignored.",
            "'option tcpka' is not supported by lbd and is ignored.",
            "'server s' : 'tfo' is not supported by lbd and is ignored.",
        ]
    );
}

#[test]
fn userlists_are_checked() {
    let c = cfg(
        "frontend f\n    mode http\n    bind :80\n    http-request auth if !{ http_auth(L) }\n",
    );
    assert_eq!(
        alerts(&format!(
            "userlist L\n    group g users nobody\n    user u password plain groups g,h\n    user v frob x\n    user w insecure-password\n{c}"
        )),
        [
            "the encrypted password used for user 'u' is not supported by lbd (it takes crypt(3) hashes '$1$', '$5$', '$6$', '$2a$', '$2b$' and '$2y$').",
            "'user' only supports 'password', 'insecure-password' and 'groups' options.",
            "'insecure-password' : missing value for user 'w'.",
            "userlist 'L': no such user 'nobody' specified in group 'g'",
        ]
    );
    assert_eq!(
        alerts(&format!(
            "userlist L\n    user u insecure-password p groups h\n{c}"
        )),
        ["userlist 'L': no such group 'h' specified in user 'u'"]
    );
    let c = cfg(
        "frontend f\n    mode http\n    bind :80\n    http-request auth if !{ http_auth(M) }\n",
    );
    assert_eq!(alerts(&c).len(), 1);
    assert!(
        alerts(&c)[0].contains("unable to find userlist 'M' referenced in arg 1 of sample fetch keyword 'http_auth' in proxy 'f'"),
        "{:?}",
        alerts(&c)
    );
    let c = cfg(
        "frontend f\n    mode http\n    bind :80\n    http-request capture path id 0\n    http-response capture status id 0\n    declare capture response len 3\n    declare capture request len x\nbackend b\n    mode http\n    http-request capture path len 3\n",
    );
    let a = alerts(&c);
    assert_eq!(a.len(), 3, "{a:?}");
    assert!(a[0].contains("'declare capture ... len'"), "{a:?}");
    assert!(
        a[1].contains("proxy 'b' has no frontend capability"),
        "{a:?}"
    );
    assert!(
        a[2].contains("unable to find capture id '0' referenced by http-request capture rule"),
        "{a:?}"
    );
}

#[test]
fn refused_values_name_the_problem() {
    assert_eq!(
        alerts(&cfg(
            "backend be\n    balance random(0)\n    server s 127.0.0.1:80\n"
        )),
        ["'balance random' draws must be between 1 and 100 (got '0')"]
    );
    assert_eq!(
        alerts(&cfg("backend be\n    hash-type ring\n")),
        ["'hash-type' expects 'map-based' or 'consistent' (got 'ring')."]
    );
    assert_eq!(
        alerts(&cfg("backend be\n    stick-table type str size 1k\n")),
        ["'stick-table' : unknown type 'str'; expects 'ip', 'ipv6', 'integer', 'string' or 'binary'."]
    );
    assert_eq!(
        alerts(&cfg(
            "backend be\n    stick-table type ip size 1k store http_req_rate\n"
        )),
        ["'stick-table store' : data type 'http_req_rate' needs a period, as in 'http_req_rate(10s)'."]
    );
    assert_eq!(
        alerts(&cfg(
            "frontend fe\n    mode http\n    bind :8080\n    http-request track-sc0 src table nope\n"
        )),
        ["Proxy 'fe': unable to find table 'nope' referenced by track-sc0."]
    );
    assert_eq!(
        alerts(&cfg(
            "frontend fe\n    mode http\n    bind :8080\n    http-request track-sc0 src\n"
        )),
        ["Proxy 'fe': table 'fe' used but not configured."]
    );
    // tcp rules: tracking names a table, expect-proxy only at connection time,
    // set-src takes one expression, and connection rules have no HTTP request.
    assert_eq!(
        alerts(&cfg(
            "frontend fe\n    bind :8080\n    tcp-request connection track-sc1 src table nope\n"
        )),
        ["Proxy 'fe': unable to find table 'nope' referenced by track-sc1."]
    );
    assert_eq!(
        alerts(&cfg(
            "frontend fe\n    bind :8080\n    tcp-request content expect-proxy layer4\n"
        )),
        ["'tcp-request content expect-proxy' : only 'tcp-request connection' rules can expect a PROXY header."]
    );
    assert_eq!(
        alerts(&cfg("frontend fe\n    bind :8080\n    tcp-request session set-src\n")),
        ["'tcp-request session set-src' expects exactly one sample expression (quote it if it has spaces)."]
    );
    assert_eq!(
        alerts(&cfg(
            "frontend fe\n    mode http\n    bind :8080\n    tcp-request connection set-src req.hdr(x)\n"
        )),
        ["'tcp-request connection set-src' : fetch method 'req.hdr' needs an HTTP request, which 'tcp-request connection' rules run before."]
    );
    assert_eq!(
        alerts(&cfg(
            "backend be\n    mode http\n    option httpchk\n    http-check expect status 2xx\n"
        )),
        ["'http-check expect' : invalid character 'x' in the list of status codes."]
    );
    assert_eq!(
        alerts(&cfg(
            "frontend fe\n    mode http\n    bind :80\n    http-request return string x\n"
        )),
        ["'http-request return' : a 'content-type' is required with a body."]
    );
    assert_eq!(
        alerts(&cfg("backend be\n    server s 127.0.0.1:80 on-error explode\n")),
        ["'server s' : 'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got 'explode'."]
    );
    assert_eq!(
        alerts(&cfg(
            "backend be\n    stick on src\n    server s 127.0.0.1:80\n"
        )),
        ["Proxy 'be': 'stick' rule needs a 'stick-table' in this proxy or a 'table' argument."]
    );
}

#[test]
fn redirect_keyword_and_http_request_redirect() {
    let c = ok("defaults\n mode http\n timeout client 1s\nfrontend fe\n bind 127.0.0.1:1\n redirect scheme https code 301 if !{ ssl_fc }\n http-request redirect prefix /v2 drop-query append-slash set-cookie SEEN=1 clear-cookie OLD\n http-request redirect location /x\n");
    let rules = &px(&c, "fe").http_request;
    assert_eq!(rules.len(), 3);
    let HttpAction::Redirect(r) = &rules[0].action else {
        panic!("{:?}", rules[0])
    };
    assert_eq!(
        (r.kind, r.to.as_str(), r.code),
        (RedirectKind::Scheme, "https", 301)
    );
    let cond = rules[0].cond.as_ref().unwrap();
    assert!(cond.any_of[0][0].negate);
    assert!(matches!(&cond.any_of[0][0].acl, TermAcl::Anonymous(a) if a.expr.text() == "ssl_fc"));
    let HttpAction::Redirect(r) = &rules[1].action else {
        panic!()
    };
    assert_eq!(
        (r.kind, r.drop_query, r.append_slash),
        (RedirectKind::Prefix, true, true)
    );
    assert_eq!(
        (r.set_cookie.as_deref(), r.clear_cookie.as_deref()),
        (Some("SEEN=1"), Some("OLD"))
    );
    let HttpAction::Redirect(r) = &rules[2].action else {
        panic!()
    };
    assert_eq!((r.kind, r.code), (RedirectKind::Location, 302));
    assert!(alerts(
        "defaults\n mode http\nfrontend fe\n bind 127.0.0.1:1\n redirect scheme https code 300\n"
    )[0]
    .contains("unsupported HTTP code '300'"));
    assert!(
        alerts("defaults\n mode http\nfrontend fe\n bind 127.0.0.1:1\n redirect to /x\n")[0]
            .contains("expects 'location', 'prefix' or 'scheme'")
    );
}

/// HAProxy 2.2+'s check-request inheritance (reg-test checks/http-check-send.vtc): a
/// proxy's own `option httpchk` or `http-check send|expect` drops what `defaults` set
/// and starts again from `OPTIONS / HTTP/1.0`; `http-check send hdr` replaces the
/// headers of `option httpchk`'s old `\r\n` version trick.
#[test]
fn check_request_inheritance_follows_haproxy() {
    let (c, _) = ok_warn("defaults\n    mode http\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n    option httpchk GET /status HTTP/1.1\\r\\nHdr:\\ must-be-removed\n    http-check send hdr Host my-www-host body test\n\
                backend inherit\n    server s 127.0.0.1:80 check\n\
                backend plain\n    option httpchk\n    server s 127.0.0.1:80 check\n\
                backend own\n    http-check send hdr Host other body other\n    server s 127.0.0.1:80 check\n");
    let hc = |name: &str| http_req(px(&c, name));
    let inherit = hc("inherit");
    assert_eq!(
        (inherit.0.as_str(), inherit.1.as_str(), inherit.2.as_str()),
        ("GET", "/status", "HTTP/1.1")
    );
    assert_eq!(inherit.3, [("Host".to_string(), "my-www-host".to_string())]);
    assert_eq!(inherit.4.as_deref(), Some("test"));
    let plain = hc("plain");
    assert_eq!(
        (plain.0.as_str(), plain.1.as_str(), plain.2.as_str()),
        ("OPTIONS", "/", "HTTP/1.0")
    );
    assert!(plain.3.is_empty() && plain.4.is_none());
    let own = hc("own");
    assert_eq!(
        px(&c, "own").check.proto,
        check::CheckProto::Http,
        "option httpchk itself is inherited"
    );
    assert_eq!(
        (own.0.as_str(), own.1.as_str(), own.2.as_str()),
        ("OPTIONS", "/", "HTTP/1.0")
    );
    assert_eq!(own.3, [("Host".to_string(), "other".to_string())]);
    assert_eq!(own.4.as_deref(), Some("other"));
}

#[test]
fn proxy_v2_options() {
    let c = ok(&cfg(
        "backend be\n    server a 127.0.0.1:80 proxy-v2-options unique-id,crc32c\n",
    ));
    let s = &px(&c, "be").servers[0].settings;
    assert_eq!(s.send_proxy, Some(2), "the options imply send-proxy-v2");
    assert!(s.pp_opts.unique_id && s.pp_opts.crc32c && !s.pp_opts.authority);
    let a = alerts(&cfg(
        "backend be\n    server a 127.0.0.1:80 proxy-v2-options bogus\n",
    ));
    assert!(
        a.iter()
            .any(|l| l.contains("bad PROXY protocol v2 option 'bogus'")),
        "{a:?}"
    );
    let a = alerts(&cfg(
        "backend be\n    server a 127.0.0.1:80 proxy-v2-options ssl\n",
    ));
    assert!(a.iter().any(|l| l.contains("needs TLS")), "{a:?}");
}

#[test]
fn dispatch_is_used_without_balance_and_ignored_with_it() {
    let c = ok("defaults\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nlisten l\n bind :8080\n dispatch 127.0.0.1:8081\n");
    assert_eq!(
        px(&c, "l").dispatch,
        Some("127.0.0.1:8081".parse::<SocketAddr>().unwrap())
    );
    let (c, w) = ok_warn("defaults\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n balance roundrobin\nbackend b\n dispatch 127.0.0.1:8081\n server s 127.0.0.1:8082\n");
    assert_eq!(px(&c, "b").dispatch, None);
    assert_eq!(
        w,
        ["dispatch address of backend 'b' will be ignored in balance mode."]
    );
    assert_eq!(
        alerts("backend b\n dispatch 127.0.0.1\n"),
        ["'dispatch' : missing port number: '127.0.0.1'"]
    );
    let (_, w) =
        ok_warn("defaults\n timeout client 1s\nfrontend f\n bind :80\n dispatch 127.0.0.1:80\n");
    assert!(w.iter().any(|w| w.contains("'dispatch' ignored")), "{w:?}");
}

#[test]
fn stick_store_response_reads_the_response_only() {
    let c = ok("defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nbackend b\n stick-table type string len 32 size 10\n stick store-response res.cook(SID)\n stick match req.cook(SID)\n server s 127.0.0.1:8082\n");
    assert_eq!(px(&c, "b").stick_rules[0].kind, StickKind::StoreResponse);
    assert_eq!(
        alerts("backend b\n stick-table type string len 32 size 10\n stick store-response req.cook(SID)\n server s 127.0.0.1:8082\n"),
        ["'stick store-response' : fetch method 'req.cook' reads the request, which is not available there."]
    );
    assert_eq!(
        alerts("backend b\n stick-table type string len 32 size 10\n stick on res.cook(SID)\n server s 127.0.0.1:8082\n"),
        ["'stick on' : fetch method 'res.cook' reads the response, which is not available there."]
    );
    assert_eq!(
        alerts("defaults\n mode tcp\nbackend b\n stick-table type string len 32 size 10\n stick store-response src\n server s 127.0.0.1:8082\n"),
        ["Proxy 'b': 'stick store-response' in 'mode tcp' is not supported by lbd (it reads http responses)."]
    );
}

#[test]
fn rules_in_defaults_follow_haproxy_2_6() {
    let t = "timeout connect 1s\n timeout client 1s\n timeout server 1s\n";
    assert_eq!(
        alerts(&format!(
            "defaults\n {t} http-request set-header x 1\nlisten l\n bind :8080\n"
        )),
        ["'http-request' not allowed in anonymous 'defaults' section."]
    );
    assert_eq!(
        alerts(&format!("defaults\n {t} tcp-request inspect-delay 1s\n tcp-request content accept\nlisten l\n bind :8080\n")),
        ["'tcp-request content' not allowed in anonymous 'defaults' section."]
    );
    let d = format!("defaults d\n {t} tcp-request inspect-delay 1s\n tcp-request content accept\n");
    assert_eq!(
        alerts(&format!("{d}frontend f from d\n bind :8080\n default_backend b\nbackend b from d\n server s 127.0.0.1:80\n")),
        ["frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at t.cfg:1)."]
    );
    assert_eq!(
        alerts(&format!("{d}listen l from d\n bind :8080\n")),
        ["a listen section cannot inherit from a defaults section defining TCP/HTTP rules."]
    );
    assert_eq!(
        alerts(&format!("{d}defaults e from d\n mode tcp\n")),
        ["a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at t.cfg:1)."]
    );
    assert_eq!(
        alerts(&format!("defaults d\n {t} mode http\n http-request track-sc0 src\nbackend b from d\n stick-table type ip size 10 store http_req_rate(10s)\n server s 127.0.0.1:80\n")),
        ["'track-sc0' : a 'table' must be named in a 'defaults' section (no stick-table to track in)."]
    );
    // Named, used by backends only, with explicit names: inherited before the
    // backend's own rules.
    let (c, _) = ok_warn(&format!("defaults d\n {t} mode http\n http-request track-sc0 src table b\n http-request set-header x %[srv_conn(b/s)]\nbackend b from d\n stick-table type ip size 10 store http_req_rate(10s)\n http-request set-header y 1\n server s 127.0.0.1:80\n"));
    assert_eq!(px(&c, "b").http_request.len(), 3);
}

#[test]
fn use_server_needs_a_condition_and_a_known_server() {
    let b = "backend b\n server s 127.0.0.1:80\n";
    assert_eq!(
        alerts(&format!("{b} use-server s\n")),
        ["'use-server' requires either 'if' or 'unless' followed by a condition."]
    );
    assert_eq!(
        alerts(&format!("{b} use-server nope if TRUE\n")),
        ["backend 'b' : unable to find server 'nope' referenced in a 'use-server' rule."]
    );
    let c = ok("defaults\n timeout connect 1s\n timeout server 1s\nbackend b\n use-server s if TRUE\n server s 127.0.0.1:80\n");
    assert_eq!(px(&c, "b").use_servers[0].0, "s");
}

#[test]
fn peers_sections_are_read_and_checked() {
    let (c, w) = ok_warn(&cfg(
        "global\n    localpeer A\npeers mesh\n    bind 127.0.0.1:7001\n    server A\n    server B 127.0.0.1:7002\n    peer C 127.0.0.1:7003\n    table t type string len 16 size 10m expire 30s store gpc0,http_req_rate(10s)\n\
backend st\n    stick-table type ip size 1k store conn_cur peers mesh\n\
frontend fe\n    mode http\n    bind :80\n    http-request track-sc0 src table mesh/t\n    http-request track-sc1 src table st\n    http-request return status 200\n",
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.global.localpeer.as_deref(), Some("A"));
    let p = &c.peers[0];
    assert_eq!(p.name, "mesh");
    let names: Vec<_> = p.peers.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["A", "B", "C"]);
    assert_eq!(p.peers[0].addr, None);
    assert_eq!(p.peers[2].addr, Some("127.0.0.1:7003".parse().unwrap()));
    assert!(p.bind.is_some());
    assert_eq!(p.tables[0].0, "t");
    assert_eq!(p.tables[0].1.peers.as_deref(), Some("mesh"));
    let st = c.proxies.iter().find(|x| x.name == "st").unwrap();
    assert_eq!(
        st.stick_table.as_ref().unwrap().peers.as_deref(),
        Some("mesh")
    );
    assert_eq!(
        alerts(&cfg(
            "peers p\n    peer a\n    peer b 127.0.0.1\n    shards 2\n    log global\n    table t size 1\n\
backend st\n    stick-table type ip size 1k peers nope\n"
        )),
        [
            "'peer a' expects <addr>:<port> as an argument.",
            "'peer b' : missing port in '127.0.0.1'.",
            "unknown keyword 'shards' in 'peers' section.",
            "'log' in a 'peers' section is not supported by lbd.",
            "'table' : missing 'type'.",
            "Proxy 'st': unable to find sync peers 'nope'.",
        ]
    );
}

/// HAProxy expands `${NAME}` in server addresses and log targets even outside double
/// quotes (an unset one to nothing); an address left empty is refused.
#[test]
fn env_variables_in_addresses() {
    let (c, _) = ok_warn(
        "backend be\n    log ${LBD_UNSET_A}:${LBD_UNSET_P} local0\n    server s1 ${LBD_UNSET_A}:${LBD_UNSET_P}\n",
    );
    let s = &px(&c, "be").servers[0];
    assert_eq!(s.addr, "0.0.0.0:0".parse().unwrap());
    assert_eq!(
        alerts("backend be\n    server s1 ${LBD_UNSET_A}\n"),
        ["'server s1' : '${LBD_UNSET_A}' resolves to an empty address (environment variable missing?)"]
    );
}
