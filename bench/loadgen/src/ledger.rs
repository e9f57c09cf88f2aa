//! Delivery accounting shared by the broadcast scenarios (fanout and its variants, cluster,
//! polling-broadcast): which member received which message and how many times, when each
//! message was complete, and the correctness summary every report carries.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use serde_json::Value;

use crate::now_ns;
use crate::stats::latency_json;

/// The messages of one run: sent, received, complete.
pub struct Ledger {
    /// Messages the sender will send.
    pub total: usize,
    /// Members that must receive each message (set once the set-up is over).
    members: AtomicUsize,
    /// First-time receipts per message.
    counts: Vec<AtomicU32>,
    /// Messages every member has received.
    pub completed: AtomicUsize,
    /// When the last message was complete (ns since the epoch).
    pub last_complete_ns: AtomicU64,
    /// First-time receipts of all messages.
    pub received: AtomicU64,
    /// Messages sent so far.
    pub sent: AtomicUsize,
    /// When the first message was sent (ns since the epoch).
    pub first_send_ns: AtomicU64,
}

impl Ledger {
    pub fn new(total: usize) -> Ledger {
        Ledger {
            total,
            members: AtomicUsize::new(usize::MAX),
            counts: (0..total).map(|_| AtomicU32::new(0)).collect(),
            completed: AtomicUsize::new(0),
            last_complete_ns: AtomicU64::new(0),
            received: AtomicU64::new(0),
            sent: AtomicUsize::new(0),
            first_send_ns: AtomicU64::new(0),
        }
    }

    /// How many members joined: each message is complete when that many received it.
    pub fn set_members(&self, n: usize) {
        self.members.store(n, Ordering::Relaxed);
    }

    /// A first receipt of message `s`; true when it completes the message.
    fn deliver(&self, s: usize) -> bool {
        self.received.fetch_add(1, Ordering::Relaxed);
        let c = self.counts[s].fetch_add(1, Ordering::AcqRel) as usize + 1;
        if c != self.members.load(Ordering::Relaxed) {
            return false;
        }
        self.last_complete_ns.fetch_max(now_ns(), Ordering::Relaxed);
        self.completed.fetch_add(1, Ordering::Release);
        true
    }
}

/// What one member received.
#[derive(Default)]
pub struct Receipts {
    /// Receipts per message (saturating).
    pub seen: Vec<u8>,
    /// Latency of each first receipt, ns.
    lat: Vec<u64>,
}

/// A message a member received: the first receipt of it, one more (a duplicate), or one
/// that was never sent.
pub enum Receipt {
    First { completes: bool },
    Again,
    Unknown,
}

impl Receipts {
    /// Ready for the `total` messages of `ledger`.
    pub fn new(ledger: &Ledger) -> Receipts {
        Receipts {
            seen: vec![0; ledger.total],
            lat: Vec::with_capacity(ledger.total),
        }
    }

    /// Message `s`, sent at `sent_at` (ns since the epoch), arrived.
    pub fn receive(&mut self, ledger: &Ledger, s: u64, sent_at: u64) -> Receipt {
        let Some(c) = usize::try_from(s).ok().and_then(|s| self.seen.get_mut(s)) else {
            return Receipt::Unknown;
        };
        let first = *c == 0;
        *c = c.saturating_add(1);
        if !first {
            return Receipt::Again;
        }
        self.lat.push(now_ns().saturating_sub(sent_at));
        Receipt::First {
            completes: ledger.deliver(s as usize),
        }
    }
}

/// The correctness summary over the members that joined and the messages that were sent.
#[derive(Default)]
pub struct Tally {
    pub deliveries: u64,
    drops: u64,
    short: usize,
    extra: usize,
    dups: u64,
    pub bad: u64,
    disconnects: usize,
    lat: Vec<u64>,
}

impl Tally {
    /// Adds a member's receipts of the first `sent` messages; returns its deliveries.
    pub fn add(&mut self, r: &Receipts, sent: usize, bad: u64, disconnected: bool) -> u64 {
        let seen = &r.seen[..sent.min(r.seen.len())];
        let missing = seen.iter().filter(|&&c| c == 0).count() as u64;
        let over: u64 = r.seen.iter().map(|&c| u64::from(c.saturating_sub(1))).sum();
        self.drops += missing;
        self.short += usize::from(missing > 0);
        self.extra += usize::from(over > 0);
        self.dups += over;
        self.bad += bad;
        self.disconnects += usize::from(disconnected);
        let got = r.seen.iter().filter(|&&c| c > 0).count() as u64;
        self.deliveries += got;
        self.lat.extend_from_slice(&r.lat);
        got
    }

    /// Writes the summary into the report `out` (a JSON object): latency, drops, members
    /// short of a message or with extra ones, duplicates, bad frames, disconnects.
    pub fn report(mut self, out: &mut Value) {
        out["latency_us"] = latency_json(&mut self.lat);
        out["drops"] = self.drops.into();
        out["clients_short"] = self.short.into();
        out["clients_extra"] = self.extra.into();
        out["duplicates"] = self.dups.into();
        out["bad_frames"] = self.bad.into();
        out["disconnects"] = self.disconnects.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_complete_when_every_member_has_it_once() {
        let ledger = Ledger::new(2);
        ledger.set_members(2);
        let (mut a, mut b) = (Receipts::new(&ledger), Receipts::new(&ledger));
        assert!(matches!(
            a.receive(&ledger, 0, now_ns()),
            Receipt::First { completes: false }
        ));
        assert!(matches!(a.receive(&ledger, 0, now_ns()), Receipt::Again));
        assert!(matches!(a.receive(&ledger, 5, now_ns()), Receipt::Unknown));
        assert!(matches!(
            b.receive(&ledger, 0, now_ns()),
            Receipt::First { completes: true }
        ));
        assert_eq!(ledger.completed.load(Ordering::Relaxed), 1);
        assert_eq!(ledger.received.load(Ordering::Relaxed), 2);

        let mut tally = Tally::default();
        assert_eq!(tally.add(&a, 2, 1, false), 1);
        assert_eq!(tally.add(&b, 2, 0, true), 1);
        let mut out = serde_json::json!({});
        tally.report(&mut out);
        assert_eq!(out["drops"], 2);
        assert_eq!(out["clients_short"], 2);
        assert_eq!(out["clients_extra"], 1);
        assert_eq!(out["duplicates"], 1);
        assert_eq!(out["bad_frames"], 1);
        assert_eq!(out["disconnects"], 1);
    }
}
