//! `peers` sections through the real `lbd` binary: two lbd instances share a rate
//! limit (a request counted on one is seen by the other within a second), a
//! restarted instance gets the entries back with a full resync, and lbd and HAProxy
//! 2.6 (the Debian `haproxy`, when installed) exchange entries both ways.

mod common;
#[path = "common/sock.rs"]
mod sock;

use common::*;
use sock::*;
use std::time::{Duration, Instant};

/// An instance `me` of the peers `A` and `B` (peer ports `pa`, `pb`): a frontend on
/// `@FE@` tracking each path in table `st` (shared), refusing with 429 a path asked
/// more than 5 times in 10 s.
fn config(sock: &str, me: &str, pa: u16, pb: u16) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n    localpeer {me}\n{HTTP_DEFAULTS}\
peers mesh\n    peer A 127.0.0.1:{pa}\n    peer B 127.0.0.1:{pb}\n\
backend st\n    stick-table type string len 32 size 1k expire 60s store http_req_rate(10s),gpc0 peers mesh\n\
frontend fe\n    bind 127.0.0.1:@FE@\n    http-request track-sc0 path table st\n\
    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 5 }}\n\
    http-request return status 200\n"
    )
}

/// The `http_req_rate(10000)` of `key` in `show table st` (None: no entry).
async fn rate(sock: &str, key: &str) -> Option<u64> {
    let out = cli(sock, &format!("show table st key {key}")).await;
    out.lines().nth(1).and_then(|l| {
        l.split(' ')
            .find_map(|f| f.strip_prefix("http_req_rate(10000)="))
            .and_then(|v| v.parse().ok())
    })
}

/// Waits until `show table st key KEY` on `sock` holds a rate of at least `n`.
async fn wait_rate(sock: &str, key: &str, n: u64, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        if rate(sock, key).await.is_some_and(|r| r >= n) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{key} did not reach {n} on {sock} within {limit:?}: {:?}",
            rate(sock, key).await
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `show peers` on `sock` shows an established session.
async fn connected(sock: &str) {
    let out = cli_until(sock, "show peers", |o| o.contains("last_status=ESTA")).await;
    assert!(out.contains("last_status=ESTA"), "{out}");
}

#[tokio::test]
async fn a_rate_limit_counted_on_one_lbd_is_seen_by_the_other_within_a_second() {
    let (pa, pb) = (free_port(), free_port());
    let (da, db) = (SockDir::new(), SockDir::new());
    let a = Lbd::start(&config(&da.sock(), "A", pa, pb)).await;
    let b = Lbd::start(&config(&db.sock(), "B", pa, pb)).await;
    connected(&da.sock()).await;
    connected(&db.sock()).await;
    for _ in 0..5 {
        assert_eq!(get(a.port, "/login").await.status, 200);
    }
    let took = wait_rate(&db.sock(), "/login", 5, Duration::from_secs(1)).await;
    eprintln!("replicated to the other lbd in {took:?}");
    // The sixth request, on the other instance, is over the shared limit.
    assert_eq!(get(b.port, "/login").await.status, 429);
    // And back: B's count reaches A.
    wait_rate(&da.sock(), "/login", 6, Duration::from_secs(1)).await;
    let peers = cli(&da.sock(), "show peers").await;
    assert!(peers.contains(" id=mesh "), "{peers}");
    assert!(peers.contains("id=B(remote,active)"), "{peers}");
    assert!(peers.contains("id=st update="), "{peers}");
}

#[tokio::test]
async fn a_restarted_lbd_gets_the_entries_back_from_its_peer() {
    let (pa, pb) = (free_port(), free_port());
    let (da, db) = (SockDir::new(), SockDir::new());
    let a = Lbd::start(&config(&da.sock(), "A", pa, pb)).await;
    let b = Lbd::start(&config(&db.sock(), "B", pa, pb)).await;
    connected(&da.sock()).await;
    for _ in 0..3 {
        assert_eq!(get(a.port, "/kept").await.status, 200);
    }
    wait_rate(&db.sock(), "/kept", 3, Duration::from_secs(1)).await;
    drop(b);
    // A fresh B knows nothing until it asks A for a full resync.
    let b = Lbd::start(&config(&db.sock(), "B", pa, pb)).await;
    let took = wait_rate(&db.sock(), "/kept", 3, DEADLINE).await;
    eprintln!("resynced after a restart in {took:?}");
    assert_eq!(get(b.port, "/other").await.status, 200);
}

/// A running `haproxy -db -f cfg`, killed on drop.
struct Haproxy(std::process::Child, std::path::PathBuf);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

#[tokio::test]
async fn lbd_and_haproxy_are_peers_both_ways() {
    let Ok(out) = std::process::Command::new("haproxy").arg("-v").output() else {
        eprintln!("SKIPPED: haproxy is not installed (apt-get install haproxy)");
        return;
    };
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("against {}", version.lines().next().unwrap_or(""));
    let (pa, pb) = (free_port(), free_port());
    let (da, dh) = (SockDir::new(), SockDir::new());
    let a = Lbd::start(&config(&da.sock(), "A", pa, pb)).await;
    let hport = free_port();
    let hcfg = config(&dh.sock(), "B", pa, pb).replace("@FE@", &hport.to_string());
    let path = std::env::temp_dir().join(format!("lbd-peers-haproxy-{}.cfg", std::process::id()));
    std::fs::write(&path, hcfg).expect("write haproxy config");
    let child = std::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn haproxy");
    let _h = Haproxy(child, path);
    wait_until(DEADLINE, "haproxy's socket", || {
        std::path::Path::new(&dh.sock()).exists()
    })
    .await;
    connected(&da.sock()).await;
    connected(&dh.sock()).await;
    // lbd to HAProxy.
    for _ in 0..4 {
        assert_eq!(get(a.port, "/from-lbd").await.status, 200);
    }
    let took = wait_rate(&dh.sock(), "/from-lbd", 4, Duration::from_secs(1)).await;
    eprintln!("lbd -> haproxy in {took:?}");
    // HAProxy to lbd, and HAProxy's count applies on lbd.
    for _ in 0..6 {
        get(hport, "/from-haproxy").await;
    }
    let took = wait_rate(&da.sock(), "/from-haproxy", 6, Duration::from_secs(1)).await;
    eprintln!("haproxy -> lbd in {took:?}");
    assert_eq!(get(a.port, "/from-haproxy").await.status, 429);
    let hp = cli(&dh.sock(), "show peers").await;
    assert!(hp.contains("id=A(remote,active)"), "{hp}");
    assert!(hp.contains("last_status=ESTA"), "{hp}");
}
