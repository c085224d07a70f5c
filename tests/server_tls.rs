//! TLS and HTTP/2 towards servers, end to end: the real `lbd` binary in front of
//! origins the test runs on 127.0.0.1 (a tokio-rustls server with the certificates of
//! tests/data/tls that records each handshake, and a hyper HTTP/2 server in clear
//! text), through `server ... ssl`, `verify`, `ca-file`, `sni`, `alpn`, `crt`,
//! session resumption, `check-ssl` and `proto h2`.

mod common;
#[path = "common/health.rs"]
mod health;
#[allow(dead_code)]
#[path = "common/sock.rs"]
mod sock;

use bytes::Bytes;
use common::*;
use health::*;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sock::{cli, SockDir};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn data(name: &str) -> String {
    format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What the TLS origin saw of one handshake.
#[derive(Debug, Clone, Default)]
struct Hello {
    sni: Option<String>,
    alpn: Option<String>,
    resumed: bool,
    client_cert: bool,
}

/// A TLS origin: answers `200 sni=NAME` over HTTP/1.1, or HTTP/2 when ALPN says h2.
struct TlsOrigin {
    port: u16,
    hellos: Arc<Mutex<Vec<Hello>>>,
}

impl TlsOrigin {
    async fn start(cert: &str) -> TlsOrigin {
        let ck = lbd::tls::load_cert_key(std::path::Path::new(&data(cert))).expect("cert");
        let roots = lbd::tls::load_ca(std::path::Path::new(&data("ca.crt"))).expect("ca");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            lbd::tls::provider(),
        )
        .allow_unauthenticated()
        .build()
        .expect("client verifier");
        let mut cfg = rustls::ServerConfig::builder_with_provider(lbd::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(OneCert(ck.certified.clone())));
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let hellos: Arc<Mutex<Vec<Hello>>> = Arc::default();
        let seen = hellos.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(s).await else {
                        return;
                    };
                    let c = tls.get_ref().1;
                    let h = Hello {
                        sni: c.server_name().map(str::to_string),
                        alpn: c
                            .alpn_protocol()
                            .map(|p| String::from_utf8_lossy(p).into_owned()),
                        resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
                        client_cert: c.peer_certificates().is_some_and(|v| !v.is_empty()),
                    };
                    seen.lock().unwrap().push(h.clone());
                    let body = format!("sni={}", h.sni.unwrap_or_default());
                    let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        let b = body.clone();
                        async move { Ok::<_, std::convert::Infallible>(Response::new(Frames::data(b))) }
                    });
                    let io = TokioIo::new(tls);
                    if h.alpn.as_deref() == Some("h2") {
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, svc)
                            .await;
                    } else {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .await;
                    }
                });
            }
        });
        TlsOrigin { port, hellos }
    }

    fn hellos(&self) -> Vec<Hello> {
        self.hellos.lock().unwrap().clone()
    }
}

/// The origin's one certificate.
#[derive(Debug)]
struct OneCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for OneCert {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A body of given frames (data, then trailers).
struct Frames(VecDeque<Frame<Bytes>>);

impl Frames {
    fn data(s: String) -> Frames {
        Frames(VecDeque::from([Frame::data(Bytes::from(s))]))
    }
}

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// One data-plane thread: connections are pooled per thread.
fn config(servers: &str) -> String {
    format!(
        "global\n    nbthread 1\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n{servers}"
    )
}

/// A GET with this Host header over a new connection.
async fn get_host(port: u16, host: &str) -> Resp {
    let req = Request::builder()
        .uri("/")
        .header("host", host)
        .body(http_body_util::Full::new(Bytes::new()))
        .expect("request");
    send(port, req).await
}

#[tokio::test]
async fn verify_required_with_ca_file_sends_the_sni_expression_and_checks_its_name() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&config(&format!(
        "    server s1 127.0.0.1:{} ssl verify required ca-file {} sni req.hdr(host)\n",
        o.port,
        data("ca.crt")
    )))
    .await;
    let r = get_host(lbd.port, "www.example.test").await;
    assert_eq!((r.status, r.body.as_str()), (200, "sni=www.example.test"));
    let r = get_host(lbd.port, "a.example.test").await;
    assert_eq!((r.status, r.body.as_str()), (200, "sni=a.example.test"));
    // The certificate is not valid for this SNI: the handshake fails, lbd answers 503.
    let r = get_host(lbd.port, "other.test").await;
    assert_eq!(r.status, 503);
    let snis: Vec<_> = o.hellos().into_iter().map(|h| h.sni).collect();
    assert_eq!(
        &snis[..2],
        [
            Some("www.example.test".into()),
            Some("a.example.test".into())
        ]
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_and_the_check_marks_the_server_down() {
    let o = TlsOrigin::start("wrongca.pem").await;
    let lbd = Lbd::start(&config(&format!(
        "    server s1 127.0.0.1:{} ssl ca-file {} check inter 200\n",
        o.port,
        data("ca.crt")
    )))
    .await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN, reason: Layer6 invalid response, info: \"SSL handshake failure\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        DEADLINE,
    )
    .await;
    assert_eq!(get(lbd.port, "/").await.status, 503);
}

