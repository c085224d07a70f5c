//! Reloads (SIGUSR2) of the real `lbd` binary under load: no request fails and no
//! connection is refused or reset while servers and backends come and go; a bad config
//! is refused with its ALERT and the old one keeps serving.

mod common;

use common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RELOADS: usize = 20;
const WORKERS: usize = 8;

struct Origins {
    s1: HttpOrigin,
    s2: HttpOrigin,
    s3: HttpOrigin,
    api: HttpOrigin,
}

impl Origins {
    async fn start() -> Origins {
        Origins {
            s1: HttpOrigin::start("s1").await,
            s2: HttpOrigin::start("s2").await,
            s3: HttpOrigin::start("s3").await,
            api: HttpOrigin::start("api").await,
        }
    }

    /// Config A: one backend with s1, s2.
    fn config_a(&self) -> String {
        format!(
            "{HTTP_DEFAULTS}
frontend fe
    bind 127.0.0.1:@FE@
    default_backend web
backend web
    balance roundrobin
    server s1 {}
    server s2 {}
",
            self.s1.hostport(),
            self.s2.hostport()
        )
    }

    /// Config B: s2 replaced by s3, plus a backend `api` routed by path.
    fn config_b(&self) -> String {
        format!(
            "{HTTP_DEFAULTS}
frontend fe
    bind 127.0.0.1:@FE@
    use_backend api if {{ path_beg /api }}
    default_backend web
backend web
    balance roundrobin
    server s1 {}
    server s3 {}
backend api
    server a1 {}
",
            self.s1.hostport(),
            self.s3.hostport(),
            self.api.hostport()
        )
    }
}

const A_TO_B: &str =
    "Reload complete: +1 backend, -0, 2 servers added, 1 removed, 0 weight changed";
const B_TO_A: &str =
    "Reload complete: +0 backends, -1, 1 server added, 2 removed, 0 weight changed";

/// What the load loop saw.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, path: &str, o: Outcome) {
        let good: &[&str] = if path.starts_with("/api") {
            &["s1", "s2", "s3", "api"]
        } else {
            &["s1", "s2", "s3"]
        };
        match o {
            Outcome::Ok(200, body) if good.contains(&body.as_str()) => {
                self.ok.fetch_add(1, SeqCst);
            }
            other => self
                .failures
                .lock()
                .unwrap()
                .push(format!("{path}: {other:?}")),
        }
    }
}

