//! Serve traffic in `mode tcp`: bytes relayed intact both ways, half-close, and the
//! frontend `maxconn`, through the real `lbd` binary.

mod common;

use bytes::Bytes;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A tcp frontend on `@FE@` with `fe_lines`, to one server at `server`.
fn tcp_config(fe_lines: &str, server: &str) -> String {
    let mut c = format!("{TCP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n");
    for l in fe_lines.lines() {
        c.push_str(&format!("    {}\n", l.trim()));
    }
    c.push_str(&format!(
        "    default_backend be\nbackend be\n    server s1 {server}\n"
    ));
    c
}

const CHUNK: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_64_mib_each_way_concurrently_without_changing_a_byte() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let lb = Lbd::start(&tcp_config("", &origin.hostport())).await;
    let s = connect(lb.port, None).await;
    let (mut r, mut w) = s.into_split();
    let seed = 0x1bd_5eed;
    let writer = tokio::spawn(async move {
        let mut prng = Prng::new(seed);
        let mut buf = vec![0u8; CHUNK];
        for _ in 0..TOTAL / CHUNK {
            prng.fill(&mut buf);
            w.write_all(&buf).await.expect("write");
        }
        w.shutdown().await.expect("shutdown");
    });
    let reader = tokio::spawn(async move {
        let mut prng = Prng::new(seed);
        let mut want = vec![0u8; CHUNK];
        let mut got = vec![0u8; CHUNK];
        let mut total = 0usize;
        while total < TOTAL {
            prng.fill(&mut want);
            r.read_exact(&mut got).await.unwrap_or_else(|e| {
                panic!("stream ended after {total} bytes: {e}");
            });
            if got != want {
                let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
                panic!("byte {} differs", total + at);
            }
            total += CHUNK;
        }
        // The origin's EOF follows ours through lbd.
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).await.expect("read to end");
        assert!(tail.is_empty(), "{} bytes too many", tail.len());
        total
    });
    let limit = Duration::from_secs(60);
    within(limit, "upload", writer).await.expect("writer");
    let n = within(limit, "download", reader).await.expect("reader");
    assert_eq!(n, TOTAL);
    assert_eq!(origin.stats.accepted(), 1);
}

