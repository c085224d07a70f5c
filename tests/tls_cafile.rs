//! CA and CRL files changed over the runtime socket, as with HAProxy's `set ssl
//! ca-file` / `set ssl crl-file` + `commit`: the next handshakes verify client
//! certificates with the new content, and the commands answer in HAProxy's words.

mod common;
#[allow(dead_code)]
#[path = "common/sock.rs"]
mod sock;
#[path = "common/tls.rs"]
mod tls;

use common::*;
use sock::{cli, SockDir};
use std::path::{Path, PathBuf};
use std::process::Command;
use tls::*;

const SHOW: &str = "    http-request return status 200 content-type text/plain lf-string \"verify=%[ssl_c_verify]\\n\"\n";

/// Makes, in `dir`: `new-ca.crt`, another CA, and `new-client.pem` a client
/// certificate it signed; `empty.crl` and `revoked.crl`, CRLs of the test CA, the
/// second revoking client.pem.
fn material(dir: &Path) {
    let sh = format!(
        "cd {d} && touch index.txt && \
         printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=index.txt\\ndefault_md=sha256\\ndefault_crl_days=30\\n' > ca.cnf && \
         openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=lbd new CA' -keyout new-ca.key -out new-ca.crt 2>/dev/null && \
         openssl req -newkey rsa:2048 -nodes -subj '/CN=new.client.test' -keyout nc.key -out nc.csr 2>/dev/null && \
         openssl x509 -req -in nc.csr -CA new-ca.crt -CAkey new-ca.key -CAcreateserial -days 30 -out nc.crt 2>/dev/null && \
         cat nc.crt nc.key > new-client.pem && \
         openssl x509 -in {client} -out client.crt && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -gencrl -out empty.crl 2>/dev/null && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -revoke client.crt 2>/dev/null && \
         openssl ca -config ca.cnf -keyfile {key} -cert {ca} -gencrl -out revoked.crl 2>/dev/null",
        d = dir.display(),
        client = data("client.pem"),
        key = data("ca.key"),
        ca = data("ca.crt"),
    );
    let out = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn p(dir: &SockDir, name: &str) -> PathBuf {
    PathBuf::from(dir.path(name))
}

#[tokio::test]
async fn a_committed_ca_file_verifies_the_next_client_certificates() {
    let dir = SockDir::new();
    material(&p(&dir, ""));
    let sock = dir.sock();
    let ca = dir.path("ca.crt");
    std::fs::copy(data("ca.crt"), &ca).unwrap();
    let crt = data("other.test.pem");
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {crt} verify required ca-file {ca}\n{SHOW}"
    ))
    .await;
    let new_client = dir.path("new-client.pem");
    let (code, _) = curl(lb.port, "other.test", &["--cert", &new_client]).await;
    assert_ne!(code, 0, "a certificate of an unknown CA was accepted");
    let (code, body) = curl(lb.port, "other.test", &["--cert", &data("client.pem")]).await;
    assert_eq!(code, 0, "{body}");

    assert_eq!(
        cli(&sock, "show ssl ca-file").await,
        format!("# filename\n{ca} - 1 certificate(s)\n\n")
    );
    let new_ca = std::fs::read_to_string(dir.path("new-ca.crt")).unwrap();
    assert_eq!(
        cli(&sock, &format!("set ssl ca-file {ca} <<\n{new_ca}")).await,
        format!("transaction created for CA {ca}!\n\n")
    );
    assert_eq!(
        cli(&sock, "set ssl ca-file /other.crt <<\nx\n").await,
        format!("The ongoing transaction is about '{ca}' but you are trying to set '/other.crt'\nCan't update /other.crt!\n\n")
    );
    let list = cli(&sock, "show ssl ca-file").await;
    assert_eq!(
        list,
        format!("# transaction\n*{ca} - 1 certificate(s)\n# filename\n{ca} - 1 certificate(s)\n\n")
    );
    let pending = cli(&sock, &format!("show ssl ca-file *{ca}:1")).await;
    assert!(
        pending.starts_with(&format!(
            "Filename: *{ca}\nStatus: Unused\n\nCertificate #1:\nSerial: "
        )),
        "{pending}"
    );
    assert!(pending.contains("\nSubject: /CN=lbd new CA\n"), "{pending}");
    // Not committed yet: still refused.
    let (code, _) = curl(lb.port, "other.test", &["--cert", &new_client]).await;
    assert_ne!(code, 0);

    let commit = cli(&sock, &format!("commit ssl ca-file {ca}")).await;
    assert_eq!(commit, format!("Committing {ca}.\nSuccess!\n\n"));
    let (code, body) = curl(lb.port, "other.test", &["--cert", &new_client]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("verify=0"), "{body}");
    // The old CA is gone from the file.
    let (code, _) = curl(lb.port, "other.test", &["--cert", &data("client.pem")]).await;
    assert_ne!(code, 0);
    let shown = cli(&sock, &format!("show ssl ca-file {ca}")).await;
    assert!(
        shown.starts_with(&format!("Filename: {ca}\nStatus: Used\n")),
        "{shown}"
    );
    assert_eq!(
        cli(&sock, &format!("del ssl ca-file {ca}")).await,
        format!("Can't remove the CA file: CA file '{ca}' in use, can't be deleted!\n\n\n")
    );
    assert_eq!(
        cli(&sock, "new ssl ca-file extra.crt").await,
        "New CA file created 'extra.crt'!\n\n"
    );
    assert!(cli(&sock, "show ssl ca-file extra.crt")
        .await
        .starts_with("Filename: extra.crt\nStatus: Empty\n"));
    assert_eq!(
        cli(&sock, "del ssl ca-file extra.crt").await,
        "CA file 'extra.crt' deleted!\n\n"
    );
    assert_eq!(
        cli(&sock, "show ssl ca-file extra.crt").await,
        "Can't display the CA file : Not found!\n\n"
    );
}