#[tokio::test]
async fn verifyhost_mismatch_is_haproxys_certificate_message_and_a_good_check_passes() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&config(&format!(
        "    server bad 127.0.0.1:{p} ssl ca-file {ca} verifyhost nomatch.test check inter 200\n    server good 127.0.0.1:{p} ssl ca-file {ca} check-sni www.example.test check inter 200\n",
        p = o.port,
        ca = data("ca.crt")
    )))
    .await;
    wait_line(
        &lbd,
        &warning("Server web/bad is DOWN, reason: Layer6 invalid response, info: \"Server presented an SSL certificate different from the configured one\", check duration: Nms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        DEADLINE,
    )
    .await;
    wait_until(DEADLINE, "a check with check-sni", || {
        o.hellos()
            .iter()
            .any(|h| h.sni.as_deref() == Some("www.example.test"))
    })
    .await;
    assert!(lines_with(&lbd, "web/good").is_empty());
    // Traffic goes to the good server only (no SNI: no name to check).
    let r = get(lbd.port, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "sni="));
}

#[tokio::test]
async fn tcp_check_connect_ssl_sends_its_sni_and_alpn_with_the_servers_verify_settings() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&format!(
        "global\n    nbthread 1\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend good\n\
backend good\n    option tcp-check\n    tcp-check connect ssl sni www.example.test alpn h2\n\
    server s1 127.0.0.1:{p} ca-file {ca} check inter 200\n\
backend bad\n    option tcp-check\n    tcp-check connect ssl sni other.test\n\
    server s1 127.0.0.1:{p} ca-file {ca} check inter 200\n",
        p = o.port,
        ca = data("ca.crt")
    ))
    .await;
    wait_line(
        &lbd,
        &warning("Server bad/s1 is DOWN, reason: Layer6 invalid response, info: \"Server presented an SSL certificate different from the configured one at step 1 of tcp-check (connect)\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        DEADLINE,
    )
    .await;
    wait_until(DEADLINE, "a check with the rule's sni and alpn", || {
        o.hellos().iter().any(|h| {
            h.sni.as_deref() == Some("www.example.test") && h.alpn.as_deref() == Some("h2")
        })
    })
    .await;
    assert!(lines_with(&lbd, "good/s1").is_empty());
}

#[tokio::test]
async fn client_certificate_alpn_and_session_resumption() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&config(&format!(
        "    option http-server-close\n    server s1 127.0.0.1:{} ssl verify none crt {} alpn http/1.1 sni str(www.example.test)\n",
        o.port,
        data("client.pem")
    )))
    .await;
    for _ in 0..3 {
        assert_eq!(get(lbd.port, "/").await.status, 200);
    }
    let h = o.hellos();
    assert_eq!(h.len(), 3, "{h:?}");
    assert!(h.iter().all(|h| h.client_cert), "{h:?}");
    assert!(
        h.iter().all(|h| h.alpn.as_deref() == Some("http/1.1")),
        "{h:?}"
    );
    assert!(!h[0].resumed && h[1].resumed && h[2].resumed, "{h:?}");
}

