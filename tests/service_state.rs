//! What a reload (SIGUSR2) of the real `lbd` binary keeps: server health and counters
//! (by backend, server name and address), and listening sockets (a kept `bind` never
//! refuses a connection; a removed one stops accepting, an added one accepts).

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sets its flag when dropped, so a connect loop on a blocking thread ends even when
/// the test panics (the runtime waits for blocking tasks before it shuts down).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// The value of `name{proxy="be",server="srv"...}` in a Prometheus text page.
fn metric(page: &str, name: &str, labels: &str) -> u64 {
    let prefix = format!("{name}{{{labels}}} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{page}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{prefix}: {e}"))
}

async fn metrics(port: u16) -> String {
    let r = get(port, "/metrics").await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn sessions(page: &str, server: &str) -> u64 {
    metric(
        page,
        "haproxy_server_sessions_total",
        &format!("proxy=\"web\",server=\"{server}\""),
    )
}

fn is_down(page: &str, server: &str) -> bool {
    metric(
        page,
        "haproxy_server_status",
        &format!("proxy=\"web\",server=\"{server}\",state=\"DOWN\""),
    ) == 1
}

#[tokio::test]
async fn health_and_counters_survive_a_reload_and_a_new_address_is_a_new_server() {
    let o1 = HttpOrigin::start("s1").await;
    let o2 = HttpOrigin::start("s2").await;
    let o3 = HttpOrigin::start("s3").await;
    // s2 answers traffic, but its check goes to a closed port: checks mark it DOWN.
    let closed = ClosedPort::new();
    let config = |s1: &str, extra: &str| {
        format!(
            "{HTTP_DEFAULTS}
frontend fe
    bind 127.0.0.1:@FE@
    http-request use-service prometheus-exporter if {{ path /metrics }}
    default_backend web
backend web
    balance roundrobin
    default-server check inter 100ms fall 1 rise 2
    server s1 {s1}
    server s2 {} port {}
{extra}",
            o2.hostport(),
            closed.port
        )
    };
    let other = format!("backend other\n    server x1 {}\n", o3.hostport());
    let lbd = Lbd::start(&config(&o1.hostport(), "")).await;
    lbd.wait_for_log("Server web/s2 is DOWN").await;
    for _ in 0..10 {
        let r = get(lbd.port, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "s1"));
    }
    let page = metrics(lbd.port).await;
    let s1_before = sessions(&page, "s1");
    assert!(s1_before >= 10, "{page}");
    assert!(is_down(&page, "s2"), "{page}");
    assert_eq!(o2.stats.accepted(), 0, "a DOWN server got a connection");

    // Reload: s1 and s2 are kept (same backend, name, address).
    let line = lbd.reload(&config(&o1.hostport(), &other)).await;
    assert!(
        line.contains("Reload complete: +1 backend, -0, 1 server added, 0 removed"),
        "{line}"
    );
    // Right after the reload, for a whole second: s2 is still DOWN and gets nothing.
    let page = metrics(lbd.port).await;
    assert!(
        is_down(&page, "s2"),
        "s2 came back UP after the reload:\n{page}"
    );
    let end = Instant::now() + Duration::from_secs(1);
    let mut sent = 0u64;
    while Instant::now() < end {
        let r = get(lbd.port, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "s1"), "request {sent}");
        sent += 1;
    }
    assert_eq!(o2.stats.accepted(), 0, "traffic reached the DOWN server");
    assert_eq!(lbd.count_log("web/s2 is UP"), 0, "{}", lbd.stderr());
    assert_eq!(lbd.count_log("web/s2 is DOWN"), 1, "{}", lbd.stderr());
    // Counters go on from their value before the reload.
    let page = metrics(lbd.port).await;
    let s1_after = sessions(&page, "s1");
    assert!(
        s1_after >= s1_before + sent,
        "s1 sessions: {s1_before} before the reload, {sent} sent since, {s1_after} now"
    );

    // s1 moves to another address: a new server, with fresh counters; s2 still DOWN.
    let line = lbd.reload(&config(&o3.hostport(), &other)).await;
    assert!(
        line.contains(
            "Reload complete: +0 backends, -0, 1 server added, 1 removed, 0 weight changed"
        ),
        "{line}"
    );
    let page = metrics(lbd.port).await;
    assert_eq!(
        sessions(&page, "s1"),
        0,
        "a new address starts from zero:\n{page}"
    );
    assert!(is_down(&page, "s2"), "{page}");
    let o1_seen = o1.stats.requests();
    for _ in 0..5 {
        let r = get(lbd.port, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "s3"));
    }
    assert_eq!(o1.stats.requests(), o1_seen, "the old address got traffic");
    assert_eq!(sessions(&metrics(lbd.port).await, "s1"), 5);
    assert_eq!(o2.stats.accepted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listeners_survive_reloads_removed_binds_close_added_binds_open() {
    let origin = HttpOrigin::start("s1").await;
    let port3 = free_port();
    let backend = format!("backend web\n    server s1 {}\n", origin.hostport());
    // A: binds @FE@ and @FE2@. B: @FE@ and port3, plus a backend more.
    let config_a = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    bind 127.0.0.1:@FE2@\n    default_backend web\n{backend}"
    );
    let config_b = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    bind 127.0.0.1:{port3}\n    default_backend web\n{backend}backend spare\n    server s9 {}\n",
        origin.hostport()
    );
    let lbd = Lbd::start(&config_a).await;
    let (port, port2) = (lbd.port, lbd.port2);

    // A connection already open on @FE2@ (idle) and a request in flight on it.
    let mut idle = KeepAlive::connect(port2).await;
    assert_eq!(idle.get("/").await.status, 200);
    let held = tokio::spawn(async move { get(port2, "/hold").await });
    wait_until(DEADLINE, "the held request reaches the origin", || {
        origin.stats.inflight() == 1
    })
    .await;

    // Raw connects to the kept bind, for as long as the reloads last.
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(stop.clone());
    let (ok, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let prober = {
        let (stop, ok, refused) = (stop.clone(), ok.clone(), refused.clone());
        tokio::task::spawn_blocking(move || {
            let mut errors = Vec::new();
            let end = Instant::now() + Duration::from_secs(60);
            while !stop.load(SeqCst) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(1));
                match connect_refused(port) {
                    Some(false) => ok.fetch_add(1, SeqCst),
                    Some(true) => refused.fetch_add(1, SeqCst),
                    None => {
                        errors.push("connect error".to_string());
                        0
                    }
                };
            }
            errors
        })
    };
    wait_until(DEADLINE, "the first connects", || ok.load(SeqCst) >= 20).await;

    let line = lbd.reload(&config_b).await;
    assert!(line.contains("Reload complete: +1 backend"), "{line}");
    // The removed bind refuses at once, the added one accepts.
    assert_eq!(connect_refused(port2), Some(true), "{port2} was removed");
    assert_eq!(get(port3, "/").await.body, "s1");
    // What was already open on the removed bind still completes.
    let r = idle.get("/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "s1"));
    origin.release();
    let r = within(DEADLINE, "the held request", held)
        .await
        .expect("held request task");
    assert_eq!((r.status, r.body.as_str()), (200, "s1"));

    // 19 more reloads, alternating; the binds follow every time.
    for i in 1..20 {
        let (cfg, open, closed) = if i % 2 == 0 {
            (&config_b, port3, port2)
        } else {
            (&config_a, port2, port3)
        };
        let base = ok.load(SeqCst);
        let line = lbd.reload(cfg).await;
        assert!(line.contains("Reload complete: "), "reload {i}: {line}");
        assert_eq!(connect_refused(closed), Some(true), "reload {i}: {closed}");
        assert_eq!(get(open, "/").await.status, 200, "reload {i}: {open}");
        wait_until(DEADLINE, "more connects after the reload", || {
            ok.load(SeqCst) >= base + 10
        })
        .await;
    }
    stop.store(true, SeqCst);
    let errors = within(DEADLINE, "the connect loop", prober)
        .await
        .expect("prober");
    assert_eq!(
        refused.load(SeqCst),
        0,
        "the kept bind refused connections during reloads"
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(lbd.count_log("Reload complete: "), 20);
    eprintln!(
        "{} connects to the kept bind, none refused",
        ok.load(SeqCst)
    );
}

#[tokio::test]
async fn a_bind_that_cannot_open_fails_the_reload_and_opens_nothing() {
    let origin = HttpOrigin::start("s1").await;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("occupy a port");
    let busy_port = busy.local_addr().expect("addr").port();
    let new_port = free_port();
    let config = |binds: &str| {
        format!(
            "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n{binds}    default_backend web\nbackend web\n    server s1 {}\n",
            origin.hostport()
        )
    };
    let lbd = Lbd::start(&config("")).await;
    let binds = format!("    bind 127.0.0.1:{new_port}\n    bind 127.0.0.1:{busy_port}\n");
    let line = lbd.reload(&config(&binds)).await;
    assert!(
        line.contains("Reload failed, keeping the running configuration."),
        "{line}"
    );
    // The ALERT before it names the bind line, in HAProxy's words.
    let path = lbd.config_path().display().to_string();
    let busy_bind = format!("bind 127.0.0.1:{busy_port}");
    let line = 1 + config(&binds)
        .lines()
        .position(|l| l.contains(&busy_bind))
        .expect("the busy bind");
    lbd.wait_for_log(&format!(
        "Binding [{path}:{line}] for frontend fe: cannot bind socket (Address already in use) [127.0.0.1:{busy_port}]"
    ))
    .await;
    // The bind opened before the failing one is closed again; the old one serves.
    assert_eq!(connect_refused(new_port), Some(true));
    assert_eq!(get(lbd.port, "/").await.body, "s1");
    // Once the port is free, the same reload works.
    drop(busy);
    let line = lbd.reload(&config(&binds)).await;
    assert!(line.contains("Reload complete: "), "{line}");
    assert_eq!(get(new_port, "/").await.body, "s1");
    assert_eq!(get(busy_port, "/").await.body, "s1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_moved_to_another_frontend_keeps_its_socket() {
    let a = HttpOrigin::start("a").await;
    let b = HttpOrigin::start("b").await;
    let config = |fe: &str, be: &str, origin: &HttpOrigin| {
        format!(
            "{HTTP_DEFAULTS}frontend {fe}\n    bind 127.0.0.1:@FE@\n    default_backend {be}\nbackend {be}\n    server s1 {}\n",
            origin.hostport()
        )
    };
    let lbd = Lbd::start(&config("fa", "ba", &a)).await;
    let port = lbd.port;
    let mut old = KeepAlive::connect(port).await;
    assert_eq!(old.get("/").await.body, "a");
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(stop.clone());
    let refused = Arc::new(AtomicUsize::new(0));
    let prober = {
        let (stop, refused) = (stop.clone(), refused.clone());
        tokio::task::spawn_blocking(move || {
            let end = Instant::now() + Duration::from_secs(60);
            while !stop.load(SeqCst) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(1));
                if connect_refused(port) != Some(false) {
                    refused.fetch_add(1, SeqCst);
                }
            }
        })
    };
    for i in 0..10 {
        let (cfg, want) = if i % 2 == 0 {
            (config("fb", "bb", &b), "b")
        } else {
            (config("fa", "ba", &a), "a")
        };
        let line = lbd.reload(&cfg).await;
        assert!(line.contains("Reload complete: +1 backend, -1"), "{line}");
        assert_eq!(get(port, "/").await.body, want, "reload {i}");
    }
    // A connection opened before the first move still completes requests.
    assert_eq!(old.get("/").await.status, 200);
    stop.store(true, SeqCst);
    within(DEADLINE, "the connect loop", prober)
        .await
        .expect("prober");
    assert_eq!(
        refused.load(SeqCst),
        0,
        "connections refused while the owner changed"
    );
}
