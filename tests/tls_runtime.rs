//! Certificates changed over the runtime socket, as with HAProxy's `set ssl cert` +
//! `commit ssl cert`: new handshakes get the new certificate, an established keep-alive
//! connection goes on, a bad payload changes nothing, and a reload reads the files
//! from disk again.

mod common;
#[allow(dead_code)]
#[path = "common/sock.rs"]
mod sock;
#[path = "common/tls.rs"]
mod tls;

use common::*;
use sock::{cli, SockDir};
use tls::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(sock: &str, crt: &str) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt {crt}\n    http-request return status 200 content-type text/plain lf-string \"dn=%[ssl_f_s_dn]\\n\"\n"
    )
}

#[tokio::test]
async fn set_and_commit_swap_the_certificate_for_new_handshakes_only() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let crt = dir.path("site.pem");
    std::fs::copy(data("other.test.pem"), &crt).unwrap();
    let cfg = config(&sock, &crt);
    let lb = Lbd::start(&cfg).await;
    // A keep-alive connection made with the first certificate.
    let mut ka = tls_connect(lb.port, "other.test", &[]).await;
    let req = b"GET / HTTP/1.1\r\nhost: other.test\r\n\r\n";
    ka.write_all(req).await.unwrap();
    assert!(read_response(&mut ka).await.contains("dn=/CN=other.test"));

    assert_eq!(
        cli(&sock, "show ssl cert").await,
        format!("# filename\n{crt}\n\n")
    );
    let show = cli(&sock, &format!("show ssl cert {crt}")).await;
    assert!(
        show.starts_with(&format!("Filename: {crt}\nStatus: Used\nSerial: ")),
        "{show}"
    );
    assert!(show.contains("\nSubject: /CN=other.test\n"), "{show}");
    assert!(show.contains("\nAlgorithm: "), "{show}");

    // A bad payload: HAProxy's error, nothing changes.
    let bad = cli(
        &sock,
        &format!("set ssl cert {crt} <<\nnot a certificate\n"),
    )
    .await;
    assert_eq!(
        bad,
        format!("unable to load certificate from file '{crt}': no start line.\nCan't load the payload\nCan't update {crt}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("commit ssl cert {crt}")).await,
        format!("No ongoing transaction! !\nCan't commit {crt}!\n\n")
    );
    let pem = std::fs::read_to_string(data("www.example.test.pem")).unwrap();
    assert_eq!(
        cli(&sock, &format!("set ssl cert {crt} <<\n{pem}")).await,
        format!("Transaction created for certificate {crt}!\n\n")
    );
    let list = cli(&sock, "show ssl cert").await;
    assert_eq!(
        list,
        format!("# transaction\n*{crt}\n# filename\n{crt}\n\n")
    );
    let pending = cli(&sock, &format!("show ssl cert *{crt}")).await;
    assert!(
        pending.contains("\nSubject: /CN=www.example.test\n"),
        "{pending}"
    );
    // Not committed yet.
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=other.test")
    );
    assert_eq!(
        cli(&sock, &format!("commit ssl cert {crt}")).await,
        format!("Committing {crt}.\nSuccess!\n\n")
    );
    assert_eq!(
        served_subject(lb.port, "www.example.test").await.as_deref(),
        Some("CN=www.example.test")
    );
    let show = cli(&sock, &format!("show ssl cert {crt}")).await;
    assert!(show.contains("\nSubject: /CN=www.example.test\n"), "{show}");
    // The old connection keeps its session and certificate.
    ka.write_all(req).await.unwrap();
    assert!(read_response(&mut ka).await.contains("dn=/CN=other.test"));
    let (code, body) = curl(lb.port, "api.example.test", &[]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("dn=/CN=www.example.test"), "{body}");

    // An aborted transaction changes nothing.
    let other = std::fs::read_to_string(data("other.test.pem")).unwrap();
    cli(&sock, &format!("set ssl cert {crt} <<\n{other}")).await;
    assert_eq!(
        cli(&sock, &format!("abort ssl cert {crt}")).await,
        format!("Transaction aborted for certificate '{crt}'!\n\n")
    );
    assert_eq!(
        served_subject(lb.port, "x.example.test").await.as_deref(),
        Some("CN=www.example.test")
    );

    // A reload reads the file on disk again.
    let line = lb.reload(&cfg.replace("@FE@", &lb.port.to_string())).await;
    assert!(line.contains("Reload complete"), "{line}");
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=other.test")
    );
}

