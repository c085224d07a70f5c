//! Custom access logs (`log-format`, `unique-id-format`) through the real `lbd`
//! binary, read by a UDP syslog receiver: the exact rendered lines, and byte counts
//! (`%U`, `%B`) that are the whole request and response on the wire and agree with
//! `show stat`.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use stats::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

/// A syslog receiver on 127.0.0.1.
async fn syslog() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind syslog");
    let port = s.local_addr().expect("addr").port();
    (s, port)
}

/// The next message, without its `<PRI>date host lbd[pid]: ` header.
async fn next_line(s: &UdpSocket) -> String {
    let mut buf = vec![0u8; 4096];
    let n = within(Duration::from_secs(5), "a syslog message", s.recv(&mut buf))
        .await
        .expect("recv");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let (_, line) = text.split_once("]: ").expect("syslog header");
    line.to_string()
}

/// Sends `raw` on a new connection and reads until the server closes.
async fn exchange(port: u16, raw: &[u8]) -> Vec<u8> {
    let mut c = connect(port, None).await;
    c.write_all(raw).await.expect("write");
    let mut got = Vec::new();
    within(
        Duration::from_secs(5),
        "the response",
        c.read_to_end(&mut got),
    )
    .await
    .expect("read");
    got
}

#[tokio::test]
async fn http_line_unique_id_and_byte_counts_are_exact() {
    let a = HttpOrigin::start("a").await;
    let (log, log_port) = syslog().await;
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} mode 600 level admin\n{HTTP_DEFAULTS}\
frontend fe\n    bind 127.0.0.1:@FE@\n    log 127.0.0.1:{log_port} local0\n\
    unique-id-format %{{+X}}o\\ ID-%[req.hdr(x-n)]\n    unique-id-header x-uid\n\
    log-format \"%ci %ft %b/%s %ST %B %U %HM %HPO %HQ %HV %{{+Q}}r %ts %tsc %rc %sq/%bq [%[req.hdr(x-n)]] id=%ID %{{+Q}}[req.hdr(nope)] %[req.hdr(nope)]  end\"\n\
    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    let req = b"GET /p/q?x=1 HTTP/1.1\r\nhost: lbd.test\r\nx-n: 42\r\nconnection: close\r\n\r\n";
    let resp = exchange(lb.port, req).await;
    assert!(resp.starts_with(b"HTTP/1.1 200"), "{resp:?}");
    let line = next_line(&log).await;
    assert_eq!(
        line,
        format!(
            "127.0.0.1 fe web/a 200 {} {} GET /p/q ?x=1 HTTP/1.1 \"GET /p/q?x=1 HTTP/1.1\" -- ---- 0 0/0 [42] id=ID-42 \"\" - end",
            resp.len(),
            req.len()
        )
    );
    // The server and the frontend count the same bytes as the log.
    let text = cli_until(&sock, "show stat", |t| {
        Csv::parse(t).num("web", "a", "bout") > 0
    })
    .await;
    let csv = Csv::parse(&text);
    for (px, sv) in [("fe", "FRONTEND"), ("web", "a"), ("web", "BACKEND")] {
        assert_eq!(csv.num(px, sv, "bin"), req.len() as u64, "{px}/{sv} bin");
        assert_eq!(csv.num(px, sv, "bout"), resp.len() as u64, "{px}/{sv} bout");
    }
}

#[tokio::test]
async fn httplog_and_tcplog_are_their_haproxy_formats() {
    let a = HttpOrigin::start("a").await;
    let mut echo = TcpOrigin::start(TcpMode::Echo).await;
    let (log, log_port) = syslog().await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}    log 127.0.0.1:{log_port} local0\n\
