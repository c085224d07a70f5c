//! Stats counters against the traffic a test sends through the real `lbd` binary: the
//! numbers an operator reads in `show stat` (runtime socket), on the stats page's CSV
//! and JSON, and in `show info` are exact, and agree with what the origins counted.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use stats::*;

/// Frontend `fe` on `@FE@` to backend `web` (roundrobin over `servers`), the stats
/// page on its own `listen stats` at `@FE2@` (so reading stats adds no traffic to
/// `fe`), and an admin runtime socket at `sock`.
fn config(sock: &str, servers: &[(&str, String)]) -> String {
    let mut c = format!(
        "global\n    stats socket {sock} mode 600 level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n"
    );
    for (n, s) in servers {
        c.push_str(&format!("    server {n} {s}\n"));
    }
    c.push_str("listen stats\n    bind 127.0.0.1:@FE2@\n    stats enable\n    stats uri /stats\n");
    c
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("stats JSON parses ({e}):\n{text}"))
}

/// The JSON object named `name` in `list`.
fn named<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} in {list}"))
}

#[tokio::test]
async fn seven_requests_are_counted_exactly_in_show_stat_csv_and_json() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(&sock, &[("a", a.hostport()), ("b", b.hostport())])).await;
    let seen = bodies(lb.port, "/", 7).await;
    assert_eq!(seen, ["a", "b", "a", "b", "a", "b", "a"]);
    assert_eq!((a.stats.requests(), b.stats.requests()), (4, 3));

    // show info first: nothing else has touched lbd yet.
    let info = cli_until(&sock, "show info", |i| i.contains("\nCurrConns: 0\n")).await;
    assert!(info.contains("\nCumReq: 7\n"), "{info}");
    assert!(info.contains("\nCumConns: 7\n"), "{info}");
    assert!(info.contains("\nCurrConns: 0\n"), "{info}");

    for (what, text) in [
        ("show stat", cli(&sock, "show stat").await),
        ("/stats;csv", get(lb.port2, "/stats;csv").await.body),
    ] {
        let csv = Csv::parse(&text);
        let ctx = format!("{what}:\n{text}");
        assert_eq!(csv.num("fe", "FRONTEND", "stot"), 7, "{ctx}");
        assert_eq!(csv.num("fe", "FRONTEND", "req_tot"), 7, "{ctx}");
        assert_eq!(csv.num("fe", "FRONTEND", "hrsp_2xx"), 7, "{ctx}");
        assert_eq!(csv.num("fe", "FRONTEND", "hrsp_4xx"), 0, "{ctx}");
        assert_eq!(csv.num("fe", "FRONTEND", "hrsp_5xx"), 0, "{ctx}");
        assert_eq!(csv.num("fe", "FRONTEND", "scur"), 0, "{ctx}");
        assert_eq!(csv.get("fe", "FRONTEND", "status"), "OPEN", "{ctx}");
        assert_eq!(csv.num("web", "a", "stot"), 4, "{ctx}");
        assert_eq!(csv.num("web", "a", "lbtot"), 4, "{ctx}");
        assert_eq!(csv.num("web", "a", "hrsp_2xx"), 4, "{ctx}");
        assert_eq!(csv.num("web", "a", "smax"), 1, "{ctx}");
        assert_eq!(csv.num("web", "a", "scur"), 0, "{ctx}");
        assert_eq!(csv.num("web", "b", "stot"), 3, "{ctx}");
        assert_eq!(csv.num("web", "b", "hrsp_2xx"), 3, "{ctx}");
        assert_eq!(csv.get("web", "a", "status"), "no check", "{ctx}");
        assert_eq!(csv.num("web", "BACKEND", "stot"), 7, "{ctx}");
        assert_eq!(csv.get("web", "BACKEND", "status"), "UP", "{ctx}");
        assert_eq!(csv.num("web", "BACKEND", "act"), 2, "{ctx}");
        assert_eq!(csv.get("fe", "FRONTEND", "pid"), lb.pid().to_string());
    }

    let j = json(&get(lb.port2, "/stats;json").await.body);
    assert_eq!(j["pid"], lb.pid());
    let fe = named(&j["frontends"], "fe");
    assert_eq!(fe["requests"], 7, "{fe}");
    assert_eq!(fe["total"], 7, "{fe}");
    assert_eq!(fe["hrsp"], serde_json::json!([0, 7, 0, 0, 0, 0]), "{fe}");
    let web = named(&j["backends"], "web");
    assert_eq!(
        (web["total"].as_u64(), web["active"].as_u64()),
        (Some(7), Some(2))
    );
    let (sa, sb) = (named(&web["servers"], "a"), named(&web["servers"], "b"));
    assert_eq!(sa["total"], 4, "{sa}");
    assert_eq!(sa["hrsp"], serde_json::json!([0, 4, 0, 0, 0, 0]), "{sa}");
    assert_eq!(sb["total"], 3, "{sb}");
    assert_eq!(sb["hrsp"], serde_json::json!([0, 3, 0, 0, 0, 0]), "{sb}");
    assert_eq!(
        (sa["status"].as_str(), sa["cur"].as_u64()),
        (Some("UP"), Some(0))
    );
}

