//! TLS termination on `bind ... ssl` with real clients (curl, openssl s_client, and a
//! rustls client for byte-level cases): SNI picks the certificate (exact, wildcard,
//! default), `strict-sni`, ALPN, client certificates, `mode tcp`, the `ssl_*` fetches,
//! `redirect scheme https if !{ ssl_fc }`, keep-alive with parking, reloads.

mod common;
#[path = "common/tls.rs"]
mod tls;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tls::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SHOW: &str = "    http-request return status 200 content-type text/plain lf-string \"sni=%[ssl_fc_sni] dn=%[ssl_f_s_dn] alpn=%[ssl_fc_alpn] v=%[ssl_fc_protocol] c=%[ssl_c_used] cdn=%[ssl_c_s_dn] ssl=%[ssl_fc]\\n\"\n";

fn http_cfg(bind: &str) -> String {
    format!("{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ {bind}\n{SHOW}")
}

#[tokio::test]
async fn sni_picks_exact_then_wildcard_then_the_first_certificate() {
    let lb = Lbd::start(&http_cfg(&format!(
        "ssl crt {} crt {}",
        data("www.example.test.pem"),
        data("other.test.pem")
    )))
    .await;
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("sni=other.test dn=/CN=other.test "), "{body}");
    assert!(
        body.contains("v=TLSv1.3") && body.contains("ssl=1"),
        "{body}"
    );
    let (code, body) = curl(lb.port, "www.example.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("dn=/CN=www.example.test "), "{body}");
    // The wildcard of the first certificate.
    let (code, body) = curl(lb.port, "api.example.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(
        body.contains("sni=api.example.test dn=/CN=www.example.test"),
        "{body}"
    );
    // No match: the first certificate loaded.
    assert_eq!(
        served_subject(lb.port, "unknown.test").await.as_deref(),
        Some("CN=www.example.test")
    );
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=other.test")
    );
}

#[tokio::test]
async fn strict_sni_refuses_unknown_names_and_logs_the_failure() {
    let lb = Lbd::start(&format!(
        "global\n    log stderr format raw local0\n{}    log global\n",
        http_cfg(&format!("ssl crt {} strict-sni", data("other.test.pem")))
    ))
    .await;
    assert_eq!(served_subject(lb.port, "unknown.test").await, None);
    lb.wait_for_log("fe/1: SSL handshake failure").await;
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("sni=other.test"), "{body}");
}

#[tokio::test]
async fn alpn_negotiates_what_the_bind_lists() {
    let lb = Lbd::start(&http_cfg(&format!(
        "ssl crt {} alpn http/1.1",
        data("other.test.pem")
    )))
    .await;
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("alpn=http/1.1"), "{body}");
    // A client offering only h2 gets no ALPN protocol, as with HAProxy (rustls alone
    // would end the handshake).
    let s = tls_connect(lb.port, "other.test", &["h2"]).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), None);
}

#[tokio::test]
async fn alpn_h2_serves_http2_and_http1_on_one_bind() {
    let lb = Lbd::start(&http_cfg(&format!(
        "ssl crt {} alpn h2,http/1.1",
        data("other.test.pem")
    )))
    .await;
    let (code, body) = curl(
        lb.port,
        "other.test",
        &["--http2", "-w", "|%{http_version}"],
    )
    .await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("alpn=h2") && body.ends_with("|2"), "{body}");
    let (code, body) = curl(lb.port, "other.test", &["-w", "|%{http_version}"]).await;
    assert_eq!(code, 0, "{body}");
    assert!(
        body.contains("alpn=http/1.1") && body.ends_with("|1.1"),
        "{body}"
    );
}

