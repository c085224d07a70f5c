//! Golden tests for `lbd -c`: bad (and a few good) configurations run through the real
//! binary, comparing the exit code and every stderr line exactly (the pid is replaced by
//! `PID`). Each test writes its files into its own temporary directory and runs the
//! binary from there, so messages read `parsing [t.cfg:N]`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, unique per process and call.
fn scratch(tag: &str) -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lbd-golden-{}-{n}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Replaces the pid in `[LABEL]    (1234) : ...` with `PID`.
fn normalise(line: &str) -> String {
    if let (Some(open), Some(close)) = (line.find('('), line.find(')')) {
        if line.starts_with('[')
            && open < close
            && close > open + 1
            && line[open + 1..close].bytes().all(|b| b.is_ascii_digit())
        {
            return format!("{}(PID){}", &line[..open], &line[close + 1..]);
        }
    }
    line.to_string()
}

struct Run {
    code: i32,
    stderr: Vec<String>,
    stdout: String,
}

/// Writes `files` into a scratch directory and runs `lbd ARGS` there.
fn run_files(tag: &str, files: &[(&str, &str)], args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = scratch(tag);
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&path, text).expect("write config");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbd"));
    cmd.args(args).current_dir(&dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run lbd");
    let _ = std::fs::remove_dir_all(&dir);
    let code = match out.status.code() {
        Some(c) => c,
        None => panic!("lbd was killed by a signal: {:?}", out.status),
    };
    Run {
        code,
        stderr: String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(normalise)
            .collect(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// `lbd -c -f t.cfg` on one text.
fn check(tag: &str, text: &str) -> Run {
    run_files(tag, &[("t.cfg", text)], &["-c", "-f", "t.cfg"], &[])
}

fn alert(line: u32, msg: &str) -> String {
    format!("[ALERT]    (PID) : config : parsing [t.cfg:{line}] : {msg}")
}

fn warning(line: u32, msg: &str) -> String {
    format!("[WARNING]  (PID) : config : parsing [t.cfg:{line}] : {msg}")
}

const FATAL: &str = "[ALERT]    (PID) : config : Fatal errors found in configuration.";
const WARNINGS_FOUND: &str = "[WARNING]  (PID) : config : Warnings were found.";
const NO_LISTENER: &str = "[ALERT]    (PID) : config : Configuration file has no listener: nothing would accept connections.";

/// The four lines of HAProxy's missing-timeouts warning.
fn missing_timeouts(line: u32, what: &str) -> Vec<String> {
    vec![
        warning(line, &format!("missing timeouts for {what}.")),
        "   | While not properly invalid, you will certainly encounter various problems".into(),
        "   | with such a configuration. To fix this, please ensure that all following".into(),
        "   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.".into(),
    ]
}

#[track_caller]
fn expect(run: &Run, code: i32, lines: &[String]) {
    assert_eq!(
        run.stderr, lines,
        "stderr differs (exit code {}, stdout {:?})",
        run.code, run.stdout
    );
    assert_eq!(run.code, code, "exit code; stderr: {:#?}", run.stderr);
}

/// A valid preamble: timeouts set, so no missing-timeouts warning (5 lines).
const DEFAULTS: &str = "defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
";

fn with_defaults(rest: &str) -> String {
    format!("{DEFAULTS}{rest}")
}

// ---------------------------------------------------------------- keywords

#[test]
fn unknown_keyword_suggests_the_closest_one() {
    let r = check(
        "blance",
        &with_defaults("backend web\n    blance roundrobin\n    server s1 127.0.0.1:8080\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                7,
                "unknown keyword 'blance' in 'backend' section; did you mean 'balance' maybe ?",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn unknown_keyword_without_a_close_match_has_no_suggestion() {
    let r = check(
        "nosuggest",
        &with_defaults("frontend fe\n    bind :8080\n    frobnicate 12\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(8, "unknown keyword 'frobnicate' in 'frontend' section"),
            FATAL.into(),
        ],
    );
}

#[test]
fn unknown_keyword_out_of_section() {
    let r = check("outofsection", "frobnicate\nfrontent web\n");
    expect(
        &r,
        1,
        &[
            alert(1, "unknown keyword 'frobnicate' out of section."),
            alert(
                2,
                "unknown keyword 'frontent' out of section; did you mean 'frontend' maybe ?",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn unknown_option_and_timeout_names_suggest() {
    let r = check(
        "option",
        &with_defaults(
            "backend web\n    option redispach\n    timeout conect 5s\n    server s1 127.0.0.1:80\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(7, "unknown option 'redispach'; did you mean 'redispatch' maybe ?"),
            alert(8, "'timeout' supports 'connect', 'client', 'server', 'http-request', 'http-keep-alive', 'queue', 'tunnel', 'check', 'client-fin', 'server-fin', 'tarpit' (got 'conect'); did you mean 'connect' maybe ?"),
            FATAL.into(),
        ],
    );
}

// ---------------------------------------------------------------- line rules

#[test]
fn unmatched_quote_reports_its_position() {
    let r = check(
        "quote",
        "global\n    log \"/dev/log local0\nfrontend fe\n    bind ':80\n",
    );
    expect(
        &r,
        1,
        &[
            alert(2, "unmatched quote at position 9"),
            alert(4, "unmatched quote at position 10"),
            FATAL.into(),
        ],
    );
}

#[test]
fn bad_hex_escape_is_reported() {
    let r = check(
        "hex",
        &with_defaults("frontend fe\n    bind :80\n    description a\\xZZ\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "truncated or invalid hexadecimal sequence at position 18",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn hash_starts_a_comment_even_inside_a_word() {
    // `check#weight 999` is `check` then a comment: the weight never reaches the parser.
    let r = check(
        "hash",
        &with_defaults(
            "listen web\n    bind :8080 # public\n    server s1 127.0.0.1:80 check#weight 999\n",
        ),
    );
    expect(&r, 0, &[]);
    // Escaped, the `#` is part of the word.
    let r = check(
        "hash-escaped",
        &with_defaults("listen web\n    bind :8080\n    server s1 127.0.0.1:80 check\\#x\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "'server s1' unknown keyword 'check#x'; did you mean 'check' maybe ?",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn env_expansion_with_defaults_only_inside_double_quotes() {
    let text = with_defaults(concat!(
        "listen web\n",
        "    bind \"${LBD_GOLDEN_UNSET_ADDR-127.0.0.1}\"\n",
        "    server s1 127.0.0.1:80 weight \"${LBD_GOLDEN_WEIGHT-1}\"\n",
        "    server s2 127.0.0.1:81 weight $LBD_GOLDEN_WEIGHT\n",
        "    server s3 127.0.0.1:82 weight '${LBD_GOLDEN_WEIGHT}'\n",
    ));
    let r = run_files(
        "env",
        &[("t.cfg", &text)],
        &["-c", "-f", "t.cfg"],
        &[("LBD_GOLDEN_WEIGHT", "300")],
    );
    expect(
        &r,
        1,
        &[
            // The default applies because the variable is unset.
            alert(7, "'bind 127.0.0.1' : missing port number: '127.0.0.1'"),
            // The variable is set: its value wins over the default.
            alert(
                8,
                "'server s1' : 'weight' must be between 0 and 256 (got '300')",
            ),
            // Unquoted and single-quoted text is not expanded.
            alert(
                9,
                "'server s2' : 'weight' expects an integer argument (got '$LBD_GOLDEN_WEIGHT')",
            ),
            alert(
                10,
                "'server s3' : 'weight' expects an integer argument (got '${LBD_GOLDEN_WEIGHT}')",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn env_expansion_makes_a_valid_config() {
    let text = with_defaults(
        "listen web\n    bind \"127.0.0.1:${LBD_GOLDEN_PORT-8081}\"\n    server s1 \"${LBD_GOLDEN_SRV}:80\"\n",
    );
    let r = run_files(
        "env-ok",
        &[("t.cfg", &text)],
        &["-c", "-V", "-f", "t.cfg"],
        &[("LBD_GOLDEN_SRV", "127.0.0.2")],
    );
    expect(&r, 0, &[]);
    assert_eq!(r.stdout, "Configuration file is valid\n");
}

#[test]
fn control_characters_in_echoed_words_stay_on_one_line() {
    let r = check(
        "ctrl",
        &with_defaults(
            "frontend fe\n    bind :80\n    http-request return status 200 content-type text/plain lf-string \"a\\n%[nosuch]\"\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(8, "'http-request return' : failed to parse sample expression <nosuch> : unknown fetch method 'nosuch'."),
            FATAL.into(),
        ],
    );
}

#[test]
fn section_keywords_may_be_indented() {
    let r = run_files(
        "indent",
        &[(
            "t.cfg",
            "  global\n    maxconn 100\n    defaults\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\n\t\tlisten web\n bind :8080\n server s1 127.0.0.1:80\n",
        )],
        &["-c", "-V", "-f", "t.cfg"],
        &[],
    );
    expect(&r, 0, &[]);
    assert_eq!(r.stdout, "Configuration file is valid\n");
}

#[test]
fn version_tests_answer_as_2_8() {
    let r = check(
        "version",
        &with_defaults(concat!(
            "listen web\n",
            "    bind :8080\n",
            ".if version_atleast(2.9)\n",
            "    frobnicate\n",
            ".elif version_atleast(2.8)\n",
            "    server s1 127.0.0.1:80\n",
            ".else\n",
            "    frobnicate\n",
            ".endif\n",
            ".if version_before(2.6)\n",
            "    frobnicate\n",
            ".endif\n",
        )),
    );
    expect(&r, 0, &[]);
}

// ---------------------------------------------------------------- values

#[test]
fn log_format_in_header_values() {
    let r = check(
        "logformat",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    http-request set-header X-Client %ci\n",
            "    http-request set-header X-Host %[req.hdr(host)]\n",
            "    http-request set-header X-Load 50%\n",
            "    http-request set-header X-Ok 50%%\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(
                10,
                "'http-request set-header' : a literal '%' must be written '%%' (in '50%').",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn bad_time_value() {
    let r = check(
        "time",
        &with_defaults(
            "backend web\n    timeout connect 5x\n    timeout server 30d\n    server s1 127.0.0.1:80 inter 0\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(7, "'timeout connect' : unexpected character in time value '5x'"),
            alert(8, "'timeout server' : timer overflow in argument '30d' (maximum value is 2147483647 ms or ~24.8 days)"),
            alert(9, "'server s1' : 'inter' must be greater than zero."),
            FATAL.into(),
        ],
    );
}

#[test]
fn weight_out_of_range() {
    let r = check(
        "weight",
        &with_defaults("backend web\n    server s1 127.0.0.1:80 weight 257\n    server s2 127.0.0.1:81 weight 256\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                7,
                "'server s1' : 'weight' must be between 0 and 256 (got '257')",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn bad_ports() {
    let r = check(
        "port",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :99999\n",
            "    bind :0\n",
            "    bind 10.0.0.1\n",
            "    bind :90-80\n",
            "backend web\n",
            "    server s1 127.0.0.1:99999\n",
            "    server s2 127.0.0.1:http\n",
            "    server s3 127.0.0.1:80 port 70000\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(7, "'bind :99999' : invalid port range '99999' in ':99999'"),
            alert(8, "'bind :0' : invalid port range '0' in ':0'"),
            alert(9, "'bind 10.0.0.1' : missing port number: '10.0.0.1'"),
            alert(10, "'bind :90-80' : invalid port range '90-80' in ':90-80'"),
            alert(
                12,
                "'server s1' : invalid port '99999' in server address '127.0.0.1:99999'",
            ),
            alert(
                13,
                "'server s2' : invalid port 'http' in server address '127.0.0.1:http'",
            ),
            alert(
                14,
                "'server s3' : 'port' must be between 1 and 65535 (got '70000')",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn placeholder_server_address() {
    let r = check(
        "placeholder",
        &with_defaults("backend web\n    server s1 <ip>:80\n    server s2 {{backend_ip}}:80\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                7,
                "'server s1' : '<ip>' looks like an unfilled placeholder, not an address",
            ),
            alert(
                8,
                "'server s2' : '{{backend_ip}}' looks like an unfilled placeholder, not an address",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn unresolvable_hostname() {
    // The resolver's own words follow the address; they depend on the system, so only
    // the part lbd writes is compared exactly.
    let r = run_files(
        "resolve",
        &[(
            "t.cfg",
            &with_defaults("backend web\n    server s1 no-such-host.invalid:80\n"),
        )],
        &["-c", "-f", "t.cfg"],
        // Keep an unanswered DNS query from taking glibc's default 5s.
        &[("RES_OPTIONS", "timeout:1 attempts:1")],
    );
    assert_eq!(r.code, 1, "{:#?}", r.stderr);
    assert_eq!(r.stderr.len(), 2, "{:#?}", r.stderr);
    let want = alert(
        7,
        "'server web/s1' : could not resolve address 'no-such-host.invalid'",
    );
    assert!(
        r.stderr[0].starts_with(&want),
        "{:?} should start with {want:?}",
        r.stderr[0]
    );
    assert_eq!(r.stderr[1], FATAL);
}

// ---------------------------------------------------------------- names

#[test]
fn duplicate_server_name() {
    let r = check(
        "dupserver",
        &with_defaults("backend web\n    server s1 127.0.0.1:80\n    server s1 127.0.0.1:81\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "backend 'web' : duplicate server name 's1' (first defined at line 7).",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn duplicate_backend_name() {
    let r = check(
        "dupbackend",
        &with_defaults(
            "backend web\n    server s1 127.0.0.1:80\nbackend web\n    server s2 127.0.0.1:81\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "backend 'web' has the same name as backend 'web' declared at t.cfg:6.",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn frontend_and_backend_may_share_a_name_but_listen_may_not() {
    let r = check(
        "listenname",
        &with_defaults(concat!(
            "frontend web\n",
            "    bind :8080\n",
            "    default_backend web\n",
            "backend web\n",
            "    server s1 127.0.0.1:80\n",
            "listen web\n",
            "    bind :8081\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(
                11,
                "listen 'web' has the same name as frontend 'web' declared at t.cfg:6.",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn listen_conflicting_with_backend_name() {
    let r = check(
        "listenbe",
        &with_defaults("backend app\n    server s1 127.0.0.1:80\nlisten app\n    bind :8080\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "listen 'app' has the same name as backend 'app' declared at t.cfg:6.",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn bad_proxy_names() {
    let r = check(
        "badname",
        &with_defaults("backend we/b\nfrontend\nlisten a b c\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                6,
                "character '/' is not permitted in 'backend' name 'we/b'.",
            ),
            alert(7, "'frontend' expects <name> as an argument."),
            alert(8, "'listen a': unexpected argument 'b'"),
            FATAL.into(),
        ],
    );
}

// ---------------------------------------------------------------- references

#[test]
fn undefined_default_backend() {
    let r = check(
        "nodefbe",
        &with_defaults("frontend fe\n    bind :8080\n    default_backend nowhere\n"),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "Proxy 'fe': unable to find required default_backend: 'nowhere'.",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn undefined_use_backend_with_suggestion() {
    let r = check(
        "nousebe",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    acl is_api path_beg /api\n",
            "    use_backend apii if is_api\n",
            "    default_backend api\n",
            "backend api\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(
                9,
                "Proxy 'fe': unable to find required use_backend: 'apii'; did you mean 'api' maybe ?",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn undefined_acl_in_use_backend() {
    let r = check(
        "noacl",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    acl is_api path_beg /api\n",
            "    use_backend api if is_apl\n",
            "    use_backend api if is_admin\n",
            "    use_backend api if is_api or\n",
            "backend api\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(9, "error detected while parsing switching rule : no such ACL : 'is_apl'; did you mean 'is_api' maybe ?"),
            alert(10, "error detected while parsing switching rule : no such ACL : 'is_admin'"),
            alert(11, "error detected while parsing switching rule : condition ends with 'or'"),
            FATAL.into(),
        ],
    );
}

#[test]
fn acl_must_be_declared_before_use() {
    let r = check(
        "aclorder",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    use_backend api if is_api\n",
            "    acl is_api path_beg /api\n",
            "backend api\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(
                8,
                "error detected while parsing switching rule : no such ACL : 'is_api'",
            ),
            FATAL.into(),
        ],
    );
}

#[test]
fn http_frontend_using_tcp_backend() {
    let r = check(
        "modemismatch",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    default_backend db\n",
            "backend db\n",
            "    mode tcp\n",
            "    server s1 127.0.0.1:5432\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(8, "http frontend 'fe' (t.cfg:6) tries to use incompatible tcp backend 'db' (t.cfg:9) in a 'default_backend' rule (see 'mode')."),
            FATAL.into(),
        ],
    );
}

#[test]
fn tcp_frontend_may_use_http_backend() {
    let r = check(
        "tcp-http",
        &with_defaults(concat!(
            "frontend fe\n",
            "    mode tcp\n",
            "    bind :8080\n",
            "    default_backend web\n",
            "backend web\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(&r, 0, &[]);
}

#[test]
fn http_acl_in_tcp_frontend() {
    let r = check(
        "tcpacl",
        &with_defaults(concat!(
            "frontend fe\n",
            "    mode tcp\n",
            "    bind :8080\n",
            "    acl is_api path_beg /api\n",
            "    use_backend web if is_api\n",
            "backend web\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(10, "acl 'is_api' uses 'path_beg', which needs 'mode http'; frontend 'fe' is in 'mode tcp' so this 'use_backend' rule could never match."),
            FATAL.into(),
        ],
    );
}

#[test]
fn unknown_and_unsupported_acl_fetches() {
    let r = check(
        "fetch",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    acl a hdr_bg(host) example.com\n",
            "    acl b frobnicate x\n",
            "    acl c ssl_fc_session_id example.com\n",
            "    acl d path -m reg ^/x\n",
            "    acl e path\n",
            "    acl f hdr(host),lower example.com\n",
            "    acl g sc_get_gpt(0,0) gt 10\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(8, "error detected while parsing ACL 'a' : unknown fetch method 'hdr_bg' in ACL expression 'hdr_bg(host)'; did you mean 'hdr_beg' maybe ?"),
            alert(9, "error detected while parsing ACL 'b' : unknown fetch method 'frobnicate' in ACL expression 'frobnicate'"),
            alert(10, "error detected while parsing ACL 'c' : fetch method 'ssl_fc_session_id' is not supported by lbd"),
            alert(12, "error detected while parsing ACL 'e' : no pattern to match"),
            alert(14, "error detected while parsing ACL 'g' : fetch method 'sc_get_gpt' is not supported by lbd"),
            FATAL.into(),
        ],
    );
}

#[test]
fn one_address_bound_by_two_proxies() {
    let r = check(
        "sharedbind",
        &with_defaults(concat!(
            "listen a\n",
            "    bind :8080\n",
            "    server s1 127.0.0.1:80\n",
            "listen b\n",
            "    bind 0.0.0.0:8080\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(10, "listen 'b' binds 0.0.0.0:8080 which listen 'a' already binds at t.cfg:7; lbd cannot share one address between proxies."),
            FATAL.into(),
        ],
    );
}

// ---------------------------------------------------------------- known keywords

#[test]
fn unsupported_keywords_are_alerts() {
    let r = check(
        "unsupported",
        &with_defaults(concat!(
            "global\n",
            "    lua-load /etc/haproxy/x.lua\n",
            "frontend fe\n",
            "    bind :8443 ssl crt /etc/ssl/site.pem ecdhe\n",
            "    http-request cache-use c\n",
            "    rate-limit sessions 10\n",
            "    email-alert mailers m\n",
            "    compression algo gzip\n",
            "    http-request set-path /x\n",
            "    option forwarded\n",
            "    default_backend web\n",
            "backend web\n",
            "    server s1 127.0.0.1:443 npn h2\n",
            "    server s2 127.0.0.1:80 resolve-opts allow-dup-ip\n",
            "    option transparent\n",
            "    balance rdp-cookie\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(7, "'lua-load' is not supported by lbd."),
            alert(9, "'bind :8443' : 'ecdhe' is not supported by lbd."),
            alert(10, "'http-request cache-use' is not supported by lbd."),
            alert(11, "'rate-limit' is not supported by lbd."),
            alert(12, "'email-alert' is not supported by lbd."),
            alert(13, "'compression' is not supported by lbd."),
            alert(15, "'option forwarded' is not supported by lbd."),
            alert(18, "'server s1' : 'npn' is not supported by lbd."),
            alert(19, "'server s2' : 'resolve-opts' is not supported by lbd."),
            alert(20, "'option transparent' is not supported by lbd."),
            alert(21, "'balance rdp-cookie' is not supported by lbd."),
            FATAL.into(),
        ],
    );
}

#[test]
fn harmless_keywords_are_warnings() {
    let r = check(
        "harmless",
        &format!(
            "global\n    chroot /var/lib/haproxy\n    user haproxy\n    group haproxy\n    daemon\n    stats timeout 30s\n    tune.ssl.default-dh-param 2048\n    httpclient.ssl.verify none\n{}",
            with_defaults("listen web\n    bind :8080\n    option clitcpka\n    server s1 127.0.0.1:80\n"),
        ),
    );
    expect(
        &r,
        0,
        &[
            warning(2, "'chroot' is not supported by lbd and is ignored."),
            warning(3, "'user' is not supported by lbd and is ignored."),
            warning(4, "'group' is not supported by lbd and is ignored."),
            warning(5, "'daemon' is not supported by lbd and is ignored."),
            warning(6, "'stats timeout' is not supported by lbd and is ignored."),
            warning(
                7,
                "'tune.ssl.default-dh-param' is not supported by lbd and is ignored.",
            ),
            warning(
                8,
                "'httpclient.ssl.verify' is not supported by lbd and is ignored.",
            ),
            warning(
                16,
                "'option clitcpka' is not supported by lbd and is ignored.",
            ),
            WARNINGS_FOUND.into(),
        ],
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn quiet_mode_hides_warnings() {
    let r = run_files(
        "quiet",
        &[(
            "t.cfg",
            &format!(
                "global\n    daemon\n{}",
                with_defaults("listen web\n    bind :8080\n    server s1 127.0.0.1:80\n")
            ),
        )],
        &["-c", "-q", "-f", "t.cfg"],
        &[],
    );
    expect(&r, 0, &[]);
}

#[test]
fn removed_keywords_name_their_replacement() {
    let r = check(
        "removed",
        &with_defaults(concat!(
            "frontend fe\n",
            "    bind :8080\n",
            "    reqrep ^Host:\\ foo Host:\\ bar\n",
            "    block if TRUE\n",
            "    rspidel ^Server:.*\n",
            "backend web\n",
            "    contimeout 5000\n",
            "    redispatch\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(8, "'reqrep' : This directive is not supported anymore since HAProxy 2.1. Use 'http-request' instead."),
            alert(9, "'block' : The 'block' directive is not supported anymore since HAProxy 2.2. Use 'http-request deny' which uses the exact same syntax."),
            alert(10, "'rspidel' : This directive is not supported anymore since HAProxy 2.1. Use 'http-response' instead."),
            alert(12, "'contimeout' : This directive is not supported anymore since HAProxy 2.1. Use 'timeout connect' instead."),
            alert(13, "'redispatch' : This directive is not supported anymore since HAProxy 2.1. Use 'option redispatch' instead."),
            FATAL.into(),
        ],
    );
}

#[test]
fn keywords_in_the_wrong_section() {
    let r = check(
        "wrongsection",
        &with_defaults(concat!(
            "    bind :80\n",
            "frontend fe\n",
            "    bind :8080\n",
            "    server s1 127.0.0.1:80\n",
            "    balance leastconn\n",
            "backend web\n",
            "    use_backend web\n",
            "    server s1 127.0.0.1:80\n",
        )),
    );
    expect(
        &r,
        1,
        &[
            alert(6, "'bind' not allowed in 'defaults' section."),
            alert(9, "'server' not allowed in 'frontend' section."),
            warning(
                10,
                "'balance' ignored because frontend 'fe' has no backend capability.",
            ),
            alert(12, "'use_backend' not allowed in 'backend' section."),
            FATAL.into(),
        ],
    );
}

// ---------------------------------------------------------------- whole runs

#[test]
fn several_errors_are_reported_in_one_run_in_order() {
    let r = check(
        "several",
        concat!(
            "global\n",
            "    maxconn ten\n",
            "    chroot /var/empty\n",
            "defaults\n",
            "    mode htp\n",
            "    timeout client 10q\n",
            "frontend fe\n",
            "    bind :8080 foo\n",
            "    acl a path_beg\n",
            "    default_backend web\n",
            "backend web\n",
            "    blance roundrobin\n",
            "    server s1 127.0.0.1:80 weight -1\n",
            "    server s2 127.0.0.1:80 rise 0\n",
            "    server s2 127.0.0.1:81\n",
            "    server s3 127.0.0.1:82 check inter\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(2, "'maxconn' expects an integer argument (got 'ten')"),
            warning(3, "'chroot' is not supported by lbd and is ignored."),
            alert(5, "unknown proxy mode 'htp'; did you mean 'http' maybe ?"),
            alert(
                6,
                "'timeout client' : unexpected character in time value '10q'",
            ),
            alert(8, "'bind :8080' unknown keyword 'foo'"),
            alert(
                9,
                "error detected while parsing ACL 'a' : no pattern to match",
            ),
            alert(
                12,
                "unknown keyword 'blance' in 'backend' section; did you mean 'balance' maybe ?",
            ),
            alert(
                13,
                "'server s1' : 'weight' expects an integer argument (got '-1')",
            ),
            alert(
                14,
                "'server s2' : 'rise' must be between 1 and 1000000 (got '0')",
            ),
            alert(16, "'server s3' : 'inter' expects an argument."),
            FATAL.into(),
        ],
    );
}

#[test]
fn too_many_errors_stop_at_fifty() {
    let mut text = String::from("frontend fe\n    bind :8080\n");
    for _ in 0..60 {
        text.push_str("    frobnicate\n");
    }
    let r = check("toomany", &text);
    assert_eq!(r.code, 1);
    let mut want: Vec<String> = (3..=52)
        .map(|l| alert(l, "unknown keyword 'frobnicate' in 'frontend' section"))
        .collect();
    want.push(alert(52, "too many errors (50), aborting."));
    want.push(FATAL.into());
    expect(&r, 1, &want);
}

#[test]
fn a_stats_socket_alone_is_a_listener() {
    let dir = std::env::temp_dir().join(format!("lbd-golden-sock-{}", std::process::id()));
    let cfg = format!(
        "global\n    stats socket {}/s.sock\n{}",
        dir.display(),
        with_defaults("backend web\n    server s1 127.0.0.1:80\n")
    );
    let r = check("sockonly", &cfg);
    expect(&r, 0, &[]);
}

#[test]
fn no_bind_exits_2() {
    let r = check(
        "nobind",
        &with_defaults("backend web\n    server s1 127.0.0.1:80\n"),
    );
    expect(&r, 2, &[NO_LISTENER.into()]);
}

#[test]
fn missing_timeouts_warning() {
    let r = check(
        "timeouts",
        concat!(
            "frontend fe\n",
            "    mode http\n",
            "    bind :8080\n",
            "    default_backend web\n",
            "backend web\n",
            "    mode http\n",
            "    timeout connect 5s\n",
            "    server s1 127.0.0.1:80\n",
            "listen ok\n",
            "    bind :8081\n",
            "    timeout client 5s\n",
            "    timeout connect 5s\n",
            "    timeout server 5s\n",
            "    server s1 127.0.0.1:80\n",
        ),
    );
    let mut want = missing_timeouts(1, "frontend 'fe'");
    want.extend(missing_timeouts(5, "backend 'web'"));
    want.push(WARNINGS_FOUND.into());
    expect(&r, 0, &want);
}

#[test]
fn verbose_check_says_valid() {
    let r = run_files(
        "verbose",
        &[(
            "t.cfg",
            &with_defaults("listen web\n    bind :8080\n    server s1 127.0.0.1:80 check\n"),
        )],
        &["-c", "-V", "-f", "t.cfg"],
        &[],
    );
    expect(&r, 0, &[]);
    assert_eq!(r.stdout, "Configuration file is valid\n");
    // Without -V a valid check prints nothing at all.
    let r = check(
        "silent",
        &with_defaults("listen web\n    bind :8080\n    server s1 127.0.0.1:80 check\n"),
    );
    expect(&r, 0, &[]);
    assert_eq!(r.stdout, "");
}

#[test]
fn directory_loads_cfg_files_in_byte_order() {
    // Byte order: "10-b" < "9-a" < "A-x" < "a-y"; "z.conf" is not a *.cfg file.
    let r = run_files(
        "dir",
        &[
            ("conf.d/9-a.cfg", "frobnicate9\n"),
            ("conf.d/10-b.cfg", "frobnicate10\n"),
            ("conf.d/a-y.cfg", "frobnicatea\n"),
            ("conf.d/A-x.cfg", "frobnicateA\n"),
            ("conf.d/z.conf", "frobnicatez\n"),
        ],
        &["-c", "-f", "conf.d"],
        &[],
    );
    let line = |f: &str, w: &str| {
        format!("[ALERT]    (PID) : config : parsing [conf.d/{f}:1] : unknown keyword '{w}' out of section.")
    };
    expect(
        &r,
        1,
        &[
            line("10-b.cfg", "frobnicate10"),
            line("9-a.cfg", "frobnicate9"),
            line("A-x.cfg", "frobnicateA"),
            line("a-y.cfg", "frobnicatea"),
            FATAL.into(),
        ],
    );
}

#[test]
fn directory_files_form_one_configuration() {
    // Sections do not continue across files, but names do: the frontend in one file
    // uses the backend of another.
    let r = run_files(
        "dir-ok",
        &[
            ("conf.d/00-defaults.cfg", DEFAULTS),
            (
                "conf.d/10-fe.cfg",
                "frontend fe\n    bind :8080\n    default_backend web\n",
            ),
            (
                "conf.d/20-be.cfg",
                "backend web\n    server s1 127.0.0.1:80\n",
            ),
            ("conf.d/30-more.cfg", "    server s2 127.0.0.1:81\n"),
        ],
        &["-c", "-f", "conf.d"],
        &[],
    );
    expect(
        &r,
        1,
        &[
            "[ALERT]    (PID) : config : parsing [conf.d/30-more.cfg:1] : unknown keyword 'server' out of section.".into(),
            FATAL.into(),
        ],
    );
}

#[test]
fn missing_file() {
    let r = run_files("missing", &[], &["-c", "-f", "nosuch.cfg"], &[]);
    expect(
        &r,
        1,
        &[
            "[ALERT]    (PID) : config : Could not open configuration file nosuch.cfg : No such file or directory".into(),
            FATAL.into(),
        ],
    );
}

#[test]
fn named_defaults_and_from() {
    let r = check(
        "from",
        concat!(
            "defaults web\n",
            "    mode http\n",
            "    timeout connect 5s\n",
            "    timeout client 5s\n",
            "    timeout server 5s\n",
            "defaults raw\n",
            "    mode tcp\n",
            "    timeout connect 5s\n",
            "    timeout client 5s\n",
            "    timeout server 5s\n",
            // `from web`: http, although `raw` is the last defaults.
            "frontend fe from web\n",
            "    bind :8080\n",
            "    default_backend db\n",
            // No `from`: the last defaults (tcp), so the http frontend cannot use it.
            "backend db\n",
            "    server s1 127.0.0.1:5432\n",
            "backend x from nosuch\n",
            "defaults again from raw extra\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(16, "'backend x': unable to find defaults section 'nosuch'"),
            alert(17, "'defaults again': unexpected argument 'extra'"),
            FATAL.into(),
        ],
    );
    let r = check(
        "from2",
        concat!(
            "defaults web\n",
            "    mode http\n",
            "    timeout connect 5s\n",
            "    timeout client 5s\n",
            "    timeout server 5s\n",
            "defaults raw\n",
            "    mode tcp\n",
            "    timeout connect 5s\n",
            "    timeout client 5s\n",
            "    timeout server 5s\n",
            "frontend fe from web\n",
            "    bind :8080\n",
            "    default_backend db\n",
            "backend db\n",
            "    server s1 127.0.0.1:5432\n",
        ),
    );
    expect(
        &r,
        1,
        &[
            alert(13, "http frontend 'fe' (t.cfg:11) tries to use incompatible tcp backend 'db' (t.cfg:14) in a 'default_backend' rule (see 'mode')."),
            FATAL.into(),
        ],
    );
}

#[test]
fn legacy_listen_address_is_a_bind() {
    let r = run_files(
        "legacy",
        &[(
            "t.cfg",
            &with_defaults("listen web 127.0.0.1:8080\n    server s1 127.0.0.1:80\n"),
        )],
        &["-c", "-V", "-f", "t.cfg"],
        &[],
    );
    expect(&r, 0, &[]);
    assert_eq!(r.stdout, "Configuration file is valid\n");
}
