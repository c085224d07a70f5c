//! `peers` sections at runtime: stick tables replicated with HAProxy's peers
//! protocol v2.1 over TCP, so that lbd instances and HAProxy processes can be peers.
//!
//! A [`Section`] listens on the local peer's address and keeps one session with each
//! remote peer: it connects to each (again 5 s after a failure or a lost session)
//! and accepts their connections; a peer connecting while a session exists replaces
//! it, the loser retrying after a random 50 to 2050 ms (HAProxy's collision rule).
//! `wire` is the encoding, `session` the handshake and the message loop.
//!
//! Replication follows HAProxy: each local update of a shared table is numbered
//! ([`Updates`](crate::stick::table::Updates)); a session pushes the entries updated
//! past the number the peer acknowledged last; updates learned from a peer are not
//! pushed on. A section that starts asks one connected peer after another for a
//! full resync until one answers "finished" (or 5 s pass).

pub mod session;
pub mod wire;

use crate::stick::table::Table;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::task::JoinHandle;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a section waits for a full resync, and the delay before reconnecting.
pub const RESYNC_TIMEOUT_MS: u64 = 5000;
/// Delay before reconnecting to a peer.
pub const RECONNECT_MS: u64 = 5000;
/// A session idle this long sends a heartbeat.
pub const HEARTBEAT_MS: u64 = 3000;
/// A session that received nothing for this long is closed.
pub const TIMEOUT_MS: u64 = 5000;

/// What a running `peers` section is.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The section's name.
    pub name: String,
    /// This process's peer name (`localpeer`, `-L`, or the host name).
    pub local: String,
    /// The other peers: name and address.
    pub remotes: Vec<(String, SocketAddr)>,
    /// The shared tables: the name they are shared under, and the table.
    pub tables: Vec<(String, Arc<Table>)>,
}

impl Spec {
    /// Whether two specs run the same (same peers, the very same tables).
    pub fn same(&self, o: &Spec) -> bool {
        self.name == o.name
            && self.local == o.local
            && self.remotes == o.remotes
            && self.tables.len() == o.tables.len()
            && self
                .tables
                .iter()
                .zip(&o.tables)
                .all(|(a, b)| a.0 == b.0 && Arc::ptr_eq(&a.1, &b.1))
    }
}

/// A remote peer's state.
#[derive(Debug, Default)]
pub struct PeerState {
    /// The running session: its number and task.
    pub session: Option<(u64, tokio::task::AbortHandle)>,
    /// Whether the running session was accepted (else lbd connected).
    pub incoming: bool,
    /// The last handshake status (HAProxy's codes; 0 none yet).
    pub status: u16,
    /// When the last handshake ended (ms).
    pub last_hdshk: Option<u64>,
    /// Not before this time (ms) does lbd connect again.
    pub reconnect: u64,
    /// Per shared table: the last update number the peer acknowledged.
    pub acked: Vec<u64>,
    /// Counters of `show peers`.
    pub new_conn: u64,
    /// Protocol errors.
    pub proto_err: u64,
    /// Sessions replaced by a newer one.
    pub coll: u64,
    /// Heartbeats sent.
    pub tx_hbt: u64,
    /// Heartbeats received.
    pub rx_hbt: u64,
    /// Per shared table: the last update number pushed to the peer.
    pub pushed: Vec<u64>,
    /// Per shared table: the last update id received from the peer.
    pub last_get: Vec<u32>,
}

/// A remote peer.
#[derive(Debug)]
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Its address.
    pub addr: SocketAddr,
    /// Its state.
    pub st: Mutex<PeerState>,
    /// Woken when its session ends.
    pub ended: tokio::sync::Notify,
}

/// The full resync a starting section asks its peers for.
#[derive(Debug, Default)]
struct Resync {
    /// Done (a peer said "finished", or the time ran out, or there is no peer).
    done: bool,
    /// The peer being asked.
    asked: Option<usize>,
    /// Peers that answered "partial" (not asked again).
    partial: HashSet<usize>,
}

/// A running `peers` section.
#[derive(Debug)]
pub struct Section {
    /// What it runs.
    pub spec: Spec,
    /// The remote peers, in `spec.remotes` order.
    pub peers: Vec<Peer>,
    /// The local address listened on.
    pub bound: Option<SocketAddr>,
    started: u64,
    resync: Mutex<Resync>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    sessions: std::sync::atomic::AtomicU64,
}

