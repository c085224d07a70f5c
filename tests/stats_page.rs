//! The stats page of the real `lbd` binary (`stats enable`, `stats uri`, `stats auth`,
//! `stats realm`, `stats refresh`): Basic authentication on every form, the HTML
//! dashboard, `;csv`, `;json`, `?format=json|csv`, and the live `;events` stream.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use stats::*;

const AUTH: Option<(&str, &str)> = Some(("admin", "s3cret"));

/// Traffic on `@FE@` to backend `web` (`a`, and `b` in maintenance), the stats page on
/// `listen stats` at `@FE2@` with two users and realm `LbdStats`.
fn config(a: &str, b: &str) -> String {
    format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server a {a}\n    server b {b} disabled\nlisten stats\n    bind 127.0.0.1:@FE2@\n    stats enable\n    stats uri /stats\n    stats realm LbdStats\n    stats refresh 5s\n    stats auth admin:s3cret\n    stats auth viewer:pw\n"
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("stats JSON parses ({e}):\n{text}"))
}

#[tokio::test]
async fn every_form_needs_credentials() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let lb = Lbd::start(&config(&a.hostport(), &b.hostport())).await;
    for path in [
        "/stats",
        "/stats;csv",
        "/stats;json",
        "/stats?format=json",
        "/stats;events",
    ] {
        for auth in [None, Some(("admin", "wrong")), Some(("nobody", "s3cret"))] {
            let r = get_auth(lb.port2, path, auth).await;
            assert_eq!(r.status, 401, "{path} with {auth:?}");
            assert_eq!(
                r.header("www-authenticate"),
                "Basic realm=\"LbdStats\"",
                "{path}"
            );
            assert!(
                !r.body.contains("\"backends\""),
                "no stats leak: {}",
                r.body
            );
        }
        for auth in [AUTH, Some(("viewer", "pw"))] {
            if path.ends_with("events") {
                let (u, p) = auth.expect("credentials");
                let v = format!("Basic {}", basic(u, p));
                let sse = Sse::open(lb.port2, get_req_with(path, &[("authorization", &v)])).await;
                assert_eq!(sse.status, 200, "{path} with {auth:?}");
            } else {
                assert_eq!(get_auth(lb.port2, path, auth).await.status, 200, "{path}");
            }
        }
    }
    // The page is on its own listener: the traffic frontend does not serve it.
    assert_eq!(get(lb.port, "/stats").await.body, "a");
}

#[tokio::test]
async fn html_csv_and_json_forms() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let lb = Lbd::start(&config(&a.hostport(), &b.hostport())).await;
    for _ in 0..3 {
        assert_eq!(get(lb.port, "/").await.body, "a");
    }

    let html = get_auth(lb.port2, "/stats", AUTH).await;
    assert_eq!(html.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(html.header("cache-control"), "no-cache");
    assert!(html.body.starts_with("<!DOCTYPE html>"), "{}", html.body);
    assert!(html.body.contains("<title>lbd statistics</title>"));
    assert!(html.body.contains("new EventSource(URI+';events')"));
    assert!(html.body.contains("<div id=\"legend\">"), "{}", html.body);
    assert!(html.body.contains("var URI=\"/stats\", REFRESH=5;"));
    // The initial snapshot is embedded, so the page renders before the first event.
    assert!(html.body.contains("\"name\":\"web\""), "{}", html.body);

    for path in ["/stats;csv", "/stats?format=csv"] {
        let r = get_auth(lb.port2, path, AUTH).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
        let csv = Csv::parse(&r.body);
        assert_eq!(csv.num("fe", "FRONTEND", "req_tot"), 3, "{path}");
        assert_eq!(csv.num("web", "a", "stot"), 3, "{path}");
        assert_eq!(csv.get("web", "b", "status"), "MAINT", "{path}");
        assert_eq!(csv.get("stats", "FRONTEND", "status"), "OPEN", "{path}");
    }

    for path in ["/stats;json", "/stats?format=json"] {
        let r = get_auth(lb.port2, path, AUTH).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), "application/json");
        let j = json(&r.body);
        assert_eq!(j["pid"], lb.pid(), "{path}");
        assert_eq!(j["version"], env!("CARGO_PKG_VERSION"), "{path}");
        let web = &j["backends"][0];
        assert_eq!(web["name"], "web");
        // The backend's bytes are its servers' (the page's totals row shows them).
        let served: u64 = (0..2)
            .map(|i| web["servers"][i]["bytes_out"].as_u64().unwrap())
            .sum();
        assert_eq!(web["bytes_out"].as_u64(), Some(served), "{path}");
        assert_eq!(web["total"], 3);
        assert_eq!(web["servers"][0]["name"], "a");
        assert_eq!(web["servers"][0]["status"], "UP");
        assert_eq!(web["servers"][0]["total"], 3);
        assert_eq!(web["servers"][1]["status"], "MAINT");
        assert_eq!(j["frontends"][0]["requests"], 3);
    }
}

