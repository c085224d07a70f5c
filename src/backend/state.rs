//! Per-server runtime state: atomics shared by the data path, health checks, the
//! stats/runtime socket and reloads.
//!
//! A `ServerState` lives outside the immutable runtime graph: a reload that keeps a
//! server (same backend, name and address) hands the very same `Arc<ServerState>` to
//! the new graph, so health, admin state, runtime weight and counters carry over.

use crate::config::model::{InitState, ServerSettings};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

/// Administrative state set by config (`disabled`) or the runtime socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Admin {
    /// Takes traffic when UP.
    Ready = 0,
    /// No new traffic; open connections finish (persistent users may still come).
    Drain = 1,
    /// No traffic, checks stopped.
    Maint = 2,
}

/// Counters and state of one server.
#[derive(Debug)]
pub struct ServerState {
    /// Operational health (set by checks and passive observation).
    up: AtomicBool,
    /// `Admin` as u8.
    admin: AtomicU8,
    /// NOLB: UP, but a check answered 404 under `http-check disable-on-404`: no new
    /// traffic, persistent clients still served.
    nolb: AtomicBool,
    /// Configured weight (from the config, or set at runtime).
    weight: AtomicU32,
    /// The weight the config gave at the last (re)load.
    pub config_weight: AtomicU32,
    /// Whether the config said `disabled` at the last (re)load.
    pub config_disabled: AtomicBool,
    /// Active connections or in-flight requests.
    pub cur: AtomicU32,
    /// Highest `cur` seen.
    pub max: AtomicU32,
    /// Total connections or requests sent to this server.
    pub total: AtomicU64,
    /// Sessions (connections or requests) per second (`srv_sess_rate`).
    pub sess_rate: super::rate::PerSecond,
    /// Bytes from client to server.
    pub bytes_in: AtomicU64,
    /// Bytes from server to client.
    pub bytes_out: AtomicU64,
    /// Connection errors.
    pub conn_errors: AtomicU64,
    /// Response errors (invalid/timeouts).
    pub resp_errors: AtomicU64,
    /// Retries done on this server.
    pub retries: AtomicU64,
    /// Redispatches away from this server.
    pub redispatches: AtomicU64,
    /// Responses by class: 1xx..5xx at index 0..4, other at 5.
    pub status: [AtomicU64; 6],
    /// Requests waiting for a slot on this server's backend because of it.
    pub queued: AtomicU32,
    /// Health counter and check results (active and passive).
    pub check: std::sync::Mutex<super::status::CheckCell>,
    /// Response times (time to the response head).
    pub rt: ResponseTimes,
    /// Closes this server's open sessions (`on-marked-down shutdown-sessions`,
    /// `on-marked-up shutdown-backup-sessions`).
    pub kill: KillSwitch,
    /// `maxconn` set at run time (an agent's `maxconn:N`); -1 while the configured
    /// one applies.
    maxconn: AtomicI64,
    /// The address set at run time (`set server addr`, the server-state file); the
    /// graph carries it as the server's address until the config's address changes.
    addr: std::sync::Mutex<Option<std::net::SocketAddr>>,
    /// Active checks run (`disable health` stops them; a server added at run time
    /// starts with them stopped, as in HAProxy).
    check_on: AtomicBool,
    /// The agent check runs (`disable agent` stops it).
    agent_on: AtomicBool,
    /// In maintenance because DNS gives it no address (HAProxy's RMAINT): beside the
    /// admin state the socket sets, which it does not change.
    rmaint: AtomicBool,
    /// The name DNS resolves for it at run time when not the configured one: a
    /// `set server fqdn`, or the target of the SRV record a template slot holds.
    hostname: std::sync::Mutex<Option<String>>,
    /// In maintenance because the server it tracks is (HAProxy's `SRV_ADMF_IMAINT`).
    imaint: AtomicBool,
    /// `track`: the server tracked and the servers tracking this one, linked by each
    /// graph built (`graph::track::link`).
    pub track: std::sync::Mutex<super::track::Links>,
}