#[tokio::test]
async fn origin_404_and_503_land_in_hrsp_4xx_and_5xx() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(&sock, &[("a", a.hostport()), ("b", b.hostport())])).await;
    // Roundrobin: a, b, a, b, a, b, a, b, a.
    let plan = [
        "/status/404", // a
        "/status/404", // b
        "/status/503", // a
        "/status/503", // b
        "/status/503", // a
        "/",           // b
        "/status/302", // a
        "/status/500", // b
        "/status/204", // a
    ];
    let mut got = Vec::new();
    for p in plan {
        got.push(get(lb.port, p).await.status);
    }
    assert_eq!(got, [404, 404, 503, 503, 503, 200, 302, 500, 204]);

    let csv = Csv::parse(&cli(&sock, "show stat").await);
    let row = |px: &str, sv: &str| -> Vec<u64> {
        [
            "hrsp_1xx",
            "hrsp_2xx",
            "hrsp_3xx",
            "hrsp_4xx",
            "hrsp_5xx",
            "hrsp_other",
        ]
        .iter()
        .map(|c| csv.num(px, sv, c))
        .collect()
    };
    // The client saw: 1 200, 1 204, 1 302, 2 404, 3 503 and 1 500.
    assert_eq!(row("fe", "FRONTEND"), [0, 2, 1, 2, 4, 0]);
    assert_eq!(csv.num("fe", "FRONTEND", "req_tot"), 9);
    // Servers count what they answered: a 404, 503, 503, 302, 204; b 404, 503, 200, 500.
    assert_eq!(row("web", "a"), [0, 1, 1, 1, 2, 0]);
    assert_eq!(row("web", "b"), [0, 1, 0, 1, 2, 0]);
    assert_eq!(csv.num("web", "a", "stot"), 5);
    assert_eq!(csv.num("web", "b", "stot"), 4);

    let j = json(&get(lb.port2, "/stats?format=json").await.body);
    let fe = named(&j["frontends"], "fe");
    assert_eq!(fe["hrsp"], serde_json::json!([0, 2, 1, 2, 4, 0]), "{fe}");
    let web = named(&j["backends"], "web");
    assert_eq!(
        named(&web["servers"], "a")["hrsp"],
        serde_json::json!([0, 1, 1, 1, 2, 0])
    );
}

#[tokio::test]
async fn response_times_show_the_origin_delay() {
    let a = HttpOrigin::start("a").await;
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(&sock, &[("a", a.hostport())])).await;
    for _ in 0..4 {
        assert_eq!(get(lb.port, "/slow?ms=60").await.status, 200);
    }
    let j = json(&get(lb.port2, "/stats;json").await.body);
    let sa = named(&named(&j["backends"], "web")["servers"], "a");
    let avg = sa["avg_ms"].as_f64().expect("avg_ms");
    let (p50, p99) = (
        sa["p50_ms"].as_f64().unwrap(),
        sa["p99_ms"].as_f64().unwrap(),
    );
    assert!(
        (60.0..1000.0).contains(&avg),
        "avg {avg} ms for 60 ms answers"
    );
    // Percentiles are histogram bucket bounds: 60 ms falls in (50, 100].
    assert!(p50 >= 60.0 && p99 >= p50, "p50 {p50} p99 {p99}");
    assert!(p99 <= 1000.0, "p99 {p99}");
}

#[tokio::test]
async fn no_server_503_counts_on_the_frontend_and_as_no_server() {
    let closed = ClosedPort::new();
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(
        &sock,
        &[("a", format!("127.0.0.1:{} disabled", closed.port))],
    ))
    .await;
    for _ in 0..3 {
        assert_eq!(get(lb.port, "/").await.status, 503);
    }
    let csv = Csv::parse(&cli(&sock, "show stat").await);
    assert_eq!(csv.num("fe", "FRONTEND", "hrsp_5xx"), 3);
    assert_eq!(csv.get("web", "a", "status"), "MAINT");
    assert_eq!(csv.num("web", "a", "stot"), 0);
    assert_eq!(csv.get("web", "BACKEND", "status"), "DOWN");
    let j = json(&get(lb.port2, "/stats;json").await.body);
    assert_eq!(named(&j["backends"], "web")["no_server"], 3);
}

#[tokio::test]
async fn http_mode_counts_bytes_on_the_frontend_servers_and_backend() {
    let a = HttpOrigin::start("a").await;
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let lb = Lbd::start(&config(&sock, &[("a", a.hostport())])).await;
    let body = "x".repeat(5000);
    let req = hyper::Request::builder()
        .method("POST")
        .uri("/echo")
        .header("host", "lbd.test")
        .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
        .unwrap();
    let r = send(lb.port, req).await;
    assert_eq!(r.status, 200);
    let text = cli_until(&sock, "show stat", |t| {
        let c = Csv::parse(t);
        c.num("web", "a", "bout") >= 5000 && c.num("fe", "FRONTEND", "bout") >= 5000
    })
    .await;
    let csv = Csv::parse(&text);
    let fe_in = csv.num("fe", "FRONTEND", "bin");
    let fe_out = csv.num("fe", "FRONTEND", "bout");
    assert!(fe_in >= 5000, "frontend bytes in {fe_in}");
    assert!(fe_out >= 5000, "frontend bytes out {fe_out} (the echo)");
    let (s_in, s_out) = (csv.num("web", "a", "bin"), csv.num("web", "a", "bout"));
    // As HAProxy counts them: the whole request and response, headers included, so
    // the server's figures are the frontend's for its only request.
    assert_eq!(s_in, fe_in, "request bytes, headers included");
    assert_eq!(s_out, fe_out, "response bytes, headers included");
    assert!(s_in > 5000 && s_out > 5000, "{s_in} {s_out}");
    assert_eq!(csv.num("web", "BACKEND", "bin"), s_in);
    assert_eq!(csv.num("web", "BACKEND", "bout"), s_out);
}
