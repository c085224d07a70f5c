//! `http-request use-service prometheus-exporter` of the real `lbd` binary: the output
//! is checked against an independent parser of the Prometheus text format
//! (`prometheus-parse`) plus the format's rules it does not enforce (every line
//! understood, one TYPE per family before its samples, no duplicate series, histogram
//! buckets cumulative with `+Inf` equal to `_count`), and the values follow the traffic
//! and the servers' states.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use prometheus_parse::{LineInfo, Sample, Scrape, Value};
use stats::*;
use std::collections::{HashMap, HashSet};

/// Traffic on `@FE@` to `web` (roundrobin over `servers`), metrics on their own
/// frontend at `@FE2@` (so scraping adds no traffic to `fe`), an admin socket at `sock`.
fn config(sock: &str, servers: &[(&str, String)]) -> String {
    let mut c = format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}    timeout check 500ms\nfrontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nfrontend metrics\n    bind 127.0.0.1:@FE2@\n    http-request use-service prometheus-exporter if {{ path /metrics }}\n    default_backend web\nbackend web\n    balance roundrobin\n"
    );
    for (n, s) in servers {
        c.push_str(&format!("    server {n} {s}\n"));
    }
    c
}

/// One scrape, validated.
struct Metrics {
    text: String,
    samples: Vec<Sample>,
}

impl Metrics {
    /// Scrapes `/metrics` and validates the exposition format.
    async fn scrape(port: u16) -> Metrics {
        let r = get(port, "/metrics").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.header("content-type"),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = r.body;
        validate(&text);
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .unwrap_or_else(|e| panic!("prometheus-parse rejects the output ({e}):\n{text}"));
        Metrics {
            text,
            samples: scrape.samples,
        }
    }

    /// The sample of `metric` whose labels include `labels`; panics unless exactly one.
    fn one(&self, metric: &str, labels: &[(&str, &str)]) -> &Sample {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
            })
            .collect();
        assert_eq!(found.len(), 1, "one {metric}{labels:?} in:\n{}", self.text);
        found[0]
    }

    /// The value of a counter, gauge or untyped sample.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match &self.one(metric, labels).value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            v => panic!("{metric} is a single value, got {v:?}"),
        }
    }

    /// The `state` label whose `haproxy_server_status` is 1 (the others must be 0).
    fn status(&self, server: &str) -> String {
        let mut on = Vec::new();
        for st in ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"] {
            let v = self.value(
                "haproxy_server_status",
                &[("proxy", "web"), ("server", server), ("state", st)],
            );
            assert!(v == 0.0 || v == 1.0, "{server} {st} = {v}");
            if v == 1.0 {
                on.push(st);
            }
        }
        assert_eq!(on.len(), 1, "exactly one state of {server} is 1: {on:?}");
        on[0].to_string()
    }
}

/// The rules of the text format that `prometheus-parse` is lenient about.
fn validate(text: &str) {
    assert!(text.ends_with('\n'), "ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut series: HashSet<String> = HashSet::new();
    let mut sampled: HashSet<String> = HashSet::new();
    for line in text.lines() {
        let info = LineInfo::parse(line);
        match info {
            LineInfo::Doc { metric_name, .. } => {
                assert!(helps.insert(metric_name.to_string()), "one HELP: {line}");
            }
            LineInfo::Type {
                metric_name,
                metric_alias,
                sample_type,
            } => {
                let family = metric_alias.unwrap_or(metric_name);
                assert!(!sampled.contains(&family), "TYPE before samples: {line}");
                assert!(helps.contains(&family), "HELP before TYPE: {line}");
                let t = format!("{sample_type:?}");
                assert!(types.insert(family, t).is_none(), "one TYPE: {line}");
            }
            LineInfo::Sample {
                metric_name,
                labels,
                value,
                timestamp,
            } => {
                assert_eq!(timestamp, None, "no timestamps: {line}");
                let v: f64 = match value {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v
                        .parse()
                        .unwrap_or_else(|_| panic!("value is a float: {line}")),
                };
                // HAProxy's exporter writes NaN where a value does not apply.
                assert!(!v.is_nan() || value == "NaN", "{line}");
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        metric_name
                            .strip_suffix(s)
                            .filter(|f| types.get(*f).is_some_and(|t| t == "Histogram"))
                    })
                    .unwrap_or(metric_name);
                assert!(types.contains_key(family), "a TYPE for {family}: {line}");
                assert!(
                    metric_name.starts_with("haproxy_") || metric_name.starts_with("lbd_"),
                    "{line}"
                );
                sampled.insert(family.to_string());
                if let Some(l) = labels {
                    for kv in l.split(',') {
                        let (k, v) = kv
                            .split_once('=')
                            .unwrap_or_else(|| panic!("label k=v: {line}"));
                        assert!(
                            !k.is_empty()
                                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                            "label name: {line}"
                        );
                        assert!(
                            v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                            "quoted label value: {line}"
                        );
                    }
                }
                assert!(
                    series.insert(line.rsplit_once(' ').unwrap().0.to_string()),
                    "duplicate series: {line}"
                );
            }
            LineInfo::Empty => {}
            LineInfo::Ignored => panic!("a line the parser does not understand: {line:?}"),
        }
    }
}

