//! Certificate verification as OpenSSL does it, where webpki alone would refuse:
//! X.509 v1 client certificates and v1 CRLs (as HAProxy's own test files are), the
//! error `ssl_c_verify` reports when `crt-ignore-err` lets several through, the
//! client's chain (`ssl_c_chain_der`), and a server's v1 certificate under `verify
//! required`.

mod common;
#[path = "common/tls.rs"]
mod tls;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use tls::*;

const SHOW: &str = "    http-request return status 200 content-type text/plain lf-string \"verify=%[ssl_c_verify] cdn=%[ssl_c_s_dn] chain=%[ssl_c_chain_der,hex] na=%[ssl_c_notafter]\\n\"\n";

/// A scratch directory removed at the end.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes v1 CRLs of the test CA (`openssl ca` without a crlnumber or CRL extensions
/// writes version 1): `revoked.crl` revoking v1.pem, `empty.crl` revoking nothing;
/// and `v1-chain.pem`, the v1 client certificate with the CA after it and its key.
fn v1_material(tag: &str) -> Dir {
    let dir = std::env::temp_dir().join(format!("lbd-tls-verify-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sh = format!(
        "cd {d} && touch index.txt && \
         printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=index.txt\\ndefault_md=sha256\\ndefault_crl_days=30\\n' > ca.cnf && \
         openssl x509 -in {v1} -out v1.crt && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -gencrl -out empty.crl && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -revoke v1.crt && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -gencrl -out revoked.crl && \
         cat {v1} {ca} > v1-chain.pem",
        d = dir.display(),
        v1 = data("v1.pem"),
        key = data("ca.key"),
        ca = data("ca.crt"),
    );
    let out = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in"])
        .arg(dir.join("revoked.crl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Version 1 (0x0)"), "{text}");
    Dir(dir)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02X}")).collect()
}

#[tokio::test]
async fn v1_client_certificates_and_v1_crls_verify_as_with_openssl() {
    let d = v1_material("bind");
    let ca = data("ca.crt");
    let crt = data("other.test.pem");
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {crt} verify required ca-file {ca} crl-file {revoked}\n\
         bind 127.0.0.1:@FE2@ ssl crt {crt} verify required ca-file {ca} crl-file {empty}\n{SHOW}",
        revoked = d.0.join("revoked.crl").display(),
        empty = d.0.join("empty.crl").display(),
    ))
    .await;
    let cert = d.0.join("v1-chain.pem").display().to_string();
    // Revoked by the v1 CRL: refused.
    let (code, body) = curl(lb.port, "other.test", &["--cert", &cert]).await;
    assert_ne!(code, 0, "a revoked certificate was accepted: {body}");
    // Not revoked: the v1 certificate verifies, and its chain is the CA.
    let (code, body) = curl(lb.port2, "other.test", &["--cert", &cert]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("verify=0 cdn=/CN=v1.example.test "), "{body}");
    let ca_der = lbd::tls::load_ca_certs(Path::new(&ca)).unwrap();
    assert!(
        body.contains(&format!("chain={} ", hex(ca_der[0].as_ref()))),
        "{body}"
    );
    // 2126 is a GeneralizedTime outside the 2000s: HAProxy returns nothing.
    assert!(body.contains(" na=\n"), "{body}");
    // A certificate of another CA is refused.
    let (code, _) = curl(lb.port2, "other.test", &["--cert", &data("wrongca.pem")]).await;
    assert_ne!(code, 0);
}

#[tokio::test]
async fn crt_ignore_err_lets_errors_through_and_ssl_c_verify_tells_them() {
    let d = v1_material("ignore");
    let ca = data("ca.crt");
    let crt = data("other.test.pem");
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {crt} verify optional ca-file {ca} crl-file {revoked} crt-ignore-err all\n\
         bind 127.0.0.1:@FE2@ ssl crt {crt} verify optional ca-file {ca} crt-ignore-err 10\n{SHOW}",
        revoked = d.0.join("revoked.crl").display(),
    ))
    .await;
    let cert = d.0.join("v1-chain.pem").display().to_string();
    let (code, body) = curl(lb.port, "other.test", &["--cert", &cert]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("verify=23 "), "revoked: {body}");
    // A certificate signed by an unknown CA: 20, which `crt-ignore-err 10` does not
    // let through.
    let (code, _) = curl(lb.port2, "other.test", &["--cert", &data("wrongca.pem")]).await;
    assert_ne!(code, 0);
    let (code, body) = curl(lb.port2, "other.test", &["--cert", &data("client.pem")]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("verify=0 "), "{body}");
}

#[tokio::test]
async fn a_server_with_a_v1_certificate_passes_verify_required() {
    let d = v1_material("srv");
    let ca = data("ca.crt");
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend clear\n    bind 127.0.0.1:@FE@\n    use_backend bad if {{ path /bad }}\n    default_backend good\n\
         backend good\n    server s1 127.0.0.1:@FE2@ ssl verify required ca-file {ca} crl-file {empty} sni str(v1.example.test)\n\
         backend bad\n    server s1 127.0.0.1:@FE2@ ssl verify required ca-file {ca} crl-file {revoked} sni str(v1.example.test)\n\
         frontend fe\n    bind 127.0.0.1:@FE2@ ssl crt {crt}\n    http-request return status 200 content-type text/plain string ok\n",
        empty = d.0.join("empty.crl").display(),
        revoked = d.0.join("revoked.crl").display(),
        crt = d.0.join("v1-chain.pem").display(),
    ))
    .await;
    let r = get(lb.port, "/").await;
    assert_eq!(r.status, 200, "{}", lb.stderr());
    assert_eq!(r.body, "ok");
    // Revoked by the server's CRL: the handshake fails.
    let r = get(lb.port, "/bad").await;
    assert_eq!(r.status, 503, "{}", r.body);
}
