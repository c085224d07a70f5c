//! systemd's notify protocol from the real `lbd` binary: the test plays systemd with a
//! datagram socket in `$NOTIFY_SOCKET` (a path or an abstract `@name`) and checks the
//! messages and their order: READY=1 at start, RELOADING=1 (with MONOTONIC_USEC) then
//! READY=1 around every reload, failed ones included, STOPPING=1 at stop.

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn config(origin: &HttpOrigin) -> String {
    format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server s1 {}\n",
        origin.hostport()
    )
}

/// The next datagram, or a panic after `DEADLINE`.
fn recv(sock: &UnixDatagram) -> String {
    sock.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no sd_notify message within {DEADLINE:?}: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Nothing more is waiting in the socket.
fn assert_no_more(sock: &UnixDatagram) {
    sock.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    let extra = sock
        .recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    sock.set_nonblocking(false).expect("blocking");
    assert_eq!(extra, None, "an unexpected sd_notify message");
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Sends SIGUSR2 with `cfg` in place and checks RELOADING=1 then READY=1; returns the
/// READY message.
async fn reload_messages(lbd: &Lbd, sock: &UnixDatagram, cfg: &str) -> String {
    let before = monotonic_usec();
    lbd.reload(cfg).await;
    let after = monotonic_usec();
    let m = recv(sock);
    let mut lines = m.lines();
    assert_eq!(lines.next(), Some("RELOADING=1"), "{m:?}");
    let usec: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {m:?}"));
    assert!(
        (before..=after).contains(&usec),
        "MONOTONIC_USEC={usec} is not CLOCK_MONOTONIC at the reload ({before}..{after})"
    );
    let ready = recv(sock);
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    ready
}

async fn conversation(lbd: &mut Lbd, sock: &UnixDatagram, origin: &HttpOrigin, stop: i32) {
    assert_eq!(recv(sock), format!("READY=1\nMAINPID={}", lbd.pid()));
    let ready = reload_messages(lbd, sock, &config(origin)).await;
    assert!(ready.contains("\nSTATUS=Reload complete: "), "{ready:?}");
    // A failed reload also ends with READY=1: the old configuration still runs.
    let ready = reload_messages(lbd, sock, "frontend broken\n    bind\n").await;
    assert!(
        ready.contains("\nSTATUS=Reload failed, keeping the running configuration."),
        "{ready:?}"
    );
    assert_eq!(get(lbd.port, "/").await.body, "s1");
    assert_no_more(sock);
    lbd.signal(stop);
    assert_eq!(recv(sock), "STOPPING=1");
    let status = lbd.wait_exit(DEADLINE).await;
    assert_eq!(status.code(), Some(0), "{status}");
    assert_no_more(sock);
}

#[tokio::test]
async fn notify_socket_path_sees_ready_reloading_ready_stopping() {
    let origin = HttpOrigin::start("s1").await;
    let dir = std::env::temp_dir().join(format!("lbd-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind notify socket");
    let opts = StartOpts {
        env: vec![("NOTIFY_SOCKET".into(), path.display().to_string())],
        ..Default::default()
    };
    let mut lbd = Lbd::start_with(&config(&origin), &opts).await;
    conversation(&mut lbd, &sock, &origin, libc::SIGTERM).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn notify_socket_abstract_name_works_and_soft_stop_says_stopping() {
    use std::os::linux::net::SocketAddrExt;
    let origin = HttpOrigin::start("s1").await;
    let name = format!("lbd-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .expect("abstract address");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract notify socket");
    let opts = StartOpts {
        env: vec![("NOTIFY_SOCKET".into(), format!("@{name}"))],
        ..Default::default()
    };
    let mut lbd = Lbd::start_with(&config(&origin), &opts).await;
    conversation(&mut lbd, &sock, &origin, libc::SIGUSR1).await;
}

#[tokio::test]
async fn watchdog_usec_makes_lbd_ping_at_half_the_interval() {
    use std::os::linux::net::SocketAddrExt;
    let origin = HttpOrigin::start("s1").await;
    let name = format!("lbd-test-wd-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .expect("abstract address");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract notify socket");
    let opts = StartOpts {
        env: vec![
            ("NOTIFY_SOCKET".into(), format!("@{name}")),
            ("WATCHDOG_USEC".into(), "400000".into()),
        ],
        ..Default::default()
    };
    let lbd = Lbd::start_with(&config(&origin), &opts).await;
    let mut got = Vec::new();
    let t = std::time::Instant::now();
    while got.iter().filter(|m| *m == "WATCHDOG=1").count() < 4 {
        got.push(recv(&sock));
    }
    // 4 pings at 200 ms take at least 600 ms (the first is sent at once).
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "4 watchdog pings in {took:?}: {got:?}"
    );
    assert!(got.iter().any(|m| m.starts_with("READY=1")), "{got:?}");
    drop(lbd);
}