#[tokio::test]
async fn tls_sessions_are_resumed_per_server_never_across_servers() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    // Two servers on the same origin, same SNI: only separate caches keep the second
    // server from resuming the first one's session.
    let lbd = Lbd::start(&config(&format!(
        "    option http-server-close\n    balance roundrobin\n    server s1 127.0.0.1:{p} ssl verify none sni str(www.example.test)\n    server s2 127.0.0.1:{p} ssl verify none sni str(www.example.test)\n",
        p = o.port
    )))
    .await;
    for _ in 0..4 {
        assert_eq!(get(lbd.port, "/").await.status, 200);
    }
    let resumed: Vec<bool> = o.hellos().iter().map(|h| h.resumed).collect();
    assert_eq!(resumed, [false, false, true, true]);
}

#[tokio::test]
async fn no_ssl_reuse_always_does_a_full_handshake() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&config(&format!(
        "    option http-server-close\n    server s1 127.0.0.1:{} ssl verify none no-ssl-reuse\n",
        o.port
    )))
    .await;
    for _ in 0..2 {
        assert_eq!(get(lbd.port, "/").await.status, 200);
    }
    let h = o.hellos();
    assert!(h.len() == 2 && h.iter().all(|h| !h.resumed), "{h:?}");
}

#[tokio::test]
async fn alpn_h2_over_tls_speaks_http2() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&config(&format!(
        "    server s1 127.0.0.1:{} ssl verify none alpn h2,http/1.1\n",
        o.port
    )))
    .await;
    for _ in 0..3 {
        assert_eq!(get(lbd.port, "/").await.status, 200);
    }
    let h = o.hellos();
    // One HTTP/2 connection carries the three requests.
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].alpn.as_deref(), Some("h2"));
}

#[tokio::test]
async fn tcp_mode_originates_tls() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let lbd = Lbd::start(&format!(
        "global\n    log stderr format raw local0\n{TCP_DEFAULTS}listen l\n    bind 127.0.0.1:@FE@\n    log global\n    log-format \"tcpbc=%[ssl_bc] %[ssl_bc_protocol] %[ssl_bc_is_resumed]\"\n    server s1 127.0.0.1:{} ssl ca-file {} sni str(www.example.test)\n",
        o.port,
        data("ca.crt")
    ))
    .await;
    let out = raw(
        lbd.port,
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("sni=www.example.test"), "{out}");
    wait_line_with(&lbd, "tcpbc=1 TLSv1.3 0", DEADLINE).await;
}

#[tokio::test]
async fn ssl_bc_fetches_in_response_rules_and_the_log() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let plain = HttpOrigin::start("plain").await;
    let lbd = Lbd::start(&format!(
        "global\n    nbthread 1\n    log stderr format raw local0\n{HTTP_DEFAULTS}\
frontend fe\n    bind 127.0.0.1:@FE@\n    log global\n\
    log-format \"bc=%[ssl_bc] %[ssl_bc_protocol] alpn=%[ssl_bc_alpn] %HP\"\n\
    use_backend clear if {{ path /plain }}\n    default_backend web\n\
backend web\n    option http-server-close\n\
    http-response set-header x-bc \"%[ssl_bc] %[ssl_bc_protocol] %[ssl_bc_cipher] %[ssl_bc_alpn] %[ssl_bc_alg_keysize] %[ssl_bc_use_keysize]\"\n\
    http-response set-header x-resumed %[ssl_bc_is_resumed] if {{ ssl_bc_is_resumed }}\n\
    server s1 127.0.0.1:{} ssl verify none alpn http/1.1 ciphersuites TLS_AES_128_GCM_SHA256\n\
backend clear\n    http-response set-header x-bc \"%[ssl_bc] [%[ssl_bc_protocol]]\"\n\
    server p {}\n",
        o.port,
        plain.hostport()
    ))
    .await;
    let r = get(lbd.port, "/first").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-bc"),
        "1 TLSv1.3 TLS_AES_128_GCM_SHA256 http/1.1 128 128"
    );
    assert_eq!(r.header("x-resumed"), "");
    // The next connection resumes the session.
    let r = get(lbd.port, "/second").await;
    assert_eq!(r.header("x-resumed"), "1");
    // A clear-text server: ssl_bc is false, the others give nothing.
    let r = get(lbd.port, "/plain").await;
    assert_eq!(r.header("x-bc"), "0 []");
    wait_line_with(&lbd, "bc=1 TLSv1.3 alpn=http/1.1 /second", DEADLINE).await;
    wait_line_with(&lbd, "bc=0 - alpn=- /plain", DEADLINE).await;
}

