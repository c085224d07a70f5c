//! What an access-log line knows of a tcp connection or http request besides its
//! messages, as both proxies build it: who and where from the runtime graph, the
//! counts read at the time of the line.

use crate::backend::{Backend, ServerRt};
use crate::graph::FrontendRt;
use crate::sample::{LogCounts, LogInfo};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::SystemTime;

/// The process's request (http) and session (tcp) counter: `%rt`.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// The next value of `%rt` (from 0, as HAProxy's `uniq_id`).
pub fn next_request() -> u64 {
    REQUESTS.fetch_add(1, Relaxed)
}

/// The log facts of a client `peer` of `fe`, served (or not) by `server` of `be`,
/// accepted at `accepted`, request `counter`, after `retries` failed attempts.
pub fn info<'a>(
    fe: &FrontendRt,
    be: Option<&Backend>,
    server: Option<&ServerRt>,
    peer: crate::log::Client,
    accepted: SystemTime,
    (counter, retries): (u64, u32),
) -> LogInfo<'a> {
    let bc = be.map_or(0, |b| {
        b.servers
            .iter()
            .map(|s| s.state.cur.load(Relaxed))
            .sum::<u32>()
    });
    // lbd runs one process: `%ac` is the frontend's count, as `%fc`.
    let fc = fe.shared.cur.load(Relaxed);
    LogInfo {
        unix_id: match peer {
            crate::log::Client::Unix(id) => Some(id),
            crate::log::Client::Inet(_) => None,
        },
        accept: accepted,
        request: accepted,
        server_addr: server.map(|s| s.addr),
        server_unix: server.is_some_and(|s| s.unix.is_some()),
        counts: LogCounts {
            ac: fc,
            fc,
            bc,
            sc: server.map_or(0, |s| s.state.cur.load(Relaxed)),
            rc: retries,
            sq: 0,
            bq: 0,
        },
        log_count: fe.shared.log_count.fetch_add(1, Relaxed),
        req_counter: counter,
        ..LogInfo::default()
    }
}