/// A generation counter sessions compare against, plus a wake-up for idle ones.
#[derive(Debug, Default)]
pub struct KillSwitch {
    generation: AtomicU64,
    notify: tokio::sync::Notify,
}

impl KillSwitch {
    /// The current generation (a session remembers it when it starts).
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }
    /// Ends every session started before now.
    pub fn fire(&self) {
        self.generation.fetch_add(1, Relaxed);
        self.notify.notify_waiters();
    }
    /// True when sessions of `generation` must end.
    pub fn fired_since(&self, generation: u64) -> bool {
        self.generation.load(Relaxed) != generation
    }
    /// Resolves when the switch fires after `generation`.
    pub async fn wait(&self, generation: u64) {
        loop {
            let n = self.notify.notified();
            if self.fired_since(generation) {
                return;
            }
            n.await;
        }
    }
}

/// Response times of a server: the last 1024 in a ring (for the average) and a
/// log-scale histogram (for percentiles and the Prometheus histogram).
#[derive(Debug)]
pub struct ResponseTimes {
    /// Allocated at the first response, so idle servers of big configs cost nothing.
    ring: std::sync::OnceLock<Box<[AtomicU32]>>,
    next: AtomicU64,
    /// Counts per bucket; bucket `i` holds times up to `BUCKETS_US[i]` microseconds.
    pub buckets: [AtomicU64; BUCKETS_US.len() + 1],
    /// Sum of all recorded times in microseconds.
    pub sum_us: AtomicU64,
}

/// Upper bounds of the histogram buckets, in microseconds.
pub const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