#[tokio::test]
async fn client_certificates_required_optional_and_untrusted() {
    let ca = data("ca.crt");
    let lb = Lbd::start(&format!(
        "global\n    log stderr format raw local0\n{HTTP_DEFAULTS}    log global\n\
         frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {} verify required ca-file {ca}\n\
         bind 127.0.0.1:@FE2@ ssl crt {} verify optional ca-file {ca}\n{SHOW}",
        data("other.test.pem"),
        data("other.test.pem")
    ))
    .await;
    let cert = data("client.pem");
    let (code, body) = curl(lb.port, "other.test", &["--cert", &cert]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("c=1 cdn=/CN=client.example.test"), "{body}");
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_ne!(code, 0, "served without a certificate: {body}");
    // Optional: served without one.
    let (code, body) = curl(lb.port2, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("c=0 cdn= "), "{body}");
    // A self-signed certificate is refused.
    let dir = std::env::temp_dir().join(format!("lbd-tls-self-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("self.pem");
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=intruder", "-keyout"])
        .arg(&pem)
        .arg("-out")
        .arg(dir.join("self.crt"))
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok);
    let mut both = std::fs::read(dir.join("self.crt")).unwrap();
    both.extend(std::fs::read(&pem).unwrap());
    std::fs::write(&pem, both).unwrap();
    let (code, body) = curl(
        lb.port2,
        "other.test",
        &["--cert", &pem.display().to_string()],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(code, 0, "served with an untrusted certificate: {body}");
    lb.wait_for_log("fe/2: SSL client certificate not trusted")
        .await;
}

#[tokio::test]
async fn tcp_mode_terminates_tls_and_content_rules_read_clear_bytes() {
    let echo = TcpOrigin::start(TcpMode::Echo).await;
    let lb = Lbd::start(&format!(
        "{TCP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {}\n\
         tcp-request inspect-delay 2s\n    tcp-request content reject if {{ req.payload(0,4) -m str QUIT }}\n\
         tcp-request content accept if {{ req.len ge 4 }}\n    default_backend be\n\
         backend be\n    server e {}\n",
        data("other.test.pem"),
        echo.hostport()
    ))
    .await;
    let mut s = tls_connect(lb.port, "other.test", &[]).await;
    s.write_all(b"hello over tls").await.unwrap();
    let mut got = vec![0u8; 14];
    within(DEADLINE, "echo", s.read_exact(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"hello over tls");
    // The content rule read the clear bytes.
    let mut s = tls_connect(lb.port, "other.test", &[]).await;
    s.write_all(b"QUIT now").await.unwrap();
    let mut rest = Vec::new();
    let _ = within(DEADLINE, "close", s.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn redirect_to_https_and_sni_in_a_header() {
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {}\n    bind 127.0.0.1:@FE2@\n\
         http-request redirect scheme https if !{{ ssl_fc }}\n\
         http-request set-header x-sni %[ssl_fc_sni]\n\
         http-request return status 200 content-type text/plain lf-string \"sni=%[req.hdr(x-sni)]\"\n",
        data("other.test.pem")
    ))
    .await;
    let r = get(lb.port2, "/p").await;
    assert_eq!(r.status, 302);
    assert!(
        r.header("location").starts_with("https://"),
        "{:?}",
        r.header("location")
    );
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert_eq!(body, "sni=other.test");
}

#[tokio::test]
async fn keep_alive_survives_parking_and_pipelined_requests_in_one_record() {
    let lb = Lbd::start(&http_cfg(&format!("ssl crt {}", data("other.test.pem")))).await;
    let mut s = tls_connect(lb.port, "other.test", &[]).await;
    let req = b"GET / HTTP/1.1\r\nhost: other.test\r\n\r\n";
    for _ in 0..3 {
        s.write_all(req).await.unwrap();
        let r = read_response(&mut s).await;
        assert!(r.contains("sni=other.test"), "{r}");
        // Idle long enough for the connection to be parked.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // Two requests in one write (one TLS record): both are answered.
    let two = [&req[..], &req[..]].concat();
    s.write_all(&two).await.unwrap();
    let r = read_response(&mut s).await;
    let n = r.matches("HTTP/1.1 200").count();
    let r = if n < 2 {
        r + &read_response(&mut s).await
    } else {
        r
    };
    assert_eq!(r.matches("HTTP/1.1 200").count(), 2, "{r}");
}

#[tokio::test]
async fn a_bad_certificate_on_reload_keeps_the_old_one_and_a_good_one_is_used() {
    let dir = std::env::temp_dir().join(format!("lbd-tls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert: PathBuf = dir.join("site.pem");
    std::fs::copy(data("other.test.pem"), &cert).unwrap();
    let cfg = http_cfg(&format!("ssl crt {}", cert.display()));
    let lb = Lbd::start(&cfg).await;
    let cfg = cfg.replace("@FE@", &lb.port.to_string());
    std::fs::copy(data("nokey.pem"), &cert).unwrap();
    let line = lb.reload(&cfg).await;
    assert!(line.contains("Reload failed"), "{line}");
    assert!(
        lb.stderr().contains(&format!(
            "unable to load SSL private key from PEM file '{}'",
            cert.display()
        )),
        "{}",
        lb.stderr()
    );
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("dn=/CN=other.test"), "{body}");
    // A good new certificate: the kept listener serves it.
    std::fs::copy(data("www.example.test.pem"), &cert).unwrap();
    let line = lb.reload(&cfg).await;
    assert!(line.contains("Reload complete"), "{line}");
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=www.example.test")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reports_bad_tls_files_and_settings_with_their_line() {
    let dir = std::env::temp_dir().join(format!("lbd-tls-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.cfg");
    let list = dir.join("l.crt-list");
    std::fs::write(
        &list,
        format!(
            "{} [alpn h2] a.test !b.a.test\n{}\n",
            data("other.test.pem"),
            data("absent.pem")
        ),
    )
    .unwrap();
    let cases = [
        (format!("ssl crt {}", data("nokey.pem")), "'bind :8443' : unable to load SSL private key from PEM file"),
        (format!("ssl crt {}", data("absent.pem")), "unable to stat SSL certificate from file"),
        (format!("ssl crt {} ssl-max-ver TLSv1.1", data("other.test.pem")), "'ssl-max-ver' : TLSv1.1 is not supported by lbd (rustls implements TLSv1.2 and TLSv1.3 only)."),
        (format!("ssl crt {} ciphers AES128-SHA", data("other.test.pem")), "unable to set SSL cipher list to 'AES128-SHA'"),
        (format!("ssl crt {} verify required", data("other.test.pem")), "verify is enabled but no CA file specified."),
        ("ssl".to_string(), "no SSL certificate specified for bind ':8443' (use 'crt')."),
        (format!("ssl crt-list {}", list.display()), "'crt-list' : error processing line 2 in file"),
    ];
    for (bind, want) in cases {
        std::fs::write(
            &f,
            format!("{HTTP_DEFAULTS}frontend fe\n    bind :8443 {bind}\n{SHOW}"),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
            .arg("-c")
            .arg("-f")
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bind}: {err}");
        assert!(
            err.contains(&format!("parsing [{}:7] : ", f.display())),
            "{bind}: {err}"
        );
        assert!(err.contains(want), "{bind}: want {want:?} in {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn log_formats_show_the_tls_version_suite_and_sni() {
    let lb = Lbd::start(&format!(
        "global\n    log stderr format raw local0\n{HTTP_DEFAULTS}    log global\n\
         frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {} ssl-max-ver TLSv1.2 ciphers ECDHE-RSA-AES128-GCM-SHA256\n\
         bind 127.0.0.1:@FE2@\n    log-format \"%ft tls=%sslv/%sslc sni=%[ssl_fc_sni]\"\n{SHOW}",
        data("other.test.pem")
    ))
    .await;
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("v=TLSv1.2"), "{body}");
    lb.wait_for_log("fe~ tls=TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256 sni=other.test")
        .await;
    get(lb.port2, "/").await;
    lb.wait_for_log("fe tls=-/- sni=-").await;
}

#[tokio::test]
async fn crt_list_filters_wildcards_negations_and_line_options() {
    let dir = std::env::temp_dir().join(format!("lbd-tls-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("certs.crt-list");
    std::fs::write(
        &list,
        format!(
            "# comment\n{} other.test\n{} [alpn http/1.1] *.example.test !no.example.test\n",
            data("other.test.pem"),
            data("www.example.test.pem")
        ),
    )
    .unwrap();
    let lb = Lbd::start(&http_cfg(&format!("ssl crt-list {}", list.display()))).await;
    let (code, body) = curl(lb.port, "a.example.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(
        body.contains("dn=/CN=www.example.test alpn=http/1.1"),
        "{body}"
    );
    // `!no.example.test`: not this certificate, so the default (the first line's).
    assert_eq!(
        served_subject(lb.port, "no.example.test").await.as_deref(),
        Some("CN=other.test")
    );
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("dn=/CN=other.test alpn= "), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn resumed_sessions_proxy_headers_and_httpslog() {
    let lb = Lbd::start(&format!(
        "global\n    log stderr format raw local0\n{HTTP_DEFAULTS}    log global\n    option httpslog\n\
         frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {} accept-proxy\n\
         http-request return status 200 content-type text/plain lf-string \"src=%[src] r=%[ssl_fc_is_resumed]\"\n",
        data("other.test.pem")
    ))
    .await;
    let cfg = client_config(&[]);
    let req = b"GET / HTTP/1.1\r\nhost: other.test\r\n\r\n";
    for resumed in ["0", "1"] {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", lb.port))
            .await
            .unwrap();
        // The PROXY header comes before the TLS handshake.
        tcp.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 4000 443\r\n")
            .await
            .unwrap();
        let mut s = tls_over(tcp, "other.test", cfg.clone()).await;
        s.write_all(req).await.unwrap();
        let r = read_response(&mut s).await;
        assert!(r.ends_with(&format!("src=192.0.2.7 r={resumed}")), "{r}");
        // TLS 1.3 tickets arrive after the handshake: let the client read them.
        drop(s);
    }
    lb.wait_for_log("\"GET / HTTP/1.1\" 0/0/0/0/1 other.test/TLSv1.3/TLS_")
        .await;
}

#[tokio::test]
async fn ignored_certificate_errors_reach_ssl_c_verify() {
    // A client certificate from a CA lbd does not trust.
    let dir = std::env::temp_dir().join(format!("lbd-tls-rogue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sh = format!(
        "cd {} && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue-ca -keyout ca.key -out ca.crt && \
         openssl req -newkey rsa:2048 -nodes -subj /CN=rogue -keyout c.key -out c.csr && \
         printf 'basicConstraints=CA:FALSE\\n' > ext && \
         openssl x509 -req -in c.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out c.crt && \
         cat c.crt c.key > c.pem",
        dir.display()
    );
    let ok = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let rogue = dir.join("c.pem").display().to_string();
    let ca = data("ca.crt");
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {} verify optional ca-file {ca} crt-ignore-err all\n\
         bind 127.0.0.1:@FE2@ ssl crt {} verify optional ca-file {ca} ca-ignore-err 10,23\n\
         http-request return status 200 content-type text/plain lf-string \"v=%[ssl_c_verify] e=%[ssl_c_err] c=%[ssl_c_used]\"\n",
        data("other.test.pem"),
        data("other.test.pem")
    ))
    .await;
    let (code, body) = curl(lb.port, "other.test", &["--cert", &rogue]).await;
    assert_eq!(code, 0, "{body}");
    assert_eq!(body, "v=20 e=20 c=1");
    let (code, body) = curl(lb.port, "other.test", &["--cert", &data("client.pem")]).await;
    assert_eq!(code, 0, "{body}");
    assert_eq!(body, "v=0 e=0 c=1");
    // Only 10 and 23 are let through there.
    let (code, body) = curl(lb.port2, "other.test", &["--cert", &rogue]).await;
    assert_ne!(code, 0, "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_stalled_handshake_times_out_without_holding_other_clients() {
    let lb = Lbd::start(&format!(
        "global\n    log stderr format raw local0\ndefaults\n    mode http\n    log global\n    timeout client 300ms\n\
         frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {}\n{SHOW}\
         frontend st\n    bind 127.0.0.1:@FE2@\n    stats enable\n    stats uri /s\n",
        data("other.test.pem")
    ))
    .await;
    // Connected, silent: the handshake waits in its own task.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", lb.port))
        .await
        .unwrap();
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    // `timeout client` ends it.
    let mut buf = [0u8; 16];
    let n = within(
        DEADLINE,
        "the silent client is closed",
        silent.read(&mut buf),
    )
    .await
    .unwrap_or(0);
    assert_eq!(n, 0);
    lb.wait_for_log("fe/1: Timeout during SSL handshake").await;
    // Not TLS at all: refused, logged, and the listener goes on.
    let r = raw(lb.port, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(!r.contains("200"), "{r}");
    lb.wait_for_log("fe/1: SSL handshake failure").await;
    let (code, body) = curl(lb.port, "other.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    let stats = get(lb.port2, "/s;json").await;
    assert!(
        stats.body.contains("\"name\":\"fe\",") && stats.body.contains("\"tls_failed\":2,"),
        "{}",
        stats.body
    );
}

#[tokio::test]
async fn a_crt_directory_loads_each_file_with_its_key_file() {
    let dir = std::env::temp_dir().join(format!("lbd-tls-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["other.test.pem", "split.pem", "split.pem.key"] {
        std::fs::copy(data(f), dir.join(f)).unwrap();
    }
    let lb = Lbd::start(&http_cfg(&format!("ssl crt {} strict-sni", dir.display()))).await;
    assert_eq!(
        served_subject(lb.port, "split.example.test")
            .await
            .as_deref(),
        Some("CN=split.example.test")
    );
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=other.test")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crt_base_ca_base_and_global_defaults_are_applied() {
    // Server `crt` is relative to crt-base and `ca-file` to ca-base too, as in HAProxy.
    let dir = std::env::temp_dir().join(format!("lbd-tls-base-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.cfg");
    let base = Path::new(&data("ca.crt"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let run = |global: &str| {
        std::fs::write(
            &f,
            format!(
                "global\n    crt-base {base}\n    ca-base {base}\n{global}{HTTP_DEFAULTS}frontend fe\n    bind :8443 ssl crt other.test.pem verify optional ca-file ca.crt\n{SHOW}backend be\n    server s 127.0.0.1:1 ssl crt client.pem ca-file ca.crt verify required\n"
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
            .args(["-c", "-f"])
            .arg(&f)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n    ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("rustls does not implement DHE-RSA-AES128-GCM-SHA256: ignored (kept: ECDHE-RSA-AES128-GCM-SHA256)."),
        "{err}"
    );
    // A global default that leaves no version: every ssl bind after it is refused.
    let (code, err) = run("    ssl-default-bind-options ssl-max-ver TLSv1.2 no-tlsv12\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("all SSL/TLS versions are disabled for bind ':8443'."),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_revoked_client_certificate_is_refused_with_crl_file() {
    // A CRL from the test CA revoking the test client certificate.
    let dir = std::env::temp_dir().join(format!("lbd-tls-crl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sh = format!(
        "cd {d} && touch index.txt && echo 1000 > crlnumber && \
         printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=index.txt\\ncrlnumber=crlnumber\\ndefault_md=sha256\\ndefault_crl_days=30\\n' > ca.cnf && \
         openssl x509 -in {client} -out client.crt && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -revoke client.crt && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -gencrl -out revoked.crl && \
         rm index.txt && touch index.txt && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -gencrl -out empty.crl",
        d = dir.display(),
        client = data("client.pem"),
        key = data("ca.key"),
        ca = data("ca.crt"),
    );
    let out = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let ca = data("ca.crt");
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {crt} verify required ca-file {ca} crl-file {}\n\
         bind 127.0.0.1:@FE2@ ssl crt {crt} verify required ca-file {ca} crl-file {}\n{SHOW}",
        dir.join("revoked.crl").display(),
        dir.join("empty.crl").display(),
        crt = data("other.test.pem"),
    ))
    .await;
    let cert = data("client.pem");
    let (code, body) = curl(lb.port, "other.test", &["--cert", &cert]).await;
    assert_ne!(code, 0, "a revoked certificate was accepted: {body}");
    let (code, body) = curl(lb.port2, "other.test", &["--cert", &cert]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("cdn=/CN=client.example.test"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_x509_v1_certificate_is_served_and_reached_with_verify_none_and_ssl_s_fetches() {
    // A v1 certificate with the CA after it as its chain.
    let dir = std::env::temp_dir().join(format!("lbd-tls-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let crt = dir.join("v1-chain.pem");
    let pem = std::fs::read_to_string(data("v1.pem")).unwrap()
        + &std::fs::read_to_string(data("ca.crt")).unwrap();
    std::fs::write(&crt, pem).unwrap();
    // As HAProxy's reg-tests chain a clear listener to their TLS one.
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend clear\n    bind 127.0.0.1:@FE@\n    default_backend tls\nbackend tls\n    http-response set-header x-srv \"%[ssl_s_s_dn(CN)] %[ssl_s_version] %[ssl_s_sha1,hex]\"\n    http-response set-header x-chain %[ssl_s_chain_der,hex]\n    server s1 127.0.0.1:@FE2@ ssl verify none sni str(v1.example.test)\nfrontend fe\n    bind 127.0.0.1:@FE2@ ssl crt {}\n{SHOW}",
        crt.display()
    ))
    .await;
    assert_eq!(
        served_subject(lb.port2, "v1.example.test").await.as_deref(),
        Some("CN=v1.example.test")
    );
    let r = get(lb.port, "/").await;
    assert_eq!(r.status, 200, "{}", lb.stderr());
    assert!(
        r.body
            .contains("sni=v1.example.test dn=/CN=v1.example.test "),
        "{}",
        r.body
    );
    // The server's certificates through the ssl_s_* fetches.
    let ck = lbd::tls::load_cert_key(&crt).unwrap();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let sha1 = hex(&<sha1::Sha1 as sha1::Digest>::digest(
        ck.certified.cert[0].as_ref(),
    ));
    assert_eq!(r.header("x-srv"), format!("v1.example.test 1 {sha1}"));
    assert_eq!(ck.certified.cert.len(), 2);
    assert_eq!(
        r.header("x-chain"),
        hex(ck.certified.cert[0].as_ref()) + &hex(ck.certified.cert[1].as_ref())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
