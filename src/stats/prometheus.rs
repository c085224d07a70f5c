//! Metrics in the Prometheus text format, HAProxy's shapes under the `lbd_` prefix.

use crate::backend::state::{Admin, BUCKETS_US};
use crate::graph::Graph;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Writes the `# HELP` and `# TYPE` lines of a metric family.
fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// A metric family with one sample per frontend.
fn per_frontend(
    o: &mut String,
    g: &Graph,
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&crate::graph::FrontendRt) -> u64,
) {
    header(o, name, kind, help);
    for f in &g.frontends {
        let _ = writeln!(o, "{name}{{proxy=\"{}\"}} {}", f.name, value(f));
    }
}

/// A metric family with one sample per server.
fn per_server(
    o: &mut String,
    g: &Graph,
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&crate::backend::ServerRt) -> u64,
) {
    header(o, name, kind, help);
    for b in &g.backends {
        for s in &b.servers {
            let _ = writeln!(
                o,
                "{name}{{proxy=\"{}\",server=\"{}\"}} {}",
                b.name,
                s.name,
                value(s)
            );
        }
    }
}

/// Renders the metrics of a graph.
pub fn prometheus(g: &Graph) -> String {
    let mut o = String::with_capacity(4096);
    per_frontend(
        &mut o,
        g,
        (
            "lbd_frontend_http_requests_total",
            "counter",
            "Total number of HTTP requests received.",
        ),
        |f| f.shared.requests.load(Relaxed),
    );
    per_frontend(
        &mut o,
        g,
        (
            "lbd_frontend_current_sessions",
            "gauge",
            "Number of current sessions.",
        ),
        |f| f.shared.cur.load(Relaxed).into(),
    );
    header(
        &mut o,
        "lbd_backend_active_servers",
        "gauge",
        "Number of active UP servers.",
    );
    for b in &g.backends {
        let _ = writeln!(
            o,
            "lbd_backend_active_servers{{proxy=\"{}\"}} {}",
            b.name,
            b.usable_counts().0
        );
    }
    header(
        &mut o,
        "lbd_server_status",
        "gauge",
        "Current status of the server.",
    );
    for b in &g.backends {
        for s in &b.servers {
            // As on the stats page: a drained server that is DOWN shows DOWN.
            let cur = match (s.state.admin(), s.state.is_up()) {
                (Admin::Maint, _) => "MAINT",
                (Admin::Drain, true) => "DRAIN",
                (_, true) => "UP",
                (_, false) => "DOWN",
            };
            for st in ["DOWN", "UP", "MAINT", "DRAIN"] {
                let _ = writeln!(
                    o,
                    "lbd_server_status{{proxy=\"{}\",server=\"{}\",state=\"{st}\"}} {}",
                    b.name,
                    s.name,
                    u8::from(st == cur)
                );
            }
        }
    }
    per_server(
        &mut o,
        g,
        (
            "lbd_server_current_sessions",
            "gauge",
            "Number of current sessions.",
        ),
        |s| s.state.cur.load(Relaxed).into(),
    );
    per_server(
        &mut o,
        g,
        ("lbd_server_weight", "gauge", "Service weight."),
        |s| s.state.weight().into(),
    );
    per_server(
        &mut o,
        g,
        (
            "lbd_server_sessions_total",
            "counter",
            "Total number of sessions.",
        ),
        |s| s.state.total.load(Relaxed),
    );
    let check = |s: &crate::backend::ServerRt| {
        let c = s.state.check.lock().unwrap_or_else(|e| e.into_inner());
        (c.failed_checks, c.down_transitions)
    };
    per_server(
        &mut o,
        g,
        (
            "lbd_server_check_failures_total",
            "counter",
            "Total number of failed individual health checks.",
        ),
        |s| check(s).0,
    );
    per_server(
        &mut o,
        g,
        (
            "lbd_server_check_up_down_total",
            "counter",
            "Total number of UP->DOWN transitions.",
        ),
        |s| check(s).1,
    );
    header(
        &mut o,
        "lbd_server_response_time_seconds",
        "histogram",
        "Time from the server connection being ready to the response head.",
    );
    for b in &g.backends {
        for s in &b.servers {
            let rt = &s.state.rt;
            let labels = format!("proxy=\"{}\",server=\"{}\"", b.name, s.name);
            let mut acc = 0u64;
            for (i, ub) in BUCKETS_US.iter().enumerate() {
                acc += rt.buckets[i].load(Relaxed);
                let _ = writeln!(
                    o,
                    "lbd_server_response_time_seconds_bucket{{{labels},le=\"{}\"}} {acc}",
                    *ub as f64 / 1e6
                );
            }
            acc += rt.buckets[BUCKETS_US.len()].load(Relaxed);
            let _ = writeln!(
                o,
                "lbd_server_response_time_seconds_bucket{{{labels},le=\"+Inf\"}} {acc}"
            );
            let _ = writeln!(
                o,
                "lbd_server_response_time_seconds_sum{{{labels}}} {}",
                rt.sum_us.load(Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                o,
                "lbd_server_response_time_seconds_count{{{labels}}} {acc}"
            );
        }
    }
    process(&mut o, g);
    o
}

fn process(o: &mut String, g: &Graph) {
    header(
        o,
        "lbd_process_start_time_seconds",
        "gauge",
        "Start time of the process since the epoch.",
    );
    let _ = writeln!(o, "lbd_process_start_time_seconds {}", super::start_epoch());
    header(
        o,
        "lbd_process_uptime_seconds",
        "gauge",
        "How long the process has been running.",
    );
    let _ = writeln!(o, "lbd_process_uptime_seconds {}", super::uptime_s());
    let cur: u32 = g.frontends.iter().map(|f| f.shared.cur.load(Relaxed)).sum();
    header(
        o,
        "lbd_process_current_connections",
        "gauge",
        "Number of active client connections.",
    );
    let _ = writeln!(o, "lbd_process_current_connections {cur}");
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        if let Some(rss) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
        {
            // SAFETY: sysconf has no memory-safety preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
            header(
                o,
                "lbd_process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
            );
            let _ = writeln!(o, "lbd_process_resident_memory_bytes {}", rss * page);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        header(
            o,
            "lbd_process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        let _ = writeln!(o, "lbd_process_open_fds {}", fds.count());
    }
}
