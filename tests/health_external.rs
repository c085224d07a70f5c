//! External checks (`option external-check`): the program's arguments and variables,
//! exit status 0 passing and any other failing, a program killed at its time limit,
//! and the configuration errors of HAProxy 2.6.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(5);

/// The variables the `report` script writes, one `NAME=value` line each.
const VARS: &[&str] = &[
    "PATH",
    "HAPROXY_PROXY_ADDR",
    "HAPROXY_PROXY_ID",
    "HAPROXY_PROXY_NAME",
    "HAPROXY_PROXY_PORT",
    "HAPROXY_SERVER_ADDR",
    "HAPROXY_SERVER_CURCONN",
    "HAPROXY_SERVER_ID",
    "HAPROXY_SERVER_MAXCONN",
    "HAPROXY_SERVER_NAME",
    "HAPROXY_SERVER_PORT",
    "HAPROXY_SERVER_SSL",
    "HAPROXY_SERVER_PROTO",
    // Set by cargo for the test, inherited by lbd: seen with `preserve-env` only.
    "CARGO_PKG_NAME",
];

/// Writes an executable shell script `name` in `dir`.
fn script(dir: &Scratch, name: &str, body: &str) -> String {
    let path = dir.file(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A script that writes its arguments and [`VARS`] to `out` (atomically) and exits 0.
fn report(dir: &Scratch) -> (String, String) {
    let out = dir.file("out");
    let mut body = "{\n  echo \"args: $*\"\n".to_string();
    for v in VARS {
        body.push_str(&format!("  echo \"{v}=${v}\"\n"));
    }
    body.push_str(&format!("}} > {out}.tmp && mv {out}.tmp {out}\nexit 0"));
    (script(dir, "report.sh", &body), out)
}

fn check_line(srv: &str, result: &str, reason: &str, status: &str) -> String {
    warning(&format!(
        "Health check for server {srv} {result}, reason: {reason}, check duration: Nms, status: {status}."
    ))
}

/// The passing program sees HAProxy's arguments and variables; the failing one takes
/// its server DOWN with its exit code; the one that outlives `timeout connect` (with
/// `timeout check` set) is killed and fails on a timeout.
#[tokio::test]
async fn external_checks_pass_fail_and_time_out() {
    let dir = Scratch::new("external");
    let (ok, out) = report(&dir);
    script(&dir, "bad.sh", "exit 1");
    let sig = script(&dir, "sig.sh", "kill -KILL $$");
    let slow = script(&dir, "slow.sh", "sleep 10\nexit 0");
    let srv = ClosedPort::new();
    let lbd = Lbd::start(&format!(
        "global
    external-check
{TCP_DEFAULTS}    option log-health-checks
listen ok
    bind 127.0.0.1:@FE@
    option external-check
    external-check command {ok}
    server s1 127.0.0.1:{port} check inter 1s maxconn 7
backend bad
    option external-check
    external-check path /bin:/usr/bin
    external-check command bad.sh
    external-check path {dir}
    server s1 127.0.0.1:{port} check inter 1s fall 2
backend sig
    option external-check
    external-check command {sig}
    server s1 127.0.0.1:{port} check inter 1s
backend gone
    option external-check
    external-check command no-such-check.sh
    server s1 127.0.0.1:{port} check inter 1s
backend slow
    option external-check
    external-check command {slow}
    timeout check 100ms
    timeout connect 300ms
    server s1 127.0.0.1:{port} check inter 2s fall 1
",
        port = srv.port,
        dir = dir.path.display(),
    ))
    .await;

    // A passing program: one line (the first result is news), the server stays UP.
    let passed = "External check passed, code: 0";
    wait_line(
        &lbd,
        &check_line("ok/s1", "succeeded", passed, "3/3 UP"),
        STEP,
    )
    .await;
    let seen = std::fs::read_to_string(&out).expect("the program ran");
    let want = format!(
        "args: 127.0.0.1 {fe} 127.0.0.1 {port}
PATH=/bin:/usr/bin
HAPROXY_PROXY_ADDR=127.0.0.1
HAPROXY_PROXY_ID=1
HAPROXY_PROXY_NAME=ok
HAPROXY_PROXY_PORT={fe}
HAPROXY_SERVER_ADDR=127.0.0.1
HAPROXY_SERVER_CURCONN=0
HAPROXY_SERVER_ID=1
HAPROXY_SERVER_MAXCONN=7
HAPROXY_SERVER_NAME=s1
HAPROXY_SERVER_PORT={port}
HAPROXY_SERVER_SSL=0
HAPROXY_SERVER_PROTO=tcp
CARGO_PKG_NAME=
",
        fe = lbd.port,
        port = srv.port,
    );
    assert_eq!(seen, want);

    // A failing program (found through `external-check path`, the last one wins):
    // from the starting health (`rise`), one failure takes the server DOWN.
    let error = "External check error, code: 1";
    wait_line(
        &lbd,
        &check_line("bad/s1", "failed", error, "0/2 DOWN"),
        STEP,
    )
    .await;
    wait_line(
        &lbd,
        &warning("Server bad/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        STEP,
    )
    .await;

    // Killed by a signal: code -1.
    let killed = "External check error, code: -1";
    wait_line(
        &lbd,
        &check_line("sig/s1", "failed", killed, "0/2 DOWN"),
        STEP,
    )
    .await;
    // Not found in PATH: HAProxy's child reports the failed exec and exits with -1.
    let gone = "External check error, code: 255";
    wait_line(
        &lbd,
        &check_line("gone/s1", "failed", gone, "0/2 DOWN"),
        STEP,
    )
    .await;
    let exec =
        "Failed to exec process for external health check: No such file or directory. Aborting.";
    wait_line(&lbd, &alert(exec), STEP).await;

    // A program still running at min(inter, timeout connect): SIGTERM, a timeout
    // with the previous code (none yet: 0).
    let started = std::time::Instant::now();
    let tout = "External check timeout, code: 0";
    wait_line(
        &lbd,
        &check_line("slow/s1", "failed", tout, "0/2 DOWN"),
        STEP,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "killed long before the script's 10 s"
    );
    assert_eq!(lines_with(&lbd, "ok/s1").len(), 1, "{:?}", lines(&lbd));
}

/// `preserve-env` keeps lbd's environment, the check's variables (PATH included)
/// replacing lbd's; a backend without `bind` gets `NOT_USED` arguments and empty
/// proxy variables.
#[tokio::test]
async fn preserve_env_keeps_the_environment() {
    let dir = Scratch::new("external-env");
    let (ok, out) = report(&dir);
    let srv = ClosedPort::new();
    let lbd = Lbd::start(&format!(
        "global
    external-check preserve-env
{HTTP_DEFAULTS}frontend fe
    bind 127.0.0.1:@FE@
    default_backend be
backend be
    option external-check
    external-check command {ok}
    external-check path /usr/bin:/bin
    server s1 127.0.0.1:{port} check inter 1s
",
        port = srv.port,
    ))
    .await;
    wait_until(STEP, "the program ran", || {
        std::path::Path::new(&out).exists()
    })
    .await;
    let seen = std::fs::read_to_string(&out).expect("output");
    let want = format!(
        "args: NOT_USED NOT_USED 127.0.0.1 {port}
PATH=/usr/bin:/bin
HAPROXY_PROXY_ADDR=
HAPROXY_PROXY_ID=2
HAPROXY_PROXY_NAME=be
HAPROXY_PROXY_PORT=
HAPROXY_SERVER_ADDR=127.0.0.1
HAPROXY_SERVER_CURCONN=0
HAPROXY_SERVER_ID=1
HAPROXY_SERVER_MAXCONN=0
HAPROXY_SERVER_NAME=s1
HAPROXY_SERVER_PORT={port}
HAPROXY_SERVER_SSL=0
HAPROXY_SERVER_PROTO=h1
CARGO_PKG_NAME={pkg}
",
        port = srv.port,
        pkg = env!("CARGO_PKG_NAME"),
    );
    assert_eq!(seen, want);
    drop(lbd);
}

/// `lbd -c` on `text`: exit code and normalised stderr lines.
fn check_config(tag: &str, text: &str) -> (i32, Vec<String>) {
    let dir = Scratch::new(tag);
    let cfg = dir.file("t.cfg");
    std::fs::write(&cfg, text).expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f", &cfg])
        .output()
        .expect("run lbd -c");
    let err = norm(&String::from_utf8_lossy(&out.stderr)).replace(&cfg, "t.cfg");
    (
        out.status.code().unwrap_or(-1),
        err.lines().map(str::to_string).collect(),
    )
}

/// `lbd -c` alerts: the line errors, then (on a file that parses) what is missing.
#[test]
fn configuration_errors_in_haproxy_words() {
    let at = |line: u32, msg: &str| alert(&format!("config : parsing [t.cfg:{line}] : {msg}"));
    let fatal = alert("config : Fatal errors found in configuration.");
    let (code, err) = check_config(
        "external-cfg",
        &format!(
            "global
    external-check yes
{TCP_DEFAULTS}backend b
    option external-check
    external-check nope x
    external-check path
    external-check command a b
    server s1 127.0.0.1:80 check
"
        ),
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        [
            at(
                2,
                "'external-check' only supports 'preserve-env' as an argument, found 'yes'."
            ),
            at(
                10,
                "'external-check' only supports 'command' and 'path'. but got 'nope'."
            ),
            at(11, "missing argument after 'path'."),
            at(
                12,
                "'external-check' cannot handle unexpected argument 'b'."
            ),
            fatal.clone(),
        ]
    );

    let missing = |px: &str, what: &str| {
        alert(&format!(
            "config : Proxy '{px}' : 'option external-check' unable to find required '{what}'."
        ))
    };
    let (code, err) = check_config(
        "external-missing",
        &format!(
            "{TCP_DEFAULTS}backend b
    option external-check
    server s1 127.0.0.1:80 check
backend c
    option external-check
    external-check command /bin/true
    server s1 127.0.0.1:80 check
"
        ),
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        [
            missing("b", "global.external-check"),
            missing("b", "external-check command"),
            missing("c", "global.external-check"),
            fatal,
        ]
    );
}