/// An h2c gRPC-like origin: echoes the request's version, its `te` header, its
/// trailer `x-req` and the names of its trailers into the response body, and ends its response with the trailer
/// `grpc-status: 0` (announced by no `Trailer` header, as gRPC servers do); counts its
/// connections.
async fn h2c_origin() -> (u16, Arc<Mutex<usize>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let conns: Arc<Mutex<usize>> = Arc::default();
    let n = conns.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            *n.lock().unwrap() += 1;
            let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                use http_body_util::BodyExt;
                let version = format!("{:?}", req.version());
                let te = req
                    .headers()
                    .get("te")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                let collected = req.into_body().collect().await.expect("request body");
                let trailers = collected.trailers().cloned().unwrap_or_default();
                let trailer = trailers
                    .get("x-req")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                let names: Vec<&str> = trailers.keys().map(|k| k.as_str()).collect();
                let mut t = hyper::HeaderMap::new();
                t.insert("grpc-status", "0".parse().unwrap());
                let body = Frames(VecDeque::from([
                    Frame::data(Bytes::from(format!(
                        "{version} te={te} x-req={trailer} trailers={}",
                        names.join(",")
                    ))),
                    Frame::trailers(t),
                ]));
                let resp = Response::builder()
                    .header("content-type", "application/grpc")
                    .body(body)
                    .unwrap();
                Ok::<_, std::convert::Infallible>(resp)
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    (port, conns)
}

