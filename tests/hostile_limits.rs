//! Connection limits under pressure, on the real `lbd` binary: global `maxconn` holds
//! extra connections in the kernel backlog instead of accepting them, and running out
//! of descriptors (EMFILE) is logged once, backed off without spinning, and recovered
//! from.

mod common;
mod hostile;

use common::{HttpOrigin, Lbd};
use hostile::{connect, cpu_time, fd_count, read_until_close, settle};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const T: Duration = Duration::from_secs(10);

fn config(global: &str, origin: &str) -> String {
    format!(
        "global
    {global}
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 5s
    timeout http-request 30s
frontend fe
    bind 127.0.0.1:@FE@
    default_backend be
backend be
    server o1 {origin}
"
    )
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn global_maxconn_keeps_the_rest_in_the_backlog_until_slots_free() {
    let o = HttpOrigin::start("o").await;
    // One data-plane thread: idle upstream connections are kept per thread, so with
    // more threads the origin also sees each thread's idle ones (not client slots).
    let lbd = Lbd::start(&config("maxconn 50\n    nbthread 1", &o.hostport())).await;
    let pid = lbd.pid();
    let base = fd_count(pid);
    // 200 idle connections: the kernel completes every handshake (backlog 1024), lbd
    // accepts 50.
    let mut conns = Vec::new();
    for _ in 0..200 {
        conns.push(connect(lbd.port).await);
    }
    assert!(
        settle(T, || fd_count(pid) >= base + 50).await,
        "lbd accepted only {} connections",
        fd_count(pid) - base
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = fd_count(pid) - base;
    assert_eq!(
        held, 50,
        "lbd holds {held} client connections with maxconn 50"
    );
    // Every one of them is served once slots free.
    let mut tasks = Vec::new();
    for mut s in conns {
        tasks.push(tokio::spawn(async move {
            s.write_all(GET).await.expect("write");
            read_until_close(&mut s, Duration::from_secs(20)).await
        }));
    }
    let mut peak = 0;
    while !tasks.iter().all(|t| t.is_finished()) {
        peak = peak.max(fd_count(pid).saturating_sub(base));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.status(), 200, "{}", a.text());
    }
    assert_eq!(o.stats.requests(), 200);
    let max_open = o.stats.max_open.load(std::sync::atomic::Ordering::SeqCst);
    // The origin learns of a close asynchronously, after lbd has freed the slot, so
    // its count may include a few connections lbd has already closed.
    assert!(max_open <= 54, "{max_open} server connections at once");
    eprintln!("maxconn 50: 50 held, peak {peak} descriptors above base while serving 200; origin saw at most {max_open} connections at once");
}

/// Sets the descriptor limit of process `pid` (soft and hard), like `prlimit --pid`.
fn set_nofile(pid: u32, n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: prlimit(2) with a valid rlimit and no old-value pointer, on our own child.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[tokio::test]
async fn running_out_of_descriptors_is_logged_once_backed_off_and_recovered() {
    let o = HttpOrigin::start("o").await;
    // maxconn far above what the descriptor limit allows, so accept() hits EMFILE.
    let lbd = Lbd::start(&config("maxconn 1000", &o.hostport())).await;
    let pid = lbd.pid();
    // Served once before the limit: everything lazily opened is open.
    let a = hostile::exchange(lbd.port, GET, T).await;
    assert_eq!(a.status(), 200);
    set_nofile(pid, 64);
    let base = fd_count(pid);
    let mut conns = Vec::new();
    for _ in 0..100 {
        conns.push(connect(lbd.port).await);
    }
    let msg = "accept() failed: Too many open files; backing off.";
    lbd.wait_for_log(msg).await;
    let held = fd_count(pid) - base;
    // Two seconds of exhaustion: lbd retries every 100 ms, it does not spin.
    let cpu0 = cpu_time(pid);
    let t0 = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = cpu_time(pid) - cpu0;
    let share = cpu.as_secs_f64() / t0.elapsed().as_secs_f64();
    let logged = lbd.count_log(msg);
    eprintln!(
        "EMFILE: {held} connections accepted, CPU {:.1}% of one core over 2 s, {logged} log line(s)",
        share * 100.0
    );
    assert!(share < 0.30, "lbd used {:.0}% of a core", share * 100.0);
    // One line per burst: a burst ends when an accept() succeeds again.
    assert!(logged <= 2, "{logged} lines: {}", lbd.stderr());
    // The test lets go of its connections: lbd serves again.
    drop(conns);
    let mut served = false;
    for _ in 0..50 {
        let a = hostile::exchange(lbd.port, GET, T).await;
        if a.status() == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "lbd does not serve after the descriptors came back");
    assert!(lbd.count_log(msg) <= 3, "{}", lbd.stderr());
}
