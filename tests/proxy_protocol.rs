//! Receiving the PROXY protocol (`bind ... accept-proxy`, `tcp-request connection
//! expect-proxy layer4`) through the real binary: the header's addresses in fetches,
//! acls, log lines and the PROXY header lbd sends to a server; v2 TLVs; refused,
//! truncated and late headers closing the connection with HAProxy's log line.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes `bytes` (when the peer accepts them) and reads until it closes.
async fn exchange(port: u16, bytes: &[u8], shut: bool) -> String {
    let mut s = connect(port, None).await;
    let _ = s.write_all(bytes).await;
    if shut {
        let _ = s.shutdown().await;
    }
    let mut out = Vec::new();
    within(DEADLINE, "read to the end", async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

const SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 PROXY header for TCP over IPv4, with `tlvs` (type, value).
fn v2(cmd: u8, src: [u8; 4], dst: [u8; 4], ports: (u16, u16), tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&src);
    body.extend_from_slice(&dst);
    body.extend_from_slice(&ports.0.to_be_bytes());
    body.extend_from_slice(&ports.1.to_be_bytes());
    for (t, v) in tlvs {
        body.push(*t);
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
    }
    let mut h = SIG.to_vec();
    h.push(0x20 | cmd);
    h.push(0x11);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&body);
    h
}

const HTTP: &str = "global
    log stderr format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 1s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@ accept-proxy name pp
    http-request set-var(txn.lan) str(yes) if { src 192.168.0.0/16 }
    http-request return status 200 content-type text/plain lf-string \"src=%[src]:%[src_port] dst=%[dst]:%[dst_port] fc=%[fc_src] pp=%[fc_rcvd_proxy] lan=%[var(txn.lan)] auth=%[fc_pp_authority] uid=%[fc_pp_unique_id]\"
";

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn accept_proxy_v1_and_v2_replace_the_client_everywhere() {
    let lb = Lbd::start(HTTP).await;
    let mut v1 = b"PROXY TCP4 192.168.1.5 10.0.0.1 5555 80\r\n".to_vec();
    v1.extend_from_slice(REQ);
    let r = exchange(lb.port, &v1, false).await;
    assert!(
        r.contains("src=192.168.1.5:5555 dst=10.0.0.1:80 fc=192.168.1.5 pp=1 lan=yes auth= uid="),
        "{r}"
    );
    lb.wait_for_log("192.168.1.5:5555 [").await;

    let mut six = b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n".to_vec();
    six.extend_from_slice(REQ);
    let r = exchange(lb.port, &six, false).await;
    assert!(
        r.contains("src=2001:db8::7:40000 dst=2001:db8::1:443"),
        "{r}"
    );

    let mut h = v2(
        1,
        [10, 1, 2, 3],
        [10, 9, 9, 9],
        (1234, 8080),
        &[(2, b"example.com"), (5, b"req-42")],
    );
    h.extend_from_slice(REQ);
    let r = exchange(lb.port, &h, false).await;
    assert!(
        r.contains(
            "src=10.1.2.3:1234 dst=10.9.9.9:8080 fc=10.1.2.3 pp=1 lan= auth=example.com uid=req-42"
        ),
        "{r}"
    );

    // The LOCAL command keeps the real addresses (and still counts as a header).
    let mut local = v2(0, [10, 1, 2, 3], [10, 9, 9, 9], (1, 2), &[]);
    local.extend_from_slice(REQ);
    let r = exchange(lb.port, &local, false).await;
    assert!(r.contains("src=127.0.0.1:"), "{r}");
    assert!(r.contains(" pp=1 "), "{r}");
    let mut unknown = b"PROXY UNKNOWN\r\n".to_vec();
    unknown.extend_from_slice(REQ);
    assert!(exchange(lb.port, &unknown, false)
        .await
        .contains("src=127.0.0.1:"));
}

