//! `GET /metrics`: the server's state and traffic in Prometheus' text format (0.0.4),
//! written by `prometheus-client`. Everything is read at scrape time: what exists
//! already (the engine's sessions, the namespaces with their sockets, rooms and pending
//! acknowledgements) and the counters the engine and the namespaces keep as relaxed
//! atomics (packets and bytes, broadcasts, acknowledgement timeouts, slow clients,
//! refused requests).
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `sockio_connected_clients` | `transport`, `eio` | open Engine.IO sessions |
//! | `sockio_engine_tasks` | | tasks the engine runs: connections it serves and sessions |
//! | `sockio_sockets` | `namespace` | connected Socket.IO sockets |
//! | `sockio_rooms` | `namespace` | rooms with a socket, each socket's own room left out |
//! | `sockio_packets_received_total`, `sockio_packets_sent_total` | | Engine.IO message packets |
//! | `sockio_received_bytes_total`, `sockio_sent_bytes_total` | | their bytes |
//! | `sockio_broadcasts_total` | `namespace` | broadcasts started on this server |
//! | `sockio_acks_pending` | `namespace` | acknowledgements the server waits for |
//! | `sockio_ack_timeouts_total` | `namespace` | acknowledgement waits that timed out |
//! | `sockio_slow_client_disconnects_total` | | clients closed for reading too slowly |
//! | `sockio_handshake_errors_total` | `code` | requests refused, by Engine.IO error code |

use std::collections::BTreeMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sockio::engine::{ProtocolVersion, TransportKind};
use sockio::server::SocketIo;

/// The content type of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new(io: SocketIo) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ServerCollector { io }));
        Self { registry }
    }

    /// The text of a scrape.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug of ours.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

struct ServerCollector {
    io: SocketIo,
}

impl std::fmt::Debug for ServerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCollector")
    }
}

fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Polling => "polling",
        TransportKind::WebSocket => "websocket",
    }
}

fn eio_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3 => "3",
        ProtocolVersion::V4 => "4",
    }
}

/// One value per label set.
fn gauges<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (&'a [(&'a str, &'a str)], u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in values {
        metric.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

fn counters<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (&'a [(&'a str, &'a str)], u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in values {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let engine = self.io.engine();
        let e = &mut encoder;

        // Every combination, zero included, so that the series always exist.
        let mut clients: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for t in [TransportKind::Polling, TransportKind::WebSocket] {
            for v in [ProtocolVersion::V3, ProtocolVersion::V4] {
                clients.insert((transport_name(t), eio_name(v)), 0);
            }
        }
        for s in engine.sockets() {
            *clients
                .entry((transport_name(s.transport()), eio_name(s.protocol())))
                .or_default() += 1;
        }
        let labels: Vec<([(&str, &str); 2], u64)> = clients
            .iter()
            .map(|((t, v), n)| ([("transport", *t), ("eio", *v)], *n))
            .collect();
        gauges(
            e,
            "sockio_connected_clients",
            "Open Engine.IO sessions, by transport and Engine.IO protocol revision (4: socket.io-client 3 and 4, 3: socket.io-client 2).",
            labels.iter().map(|(l, n)| (&l[..], *n)),
        )?;

        gauges(
            e,
            "sockio_engine_tasks",
            "Tasks the engine runs: HTTP and WebSocket connections it serves, and sessions.",
            [(&[][..], engine.task_count() as u64)],
        )?;

        let mut namespaces = self.io.namespaces();
        namespaces.sort_by(|a, b| a.name().cmp(b.name()));
        let names: Vec<String> = namespaces.iter().map(|n| n.name().to_owned()).collect();
        let by_ns =
            |f: &dyn Fn(&sockio::server::Namespace) -> u64| -> Vec<([(&str, &str); 1], u64)> {
                namespaces
                    .iter()
                    .zip(&names)
                    .map(|(ns, name)| ([("namespace", name.as_str())], f(ns)))
                    .collect()
            };
        let sockets = by_ns(&|ns| ns.len() as u64);
        gauges(
            e,
            "sockio_sockets",
            "Connected Socket.IO sockets, by namespace.",
            sockets.iter().map(|(l, n)| (&l[..], *n)),
        )?;
        let rooms = by_ns(&|ns| {
            ns.rooms()
                .iter()
                .filter(|r| ns.socket(r.as_str()).is_none())
                .count() as u64
        });
        gauges(
            e,
            "sockio_rooms",
            "Rooms with at least one socket on this server, by namespace (each socket's own room left out).",
            rooms.iter().map(|(l, n)| (&l[..], *n)),
        )?;

        let stats = engine.stats();
        counter(
            e,
            "sockio_packets_received",
            "Engine.IO message packets received from clients (Socket.IO packets and binary attachments; heartbeats and other control packets left out).",
            stats.packets_in(),
        )?;
        counter(
            e,
            "sockio_received_bytes",
            "Bytes of the Engine.IO message packets received from clients.",
            stats.bytes_in(),
        )?;
        counter(
            e,
            "sockio_packets_sent",
            "Engine.IO message packets queued for clients (a broadcast counts once per recipient; control packets left out).",
            stats.packets_out(),
        )?;
        counter(
            e,
            "sockio_sent_bytes",
            "Bytes of the Engine.IO message packets queued for clients.",
            stats.bytes_out(),
        )?;

        let broadcasts = by_ns(&|ns| ns.broadcast_count());
        counters(
            e,
            "sockio_broadcasts",
            "Broadcasts started on this server (emits to rooms, to everybody, to all but the sender), by namespace.",
            broadcasts.iter().map(|(l, n)| (&l[..], *n)),
        )?;
        let pending = by_ns(&|ns| ns.pending_acks() as u64);
        gauges(
            e,
            "sockio_acks_pending",
            "Acknowledgements the server waits for from its clients, by namespace.",
            pending.iter().map(|(l, n)| (&l[..], *n)),
        )?;
        let timeouts = by_ns(&|ns| ns.ack_timeout_count());
        counters(
            e,
            "sockio_ack_timeouts",
            "Acknowledgement waits that timed out, by namespace.",
            timeouts.iter().map(|(l, n)| (&l[..], *n)),
        )?;

        counter(
            e,
            "sockio_slow_client_disconnects",
            "Clients disconnected because their outgoing queue passed its bound.",
            engine.slow_client_closes(),
        )?;
        let codes: Vec<(String, u64)> = (0..=5u8)
            .map(|c| (c.to_string(), stats.request_errors(c)))
            .collect();
        let code_labels: Vec<([(&str, &str); 1], u64)> = codes
            .iter()
            .map(|(c, n)| ([("code", c.as_str())], *n))
            .collect();
        counters(
            e,
            "sockio_handshake_errors",
            "Engine.IO requests refused, by error code (0 transport unknown, 1 session id unknown, 2 bad handshake method, 3 bad request, 4 forbidden, 5 unsupported protocol version).",
            code_labels.iter().map(|(l, n)| (&l[..], *n)),
        )?;
        Ok(())
    }
}
