//! crt-list lines changed over the runtime socket, as with HAProxy's `show/add/del
//! ssl crt-list`: an added line serves its SNI filters on the next handshake, with
//! its own options; a deleted one no longer does; the default certificate of a bind
//! without `strict-sni` stays; no CA file is read at run time.

mod common;
#[allow(dead_code)]
#[path = "common/sock.rs"]
mod sock;
#[path = "common/tls.rs"]
mod tls;

use common::*;
use sock::{cli, SockDir};
use tls::*;

#[tokio::test]
async fn add_show_and_del_crt_list_lines() {
    let dir = SockDir::new();
    let sock = dir.sock();
    let list = dir.path("certs.list");
    let www = data("www.example.test.pem");
    let other = data("other.test.pem");
    let ca = data("ca.crt");
    std::fs::write(&list, format!("{www} [alpn http/1.1] www.example.test\n")).unwrap();
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@ ssl crt-list {list}\n    bind 127.0.0.1:@FE2@ ssl strict-sni crt-list {list} crt {other} verify optional ca-file {ca}\n    http-request return status 200 content-type text/plain lf-string \"dn=%[ssl_f_s_dn]\\n\"\n"
    ))
    .await;
    assert_eq!(cli(&sock, "show ssl crt-list").await, format!("{list}\n\n"));
    assert_eq!(
        cli(&sock, &format!("show ssl crt-list -n {list}//")).await,
        format!("# {list}\n{www}:1 [alpn http/1.1] www.example.test\n\n")
    );
    assert_eq!(
        cli(&sock, "show ssl crt-list /nowhere").await,
        "didn't find the specified filename\n\n"
    );
    // On the strict bind, other.test is not in the list: refused.
    assert_eq!(served_subject(lb.port2, "api.other.test").await, None);

    // A line for a certificate the runtime has (the other bind's `crt`), with
    // options shown in HAProxy's order and filters.
    let out = cli(
        &sock,
        &format!("add ssl crt-list {list} <<\n{other} [ssl-min-ver TLSv1.2 verify none] api.other.test !x.test\n"),
    )
    .await;
    assert_eq!(
        out,
        format!("Inserting certificate '{other}' in crt-list '{list}'..\nSuccess!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("show ssl crt-list -n {list}")).await,
        format!("# {list}\n{www}:1 [alpn http/1.1] www.example.test\n{other}:2 [verify none ssl-min-ver TLSv1.2] api.other.test !x.test\n\n")
    );
    assert_eq!(
        served_subject(lb.port2, "api.other.test").await.as_deref(),
        Some("CN=other.test")
    );
    // Unknown certificates and CA files not loaded by the configuration.
    assert_eq!(
        cli(&sock, &format!("add ssl crt-list {list} /nowhere.pem")).await,
        "Can't edit the crt-list: certificate '/nowhere.pem' does not exist!\n\n"
    );
    let out = cli(
        &sock,
        &format!("add ssl crt-list {list} <<\n{other} [crl-file /etc/hostname] y.test\n"),
    )
    .await;
    assert!(
        out.starts_with("Can't edit the crt-list: ")
            && out.contains("unable to load /etc/hostname"),
        "{out}"
    );

    // Deleting: the line number is needed once a certificate is there twice.
    assert!(cli(&sock, &format!("add ssl crt-list {list} {other}"))
        .await
        .ends_with("Success!\n\n"));
    assert_eq!(
        cli(&sock, &format!("del ssl crt-list {list} {other}")).await,
        format!("Can't delete the entry: found the certificate '{other}' in several entries, please specify a line number preceded by colons (2, 3)!\n\n")
    );
    assert_eq!(
        cli(&sock, &format!("del ssl crt-list {list} {other}:2")).await,
        format!("Entry '{other}' deleted in crtlist '{list}'!\n\n")
    );
    assert_eq!(served_subject(lb.port2, "api.other.test").await, None);
    // The first line is the default certificate of the bind without strict-sni.
    let out = cli(&sock, &format!("del ssl crt-list {list} {www}")).await;
    assert!(
        out.starts_with(&format!("Can't delete the entry: certificate '{www}' cannot be deleted, it is used as default certificate by the following frontends:\n\t- ")),
        "{out}"
    );
    assert_eq!(
        served_subject(lb.port, "www.example.test").await.as_deref(),
        Some("CN=www.example.test")
    );
}
