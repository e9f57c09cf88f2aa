//! Criterion micro-benchmarks of the codecs: Engine.IO payloads (v4 and v3) and
//! Socket.IO packets (text and binary), both directions, and the path that keeps event
//! arguments as text (check + forward as an ack).
//!
//! ```text
//! cargo bench -p sockio-protocol
//! ```

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::socket::{encode, encode_raw_after, Decoder, Packet, Value};
use sockio_protocol::Utf8Bytes;

/// The bench contract's broadcast payload: `{"t":…,"s":…,"p":"xxx…"}`, about 100 bytes.
fn payload_object() -> Value {
    Value::Object(vec![
        ("t".into(), Value::from(1_234_567_890_u64)),
        ("s".into(), Value::from(42)),
        ("p".into(), Value::from("x".repeat(70))),
    ])
}

fn engine_payloads(c: &mut Criterion) {
    let text = EncodedPacket::Text(Utf8Bytes::from(format!(
        "42[\"msg\",{}]",
        payload_object().to_json()
    )));
    let binary = EncodedPacket::Binary(Bytes::from(vec![7u8; 64]));
    let batch: Vec<EncodedPacket> = (0..16)
        .map(|i| {
            if i % 4 == 3 {
                binary.clone()
            } else {
                text.clone()
            }
        })
        .collect();
    let v4 = payload::encode_v4(&batch);
    let v3 = Bytes::from(payload::encode_v3_text(&batch));

    let mut g = c.benchmark_group("engine.io payload (16 packets)");
    g.throughput(Throughput::Bytes(v4.len() as u64));
    g.bench_function("encode v4", |b| b.iter(|| payload::encode_v4(&batch)));
    g.bench_function("decode v4", |b| {
        b.iter(|| payload::decode_v4(v4.clone()).count())
    });
    g.bench_function("encode v3 text", |b| {
        b.iter(|| payload::encode_v3_text(&batch))
    });
    g.bench_function("decode v3 text", |b| {
        b.iter(|| payload::decode_v3_text(v3.clone()).count())
    });
    g.finish();
}

fn socket_packets(c: &mut Criterion) {
    let event = Packet::event("/", "msg", vec![payload_object()]);
    let text = encode(&event).text;
    let binary = Packet::event(
        "/chat",
        "file",
        vec![Value::Object(vec![
            ("name".into(), Value::from("a.bin")),
            ("data".into(), Value::Binary(Bytes::from(vec![1u8; 1024]))),
        ])],
    )
    .with_id(7);
    let encoded_binary = encode(&binary);

    let mut g = c.benchmark_group("socket.io packet");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("encode event", |b| b.iter(|| encode(&event)));
    g.bench_function("decode event", |b| {
        b.iter_batched(
            Decoder::new,
            |mut d| d.decode_text(&text),
            BatchSize::SmallInput,
        )
    });
    let shared_text = Utf8Bytes::from(text.as_str());
    g.bench_function("decode event, arguments kept as text", |b| {
        b.iter_batched(
            Decoder::new,
            |mut d| d.decode_event_text(&shared_text),
            BatchSize::SmallInput,
        )
    });
    let raw = Decoder::new()
        .decode_event_text(&shared_text)
        .map(|e| e.args)
        .unwrap_or_default();
    g.bench_function("encode ack of arguments kept as text", |b| {
        b.iter(|| encode_raw_after("4", "/", Some(12), None, &raw))
    });
    g.bench_function("encode binary event", |b| b.iter(|| encode(&binary)));
    g.bench_function("decode binary event", |b| {
        b.iter_batched(
            Decoder::new,
            |mut d| {
                let _ = d.decode_text(&encoded_binary.text);
                d.decode_binary(encoded_binary.attachments[0].clone())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, engine_payloads, socket_packets);
criterion_main!(benches);
