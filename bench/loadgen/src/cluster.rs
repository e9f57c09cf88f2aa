//! `cluster`: the fan-out of `fanout` over several server processes joined by one Redis
//! (`--ports P1,P2,P3`): member `i` connects to node `i % nodes`, the sender to the first
//! node, so each broadcast reaches a third of its members locally and the rest through
//! Redis. With `--server-pids` (one per port, same order) and `--redis-pid`, the CPU time
//! of every node and of redis-server over the measured span, as `cluster` in the JSON:
//!
//! * per node: CPU seconds, utilisation, deliveries to its members, CPU µs per delivery;
//! * `deliveries_per_node_cpu_sec`: all deliveries / the nodes' CPU seconds summed (what a
//!   node spends per delivered message, Redis left out);
//! * `redis_cpu_us_per_broadcast`: redis-server's CPU µs / broadcasts sent.
//!
//! CPU time here is the scheduler's, in nanoseconds (`/proc/PID/task/*/schedstat`, summed
//! over the threads), not `/proc/PID/stat`'s 10 ms ticks: redis-server spends a few
//! milliseconds per run, and a sockio node a few hundred. (A thread that exits during the
//! run would take its time with it; the servers measured keep theirs.)

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::client::Target;
use crate::stats::{round3, Proc};

/// The nodes of the cluster and the processes to measure.
pub struct Cluster {
    pub targets: Vec<Arc<Target>>,
    nodes: Vec<Option<Proc>>,
    pids: Vec<Option<u32>>,
    redis: Option<Proc>,
    redis_pid: Option<u32>,
}

/// CPU µs of every node and of Redis at one instant.
#[derive(Clone, Default)]
pub struct ClusterSample {
    nodes: Vec<Option<u64>>,
    redis: Option<u64>,
}

fn alive(pid: u32, clk_tck: u64) -> Result<Proc, String> {
    let p = Proc::pid(pid, clk_tck);
    if p.alive() {
        Ok(p)
    } else {
        Err(format!("pid {pid}: no such process"))
    }
}

impl Cluster {
    /// From `--ports`, `--server-pids` and `--redis-pid`.
    pub fn new(
        ports: &[u16],
        pids: &[u32],
        redis_pid: Option<u32>,
        sources: &[Ipv4Addr],
        clk_tck: u64,
    ) -> Result<Cluster, String> {
        if ports.is_empty() {
            return Err("--ports is empty".into());
        }
        if !pids.is_empty() && pids.len() != ports.len() {
            return Err(format!(
                "--server-pids: {} pids for {} ports",
                pids.len(),
                ports.len()
            ));
        }
        let nodes = pids
            .iter()
            .map(|&p| alive(p, clk_tck).map(Some))
            .collect::<Result<Vec<_>, _>>()?;
        let redis = redis_pid.map(|p| alive(p, clk_tck)).transpose()?;
        Ok(Cluster {
            targets: ports
                .iter()
                .map(|&p| Arc::new(Target::new(p, sources.to_vec())))
                .collect(),
            nodes: if nodes.is_empty() {
                vec![None; ports.len()]
            } else {
                nodes
            },
            pids: if pids.is_empty() {
                vec![None; ports.len()]
            } else {
                pids.iter().map(|&p| Some(p)).collect()
            },
            redis,
            redis_pid,
        })
    }

    /// The node member `i` connects to.
    pub fn node_of(&self, i: usize) -> usize {
        i % self.targets.len()
    }

    pub fn sample(&self) -> ClusterSample {
        let cpu = |pid: Option<u32>, p: Option<&Proc>| {
            pid.and_then(scheduled_us)
                .or_else(|| p.and_then(Proc::cpu_us))
        };
        ClusterSample {
            nodes: self
                .nodes
                .iter()
                .zip(&self.pids)
                .map(|(p, &pid)| cpu(pid, p.as_ref()))
                .collect(),
            redis: cpu(self.redis_pid, self.redis.as_ref()),
        }
    }