#[tokio::test]
async fn events_stream_stats_frames_that_follow_the_traffic() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let lb = Lbd::start(&config(&a.hostport(), &b.hostport())).await;
    let auth = format!("Basic {}", basic("admin", "s3cret"));
    let mut sse = Sse::open(
        lb.port2,
        get_req_with("/stats;events", &[("authorization", &auth)]),
    )
    .await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.content_type, "text/event-stream");

    let total_of_a = |frame: &str| -> u64 {
        let data = frame
            .strip_prefix("event: stats\ndata: ")
            .unwrap_or_else(|| panic!("an 'event: stats' frame with one data line: {frame:?}"));
        assert!(!data.contains('\n'), "one data line: {frame:?}");
        json(data)["backends"][0]["servers"][0]["total"]
            .as_u64()
            .expect("servers[0].total")
    };
    let first = sse.next_frame().await.expect("first frame");
    assert_eq!(total_of_a(&first), 0);

    for _ in 0..4 {
        assert_eq!(get(lb.port, "/").await.body, "a");
    }
    // Frames come every second; one of the next two shows the four requests.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let f = sse.next_frame().await.expect("another frame");
        seen.push(total_of_a(&f));
        if seen.last() == Some(&4) {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&4), "totals seen: {seen:?}");

    // `Accept: text/event-stream` on the page URI gets the stream too.
    let mut sse = Sse::open(
        lb.port2,
        get_req_with(
            "/stats",
            &[("authorization", &auth), ("accept", "text/event-stream")],
        ),
    )
    .await;
    assert_eq!(sse.content_type, "text/event-stream");
    assert_eq!(total_of_a(&sse.next_frame().await.expect("frame")), 4);
}

#[tokio::test]
async fn default_realm_and_uri_without_auth() {
    let a = HttpOrigin::start("a").await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    stats enable\n    default_backend web\nbackend web\n    server a {}\n",
        a.hostport()
    ))
    .await;
    // `stats enable` alone: HAProxy's default URI, no authentication, on the traffic
    // frontend itself (answered before any backend is chosen).
    let r = get(lb.port, "/haproxy?stats").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<title>lbd statistics</title>"));
    let r = get(lb.port, "/haproxy?stats;csv").await;
    let csv = Csv::parse(&r.body);
    assert_eq!(csv.num("web", "a", "stot"), 0, "the page is not proxied");
    assert_eq!(get(lb.port, "/").await.body, "a");
    assert_eq!(a.stats.requests(), 1);

    let lb2 = Lbd::start(&format!(
        "{HTTP_DEFAULTS}listen stats\n    bind 127.0.0.1:@FE@\n    stats uri /s\n    stats auth u:p\n"
    ))
    .await;
    let r = get(lb2.port, "/s").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        "Basic realm=\"HAProxy Statistics\""
    );
}

#[tokio::test]
async fn a_backends_stats_page_is_served_after_its_request_rules() {
    let a = HttpOrigin::start("a").await;
    let lb = Lbd::start(&format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    use_backend web if {{ path_beg /bstats }} {{ req.hdr(x-to-web) -m found }}\n    default_backend admin\nbackend admin\n    stats uri /bstats\n    http-request deny if {{ req.hdr(x-deny) -m found }}\n    http-after-response set-header x-after admin\n    server a {0}\nbackend web\n    server a {0}\n",
        a.hostport()
    ))
    .await;
    // Routed to `admin`: its stats page, not its server, after its request rules, with
    // its after-response rules.
    let r = get(lb.port, "/bstats;csv").await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("# pxname,svname,"), "{}", r.body);
    assert_eq!(r.header("x-after"), "admin");
    let r = send(
        lb.port,
        hyper::Request::get("/bstats")
            .header("host", "x")
            .header("x-deny", "1")
            .body(ClientBody::default())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403, "the backend's http-request rules run first");
    // Another backend without stats forwards the same path; other paths are forwarded.
    let r = send(
        lb.port,
        hyper::Request::get("/bstats")
            .header("host", "x")
            .header("x-to-web", "1")
            .body(ClientBody::default())
            .unwrap(),
    )
    .await;
    assert_eq!(r.body, "a");
    assert_eq!(get(lb.port, "/").await.body, "a");
    assert_eq!(a.stats.requests(), 2);
}