/// Checks the response-time histogram of `server`; returns its count.
fn histogram(m: &Metrics, server: &str) -> u64 {
    let labels = [("proxy", "web"), ("server", server)];
    let Value::Histogram(buckets) = &m.one("lbd_server_response_time_seconds", &labels).value
    else {
        panic!("lbd_server_response_time_seconds is a histogram");
    };
    assert_eq!(buckets.len(), 15, "{buckets:?}");
    for w in buckets.windows(2) {
        assert!(
            w[0].less_than < w[1].less_than,
            "le increasing: {buckets:?}"
        );
        assert!(w[0].count <= w[1].count, "cumulative: {buckets:?}");
    }
    let last = buckets.last().unwrap();
    assert_eq!(last.less_than, f64::INFINITY);
    let count = m.value("lbd_server_response_time_seconds_count", &labels);
    assert_eq!(last.count, count, "+Inf == _count");
    let sum = m.value("lbd_server_response_time_seconds_sum", &labels);
    assert!(
        sum >= 0.0 && (count > 0.0 || sum == 0.0),
        "sum {sum} count {count}"
    );
    count as u64
}

#[tokio::test]
async fn metrics_parse_and_follow_traffic_and_health() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let gone = ClosedPort::new();
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(
        &sock,
        &[
            ("a", format!("{} weight 5 check inter 100", a.hostport())),
            ("b", format!("{} weight 2", b.hostport())),
            (
                "c",
                format!("127.0.0.1:{} check inter 100 fall 2", gone.port),
            ),
        ],
    ))
    .await;
    // c fails its checks and goes DOWN.
    lb.wait_for_log("Server web/c is DOWN").await;

    // 7 requests: weights 5:2 with c down.
    let seen = bodies(lb.port, "/", 7).await;
    assert_eq!(seen.iter().filter(|n| *n == "a").count(), 5, "{seen:?}");
    // Two at /slow so the histogram has a known lower bound.
    assert_eq!(get(lb.port, "/slow?ms=30").await.status, 200);
    assert_eq!(get(lb.port, "/slow?ms=30").await.status, 200);

    let m = Metrics::scrape(lb.port2).await;
    assert_eq!(
        m.value("haproxy_frontend_http_requests_total", &[("proxy", "fe")]),
        9.0
    );
    assert_eq!(
        m.value(
            "haproxy_frontend_http_requests_total",
            &[("proxy", "metrics")]
        ),
        1.0
    );
    assert_eq!(
        m.value("haproxy_backend_active_servers", &[("proxy", "web")]),
        2.0
    );
    assert_eq!(m.status("a"), "UP");
    assert_eq!(m.status("b"), "UP");
    assert_eq!(m.status("c"), "DOWN");
    let web = |s: &'static str| [("proxy", "web"), ("server", s)];
    assert_eq!(m.value("haproxy_server_weight", &web("a")), 5.0);
    assert_eq!(m.value("haproxy_server_weight", &web("b")), 2.0);
    assert_eq!(m.value("haproxy_server_current_sessions", &web("a")), 0.0);
    assert_eq!(
        m.value("haproxy_server_check_failures_total", &web("a")),
        0.0
    );
    assert_eq!(
        m.value("haproxy_server_check_up_down_total", &web("a")),
        0.0
    );
    // HAProxy starts a checked server UP at the lowest health: one failure takes it
    // DOWN, and checks go on failing.
    assert!(m.value("haproxy_server_check_failures_total", &web("c")) >= 1.0);
    assert_eq!(
        m.value("haproxy_server_check_up_down_total", &web("c")),
        1.0
    );
    let sessions = |s| m.value("haproxy_server_sessions_total", &web(s)) as u64;
    assert_eq!(sessions("a") + sessions("b"), 9);
    // What the origins received (a's checks are layer 4: no HTTP request).
    assert_eq!(sessions("a"), a.stats.requests() as u64);
    assert_eq!(sessions("b"), b.stats.requests() as u64);
    assert_eq!(sessions("c"), 0);
    // Every response was timed.
    assert_eq!(histogram(&m, "a"), sessions("a"));
    assert_eq!(histogram(&m, "b"), sessions("b"));
    assert_eq!(histogram(&m, "c"), 0);
    let slow = m.value("lbd_server_response_time_seconds_sum", &web("a"))
        + m.value("lbd_server_response_time_seconds_sum", &web("b"));
    assert!(slow >= 0.06, "two 30 ms answers are in the sums: {slow}");

    // Process metrics.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = m.value("haproxy_process_start_time_seconds", &[]);
    assert!(
        start <= now + 1.0 && now - start < 120.0,
        "start {start} now {now}"
    );
    assert!(m.value("lbd_process_uptime_seconds", &[]) < 120.0);
    assert!(
        m.value("haproxy_process_current_connections", &[]) >= 1.0,
        "the scrape"
    );
    assert!(m.value("lbd_process_resident_memory_bytes", &[]) > 1e6);
    assert!(m.value("lbd_process_open_fds", &[]) >= 3.0);

    // A scrape counts itself on its own frontend.
    let m = Metrics::scrape(lb.port2).await;
    assert_eq!(
        m.value(
            "haproxy_frontend_http_requests_total",
            &[("proxy", "metrics")]
        ),
        2.0
    );
    assert_eq!(
        m.value("haproxy_frontend_http_requests_total", &[("proxy", "fe")]),
        9.0
    );
}

