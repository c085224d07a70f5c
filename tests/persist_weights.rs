//! Weighted distribution on real traffic through the real `lbd` binary: many requests
//! from a few concurrent keep-alive clients land on the servers in proportion to their
//! weights (exactly for roundrobin, statistically for random), and the weights are
//! renormalised over the healthy servers when one goes DOWN.
//!
//! Run with `--nocapture` to see the measured shares.

mod common;
#[path = "common/persist.rs"]
mod persist;

use common::*;
use persist::*;
use std::collections::BTreeMap;
use std::time::Instant;

/// Concurrent keep-alive clients per run.
const CLIENTS: usize = 8;

fn config(balance: &str, extra: &str, servers: &[(&Origin, u32)]) -> String {
    let mut c = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n    balance {balance}\n"
    );
    for l in extra.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {l}\n"));
    }
    for (o, w) in servers {
        c.push_str(&format!(
            "    server {} {} weight {w}\n",
            o.name,
            o.hostport()
        ));
    }
    c
}

/// Sends `total` requests from [`CLIENTS`] keep-alive clients; counts answers by origin.
async fn spread(port: u16, total: usize) -> BTreeMap<String, usize> {
    let mut tasks = Vec::new();
    for k in 0..CLIENTS {
        let n = total / CLIENTS + usize::from(k < total % CLIENTS);
        tasks.push(tokio::spawn(async move {
            let mut ka = KeepAlive::connect(port).await;
            let mut seen = BTreeMap::<String, usize>::new();
            for _ in 0..n {
                let r = ka.get("/").await;
                assert_eq!(r.status, 200, "{r:?}");
                *seen.entry(r.body).or_default() += 1;
            }
            seen
        }));
    }
    let mut all = BTreeMap::new();
    for t in tasks {
        for (k, v) in t.await.expect("client task") {
            *all.entry(k).or_default() += v;
        }
    }
    assert_eq!(all.values().sum::<usize>(), total);
    all
}

/// Asserts each server's share is within `tol` (absolute, e.g. 0.01) of `want`.
fn check_shares(what: &str, got: &BTreeMap<String, usize>, want: &[(&str, f64)], tol: f64) {
    let total: usize = got.values().sum();
    let mut line = format!("{what}: {total} requests:");
    for (name, w) in want {
        let share = *got.get(*name).unwrap_or(&0) as f64 / total as f64;
        line.push_str(&format!(
            " {name}={:.2}% (want {:.2}%)",
            share * 100.0,
            w * 100.0
        ));
    }
    eprintln!("{line}");
    for (name, w) in want {
        let share = *got.get(*name).unwrap_or(&0) as f64 / total as f64;
        assert!(
            (share - w).abs() <= tol,
            "{what}: {name} got {share:.4}, want {w:.4} ± {tol}: {got:?}"
        );
    }
    let known: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    assert!(
        got.keys().all(|k| known.contains(&k.as_str())),
        "{what}: unexpected server in {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roundrobin_three_to_one_over_10000_requests() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config("roundrobin", "", &[(&a, 3), (&b, 1)])).await;
    let t = Instant::now();
    let got = spread(lb.port, 10_000).await;
    eprintln!("roundrobin: 10000 requests in {:?}", t.elapsed());
    check_shares("roundrobin 3:1", &got, &[("a", 0.75), ("b", 0.25)], 0.01);
    assert_eq!(
        (a.count(), b.count()),
        (got["a"], got["b"]),
        "origins agree"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_three_to_one_over_10000_requests() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let lb = Lbd::start(&config("random", "", &[(&a, 3), (&b, 1)])).await;
    let t = Instant::now();
    let got = spread(lb.port, 10_000).await;
    eprintln!("random: 10000 requests in {:?}", t.elapsed());
    check_shares("random 3:1", &got, &[("a", 0.75), ("b", 0.25)], 0.03);
}

/// `n` requests per phase: enough for random's shares to sit well inside `tol` (about
/// 4.5 standard deviations at 6000 requests and 3%).
async fn renormalised_over_healthy_servers(balance: &str, tol: f64, n: usize) {
    let (a, b, mut c) = (
        Origin::start("a").await,
        Origin::start("b").await,
        Origin::start("c").await,
    );
    let lb = Lbd::start(&config(
        balance,
        "default-server check inter 100ms fall 2 rise 2",
        &[(&a, 2), (&b, 1), (&c, 1)],
    ))
    .await;
    let got = spread(lb.port, n).await;
    check_shares(
        &format!("{balance} 2:1:1"),
        &got,
        &[("a", 0.5), ("b", 0.25), ("c", 0.25)],
        tol,
    );
    c.stop().await;
    lb.wait_for_log("Server be/c is DOWN").await;
    let got = spread(lb.port, n).await;
    check_shares(
        &format!("{balance} 2:1:(1 DOWN)"),
        &got,
        &[("a", 2.0 / 3.0), ("b", 1.0 / 3.0)],
        tol,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roundrobin_weights_renormalise_over_healthy_servers() {
    renormalised_over_healthy_servers("roundrobin", 0.01, 4000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_weights_renormalise_over_healthy_servers() {
    renormalised_over_healthy_servers("random", 0.03, 6000).await;
}