#[tokio::test]
async fn half_close_reaches_the_origin_and_its_late_reply_reaches_the_client() {
    let mut reply = vec![0u8; 1024 * 1024];
    Prng::new(7).fill(&mut reply);
    let origin = TcpOrigin::start(TcpMode::ReplyAfterEof(Bytes::from(reply.clone()))).await;
    let lb = Lbd::start(&tcp_config("", &origin.hostport())).await;
    let mut s = connect(lb.port, None).await;
    let sent = 100 * 1000;
    within(DEADLINE, "half-closed exchange", async {
        s.write_all(&vec![b'x'; sent]).await.expect("write");
        // The origin answers only once it has seen our EOF.
        s.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.expect("read to end");
        assert_eq!(got.len(), reply.len() + 8, "reply length");
        assert!(got[..reply.len()] == reply[..], "reply bytes differ");
        let n = u64::from_be_bytes(got[reply.len()..].try_into().expect("8 bytes"));
        assert_eq!(n, sent as u64, "bytes the origin read before EOF");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_maxconn_holds_extra_clients_until_a_slot_frees() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let lb = Lbd::start(&tcp_config("maxconn 2", &origin.hostport())).await;
    let served = Arc::new(AtomicUsize::new(0));
    let (release, gate) = tokio::sync::watch::channel(false);
    let mut clients = Vec::new();
    for i in 0..5 {
        let (served, mut gate, port) = (served.clone(), gate.clone(), lb.port);
        clients.push(tokio::spawn(async move {
            let mut s = connect(port, None).await;
            let msg = format!("client {i}");
            s.write_all(msg.as_bytes()).await.expect("write");
            let mut back = vec![0u8; msg.len()];
            s.read_exact(&mut back).await.expect("echo");
            assert_eq!(back, msg.as_bytes());
            served.fetch_add(1, SeqCst);
            // Hold the connection open until the test lets go.
            let _ = gate.wait_for(|go| *go).await;
            s.shutdown().await.expect("shutdown");
            let mut tail = Vec::new();
            s.read_to_end(&mut tail).await.expect("read to end");
        }));
    }
    wait_until(DEADLINE, "two clients are served", || {
        served.load(SeqCst) == 2
    })
    .await;
    // The other three are connected (kernel backlog) but lbd does not take them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served.load(SeqCst), 2);
    assert_eq!(origin.stats.open(), 2);
    release.send_replace(true);
    for c in clients {
        within(DEADLINE, "client done", c).await.expect("client");
    }
    assert_eq!(served.load(SeqCst), 5);
    assert_eq!(origin.stats.accepted(), 5);
    // No assertion on the origin's peak after the release: lbd closes a server socket
    // before it frees the slot, but the origin notices that close asynchronously, so
    // its own count can briefly include a connection lbd has already closed.
}

/// The PROXY v1 line lbd sends names the client and the address the client reached,
/// whether lbd's bind names that address or is a wildcard.
#[tokio::test]
async fn send_proxy_names_the_client_and_the_address_it_reached() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    for bind in ["127.0.0.1", "0.0.0.0"] {
        let cfg = tcp_config("", &format!("{} send-proxy", origin.hostport()))
            .replace("bind 127.0.0.1:@FE@", &format!("bind {bind}:@FE@"));
        let lb = Lbd::start(&cfg).await;
        let mut s = connect(lb.port, None).await;
        let client = s.local_addr().expect("local addr");
        s.write_all(b"x").await.expect("write");
        s.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        within(DEADLINE, "the echo", s.read_to_end(&mut got))
            .await
            .expect("read");
        assert_eq!(
            String::from_utf8_lossy(&got),
            format!(
                "PROXY TCP4 127.0.0.1 127.0.0.1 {} {}\r\nx",
                client.port(),
                lb.port
            ),
            "bind {bind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_ip_is_reached_at_the_address_the_client_connected_to() {
    // The origin listens on 127.0.0.2 only: reaching it proves lbd used the client's
    // destination address (0.0.0.0 would have gone to 127.0.0.1).
    let origin = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind 127.0.0.2");
    let oport = origin.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = origin.accept().await {
            let local = s.local_addr().expect("local");
            let _ = s.write_all(format!("origin {local}").as_bytes()).await;
        }
    });
    let cfg =
        tcp_config("", &format!(":{oport}")).replace("bind 127.0.0.1:@FE@", "bind 0.0.0.0:@FE@");
    let lb = Lbd::start(&cfg).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.2", lb.port))
        .await
        .expect("connect");
    let mut got = Vec::new();
    within(DEADLINE, "the origin's bytes", s.read_to_end(&mut got))
        .await
        .expect("read");
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("origin 127.0.0.2:{oport}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_v2_options_send_the_unique_id_authority_and_checksum() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let cfg = tcp_config(
        "unique-id-format ID-%[int(7)]-%[src]",
        &format!(
            "{} send-proxy-v2 proxy-v2-options crc32c,authority,unique-id",
            origin.hostport()
        ),
    )
    .replace("bind 127.0.0.1:@FE@", "bind 127.0.0.1:@FE@ accept-proxy");
    let lb = Lbd::start(&cfg).await;
    let mut s = connect(lb.port, None).await;
    // The client's own v2 header: 10.1.2.3:1111 -> 10.9.9.9:80, authority "svc.example".
    let mut hdr = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    let authority = b"svc.example";
    hdr.extend_from_slice(&((12 + 3 + authority.len()) as u16).to_be_bytes());
    hdr.extend_from_slice(&[10, 1, 2, 3, 10, 9, 9, 9]);
    hdr.extend_from_slice(&1111u16.to_be_bytes());
    hdr.extend_from_slice(&80u16.to_be_bytes());
    hdr.push(0x02);
    hdr.extend_from_slice(&(authority.len() as u16).to_be_bytes());
    hdr.extend_from_slice(authority);
    hdr.extend_from_slice(b"x");
    s.write_all(&hdr).await.expect("write");
    s.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    within(DEADLINE, "the echo", s.read_to_end(&mut got))
        .await
        .expect("read");
    // What the server received, echoed: the addresses from the client's header, then
    // CRC32C, authority, unique id; then the client's byte.
    let id = b"ID-7-10.1.2.3";
    let mut want = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    let len = 12 + (3 + 4) + (3 + authority.len()) + (3 + id.len());
    want.extend_from_slice(&(len as u16).to_be_bytes());
    want.extend_from_slice(&[10, 1, 2, 3, 10, 9, 9, 9]);
    want.extend_from_slice(&1111u16.to_be_bytes());
    want.extend_from_slice(&80u16.to_be_bytes());
    want.extend_from_slice(&[0x03, 0, 4, 0, 0, 0, 0]);
    want.push(0x02);
    want.extend_from_slice(&(authority.len() as u16).to_be_bytes());
    want.extend_from_slice(authority);
    want.push(0x05);
    want.extend_from_slice(&(id.len() as u16).to_be_bytes());
    want.extend_from_slice(id);
    let crc = crc32c::crc32c(&want).to_be_bytes();
    want[31..35].copy_from_slice(&crc);
    want.push(b'x');
    assert_eq!(got, want);
}

/// `dispatch ADDR` without servers: every connection goes to that address, in tcp and
/// http mode.
#[tokio::test]
async fn dispatch_sends_every_connection_to_its_address() {
    let echo = TcpOrigin::start(TcpMode::Echo).await;
    let web = HttpOrigin::start("web").await;
    let lb = Lbd::start(&format!(
        "{TCP_DEFAULTS}listen t\n    bind 127.0.0.1:@FE@\n    dispatch {}\nlisten h\n    mode http\n    bind 127.0.0.1:@FE2@\n    dispatch {}\n",
        echo.hostport(),
        web.hostport()
    ))
    .await;
    for _ in 0..2 {
        let mut s = connect(lb.port, None).await;
        s.write_all(b"ping").await.unwrap();
        s.shutdown().await.unwrap();
        let mut back = Vec::new();
        within(DEADLINE, "the echo", s.read_to_end(&mut back))
            .await
            .unwrap();
        assert_eq!(back, b"ping");
    }
    let r = get(lb.port2, "/x").await;
    assert_eq!((r.status, r.body.as_str()), (200, "web"));
    assert_eq!(web.stats.requests(), 1);
}
