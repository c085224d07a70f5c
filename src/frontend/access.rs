//! The access-log line of a tcp connection or http request, as both proxies build it:
//! who and where from the runtime graph, the counts read at the time of the line.

use crate::backend::{Backend, ServerRt};
use crate::graph::FrontendRt;
use crate::log::{Access, Counts};
use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;

/// The common part of an access-log line for a client `peer` of `fe`, served (or not)
/// by `server` of `be`; without a backend the frontend's name stands in (HAProxy does
/// the same for requests answered before a backend is chosen).
pub fn access<'a>(
    fe: &'a FrontendRt,
    be: Option<&'a Backend>,
    server: Option<&'a ServerRt>,
    peer: crate::log::Client,
    accepted: SystemTime,
    retries: u32,
) -> Access<'a> {
    let backend = be.map_or(0, |b| {
        b.servers
            .iter()
            .map(|s| s.state.cur.load(Relaxed))
            .sum::<u32>()
    });
    Access {
        client: peer,
        accepted,
        frontend: &fe.name,
        backend: be.map_or(&fe.name, |b| &b.name),
        server: server.map(|s| s.name.as_str()),
        counts: Counts {
            frontend: fe.shared.cur.load(Relaxed),
            backend,
            server: server.map_or(0, |s| s.state.cur.load(Relaxed)),
            retries,
        },
    }
}
