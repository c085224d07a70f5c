//! The daemon's life: start, reload (SIGUSR2/SIGHUP), soft stop (SIGUSR1), hard stop
//! (SIGTERM/SIGINT), and systemd's notify protocol.
//!
//! Reload reads and validates the files again; on any error the running graph stays
//! untouched. On success the new graph is built from the old one (server state carried
//! by backend/server name and address) and swapped atomically. A `bind` present before
//! and after keeps its very socket; new binds open before removed ones close; live
//! connections finish on the graph they started with.

mod peers;
mod start;

pub use start::{derived_maxconn, run};

use crate::cli::Args;
use crate::config::model::{Bind, BindAddr};
use crate::config::{self, Level};
use crate::frontend::{self, Limits};
use crate::graph::{Graph, GraphHandle};
use crate::{check, log};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// systemd's notify protocol over `$NOTIFY_SOCKET` (abstract `@` names too).
pub fn sd_notify(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
            let _ = sock.send_to_addr(msg.as_bytes(), &addr);
        }
    } else {
        let _ = sock.send_to(msg.as_bytes(), &path);
    }
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

struct Listener {
    frontend: String,
    /// The listener's id in its frontend (names a unix client: `unix:ID`).
    id: u32,
    socket: Arc<frontend::listener::Listening>,
    task: JoinHandle<()>,
    /// The socket file lbd created for a unix bind, removed when the listener closes
    /// (an inherited socket's file belongs to whoever made it).
    file: Option<SocketFile>,
}

/// A unix socket file lbd made, known by its inode: when the listener closes, the path
/// is removed only if it is still that file (another lbd started on the same path
/// since then has renamed its own socket over it, and keeps it).
struct SocketFile {
    path: String,
    id: (u64, u64),
}

