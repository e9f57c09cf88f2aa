//! What crosses Redis, as [`Value`]s: reading the options, packets and sockets other
//! nodes send (leniently: bad input is ignored, never a panic) and writing ours the way
//! Node's adapters write them.

use bytes::Bytes;
use rand::Rng;
use sockio_protocol::socket::{decode_msgpack_value, encode_msgpack_value, Value};
use sockio_server::adapter::{BroadcastOptions, HandshakeData, RemoteSocketData};
use sockio_server::{from_value, to_value, Room};

/// A payload of the request or response channels: JSON when it starts with `{`, msgpack
/// otherwise (as Node's adapters read them). `None` when it is neither.
pub(crate) fn decode(payload: &[u8]) -> Option<Value> {
    if payload.first() == Some(&b'{') {
        let text = std::str::from_utf8(payload).ok()?;
        Value::from_json(text).ok()
    } else {
        decode_msgpack_value(payload).ok()
    }
}

pub(crate) fn json(value: &Value) -> Bytes {
    Bytes::from(value.to_json())
}

pub(crate) fn msgpack(value: &Value) -> Bytes {
    encode_msgpack_value(value)
}

/// An object with these entries, in this order.
pub(crate) fn obj<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub(crate) fn str_value(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// `n` random characters of `[A-Za-z0-9]`, like uid2.
pub(crate) fn uid2(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// 8 random bytes in hex, as socket.io-adapter's ClusterAdapter makes its ids.
pub(crate) fn hex_id() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A room name as Node sends it: a string, or a number (a JavaScript number as text).
fn room_of(v: &Value) -> Option<Room> {
    match v {
        Value::String(s) => Some(Room::from(s.as_str())),
        Value::Number(_) => Some(Room::from(v.to_json())),
        _ => None,
    }
}

/// A list of rooms (anything that is not a list gives none).
pub(crate) fn rooms_of(v: Option<&Value>) -> Vec<Room> {
    v.and_then(Value::as_array)
        .map(|items| items.iter().filter_map(room_of).collect())
        .unwrap_or_default()
}

pub(crate) fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| str_value(r)).collect())
}

/// `{rooms, except, flags}` as a node sends it.
pub(crate) fn opts_of(v: &Value) -> BroadcastOptions {
    let mut opts = BroadcastOptions::new(rooms_of(v.get("rooms")), rooms_of(v.get("except")));
    if let Some(flags) = v.get("flags") {
        opts.flags.volatile = flags.get("volatile").and_then(Value::as_bool) == Some(true);
        opts.flags.timeout = flags.get("timeout").and_then(Value::as_u64);
    }
    opts
}

/// The flags as socket.io publishes them (only those that are set).
pub(crate) fn flags_value(opts: &BroadcastOptions) -> Value {
    let mut flags = Vec::new();
    if opts.flags.volatile {
        flags.push(("volatile".to_owned(), Value::Bool(true)));
    }
    if let Some(t) = opts.flags.timeout {
        flags.push(("timeout".to_owned(), Value::from(t)));
    }
    Value::Object(flags)
}

/// `{rooms, except, flags}`.
pub(crate) fn opts_value(opts: &BroadcastOptions) -> Value {
    obj([
        ("rooms", rooms_value(&opts.rooms)),
        ("except", rooms_value(&opts.except)),
        ("flags", flags_value(opts)),
    ])
}

/// `{rooms, except}` (requests carry no flags).
pub(crate) fn selector_value(opts: &BroadcastOptions) -> Value {
    obj([
        ("rooms", rooms_value(&opts.rooms)),
        ("except", rooms_value(&opts.except)),
    ])
}

/// `[event, ...args]`.
pub(crate) fn event_data(event: &str, args: &[Value]) -> Value {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(str_value(event));
    data.extend(args.iter().cloned());
    Value::Array(data)
}

/// An EVENT packet `{type: 2, data: [event, ...args]}`, with its namespace when `nsp`
/// is given (as the classic adapter sends it).
pub(crate) fn event_packet(event: &str, args: &[Value], nsp: Option<&str>) -> Value {
    let mut packet = obj([("type", Value::from(2)), ("data", event_data(event, args))]);
    if let (Some(nsp), Value::Object(fields)) = (nsp, &mut packet) {
        fields.push(("nsp".to_owned(), str_value(nsp)));
    }
    packet
}

/// The event name and arguments of a packet's `data` (`[event, ...args]`). A numeric
/// event name is its decimal text, as socket.io's parser reads it.
pub(crate) fn event_of(data: Option<&Value>) -> Option<(String, Vec<Value>)> {
    let mut items = data?.as_array()?.clone();
    if items.is_empty() {
        return None;
    }
    let event = match items.remove(0) {
        Value::String(s) => s,
        n @ Value::Number(_) => n.to_json(),
        _ => return None,
    };
    Some((event, items))
}

