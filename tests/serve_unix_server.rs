//! Servers on unix socket addresses through the real `lbd` binary: `server s1 /path`,
//! `unix@path` and `abns@NAME` in http mode (a hyper origin), in tcp mode (an echo
//! origin), their connect checks (UP on a listening socket, DOWN on a missing one),
//! and `ssl` over a unix stream to lbd's own `bind unix@... ssl`.

mod common;
#[path = "common/tls.rs"]
mod tls;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory for socket files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let n = SEQ.fetch_add(1, SeqCst);
        let d = std::env::temp_dir().join(format!("lbd-us-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An HTTP/1 origin on a unix listener answering `name` to every request.
fn http_origin(l: UnixListener, name: &'static str) {
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(move |_req| async move {
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(name))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
}

/// An echo origin on a unix listener.
fn echo_origin(l: UnixListener) {
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
}

/// A unix listener on `abns@NAME`, as HAProxy and lbd form the address.
fn abns_listener(name: &str) -> UnixListener {
    use std::os::linux::net::SocketAddrExt;
    let mut n = name.as_bytes().to_vec();
    n.resize(107, 0);
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(n).unwrap();
    let l = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    l.set_nonblocking(true).unwrap();
    UnixListener::from_std(l).unwrap()
}

/// `/path` and `unix@path` servers in http mode, balanced round-robin, and a
/// connect check that keeps them UP while a missing socket goes DOWN.
#[tokio::test]
async fn http_mode_reaches_unix_path_servers_and_checks_them() {
    let dir = Scratch::new("http");
    let (a, b) = (dir.path("a.sock"), dir.path("b.sock"));
    http_origin(UnixListener::bind(&a).unwrap(), "a");
    http_origin(UnixListener::bind(&b).unwrap(), "b");
    let missing = dir.path("missing.sock");
    let lbd = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\n\
         backend web\n    server a {a} check inter 100ms\n    server b unix@{b} check inter 100ms\n\
         \x20   server gone unix@{missing} check inter 100ms fall 1\n"
    ))
    .await;
    lbd.wait_for_log("Server web/gone is DOWN, reason: Layer4 connection problem")
        .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = get(lbd.port, "/").await;
        assert_eq!(r.status, 200);
        seen.push(r.body);
    }
    seen.sort();
    assert_eq!(seen, ["a", "a", "b", "b"]);
    let err = lbd.stderr();
    assert!(
        !err.contains("web/a is DOWN") && !err.contains("web/b is DOWN"),
        "{err}"
    );
}

/// An `abns@NAME` server in tcp mode: its connect check passes, it relays both ways,
/// and the log shows its address as `unix`.
#[tokio::test]
async fn tcp_mode_relays_to_an_abstract_socket_server() {
    let name = format!("lbd-us-echo-{}", std::process::id());
    echo_origin(abns_listener(&name));
    let lbd = Lbd::start(&format!(
        "global\n    log stderr format raw local0\n{TCP_DEFAULTS}listen t\n    bind 127.0.0.1:@FE@\n\
         \x20   log global\n    log-format \"srv=%si:%sp from=%bi:%bp\"\n\
         \x20   server e abns@{name} check inter 100ms init-state down rise 1\n"
    ))
    .await;
    lbd.wait_for_log("Server t/e is UP, reason: Layer4 check passed")
        .await;
    let mut c = connect(lbd.port, None).await;
    within(DEADLINE, "echo", async {
        c.write_all(b"ping over abns").await.unwrap();
        c.shutdown().await.unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"ping over abns");
    })
    .await;
    // HAProxy's words for unix addresses: `unix`, port 0.
    lbd.wait_for_log("srv=unix:0 from=unix:0").await;
}

/// `server ... ssl verify none` over a unix stream to lbd's own `bind unix@... ssl`
/// (the pattern of HAProxy's ssl reg-tests).
#[tokio::test]
async fn ssl_server_over_a_unix_stream() {
    let dir = Scratch::new("tls");
    let sock = dir.path("tls.sock");
    let lbd = Lbd::start(&format!(
        "{HTTP_DEFAULTS}listen tls\n    bind unix@{sock} ssl crt {crt}\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"tls=%[ssl_fc]\"\n\
         frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\n\
         backend web\n    server s1 unix@{sock} ssl verify none\n",
        crt = tls::data("www.example.test.pem")
    ))
    .await;
    let r = get(lbd.port, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "tls=1"));
}

/// Unix server addresses are checked as a bind's are.
#[test]
fn bad_unix_server_addresses_are_refused() {
    let long = "x".repeat(120);
    for (addr, msg) in [
        ("unix@", "empty unix socket path"),
        ("abns@", "empty abstract socket name in 'abns@'"),
        (&format!("/{long}")[..], "too long (max 107)"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
            .args(["-c", "-f", "/dev/stdin"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                let cfg = format!("{}backend b\n    server s {addr}\n", HTTP_DEFAULTS);
                c.stdin.take().unwrap().write_all(cfg.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(msg), "{addr}: {err}");
    }
}