impl SocketFile {
    fn stat(path: &str) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()))
    }

    /// The file now at `path`, just made.
    fn new(path: String) -> Option<SocketFile> {
        let id = SocketFile::stat(&path)?;
        Some(SocketFile { path, id })
    }

    fn remove(&self) {
        if SocketFile::stat(&self.path) == Some(self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What identifies a bind across reloads: its address, and the descriptor of an
/// inherited socket.
type BindKey = (BindAddr, Option<i32>);

/// One listener to run: the frontend, the bind, its id.
pub(crate) struct Wanted {
    frontend: String,
    bind: Bind,
    id: u32,
}

impl Wanted {
    /// A bind that could not be opened, in HAProxy's words with the `bind` line:
    /// `Binding [lb.cfg:15] for frontend fe: cannot bind socket (Address already in
    /// use) [127.0.0.1:80]` (`listener` for a `listen`, as HAProxy names it).
    fn bind_error(&self, cfg: &crate::config::model::Config, e: &dyn std::fmt::Display) -> String {
        let kind = cfg
            .proxies
            .iter()
            .find(|p| p.name == self.frontend)
            .map_or("frontend", |p| match p.kind {
                crate::config::model::ProxyKind::Listen => "listener",
                k => k.keyword(),
            });
        format!(
            "Binding [{}] for {kind} {}: {e}",
            self.bind.loc, self.frontend
        )
    }

    /// Every enabled bind of a configuration, with its listener id.
    fn all(cfg: &crate::config::model::Config) -> Vec<Wanted> {
        cfg.frontends()
            .filter(|p| !p.disabled)
            .flat_map(|p| {
                let ids = crate::config::model::listener_ids(&p.binds);
                p.binds.iter().zip(ids).map(|(b, id)| Wanted {
                    frontend: p.name.clone(),
                    bind: b.clone(),
                    id,
                })
            })
            .collect()
    }

    fn key(&self) -> BindKey {
        (self.bind.addr.clone(), self.bind.fd)
    }

    /// The socket file lbd made for this bind (once it is open).
    fn file(&self) -> Option<SocketFile> {
        match (&self.bind.addr, self.bind.fd) {
            (BindAddr::Unix(p), None) => SocketFile::new(p.clone()),
            _ => None,
        }
    }
}

impl Listener {
    /// Stops listening now: connections are refused from the moment this returns.
    /// Aborting the accept task alone would close the socket only when the runtime
    /// gets to drop the task, a moment later; until then the kernel kept completing
    /// handshakes on a bind the new configuration no longer has (and the port could
    /// not be bound again by the next reload).
    fn close(self) {
        use std::os::fd::AsRawFd;
        self.task.abort();
        // SAFETY: shutdown(2) on the listening socket we still own (`self.socket`);
        // the descriptor stays open until the last `Arc` is dropped.
        unsafe { libc::shutdown(self.socket.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(f) = &self.file {
            f.remove();
        }
    }
}

/// The running daemon.
pub struct Daemon {
    args: Args,
    handle: GraphHandle,
    checks: check::Checks,
    dns: check::dns::Dns,
    /// What the DNS tasks call when they moved servers: the checks follow.
    dns_changed: std::sync::OnceLock<check::dns::Changed>,
    limits: Limits,
    maxconn: u32,
    listeners: Mutex<HashMap<BindKey, Listener>>,
    stopping: Arc<crate::frontend::stop::Stopper>,
    sockets: Mutex<Vec<JoinHandle<()>>>,
}

impl Daemon {
    /// Starts serving a graph on already-bound sockets.
    pub(crate) fn start(
        args: Args,
        graph: Graph,
        sockets: Vec<(Wanted, frontend::listener::Opened)>,
        maxconn: u32,
        shards: crate::shard::Shards,
    ) -> Result<Arc<Daemon>, String> {
        let handle: GraphHandle = Arc::new(arc_swap::ArcSwap::from_pointee(graph));
        let stopping = crate::frontend::stop::Stopper::new();
        let d = Arc::new(Daemon {
            args,
            handle,
            checks: check::Checks::default(),
            dns: check::dns::Dns::default(),
            dns_changed: std::sync::OnceLock::new(),
            limits: Limits {
                global: Arc::new(tokio::sync::Semaphore::new(maxconn as usize)),
                stopping: stopping.clone(),
                shards,
            },
            maxconn,
            listeners: Mutex::new(HashMap::new()),
            stopping,
            sockets: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&d);
        let reload: crate::stats::socket::ReloadFn = Arc::new(move |c| {
            use crate::stats::socket::Control;
            match (weak.upgrade(), c) {
                (Some(d), Control::Reload) => d.reload(),
                (Some(d), Control::ServersChanged) => {
                    d.checks.sync(&d.handle.load_full(), &d.handle);
                    Ok(String::new())
                }
                (None, _) => Err("stopping".into()),
            }
        });
        for s in &d.handle.load().config.global.stats_sockets {
            let task = crate::stats::socket::spawn(s, d.handle.clone(), reload.clone())?;
            d.sockets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(task);
        }
        if let Some(spec) = &d.args.master_cli {
            let task = crate::stats::master::spawn(spec, d.handle.clone(), reload.clone())?;
            d.sockets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(task);
        }
        {
            let mut map = d.listeners.lock().unwrap_or_else(|e| e.into_inner());
            for (w, l) in sockets {
                let socket = Arc::new(
                    d.register(l)
                        .map_err(|e| format!("cannot register listener: {e}"))?,
                );
                let task = d.spawn_accept(&w.frontend, w.id, &socket);
                map.insert(
                    w.key(),
                    Listener {
                        file: w.file(),
                        frontend: w.frontend,
                        id: w.id,
                        socket,
                        task,
                    },
                );
            }
        }
        d.checks.sync(&d.handle.load_full(), &d.handle);
        let weak = Arc::downgrade(&d);
        let changed: check::dns::Changed = Arc::new(move || {
            if let Some(d) = weak.upgrade() {
                d.checks.sync(&d.handle.load_full(), &d.handle);
            }
        });
        d.dns.sync(&d.handle.load_full(), &d.handle, &changed);
        let _ = d.dns_changed.set(changed);
        {
            let g = d.handle.load();
            peers::sync(&g.config, &g.tables, d.args.local_peer.as_deref());
        }
        Ok(d)
    }

    /// Registers a listening socket with the shard that will accept on it (chosen by
    /// descriptor number, as `spawn_accept` does, to spread listeners over shards).
    fn register(
        &self,
        l: frontend::listener::Opened,
    ) -> std::io::Result<frontend::listener::Listening> {
        use std::os::fd::AsRawFd;
        let shard = self.limits.shards.for_listener(l.sock.as_raw_fd() as usize);
        let _in = shard.enter();
        frontend::listener::Listening::register(l)
    }

    /// Starts the accept loop of a listener on the shard its socket is registered with.
    fn spawn_accept(
        &self,
        name: &str,
        id: u32,
        socket: &Arc<frontend::listener::Listening>,
    ) -> JoinHandle<()> {
        use std::os::fd::AsRawFd;
        let shard = self.limits.shards.for_listener(socket.as_raw_fd() as usize);
        shard.spawn(frontend::accept_loop(
            socket.clone(),
            (name.to_string(), id),
            self.handle.clone(),
            self.limits.clone(),
        ))
    }

    /// The graph handle.
    pub fn handle(&self) -> &GraphHandle {
        &self.handle
    }

    /// Reloads the configuration files. The one entry point for every reload trigger.
    pub fn reload(&self) -> Result<String, String> {
        let t0 = Instant::now();
        sd_notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
        let pid = std::process::id();
        let mut loaded = config::load(&self.args.files);
        if let Some(cfg) = &loaded.config {
            let tls = crate::tls::client::check(cfg);
            if !tls.is_empty() {
                loaded.diags.extend(tls);
                loaded.config = None;
            }
        }
        let tls = crate::tls::server::check(&mut loaded);
        // What stderr gets is also the answer of a failed `reload` on the socket.
        let mut printed = String::new();
        for d in &loaded.diags {
            if d.level == Level::Alert || !self.args.quiet {
                let line = d.line(pid);
                eprintln!("{line}");
                printed.push_str(&line);
                printed.push('\n');
            }
        }
        let Some(cfg) = loaded.config else {
            let msg = "Reload failed, keeping the running configuration.";
            log::alert(msg);
            sd_notify(&format!("READY=1\nSTATUS={msg}"));
            return Err(format!("{printed}{msg}"));
        };
        // Open the sockets of new binds first; a failure keeps everything as it was.
        let wanted = Wanted::all(&cfg);
        let mut fresh = Vec::new();
        {
            let map = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            for w in wanted.iter().filter(|w| !map.contains_key(&w.key())) {
                match frontend::listener::open(&w.bind) {
                    Ok(l) => fresh.push((w, l)),
                    Err(e) => {
                        let why = w.bind_error(&cfg, &e);
                        log::alert(&why);
                        let msg = "Reload failed, keeping the running configuration.";
                        log::alert(msg);
                        sd_notify(&format!("READY=1\nSTATUS={msg} {why}"));
                        let why = log::format(log::Level::Alert, &why);
                        return Err(format!("{printed}{why}\n{msg}"));
                    }
                }
            }
        }
        let old = self.handle.load_full();
        let new = Arc::new(Graph::build_with(cfg, Some(&old), tls));
        let summary = summarize(&old, &new);
        self.handle.store(new.clone());
        if new.config.global.cpu_map != old.config.global.cpu_map {
            self.limits.shards.bind_cpus(&new.config.global.cpu_map);
        }
        {
            let mut map = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            for (w, l) in fresh {
                let socket = match self.register(l) {
                    Ok(s) => Arc::new(s),
                    Err(e) => {
                        log::alert(&format!("cannot register listener {}: {e}", w.bind.addr));
                        continue;
                    }
                };
                let task = self.spawn_accept(&w.frontend, w.id, &socket);
                map.insert(
                    w.key(),
                    Listener {
                        frontend: w.frontend.clone(),
                        id: w.id,
                        socket,
                        task,
                        file: w.file(),
                    },
                );
            }
            let keep: HashMap<BindKey, &Wanted> = wanted.iter().map(|w| (w.key(), w)).collect();
            let gone: Vec<BindKey> = map
                .keys()
                .filter(|a| !keep.contains_key(a))
                .cloned()
                .collect();
            for a in gone {
                if let Some(l) = map.remove(&a) {
                    l.close();
                }
            }
            // A bind that moved to another frontend (or got another id) keeps its
            // socket, with a new accept loop.
            for (key, l) in map.iter_mut() {
                if let Some(w) = keep.get(key) {
                    if w.frontend != l.frontend || w.id != l.id {
                        l.task.abort();
                        l.frontend = w.frontend.clone();
                        l.id = w.id;
                        l.task = self.spawn_accept(&w.frontend, w.id, &l.socket);
                    }
                }
            }
        }
        self.checks.sync(&new, &self.handle);
        if let Some(c) = self.dns_changed.get() {
            self.dns.sync(&new, &self.handle, c);
        }
        peers::sync(&new.config, &new.tables, self.args.local_peer.as_deref());
        let msg = format!(
            "Reload complete: {summary} ({} ms)",
            t0.elapsed().as_millis()
        );
        log::notice(&msg);
        sd_notify(&format!("READY=1\nSTATUS={msg}"));
        Ok(msg)
    }

    /// Active client connections.
    pub fn active(&self) -> usize {
        self.maxconn as usize - self.limits.global.available_permits()
    }

    /// Soft stop: close every listener, let connections finish (idle keep-alive ones
    /// are closed), return when none remain or `hard-stop-after` expires.
    pub async fn soft_stop(&self) {
        sd_notify("STOPPING=1");
        {
            let mut map = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            for (_, l) in map.drain() {
                l.close();
            }
        }
        log::notice("Stopping: closing listeners and waiting for connections to finish.");
        self.log_proxies_stopped();
        self.stopping.stop();
        self.checks.stop();
        let limit = self.handle.load().config.global.hard_stop_after;
        let start = Instant::now();
        while self.active() > 0 {
            if limit.is_some_and(|l| start.elapsed() >= l) {
                log::warning(&format!(
                    "hard-stop-after expired: closing {} remaining connections.",
                    self.active()
                ));
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Hard stop requested while a soft stop drains: close what remains now.
    fn stop_during_drain(&self) {
        log::warning(&format!(
            "Stopping now: closing {} remaining connections.",
            self.active()
        ));
        self.checks.stop();
    }

    /// Hard stop: stop at once.
    pub fn hard_stop(&self) {
        sd_notify("STOPPING=1");
        for (_, l) in self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            l.close();
        }
        self.log_proxies_stopped();
        self.checks.stop();
    }

    /// HAProxy's line per proxy when it stops (frontends, backends and listens, in
    /// config order): `Proxy fe stopped (cumulated conns: FE: 12, BE: 0).`, with the
    /// connections the frontend accepted and the sessions the backend handled.
    fn log_proxies_stopped(&self) {
        let g = self.handle.load();
        for (id, p) in g.config.proxies.iter().enumerate() {
            if p.disabled {
                continue;
            }
            let fe = g
                .frontends
                .iter()
                .find(|f| f.proxy_id == id)
                .map_or(0, |f| {
                    f.shared.total.load(std::sync::atomic::Ordering::Relaxed)
                });
            let be = g.backends.iter().find(|b| b.proxy_id == id).map_or(0, |b| {
                b.shared.total.load(std::sync::atomic::Ordering::Relaxed)
            });
            let msg = format!(
                "Proxy {} stopped (cumulated conns: FE: {fe}, BE: {be}).",
                p.name
            );
            log::warning(&msg);
            log::send(&log::targets(&p.logs), log::severity::WARNING, &msg);
        }
    }
}

fn summarize(old: &Graph, new: &Graph) -> String {
    let ob: HashSet<&str> = old.backends.iter().map(|b| b.name.as_str()).collect();
    let nb: HashSet<&str> = new.backends.iter().map(|b| b.name.as_str()).collect();
    let servers = |g: &Graph| -> HashMap<(String, String, SocketAddr), u32> {
        g.backends
            .iter()
            .flat_map(|b| {
                b.servers
                    .iter()
                    .map(move |s| ((b.name.clone(), s.name.clone(), s.addr), s.cfg.weight))
            })
            .collect()
    };
    let (os, ns) = (servers(old), servers(new));
    let added = ns.keys().filter(|k| !os.contains_key(*k)).count();
    let removed = os.keys().filter(|k| !ns.contains_key(*k)).count();
    let reweighted = ns
        .iter()
        .filter(|(k, w)| os.get(*k).is_some_and(|ow| ow != *w))
        .count();
    let plus = nb.difference(&ob).count();
    let minus = ob.difference(&nb).count();
    format!(
        "+{plus} backend{}, -{minus}, {added} server{} added, {removed} removed, {reweighted} weight changed",
        if plus == 1 { "" } else { "s" },
        if added == 1 { "" } else { "s" }
    )
}

/// The signals lbd handles, caught from the moment [`Signals::install`] returns.
pub struct Signals {
    usr2: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    usr1: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers (inside the runtime's context). Must happen before the
    /// pidfile is written and before `READY=1`: until then SIGUSR1/SIGUSR2/SIGHUP keep
    /// their default action, which kills the process, so a `systemctl reload` or a
    /// `kill -USR2 $(cat pidfile)` sent right after start would stop the service.
    pub fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let mk = |k| signal(k).ok();
        Signals {
            usr2: mk(SignalKind::user_defined2()),
            hup: mk(SignalKind::hangup()),
            usr1: mk(SignalKind::user_defined1()),
            term: mk(SignalKind::terminate()),
            int: mk(SignalKind::interrupt()),
        }
    }
}

/// Runs until a stop signal: SIGUSR2/SIGHUP reload, SIGUSR1 soft stop, SIGTERM/SIGINT
/// hard stop. Returns the exit status: 0, or in master-worker mode (`-W`) 128 + the
/// signal of a hard stop, as HAProxy's master exits with its workers' status.
pub async fn signals(d: Arc<Daemon>, sigs: Signals) -> u8 {
    let Signals {
        mut usr2,
        mut hup,
        mut usr1,
        mut term,
        mut int,
    } = sigs;
    async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    if let Some(usec) = std::env::var("WATCHDOG_USEC")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::spawn(async move {
            let every = Duration::from_micros(usec / 2).max(Duration::from_millis(100));
            loop {
                sd_notify("WATCHDOG=1");
                tokio::time::sleep(every).await;
            }
        });
    }
    // HAProxy's master says this when told to stop (soft or hard) and the last line
    // when it exits; lbd is its own master.
    const EXITING: &str = "Exiting Master process...";
    let mut code = 0;
    loop {
        tokio::select! {
            _ = recv(&mut usr2) => { let _ = d.reload(); }
            _ = recv(&mut hup) => { let _ = d.reload(); }
            _ = recv(&mut usr1) => {
                log::warning(EXITING);
                // SIGTERM/SIGINT still stop at once during the drain (systemd sends
                // SIGTERM when its stop timeout runs out).
                tokio::select! {
                    _ = d.soft_stop() => {}
                    _ = recv(&mut term) => d.stop_during_drain(),
                    _ = recv(&mut int) => d.stop_during_drain(),
                }
                break;
            }
            _ = recv(&mut term) => { log::warning(EXITING); d.hard_stop(); code = 128 + 15; break; }
            _ = recv(&mut int) => { log::warning(EXITING); d.hard_stop(); code = 128 + 2; break; }
        }
    }
    if !d.args.master_worker {
        code = 0;
    }
    log::warning(&format!("All workers exited. Exiting... ({code})"));
    code
}