impl Section {
    /// Starts a section: shares its tables, accepts on `listener`, connects to the
    /// remote peers. Must run inside a tokio runtime.
    pub fn start(spec: Spec, listener: Option<std::net::TcpListener>) -> Arc<Section> {
        for (_, t) in &spec.tables {
            t.share();
        }
        let n = spec.tables.len();
        let peers = spec
            .remotes
            .iter()
            .map(|(name, addr)| Peer {
                name: name.clone(),
                addr: *addr,
                st: Mutex::new(PeerState {
                    acked: vec![0; n],
                    pushed: vec![0; n],
                    last_get: vec![0; n],
                    ..PeerState::default()
                }),
                ended: tokio::sync::Notify::new(),
            })
            .collect();
        let bound = listener.as_ref().and_then(|l| l.local_addr().ok());
        let s = Arc::new(Section {
            resync: Mutex::new(Resync {
                done: spec.remotes.is_empty(),
                ..Resync::default()
            }),
            spec,
            peers,
            bound,
            started: crate::stick::now_ms(),
            tasks: Mutex::new(Vec::new()),
            sessions: Default::default(),
        });
        let mut tasks = Vec::new();
        if let Some(l) = listener {
            let _ = l.set_nonblocking(true);
            if let Ok(l) = tokio::net::TcpListener::from_std(l) {
                tasks.push(tokio::spawn(session::accept_loop(s.clone(), l)));
            }
        }
        for i in 0..s.peers.len() {
            tasks.push(tokio::spawn(session::connect_loop(s.clone(), i)));
        }
        *lock(&s.tasks) = tasks;
        s
    }

    /// Stops the section: its listener, connections and sessions.
    pub fn stop(&self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        for p in &self.peers {
            if let Some((_, h)) = lock(&p.st).session.take() {
                h.abort();
            }
        }
    }

