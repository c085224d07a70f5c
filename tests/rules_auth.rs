//! `userlist` sections, `http_auth`/`http_auth_group` and `http-request auth`, and
//! sample captures (`declare capture`, `http-request capture`, `http-response capture`)
//! through the real binary.

mod common;

use base64::Engine;
use common::*;

fn basic(user: &str, pass: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Authorization: Basic {b64}\r\n")
}

async fn ask(port: u16, path: &str, auth: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    raw(port, req.as_bytes()).await
}

#[tokio::test]
async fn auth_answers_401_until_credentials_are_valid() {
    let origin = HttpOrigin::start("o1").await;
    // A SHA-512 and a SHA-256 crypt hash, as `openssl passwd -6|-5` writes them.
    let h6 = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";
    let h5 = "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.";
    let cfg = format!(
        "userlist staff
    group admins users carol
    group ops
    user alice insecure-password wonder groups ops
    user bob password {h6}
    user carol password {h5}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    acl ok http_auth(staff)
    acl admin http_auth_group(staff) admins
    http-request auth realm Private if {{ path_beg /private }} !ok
    http-request auth if {{ path_beg /admin }} !admin
    http-request return status 200 content-type text/plain lf-string \"user=%[http_auth_user] type=%[http_auth_type]\" if {{ path_beg /admin }}
    default_backend be
backend be
    server s1 {}
",
        origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;

    // No credentials: HAProxy's 401 page and the realm.
    let r = ask(lb.port, "/private/x", "").await;
    assert!(r.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{r}");
    let lower = r.to_ascii_lowercase();
    assert!(
        lower.contains("\r\nwww-authenticate: basic realm=\"private\"\r\n"),
        "{r}"
    );
    assert!(
        r.ends_with("<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"),
        "{r}"
    );
    // Wrong password, unknown user, clear password, hashes.
    for (user, pass, ok) in [
        ("alice", "wonder", true),
        ("alice", "Wonder", false),
        ("nobody", "wonder", false),
        ("bob", "secret", true),
        ("bob", "secreT", false),
        ("carol", "secret", true),
        ("carol", "wonder", false),
        // The cached verdicts give the same answers.
        ("bob", "secret", true),
        ("bob", "secreT", false),
    ] {
        let r = ask(lb.port, "/private/x", &basic(user, pass)).await;
        let want = if ok { "HTTP/1.1 200 " } else { "HTTP/1.1 401 " };
        assert!(r.starts_with(want), "{user}:{pass}: {r}");
    }
    // Groups: carol is in admins (through the group's `users`), alice is not; the
    // default realm is the proxy's name.
    let r = ask(lb.port, "/admin", &basic("alice", "wonder")).await;
    assert!(r.starts_with("HTTP/1.1 401 "), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"fe\"\r\n"),
        "{r}"
    );
    let r = ask(lb.port, "/admin", &basic("carol", "secret")).await;
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    assert!(r.ends_with("user=carol type=Basic"), "{r}");
}

#[tokio::test]
async fn an_errorfile_401_is_the_auth_page() {
    let dir = std::env::temp_dir().join(format!("lbd-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("401.http");
    std::fs::write(
        &page,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nWWW-Authenticate: Digest x\r\n\r\nwho are you?\n",
    )
    .unwrap();
    let cfg = format!(
        "userlist u
    user a insecure-password b
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    errorfile 401 {}
    http-request auth realm R unless {{ http_auth(u) }}
    http-request return status 200
",
        page.display()
    );
    let lb = Lbd::start(&cfg).await;
    let r = ask(lb.port, "/", "").await;
    assert!(r.starts_with("HTTP/1.1 401 "), "{r}");
    assert!(r.ends_with("\r\n\r\nwho are you?\n"), "{r}");
    let lower = r.to_ascii_lowercase();
    assert!(
        lower.contains("www-authenticate: basic realm=\"r\"\r\n"),
        "{r}"
    );
    assert!(!lower.contains("digest"), "{r}");
    assert!(ask(lb.port, "/", &basic("a", "b"))
        .await
        .starts_with("HTTP/1.1 200 "));
    drop(lb);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn captured_samples_are_logged_and_read_back() {
    let origin = HttpOrigin::start("o1").await;
    let dir = std::env::temp_dir().join(format!("lbd-capsample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let cfg = format!(
        "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:@FE@
    option httplog
    log {} local0
    capture request header X-Req len 10
    declare capture request len 4
    declare capture response len 20
    http-request capture path len 6
    http-request capture req.hdr(x-id) id 1
    http-request set-header x-cap0 %[capture.req.hdr(0)]/%[capture.req.hdr(2)]
    http-response capture status id 0
    http-response set-header x-cap-res %[capture.res.hdr(0)]
    default_backend be
backend be
    http-request set-header x-seen %[capture.req.hdr(1)]
    server s1 {}
",
        log.display(),
        origin.hostport()
    );
    let lb = Lbd::start(&cfg).await;
    let r = raw(
        lb.port,
        b"GET /headers?x=1 HTTP/1.1\r\nHost: x\r\nX-Req: hello\r\nX-Id: abcdefgh\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    let lower = r.to_ascii_lowercase();
    assert!(lower.contains("\r\nx-cap-res: 200\r\n"), "{r}");
    // What the rules read back with capture.req.hdr(N), in the frontend and backend.
    assert!(lower.contains("x-cap0: hello//heade"), "{r}");
    assert!(lower.contains("x-seen: abcd"), "{r}");
    let line = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("\"GET /headers?x=1 "))
            .map(str::to_string)
    };
    wait_until(DEADLINE, "the access line", || line().is_some()).await;
    let line = line().unwrap();
    assert!(
        line.contains(" {hello|abcd|/heade} {200} \"GET /headers?x=1 HTTP/1.1\""),
        "{line}"
    );
    drop(lb);
    let _ = std::fs::remove_dir_all(&dir);
}
