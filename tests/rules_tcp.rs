//! `tcp-request connection|session|content` and `tcp-response content` rules, the
//! connection's `sess.` variables across its requests, and `http-after-response` on
//! lbd's own answers, through the real binary.

mod common;
#[path = "common/sock.rs"]
mod sock;

use common::*;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Reads until the peer closes; the bytes received.
async fn read_all(s: &mut tokio::net::TcpStream) -> Vec<u8> {
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
    out
}

const HTTP: &str = "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request connection reject if { src 127.0.0.2 }
    tcp-request session set-var(sess.net) src,ipmask(24)
    tcp-request content reject if { path /nope }
    tcp-request content set-var(txn.seen) str(content)
    http-request set-var(sess.n) var(sess.n,0),add(1)
    http-request return status 200 content-type text/plain lf-string \"n=%[var(sess.n)] net=%[var(sess.net)] seen=%[var(txn.seen)]\" if { path /count }
    http-after-response set-header x-after %[status]
    default_backend empty
backend empty
";

#[tokio::test]
async fn connection_content_rules_and_session_variables_in_http_mode() {
    let lb = Lbd::start(HTTP).await;
    // A rejected client is closed before anything is read or written.
    let mut s = connect(lb.port, Some(ip("127.0.0.2"))).await;
    let _ = s.write_all(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(read_all(&mut s).await, b"", "rejected at connection");

    // sess.n counts the requests of one connection; txn vars start afresh.
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = ka.get("/count").await;
    assert_eq!(r.body, "n=1 net=127.0.0.0 seen=content");
    assert_eq!(r.header("x-after"), "200", "after-response on a return");
    let r = ka.get("/count").await;
    assert_eq!(r.body, "n=2 net=127.0.0.0 seen=content");
    let mut other = KeepAlive::connect(lb.port).await;
    assert_eq!(
        other.get("/count").await.body,
        "n=1 net=127.0.0.0 seen=content"
    );

    // lbd's own 503 (no server) goes through http-after-response too.
    let r = ka.get("/x").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("x-after"), "503");

    // A content reject closes the connection without an answer.
    let mut s = connect(lb.port, None).await;
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_all(&mut s).await, b"", "rejected at content");
}

#[tokio::test]
async fn tcp_mode_rules_reject_or_relay() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 1s
    tcp-request connection accept if {{ src 127.0.0.3 }}
    tcp-request connection reject if !{{ src 127.0.0.1 }}
    tcp-request content reject if {{ src_port lt 0 }}
    default_backend be
backend be
    tcp-response content reject if {{ src 127.0.0.3 }}
    server s1 {}
",
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    let mut ok = connect(lb.port, None).await;
    ok.write_all(b"ping").await.unwrap();
    ok.shutdown().await.unwrap();
    assert_eq!(read_all(&mut ok).await, b"ping");
    let mut no = connect(lb.port, Some(ip("127.0.0.2"))).await;
    let _ = no.write_all(b"ping").await;
    assert_eq!(
        read_all(&mut no).await,
        b"",
        "rejected by a connection rule"
    );
    // Accepted at connection, rejected once the server is connected.
    let mut late = connect(lb.port, Some(ip("127.0.0.3"))).await;
    let _ = late.write_all(b"ping").await;
    assert_eq!(read_all(&mut late).await, b"", "rejected by tcp-response");
}

#[tokio::test]
async fn set_src_and_set_dst_at_each_level() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = format!(
        "defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend http
    mode http
    bind 127.0.0.1:@FE@
    tcp-request connection set-src ipv4(10.0.0.1)
    tcp-request session set-dst ipv4(10.0.0.2)
    tcp-request session set-dst-port int(8443)
    http-request set-src req.hdr(x-real-ip) if {{ req.hdr(x-real-ip) -m found }}
    http-request set-src-port int(7)
    http-request return status 200 content-type text/plain lf-string \"src=%[src]:%[src_port] fc=%[fc_src] dst=%[dst]:%[dst_port] fcd=%[fc_dst] lan=%[src,ipmask(8)]\"
frontend tcp
    mode tcp
    bind 127.0.0.1:@FE2@
    tcp-request connection set-src ipv6(2001:db8::5)
    tcp-request content set-dst-port int(25)
    default_backend be
backend be
    mode tcp
    server s1 {} send-proxy
",
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    let mut ka = KeepAlive::connect(lb.port).await;
    let r = ka.get("/").await;
    assert!(
        r.body
            .starts_with("src=10.0.0.1:7 fc=10.0.0.1 dst=10.0.0.2:8443 fcd=127.0.0.1 lan=10.0.0.0"),
        "{}",
        r.body
    );
    let req = hyper::Request::get("/")
        .header("host", "x")
        .header("x-real-ip", "192.168.9.9")
        .body(ClientBody::default())
        .unwrap();
    let r = ka.send(req).await;
    assert!(
        r.body.starts_with("src=192.168.9.9:7 fc=10.0.0.1 "),
        "{}",
        r.body
    );
    // The next request starts again from the connection's addresses.
    assert!(ka.get("/").await.body.starts_with("src=10.0.0.1:7 "));

    // mode tcp: the server's PROXY header carries the changed addresses.
    let mut s = connect(lb.port2, None).await;
    s.write_all(b"x").await.unwrap();
    s.shutdown().await.unwrap();
    let got = String::from_utf8(read_all(&mut s).await).unwrap();
    assert!(
        got.starts_with("PROXY TCP6 2001:db8::5 ::ffff:127.0.0.1 "),
        "{got}"
    );
    assert!(got.ends_with(" 25\r\nx"), "{got}");
}

