//! One heartbeat schedule per engine, in place of one tokio timer per WebSocket session.
//!
//! With many idle connections the tokio timer wheel was the server's main idle cost: each
//! session's timer entry lives inside its task, so every cascade of a wheel slot and every
//! firing of an entry whose deadline had moved (a pong pushes the deadline back) is a cache
//! miss on another task's memory. Here the deadlines are kept in coarse due-time buckets
//! (a grain of at most 100 ms, see [`grain_for`]) of small `(slot, generation)` entries,
//! held contiguously, and a dense table of the timers' generations: a session moving its
//! deadline only appends an entry (the old one goes stale, recognised by its generation
//! without touching the session), and a session's task is woken only when its own deadline
//! has passed. One driver task per engine sleeps until the next non-empty bucket; it runs
//! while at least one [`HeartbeatTimer`] exists.
//!
//! Deadlines are rounded up to the grain, never down: a ping goes out, or a session times
//! out, at most one grain late and never early. A timer's task waits on its own signal,
//! not on the schedule's lock, so polling a busy session costs nothing shared. A firing
//! can race with a reset and wake a task early; that is harmless, since the heartbeat
//! state machine compares its own deadline with the clock (`handle_timeout`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::signal::Signal;

/// The clock: tokio's, so that tests with paused time drive it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The grain of the schedule for a heartbeat of `interval` and `timeout`: a hundred and
/// twenty-eighth of the shorter one, between 1 ms and 100 ms.
pub(crate) fn grain_for(interval: Duration, timeout: Duration) -> Duration {
    (interval.min(timeout) / 128).clamp(Duration::from_millis(1), Duration::from_millis(100))
}

/// An entry of a bucket: a slot of the table and the generation it was scheduled at.
type Entry = (u32, u32);

/// Emptied buckets kept for reuse, at most.
const SPARE_BUCKETS: usize = 64;
/// The largest emptied bucket kept for reuse (entries): a burst of resets (every session
/// connected at once) makes a few large buckets, which are freed rather than kept.
const SPARE_CAPACITY: usize = 256;

/// One timer's row of the table.
struct Slot {
    /// Bumped on every reset and release: entries of an older generation are stale.
    generation: u32,
    /// Raised when the deadline passes. The timer waits on it without the schedule's
    /// lock, so polling a session's task costs no lock shared by every session.
    fired: Arc<Signal>,
}

/// The schedule itself, sans IO: deadlines in, the due timers' signals out.
pub(crate) struct Schedule {
    origin: Instant,
    grain: Duration,
    /// Bucket `t` holds the entries due at `origin + t * grain`.
    buckets: BTreeMap<u64, Vec<Entry>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Emptied buckets' vectors, reused.
    spare: Vec<Vec<Entry>>,
    live: usize,
}

impl Schedule {
    pub(crate) fn new(origin: Instant, grain: Duration) -> Self {
        Self {
            origin,
            grain: grain.max(Duration::from_micros(1)),
            buckets: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            spare: Vec::new(),
            live: 0,
        }
    }

    /// A new timer, not armed, and the signal raised when it fires.
    pub(crate) fn register(&mut self) -> (u32, Arc<Signal>) {
        self.live += 1;
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    fired: Arc::default(),
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let fired = self.slots[slot as usize].fired.clone();
        (slot, fired)
    }

