//! HAProxy's frequency counters (`freq_ctr`): events over a sliding period.
//!
//! A counter keeps the events of the current period and the count of the previous one.
//! The rate read at time `now` is the current count plus the previous count weighted
//! by the part of the previous period still inside the window that ends at `now`, as
//! HAProxy's `read_freq_ctr_period` computes it. Times are milliseconds.

/// Events over a sliding period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freq {
    /// Start of the current period (ms).
    tick: u64,
    /// Events in the current period.
    curr: u32,
    /// Events in the previous period.
    prev: u32,
}

impl Freq {
    /// Moves to the period that holds `now`; a counter idle for two periods restarts
    /// its window at `now`.
    fn rotate(&mut self, now: u64, period: u64) {
        let elapsed = now.saturating_sub(self.tick);
        if elapsed < period {
            return;
        }
        if elapsed >= 2 * period {
            self.prev = 0;
            self.tick = now;
        } else {
            self.prev = self.curr;
            self.tick += period;
        }
        self.curr = 0;
    }

    /// Counts `inc` events at `now`.
    pub fn add(&mut self, now: u64, period: u64, inc: u32) {
        let period = period.max(1);
        self.rotate(now, period);
        self.curr = self.curr.saturating_add(inc);
    }

    /// Its parts as the peers protocol sends them: the start of the current period,
    /// the events in it, the events of the previous one.
    pub fn parts(&self) -> (u64, u32, u32) {
        (self.tick, self.curr, self.prev)
    }

    /// A counter from its parts (received from a peer).
    pub fn from_parts(tick: u64, curr: u32, prev: u32) -> Freq {
        Freq { tick, curr, prev }
    }

    /// The rate over `period` at `now`.
    pub fn read(&self, now: u64, period: u64) -> u32 {
        let period = period.max(1);
        let mut f = *self;
        f.rotate(now, period);
        let elapsed = now.saturating_sub(f.tick).min(period);
        let past = u64::from(f.prev) * (period - elapsed) / period;
        (u64::from(f.curr) + past).min(u64::from(u32::MAX)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_one_period() {
        let mut f = Freq::default();
        for i in 0..100 {
            f.add(10_000 + i, 1000, 1);
        }
        assert_eq!(f.read(10_100, 1000), 100);
        f.add(10_999, 1000, 1);
        assert_eq!(f.read(10_999, 1000), 101);
    }

    #[test]
    fn previous_period_fades_linearly() {
        let mut f = Freq::default();
        f.add(5000, 1000, 100);
        // The next period: all of the previous one still counts at its start...
        assert_eq!(f.read(6000, 1000), 100);
        // ...a quarter of it is out of the window 250 ms later...
        assert_eq!(f.read(6250, 1000), 75);
        f.add(6250, 1000, 10);
        assert_eq!(f.read(6250, 1000), 85);
        // ...and two periods later nothing is left.
        assert_eq!(f.read(7000, 1000), 10);
        assert_eq!(f.read(8000, 1000), 0);
    }

    #[test]
    fn an_idle_counter_restarts_its_window() {
        let mut f = Freq::default();
        f.add(1000, 1000, 3);
        f.add(60_000, 1000, 1);
        assert_eq!(f.read(60_000, 1000), 1);
        assert_eq!(f.read(60_999, 1000), 1);
        assert_eq!(f.read(61_500, 1000), 0);
    }
}
