//! Runs the plain-EVENT hot path a fixed number of times, for instruction counts:
//!
//! ```text
//! cargo build --release -p sockio-protocol --example hot_path
//! valgrind --tool=callgrind target/release/examples/hot_path [encode|decode|text|ack|msgpack-encode|msgpack-decode|floats|query] [N]
//! ```
//!
//! Instructions per operation = (total - total with N = 0) / N.

use std::hint::black_box;

use sockio_protocol::socket::{
    decode_msgpack, encode, encode_msgpack, encode_raw_after, Decoder, Packet, Value,
};
use sockio_protocol::{urlencoded, Utf8Bytes};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "encode".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    // The bench contract's event: `42["msg",{"t":…,"s":…,"p":"xxx…"}]`.
    let object = Value::Object(vec![
        ("t".into(), Value::from(1_234_567_890_u64)),
        ("s".into(), Value::from(42)),
        ("p".into(), Value::from("x".repeat(70))),
    ]);
    let event = Packet::event("/", "msg", vec![object]);
    let text = encode(&event).text;
    let shared = Utf8Bytes::from(text.as_str());
    let raw = Decoder::new()
        .decode_event_text(&shared)
        .map(|e| e.args)
        .unwrap_or_default();
    let packed = encode_msgpack(&event);
    let query = "EIO=4&transport=websocket&sid=Igm4dAoHJArRebrlAAAB&t=PZqJ4bQ";
    let floats = Value::Array(
        (0..16)
            .map(|i| Value::from(i as f64 * 1.1e-3 + 0.5))
            .collect(),
    );
    // One decoder for the whole run, as a connection keeps one.
    let mut decoder = Decoder::new();
    let mut sink = 0usize;
    for _ in 0..n {
        sink += match what.as_str() {
            "encode" => encode(black_box(&event)).text.len(),
            "decode" => usize::from(decoder.decode_text(black_box(&text)).is_ok()),
            "text" => usize::from(decoder.decode_event_text(black_box(&shared)).is_some()),
            "ack" => encode_raw_after("4", "/", Some(12), None, black_box(&raw)).len(),
            "msgpack-encode" => encode_msgpack(black_box(&event)).len(),
            "msgpack-decode" => usize::from(decode_msgpack(black_box(&packed)).is_ok()),
            "floats" => black_box(&floats).to_json().len(),
            "query" => urlencoded::pairs_borrowed(black_box(query)).count(),
            _ => 0,
        };
    }
    println!("{sink}");
}
