//! A lock-free events-per-second counter (HAProxy's `freq_ctr` over one second), for
//! a server's session rate (`srv_sess_rate`): counted on every connection slot taken,
//! so one atomic word rather than a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

const BITS: u32 = 20;
const MAX: u64 = (1 << BITS) - 1;
const TICK_MASK: u64 = (1 << 24) - 1;

/// Milliseconds since the first use in this process.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Events in the current second and in the previous one, with the current second's
/// number (24 bits, wrapping): one `AtomicU64`.
#[derive(Debug, Default)]
pub struct PerSecond(AtomicU64);

fn unpack(v: u64) -> (u64, u64, u64) {
    (v >> (2 * BITS), (v >> BITS) & MAX, v & MAX)
}

fn pack(tick: u64, curr: u64, prev: u64) -> u64 {
    ((tick & TICK_MASK) << (2 * BITS)) | (curr.min(MAX) << BITS) | prev.min(MAX)
}

impl PerSecond {
    /// Counts one event.
    pub fn hit(&self) {
        self.hit_at(now_ms());
    }

    fn hit_at(&self, ms: u64) {
        let now = (ms / 1000) & TICK_MASK;
        let _ = self.0.fetch_update(Relaxed, Relaxed, |v| {
            let (tick, curr, prev) = unpack(v);
            Some(match now.wrapping_sub(tick) & TICK_MASK {
                0 => pack(tick, curr + 1, prev),
                1 => pack(now, 1, curr),
                _ => pack(now, 1, 0),
            })
        });
    }

    /// Events over the last second: the current second's, plus the previous second's
    /// weighted by the part of it still inside the window (`read_freq_ctr`).
    pub fn read(&self) -> u64 {
        self.read_at(now_ms())
    }

    fn read_at(&self, ms: u64) -> u64 {
        let now = (ms / 1000) & TICK_MASK;
        let (tick, curr, prev) = unpack(self.0.load(Relaxed));
        let into = ms % 1000;
        match now.wrapping_sub(tick) & TICK_MASK {
            0 => curr + prev * (1000 - into) / 1000,
            1 => curr * (1000 - into) / 1000,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_last_second() {
        let r = PerSecond::default();
        for _ in 0..10 {
            r.hit_at(5_100);
        }
        assert_eq!(r.read_at(5_900), 10);
        r.hit_at(6_000);
        // Half of the previous second still counts.
        assert_eq!(r.read_at(6_500), 1 + 5);
        assert_eq!(r.read_at(7_500), 0);
        assert_eq!(r.read_at(9_000), 0);
        r.hit_at(20_000);
        assert_eq!(r.read_at(20_000), 1);
    }
}