#[tokio::test]
async fn proto_h2_to_an_h2c_server_forwards_trailers_both_ways_on_one_connection() {
    let (port, conns) = h2c_origin().await;
    let lbd = Lbd::start(&config(&format!(
        "    server s1 127.0.0.1:{port} proto h2\n"
    )))
    .await;
    let req = "POST /svc/Method HTTP/1.1\r\nhost: grpc.test\r\nte: trailers\r\ntrailer: x-req\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\nx-req: abc\r\ncontent-length: 9\r\nhost: evil\r\n\r\n";
    let text = raw(lbd.port, req.as_bytes()).await.to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    // The request went as HTTP/2 with `te: trailers` and its trailer (not the ones no
    // trailer may carry).
    assert!(
        text.contains("http/2.0 te=trailers x-req=abc trailers=x-req\r\n"),
        "{text}"
    );
    // The gRPC trailers are announced, and `grpc-status` follows the last chunk.
    assert!(
        text.contains("\r\ntrailer: grpc-status, grpc-message, grpc-status-details-bin\r\n"),
        "{text}"
    );
    assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
    assert!(text.ends_with("\r\n0\r\ngrpc-status: 0\r\n\r\n"), "{text}");
    // A gRPC request whose client did not send `te: trailers` still tells the server
    // (gRPC servers require it); that client gets no trailers (it did not accept them).
    let req = "POST /svc/Method HTTP/1.1\r\nhost: grpc.test\r\ncontent-type: application/grpc\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
    let text = raw(lbd.port, req.as_bytes()).await.to_lowercase();
    assert!(text.contains("http/2.0 te=trailers x-req="), "{text}");
    assert!(text.ends_with("\r\n0\r\n\r\n"), "{text}");
    // More requests, in parallel: all on the one HTTP/2 connection.
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let p = lbd.port;
        tasks.push(tokio::spawn(async move { get(p, "/").await.status }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(*conns.lock().unwrap(), 1);
}

/// Reads a chunked request to the end of its trailer section.
async fn read_chunked_request(s: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(i) = text.find("\r\n0\r\n") {
            if text[i + 2..].contains("\r\n\r\n") || text[i..].ends_with("\r\n0\r\n\r\n") {
                return text;
            }
        }
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn trailers_cross_an_http1_chunked_server_both_ways() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let req = read_chunked_request(&mut s).await;
            log.lock().unwrap().push(req);
            let resp = "HTTP/1.1 200 OK\r\ntrailer: x-sum\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n";
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    let lbd = Lbd::start(&config(&format!("    server s1 127.0.0.1:{port}\n"))).await;
    let req = "POST /up HTTP/1.1\r\nhost: h\r\nte: trailers\r\ntrailer: x-req\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n3\r\nabc\r\n0\r\nx-req: 7\r\n\r\n";
    let text = raw(lbd.port, req.as_bytes()).await.to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("\r\ntrailer: x-sum\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n"),
        "{text}"
    );
    // The server got the request's `Trailer`, `TE: trailers` with its connection
    // option, and the trailer after the last chunk.
    let up = seen.lock().unwrap()[0].to_lowercase();
    assert!(up.contains("\r\ntrailer: x-req\r\n"), "{up}");
    assert!(up.contains("\r\nte: trailers\r\n"), "{up}");
    assert!(up.contains("\r\nconnection: te\r\n"), "{up}");
    assert!(
        up.ends_with("\r\n3\r\nabc\r\n0\r\nx-req: 7\r\n\r\n"),
        "{up}"
    );
}

#[tokio::test]
async fn unreadable_tls_files_fail_the_configuration_check() {
    let dir = Scratch::new("srvtls");
    let cfg = dir.file("lbd.cfg");
    std::fs::write(
        &cfg,
        format!(
            "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:8080\n    default_backend web\nbackend web\n    server s1 127.0.0.1:443 ssl ca-file /nonexistent-lbd/absent.crt\n    server s2 127.0.0.1:443 ssl verify none crt {}\n    server s3 127.0.0.1:443 ssl verify none ciphers DHE-RSA-AES128-GCM-SHA256\n",
            data("nokey.pem")
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f", &cfg])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("] : 'server web/s1' : 'ca-file' : unable to load"),
        "{err}"
    );
    assert!(
        err.contains("] : 'server web/s2' : unable to load SSL private key from PEM file"),
        "{err}"
    );
    assert!(
        err.contains(
            "] : 'server web/s3' : unable to set SSL cipher list to 'DHE-RSA-AES128-GCM-SHA256'"
        ),
        "{err}"
    );
    assert!(
        err.contains("Fatal errors found in configuration."),
        "{err}"
    );
}

/// `set server B/S ssl on|off` switches TLS towards the server for new connections, and
/// `show servers state` shows it as `srv_use_ssl` (-1 `no-ssl`, 1 on, 0 off).
#[tokio::test]
async fn set_server_ssl_switches_tls_towards_the_server() {
    let o = TlsOrigin::start("www.example.test.pem").await;
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lbd = Lbd::start(&format!(
        "global\n    nbthread 1\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    option http-server-close\n    default-server ssl verify none\n    server s1 127.0.0.1:{} no-ssl\n",
        o.port
    ))
    .await;
    let use_ssl = |state: &str| {
        let line = state.lines().find(|l| l.contains(" s1 ")).unwrap_or("");
        line.split(' ').nth(20).unwrap_or("").to_string()
    };
    assert_eq!(use_ssl(&cli(&sock, "show servers state web").await), "-1");
    // Clear text to a TLS origin fails.
    assert_ne!(get_host(lbd.port, "www.example.test").await.status, 200);
    assert!(o.hellos().is_empty());

    assert_eq!(
        cli(&sock, "set server web/s1 ssl on").await,
        "server ssl setting updated.\n\n"
    );
    assert_eq!(use_ssl(&cli(&sock, "show servers state web").await), "1");
    assert_eq!(get_host(lbd.port, "www.example.test").await.status, 200);
    assert_eq!(o.hellos().len(), 1);

    assert_eq!(
        cli(&sock, "set server web/s1 ssl off").await,
        "server ssl setting updated.\n\n"
    );
    assert_eq!(use_ssl(&cli(&sock, "show servers state web").await), "0");
    assert_ne!(get_host(lbd.port, "www.example.test").await.status, 200);
    assert_eq!(o.hellos().len(), 1);
    assert_eq!(
        cli(&sock, "set server web/s1 ssl maybe").await,
        "'set server <srv> ssl' expects 'on' or 'off'.\n\n"
    );
}
