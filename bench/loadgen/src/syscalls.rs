//! Counts the server's send system calls during a run: `perf stat` on the kernel's
//! syscall tracepoints of the server process (every thread), started when the measured
//! phase starts and stopped when it ends. Counts barely move between runs, unlike
//! timings on a shared machine. Needs `perf` with tracepoint access; without it the
//! figures are absent from the results.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// The system calls a server can send TCP data with.
const EVENTS: [&str; 5] = ["sendto", "sendmsg", "sendmmsg", "write", "writev"];

pub struct SendCounter {
    perf: Child,
    out: PathBuf,
}

impl SendCounter {
    /// How long perf takes to attach, at most: wait this long after `start`.
    pub const ATTACH: Duration = Duration::from_millis(200);

    /// Starts counting the send calls of process `pid` (counting begins within
    /// [`SendCounter::ATTACH`]).
    pub fn start(pid: u32) -> Option<SendCounter> {
        let out =
            std::env::temp_dir().join(format!("loadgen-perf-{}-{pid}.csv", std::process::id()));
        let events: Vec<String> = EVENTS
            .iter()
            .map(|e| format!("syscalls:sys_enter_{e}"))
            .collect();
        let perf = Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                &events.join(","),
                "-p",
                &pid.to_string(),
                "-o",
            ])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(SendCounter { perf, out })
    }

    /// Stops counting: the calls of each kind, or `None` when perf could not count.
    pub fn finish(mut self) -> Option<Vec<(String, u64)>> {
        let _ = Command::new("kill")
            .args(["-INT", &self.perf.id().to_string()])
            .status();
        let _ = self.perf.wait();
        let text = std::fs::read_to_string(&self.out).ok()?;
        let _ = std::fs::remove_file(&self.out);
        let mut counts = Vec::new();
        for line in text.lines() {
            // count,unit,event,...
            let mut fields = line.split(',');
            let (Some(count), Some(_), Some(event)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Some(name) = event.strip_prefix("syscalls:sys_enter_") else {
                continue;
            };
            counts.push((name.to_owned(), count.trim().parse().ok()?));
        }
        (!counts.is_empty()).then_some(counts)
    }
}

/// `server_send_calls` (by kind and in all) and per 1 000 deliveries.
pub fn send_calls_json(counts: Option<Vec<(String, u64)>>, deliveries: u64) -> Value {
    match counts {
        Some(counts) => {
            let total: u64 = counts.iter().map(|(_, n)| n).sum();
            let by_kind: serde_json::Map<String, Value> =
                counts.into_iter().map(|(k, n)| (k, json!(n))).collect();
            json!({
                "total": total,
                "by_call": by_kind,
                "per_1k_deliveries": if deliveries == 0 { Value::Null } else {
                    json!(crate::stats::round3(total as f64 * 1000.0 / deliveries as f64))
                },
            })
        }
        None => Value::Null,
    }
}
