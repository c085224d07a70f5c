//! Runtime edits of a backend's server list (`add server`, `del server`, `set server
//! addr`): the changed backend is assembled again from its configuration and the new
//! list, and a graph sharing everything else (frontends, the other backends, tables,
//! TLS binds) is swapped in. Server states are `Arc`s, so every server keeps its
//! health, counters and admin state; connections in flight finish on the graph they
//! started with. The data path pays nothing for this: it reads the graph it loaded.

use super::{assemble, tables, Graph, GraphHandle};
use crate::backend::{pool::Pool, state::ServerState, ServerRt};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One edit at a time (two `add server` racing must both land).
static EDITS: Mutex<()> = Mutex::new(());

/// Replaces the server list of backend `be` with what `f` makes of the current one
/// and swaps the new graph in; `f`'s error leaves everything as it was. Returns `f`'s
/// value.
pub fn edit_servers<T>(
    handle: &GraphHandle,
    be: &str,
    f: impl FnOnce(&Graph, &[Arc<ServerRt>]) -> Result<(Vec<Arc<ServerRt>>, T), String>,
) -> Result<T, String> {
    let _one = EDITS.lock().unwrap_or_else(|e| e.into_inner());
    let g = handle.load_full();
    let Some(&bi) = g.be_index.get(be) else {
        return Err("No such backend.".into());
    };
    let old = &g.backends[bi];
    let (servers, out) = f(&g, &old.servers)?;
    let Some(p) = g.config.proxies.get(old.proxy_id) else {
        return Err("No such backend.".into());
    };
    let b = assemble(p, old.proxy_id, servers, &g.tables, old.shared.clone());
    let mut backends = g.backends.clone();
    backends[bi] = Arc::new(b);
    super::track::link(&backends);
    let proc_vars = crate::sample::ProcVars::new(
        g.proc_vars
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    );
    handle.store(Arc::new(Graph {
        generation: super::GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        frontends: g.frontends.clone(),
        backends,
        fe_index: g.fe_index.clone(),
        be_index: g.be_index.clone(),
        bufsize: g.bufsize,
        max_headers: g.max_headers,
        h2: g.h2,
        config: g.config.clone(),
        after_rules: g.after_rules,
        proc_vars,
        tables: tables(&g.config, Some(&g)),
        tls: g.tls.clone(),
        trust_files: g.trust_files.clone(),
    }));
    Ok(out)
}

/// A server of backend `be` made from an `add server` line: in maintenance, its
/// checks and agent stopped until `enable health`/`enable agent` (HAProxy's dynamic
/// servers).
pub fn runtime_server(
    g: &Graph,
    be: &crate::backend::Backend,
    s: &crate::config::model::Server,
) -> Result<ServerRt, String> {
    let mut settings = s.settings.clone();
    settings.disabled = true;
    let state = ServerState::for_settings(&settings);
    state.set_check_enabled(false);
    state.set_agent_enabled(false);
    // TLS material that does not load refuses the server (the config path logs it
    // and keeps the server, failing its handshakes).
    let tls = server_tls(g, be, &settings, s.addr.ip())?;
    Ok(ServerRt {
        name: s.name.clone(),
        backend: be.name.clone(),
        addr: s.addr,
        config_addr: s.addr,
        dynamic: true,
        unix: s.unix.clone(),
        cfg: settings,
        state: Arc::new(state),
        pool: Pool::default(),
        tls,
    })
}

/// The TLS context of a server of `be` with `settings` (None without TLS).
fn server_tls(
    g: &Graph,
    be: &crate::backend::Backend,
    settings: &crate::config::model::ServerSettings,
    ip: std::net::IpAddr,
) -> Result<Option<Arc<crate::tls::client::ServerTls>>, String> {
    let connects = g
        .config
        .proxies
        .get(be.proxy_id)
        .is_some_and(|p| p.check.connects_with_tls());
    let tls = crate::tls::client::build(
        settings,
        &g.config.global.srv_tls,
        ip,
        connects,
        &g.trust_files,
    )?;
    Ok(tls.map(Arc::new))
}

/// Server `s` of `be` with `ssl` on or off (`set server ... ssl`): its TLS context
/// made again, a new (empty) pool of idle connections.
pub fn with_ssl(
    g: &Graph,
    be: &crate::backend::Backend,
    s: &ServerRt,
    on: bool,
) -> Result<ServerRt, String> {
    let mut cfg = s.cfg.clone();
    cfg.tls.ssl = on;
    cfg.tls.no_ssl = false;
    let tls = server_tls(g, be, &cfg, s.addr.ip())?;
    Ok(ServerRt {
        cfg,
        tls,
        ..with_addr(s, s.addr)
    })
}

/// Server `s` at address `addr` (`set server addr`): same state, a new (empty) pool
/// of idle connections, as HAProxy drops those of the old address.
pub fn with_addr(s: &ServerRt, addr: SocketAddr) -> ServerRt {
    ServerRt {
        name: s.name.clone(),
        backend: s.backend.clone(),
        addr,
        config_addr: s.config_addr,
        dynamic: s.dynamic,
        unix: s.unix.clone(),
        cfg: s.cfg.clone(),
        state: s.state.clone(),
        pool: Pool::default(),
        tls: s.tls.clone(),
    }
}
