//! Metrics in the Prometheus text format, HAProxy's shapes under the `lbd_` prefix.

use crate::backend::state::{Admin, BUCKETS_US};
use crate::graph::Graph;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Renders the metrics of a graph.
pub fn prometheus(g: &Graph) -> String {
    let mut o = String::with_capacity(4096);
    let _ = writeln!(
        o,
        "# HELP lbd_frontend_http_requests_total Total number of HTTP requests received."
    );
    let _ = writeln!(o, "# TYPE lbd_frontend_http_requests_total counter");
    for f in &g.frontends {
        let _ = writeln!(
            o,
            "lbd_frontend_http_requests_total{{proxy=\"{}\"}} {}",
            f.name,
            f.shared.requests.load(Relaxed)
        );
    }
    let _ = writeln!(
        o,
        "# HELP lbd_frontend_current_sessions Number of current sessions."
    );
    let _ = writeln!(o, "# TYPE lbd_frontend_current_sessions gauge");
    for f in &g.frontends {
        let _ = writeln!(
            o,
            "lbd_frontend_current_sessions{{proxy=\"{}\"}} {}",
            f.name,
            f.shared.cur.load(Relaxed)
        );
    }
    let _ = writeln!(
        o,
        "# HELP lbd_backend_active_servers Number of active UP servers."
    );
    let _ = writeln!(o, "# TYPE lbd_backend_active_servers gauge");
    for b in &g.backends {
        let _ = writeln!(
            o,
            "lbd_backend_active_servers{{proxy=\"{}\"}} {}",
            b.name,
            b.usable_counts().0
        );
    }
    let _ = writeln!(o, "# HELP lbd_server_status Current status of the server.");
    let _ = writeln!(o, "# TYPE lbd_server_status gauge");
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
    let _ = writeln!(
        o,
        "# HELP lbd_server_current_sessions Number of current sessions."
    );
    let _ = writeln!(o, "# TYPE lbd_server_current_sessions gauge");
    for b in &g.backends {
        for s in &b.servers {
            let _ = writeln!(
                o,
                "lbd_server_current_sessions{{proxy=\"{}\",server=\"{}\"}} {}",
                b.name,
                s.name,
                s.state.cur.load(Relaxed)
            );
        }
    }
    let _ = writeln!(o, "# HELP lbd_server_weight Service weight.");
    let _ = writeln!(o, "# TYPE lbd_server_weight gauge");
    for b in &g.backends {
        for s in &b.servers {
            let _ = writeln!(
                o,
                "lbd_server_weight{{proxy=\"{}\",server=\"{}\"}} {}",
                b.name,
                s.name,
                s.state.weight()
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP lbd_server_sessions_total Total number of sessions."
    );
    let _ = writeln!(o, "# TYPE lbd_server_sessions_total counter");
    for b in &g.backends {
        for s in &b.servers {
            let _ = writeln!(
                o,
                "lbd_server_sessions_total{{proxy=\"{}\",server=\"{}\"}} {}",
                b.name,
                s.name,
                s.state.total.load(Relaxed)
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP lbd_server_check_failures_total Total number of failed individual health checks."
    );
    let _ = writeln!(o, "# TYPE lbd_server_check_failures_total counter");
    for b in &g.backends {
        for s in &b.servers {
            let c = s.state.check.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(
                o,
                "lbd_server_check_failures_total{{proxy=\"{}\",server=\"{}\"}} {}",
                b.name, s.name, c.failed_checks
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP lbd_server_check_up_down_total Total number of UP->DOWN transitions."
    );
    let _ = writeln!(o, "# TYPE lbd_server_check_up_down_total counter");
    for b in &g.backends {
        for s in &b.servers {
            let c = s.state.check.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(
                o,
                "lbd_server_check_up_down_total{{proxy=\"{}\",server=\"{}\"}} {}",
                b.name, s.name, c.down_transitions
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP lbd_server_response_time_seconds Time from the server connection being ready to the response head."
    );
    let _ = writeln!(o, "# TYPE lbd_server_response_time_seconds histogram");
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
    let pid = std::process::id();
    let _ = writeln!(
        o,
        "# HELP lbd_process_start_time_seconds Start time of the process since the epoch."
    );
    let _ = writeln!(o, "# TYPE lbd_process_start_time_seconds gauge");
    let _ = writeln!(o, "lbd_process_start_time_seconds {}", super::start_epoch());
    let _ = writeln!(
        o,
        "# HELP lbd_process_uptime_seconds How long the process has been running."
    );
    let _ = writeln!(o, "# TYPE lbd_process_uptime_seconds gauge");
    let _ = writeln!(o, "lbd_process_uptime_seconds {}", super::uptime_s());
    let cur: u32 = g.frontends.iter().map(|f| f.shared.cur.load(Relaxed)).sum();
    let _ = writeln!(
        o,
        "# HELP lbd_process_current_connections Number of active client connections."
    );
    let _ = writeln!(o, "# TYPE lbd_process_current_connections gauge");
    let _ = writeln!(o, "lbd_process_current_connections {cur}");
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        if let Some(rss) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
        {
            // SAFETY: sysconf has no memory-safety preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
            let _ = writeln!(
                o,
                "# HELP lbd_process_resident_memory_bytes Resident memory size in bytes."
            );
            let _ = writeln!(o, "# TYPE lbd_process_resident_memory_bytes gauge");
            let _ = writeln!(o, "lbd_process_resident_memory_bytes {}", rss * page);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            o,
            "# HELP lbd_process_open_fds Number of open file descriptors."
        );
        let _ = writeln!(o, "# TYPE lbd_process_open_fds gauge");
        let _ = writeln!(o, "lbd_process_open_fds {}", fds.count());
    }
    let _ = (pid,);
}