#[tokio::test]
async fn sessions_weight_and_admin_states_are_reported() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let gone = ClosedPort::new();
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(
        &sock,
        &[
            ("a", a.hostport()),
            ("b", b.hostport()),
            (
                "c",
                format!("127.0.0.1:{} check inter 100 fall 1", gone.port),
            ),
        ],
    ))
    .await;
    lb.wait_for_log("Server web/c is DOWN").await;
    let web = |s: &'static str| [("proxy", "web"), ("server", s)];

    // A request held open on a is a current session.
    let port = lb.port;
    let held = tokio::spawn(async move { get(port, "/hold").await });
    wait_until(DEADLINE, "a holds the request", || a.stats.inflight() == 1).await;
    let m = Metrics::scrape(lb.port2).await;
    assert_eq!(m.value("haproxy_server_current_sessions", &web("a")), 1.0);
    assert_eq!(m.value("haproxy_server_current_sessions", &web("b")), 0.0);

    assert_eq!(cli(&sock, "set server web/a state drain").await, "\n");
    assert_eq!(cli(&sock, "disable server web/b").await, "\n");
    assert_eq!(cli(&sock, "set server web/c state drain").await, "\n");
    assert_eq!(cli(&sock, "set weight web/a 9").await, "\n");
    let m = Metrics::scrape(lb.port2).await;
    assert_eq!(m.status("a"), "DRAIN");
    assert_eq!(m.status("b"), "MAINT");
    assert_eq!(
        m.status("c"),
        "DOWN",
        "a drained server that is DOWN shows DOWN"
    );
    assert_eq!(m.value("haproxy_server_weight", &web("a")), 9.0);
    assert_eq!(
        m.value("haproxy_backend_active_servers", &[("proxy", "web")]),
        0.0
    );

    a.release();
    let r = within(DEADLINE, "held request", held).await.expect("task");
    assert_eq!(r.status, 200);
    let m = Metrics::scrape(lb.port2).await;
    assert_eq!(m.value("haproxy_server_current_sessions", &web("a")), 0.0);
    assert_eq!(m.value("haproxy_server_sessions_total", &web("a")), 1.0);
    assert_eq!(histogram(&m, "a"), 1);
}