    /// Forgets timer `slot`; its entries go stale. The last timer released frees the whole
    /// schedule (table, buckets and their stale entries), so that an engine keeps nothing
    /// of its busiest moment once its connections are gone.
    pub(crate) fn release(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.generation = s.generation.wrapping_add(1);
            s.fired.clear();
            self.free.push(slot);
            self.live -= 1;
        }
        if self.live == 0 {
            self.slots = Vec::new();
            self.free = Vec::new();
            self.buckets = BTreeMap::new();
            self.spare = Vec::new();
        }
    }

    /// How many timers are registered.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The grain in nanoseconds (at least 1 µs, at most 100 ms: a `u64` holds it).
    fn grain_nanos(&self) -> u64 {
        u64::try_from(self.grain.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The bucket of `deadline`: the first one due at or after it. (In `u64` nanoseconds,
    /// 584 years from the origin: no 128-bit division on every reset.)
    fn tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(since).map_or(u64::MAX, |n| n.div_ceil(self.grain_nanos()))
    }

    /// When bucket `tick` is due.
    fn instant(&self, tick: u64) -> Instant {
        let nanos = tick.saturating_mul(self.grain_nanos());
        self.origin + Duration::from_nanos(nanos)
    }

    /// Arms timer `slot` for `deadline`, replacing what it was armed for. Returns when its
    /// bucket is due.
    pub(crate) fn reset(&mut self, slot: u32, deadline: Instant) -> Instant {
        let tick = self.tick(deadline);
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return deadline;
        };
        s.generation = s.generation.wrapping_add(1);
        // A firing for the deadline replaced is forgotten.
        s.fired.clear();
        let entry = (slot, s.generation);
        // Deadlines mostly go to the latest bucket (every reset moves a deadline a fixed
        // interval or timeout ahead): found without a search.
        match self.buckets.last_entry() {
            Some(mut last) if *last.key() == tick => last.get_mut().push(entry),
            _ => {
                let spare = &mut self.spare;
                self.buckets
                    .entry(tick)
                    .or_insert_with(|| spare.pop().unwrap_or_default())
                    .push(entry);
            }
        }
        self.instant(tick)
    }

    /// Time passed to `now`: the signals of the timers whose bucket is due go into
    /// `fire` (to be raised once the lock is released).
    pub(crate) fn expire(&mut self, now: Instant, fire: &mut Vec<Arc<Signal>>) {
        while let Some((&tick, _)) = self.buckets.first_key_value() {
            if self.instant(tick) > now {
                break;
            }
            let Some((_, mut entries)) = self.buckets.pop_first() else {
                break;
            };
            for &(slot, generation) in &entries {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    if s.generation == generation {
                        // Disarmed until the next reset: the entry is used up.
                        s.generation = s.generation.wrapping_add(1);
                        fire.push(s.fired.clone());
                    }
                }
            }
            entries.clear();
            if self.spare.len() < SPARE_BUCKETS && entries.capacity() <= SPARE_CAPACITY {
                self.spare.push(entries);
            }
        }
    }

    /// When the next bucket is due, if any.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.buckets.keys().next().map(|&t| self.instant(t))
    }
}

/// What the engine's timers and its driver share.
struct Inner {
    state: Mutex<State>,
    /// Wakes the driver: a bucket earlier than the one it sleeps until, or no timers left.
    kick: Signal,
}

/// The schedule, and the driver task's state under the same lock.
struct State {
    schedule: Schedule,
    /// Whether the driver task runs.
    running: bool,
    /// The bucket it sleeps until (`None`: until kicked).
    sleeps_until: Option<Instant>,
}

/// The heartbeat schedule of one engine.
pub(crate) struct Heartbeats {
    inner: Arc<Inner>,
}

