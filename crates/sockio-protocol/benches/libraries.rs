//! The hand-written codecs against the general-purpose libraries that could replace them
//! (serde_json, rmp / rmp-serde, ryu-js, form_urlencoded), on the bench contract's event.
//! Results and the decisions taken from them: `bench/notes.md`.
//!
//! ```text
//! cargo bench -p sockio-protocol --bench libraries
//! ```

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sockio_protocol::socket::{decode_msgpack, encode, encode_msgpack, Decoder, Packet, Value};
use sockio_protocol::{urlencoded, Utf8Bytes};

/// The bench contract's broadcast payload: `{"t":…,"s":…,"p":"xxx…"}`, about 100 bytes.
fn payload_object() -> Value {
    Value::Object(vec![
        ("t".into(), Value::from(1_234_567_890_u64)),
        ("s".into(), Value::from(42)),
        ("p".into(), Value::from("x".repeat(70))),
    ])
}

/// `["name",arg,...]` read by serde_json: the name, and the byte range of the arguments
/// (each one validated as a `RawValue`, nothing built).
struct EventScan<'a> {
    base: usize,
    name: Cow<'a, str>,
    args: std::ops::Range<usize>,
}

struct EventScanVisitor(usize);

impl<'de> Visitor<'de> for EventScanVisitor {
    type Value = EventScan<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name: Cow<'de, str> = seq
            .next_element::<Cow<'de, str>>()?
            .ok_or_else(|| serde::de::Error::custom("no name"))?;
        let mut args = 0..0;
        let mut first = true;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let start = raw.get().as_ptr() as usize - self.0;
            if first {
                args.start = start;
                first = false;
            }
            args.end = start + raw.get().len();
        }
        Ok(EventScan {
            base: self.0,
            name,
            args,
        })
    }
}

fn serde_json_scan(text: &str) -> Option<EventScan<'_>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let scan = (&mut de)
        .deserialize_seq(EventScanVisitor(text.as_ptr() as usize))
        .ok()?;
    de.end().ok()?;
    Some(scan)
}

/// `JSON.stringify`'s numbers for serde_json: ryu-js for floats.
struct JsFormatter;

impl serde_json::ser::Formatter for JsFormatter {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        if v.is_finite() {
            w.write_all(ryu_js::Buffer::new().format_finite(v).as_bytes())
        } else {
            w.write_all(b"null")
        }
    }
}

fn serde_json_js(value: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JsFormatter);
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

fn json(c: &mut Criterion) {
    let event = Packet::event("/", "msg", vec![payload_object()]);
    let text = encode(&event).text;
    let shared = Utf8Bytes::from(text.as_str());
    let payload = &text[1..];
    let args_text = format!("[{}]", payload_object().to_json());
    let floats = Value::Array(
        (0..16)
            .map(|i| Value::from(i as f64 * 1.1e-3 + 0.5))
            .collect(),
    );
    // The same bytes either way.
    assert_eq!(serde_json_js(&payload_object()), payload_object().to_json());
    assert_eq!(serde_json_js(&floats), floats.to_json());
    let scan = serde_json_scan(payload).map(|s| (s.name, s.args));
    let base = scan.as_ref().map(|_| 0);
    assert_eq!(
        scan.map(|(n, a)| (n.into_owned(), payload[a].to_owned())),
        Decoder::new()
            .decode_event_text(&shared)
            .map(|e| (e.event.to_string(), e.args.as_str().to_owned()))
    );
    let _ = base;

    let mut g = c.benchmark_group("json");
    g.bench_function("validate event (hand-written)", |b| {
        b.iter_batched(
            Decoder::new,
            |mut d| d.decode_event_text(&shared),
            BatchSize::SmallInput,
        )
    });
    // As `decode_event_text` does: header, scan, name and arguments as shared slices.
    g.bench_function("validate event (serde_json RawValue)", |b| {
        b.iter_batched(
            Decoder::new,
            |_d| {
                let text = std::hint::black_box(&shared);
                if text.as_bytes().first() != Some(&b'2') {
                    return None;
                }
                let scan = serde_json_scan(text.get(1..)?)?;
                let name = match scan.name {
                    Cow::Borrowed(n) => {
                        let at = n.as_ptr() as usize - text.as_ptr() as usize;
                        text.slice(at..at + n.len())?
                    }
                    Cow::Owned(n) => Utf8Bytes::from(n),
                };
                let args = text.slice(1 + scan.args.start..1 + scan.args.end)?;
                Some((Utf8Bytes::from_static("/"), name, args, scan.base))
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("parse args to Value (hand-written)", |b| {
        b.iter(|| Value::from_json(std::hint::black_box(&args_text)))
    });
    g.bench_function("parse args to Value (serde_json)", |b| {
        b.iter(|| serde_json::from_str::<Value>(std::hint::black_box(&args_text)))
    });
    g.bench_function("parse args to serde_json::Value (serde_json)", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(std::hint::black_box(&args_text)))
    });
    let object = payload_object();
    g.bench_function("write object (hand-written)", |b| {
        b.iter(|| object.to_json())
    });
    g.bench_function("write object (serde_json + ryu-js)", |b| {
        b.iter(|| serde_json_js(&object))
    });
    g.bench_function("write 16 floats (hand-written)", |b| {
        b.iter(|| floats.to_json())
    });
    g.bench_function("write 16 floats (serde_json + ryu-js)", |b| {
        b.iter(|| serde_json_js(&floats))
    });
    g.finish();
}

/// The packet map as rmp-serde writes a struct.
#[derive(serde::Serialize)]
struct PacketOut<'a> {
    r#type: u8,
    nsp: &'a str,
    data: &'a Value,
}

#[derive(Deserialize)]
struct PacketIn {
    #[allow(dead_code)]
    r#type: u8,
    #[allow(dead_code)]
    nsp: String,
    #[allow(dead_code)]
    data: Value,
}

/// The hand-written encoder's walk with rmp's writers for the bytes.
fn rmp_value(out: &mut Vec<u8>, value: &Value) {
    use rmp::encode as w;
    let _ = match value {
        Value::Null => w::write_nil(out).map_err(drop),
        Value::Bool(b) => w::write_bool(out, *b).map_err(drop),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                w::write_uint(out, u).map(drop).map_err(drop)
            } else if let Some(i) = n.as_i64() {
                w::write_sint(out, i).map(drop).map_err(drop)
            } else {
                w::write_f64(out, n.as_f64().unwrap_or(0.0)).map_err(drop)
            }
        }
        Value::String(s) => w::write_str(out, s).map_err(drop),
        Value::Binary(b) => w::write_bin(out, b).map_err(drop),
        Value::Array(items) => {
            let _ = w::write_array_len(out, items.len() as u32);
            items.iter().for_each(|v| rmp_value(out, v));
            Ok(())
        }
        Value::Object(entries) => {
            let _ = w::write_map_len(out, entries.len() as u32);
            for (k, v) in entries {
                let _ = w::write_str(out, k);
                rmp_value(out, v);
            }
            Ok(())
        }
    };
}