#[tokio::test]
async fn a_committed_crl_file_revokes_a_client_certificate() {
    let dir = SockDir::new();
    material(&p(&dir, ""));
    let sock = dir.sock();
    let crl = dir.path("empty.crl");
    let ca = data("ca.crt");
    let crt = data("other.test.pem");
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {crt} verify required ca-file {ca} crl-file {crl}\n{SHOW}"
    ))
    .await;
    let (code, body) = curl(lb.port, "other.test", &["--cert", &data("client.pem")]).await;
    assert_eq!(code, 0, "{body}");

    let shown = cli(&sock, &format!("show ssl crl-file {crl}")).await;
    assert!(
        shown.starts_with(&format!(
            "Filename: {crl}\nStatus: Used\n\nCertificate Revocation List #1:\nVersion 1\nSignature Algorithm: sha256WithRSAEncryption\nIssuer: /CN=lbd test CA\nLast Update: "
        )),
        "{shown}"
    );
    assert!(shown.ends_with("No Revoked Certificates.\n\n"), "{shown}");
    let revoked = std::fs::read_to_string(dir.path("revoked.crl")).unwrap();
    assert_eq!(
        cli(&sock, &format!("set ssl crl-file {crl} <<\n{revoked}")).await,
        format!("transaction created for CA {crl}!\n\n")
    );
    assert_eq!(
        cli(&sock, "show ssl crl-file").await,
        format!("# transaction\n*{crl}\n# filename\n{crl}\n\n")
    );
    let pending = cli(&sock, &format!("show ssl crl-file *{crl}")).await;
    assert!(
        pending.contains("Revoked Certificates:\n    Serial Number: "),
        "{pending}"
    );
    assert!(pending.contains("\n        Revocation Date: "), "{pending}");
    assert_eq!(
        cli(&sock, &format!("abort ssl crl-file {crl}")).await,
        format!("Transaction aborted for certificate '{crl}'!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("commit ssl crl-file {crl}")).await,
        format!("No ongoing transaction! !\nCan't commit {crl}!\n\n")
    );
    cli(&sock, &format!("set ssl crl-file {crl} <<\n{revoked}")).await;
    let (code, _) = curl(lb.port, "other.test", &["--cert", &data("client.pem")]).await;
    assert_eq!(code, 0, "not committed yet");
    assert_eq!(
        cli(&sock, &format!("commit ssl crl-file {crl}")).await,
        format!("Committing {crl}.\nSuccess!\n\n")
    );
    let (code, _) = curl(lb.port, "other.test", &["--cert", &data("client.pem")]).await;
    assert_ne!(code, 0, "a revoked certificate was accepted");
    assert_eq!(
        cli(&sock, "set ssl crl-file /nowhere.crl <<\nx\n").await,
        "Can't replace a CRL file which is not referenced by the configuration!\nCan't update /nowhere.crl!\n\n"
    );
}

#[tokio::test]
async fn a_committed_ca_file_lets_a_server_pass_verify_required() {
    let dir = SockDir::new();
    material(&p(&dir, ""));
    let sock = dir.sock();
    // The servers' CA file first holds another CA than the one that signed the
    // certificate of the TLS listener they connect to.
    let ca = dir.path("server-ca.crt");
    std::fs::copy(dir.path("new-ca.crt"), &ca).unwrap();
    let crt = data("www.example.test.pem");
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend clear\n    bind 127.0.0.1:@FE@\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:@FE2@ ssl verify required ca-file {ca} sni str(www.example.test)\n\
         frontend tls\n    bind 127.0.0.1:@FE2@ ssl crt {crt}\n    http-request return status 200 content-type text/plain string ok\n"
    ))
    .await;
    assert_eq!(get(lb.port, "/").await.status, 503);
    let good = std::fs::read_to_string(data("ca.crt")).unwrap();
    cli(&sock, &format!("set ssl ca-file {ca} <<\n{good}")).await;
    assert_eq!(get(lb.port, "/").await.status, 503, "not committed yet");
    assert_eq!(
        cli(&sock, &format!("commit ssl ca-file {ca}")).await,
        format!("Committing {ca}.\nSuccess!\n\n")
    );
    assert_eq!(get(lb.port, "/").await.status, 200);
}