    /// The `cluster` object of the JSON: `deliveries[k]` went to node `k`'s members.
    pub fn report(
        &self,
        a: &ClusterSample,
        b: &ClusterSample,
        wall: Duration,
        deliveries: &[u64],
        broadcasts: u64,
    ) -> Value {
        let secs = wall.as_secs_f64();
        let span = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x)),
            _ => None,
        };
        let mut total_us = Some(0u64);
        let nodes: Vec<Value> = (0..self.targets.len())
            .map(|k| {
                let us = span(
                    a.nodes.get(k).copied().flatten(),
                    b.nodes.get(k).copied().flatten(),
                );
                total_us = total_us.zip(us).map(|(t, u)| t + u);
                let d = deliveries.get(k).copied().unwrap_or(0);
                json!({
                    "port": self.targets[k].port,
                    "pid": self.pids[k],
                    "cpu_secs": us.map(|u| round3(u as f64 / 1e6)),
                    "cpu_util": us.filter(|_| secs > 0.0).map(|u| round3(u as f64 / 1e6 / secs)),
                    "deliveries": d,
                    "cpu_us_per_delivery": us.filter(|_| d > 0).map(|u| round3(u as f64 / d as f64)),
                })
            })
            .collect();
        let all: u64 = deliveries.iter().sum();
        let redis_us = span(a.redis, b.redis);
        json!({
            "nodes": nodes,
            "node_cpu_secs": total_us.map(|u| round3(u as f64 / 1e6)),
            "deliveries_per_node_cpu_sec": total_us
                .filter(|&u| u > 0)
                .map(|u| round3(all as f64 / (u as f64 / 1e6))),
            "node_cpu_us_per_delivery": total_us
                .filter(|_| all > 0)
                .map(|u| round3(u as f64 / all as f64)),
            "redis_pid": self.redis_pid,
            "redis_cpu_secs": redis_us.map(|u| round3(u as f64 / 1e6)),
            "redis_cpu_util": redis_us.filter(|_| secs > 0.0).map(|u| round3(u as f64 / 1e6 / secs)),
            "broadcasts": broadcasts,
            "redis_cpu_us_per_broadcast": redis_us
                .filter(|_| broadcasts > 0)
                .map(|u| round3(u as f64 / broadcasts as f64)),
        })
    }
}

/// The time every thread of `pid` has spent on a CPU, in µs (first field of each
/// `/proc/PID/task/TID/schedstat`, in ns).
fn scheduled_us(pid: u32) -> Option<u64> {
    let mut ns = 0u64;
    let mut any = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(v) = text
            .split_ascii_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            ns += v;
            any = true;
        }
    }
    any.then_some(ns / 1000)
}

/// A comma-separated list of numbers.
pub fn parse_list<T: std::str::FromStr>(flag: &str, value: &str) -> Result<Vec<T>, String> {
    value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("{flag}: not a number: {s}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_spread_over_the_nodes() {
        let c = Cluster::new(&[1, 2, 3], &[], None, &[Ipv4Addr::LOCALHOST], 100).unwrap();
        assert_eq!(
            (0..6).map(|i| c.node_of(i)).collect::<Vec<_>>(),
            [0, 1, 2, 0, 1, 2]
        );
        assert!(Cluster::new(&[], &[], None, &[Ipv4Addr::LOCALHOST], 100).is_err());
        assert!(Cluster::new(&[1, 2], &[1], None, &[Ipv4Addr::LOCALHOST], 100).is_err());
    }

    #[test]
    fn report_sums_the_nodes() {
        let c = Cluster::new(&[1, 2], &[], None, &[Ipv4Addr::LOCALHOST], 100).unwrap();
        let a = ClusterSample {
            nodes: vec![Some(0), Some(1_000_000)],
            redis: Some(0),
        };
        let b = ClusterSample {
            nodes: vec![Some(500_000), Some(2_500_000)],
            redis: Some(100_000),
        };
        let r = c.report(&a, &b, Duration::from_secs(1), &[1000, 1000], 100);
        assert_eq!(r["node_cpu_secs"], 2.0);
        assert_eq!(r["deliveries_per_node_cpu_sec"], 1000.0);
        assert_eq!(r["nodes"][1]["cpu_us_per_delivery"], 1500.0);
        assert_eq!(r["redis_cpu_us_per_broadcast"], 1000.0);
        assert_eq!(parse_list::<u16>("--ports", "1, 2,3").unwrap(), [1, 2, 3]);
        assert!(parse_list::<u16>("--ports", "1,x").is_err());
        let me = std::process::id();
        let a = scheduled_us(me).expect("schedstat of this process");
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(scheduled_us(me).expect("schedstat") > a);
    }
}