fn rmp_packet(nsp: &str, data: &[Value], event: &str) -> Vec<u8> {
    use rmp::encode as w;
    let mut out = Vec::with_capacity(160);
    let _ = w::write_map_len(&mut out, 3);
    let _ = w::write_str(&mut out, "type");
    let _ = w::write_uint(&mut out, 2);
    let _ = w::write_str(&mut out, "nsp");
    let _ = w::write_str(&mut out, nsp);
    let _ = w::write_str(&mut out, "data");
    let _ = w::write_array_len(&mut out, data.len() as u32 + 1);
    let _ = w::write_str(&mut out, event);
    data.iter().for_each(|v| rmp_value(&mut out, v));
    out
}

fn msgpack(c: &mut Criterion) {
    let args = vec![payload_object(), Value::Binary(Bytes::from(vec![1u8; 64]))];
    let event = Packet::event("/", "msg", args.clone());
    let encoded = encode_msgpack(&event);
    let mut data = vec![Value::from("msg")];
    data.extend(args.iter().cloned());
    let data = Value::Array(data);
    // Same bytes from the three encoders.
    assert_eq!(&rmp_packet("/", &args, "msg")[..], &encoded[..]);
    let named = rmp_serde::to_vec_named(&PacketOut {
        r#type: 2,
        nsp: "/",
        data: &data,
    })
    .unwrap_or_default();
    assert_eq!(&named[..], &encoded[..]);

    let mut g = c.benchmark_group("msgpack");
    g.bench_function("encode event (hand-written)", |b| {
        b.iter(|| encode_msgpack(&event))
    });
    g.bench_function("encode event (rmp writers)", |b| {
        b.iter(|| rmp_packet("/", &args, "msg"))
    });
    g.bench_function("encode event (rmp-serde)", |b| {
        b.iter(|| {
            rmp_serde::to_vec_named(&PacketOut {
                r#type: 2,
                nsp: "/",
                data: &data,
            })
        })
    });
    g.bench_function("decode event (hand-written)", |b| {
        b.iter(|| decode_msgpack(std::hint::black_box(&encoded)))
    });
    g.bench_function("decode event (rmp-serde)", |b| {
        b.iter(|| rmp_serde::from_slice::<PacketIn>(std::hint::black_box(&encoded)))
    });
    g.finish();
}

/// The handshake's query string, through the crate's one URL decoder (form_urlencoded).
/// The hand-written decoder it replaced measured 88 ns (plain) and 175 ns (escaped) on
/// the same strings: bench/notes.md.
fn query(c: &mut Criterion) {
    let plain = "EIO=4&transport=websocket&sid=Igm4dAoHJArRebrlAAAB&t=PZqJ4bQ";
    let escaped = "EIO=4&transport=polling&t=PZqJ4bQ&token=a%20b%2Bc%3D%3D&name=J%C3%A9r%C3%B4me+D";
    let mut g = c.benchmark_group("query");
    for (label, q) in [("plain", plain), ("escaped", escaped)] {
        g.bench_function(format!("{label} (form_urlencoded)"), |b| {
            b.iter(|| urlencoded::pairs_borrowed(std::hint::black_box(q)).count())
        });
    }
    g.finish();
}

criterion_group!(benches, json, msgpack, query);
criterion_main!(benches);
