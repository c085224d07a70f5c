//! The health counter, exactly as HAProxy runs it.
//!
//! `health` runs from 0 to `rise + fall - 1`; the server is UP when `health >= rise`.
//! A success on a DOWN server increments it and, on reaching `rise`, jumps to the top
//! (UP). A failure on an UP server above `rise` decrements it; at `rise` or below it
//! drops to 0 (DOWN). So from fully UP it takes `fall` failures to go DOWN and from
//! fully DOWN `rise` successes to come UP. At start (`init-state up`) health is `rise`:
//! UP at once, and a single failure marks the server DOWN.

use crate::config::model::InitState;

/// A change of operational state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The server just went DOWN.
    Down,
    /// The server just came UP.
    Up,
}

/// The counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    rise: u32,
    fall: u32,
    health: u32,
}

impl Health {
    /// A counter starting per `init-state`.
    pub fn new(rise: u32, fall: u32, init: InitState) -> Self {
        let rise = rise.max(1);
        let fall = fall.max(1);
        let max = rise + fall - 1;
        let health = match init {
            InitState::Up => rise,
            InitState::FullyUp => max,
            InitState::Down => rise - 1,
            InitState::FullyDown => 0,
        };
        Health { rise, fall, health }
    }

    /// A counter at `value` (clamped to the range), as a server-state file restores it.
    pub fn at(rise: u32, fall: u32, value: u32) -> Self {
        let mut h = Health::new(rise, fall, InitState::FullyDown);
        h.health = value.min(h.max());
        h
    }

    /// The top of the range.
    pub fn max(&self) -> u32 {
        self.rise + self.fall - 1
    }

    /// The current value.
    pub fn value(&self) -> u32 {
        self.health
    }

    /// `rise`.
    pub fn rise(&self) -> u32 {
        self.rise
    }

    /// `fall`.
    pub fn fall(&self) -> u32 {
        self.fall
    }

    /// UP when health >= rise.
    pub fn is_up(&self) -> bool {
        self.health >= self.rise
    }

    /// Fully UP or fully DOWN (checks then run at `inter` / `downinter`).
    pub fn is_settled(&self) -> bool {
        self.health == 0 || self.health == self.max()
    }

    /// A passed check.
    pub fn success(&mut self) -> Option<Transition> {
        let was_up = self.is_up();
        if self.health < self.max() {
            self.health += 1;
        }
        if self.health >= self.rise {
            self.health = self.max();
        }
        (!was_up && self.is_up()).then_some(Transition::Up)
    }

    /// A failed check.
    pub fn failure(&mut self) -> Option<Transition> {
        let was_up = self.is_up();
        if self.health > self.rise {
            self.health -= 1;
        } else {
            self.health = 0;
        }
        (was_up && !self.is_up()).then_some(Transition::Down)
    }

    /// `on-error sudden-death`: a "pre-fatal" failed check. As in HAProxy, health is
    /// first lowered to `rise + 1` (when above), then a failure is applied: a server
    /// above `rise` stays UP with one failure left; one at `rise` (the default start)
    /// or DOWN goes to 0.
    pub fn sudden_death(&mut self) -> Option<Transition> {
        if self.health > self.rise {
            self.health = self.rise + 1;
        }
        self.failure()
    }

    /// DOWN now (`on-error mark-down`).
    pub fn mark_down(&mut self) -> Option<Transition> {
        let was_up = self.is_up();
        self.health = 0;
        was_up.then_some(Transition::Down)
    }

    /// Status text as HAProxy's stats show it: `UP`, `DOWN`, `UP 2/3`, `DOWN 1/2`.
    pub fn status_text(&self) -> String {
        if self.is_up() {
            if self.health == self.max() {
                "UP".into()
            } else {
                format!("UP {}/{}", self.health - self.rise + 1, self.fall)
            }
        } else if self.health == 0 {
            "DOWN".into()
        } else {
            format!("DOWN {}/{}", self.health, self.rise)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_up_at_rise_and_one_failure_marks_down() {
        let mut h = Health::new(2, 3, InitState::Up);
        assert!(h.is_up());
        assert_eq!(h.value(), 2);
        assert_eq!(h.failure(), Some(Transition::Down));
        assert_eq!(h.value(), 0);
    }

    #[test]
    fn from_fully_up_it_takes_fall_failures() {
        let mut h = Health::new(2, 3, InitState::FullyUp);
        assert_eq!(h.value(), 4);
        assert_eq!(h.failure(), None);
        assert_eq!(h.failure(), None);
        assert!(h.is_up());
        assert_eq!(h.failure(), Some(Transition::Down));
        assert!(!h.is_up());
    }

    #[test]
    fn from_down_it_takes_rise_successes_and_jumps_to_max() {
        let mut h = Health::new(2, 3, InitState::FullyDown);
        assert_eq!(h.success(), None);
        assert_eq!(h.value(), 1);
        assert_eq!(h.success(), Some(Transition::Up));
        assert_eq!(h.value(), 4);
    }

    #[test]
    fn a_success_while_up_restores_the_top() {
        let mut h = Health::new(2, 3, InitState::FullyUp);
        h.failure();
        h.failure();
        assert_eq!(h.value(), 2);
        assert_eq!(h.success(), None);
        assert_eq!(h.value(), 4);
    }

    #[test]
    fn a_failure_while_down_resets_to_zero() {
        let mut h = Health::new(3, 2, InitState::FullyDown);
        h.success();
        h.success();
        assert_eq!(h.value(), 2);
        assert_eq!(h.failure(), None);
        assert_eq!(h.value(), 0);
    }

    #[test]
    fn init_states() {
        assert!(!Health::new(2, 3, InitState::Down).is_up());
        let mut d = Health::new(2, 3, InitState::Down);
        assert_eq!(d.success(), Some(Transition::Up));
        assert_eq!(Health::new(2, 3, InitState::FullyDown).value(), 0);
    }

    #[test]
    fn rise_one_fall_one() {
        let mut h = Health::new(1, 1, InitState::Up);
        assert_eq!(h.max(), 1);
        assert_eq!(h.failure(), Some(Transition::Down));
        assert_eq!(h.success(), Some(Transition::Up));
    }

    #[test]
    fn passive_actions() {
        let mut h = Health::new(2, 3, InitState::FullyUp);
        assert_eq!(h.sudden_death(), None);
        assert_eq!(h.failure(), Some(Transition::Down));
        // From the default start (health = rise) the pre-fatal failure is fatal.
        let mut h = Health::new(2, 3, InitState::Up);
        assert_eq!(h.sudden_death(), Some(Transition::Down));
        let mut h = Health::new(2, 3, InitState::FullyUp);
        assert_eq!(h.mark_down(), Some(Transition::Down));
        assert_eq!(h.mark_down(), None);
    }

    #[test]
    fn status_texts() {
        let mut h = Health::new(2, 3, InitState::FullyUp);
        assert_eq!(h.status_text(), "UP");
        h.failure();
        assert_eq!(h.status_text(), "UP 2/3");
        h.failure();
        h.failure();
        assert_eq!(h.status_text(), "DOWN");
        h.success();
        assert_eq!(h.status_text(), "DOWN 1/2");
    }
}