#[tokio::test]
async fn track_sc_in_tcp_rules_limits_connection_and_request_rates() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = format!(
        "defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend tcp
    mode tcp
    bind 127.0.0.1:@FE@
    stick-table type ip size 10 expire 30s store conn_rate(30s),conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc0_conn_rate gt 2 }}
    default_backend be
backend be
    mode tcp
    server s1 {}
frontend http
    mode http
    bind 127.0.0.1:@FE2@
    stick-table type ip size 10 expire 30s store http_req_rate(30s),conn_cnt
    tcp-request session track-sc1 src
    http-request deny if {{ sc1_http_req_rate gt 3 }}
    http-request return status 200 content-type text/plain lf-string \"req=%[sc1_http_req_rate] conn=%[sc1_conn_cnt]\"
",
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    for i in 0..2 {
        let mut s = connect(lb.port, None).await;
        s.write_all(b"ping").await.unwrap();
        s.shutdown().await.unwrap();
        assert_eq!(read_all(&mut s).await, b"ping", "connection {i}");
    }
    let mut third = connect(lb.port, None).await;
    let _ = third.write_all(b"ping").await;
    assert_eq!(read_all(&mut third).await, b"", "over the rate");

    // Every request of a connection tracked by a session rule counts.
    let mut ka = KeepAlive::connect(lb.port2).await;
    for n in 1..=3 {
        let r = ka.get("/").await;
        assert_eq!(r.body, format!("req={n} conn=1"));
    }
    assert_eq!(ka.get("/").await.status, 403);
}

#[tokio::test]
async fn content_rules_wait_for_payload_within_the_inspect_delay() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 400ms
    tcp-request content accept if {{ req.payload(0,5) -m str HELLO }}
    tcp-request content accept if {{ req.payload_lv(0,1) -m str abc }}
    tcp-request content accept if {{ req.proto_http }} {{ req.len gt 20 }}
    tcp-request content reject
    default_backend be
backend be
    server s1 {}
",
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    let echo = |bytes: &'static [u8], parts: usize| async move {
        let mut s = connect(lb.port, None).await;
        let cut = bytes.len() / parts;
        let _ = s.write_all(&bytes[..cut]).await;
        let _ = s.write_all(&bytes[cut..]).await;
        let _ = s.shutdown().await;
        read_all(&mut s).await
    };
    assert_eq!(echo(b"HELLO world", 1).await, b"HELLO world");
    assert_eq!(echo(b"HELLO world", 3).await, b"HELLO world");
    assert_eq!(echo(b"\x03abc-rest", 2).await, b"\x03abc-rest");
    let get = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    assert_eq!(echo(get, 2).await, get);
    assert_eq!(echo(b"garbage\r\n\r\nmore than twenty bytes", 1).await, b"");

    // A prefix that could still match is kept until the delay expires, then refused.
    let start = std::time::Instant::now();
    let mut s = connect(lb.port, None).await;
    s.write_all(b"HEL").await.unwrap();
    assert_eq!(read_all(&mut s).await, b"");
    let waited = start.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(350),
        "decided after {waited:?}"
    );
}

