//! `tcp-check` rulesets and the protocol checks built on them (redis, smtp, mysql,
//! ssl-hello), and `http-check expect hdr` / `send-state`, end to end: the real `lbd`
//! binary checks fake servers the test runs on 127.0.0.1; the tests assert the bytes
//! the servers receive and HAProxy's exact `Health check for server ...` lines.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const STEP: Duration = Duration::from_secs(5);

type Handler =
    Arc<dyn Fn(usize, TcpStream) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync>;

/// A fake server: each connection runs `handler` (with the behaviour `mode` selects);
/// what it read is kept.
struct Fake {
    port: u16,
    mode: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    async fn start(handler: Handler) -> Fake {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mode = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (m, s) = (mode.clone(), seen.clone());
        let task = tokio::spawn(async move {
            while let Ok((c, _)) = l.accept().await {
                let (h, m, s) = (handler.clone(), m.clone(), s.clone());
                tokio::spawn(async move {
                    let got = h(m.load(SeqCst), c).await;
                    s.lock().unwrap().push(got);
                });
            }
        });
        Fake {
            port,
            mode,
            seen,
            task,
        }
    }

    /// What the connections read so far (waits for the first one).
    async fn seen(&self) -> Vec<Vec<u8>> {
        let s = self.seen.clone();
        wait_until(STEP, "a connection to the fake server", move || {
            !s.lock().unwrap().is_empty()
        })
        .await;
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads exactly `n` bytes (fewer if the peer closes first).
async fn read_n(c: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match c.read(&mut buf[got..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    buf.truncate(got);
    buf
}

/// A backend `be` with `lines` and server `s1` on `port` checked every 100ms.
fn config(lines: &str, port: u16) -> String {
    let mut c = format!("{TCP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n    option log-health-checks\n");
    for l in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    c.push_str(&format!(
        "    server s1 127.0.0.1:{port} check inter 100ms rise 1 fall 1\n"
    ));
    c
}

fn line(text: &str) -> String {
    warning(&format!("Health check for server be/s1 {text}"))
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn redis_check_sends_ping_and_reports_the_error_line() {
    let fake = Fake::start(Arc::new(|mode, mut c| {
        Box::pin(async move {
            let got = read_n(&mut c, 14).await;
            let reply: &[u8] = if mode == 0 {
                b"+PONG\r\n"
            } else {
                b"-ERR busy loading\r\n"
            };
            let _ = c.write_all(reply).await;
            got
        })
    }))
    .await;
    let lbd = Lbd::start(&config("option redis-check", fake.port)).await;
    wait_line(&lbd, &line("succeeded, reason: Layer7 check passed, code: 0, info: \"Redis server is ok\", check duration: Nms, status: 1/1 UP."), STEP).await;
    assert_eq!(fake.seen().await[0], b"*1\r\n$4\r\nPING\r\n");
    fake.mode.store(1, SeqCst);
    wait_line(&lbd, &line("failed, reason: Layer7 wrong status, code: 0, info: \"-ERR busy loading\", check duration: Nms, status: 0/1 DOWN."), STEP).await;
}

/// A pure tcp-check names the step, the pattern and the comment of the failing rule.
#[tokio::test]
async fn tcp_check_failures_name_the_step() {
    let fake = Fake::start(Arc::new(|mode, mut c| {
        Box::pin(async move {
            let got = read_n(&mut c, 6).await;
            let reply: &[u8] = if mode == 0 {
                b"+PONG\r\n"
            } else {
                b"+NOPE\r\n"
            };
            let _ = c.write_all(reply).await;
            // Linger so that the check decides on the data, not on the close.
            tokio::time::sleep(Duration::from_millis(300)).await;
            got
        })
    }))
    .await;
    let lbd = Lbd::start(&config(
        "option tcp-check
         tcp-check connect
         tcp-check send PING\\r\\n
         tcp-check expect string +PONG comment pong-wanted",
        fake.port,
    ))
    .await;
    wait_line(&lbd, &line("succeeded, reason: Layer7 check passed, code: 0, info: \"(tcp-check)\", check duration: Nms, status: 1/1 UP."), STEP).await;
    assert_eq!(fake.seen().await[0], b"PING\r\n");
    fake.mode.store(1, SeqCst);
    // The expect waits for more data until the check times out (no min-recv).
    wait_line(&lbd, &line("failed, reason: Layer7 timeout, info: \" at step 3 of tcp-check (expect string '+PONG') comment: 'pong-wanted'\", check duration: Nms, status: 0/1 DOWN."), STEP).await;
}

#[tokio::test]
async fn tcp_check_min_recv_decides_and_a_second_connect_names_its_port() {
    let fake = Fake::start(Arc::new(|_, mut c| {
        Box::pin(async move {
            let _ = c.write_all(b"+NOPE\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            Vec::new()
        })
    }))
    .await;
    let lbd = Lbd::start(&config(
        "option tcp-check
         tcp-check expect min-recv 5 string +PONG",
        fake.port,
    ))
    .await;
    wait_line(&lbd, &line("failed, reason: Layer7 invalid response, info: \"TCPCHK did not match content '+PONG' at step 1\", check duration: Nms, status: 0/1 DOWN."), STEP).await;
    drop(lbd);
    let closed = ClosedPort::new();
    let lbd = Lbd::start(&config(
        &format!(
            "option tcp-check
             tcp-check connect
             tcp-check connect port {}",
            closed.port
        ),
        fake.port,
    ))
    .await;
    wait_line(&lbd, &line(&format!("failed, reason: Layer4 connection problem, info: \"Connection refused at step 2 of tcp-check (connect port {})\", check duration: Nms, status: 0/1 DOWN.", closed.port)), STEP).await;
}

#[tokio::test]
async fn smtpchk_greets_with_ehlo_and_reports_the_code() {
    let fake = Fake::start(Arc::new(|mode, mut c| {
        Box::pin(async move {
            if mode == 1 {
                let _ = c.write_all(b"421 Try again later\r\n").await;
                return Vec::new();
            }
            let _ = c.write_all(b"220 mx.example.org ESMTP\r\n").await;
            let got = read_n(&mut c, 18).await;
            let _ = c
                .write_all(b"250-mx.example.org\r\n250 SIZE 1000\r\n")
                .await;
            got
        })
    }))
    .await;
    let lbd = Lbd::start(&config("option smtpchk EHLO example.org", fake.port)).await;
    wait_line(&lbd, &line("succeeded, reason: Layer7 check passed, code: 250, info: \"mx.example.org\", check duration: Nms, status: 1/1 UP."), STEP).await;
    assert_eq!(fake.seen().await[0], b"EHLO example.org\r\n");
    fake.mode.store(1, SeqCst);
    wait_line(&lbd, &line("failed, reason: Layer7 wrong status, code: 421, info: \"Try again later\", check duration: Nms, status: 0/1 DOWN."), STEP).await;
}

#[tokio::test]
async fn mysql_check_logs_in_and_reads_the_version_or_the_error() {
    let handshake = unhex("4A0000000A382E302E3139000A0000006F3C025E6249410D00FFFFFF0200FFC715000000000000000000007C182159106E2761144322200063616368696E675F736861325F70617373776F726400");
    let fake = Fake::start(Arc::new(move |mode, mut c| {
        let hs = handshake.clone();
        Box::pin(async move {
            let _ = c.write_all(&hs).await;
            let got = read_n(&mut c, 47).await;
            let reply = if mode == 0 {
                unhex("0700000200000002000000")
            } else {
                unhex("15000002FFE304")
                    .into_iter()
                    .chain(b"Access denied here".iter().copied())
                    .collect()
            };
            let _ = c.write_all(&reply).await;
            got
        })
    }))
    .await;
    let lbd = Lbd::start(&config("option mysql-check user user", fake.port)).await;
    wait_line(&lbd, &line("succeeded, reason: Layer7 check passed, code: 0, info: \"8.0.19\", check duration: Nms, status: 1/1 UP."), STEP).await;
    // The 4.1 client authentication packet, then COM_QUIT.
    assert_eq!(
        fake.seen().await[0],
        unhex("2600000100820000008000012100000000000000000000000000000000000000000000007573657200000100000001")
    );
    fake.mode.store(1, SeqCst);
    wait_line(&lbd, &line("failed, reason: Layer7 wrong status, code: 1251, info: \"Access denied here\", check duration: Nms, status: 0/1 DOWN."), STEP).await;
}

/// `option ssl-hello-chk`: an SSLv3 CLIENT HELLO; a handshake record back passes at
/// layer 6, anything else is an invalid layer-6 response.
#[tokio::test]
async fn ssl_hello_chk_sends_a_client_hello_and_wants_a_tls_record() {
    let fake = Fake::start(Arc::new(|mode, mut c| {
        Box::pin(async move {
            let got = read_n(&mut c, 5 + 0x79).await;
            let reply: &[u8] = if mode == 0 {
                &[0x16, 0x03, 0x01, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00]
            } else {
                b"SSH-2.0-OpenSSH_9.6\r\n"
            };
            let _ = c.write_all(reply).await;
            got
        })
    }))
    .await;
    let lbd = Lbd::start(&config("option ssl-hello-chk", fake.port)).await;
    wait_line(
        &lbd,
        &line("succeeded, reason: Layer6 check passed, check duration: Nms, status: 1/1 UP."),
        STEP,
    )
    .await;
    let hello = &fake.seen().await[0];
    assert_eq!(hello.len(), 5 + 0x79);
    assert_eq!(&hello[..11], &unhex("16 0300 0079 01 000075 0300")[..]);
    assert_eq!(&hello[15..43], b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n");
    assert_eq!(&hello[43..46], &[0x00, 0x00, 0x4E]);
    assert_eq!(&hello[hello.len() - 2..], &[0x01, 0x00]);
    fake.mode.store(1, SeqCst);
    wait_line(
        &lbd,
        &line("failed, reason: Layer6 invalid response, check duration: Nms, status: 0/1 DOWN."),
        STEP,
    )
    .await;
}

/// `http-check send-state` and `expect hdr`: the server sees its state; a missing
/// header fails with the status line's reason.
#[tokio::test]
async fn http_check_send_state_and_expect_hdr() {
    let fake = Fake::start(Arc::new(|mode, mut c| {
        Box::pin(async move {
            let mut got = Vec::new();
            let mut b = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                }
            }
            let hdr = if mode == 0 {
                "x-ready: yes, really\r\n"
            } else {
                ""
            };
            let _ = c
                .write_all(format!("HTTP/1.1 200 OK\r\n{hdr}content-length: 0\r\n\r\n").as_bytes())
                .await;
            got
        })
    }))
    .await;
    let lbd = Lbd::start(&config(
        "option httpchk GET /ready
         http-check send-state
         http-check expect status 200
         http-check expect hdr name x-ready value -m beg yes",
        fake.port,
    ))
    .await;
    wait_line(&lbd, &line("succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/1 UP."), STEP).await;
    let req = String::from_utf8(fake.seen().await[0].clone()).unwrap();
    assert!(req.starts_with("GET /ready HTTP/1.0\r\n"), "{req}");
    let state = req
        .lines()
        .find_map(|l| l.strip_prefix("x-haproxy-server-state: "))
        .unwrap_or_else(|| panic!("no state header in {req}"));
    assert!(state.starts_with("UP; address=127.0.0.1; port="), "{state}");
    assert!(state.contains("; name=be/s1; "), "{state}");
    fake.mode.store(1, SeqCst);
    wait_line(&lbd, &line("failed, reason: Layer7 wrong status, code: 200, info: \"OK\", check duration: Nms, status: 0/1 DOWN."), STEP).await;
}

/// http-check.vtc's backend be4 without its h2 parts: several connect/send/expect
/// sequences, `set-var`/`unset-var`, `uri-lf`, `body-lf`, `hdr` values with samples.
#[tokio::test]
async fn http_check_sequences_with_variables() {
    let fake = Fake::start(Arc::new(|_, mut c| {
        Box::pin(async move {
            let mut got = Vec::new();
            let mut b = [0u8; 1024];
            loop {
                let head_end = got.windows(4).position(|w| w == b"\r\n\r\n");
                if let Some(p) = head_end {
                    let head = String::from_utf8_lossy(&got[..p]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= p + 4 + len {
                        break;
                    }
                }
                match c.read(&mut b).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                }
            }
            let _ = c
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
            got
        })
    }))
    .await;
    let port = fake.port;
    let lbd = Lbd::start(&config(
        &format!(
            "option httpchk
             http-check connect addr 127.0.0.1:{port}
             http-check set-var(check.server) \"str(srv)\"
             http-check set-var(check.path) \"str(/req1)\"
             http-check send meth GET uri-lf \"%[var(check.path)]\" ver HTTP/1.1 hdr x-test \"server=%[var(check.server)]\"
             http-check expect status 200
             http-check connect addr 127.0.0.1 port {port}
             http-check unset-var(check.server)
             http-check set-var(check.path) \"str(/req2)\"
             http-check send meth GET uri-lf \"%[var(check.path)]\" ver HTTP/1.1 hdr x-test \"server=%[var(check.server)]\" body \"health-check body\"
             http-check expect rstatus \"^2[0-9]{{2}}\"
             http-check connect addr 127.0.0.1 port {port}
             http-check unset-var(check.path)
             http-check send meth GET uri-lf \"%[var(check.path)]\" body-lf \"health-check on %[be_name]-%[srv_name]\""
        ),
        1,
    ))
    .await;
    wait_line(&lbd, &line("succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/1 UP."), STEP).await;
    let s = fake.seen.clone();
    wait_until(STEP, "three requests", move || s.lock().unwrap().len() >= 3).await;
    let mut reqs: Vec<String> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .take(3)
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    reqs.sort();
    assert!(reqs[0].starts_with("GET / HTTP/1.0\r\n"), "{reqs:?}");
    assert!(
        reqs[0].ends_with("\r\n\r\nhealth-check on be-s1"),
        "{reqs:?}"
    );
    assert!(!reqs[0].contains("x-test"), "{reqs:?}");
    assert!(
        reqs[1].starts_with("GET /req1 HTTP/1.1\r\nx-test: server=srv\r\n"),
        "{reqs:?}"
    );
    assert!(
        reqs[2].starts_with("GET /req2 HTTP/1.1\r\nx-test: server=\r\n"),
        "{reqs:?}"
    );
    assert!(reqs[2].ends_with("\r\n\r\nhealth-check body"), "{reqs:?}");
}
