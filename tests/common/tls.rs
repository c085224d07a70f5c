//! TLS clients for the integration tests (`tests/tls_*.rs`), next to the serving
//! harness in `common/mod.rs` (included with `#[path]`): the test certificates
//! ([`data`]), curl and openssl s_client runs, and a rustls client trusting the test CA.

#![allow(dead_code)]

use crate::common::{within, DEADLINE};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

pub fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
        .display()
        .to_string()
}

/// Runs curl over TLS to `name` (resolved to 127.0.0.1) on `port`; (exit code, body).
pub async fn curl(port: u16, name: &str, extra: &[&str]) -> (i32, String) {
    let (port, name) = (port.to_string(), name.to_string());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "--http1.1", "--cacert"])
            .arg(data("ca.crt"))
            .arg("--resolve")
            .arg(format!("{name}:{port}:127.0.0.1"))
            .args(&extra)
            .arg(format!("https://{name}:{port}/"))
            .output()
            .expect("run curl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    })
    .await
    .unwrap()
}

/// The subject openssl s_client sees with SNI `sni` (None: the handshake failed).
pub async fn served_subject(port: u16, sni: &str) -> Option<String> {
    let sni = sni.to_string();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("openssl")
            .args(["s_client", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-servername", &sni])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run openssl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("no peer certificate available") {
            return None;
        }
        text.lines()
            .find_map(|l| l.strip_prefix("subject="))
            .map(|s| s.replace(' ', ""))
    })
    .await
    .unwrap()
}

/// A rustls client configuration trusting the test CA.
pub fn client_config(alpn: &[&str]) -> Arc<rustls::ClientConfig> {
    let roots = lbd::tls::load_ca(Path::new(&data("ca.crt"))).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(lbd::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(cfg)
}

/// A TLS connection over `tcp` with `cfg`.
pub async fn tls_over(
    tcp: tokio::net::TcpStream,
    sni: &str,
    cfg: Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    within(
        DEADLINE,
        "TLS handshake",
        tokio_rustls::TlsConnector::from(cfg).connect(name, tcp),
    )
    .await
    .expect("handshake")
}

/// A rustls client connection to lbd (trusting the test CA).
pub async fn tls_connect(
    port: u16,
    sni: &str,
    alpn: &[&str],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tls_over(tcp, sni, client_config(alpn)).await
}

/// Reads one HTTP/1.1 response with a Content-Length body.
pub async fn read_response<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
        let n = within(DEADLINE, "read a response", s.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0, "closed after {text:?}");
        got.extend_from_slice(&buf[..n]);
    }
}
