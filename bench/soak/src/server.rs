//! `sockio-soak serve`: the server under test, run by the driver as a process of its own.
//! A plain sockio server (`SocketIo::builder()`, short heartbeats so that vanished
//! clients are found within seconds) with the soak's events, a counting allocator (the
//! heap in use, exact, beside the RSS the driver reads from /proc), and a ledger of the
//! messages received: one bit per (client tag, sequence number), and a count of the
//! duplicates. The driver talks to it over stdin/stdout, one line each way:
//! `stats` (a JSON line of counts), `ledger` (the bits), `trim` (malloc_trim, to show
//! what of the RSS is only the allocator's cache); EOF ends the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio::server::{args, SocketIo, Value};

/// The system allocator, counting the bytes in use.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only the counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

extern "C" {
    /// glibc: gives free memory at the top of the heaps and free pages back to the OS.
    fn malloc_trim(pad: usize) -> i32;
}

/// What one client (tag) sent that the server received.
#[derive(Default)]
struct TagLedger {
    bits: Vec<u64>,
    dups: u64,
    received: u64,
}

#[derive(Default)]
struct Ledger {
    tags: Vec<TagLedger>,
}

impl Ledger {
    fn record(&mut self, tag: usize, seq: u64) {
        if tag >= self.tags.len() {
            self.tags.resize_with(tag + 1, TagLedger::default);
        }
        let t = &mut self.tags[tag];
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= t.bits.len() {
            t.bits.resize(word + 1, 0);
        }
        if t.bits[word] & (1 << bit) != 0 {
            t.dups += 1;
        } else {
            t.bits[word] |= 1 << bit;
            t.received += 1;
        }
    }

    /// Bytes the ledger itself holds (it grows with the messages, by design).
    fn bytes(&self) -> usize {
        self.tags.capacity() * std::mem::size_of::<TagLedger>()
            + self
                .tags
                .iter()
                .map(|t| t.bits.capacity() * 8)
                .sum::<usize>()
    }
}

fn handlers(io: &SocketIo, ledger: Arc<Mutex<Ledger>>) {
    io.on_connection(move |s| {
        let ledger = ledger.clone();
        // A message with an acknowledgement: recorded, then acked with its number.
        s.on("msg", move |_s, mut e| {
            let Ok((tag, seq)) = e.args_as::<(usize, u64)>() else {
                return;
            };
            if tag < 1 << 20 && seq < 1 << 32 {
                ledger
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record(tag, seq);
            }
            let _ = e.ack(seq);
        });
        // Join some rooms, leave others.
        s.on("rooms", |s, mut e| {
            let join: Vec<String> = e.arg(0).unwrap_or_default();
            let leave: Vec<String> = e.arg(1).unwrap_or_default();
            s.join(join);
            s.leave(leave);
            let _ = e.ack(args![]);
        });
        // A broadcast to a room (the sender left out), binary attachment included.
        s.on("shout", |s, e| {
            let room: String = e.arg(0).unwrap_or_default();
            let blob: Value = e.arg(1).unwrap_or(Value::Null);
            let _ = s.to(room).emit("relay", args![blob]);
        });
        // The server ends the socket (`io server disconnect` on the client).
        s.on("kick", |s, mut e| {
            let _ = e.ack(args![]);
            s.disconnect();
        });
    });
}

fn stats(io: &SocketIo, ledger: &Mutex<Ledger>) -> serde_json::Value {
    let engine = io.engine();
    let namespaces = io.namespaces();
    let (received, dups, ledger_bytes) = {
        let l = ledger.lock().unwrap_or_else(|e| e.into_inner());
        (
            l.tags.iter().map(|t| t.received).sum::<u64>(),
            l.tags.iter().map(|t| t.dups).sum::<u64>(),
            l.bytes(),
        )
    };
    serde_json::json!({
        "sessions": engine.session_count(),
        "sockets": namespaces.iter().map(|n| n.len()).sum::<usize>(),
        "rooms": namespaces.iter().map(|n| n.rooms().len()).sum::<usize>(),
        "tasks": engine.task_count(),
        "acks_pending": namespaces.iter().map(|n| n.pending_acks()).sum::<usize>(),
        "heap_bytes": LIVE.load(Ordering::Relaxed),
        "ledger_bytes": ledger_bytes,
        "received": received,
        "dups": dups,
    })
}

fn ledger_json(ledger: &Mutex<Ledger>) -> serde_json::Value {
    let l = ledger.lock().unwrap_or_else(|e| e.into_inner());
    serde_json::Value::Array(
        l.tags
            .iter()
            .map(|t| serde_json::json!({ "dups": t.dups, "received": t.received, "bits": t.bits }))
            .collect(),
    )
}

/// Runs the server until stdin closes.
pub fn serve(ping_ms: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // The connect timeout as short as the heartbeat: its queue keeps a session id for
    // every connection opened in the last `connect_timeout`, which the heap check after
    // the drain would otherwise count (45 s by default).
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(ping_ms))
        .ping_timeout(Duration::from_millis(ping_ms))
        .connect_timeout(Duration::from_millis(2 * ping_ms))
        .build();
    handlers(&io, ledger.clone());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    let server = io.clone();
    runtime.spawn(async move {
        let _ = server.serve(listener).await;
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::json!({ "port": port }));
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = match line.trim() {
            "stats" => stats(&io, &ledger),
            "ledger" => ledger_json(&ledger),
            "trim" => {
                // SAFETY: glibc's malloc_trim takes a size and touches only the allocator.
                let freed = unsafe { malloc_trim(0) };
                serde_json::json!({ "trimmed": freed })
            }
            other => serde_json::json!({ "error": format!("unknown command {other:?}") }),
        };
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
}
