//! The soft stop as connections see it.
//!
//! Each connection waits for the soft stop while it waits for anything else (a
//! request, a timer), so the wait must be small: a `StopWatch` is a pointer and a slot
//! number, where a `watch` receiver and its `changed()` future were 144 bytes. A
//! connection registers its task's waker once, on its first poll; `Stopper::stop`
//! raises the flag and wakes every registered task.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

/// The soft-stop flag and the tasks waiting on it.
#[derive(Debug, Default)]
pub struct Stopper {
    stopped: AtomicBool,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<u32>,
}

const UNREGISTERED: u32 = u32::MAX;

impl Stopper {
    /// A new, running stopper.
    pub fn new() -> Arc<Stopper> {
        Arc::new(Stopper::default())
    }

    /// Begins the soft stop: every watch reports it from now on and every task that
    /// polled one is woken.
    pub fn stop(&self) {
        self.stopped.store(true, SeqCst);
        let wakers: Vec<Waker> = {
            let mut s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            s.wakers.iter_mut().filter_map(Option::take).collect()
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Whether the soft stop has begun.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(SeqCst)
    }

    /// A watch for one connection.
    pub fn watch(self: &Arc<Self>) -> StopWatch {
        StopWatch {
            stopper: self.clone(),
            slot: UNREGISTERED,
        }
    }
}

/// One connection's view of the soft stop. It must always be polled by the same task
/// (a connection's own): the waker is registered once.
#[derive(Debug)]
pub struct StopWatch {
    stopper: Arc<Stopper>,
    slot: u32,
}

impl StopWatch {
    /// Whether the soft stop has begun.
    pub fn is_stopped(&self) -> bool {
        self.stopper.is_stopped()
    }

    /// True once the soft stop has begun; until then the calling task is woken when it
    /// begins.
    pub fn poll_stopped(&mut self, cx: &Context<'_>) -> bool {
        if self.stopper.is_stopped() {
            return true;
        }
        if self.slot == UNREGISTERED {
            let mut s = self.stopper.slots.lock().unwrap_or_else(|e| e.into_inner());
            // `stop` raises the flag before it takes the lock: seen here if missed above.
            if self.stopper.is_stopped() {
                return true;
            }
            let waker = Some(cx.waker().clone());
            self.slot = match s.free.pop() {
                Some(i) => {
                    s.wakers[i as usize] = waker;
                    i
                }
                None => {
                    s.wakers.push(waker);
                    (s.wakers.len() - 1) as u32
                }
            };
        }
        false
    }
}

impl Drop for StopWatch {
    fn drop(&mut self) {
        if self.slot != UNREGISTERED {
            let mut s = self.stopper.slots.lock().unwrap_or_else(|e| e.into_inner());
            s.wakers[self.slot as usize] = None;
            s.free.push(self.slot);
            if s.free.len() == s.wakers.len() {
                // No connection left: give back what a burst of them made the lists grow to.
                s.wakers = Vec::new();
                s.free = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn stop_wakes_each_waiting_watch_once_and_slots_are_reused() {
        let stopper = Stopper::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        let mut a = stopper.watch();
        let mut b = stopper.watch();
        assert!(!a.poll_stopped(&cx));
        assert!(!a.poll_stopped(&cx)); // registered once
        assert!(!b.poll_stopped(&cx));
        drop(b);
        let mut c = stopper.watch();
        assert!(!c.poll_stopped(&cx));
        assert_eq!(c.slot, 1, "the dropped watch's slot is reused");
        assert_eq!(stopper.slots.lock().unwrap().wakers.len(), 2);
        {
            // Once every watch is gone, the lists are released.
            let other = Stopper::new();
            let mut w = other.watch();
            assert!(!w.poll_stopped(&cx));
            drop(w);
            let s = other.slots.lock().unwrap();
            assert_eq!((s.wakers.capacity(), s.free.capacity()), (0, 0));
        }
        let idle = stopper.watch(); // never polled: nothing to wake
        stopper.stop();
        assert_eq!(count.0.load(SeqCst), 2);
        assert!(a.poll_stopped(&cx) && c.poll_stopped(&cx) && idle.is_stopped());
        let mut late = stopper.watch();
        assert!(late.poll_stopped(&cx));
        assert_eq!(count.0.load(SeqCst), 2);
    }
}