impl Default for ResponseTimes {
    fn default() -> Self {
        ResponseTimes {
            ring: std::sync::OnceLock::new(),
            next: AtomicU64::new(0),
            buckets: Default::default(),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl ResponseTimes {
    /// Records one response time.
    pub fn record(&self, d: std::time::Duration) {
        let us = d.as_micros().min(u32::MAX as u128) as u64;
        let ring = self
            .ring
            .get_or_init(|| (0..1024).map(|_| AtomicU32::new(0)).collect());
        let i = self.next.fetch_add(1, Relaxed);
        ring[(i % 1024) as usize].store(us as u32, Relaxed);
        let b = BUCKETS_US
            .iter()
            .position(|&ub| us <= ub)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[b].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// Number of recorded times.
    pub fn count(&self) -> u64 {
        self.next.load(Relaxed)
    }

    /// Average of the last 1024, in milliseconds.
    pub fn avg_ms(&self) -> f64 {
        let n = self.count().min(1024);
        if n == 0 {
            return 0.0;
        }
        let Some(ring) = self.ring.get() else {
            return 0.0;
        };
        let sum: u64 = ring
            .iter()
            .take(n as usize)
            .map(|v| v.load(Relaxed) as u64)
            .sum();
        sum as f64 / n as f64 / 1000.0
    }

    /// Percentile (0..=100) from the histogram, in milliseconds (bucket upper bound).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let want = ((total as f64) * p / 100.0).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in counts.iter().enumerate() {
            acc += c;
            if acc >= want {
                let ub = BUCKETS_US
                    .get(i)
                    .copied()
                    .unwrap_or(BUCKETS_US[BUCKETS_US.len() - 1] * 2);
                return ub as f64 / 1000.0;
            }
        }
        0.0
    }
}

impl ServerState {
    /// A new state: UP or DOWN as given, `Admin` per `disabled`.
    pub fn new(up: bool, maint: bool, weight: u32) -> Self {
        ServerState {
            up: AtomicBool::new(up),
            admin: AtomicU8::new(if maint {
                Admin::Maint as u8
            } else {
                Admin::Ready as u8
            }),
            nolb: AtomicBool::new(false),
            weight: AtomicU32::new(weight),
            config_weight: AtomicU32::new(weight),
            config_disabled: AtomicBool::new(maint),
            cur: AtomicU32::new(0),
            max: AtomicU32::new(0),
            total: AtomicU64::new(0),
            sess_rate: Default::default(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            conn_errors: AtomicU64::new(0),
            resp_errors: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            redispatches: AtomicU64::new(0),
            status: Default::default(),
            queued: AtomicU32::new(0),
            rt: ResponseTimes::default(),
            kill: KillSwitch::default(),
            maxconn: AtomicI64::new(-1),
            addr: std::sync::Mutex::new(None),
            check_on: AtomicBool::new(true),
            agent_on: AtomicBool::new(true),
            rmaint: AtomicBool::new(false),
            hostname: std::sync::Mutex::new(None),
            imaint: AtomicBool::new(false),
            track: Default::default(),
            check: std::sync::Mutex::new(super::status::CheckCell::new(
                super::health::Health::new(
                    2,
                    3,
                    if up {
                        InitState::FullyUp
                    } else {
                        InitState::FullyDown
                    },
                ),
            )),
        }
    }

    /// The state a new server starts with: UP per `init-state` when checked (HAProxy
    /// starts a checked server at health = rise), always UP when not checked; in
    /// maintenance when `disabled`.
    pub fn for_settings(s: &ServerSettings) -> Self {
        let init = if s.check {
            s.init_state
        } else {
            InitState::FullyUp
        };
        let health = super::health::Health::new(s.rise, s.fall, init);
        let mut st = ServerState::new(health.is_up(), s.disabled, s.weight);
        st.check = std::sync::Mutex::new(super::status::CheckCell::new(health));
        st
    }

    /// Operationally UP.
    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// Sets operational health; returns the previous value.
    pub fn set_up(&self, up: bool) -> bool {
        self.up.swap(up, Relaxed)
    }

    /// In NOLB (`http-check disable-on-404`).
    pub fn is_nolb(&self) -> bool {
        self.nolb.load(Relaxed)
    }

    /// Enters or leaves NOLB; returns the previous value.
    pub fn set_nolb(&self, on: bool) -> bool {
        self.nolb.swap(on, Relaxed)
    }

    /// Administrative state: maintenance while DNS gives no address or inherited
    /// from the server tracked, else the one the config or the socket set.
    pub fn admin(&self) -> Admin {
        if self.rmaint.load(Relaxed) || self.imaint.load(Relaxed) {
            return Admin::Maint;
        }
        self.forced_admin()
    }

    /// In maintenance inherited from the server tracked.
    pub fn inherited_maint(&self) -> bool {
        self.imaint.load(Relaxed)
    }

    /// Enters or leaves inherited maintenance; returns the previous value.
    pub fn set_inherited_maint(&self, on: bool) -> bool {
        self.imaint.swap(on, Relaxed)
    }

    /// The administrative state set by the configuration or the socket.
    pub fn forced_admin(&self) -> Admin {
        match self.admin.load(Relaxed) {
            0 => Admin::Ready,
            1 => Admin::Drain,
            _ => Admin::Maint,
        }
    }

    /// Sets the administrative state; a change restarts the "since change" clock
    /// (`lastchg`), as HAProxy's does.
    pub fn set_admin(&self, a: Admin) {
        if self.admin.swap(a as u8, Relaxed) != a as u8 {
            self.check
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last_change = std::time::Instant::now();
        }
    }

    /// In maintenance for want of an address from DNS.
    pub fn resolution_maint(&self) -> bool {
        self.rmaint.load(Relaxed)
    }

    /// Enters or leaves the resolution maintenance; returns the previous value.
    pub fn set_resolution_maint(&self, on: bool) -> bool {
        let was = self.rmaint.swap(on, Relaxed);
        if was != on {
            self.check
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last_change = std::time::Instant::now();
        }
        was
    }

    /// The name DNS resolves at run time, when not the configured one.
    pub fn hostname(&self) -> Option<String> {
        self.hostname
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets (or clears) the name DNS resolves at run time.
    pub fn set_hostname(&self, h: Option<String>) {
        *self.hostname.lock().unwrap_or_else(|e| e.into_inner()) = h;
    }

    /// Current weight.
    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    /// Sets the weight (runtime).
    pub fn set_weight(&self, w: u32) {
        self.weight.store(w, Relaxed);
    }

    /// The `maxconn` set at run time, if any (0 = unlimited).
    pub fn runtime_maxconn(&self) -> Option<u32> {
        u32::try_from(self.maxconn.load(Relaxed)).ok()
    }

    /// Sets the `maxconn` at run time (an agent's `maxconn:N`).
    pub fn set_maxconn(&self, m: u32) {
        self.maxconn.store(m as i64, Relaxed);
    }

    /// The address set at run time, if any.
    pub fn addr_override(&self) -> Option<std::net::SocketAddr> {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets (or clears) the address set at run time.
    pub fn set_addr_override(&self, a: Option<std::net::SocketAddr>) {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner()) = a;
    }

    /// Whether active checks run (`enable|disable health`).
    pub fn check_enabled(&self) -> bool {
        self.check_on.load(Relaxed)
    }

    /// Starts or stops active checks.
    pub fn set_check_enabled(&self, on: bool) {
        self.check_on.store(on, Relaxed);
    }

    /// Whether the agent check runs (`enable|disable agent`).
    pub fn agent_enabled(&self) -> bool {
        self.agent_on.load(Relaxed)
    }

    /// Starts or stops the agent check.
    pub fn set_agent_enabled(&self, on: bool) {
        self.agent_on.store(on, Relaxed);
    }

    /// The weight to balance with right now: 0 unless UP, ready and weighted.
    pub fn eligible_weight(&self) -> u32 {
        if self.is_up() && self.admin() == Admin::Ready && !self.is_nolb() {
            self.weight()
        } else {
            0
        }
    }

    /// Takes one connection slot if under `maxconn` (0 = unlimited).
    pub fn try_acquire(&self, maxconn: u32) -> bool {
        let mut cur = self.cur.load(Relaxed);
        loop {
            if maxconn != 0 && cur >= maxconn {
                return false;
            }
            match self
                .cur
                .compare_exchange_weak(cur, cur + 1, Relaxed, Relaxed)
            {
                Ok(_) => {
                    self.max.fetch_max(cur + 1, Relaxed);
                    self.total.fetch_add(1, Relaxed);
                    self.sess_rate.hit();
                    return true;
                }
                Err(v) => cur = v,
            }
        }
    }

    /// Gives a slot back.
    pub fn release(&self) {
        self.cur.fetch_sub(1, Relaxed);
    }

    /// Counts one response status.
    pub fn count_status(&self, status: u16) {
        let idx = match status {
            100..=599 => (status / 100 - 1) as usize,
            _ => 5,
        };
        self.status[idx].fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eligibility_needs_up_ready_and_weight() {
        let s = ServerState::new(true, false, 2);
        assert_eq!(s.eligible_weight(), 2);
        s.set_admin(Admin::Drain);
        assert_eq!(s.eligible_weight(), 0);
        s.set_admin(Admin::Ready);
        s.set_up(false);
        assert_eq!(s.eligible_weight(), 0);
        let m = ServerState::new(true, true, 1);
        assert_eq!(m.admin(), Admin::Maint);
    }

    #[test]
    fn response_times() {
        let rt = ResponseTimes::default();
        for ms in [1u64, 2, 3, 4, 100] {
            rt.record(std::time::Duration::from_millis(ms));
        }
        assert_eq!(rt.count(), 5);
        assert!((rt.avg_ms() - 22.0).abs() < 0.01);
        assert_eq!(rt.percentile_ms(50.0), 5.0);
        assert_eq!(rt.percentile_ms(99.0), 100.0);
    }

    #[test]
    fn slots_respect_maxconn() {
        let s = ServerState::new(true, false, 1);
        assert!(s.try_acquire(2));
        assert!(s.try_acquire(2));
        assert!(!s.try_acquire(2));
        s.release();
        assert!(s.try_acquire(2));
        assert!(s.try_acquire(0));
        assert_eq!(s.max.load(Relaxed), 3);
        assert_eq!(s.total.load(Relaxed), 4);
    }
}
