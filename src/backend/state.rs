//! Per-server runtime state: atomics shared by the data path, health checks, the
//! stats/runtime socket and reloads.
//!
//! A `ServerState` lives outside the immutable runtime graph: a reload that keeps a
//! server (same backend, name and address) hands the very same `Arc<ServerState>` to
//! the new graph, so health, admin state, runtime weight and counters carry over.

use crate::config::model::{InitState, ServerSettings};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

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
    /// Configured weight (from the config, or set at runtime).
    weight: AtomicU32,
    /// The weight the config gave at the last (re)load.
    pub config_weight: AtomicU32,
    /// Active connections or in-flight requests.
    pub cur: AtomicU32,
    /// Highest `cur` seen.
    pub max: AtomicU32,
    /// Total connections or requests sent to this server.
    pub total: AtomicU64,
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
    pub check: std::sync::Mutex<crate::check::CheckCell>,
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
            weight: AtomicU32::new(weight),
            config_weight: AtomicU32::new(weight),
            cur: AtomicU32::new(0),
            max: AtomicU32::new(0),
            total: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            conn_errors: AtomicU64::new(0),
            resp_errors: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            redispatches: AtomicU64::new(0),
            status: Default::default(),
            queued: AtomicU32::new(0),
            check: std::sync::Mutex::new(crate::check::CheckCell::new(
                crate::check::health::Health::new(
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
        let health = crate::check::health::Health::new(s.rise, s.fall, init);
        let mut st = ServerState::new(health.is_up(), s.disabled, s.weight);
        st.check = std::sync::Mutex::new(crate::check::CheckCell::new(health));
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

    /// Administrative state.
    pub fn admin(&self) -> Admin {
        match self.admin.load(Relaxed) {
            0 => Admin::Ready,
            1 => Admin::Drain,
            _ => Admin::Maint,
        }
    }

    /// Sets the administrative state.
    pub fn set_admin(&self, a: Admin) {
        self.admin.store(a as u8, Relaxed);
    }

    /// Current weight.
    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    /// Sets the weight (runtime).
    pub fn set_weight(&self, w: u32) {
        self.weight.store(w, Relaxed);
    }

    /// The weight to balance with right now: 0 unless UP, ready and weighted.
    pub fn eligible_weight(&self) -> u32 {
        if self.is_up() && self.admin() == Admin::Ready {
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
