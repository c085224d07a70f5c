//! Agent checks (`agent-check`) of the real `lbd` binary against a fake agent the test
//! runs: the weight, admin state, operational state and maxconn the agent replies are
//! applied as HAProxy applies them, visible in `show servers state` and `show stat`,
//! with HAProxy's log lines; an agent that cannot be reached never marks a server DOWN.

mod common;
#[path = "common/health.rs"]
mod health;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use health::*;
use stats::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fake agent: answers every connection with the current reply once it has read
/// the `agent-send` string, then closes.
struct Agent {
    port: u16,
    reply: Arc<Mutex<String>>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    async fn start(reply: &str, expect: usize) -> Agent {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let reply = Arc::new(Mutex::new(reply.to_string()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r, sn) = (reply.clone(), seen.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let answer = r.lock().unwrap().clone();
                let sn = sn.clone();
                tokio::spawn(async move {
                    let mut b = vec![0u8; expect];
                    let got = tokio::time::timeout(DEADLINE, s.read_exact(&mut b)).await;
                    if matches!(got, Ok(Ok(_))) {
                        sn.lock().unwrap().push(b);
                        let _ = s.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        Agent {
            port,
            reply,
            seen,
            task,
        }
    }

    fn set(&self, reply: &str) {
        *self.reply.lock().unwrap() = reply.to_string();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An admin socket in `dir`, frontend `fe` on `@FE@`, backend `web` (roundrobin, with
/// `option log-health-checks`) made of `servers`.
fn config(dir: &SockDir, servers: &[String]) -> String {
    let mut c = format!(
        "global\n    stats socket {} mode 600 level admin\n{TCP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n    option log-health-checks\n",
        dir.sock()
    );
    for s in servers {
        c.push_str(&format!("    {s}\n"));
    }
    c
}

/// The `show servers state` fields of server `name` of backend `web`.
async fn state(dir: &SockDir, name: &str) -> Vec<String> {
    let out = cli(dir.sock(), "show servers state web").await;
    out.lines()
        .map(|l| l.split(' ').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[3] == name)
        .unwrap_or_else(|| panic!("no server {name} in:\n{out}"))
}

/// Waits until `show servers state` of `name` has `want` at the given positions
/// (5 op state, 6 admin state, 7 user weight, 8 initial weight).
async fn wait_state(dir: &SockDir, name: &str, want: &[(usize, &str)]) -> Vec<String> {
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let f = state(dir, name).await;
        if want.iter().all(|(i, v)| f[*i] == *v) {
            return f;
        }
        assert!(
            std::time::Instant::now() < end,
            "server {name}: want {want:?}, state is {f:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stat(dir: &SockDir) -> Csv {
    Csv::parse(&cli(dir.sock(), "show stat").await)
}

/// Waits until column `col` of server `s1` in `show stat` is `want`; gives that
/// `show stat`.
async fn wait_stat(dir: &SockDir, col: &str, want: &str) -> Csv {
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let st = stat(dir).await;
        if st.get("web", "s1", col) == want {
            return st;
        }
        assert!(
            std::time::Instant::now() < end,
            "{col} of s1 never became {want:?} (is {:?})",
            st.get("web", "s1", col)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn agent_line(result: &str, reason: &str, status: &str) -> String {
    warning(&format!(
        "Agent check for server web/s1 {result}, {reason}, check duration: Nms, status: {status}."
    ))
}

/// The words of the agent's replies, one after the other: a weight share, maxconn,
/// drain, down with a description, up, maint and ready, each applied as HAProxy
/// applies it and logged in its words.
#[tokio::test]
async fn agent_replies_steer_the_server() {
    let dir = SockDir::new();
    let agent = Agent::start("75%\n", 6).await;
    let (c1, c2) = (ClosedPort::new(), ClosedPort::new());
    let lbd = Lbd::start(&config(
        &dir,
        &[
            format!(
                "server s1 127.0.0.1:{} weight 100 agent-check agent-addr 127.0.0.1 agent-port {} agent-inter 50ms agent-send \"hello\\n\"",
                c1.port, agent.port
            ),
            format!("server s2 127.0.0.1:{} weight 100", c2.port),
        ],
    ))
    .await;
    let step = Duration::from_secs(5);

    // A share of the configured weight: no status change, nothing logged.
    let f = wait_state(&dir, "s1", &[(5, "2"), (6, "0"), (7, "75"), (8, "100")]).await;
    // srv_agent_state (configured, enabled, agent), srv_agent_addr, srv_agent_port.
    assert_eq!(&f[14], "22");
    assert_eq!(&f[23..], ["127.0.0.1", &agent.port.to_string()]);
    let st = wait_stat(&dir, "agent_status", "CHECKED").await;
    assert_eq!(st.num("web", "s1", "weight"), 75);
    assert_eq!(st.get("web", "s1", "agent_health"), "1");
    assert_eq!(agent.seen.lock().unwrap()[0], b"hello\n");
    assert!(lines_with(&lbd, "Agent check").is_empty());

    // maxconn and drain.
    agent.set("maxconn:30 drain\n");
    wait_state(&dir, "s1", &[(6, "8")]).await;
    wait_line(
        &lbd,
        &warning("Server web/s1 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
        step,
    )
    .await;
    wait_stat(&dir, "slim", "30").await;

    // Down, with a description: back to ready first (admin states apply first).
    agent.set("ready,down # maintenance window\n");
    wait_state(&dir, "s1", &[(5, "0"), (6, "0")]).await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is UP/READY (leaving forced drain)."),
        step,
    )
    .await;
    wait_line(
        &lbd,
        &agent_line(
            "failed",
            "reason: Layer7 wrong status, code: 0, info: \"via agent : down (maintenance window)\"",
            "0/1 DOWN",
        ),
        step,
    )
    .await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        step,
    )
    .await;
    let st = wait_stat(&dir, "agent_status", "L7STS").await;
    assert_eq!(st.get("web", "s1", "status"), "DOWN");
    let agent_cols = [
        "agent_status",
        "agent_code",
        "agent_desc",
        "last_agt",
        "agent_rise",
        "agent_fall",
        "agent_health",
    ]
    .map(|c| st.get("web", "s1", c).to_string());
    assert_eq!(
        agent_cols,
        [
            "L7STS",
            "0",
            "Layer7 wrong status",
            "via agent : down (maintenance window)",
            "1",
            "1",
            "0"
        ]
    );
    assert_eq!(st.get("web", "s2", "agent_status"), "");

    // Up again.
    agent.set("up\n");
    wait_state(&dir, "s1", &[(5, "2")]).await;
    wait_line(
        &lbd,
        &agent_line(
            "succeeded",
            "reason: Layer7 check passed, code: 0, info: \"via agent : up\"",
            "1/1 UP",
        ),
        step,
    )
    .await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is UP. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
        step,
    )
    .await;

    // Maintenance, then ready: the agent keeps running in maintenance.
    agent.set("maint\n");
    wait_state(&dir, "s1", &[(5, "0"), (6, "1")]).await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        step,
    )
    .await;
    agent.set("ready\n");
    wait_state(&dir, "s1", &[(5, "2"), (6, "0")]).await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is UP/READY (leaving forced maintenance)."),
        step,
    )
    .await;
    // Each state change was logged once: steady replies stay quiet.
    assert_eq!(
        lines_with(&lbd, "Agent check").len(),
        2,
        "{:?}",
        lines(&lbd)
    );
}

/// An agent that cannot be reached is logged (once) and never marks the server DOWN.
#[tokio::test]
async fn an_unreachable_agent_never_marks_the_server_down() {
    let dir = SockDir::new();
    let (srv, agent) = (ClosedPort::new(), ClosedPort::new());
    let lbd = Lbd::start(&config(
        &dir,
        &[format!(
            "server s1 127.0.0.1:{} agent-check agent-port {} agent-inter 30ms",
            srv.port, agent.port
        )],
    ))
    .await;
    wait_line(
        &lbd,
        &agent_line(
            "failed",
            "reason: Layer4 connection problem, info: \"Connection refused\"",
            "1/1 UP",
        ),
        Duration::from_secs(5),
    )
    .await;
    // Many more failed agent checks later, the server is still UP and the failure was
    // logged once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let f = state(&dir, "s1").await;
    assert_eq!((&*f[5], &*f[6]), ("2", "0"), "{f:?}");
    assert_eq!(stat(&dir).await.get("web", "s1", "status"), "no check");
    assert_eq!(
        lines_with(&lbd, "Agent check").len(),
        1,
        "{:?}",
        lines(&lbd)
    );
    assert!(lines_with(&lbd, "is DOWN").is_empty());
}

/// A server whose agent says `down` stays DOWN when its health check comes back, and
/// comes back UP when the agent says `up`.
#[tokio::test]
async fn the_agent_holds_a_checked_server_down() {
    let dir = SockDir::new();
    let agent = Agent::start("down\n", 0).await;
    let closed = ClosedPort::new();
    let port = closed.port;
    let lbd = Lbd::start(&config(
        &dir,
        &[format!(
            "server s1 127.0.0.1:{port} check inter 30ms rise 1 fall 1 agent-check agent-port {} agent-inter 30ms",
            agent.port
        )],
    ))
    .await;
    wait_state(&dir, "s1", &[(5, "0")]).await;
    wait_stat(&dir, "check_status", "L4CON").await;
    // The server's port opens: its health check passes, but the agent still says down.
    drop(closed);
    let _origin = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    wait_stat(&dir, "check_status", "L4OK").await;
    assert_eq!(state(&dir, "s1").await[5], "0");
    assert!(lines_with(&lbd, "is UP").is_empty(), "{:?}", lines(&lbd));
    agent.set("up\n");
    wait_state(&dir, "s1", &[(5, "2")]).await;
    wait_line(
        &lbd,
        &warning("Server web/s1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."),
        Duration::from_secs(5),
    )
    .await;
}