/// A socket as Node serializes it for `fetchSockets` (`{id, handshake, rooms, data}`).
pub(crate) fn socket_value(socket: &RemoteSocketData) -> Value {
    to_value(socket).unwrap_or(Value::Null)
}

/// Reads a socket another node described; what is missing takes its default.
pub(crate) fn socket_of(v: &Value) -> Option<RemoteSocketData> {
    let id = v.get("id")?.as_str()?;
    let mut handshake = to_value(&HandshakeData::default()).ok()?;
    if let (Some(Value::Object(given)), Value::Object(defaults)) =
        (v.get("handshake"), &mut handshake)
    {
        for (key, slot) in defaults.iter_mut() {
            if let Some((_, value)) = given.iter().find(|(k, _)| k == key) {
                if value.type_name() == slot.type_name()
                    || matches!(key.as_str(), "headers" | "query" | "auth")
                {
                    *slot = value.clone();
                }
            }
        }
    }
    let rooms = rooms_of(v.get("rooms"));
    let described = obj([
        ("id", str_value(id)),
        ("handshake", handshake),
        ("rooms", rooms_value(&rooms)),
        ("data", v.get("data").cloned().unwrap_or(Value::Null)),
    ]);
    from_value(described).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

    #[test]
    fn decodes_json_and_msgpack_and_refuses_garbage() {
        assert_eq!(decode(br#"{"a":1}"#), Some(j(r#"{"a":1}"#)));
        assert_eq!(decode(b"\x81\xa1a\x01"), Some(j(r#"{"a":1}"#)));
        assert_eq!(decode(b"{nope"), None);
        assert_eq!(decode(b"\xc1"), None);
        assert_eq!(decode(b"{\xff"), None);
    }

    #[test]
    fn options_round_trip_and_numeric_rooms() {
        let opts = opts_of(&j(
            r#"{"rooms":["a",5],"except":["b"],"flags":{"volatile":true,"compress":false,"timeout":1000}}"#,
        ));
        assert_eq!(opts.rooms, vec![Room::from("a"), Room::from("5")]);
        assert_eq!(opts.except, vec![Room::from("b")]);
        assert!(opts.flags.volatile);
        assert_eq!(opts.flags.timeout, Some(1000));
        assert_eq!(
            opts_value(&opts).to_json(),
            r#"{"rooms":["a","5"],"except":["b"],"flags":{"volatile":true,"timeout":1000}}"#
        );
        let none = opts_of(&j("3"));
        assert!(none.rooms.is_empty() && none.except.is_empty());
    }

    #[test]
    fn events_of_packets() {
        assert_eq!(
            event_of(Some(&j(r#"["ev",1,"x"]"#))),
            Some(("ev".to_owned(), vec![j("1"), j(r#""x""#)]))
        );
        assert_eq!(event_of(Some(&j("[42]"))), Some(("42".to_owned(), vec![])));
        assert_eq!(event_of(Some(&j("[]"))), None);
        assert_eq!(event_of(Some(&j("[null]"))), None);
        assert_eq!(event_of(None), None);
    }

    #[test]
    fn sockets_from_node_and_back() {
        let node = j(
            r#"{"id":"TeMe_Ask-ki-RUIPAAAA","handshake":{"headers":{"host":"x"},"time":"Sun Nov 22 2026 23:38:37 GMT+0000 (Coordinated Universal Time)","address":"127.0.0.1","xdomain":false,"secure":false,"issued":1795390717468,"url":"/socket.io/?EIO=4&transport=websocket","query":{"EIO":"4","transport":"websocket"},"auth":{}},"rooms":["TeMe_Ask-ki-RUIPAAAA","room-B"],"data":{"name":"B"}}"#,
        );
        let socket = socket_of(&node).unwrap();
        assert_eq!(socket.id.as_str(), "TeMe_Ask-ki-RUIPAAAA");
        assert_eq!(socket.handshake.issued, 1795390717468);
        assert_eq!(socket.rooms.len(), 2);
        assert_eq!(socket_value(&socket), node);
        // Missing pieces take defaults; no id is no socket.
        let sparse = socket_of(&j(r#"{"id":"x","handshake":{"issued":"bad"}}"#)).unwrap();
        assert_eq!(sparse.handshake.issued, 0);
        assert_eq!(sparse.data, Value::Null);
        assert!(socket_of(&j(r#"{"rooms":[]}"#)).is_none());
    }

    #[test]
    fn ids() {
        let u = uid2(6);
        assert_eq!(u.len(), 6);
        assert!(u.chars().all(|c| c.is_ascii_alphanumeric()));
        let h = hex_id();
        assert_eq!(h.len(), 16);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