#[tokio::test]
async fn tcp_mode_content_rules_read_the_http_request_head() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let dir = sock::SockDir::new();
    let cfg = format!(
        "global
    stats socket {} level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 2s
    tcp-request content track-sc0 url table per_url
    tcp-request content sc-inc-gpc0(0)
    tcp-request content reject if {{ hdr(host) -m str blocked }}
    default_backend be
backend be
    server s1 {}
backend per_url
    stick-table type string size 1k store gpc0
",
        dir.sock(),
        origin.addr
    );
    let lb = Lbd::start(&cfg).await;
    // The head in two parts, the second after a pause: the rules wait for it.
    let head = b"GET /abc?x=1 HTTP/1.1\r\nHost: example\r\n\r\n";
    let mut s = connect(lb.port, None).await;
    s.write_all(&head[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    s.write_all(&head[10..]).await.unwrap();
    let _ = s.shutdown().await;
    assert_eq!(read_all(&mut s).await, head);
    let mut s = connect(lb.port, None).await;
    s.write_all(b"GET /abc?x=1 HTTP/1.1\r\nHost: blocked\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_all(&mut s).await, b"", "rejected on its Host header");
    // Bytes that cannot be an HTTP request are decided at once (no wait for a head).
    let start = std::time::Instant::now();
    let mut s = connect(lb.port, None).await;
    s.write_all(b"\x16\x03\x01binary").await.unwrap();
    let mut back = [0u8; 9];
    within(DEADLINE, "the echo", s.read_exact(&mut back))
        .await
        .unwrap();
    assert_eq!(&back, b"\x16\x03\x01binary");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
    let out = sock::cli_until(dir.sock(), "show table per_url", |o| o.contains("gpc0=2")).await;
    assert!(
        out.contains("key=/abc?x=1 use=0 exp=0 gpc0=2"),
        "both requests tracked by url: {out}"
    );
}

/// A TLS ClientHello record naming `sni` (with ALPN h2, as browsers send).
fn client_hello(sni: &str) -> Vec<u8> {
    let n = sni.as_bytes();
    let mut ext = Vec::new();
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
    ext.extend_from_slice(n);
    ext.extend_from_slice(&[0, 16, 0, 5, 0, 3, 2, b'h', b'2']);
    let mut hello = vec![3, 3];
    hello.extend_from_slice(&[9; 32]);
    hello.push(0);
    hello.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[tokio::test]
async fn tls_passthrough_is_routed_by_the_client_hellos_sni() {
    let a = TcpOrigin::start(TcpMode::ReplyAfterEof(bytes::Bytes::from_static(b"A"))).await;
    let b = TcpOrigin::start(TcpMode::ReplyAfterEof(bytes::Bytes::from_static(b"B"))).await;
    let cfg = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 2s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    tcp-request content reject
    use_backend be_b if {{ req.ssl_sni -i b.example.com }}
    use_backend be_a if {{ req_ssl_sni -m end .a.example.com }} {{ req.ssl_alpn h2 }}
backend be_a
    server s1 {}
backend be_b
    server s1 {}
",
        a.addr, b.addr
    );
    let lb = Lbd::start(&cfg).await;
    let send = |bytes: Vec<u8>| async move {
        let mut s = connect(lb.port, None).await;
        // In two writes: the rules wait for the whole record.
        let cut = bytes.len() / 2;
        s.write_all(&bytes[..cut]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let _ = s.write_all(&bytes[cut..]).await;
        let _ = s.shutdown().await;
        read_all(&mut s).await
    };
    let hello = client_hello("B.example.com");
    let got = send(hello.clone()).await;
    assert_eq!(got[..1], *b"B", "{got:?}");
    assert_eq!(got[1..], (hello.len() as u64).to_be_bytes());
    let hello = client_hello("www.a.example.com");
    let got = send(hello.clone()).await;
    assert_eq!(got[..1], *b"A", "{got:?}");
    // Not TLS: refused by the content rules.
    assert_eq!(send(b"GET / HTTP/1.1\r\n\r\n".to_vec()).await, b"");
}

#[tokio::test]
async fn fix_messages_and_response_inspection() {
    let ok = TcpOrigin::start(TcpMode::ReplyAfterEof(bytes::Bytes::from_static(b"OK!"))).await;
    let no = TcpOrigin::start(TcpMode::ReplyAfterEof(bytes::Bytes::from_static(b"NO!"))).await;
    let cfg = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 2s
    tcp-request content reject unless {{ req.payload(0,0),fix_is_valid }}
    tcp-request content set-var(sess.sender) req.payload(0,0),fix_tag_value(SenderCompID)
    default_backend ok
frontend fe2
    bind 127.0.0.1:@FE2@
    default_backend no
backend ok
    tcp-response inspect-delay 2s
    tcp-response content reject unless {{ res.payload(0,3) -m str OK! }} {{ var(sess.sender) -m str CLIENT1 }}
    server s1 {}
backend no
    tcp-response inspect-delay 2s
    tcp-response content reject unless {{ res.len ge 3 }} {{ res.payload(0,3) -m str OK! }}
    server s1 {}
",
        ok.addr, no.addr
    );
    let lb = Lbd::start(&cfg).await;
    let logon = "8=FIX.4.4|9=102|35=A|49=CLIENT1|56=EXECUTOR|34=1|52=20201029-13:02:44.528|98=0|108=30|141=Y|553=Username|554=Password|10=252|".replace('|', "\x01");
    let send = |port: u16, msg: Vec<u8>| async move {
        let mut s = connect(port, None).await;
        let cut = msg.len() / 2;
        s.write_all(&msg[..cut]).await.unwrap();
        s.write_all(&msg[cut..]).await.unwrap();
        s.shutdown().await.unwrap();
        read_all(&mut s).await
    };
    // The request goes to the server while the response waits for its first bytes.
    let got = send(lb.port, logon.clone().into_bytes()).await;
    let mut want = b"OK!".to_vec();
    want.extend_from_slice(&(logon.len() as u64).to_be_bytes());
    assert_eq!(got, want);
    let bad = logon.replace("10=252", "10=253").into_bytes();
    assert_eq!(send(lb.port, bad).await, b"", "bad checksum");
    // The server's answer does not pass the response rules: nothing reaches the client.
    assert_eq!(send(lb.port2, logon.into_bytes()).await, b"");
}

/// Hex text to bytes.
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn mqtt_connect_and_connack_are_validated_and_read() {
    // MQTT 5.0 CONNACK: topic alias maximum 10; then the byte count the origin adds.
    let connack = unhex("200600000322000a");
    let ok = TcpOrigin::start(TcpMode::ReplyAfterEof(connack.clone().into())).await;
    let bad = TcpOrigin::start(TcpMode::ReplyAfterEof(unhex("21020000").into())).await;
    let cfg = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    tcp-request inspect-delay 2s
    tcp-request content reject unless {{ req.payload(0,0),mqtt_is_valid }}
    tcp-request content set-var(sess.id) req.payload(0,0),mqtt_field_value(connect,client_identifier)
    tcp-request content reject unless {{ var(sess.id) -m str test_sub }} {{ req.payload(0,0),mqtt_field_value(CONNECT,39) -m int 20 }}
    default_backend ok
frontend fe2
    bind 127.0.0.1:@FE2@
    default_backend bad
backend ok
    tcp-response inspect-delay 2s
    tcp-response content reject unless {{ res.payload(0,0),mqtt_is_valid }} {{ res.payload(0,0),mqtt_field_value(connack,34) -m str 10 }}
    server s1 {}
backend bad
    tcp-response inspect-delay 2s
    tcp-response content reject unless {{ res.payload(0,0),mqtt_is_valid }}
    server s1 {}
",
        ok.addr, bad.addr
    );
    let lb = Lbd::start(&cfg).await;
    // A CONNECT with will, properties, user name and password (client id test_sub,
    // maximum packet size 20), sent in two parts: the rules wait for the rest.
    let connect5 = unhex("107e00044d51545405ee003c182700000014170126000161000162260001630001642100140008746573745f7375622a03000a746578742f706c61696e08000c77696c6c727370746f7069632600016500016626000167000168000977696c6c746f706963000b77696c6c7061796c6f61640004746573740006706173737764");
    let send = |port: u16, msg: Vec<u8>| async move {
        let mut s = connect(port, None).await;
        let cut = msg.len() / 2;
        s.write_all(&msg[..cut]).await.unwrap();
        s.write_all(&msg[cut..]).await.unwrap();
        s.shutdown().await.unwrap();
        read_all(&mut s).await
    };
    let mut want = connack.clone();
    want.extend_from_slice(&(connect5.len() as u64).to_be_bytes());
    assert_eq!(send(lb.port, connect5.clone()).await, want);
    // The same CONNECT from another client id, a PINGREQ, a CONNECT with the reserved
    // flag bit set: refused.
    let other = connect5
        .iter()
        .map(|&b| if b == b'_' { b'-' } else { b })
        .collect::<Vec<u8>>();
    assert_eq!(send(lb.port, other).await, b"", "client id test-sub");
    assert_eq!(send(lb.port, unhex("c000")).await, b"", "PINGREQ");
    assert_eq!(
        send(
            lb.port,
            unhex("101400044d5154540403003c0008746573745f737562")
        )
        .await,
        b"",
        "reserved connect flag"
    );
    // A CONNACK with reserved flags set does not reach the client.
    assert_eq!(send(lb.port2, connect5).await, b"");
}
