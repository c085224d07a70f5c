//! Starting the daemon: descriptor limits, listeners bound before anything else, the
//! control runtime and the data-plane shards, signal handlers, the pidfile, READY=1.

use crate::config::{self, model::Config};
use crate::{cli, frontend, graph, log, shard, stats};

/// File descriptors kept aside from `maxconn` for listeners, logs and checks.
const RESERVED_FDS: u64 = 100;

/// Raises the soft descriptor limit to the hard one; returns the resulting limit.
fn raise_nofile() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        if rl.rlim_cur < rl.rlim_max {
            let want = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
    }
    rl.rlim_cur
}

/// The global `maxconn` when the config sets none: every proxied connection uses two
/// descriptors (client and server).
pub fn derived_maxconn(nofile: u64) -> u32 {
    (nofile.saturating_sub(RESERVED_FDS) / 2).clamp(1, 1_000_000) as u32
}

/// Runs the daemon on a validated configuration until it is told to stop; returns the
/// exit status (see [`super::signals`]).
pub fn run(cfg: Config, tls: crate::tls::server::TlsBinds, args: &cli::Args) -> Result<u8, String> {
    stats::mark_start();
    let nofile = raise_nofile();
    let maxconn = cfg
        .global
        .maxconn
        .unwrap_or_else(|| derived_maxconn(nofile));
    let threads = cfg
        .global
        .nbthread
        .map(|n| n as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Bind every listener before anything else: each failure is reported, and any
    // stops the start (HAProxy's words).
    let mut listeners = Vec::new();
    let mut failed = false;
    for w in super::Wanted::all(&cfg) {
        match frontend::listener::open(&w.bind) {
            Ok(l) => listeners.push((w, l)),
            Err(e) => {
                log::alert(&w.bind_error(&cfg, &e));
                failed = true;
            }
        }
    }
    if failed {
        return Err("[lbd.main()] Some protocols failed to start their listeners! Exiting.".into());
    }
    // The control plane (signals, reload, checks, runtime sockets) on one thread; the
    // data plane on one single-threaded runtime per thread (see `shard`).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("lbd-control")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let shards = shard::Shards::start(threads)?;
    if !cfg.global.cpu_map.is_empty() {
        shards.bind_cpus(&cfg.global.cpu_map);
    }
    // Signal handlers before the pidfile and READY=1: a signal sent as soon as either
    // appears must reach lbd, not kill it.
    let sigs = {
        let _rt = rt.enter();
        super::Signals::install()
    };
    let pidfile = args
        .pidfile
        .clone()
        .or_else(|| cfg.global.pidfile.as_ref().map(Into::into));
    if let Some(p) = &pidfile {
        std::fs::write(p, format!("{}\n", std::process::id())).map_err(|e| {
            format!(
                "Cannot create pidfile '{}' : {}",
                p.display(),
                config::io_text(&e)
            )
        })?;
    }
    let n_listeners = listeners.len();
    let quiet = args.quiet;
    let result = rt.block_on(async move {
        let (n_fe, n_be) = (cfg.frontends().count(), cfg.backends().count());
        let graph = graph::Graph::build_with(cfg, None, tls);
        let daemon = super::Daemon::start(args.clone(), graph, listeners, maxconn, shards)?;
        if !quiet {
            log::notice(&format!(
                "lbd {} started: {n_fe} frontends, {n_be} backends, {n_listeners} listeners, maxconn {maxconn}.",
                env!("CARGO_PKG_VERSION")
            ));
        }
        super::sd_notify(&format!("READY=1\nMAINPID={}", std::process::id()));
        Ok::<u8, String>(super::signals(daemon, sigs).await)
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    result
}
