//! Percentiles and the `/proc` readings of a process (CPU time, RSS).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// Nearest-rank percentile (`p` in 0..=100) of an ascending slice.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50/p99/max/mean of nanosecond samples (sorted in place), as µs in JSON.
pub fn latency_json(samples: &mut [u64]) -> Value {
    if samples.is_empty() {
        return Value::Null;
    }
    samples.sort_unstable();
    let us = |ns: Option<u64>| round3(ns.unwrap_or(0) as f64 / 1000.0);
    let mean = samples.iter().map(|&v| v as f64).sum::<f64>() / samples.len() as f64;
    json!({
        "count": samples.len(),
        "p50": us(percentile(samples, 50.0)),
        "p90": us(percentile(samples, 90.0)),
        "p99": us(percentile(samples, 99.0)),
        "max": us(samples.last().copied()),
        "mean": round3(mean / 1000.0),
    })
}

/// Rounds to three decimals (JSON readability).
pub fn round3(v: f64) -> f64 {
    if v.is_finite() {
        (v * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// `utime + stime` in clock ticks from the content of `/proc/<pid>/stat`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` value (e.g. `VmRSS`) from the content of `/proc/<pid>/status`.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let v = line.strip_prefix(key)?.strip_prefix(':')?;
        v.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Clock ticks per second for `/proc/<pid>/stat` times: `getconf CLK_TCK`, else 100.
pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(100)
}

/// A process observed through `/proc` (the server under test, or the load generator itself).
#[derive(Clone)]
pub struct Proc {
    path: String,
    tck: u64,
}

impl Proc {
    pub fn pid(pid: u32, tck: u64) -> Self {
        Self {
            path: format!("/proc/{pid}"),
            tck,
        }
    }

    pub fn this(tck: u64) -> Self {
        Self {
            path: "/proc/self".into(),
            tck,
        }
    }

    /// CPU time (user + system) in µs, at clock-tick resolution.
    pub fn cpu_us(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("{}/stat", self.path)).ok()?;
        Some(parse_stat_ticks(&stat)? * 1_000_000 / self.tck)
    }

    pub fn status_kib(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("{}/status", self.path)).ok()?;
        parse_status_kib(&status, key)
    }

    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }

    pub fn alive(&self) -> bool {
        std::fs::metadata(&self.path).is_ok()
    }
}

/// Samples a process's VmRSS every 10 ms on a plain thread and keeps the maximum.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: JoinHandle<()>,
}

impl RssSampler {
    pub fn start(proc_: Proc) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let handle = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = proc_.rss_kib() {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Self { stop, peak, handle }
    }

    /// Stops sampling; returns the peak VmRSS seen (KiB), if any sample succeeded.
    pub fn finish(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        Some(self.peak.load(Ordering::Relaxed)).filter(|&v| v > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        let v = [10, 20, 30];
        assert_eq!(percentile(&v, 50.0), Some(20));
        assert_eq!(percentile(&v, 99.0), Some(30));
    }

    #[test]
    fn latency_summary_in_us() {
        let mut v = vec![3000, 1000, 2000, 4000];
        let j = latency_json(&mut v);
        assert_eq!(j["count"], 4);
        assert_eq!(j["p50"], 2.0);
        assert_eq!(j["p99"], 4.0);
        assert_eq!(j["max"], 4.0);
        assert_eq!(j["mean"], 2.5);
        assert_eq!(latency_json(&mut []), Value::Null);
    }

    #[test]
    fn stat_ticks_with_awkward_comm() {
        let stat = "1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 11 0 \
                    12345 1000000 2000 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(280));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn status_kib() {
        let status = "Name:\tnode\nVmPeak:\t  9000 kB\nVmHWM:\t   5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(4096));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(5120));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let me = Proc::this(clk_tck());
        assert!(me.cpu_us().is_some());
        assert!(me.rss_kib().unwrap() > 0);
    }
}
