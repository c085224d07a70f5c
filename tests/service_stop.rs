//! Stopping the real `lbd` binary: SIGUSR1 drains (requests in flight finish, new
//! connections are refused, exit 0), bounded by `hard-stop-after`; SIGTERM stops at
//! once; `-p PIDFILE` holds the pid while running and is removed at exit.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn config(global: &str, origin: &HttpOrigin) -> String {
    format!(
        "global\n{global}{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server s1 {}\n",
        origin.hostport()
    )
}

/// Starts `GET /hold` through lbd and waits until the origin holds it.
async fn hold(lbd: &Lbd, origin: &HttpOrigin) -> tokio::task::JoinHandle<Outcome> {
    let port = lbd.port;
    let before = origin.stats.inflight();
    let t = tokio::spawn(async move { try_get(port, "/hold").await });
    wait_until(DEADLINE, "the origin holds the request", || {
        origin.stats.inflight() == before + 1
    })
    .await;
    t
}

#[tokio::test]
async fn sigusr1_lets_the_request_in_flight_finish_then_exits_0() {
    let origin = HttpOrigin::start("s1").await;
    let mut lbd = Lbd::start(&config("", &origin)).await;
    // An idle keep-alive connection is closed by the drain, not waited for.
    let mut idle = KeepAlive::connect(lbd.port).await;
    assert_eq!(idle.get("/").await.status, 200);
    let held = hold(&lbd, &origin).await;

    lbd.signal(libc::SIGUSR1);
    lbd.wait_for_log("Stopping: closing listeners").await;
    // New connections are refused from then on.
    assert_eq!(
        connect_refused(lbd.port),
        Some(true),
        "a connect after SIGUSR1"
    );
    wait_until(DEADLINE, "the idle keep-alive connection is closed", || {
        idle.is_closed()
    })
    .await;
    // lbd waits for the held request, however long it takes.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        assert!(
            lbd.try_wait().is_none(),
            "lbd exited with a request in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    origin.release();
    let out = within(DEADLINE, "the held request", held)
        .await
        .expect("task");
    assert_eq!(out, Outcome::Ok(200, "s1".into()));
    let status = lbd.wait_exit(DEADLINE).await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn hard_stop_after_bounds_the_soft_stop() {
    let origin = HttpOrigin::start("s1").await;
    let mut lbd = Lbd::start(&config("    hard-stop-after 300ms\n", &origin)).await;
    let held = hold(&lbd, &origin).await;
    let t = Instant::now();
    lbd.signal(libc::SIGUSR1);
    let status = lbd.wait_exit(Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        took >= Duration::from_millis(300) && took <= Duration::from_millis(1500),
        "exited after {took:?}, hard-stop-after is 300ms"
    );
    assert!(
        lbd.stderr().contains("hard-stop-after expired"),
        "{}",
        lbd.stderr()
    );
    // The held request was cut, not answered.
    let out = within(DEADLINE, "the held request", held)
        .await
        .expect("task");
    assert!(!matches!(out, Outcome::Ok(200, _)), "{out:?}");
}

#[tokio::test]
async fn sigterm_exits_0_promptly_even_with_a_request_in_flight() {
    let origin = HttpOrigin::start("s1").await;
    let mut lbd = Lbd::start(&config("", &origin)).await;
    let _held = hold(&lbd, &origin).await;
    let t = Instant::now();
    lbd.signal(libc::SIGTERM);
    let status = lbd.wait_exit(Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(took < Duration::from_millis(1000), "SIGTERM took {took:?}");
}

#[tokio::test]
async fn sigint_exits_0_promptly() {
    let origin = HttpOrigin::start("s1").await;
    let mut lbd = Lbd::start(&config("", &origin)).await;
    lbd.signal(libc::SIGINT);
    let status = lbd.wait_exit(Duration::from_secs(2)).await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn the_pidfile_holds_the_pid_while_running_and_is_removed_at_exit() {
    let origin = HttpOrigin::start("s1").await;
    for sig in [libc::SIGTERM, libc::SIGUSR1] {
        let opts = StartOpts {
            args: vec!["-p".into(), "@DIR@/lbd.pid".into()],
            ..Default::default()
        };
        let mut lbd = Lbd::start_with(&config("", &origin), &opts).await;
        let pidfile = lbd.dir().join("lbd.pid");
        let text = std::fs::read_to_string(&pidfile).expect("the pidfile exists");
        assert_eq!(text, format!("{}\n", lbd.pid()));
        // A reload keeps it.
        let line = lbd.reload(&config("", &origin)).await;
        assert!(line.contains("Reload complete"), "{line}");
        assert_eq!(
            std::fs::read_to_string(&pidfile).ok(),
            Some(format!("{}\n", lbd.pid()))
        );
        lbd.signal(sig);
        let status = lbd.wait_exit(DEADLINE).await;
        assert_eq!(status.code(), Some(0), "{status}");
        assert!(!pidfile.exists(), "the pidfile is left after signal {sig}");
    }
}

#[tokio::test]
async fn sigterm_during_a_soft_stop_stops_at_once() {
    // No hard-stop-after: only SIGTERM can end the drain while the request is held
    // (what systemd sends when TimeoutStopSec runs out, before SIGKILL).
    let origin = HttpOrigin::start("s1").await;
    let mut lbd = Lbd::start(&config("", &origin)).await;
    let _held = hold(&lbd, &origin).await;
    lbd.signal(libc::SIGUSR1);
    lbd.wait_for_log("Stopping: closing listeners").await;
    assert!(
        lbd.try_wait().is_none(),
        "lbd exited with a request in flight"
    );
    let t = Instant::now();
    lbd.signal(libc::SIGTERM);
    let status = lbd.wait_exit(Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        took < Duration::from_millis(1000),
        "SIGTERM during the drain took {took:?}"
    );
}

#[tokio::test]
async fn a_reload_sent_as_soon_as_the_pidfile_appears_reloads_instead_of_killing() {
    // What `ExecReload=kill -USR2 $MAINPID` or a script reading the pidfile does right
    // after start: the handlers must be in place before the pidfile is written.
    let origin = HttpOrigin::start("s1").await;
    let dir = std::env::temp_dir().join(format!("lbd-pidrace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("lbd.cfg");
    let pidfile = dir.join("lbd.pid");
    let err_path = dir.join("stderr");
    let (mut round, mut attempts) = (0, 0);
    while round < 5 {
        attempts += 1;
        assert!(attempts <= 20, "lbd could not bind a free port 15 times");
        let port = free_port();
        std::fs::write(&cfg, config("", &origin).replace("@FE@", &port.to_string()))
            .expect("config");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
            .arg("-f")
            .arg(&cfg)
            .arg("-p")
            .arg(&pidfile)
            .stderr(std::fs::File::create(&err_path).expect("stderr file"))
            .spawn()
            .expect("spawn lbd");
        let end = Instant::now() + DEADLINE;
        let mut bind_race = false;
        while !pidfile.exists() {
            assert!(Instant::now() < end, "no pidfile");
            if child.try_wait().expect("try_wait").is_some() {
                let err = std::fs::read_to_string(&err_path).unwrap_or_default();
                // Another test took the free port between our probe and lbd's bind.
                assert!(err.contains("cannot bind socket"), "lbd exited:\n{err}");
                bind_race = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        if bind_race {
            continue;
        }
        // SAFETY: kill(2) on our own child, not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGUSR2) };
        let stderr = || std::fs::read_to_string(&err_path).unwrap_or_default();
        wait_until(DEADLINE, "the reload completes or lbd dies", || {
            stderr().contains("Reload complete") || child.try_wait().ok().flatten().is_some()
        })
        .await;
        let status = child.try_wait().expect("try_wait");
        assert!(
            status.is_none(),
            "round {round}: SIGUSR2 right after the pidfile appeared ended lbd ({status:?}):\n{}",
            stderr()
        );
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = child.wait();
        round += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_client_stalled_mid_request_does_not_hold_the_soft_stop() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = HttpOrigin::start("s1").await;
    let cfg = format!(
        "global\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    timeout http-request 1s\n    default_backend web\nbackend web\n    server s1 {}\n",
        origin.hostport()
    );
    let mut lbd = Lbd::start(&cfg).await;
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", lbd.port))
        .await
        .unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").await.unwrap();
    // Connections are accepted in arrival order: once a later one is answered, the
    // stalled one is being served.
    let mut later = KeepAlive::connect(lbd.port).await;
    assert_eq!(later.get("/").await.status, 200);
    lbd.signal(libc::SIGUSR1);
    lbd.wait_for_log("Stopping: closing listeners").await;
    // Without a `hard-stop-after`, only the client's own timer can end this one.
    let mut answer = Vec::new();
    within(DEADLINE, "the 408", c.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let status = lbd.wait_exit(DEADLINE).await;
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(origin.stats.inflight(), 0);
}