impl Heartbeats {
    /// A schedule of the given grain (see [`grain_for`]).
    pub(crate) fn new(grain: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    schedule: Schedule::new(now(), grain),
                    running: false,
                    sleeps_until: None,
                }),
                kick: Signal::default(),
            }),
        }
    }

    /// A new timer, not armed. Must be called within a tokio runtime (the driver task
    /// starts with the first timer).
    pub(crate) fn timer(&self) -> HeartbeatTimer {
        let (slot, fired) = lock(&self.inner.state).schedule.register();
        HeartbeatTimer {
            inner: self.inner.clone(),
            slot,
            fired,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One session's heartbeat timer on its engine's schedule.
pub(crate) struct HeartbeatTimer {
    inner: Arc<Inner>,
    slot: u32,
    fired: Arc<Signal>,
}

impl HeartbeatTimer {
    /// Arms the timer for `deadline` (rounded up to the schedule's grain).
    pub(crate) fn reset(&mut self, deadline: Instant) {
        let mut st = lock(&self.inner.state);
        let due = st.schedule.reset(self.slot, deadline);
        if !st.running {
            st.running = true;
            st.sleeps_until = Some(due);
            drop(st);
            tokio::spawn(drive(self.inner.clone()));
        } else if st.sleeps_until.is_none_or(|t| due < t) {
            st.sleeps_until = Some(due);
            drop(st);
            self.inner.kick.raise();
        }
    }

    /// Waits until the deadline the timer was last armed for has passed (once per arming).
    /// Pending for ever when it is not armed.
    pub(crate) async fn elapsed(&self) {
        self.fired.wait().await
    }
}

impl Drop for HeartbeatTimer {
    fn drop(&mut self) {
        let left = {
            let mut st = lock(&self.inner.state);
            st.schedule.release(self.slot);
            st.schedule.live()
        };
        if left == 0 {
            // The driver stops.
            self.inner.kick.raise();
        }
    }
}

/// The driver task: expires due buckets and wakes their timers' tasks, then sleeps until
/// the next bucket. Stops when no timer is left.
async fn drive(inner: Arc<Inner>) {
    /// Marks the driver stopped if its task is dropped unfinished (its runtime shut
    /// down), so that the next reset starts another one.
    struct Stopped<'a>(&'a Inner);
    impl Drop for Stopped<'_> {
        fn drop(&mut self) {
            let mut st = lock(&self.0.state);
            st.running = false;
            st.sleeps_until = None;
        }
    }
    let stopped = Stopped(&inner);
    let mut wake = Vec::new();
    loop {
        let next = {
            let mut st = lock(&inner.state);
            st.schedule.expire(now(), &mut wake);
            if st.schedule.live() == 0 {
                st.running = false;
                st.sleeps_until = None;
                None
            } else {
                st.sleeps_until = st.schedule.next_due();
                Some(st.sleeps_until)
            }
        };
        for f in wake.drain(..) {
            f.raise();
        }
        match next {
            None => {
                // Marked stopped above, under the lock the timers check it under: a
                // driver started since must not be marked stopped by this one.
                std::mem::forget(stopped);
                return;
            }
            Some(Some(t)) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(t)) => {}
                    _ = inner.kick.wait() => {}
                }
            }
            Some(None) => inner.kick.wait().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    const G: Duration = Duration::from_millis(100);

    /// Whether the timer fired (seen once, as the timer's task sees it).
    fn fired(signal: &Arc<Signal>) -> bool {
        signal.wait().now_or_never().is_some()
    }

    /// Expires to `now` and raises what fired, as the driver does.
    fn expire(s: &mut Schedule, now: Instant) -> usize {
        let mut fire = Vec::new();
        s.expire(now, &mut fire);
        fire.iter().for_each(|f| f.raise());
        fire.len()
    }

    #[test]
    fn grain_is_bounded() {
        let s = Duration::from_secs;
        assert_eq!(grain_for(s(25), s(20)), Duration::from_millis(100));
        assert_eq!(
            grain_for(Duration::from_millis(300), Duration::from_millis(200)),
            Duration::from_nanos(1_562_500)
        );
        assert_eq!(
            grain_for(Duration::from_millis(50), Duration::from_millis(20)),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn fires_at_the_deadline_rounded_up_never_early() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (a, fa) = s.register();
        let due = s.reset(a, t0 + Duration::from_millis(250));
        assert_eq!(due, t0 + Duration::from_millis(300));
        assert_eq!(s.next_due(), Some(due));
        assert!(!fired(&fa));
        assert_eq!(expire(&mut s, t0 + Duration::from_millis(299)), 0);
        assert!(!fired(&fa));
        assert_eq!(expire(&mut s, due), 1);
        assert!(fired(&fa));
        // Seen once, then disarmed.
        assert!(!fired(&fa));
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn a_deadline_on_the_grain_is_kept_exactly() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (a, _) = s.register();
        assert_eq!(s.reset(a, t0 + G * 3), t0 + G * 3);
    }

    #[test]
    fn a_reset_replaces_the_earlier_deadline() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (a, fa) = s.register();
        s.reset(a, t0 + G);
        s.reset(a, t0 + G * 5);
        assert_eq!(expire(&mut s, t0 + G * 4), 0);
        assert!(!fired(&fa));
        assert_eq!(expire(&mut s, t0 + G * 5), 1);
        assert!(fired(&fa));
        // An earlier deadline after a later one works too.
        s.reset(a, t0 + G * 20);
        s.reset(a, t0 + G * 6);
        expire(&mut s, t0 + G * 6);
        assert!(fired(&fa));
        assert_eq!(expire(&mut s, t0 + G * 20), 0);
        assert!(!fired(&fa));
    }

    #[test]
    fn a_reset_after_firing_forgets_the_unseen_firing() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (a, fa) = s.register();
        s.reset(a, t0 + G);
        expire(&mut s, t0 + G);
        s.reset(a, t0 + G * 3);
        assert!(!fired(&fa));
    }

    #[test]
    fn a_past_deadline_is_due_at_the_next_expiry() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (a, fa) = s.register();
        s.reset(a, t0);
        expire(&mut s, t0 + G * 7);
        assert!(fired(&fa));
    }

    /// What the schedule holds: table rows, buckets, spare buckets' capacity.
    fn held(s: &Schedule) -> (usize, usize, usize) {
        let spare: usize = s.spare.iter().map(Vec::capacity).sum();
        (s.slots.capacity(), s.buckets.len(), spare)
    }

    #[test]
    fn nothing_is_kept_once_the_last_timer_is_released() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (mut slots, mut fired) = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            let (slot, _) = s.register();
            s.reset(slot, t0 + G);
            s.reset(slot, t0 + 5 * G);
            slots.push(slot);
        }
        s.expire(t0 + 2 * G, &mut fired);
        assert!(fired.is_empty());
        // The burst's bucket (1 000 entries) is freed, not kept for reuse.
        assert!(s.spare.iter().all(|v| v.capacity() <= SPARE_CAPACITY));
        for slot in slots {
            s.release(slot);
        }
        assert_eq!(s.live(), 0);
        assert_eq!(held(&s), (0, 0, 0));
        // And it serves again afterwards.
        let (slot, signal) = s.register();
        s.reset(slot, t0 + 3 * G);
        s.expire(t0 + 3 * G, &mut fired);
        assert_eq!(fired.len(), 1);
        fired.drain(..).for_each(|f| f.raise());
        assert!(super::tests::fired(&signal));
    }

    #[test]
    fn released_slots_are_reused_and_their_entries_stale() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let (a, _) = s.register();
        let (b, fb) = s.register();
        assert_eq!(s.live(), 2);
        s.reset(a, t0 + G);
        s.release(a);
        assert_eq!(s.live(), 1);
        let (c, fc) = s.register();
        assert_eq!(c, a);
        s.reset(b, t0 + G);
        assert_eq!(expire(&mut s, t0 + G), 1);
        // The released timer's entry does not fire its successor.
        assert!(!fired(&fc));
        assert!(fired(&fb));
    }

    #[test]
    fn many_timers_in_one_bucket_fire_each_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, G);
        let timers: Vec<_> = (0..1000).map(|_| s.register()).collect();
        for (k, (t, _)) in timers.iter().enumerate() {
            s.reset(*t, t0 + Duration::from_millis(k as u64 % 100));
        }
        assert_eq!(expire(&mut s, t0 + G), 1000);
        for (_, f) in &timers {
            assert!(fired(f));
            assert!(!fired(f));
        }
    }

    // The driver task on a paused clock.
    #[tokio::test(start_paused = true)]
    async fn timers_fire_through_the_driver_and_it_stops_without_timers() {
        let hb = Heartbeats::new(G);
        let t0 = tokio::time::Instant::now();
        let mut a = hb.timer();
        let mut b = hb.timer();
        a.reset(now() + Duration::from_secs(2));
        b.reset(now() + Duration::from_secs(5));
        a.elapsed().await;
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        // An earlier deadline than the one the driver sleeps until.
        a.reset(now() + Duration::from_secs(1));
        a.elapsed().await;
        assert_eq!(t0.elapsed(), Duration::from_secs(3));
        b.elapsed().await;
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
        drop(a);
        drop(b);
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        assert!(!lock(&hb.inner.state).running);
        // And starts again with the next timer.
        let mut c = hb.timer();
        c.reset(now() + Duration::from_millis(150));
        c.elapsed().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(5200));
    }

    #[test]
    fn a_driver_lost_with_its_runtime_is_started_again() {
        let paused = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap()
        };
        let hb = Heartbeats::new(G);
        let first = paused();
        // Stays registered after its runtime (and the driver it started) is gone.
        let _a = first.block_on(async {
            let mut a = hb.timer();
            a.reset(now() + Duration::from_secs(60));
            tokio::task::yield_now().await;
            a
        });
        drop(first);
        assert!(!lock(&hb.inner.state).running);
        paused().block_on(async {
            let mut b = hb.timer();
            b.reset(now() + Duration::from_secs(1));
            tokio::time::timeout(Duration::from_secs(2), b.elapsed())
                .await
                .expect("fired");
        });
    }
}
