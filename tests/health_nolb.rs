//! `http-check disable-on-404`: a 404 to the check puts an UP server in NOLB (it stays
//! UP, takes no new traffic, logs `is stopping`), a 2xx brings it back (`is UP`), and a
//! 404 never brings a DOWN server UP.

mod common;
#[path = "common/health.rs"]
mod health;

use common::*;
use health::*;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_404_check_drains_an_up_server_and_a_200_brings_it_back() {
    let s1 = HealthOrigin::start("s1").await;
    let s2 = HealthOrigin::start("s2").await;
    let cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\n\
         backend web\n    option httpchk GET /health\n    http-check disable-on-404\n\
         \x20   server s1 {} check inter 100ms\n    server s2 {} check inter 100ms\n",
        s1.hostport(),
        s2.hostport()
    );
    let lbd = Lbd::start(&cfg).await;
    s1.set_health(404, "");
    wait_line(
        &lbd,
        &warning("Server web/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
        STEP,
    )
    .await;
    let before = s1.traffic();
    for _ in 0..6 {
        let r = get(lbd.port, "/").await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(s1.traffic(), before, "a NOLB server takes no new traffic");
    // Still UP: more 404s log nothing new.
    let n = s1.seen_for("/health").len();
    wait_until(STEP, "three more checks", || {
        s1.seen_for("/health").len() >= n + 3
    })
    .await;
    assert_eq!(lines_with(&lbd, "web/s1").len(), 1, "{:?}", lines(&lbd));

    s1.set_health(200, "");
    wait_line(
        &lbd,
        &warning("Server web/s1 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
        STEP,
    )
    .await;
    for _ in 0..6 {
        get(lbd.port, "/").await;
    }
    assert!(s1.traffic() > before, "back in the farm");
}

#[tokio::test]
async fn a_404_does_not_bring_a_down_server_up() {
    let s1 = HealthOrigin::start("s1").await;
    s1.set_health(404, "");
    let cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\n\
         backend web\n    option httpchk GET /health\n    http-check disable-on-404\n\
         \x20   server s1 {} check inter 100ms init-state down\n",
        s1.hostport()
    );
    let lbd = Lbd::start(&cfg).await;
    let n = s1.seen_for("/health").len();
    wait_until(STEP, "four checks", || {
        s1.seen_for("/health").len() >= n + 4
    })
    .await;
    assert!(
        lines_with(&lbd, "web/s1 is").is_empty(),
        "{:?}",
        lines(&lbd)
    );
    assert_eq!(get(lbd.port, "/").await.status, 503);
}