frontend fe\n    bind 127.0.0.1:@FE@\n    option httplog\n    default_backend web\n\
backend web\n    server a {}\n\
listen t\n    mode tcp\n    bind 127.0.0.1:@FE2@\n    log-format \"%ft %b/%s %U %B %ts %Tc/%Tt>=0:%[str(ok)]\"\n    server e {}\n",
        a.hostport(),
        echo.hostport()
    ))
    .await;
    let req = b"GET /x HTTP/1.1\r\nhost: lbd.test\r\nconnection: close\r\n\r\n";
    let resp = exchange(lb.port, req).await;
    let line = next_line(&log).await;
    // %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(words.len(), 15, "{line}");
    assert!(words[0].starts_with("127.0.0.1:"), "{line}");
    assert!(
        words[1].starts_with('[') && words[1].ends_with(']'),
        "{line}"
    );
    assert_eq!(&words[2..4], ["fe", "web/a"], "{line}");
    let timers: Vec<i64> = words[4].split('/').map(|t| t.parse().unwrap()).collect();
    assert_eq!(timers.len(), 5, "{line}");
    assert!(timers.iter().all(|&t| t >= 0), "{line}");
    assert_eq!(words[5], "200");
    assert_eq!(words[6], resp.len().to_string());
    assert_eq!(
        &words[7..12],
        ["-", "-", "----", "1/1/1/1/0", "0/0"],
        "{line}"
    );
    assert_eq!(words[12..].join(" "), "\"GET /x HTTP/1.1\"");

    // tcp: 100 bytes each way, a normal close.
    let mut c = connect(lb.port2, None).await;
    c.write_all(&[7u8; 100]).await.unwrap();
    c.shutdown().await.unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), 100);
    let line = next_line(&log).await;
    let (head, tail) = line.split_once(' ').unwrap();
    assert_eq!(head, "t");
    let (fixed, timers) = tail.rsplit_once(' ').unwrap();
    assert_eq!(fixed, "t/e 100 100 --");
    assert!(timers.ends_with(">=0:ok"), "{line}");
    echo.stop().await;
}

#[test]
fn bad_formats_are_refused_with_their_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin
                .take()
                .unwrap()
                .write_all(b"frontend fe\n    bind :0\n    log-format %Tx\n")?;
            ch.wait_with_output()
        })
        .expect("run lbd -c");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(":3] : 'log-format' : no such format variable 'Tx'"),
        "{err}"
    );
}

/// `last_rule_file` / `last_rule_line`: the rule that ended its rule set last (a
/// `tcp-request content accept`, then an `http-request deny`), none for a request no
/// final rule met; in tcp mode too. A denied request keeps its connection, as in
/// HAProxy.
#[tokio::test]
async fn last_rule_names_the_rule_that_decided() {
    let a = HttpOrigin::start("a").await;
    let mut echo = TcpOrigin::start(TcpMode::Echo).await;
    let (log, log_port) = syslog().await;
    let cfg = format!(
        "{HTTP_DEFAULTS}    log 127.0.0.1:{log_port} local0\n    log-format \"lr=%[last_rule_file]:%[last_rule_line]\"\n\
frontend fe\n    bind 127.0.0.1:@FE@\n\
    tcp-request content accept if {{ path_beg /acc }}\n\
    http-request set-var(txn.x) str(x)\n\
    http-request deny if {{ path_end /deny }}\n\
    default_backend web\n\
backend web\n    server a {}\n\
listen t\n    mode tcp\n    bind 127.0.0.1:@FE2@\n    tcp-request content accept\n    server e {}\n",
        a.hostport(),
        echo.hostport()
    );
    let line_of = |needle: &str| cfg.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let lb = Lbd::start(&cfg).await;
    let file = lb.config_path().to_string_lossy().into_owned();
    let mut c = KeepAlive::connect(lb.port).await;
    assert_eq!(c.get("/pass").await.status, 200);
    assert_eq!(next_line(&log).await, "lr=-:-");
    assert_eq!(c.get("/acc").await.status, 200);
    let accept = line_of("tcp-request content accept if");
    assert_eq!(next_line(&log).await, format!("lr={file}:{accept}"));
    assert_eq!(c.get("/acc/deny").await.status, 403);
    let deny = line_of("http-request deny");
    assert_eq!(next_line(&log).await, format!("lr={file}:{deny}"));
    // The same connection serves the next request.
    assert_eq!(c.get("/pass").await.status, 200);
    assert_eq!(next_line(&log).await, "lr=-:-");

    let mut t = connect(lb.port2, None).await;
    t.write_all(b"hi").await.unwrap();
    t.shutdown().await.unwrap();
    let mut back = Vec::new();
    t.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"hi");
    let accept = cfg
        .lines()
        .position(|l| l == "    tcp-request content accept")
        .unwrap()
        + 1;
    assert_eq!(next_line(&log).await, format!("lr={file}:{accept}"));
    echo.stop().await;
}