#[tokio::test]
async fn new_del_key_files_and_refusals_in_haproxys_words() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let crt = dir.path("site.pem");
    std::fs::copy(data("other.test.pem"), &crt).unwrap();
    let lb = Lbd::start(&config(&sock, &crt)).await;
    let spare = dir.path("spare.pem");
    assert_eq!(
        cli(&sock, &format!("new ssl cert {spare}")).await,
        format!("New empty certificate store '{spare}'!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("new ssl cert {crt}")).await,
        format!("Certificate '{crt}' already exists!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("show ssl cert {spare}")).await,
        format!("Filename: {spare}\nStatus: Empty\n\n")
    );
    // The certificate, then its key as FILE.key.
    let pem = std::fs::read_to_string(data("split.pem")).unwrap();
    let key = std::fs::read_to_string(data("split.pem.key")).unwrap();
    assert_eq!(
        cli(&sock, &format!("set ssl cert {spare} <<\n{pem}")).await,
        format!("Transaction created for certificate {spare}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("set ssl cert {crt} <<\n{pem}")).await,
        format!("The ongoing transaction is about '{spare}' but you are trying to set '{crt}'\nCan't update {crt}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("commit ssl cert {spare}")).await,
        format!("The transaction must contain at least a certificate and a private key!\nCan't commit {spare}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("set ssl cert {spare}.key <<\n{key}")).await,
        format!("Transaction updated for certificate {spare}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("commit ssl cert {spare}")).await,
        format!("Committing {spare}\nSuccess!\n\n")
    );
    let show = cli(&sock, &format!("show ssl cert {spare}")).await;
    assert!(
        show.starts_with(&format!("Filename: {spare}\nStatus: Unused\n")),
        "{show}"
    );
    assert_eq!(
        cli(&sock, &format!("del ssl cert {crt}")).await,
        format!(
            "Can't remove the certificate: certificate '{crt}' in use, can't be deleted!\n\n\n"
        )
    );
    assert_eq!(
        cli(&sock, &format!("del ssl cert {spare}")).await,
        format!("Certificate '{spare}' deleted!\n\n")
    );
    assert_eq!(
        cli(&sock, "set ssl cert /nowhere.pem <<\nx\n").await,
        "Can't replace a certificate which is not referenced by the configuration!\nCan't update /nowhere.pem!\n\n"
    );
    assert_eq!(
        cli(&sock, "show ssl cert /nowhere.pem").await,
        "Can't display the certificate: Not found or the certificate is a bundle!\n\n"
    );
    // A payload past 1 MiB is refused (read to its end, not kept).
    let mut s = tokio::net::UnixStream::connect(&sock).await.unwrap();
    let line = format!("{}\n", "A".repeat(63));
    let big = format!("set ssl cert {crt} <<\n{}\n", line.repeat(17_000));
    let (mut r, mut w) = s.split();
    let (_, answer) = within(DEADLINE, "oversized payload", async {
        tokio::join!(async { w.write_all(big.as_bytes()).await }, async {
            let mut out = String::new();
            let _ = r.read_to_string(&mut out).await;
            out
        })
    })
    .await;
    assert_eq!(answer, "Payload too large: at most 1048576 bytes.\n\n");
    // Still the configured certificate.
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=other.test")
    );
}

#[tokio::test]
async fn del_ext_keys_load_and_are_set_as_name_dot_key() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let crt = dir.path("site.crt");
    let key = dir.path("site.key");
    std::fs::copy(data("split.pem"), &crt).unwrap();
    std::fs::copy(data("split.pem.key"), &key).unwrap();
    let cfg = config(&sock, &crt).replace("global\n", "global\n    ssl-load-extra-del-ext\n");
    let lb = Lbd::start(&cfg).await;
    assert_eq!(
        served_subject(lb.port, "split.example.test")
            .await
            .as_deref(),
        Some("CN=split.example.test")
    );
    // The certificate alone, then its key as NAME.key, as HAProxy's set_ssl_cert_noext.
    let cert = std::fs::read_to_string(data("nokey.pem")).unwrap();
    let other = std::fs::read_to_string(data("other.test.pem")).unwrap();
    assert_eq!(
        cli(&sock, &format!("set ssl cert {crt} <<\n{cert}")).await,
        format!("Transaction created for certificate {crt}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("set ssl cert {key} <<\n{other}")).await,
        format!("Transaction updated for certificate {crt}!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("commit ssl cert {crt}")).await,
        format!("Committing {crt}.\nSuccess!\n\n")
    );
    assert_eq!(
        served_subject(lb.port, "other.test").await.as_deref(),
        Some("CN=other.test")
    );
}

#[tokio::test]
async fn a_committed_server_certificate_is_presented_on_the_next_requests() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let crt = dir.path("client.pem");
    std::fs::copy(data("client.pem"), &crt).unwrap();
    let ca = data("ca.crt");
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend clear\n    bind 127.0.0.1:@FE@\n    default_backend tls\nbackend tls\n    server s1 127.0.0.1:@FE2@ ssl verify none crt {crt}\nfrontend fe\n    bind 127.0.0.1:@FE2@ ssl crt {} verify optional ca-file {ca}\n    http-request return status 200 content-type text/plain lf-string \"cdn=%[ssl_c_s_dn(CN)]\\n\"\n",
        data("other.test.pem")
    ))
    .await;
    let r = get(lb.port, "/").await;
    assert_eq!(r.body, "cdn=client.example.test\n", "{}", lb.stderr());
    assert!(cli(&sock, "show ssl cert")
        .await
        .contains(&format!("\n{crt}\n")));
    let show = cli(&sock, &format!("show ssl cert {crt}")).await;
    assert!(show.contains("Status: Used\n"), "{show}");
    let pem = std::fs::read_to_string(data("v1.pem")).unwrap();
    assert_eq!(
        cli(&sock, &format!("set ssl cert {crt} <<\n{pem}")).await,
        format!("Transaction created for certificate {crt}!\n\n")
    );
    // Not committed: the pooled connection or a new one still presents the old one.
    assert_eq!(get(lb.port, "/").await.body, "cdn=client.example.test\n");
    assert_eq!(
        cli(&sock, &format!("commit ssl cert {crt}")).await,
        format!("Committing {crt}.\nSuccess!\n\n")
    );
    // Neither an idle connection nor a resumed session keeps the old certificate.
    for _ in 0..2 {
        assert_eq!(get(lb.port, "/").await.body, "cdn=v1.example.test\n");
    }
    let show = cli(&sock, &format!("show ssl cert {crt}")).await;
    assert!(show.contains("\nSubject: /CN=v1.example.test\n"), "{show}");
}
