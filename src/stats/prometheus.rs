//! Metrics in the Prometheus text format: HAProxy's exporter families (`haproxy_*`,
//! same names, types and labels) for what lbd measures, and lbd's own under `lbd_`
//! (the response-time histogram, uptime, memory, descriptors).

use crate::backend::state::BUCKETS_US;
use crate::graph::Graph;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Writes the `# HELP` and `# TYPE` lines of a metric family.
fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// One sample: its labels (without braces) and its value as written.
type Sample = (String, String);

/// Writes a family: HELP, TYPE, then its samples.
fn family(o: &mut String, (name, kind, help): (&str, &str, &str), samples: Vec<Sample>) {
    if samples.is_empty() {
        return;
    }
    header(o, name, kind, help);
    for (labels, v) in samples {
        let _ = writeln!(o, "{name}{{{labels}}} {v}");
    }
}

/// A label value, escaped as the text format wants.
fn lv(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `NaN` where HAProxy's exporter writes it: a value that does not apply (no limit,
/// no check).
fn or_nan(applies: bool, v: impl ToString) -> String {
    if applies {
        v.to_string()
    } else {
        "NaN".into()
    }
}

const CODES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// `http_responses_total{code=...}` samples for `labels` and the six classes.
fn codes(labels: &str, h: &[u64; 6]) -> Vec<Sample> {
    CODES
        .iter()
        .zip(h)
        .map(|(c, v)| (format!("{labels},code=\"{c}\""), v.to_string()))
        .collect()
}

/// `status{state=...}` samples: 1 for `cur`, 0 for the other `states`.
fn states(labels: &str, states: &[&str], cur: &str) -> Vec<Sample> {
    states
        .iter()
        .map(|st| {
            (
                format!("{labels},state=\"{st}\""),
                u8::from(*st == cur).to_string(),
            )
        })
        .collect()
}

/// HAProxy's exporter families (`haproxy_frontend_*`, `haproxy_backend_*`,
/// `haproxy_server_*`, with HAProxy's names, types and `proxy`/`server`/`code`/`state`
/// labels) for what lbd measures.
fn haproxy_families(o: &mut String, snap: &super::Snapshot) {
    type F<'a> = (&'a str, &'a str, &'a str);
    type FeF = fn(&super::FrontendSnap) -> Vec<Sample>;
    type BeF = fn(&super::BackendSnap) -> Vec<Sample>;
    fn fe(f: &super::FrontendSnap) -> String {
        format!("proxy=\"{}\"", lv(&f.name))
    }
    fn be(b: &super::BackendSnap) -> String {
        format!("proxy=\"{}\"", lv(&b.name))
    }
    fn sum(b: &super::BackendSnap, f: fn(&super::ServerSnap) -> u64) -> u64 {
        b.servers.iter().map(f).sum()
    }
    let fams: Vec<(F, FeF)> = vec![
        (("haproxy_frontend_status", "gauge", "Current status of the service, per state label value."),
            (|f| states(&fe(f), &["DOWN", "UP"], "UP"))),
        (("haproxy_frontend_current_sessions", "gauge", "Number of current sessions on the frontend, backend or server."),
            (|f| vec![(fe(f), f.cur.to_string())])),
        (("haproxy_frontend_limit_sessions", "gauge", "Frontend/listener/server's maxconn, backend's fullconn."),
            (|f| vec![(fe(f), f.limit.to_string())])),
        (("haproxy_frontend_sessions_total", "counter", "Total number of sessions since process started."),
            (|f| vec![(fe(f), f.total.to_string())])),
        (("haproxy_frontend_connections_total", "counter", "Total number of new connections accepted on this frontend since the worker process started."),
            (|f| vec![(fe(f), f.total.to_string())])),
        (("haproxy_frontend_bytes_in_total", "counter", "Total number of request bytes since process started."),
            (|f| vec![(fe(f), f.bytes.0.to_string())])),
        (("haproxy_frontend_bytes_out_total", "counter", "Total number of response bytes since process started."),
            (|f| vec![(fe(f), f.bytes.1.to_string())])),
        (("haproxy_frontend_requests_denied_total", "counter", "Total number of denied requests since process started."),
            (|f| vec![(fe(f), f.denied.to_string())])),
        (("haproxy_frontend_denied_connections_total", "counter", "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started."),
            (|f| vec![(fe(f), f.denied_conn.to_string())])),
        (("haproxy_frontend_http_requests_total", "counter", "Total number of HTTP requests processed by this object since the worker process started."),
            (|f| vec![(fe(f), f.requests.to_string())])),
        (("haproxy_frontend_http_responses_total", "counter", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started."),
            (|f| codes(&fe(f), &f.hrsp))),
    ];
    for (meta, get) in fams {
        family(o, meta, snap.frontends.iter().flat_map(get).collect());
    }
    let fams: Vec<(F, BeF)> = vec![
        (("haproxy_backend_status", "gauge", "Current status of the service, per state label value."),
            (|b| {
                let up = b.act + b.bck > 0 || b.servers.is_empty();
                states(&be(b), &["DOWN", "UP"], if up { "UP" } else { "DOWN" })
            })),
        (("haproxy_backend_current_sessions", "gauge", "Number of current sessions on the frontend, backend or server."),
            (|b| vec![(be(b), sum(b, |s| s.cur.into()).to_string())])),
        (("haproxy_backend_sessions_total", "counter", "Total number of sessions since process started."),
            (|b| vec![(be(b), b.total.to_string())])),
        (("haproxy_backend_current_queue", "gauge", "Number of current queued connections."),
            (|b| vec![(be(b), b.queued.to_string())])),
        (("haproxy_backend_bytes_in_total", "counter", "Total number of request bytes since process started."),
            (|b| vec![(be(b), b.bytes.0.to_string())])),
        (("haproxy_backend_bytes_out_total", "counter", "Total number of response bytes since process started."),
            (|b| vec![(be(b), b.bytes.1.to_string())])),
        (("haproxy_backend_connection_errors_total", "counter", "Total number of failed connections to server since the worker process started."),
            (|b| vec![(be(b), sum(b, |s| s.econ).to_string())])),
        (("haproxy_backend_response_errors_total", "counter", "Total number of invalid responses since the worker process started."),
            (|b| vec![(be(b), sum(b, |s| s.eresp).to_string())])),
        (("haproxy_backend_retry_warnings_total", "counter", "Total number of server connection retries since the worker process started."),
            (|b| vec![(be(b), sum(b, |s| s.retries.0).to_string())])),
        (("haproxy_backend_redispatch_warnings_total", "counter", "Total number of server redispatches due to connection failures since the worker process started."),
            (|b| vec![(be(b), sum(b, |s| s.retries.1).to_string())])),
        (("haproxy_backend_active_servers", "gauge", "Total number of active UP servers with a non-zero weight."),
            (|b| vec![(be(b), b.act.to_string())])),
        (("haproxy_backend_backup_servers", "gauge", "Total number of backup UP servers with a non-zero weight."),
            (|b| vec![(be(b), b.bck.to_string())])),
        (("haproxy_backend_weight", "gauge", "Server's effective weight, or sum of active servers' effective weights for a backend."),
            (|b| {
                let w: u32 = b.servers.iter().filter(|s| s.status.starts_with("UP") && !s.backup).map(|s| s.weight).sum();
                vec![(be(b), w.to_string())]
            })),
        (("haproxy_backend_loadbalanced_total", "counter", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)."),
            (|b| vec![(be(b), b.total.to_string())])),
        (("haproxy_backend_http_responses_total", "counter", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started."),
            (|b| {
                let h: [u64; 6] = std::array::from_fn(|i| b.servers.iter().map(|s| s.hrsp[i]).sum());
                codes(&be(b), &h)
            })),
    ];
    for (meta, get) in fams {
        family(o, meta, snap.backends.iter().flat_map(get).collect());
    }
    let servers: Vec<(String, &super::ServerSnap)> = snap
        .backends
        .iter()
        .flat_map(|b| {
            b.servers.iter().map(move |s| {
                (
                    format!("proxy=\"{}\",server=\"{}\"", lv(&b.name), lv(&s.name)),
                    s,
                )
            })
        })
        .collect();
    type SF = fn(&str, &super::ServerSnap) -> Vec<Sample>;
    let fams: Vec<(F, SF)> = vec![
        (("haproxy_server_status", "gauge", "Current status of the service, per state label value."),
            |l, s| {
                let cur = s.status.split(' ').next().unwrap_or("DOWN");
                states(l, &["DOWN", "UP", "MAINT", "DRAIN", "NOLB"], cur)
            }),
        (("haproxy_server_current_sessions", "gauge", "Number of current sessions on the frontend, backend or server."),
            |l, s| vec![(l.into(), s.cur.to_string())]),
        (("haproxy_server_max_sessions", "gauge", "Highest value of current sessions encountered since process started."),
            |l, s| vec![(l.into(), s.max.to_string())]),
        (("haproxy_server_limit_sessions", "gauge", "Frontend/listener/server's maxconn, backend's fullconn."),
            |l, s| vec![(l.into(), or_nan(s.limit != 0, s.limit))]),
        (("haproxy_server_sessions_total", "counter", "Total number of sessions since process started."),
            |l, s| vec![(l.into(), s.total.to_string())]),
        (("haproxy_server_current_queue", "gauge", "Number of current queued connections."),
            |l, s| vec![(l.into(), s.queued.to_string())]),
        (("haproxy_server_bytes_in_total", "counter", "Total number of request bytes since process started."),
            |l, s| vec![(l.into(), s.bytes.0.to_string())]),
        (("haproxy_server_bytes_out_total", "counter", "Total number of response bytes since process started."),
            |l, s| vec![(l.into(), s.bytes.1.to_string())]),
        (("haproxy_server_connection_errors_total", "counter", "Total number of failed connections to server since the worker process started."),
            |l, s| vec![(l.into(), s.econ.to_string())]),
        (("haproxy_server_response_errors_total", "counter", "Total number of invalid responses since the worker process started."),
            |l, s| vec![(l.into(), s.eresp.to_string())]),
        (("haproxy_server_retry_warnings_total", "counter", "Total number of server connection retries since the worker process started."),
            |l, s| vec![(l.into(), s.retries.0.to_string())]),
        (("haproxy_server_redispatch_warnings_total", "counter", "Total number of server redispatches due to connection failures since the worker process started."),
            |l, s| vec![(l.into(), s.retries.1.to_string())]),
        (("haproxy_server_weight", "gauge", "Server's effective weight, or sum of active servers' effective weights for a backend."),
            |l, s| vec![(l.into(), s.weight.to_string())]),
        (("haproxy_server_check_failures_total", "counter", "Total number of failed individual health checks per server/backend, since the worker process started."),
            |l, s| vec![(l.into(), or_nan(s.checked, s.chkfail))]),
        (("haproxy_server_check_up_down_total", "counter", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started."),
            |l, s| vec![(l.into(), or_nan(s.checked, s.chkdown))]),
        (("haproxy_server_downtime_seconds_total", "counter", "Total time spent in DOWN state, for server or backend."),
            |l, s| vec![(l.into(), or_nan(s.checked, s.downtime))]),
        (("haproxy_server_check_last_change_seconds", "gauge", "How long ago the last server state changed, in seconds."),
            |l, s| vec![(l.into(), s.lastchg.to_string())]),
        (("haproxy_server_loadbalanced_total", "counter", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)."),
            |l, s| vec![(l.into(), s.total.to_string())]),
        (("haproxy_server_response_time_average_seconds", "gauge", "Avg. response time for last 1024 successful connections."),
            |l, s| vec![(l.into(), (s.avg_ms / 1000.0).to_string())]),
        (("haproxy_server_http_responses_total", "counter", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started."),
            |l, s| codes(l, &s.hrsp)),
    ];
    for (meta, get) in fams {
        family(
            o,
            meta,
            servers.iter().flat_map(|(l, s)| get(l, s)).collect(),
        );
    }
}

/// Renders the metrics of a graph.
pub fn prometheus(g: &Graph) -> String {
    let mut o = String::with_capacity(16384);
    let snap = super::snapshot(g);
    haproxy_process(&mut o, g);
    haproxy_families(&mut o, &snap);
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
    process(&mut o);
    o
}

/// HAProxy's process families that lbd can fill.
fn haproxy_process(o: &mut String, g: &Graph) {
    header(o, "haproxy_process_build_info", "gauge", "Build info");
    let _ = writeln!(
        o,
        "haproxy_process_build_info{{version=\"lbd {}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    header(
        o,
        "haproxy_process_start_time_seconds",
        "gauge",
        "Start time in seconds.",
    );
    let _ = writeln!(
        o,
        "haproxy_process_start_time_seconds {}",
        super::start_epoch()
    );
    let cur: u32 = g.frontends.iter().map(|f| f.shared.cur.load(Relaxed)).sum();
    header(
        o,
        "haproxy_process_current_connections",
        "gauge",
        "Number of active sessions.",
    );
    let _ = writeln!(o, "haproxy_process_current_connections {cur}");
}

/// lbd's own process families.
fn process(o: &mut String) {
    header(
        o,
        "lbd_process_uptime_seconds",
        "gauge",
        "How long the process has been running.",
    );
    let _ = writeln!(o, "lbd_process_uptime_seconds {}", super::uptime_s());
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
