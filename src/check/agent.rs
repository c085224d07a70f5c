//! The agent check task of a server (`agent-check`): every `agent-inter` (`inter`
//! otherwise) it connects to the agent (`agent-addr`, `agent-port`), sends
//! `agent-send`, reads the reply line and hands it to `backend::agent::record`, which
//! applies it and logs as HAProxy does. It runs in maintenance too: the agent is what
//! may bring the server back (`ready`).

use super::probe::Probe;
use super::tcpcheck::{Target, Timing};
use crate::backend::{Backend, ServerRt};
use crate::config::model::check::CheckRules;
use crate::graph::GraphHandle;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where the agent of `s` listens.
pub(super) fn addr(s: &ServerRt) -> SocketAddr {
    let a = &s.cfg.agent;
    SocketAddr::new(a.addr.unwrap_or(s.addr.ip()), a.port.unwrap_or(0))
}

pub(super) async fn run(
    be: Arc<Backend>,
    s: Arc<ServerRt>,
    check_to: Option<Duration>,
    spread: u32,
    handle: GraphHandle,
) {
    let probe = Probe::Rules(Arc::new(CheckRules::agent(s.cfg.agent.send.as_deref())));
    let inter = s.cfg.agent.inter.unwrap_or(s.cfg.inter);
    let target = Target {
        be: (be.name.clone(), be.proxy_id as i64),
        srv: (s.name.clone(), super::srv_id(&be, &s)),
        addr: addr(&s),
        unix: None,
        send_proxy: None,
        state_header: None,
        nolb_404: false,
        tls: None,
    };
    let timing = Timing {
        inter,
        connect: be.timeouts.connect,
        check: check_to,
    };
    // The first check comes at a random point of the first interval.
    let first = crate::sample::hash::random_u64() % (inter.as_millis() as u64).max(1);
    tokio::time::sleep(Duration::from_millis(first)).await;
    loop {
        // `disable agent` stops the probes (the agent's last word stands).
        if !s.state.agent_enabled() {
            tokio::time::sleep(super::jitter(inter, spread)).await;
            continue;
        }
        let (outcome, reply) = probe.run(&target, timing).await;
        super::with_counts(&handle, &be, |counts| {
            crate::backend::agent::record(&be, &s, outcome, reply, counts)
        });
        tokio::time::sleep(super::jitter(inter, spread)).await;
    }
}