/// Runs `WORKERS` client loops (keep-alive or one connection per request) while the
/// test reloads `RELOADS` times, alternating configs B and A.
async fn reload_under_load(keep_alive: bool) {
    let o = Origins::start().await;
    let lbd = Lbd::start(&o.config_a()).await;
    let port = lbd.port;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (tally, stop) = (tally.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0usize;
            let mut conn: Option<TryKeepAlive> = None;
            while !stop.load(SeqCst) {
                let path = if (n + w) % 2 == 0 { "/" } else { "/api/x" };
                n += 1;
                if !keep_alive {
                    tally.record(path, try_get(port, path).await);
                    continue;
                }
                if conn.is_none() {
                    match TryKeepAlive::connect(port).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            tally.record(path, e);
                            continue;
                        }
                    }
                }
                let out = conn.as_mut().expect("connected").get(path).await;
                if !matches!(out, Outcome::Ok(..)) {
                    conn = None;
                }
                tally.record(path, out);
            }
            n
        }));
    }
    // Traffic flows before the first reload.
    wait_until(DEADLINE, "the first 50 responses", || {
        tally.ok.load(SeqCst) >= 50
    })
    .await;
    let t0 = Instant::now();
    for i in 0..RELOADS {
        let (cfg, want) = if i % 2 == 0 {
            (o.config_b(), A_TO_B)
        } else {
            (o.config_a(), B_TO_A)
        };
        let line = lbd.reload(&cfg).await;
        assert!(line.contains(want), "reload {i}: {line:?}, wanted {want:?}");
        // Requests keep flowing between reloads: every reload happens under load.
        let base = tally.ok.load(SeqCst);
        wait_until(DEADLINE, "20 more responses after the reload", || {
            tally.ok.load(SeqCst) >= base + 20
        })
        .await;
    }
    let took = t0.elapsed();
    stop.store(true, SeqCst);
    let mut sent = 0;
    for w in workers {
        sent += within(DEADLINE, "a load worker to stop", w)
            .await
            .expect("worker");
    }
    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed during {RELOADS} reloads (keep-alive: {keep_alive}):\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(lbd.count_log("Reload complete: "), RELOADS);
    assert_eq!(lbd.count_log("Reload failed"), 0);
    // Both configs really served: s3 and the api backend only exist in B, s2 only in A.
    for (name, origin) in [("s2", &o.s2), ("s3", &o.s3), ("api", &o.api)] {
        assert!(origin.stats.requests() > 0, "{name} never got a request");
    }
    assert!(
        took < Duration::from_secs(8),
        "{RELOADS} reloads under load took {took:?}"
    );
    eprintln!(
        "{sent} requests, {} ok, {RELOADS} reloads in {took:?} (keep-alive: {keep_alive})",
        tally.ok.load(SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_keep_alive_load_lose_no_request() {
    reload_under_load(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_connection_per_request_load_lose_no_request() {
    reload_under_load(false).await;
}

/// Bodies of `n` sequential GETs over fresh connections; all must be 200.
async fn bodies(port: u16, path: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = get(port, path).await;
        assert_eq!(r.status, 200, "{r:?}");
        out.push(r.body);
    }
    out
}

#[tokio::test]
async fn a_bad_config_is_refused_and_the_old_one_keeps_serving() {
    let o = Origins::start().await;
    let lbd = Lbd::start(&o.config_a()).await;
    let before = bodies(lbd.port, "/api/x", 4).await;
    assert_eq!(before, ["s1", "s2", "s1", "s2"]);

    // One line of config B is an unknown keyword.
    let bad = o.config_b().replace(
        "    use_backend api",
        "    bogus-keyword here\n    use_backend api",
    );
    let lineno = 1 + bad
        .lines()
        .position(|l| l.contains("bogus-keyword"))
        .expect("the bad line");
    let line = lbd.reload(&bad).await;
    assert!(
        line.contains("Reload failed, keeping the running configuration."),
        "{line}"
    );
    let path = lbd.config_path().display().to_string();
    let err = lbd.stderr();
    let alert = err
        .lines()
        .find(|l| l.contains("[ALERT]") && l.contains(" : config : parsing ["))
        .unwrap_or_else(|| panic!("no parsing ALERT in:\n{err}"));
    assert!(
        alert.contains(&format!("parsing [{path}:{lineno}] : ")),
        "the ALERT names file and line: {alert}"
    );
    assert!(alert.contains("bogus-keyword"), "{alert}");
    // The alert comes before the failure line.
    assert!(
        err.find(alert).unwrap() < err.find("Reload failed").unwrap(),
        "{err}"
    );
    assert_eq!(lbd.count_log("Reload complete"), 0);

    // The old config serves exactly as before: same routing, same rotation.
    let after = bodies(lbd.port, "/api/x", 4).await;
    assert_eq!(after, before, "the old configuration is untouched");
    assert_eq!(o.api.stats.requests(), 0);
    assert_eq!(o.s3.stats.requests(), 0);

    // The next good reload works and says what changed.
    let line = lbd.reload(&o.config_b()).await;
    assert!(line.contains(A_TO_B), "{line}");
    assert!(
        line.trim_end().ends_with(" ms)"),
        "the line carries the duration: {line}"
    );
    assert_eq!(bodies(lbd.port, "/api/x", 2).await, ["api", "api"]);
    let mut web: Vec<String> = bodies(lbd.port, "/", 2).await;
    web.sort();
    assert_eq!(web, ["s1", "s3"]);

    // A reload that only adds a backend with one server counts exactly that.
    let extra = format!(
        "{}backend extra\n    server e1 {}\n",
        o.config_b(),
        o.s2.hostport()
    );
    let line = lbd.reload(&extra).await;
    assert!(
        line.contains(
            "Reload complete: +1 backend, -0, 1 server added, 0 removed, 0 weight changed"
        ),
        "{line}"
    );
    // An unchanged file reloads to an empty difference.
    let line = lbd.reload(&extra).await;
    assert!(
        line.contains(
            "Reload complete: +0 backends, -0, 0 servers added, 0 removed, 0 weight changed"
        ),
        "{line}"
    );
    let names: HashSet<&str> = ["s1", "s3"].into();
    for b in bodies(lbd.port, "/", 4).await {
        assert!(names.contains(b.as_str()), "{b}");
    }
}

#[tokio::test]
async fn sighup_reloads_like_sigusr2() {
    let o = Origins::start().await;
    let lbd = Lbd::start(&o.config_a()).await;
    lbd.write_config(&o.config_b());
    lbd.signal(libc::SIGHUP);
    wait_until(DEADLINE, "the reload after SIGHUP", || {
        lbd.count_log("Reload complete: ") == 1
    })
    .await;
    assert!(lbd.stderr().contains(A_TO_B), "{}", lbd.stderr());
    assert_eq!(bodies(lbd.port, "/api/x", 2).await, ["api", "api"]);
}