#[tokio::test]
async fn hostile_headers_close_the_connection_with_haproxy_log_lines() {
    let lb = Lbd::start(HTTP).await;
    let cases: &[(&[u8], bool, &str)] = &[
        (
            REQ,
            false,
            "Received something which does not look like a PROXY protocol header",
        ),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
            false,
            "Received an invalid PROXY protocol header",
        ),
        (
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            false,
            "Received an unhandled protocol in the PROXY protocol header",
        ),
        // Cut, then the client shuts its side.
        (
            b"PROXY TCP4 1.2.3.4 5.6",
            true,
            "Truncated PROXY protocol header received",
        ),
        (&SIG[..7], true, "Truncated PROXY protocol header received"),
        // Binary garbage after a v2 signature, and a line that never ends.
        (
            &[SIG, &[0x21, 0x11, 0xff, 0xff]].concat(),
            true,
            "Truncated",
        ),
        (
            &[b"PROXY TCP4 ".as_slice(), &[b'9'; 200]].concat(),
            false,
            "invalid",
        ),
    ];
    for (bytes, shut, log) in cases {
        let r = exchange(lb.port, bytes, *shut).await;
        assert_eq!(r, "", "no answer to {bytes:?}");
        lb.wait_for_log(log).await;
    }
    // A TLV overrunning the header, and one the header does not end with.
    let mut over = v2(1, [1, 1, 1, 1], [2, 2, 2, 2], (1, 2), &[(2, b"12345")]);
    over[15] -= 2; // the header now ends inside the TLV
    over.extend_from_slice(REQ);
    assert_eq!(exchange(lb.port, &over, false).await, "");
    // A TLV after the header's end is the HTTP parser's: a bad request.
    let mut tail = v2(1, [1, 1, 1, 1], [2, 2, 2, 2], (1, 2), &[(2, b"12345")]);
    tail.extend_from_slice(b"\x02\x00\x0554321");
    tail.extend_from_slice(REQ);
    assert!(exchange(lb.port, &tail, false)
        .await
        .starts_with("HTTP/1.1 400"));

    // Nothing complete within `timeout client` (1s): closed, logged as a timeout.
    let start = std::time::Instant::now();
    let mut s = connect(lb.port, None).await;
    s.write_all(b"PROXY TCP4 ").await.unwrap();
    let mut buf = [0u8; 16];
    let n = within(DEADLINE, "closed on timeout", s.read(&mut buf)).await;
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(start.elapsed() >= std::time::Duration::from_millis(900));
    lb.wait_for_log("Timeout while waiting for PROXY protocol header")
        .await;
    let line = lb
        .stderr()
        .lines()
        .find(|l| l.contains("Timeout while waiting"))
        .unwrap_or_default()
        .to_string();
    // `IP:PORT [ACCEPT DATE] FRONTEND/LISTENER: REASON`, after the syslog header.
    let msg = line.split(" lbd[").nth(1).unwrap_or_default();
    let msg = msg.split_once("]: ").map_or("", |(_, m)| m);
    assert!(msg.starts_with("127.0.0.1:"), "{line}");
    assert!(msg.contains("] fe/pp: Timeout"), "{line}");
}

#[tokio::test]
async fn expect_proxy_in_tcp_mode_reaches_the_server_header_and_the_log() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = format!(
        "global
    log stderr format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}
    tcp-request content reject if {{ src 10.66.0.0/16 }}
    default_backend be
backend be
    balance source
    server s1 {} send-proxy
",
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    let r = exchange(
        lb.port,
        b"PROXY TCP4 192.168.7.7 10.0.0.1 4242 443\r\nhello",
        true,
    )
    .await;
    // The echo origin sends back what it got: lbd's own header, then the payload.
    assert_eq!(r, "PROXY TCP4 192.168.7.7 10.0.0.1 4242 443\r\nhello");
    lb.wait_for_log("192.168.7.7:4242 [").await;
    // Rules after the connection ones see the header's source.
    let r = exchange(
        lb.port,
        b"PROXY TCP4 10.66.1.1 10.0.0.1 4242 443\r\nhello",
        true,
    )
    .await;
    assert_eq!(r, "");
}
