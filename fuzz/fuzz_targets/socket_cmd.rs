//! Feeds arbitrary lines to `lbd::stats::socket::execute`, the runtime socket's command
//! interpreter, against a small fixed graph (two backends, three servers, a stick
//! table), at every level.
//!
//! Invariants checked for every input:
//! - nothing panics, at any level;
//! - at the `user` and `operator` levels, no server's admin state or weight changes.
//!
//! The input is one line (lossy UTF-8); `;` is not special here (the socket splits on
//! it before calling `execute`). Admin commands change the shared state and that state
//! carries over to the next inputs, which is fine: every check compares before and
//! after one call.

#![no_main]

use lbd::config::model::StatsLevel;
use lbd::graph::{Graph, GraphHandle};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

const CONFIG: &str = "defaults
 mode http
 timeout client 1s
 timeout connect 1s
 timeout server 1s
frontend f
 bind 127.0.0.1:1
 default_backend web
backend web
 stick-table type ip size 10 expire 1m
 stick on src
 server s1 127.0.0.1:2 weight 10
 server s2 127.0.0.1:3 weight 256 disabled
backend api
 server a1 127.0.0.1:4 weight 0
";

fn handle() -> &'static GraphHandle {
    static H: OnceLock<GraphHandle> = OnceLock::new();
    H.get_or_init(|| {
        let cfg = lbd::config::parse_str("fuzz.cfg", CONFIG)
            .config
            .expect("the fixed config is valid");
        Arc::new(arc_swap::ArcSwap::from_pointee(Graph::build(cfg, None)))
    })
}

/// Admin state and weight of every server, in order.
fn state(h: &GraphHandle) -> Vec<(u8, u32)> {
    h.load()
        .backends
        .iter()
        .flat_map(|b| b.servers.iter())
        .map(|s| (s.state.admin() as u8, s.state.weight()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let h = handle();
    for level in [StatsLevel::User, StatsLevel::Operator, StatsLevel::Admin] {
        let before = state(h);
        let _ = lbd::stats::socket::execute(&line, level, h, None);
        if level != StatsLevel::Admin {
            assert_eq!(
                before,
                state(h),
                "{level:?} changed server state with {line:?}"
            );
        }
    }
});