/// The series of the public HAProxy Grafana dashboards and alert rules (HAProxy's own
/// exporter names) that lbd fills: each is present, typed as HAProxy types it, with
/// HAProxy's labels.
const DASHBOARD_SERIES: &[(&str, &str, &[&str])] = &[
    ("haproxy_process_build_info", "Gauge", &["version"]),
    ("haproxy_process_start_time_seconds", "Gauge", &[]),
    ("haproxy_process_current_connections", "Gauge", &[]),
    ("haproxy_frontend_status", "Gauge", &["proxy", "state"]),
    ("haproxy_frontend_current_sessions", "Gauge", &["proxy"]),
    ("haproxy_frontend_limit_sessions", "Gauge", &["proxy"]),
    ("haproxy_frontend_sessions_total", "Counter", &["proxy"]),
    ("haproxy_frontend_connections_total", "Counter", &["proxy"]),
    ("haproxy_frontend_bytes_in_total", "Counter", &["proxy"]),
    ("haproxy_frontend_bytes_out_total", "Counter", &["proxy"]),
    (
        "haproxy_frontend_requests_denied_total",
        "Counter",
        &["proxy"],
    ),
    (
        "haproxy_frontend_http_requests_total",
        "Counter",
        &["proxy"],
    ),
    (
        "haproxy_frontend_http_responses_total",
        "Counter",
        &["proxy", "code"],
    ),
    ("haproxy_backend_status", "Gauge", &["proxy", "state"]),
    ("haproxy_backend_current_sessions", "Gauge", &["proxy"]),
    ("haproxy_backend_sessions_total", "Counter", &["proxy"]),
    ("haproxy_backend_current_queue", "Gauge", &["proxy"]),
    ("haproxy_backend_bytes_in_total", "Counter", &["proxy"]),
    ("haproxy_backend_bytes_out_total", "Counter", &["proxy"]),
    (
        "haproxy_backend_connection_errors_total",
        "Counter",
        &["proxy"],
    ),
    (
        "haproxy_backend_response_errors_total",
        "Counter",
        &["proxy"],
    ),
    (
        "haproxy_backend_retry_warnings_total",
        "Counter",
        &["proxy"],
    ),
    (
        "haproxy_backend_redispatch_warnings_total",
        "Counter",
        &["proxy"],
    ),
    ("haproxy_backend_active_servers", "Gauge", &["proxy"]),
    ("haproxy_backend_backup_servers", "Gauge", &["proxy"]),
    ("haproxy_backend_weight", "Gauge", &["proxy"]),
    (
        "haproxy_backend_http_responses_total",
        "Counter",
        &["proxy", "code"],
    ),
    (
        "haproxy_server_status",
        "Gauge",
        &["proxy", "server", "state"],
    ),
    (
        "haproxy_server_current_sessions",
        "Gauge",
        &["proxy", "server"],
    ),
    ("haproxy_server_max_sessions", "Gauge", &["proxy", "server"]),
    (
        "haproxy_server_sessions_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_current_queue",
        "Gauge",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_bytes_in_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_bytes_out_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_connection_errors_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_response_errors_total",
        "Counter",
        &["proxy", "server"],
    ),
    ("haproxy_server_weight", "Gauge", &["proxy", "server"]),
    (
        "haproxy_server_check_failures_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_check_up_down_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_downtime_seconds_total",
        "Counter",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_check_last_change_seconds",
        "Gauge",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_response_time_average_seconds",
        "Gauge",
        &["proxy", "server"],
    ),
    (
        "haproxy_server_http_responses_total",
        "Counter",
        &["proxy", "server", "code"],
    ),
];

#[tokio::test]
async fn haproxy_dashboard_series_are_there_with_haproxy_types_and_labels() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let lb = Lbd::start(&config(
        &dir.path("lbd.sock"),
        &[
            ("a", format!("{} check inter 100 maxconn 12", a.hostport())),
            ("b", b.hostport()),
        ],
    ))
    .await;
    assert_eq!(bodies(lb.port, "/", 2).await.len(), 2);
    let m = Metrics::scrape(lb.port2).await;
    for (name, kind, labels) in DASHBOARD_SERIES {
        let found: Vec<&Sample> = m.samples.iter().filter(|s| s.metric == *name).collect();
        assert!(!found.is_empty(), "{name} missing:\n{}", m.text);
        for s in found {
            let ty = format!("{:?}", s.value);
            assert!(ty.starts_with(kind), "{name} is a {kind}: {ty}");
            let mut got: Vec<&str> = s.labels.keys().map(String::as_str).collect();
            got.sort_unstable();
            let mut want = labels.to_vec();
            want.sort_unstable();
            assert_eq!(got, want, "{name} labels");
        }
    }
    // HAProxy's values where they do not apply (contrib/prometheus.vtc): NaN.
    let line = |l: &str| m.text.lines().any(|x| x == l);
    assert!(line(
        "haproxy_server_check_failures_total{proxy=\"web\",server=\"b\"} NaN"
    ));
    assert!(line(
        "haproxy_server_check_failures_total{proxy=\"web\",server=\"a\"} 0"
    ));
    assert!(line(
        "haproxy_server_limit_sessions{proxy=\"web\",server=\"b\"} NaN"
    ));
    assert!(line(
        "haproxy_server_limit_sessions{proxy=\"web\",server=\"a\"} 12"
    ));
    assert!(line(
        "haproxy_frontend_http_responses_total{proxy=\"fe\",code=\"2xx\"} 2"
    ));
    assert!(line("haproxy_backend_status{proxy=\"web\",state=\"UP\"} 1"));
    assert!(line(
        "haproxy_server_status{proxy=\"web\",server=\"a\",state=\"DOWN\"} 0"
    ));
    // lbd-only series keep the lbd_ prefix, and nothing else is left under it.
    for s in &m.samples {
        if let Some(rest) = s.metric.strip_prefix("lbd_") {
            assert!(
                rest.starts_with("server_response_time_seconds") || rest.starts_with("process_"),
                "{}",
                s.metric
            );
        }
    }
}