    fn next_session(&self) -> u64 {
        self.sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// Whether the section still waits for its full resync (done once 5 s passed).
    pub fn resyncing(&self) -> bool {
        let mut r = lock(&self.resync);
        if !r.done && crate::stick::now_ms() >= self.started + RESYNC_TIMEOUT_MS {
            r.done = true;
            r.asked = None;
        }
        !r.done
    }

    /// Whether peer `i` is to be asked for the full resync now (then it is).
    fn ask_resync(&self, i: usize) -> bool {
        if !self.resyncing() {
            return false;
        }
        let mut r = lock(&self.resync);
        if r.asked.is_some() || r.partial.contains(&i) {
            return false;
        }
        r.asked = Some(i);
        true
    }

    /// Peer `i` ended the resync it was asked for.
    fn resync_answered(&self, i: usize, finished: bool) {
        let mut r = lock(&self.resync);
        if r.asked == Some(i) {
            r.asked = None;
            if finished {
                r.done = true;
            } else {
                r.partial.insert(i);
            }
        }
    }

    /// Peer `i`'s session ended: it is no longer asked.
    fn resync_lost(&self, i: usize) {
        let mut r = lock(&self.resync);
        if r.asked == Some(i) {
            r.asked = None;
        }
    }

    /// `show peers` for this section, in HAProxy's layout.
    pub fn show(&self) -> String {
        use std::fmt::Write;
        let now = crate::stick::now_ms();
        let mut o = String::new();
        let resync = if self.resyncing() {
            let left = (self.started + RESYNC_TIMEOUT_MS).saturating_sub(now);
            format!("{}s", left.div_ceil(1000))
        } else {
            "<PAST>".into()
        };
        let _ = writeln!(
            o,
            "{:p}: [{}] id={} disabled=0 flags=0x{:x} resync_timeout={resync} task_calls={}",
            self as *const _,
            crate::stick::peers::session::date(),
            self.spec.name,
            if self.resyncing() { 0 } else { 0x3 },
            self.sessions.load(std::sync::atomic::Ordering::Relaxed)
        );
        if let Some(addr) = self.bound {
            let _ = writeln!(
                o,
                "  {:p}: id={}(local,inactive) addr={addr} last_status=NONE last_hdshk=<NEVER>",
                &self.bound as *const _, self.spec.local
            );
            let _ = writeln!(o, "        reconnect=<NEVER> heartbeat=<NEVER> confirm=0 tx_hbt=0 rx_hbt=0 no_hbt=0 new_conn=0 proto_err=0 coll=0");
            let _ = writeln!(o, "        flags=0x0");
            self.show_tables(&mut o, None);
        }
        for p in &self.peers {
            let st = lock(&p.st);
            let status = match st.status {
                0 => "NONE",
                100 => "CONN",
                110 => "HSHK",
                200 => "ESTA",
                300 => "RETR",
                501 => "PROT",
                502 => "VERS",
                503 => "NAME",
                504 => "UNKN",
                _ => "NONE",
            };
            let hdshk = st.last_hdshk.map_or("<NEVER>".to_string(), |t| {
                format!("{}s", now.saturating_sub(t) / 1000)
            });
            let recon = if st.session.is_some() {
                "<NEVER>".to_string()
            } else {
                format!("{}s", st.reconnect.saturating_sub(now).div_ceil(1000))
            };
            let _ = writeln!(
                o,
                "  {:p}: id={}(remote,{}) addr={} last_status={status} last_hdshk={hdshk}",
                p as *const _,
                p.name,
                if st.session.is_some() {
                    "active"
                } else {
                    "inactive"
                },
                p.addr
            );
            let _ = writeln!(
                o,
                "        reconnect={recon} heartbeat={} confirm=0 tx_hbt={} rx_hbt={} no_hbt=0 new_conn={} proto_err={} coll={}",
                if st.session.is_some() { "3s" } else { "<NEVER>" },
                st.tx_hbt,
                st.rx_hbt,
                st.new_conn,
                st.proto_err,
                st.coll
            );
            let _ = writeln!(
                o,
                "        flags=0x0 appctx:0x0 st0={} st1=0 task_calls=0 state={}",
                if st.session.is_some() { 7 } else { 0 },
                if st.session.is_some() { "EST" } else { "CLO" }
            );
            self.show_tables(&mut o, Some(&st));
        }
        o
    }

    /// The `shared tables:` part of a peer in `show peers`.
    fn show_tables(&self, o: &mut String, st: Option<&PeerState>) {
        use std::fmt::Write;
        let _ = writeln!(o, "        shared tables:");
        for (i, (name, t)) in self.spec.tables.iter().enumerate() {
            let upd = t.share().last() as u32;
            let (get, pushed, acked) = st.map_or((0, 0, 0), |st| {
                (st.last_get[i], st.pushed[i] as u32, st.acked[i] as u32)
            });
            let _ = writeln!(
                o,
                "          {:p} local_id={} remote_id={} flags=0x0 remote_data=0x0",
                t.as_ref() as *const _,
                i + 1,
                if st.is_some() { i + 1 } else { 0 }
            );
            let _ = writeln!(
                o,
                "              last_acked={get} last_pushed={pushed} last_get={get} teaching_origin=0 update={acked}"
            );
            let _ = writeln!(
                o,
                "              table:{:p} id={name} update={upd} localupdate={upd} commitupdate={upd} refcnt=1",
                t.as_ref() as *const _
            );
        }
        let _ = writeln!(
            o,
            "        Dictionary cache not dumped (use \"show peers dict\")"
        );
    }
}

/// The running sections of the process (for `show peers`).
fn registry() -> &'static Mutex<Vec<Arc<Section>>> {
    static R: OnceLock<Mutex<Vec<Arc<Section>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Replaces the running sections with `wanted`: those whose spec is unchanged keep
/// running, the others stop; `start` starts each new one. Gives the errors.
pub fn sync(
    wanted: Vec<Spec>,
    mut start: impl FnMut(Spec) -> Result<Arc<Section>, String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut reg = lock(registry());
    let old = std::mem::take(&mut *reg);
    let mut kept = Vec::new();
    for o in old {
        if wanted.iter().any(|w| w.same(&o.spec)) {
            kept.push(o);
        } else {
            o.stop();
        }
    }
    for w in wanted {
        if let Some(k) = kept.iter().find(|k| k.spec.same(&w)) {
            reg.push(k.clone());
            continue;
        }
        match start(w) {
            Ok(s) => reg.push(s),
            Err(e) => errors.push(e),
        }
    }
    errors
}

/// `show peers [NAME]`.
pub fn show(name: Option<&str>) -> Result<String, String> {
    let reg = lock(registry());
    let mut o = String::new();
    let mut found = false;
    for s in reg.iter() {
        if name.is_none_or(|n| n == s.spec.name) {
            found = true;
            o.push_str(&s.show());
        }
    }
    match name {
        Some(n) if !found => Err(format!("'{n}' is not a peers section.\n")),
        _ => Ok(o),
    }
}
