//! Metrics in the Prometheus text format, HAProxy's shapes under the `lbd_` prefix.

use crate::backend::state::Admin;
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
            let cur = match (s.state.admin(), s.state.is_up()) {
                (Admin::Maint, _) => "MAINT",
                (Admin::Drain, _) => "DRAIN",
                (Admin::Ready, true) => "UP",
                (Admin::Ready, false) => "DOWN",
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
    o
}
