//! The Socket.IO packet model.

use std::fmt;

use super::value::Value;

/// The packet type digit that starts every encoded Socket.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: join a namespace (client -> server, optional auth object) or the server's
    /// acceptance (v5: `{"sid":...}`; v4: no payload).
    Connect = 0,
    /// `1`: leave a namespace; no payload.
    Disconnect = 1,
    /// `2`: an event, payload `[name, ...args]`.
    Event = 2,
    /// `3`: an acknowledgement, payload `[...args]`.
    Ack = 3,
    /// `4`: namespace connection refused (v5: `{"message", "data"?}`; v4 "ERROR": any JSON).
    ConnectError = 4,
    /// `5`: an event whose arguments include binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement whose arguments include binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a wire digit value `0..=6`.
    pub fn from_u8(n: u8) -> Option<PacketType> {
        Some(match n {
            0 => PacketType::Connect,
            1 => PacketType::Disconnect,
            2 => PacketType::Event,
            3 => PacketType::Ack,
            4 => PacketType::ConnectError,
            5 => PacketType::BinaryEvent,
            6 => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The wire digit as a character (`'0'`..=`'6'`).
    pub fn as_char(self) -> char {
        char::from(b'0' + self as u8)
    }

    /// Whether packets of this type are followed by binary attachments (5 and 6).
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }

    /// The name socket.io uses for the type (`"CONNECT"`, `"BINARY_EVENT"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Event => "EVENT",
            PacketType::Ack => "ACK",
            PacketType::ConnectError => "CONNECT_ERROR",
            PacketType::BinaryEvent => "BINARY_EVENT",
            PacketType::BinaryAck => "BINARY_ACK",
        }
    }
}

impl TryFrom<u8> for PacketType {
    type Error = u8;

    /// Fails with the value itself when it is not `0..=6`.
    fn try_from(n: u8) -> Result<Self, u8> {
        PacketType::from_u8(n).ok_or(n)
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a packet carries, by type.
///
/// There are no separate binary variants: an [`Event`](PacketData::Event) or
/// [`Ack`](PacketData::Ack) whose arguments contain a [`Value::Binary`] is encoded as
/// `BINARY_EVENT` / `BINARY_ACK` with attachments, and a decoded binary packet is
/// delivered with its attachments put back in place.
#[derive(Debug, Clone, PartialEq)]
pub enum PacketData {
    /// CONNECT with its optional payload: the client's auth object, or the server's
    /// `{"sid":...,"pid"?:...}` reply (v5). With [`ProtocolVersion::V4`](super::ProtocolVersion::V4) a decoded CONNECT
    /// carries the namespace's query string here as an object of strings.
    Connect(Option<Value>),
    /// DISCONNECT.
    Disconnect,
    /// EVENT / BINARY_EVENT: the event name and its arguments.
    ///
    /// A numeric event name on the wire (`2[1,"x"]`, accepted by socket.io) is decoded
    /// to its decimal string, which is also the listener name Node.js dispatches it to.
    Event {
        /// The event name (the first element of the payload array).
        event: String,
        /// The arguments (the rest of the payload array).
        args: Vec<Value>,
    },
    /// ACK / BINARY_ACK: the acknowledgement arguments.
    Ack {
        /// The payload array.
        args: Vec<Value>,
    },
    /// CONNECT_ERROR (called ERROR in protocol v4) with its payload: in v5 an object
    /// `{"message": ..., "data"?: ...}`, in v4 any JSON value.
    ConnectError(Value),
}

/// One Socket.IO packet.
///
/// ```
/// use sockio_protocol::socket::{Packet, PacketType, Value};
///
/// let p = Packet::event("/chat", "msg", vec![Value::from("hi")]).with_id(3);
/// assert_eq!(p.packet_type(), PacketType::Event);
/// assert_eq!(p.encode().text, r#"2/chat,3["msg","hi"]"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The namespace, `"/"` for the main one. It starts with `/` and contains no `,`
    /// (not checked when encoding).
    pub nsp: String,
    /// The acknowledgement id: on an EVENT, the sender wants an ACK with this id; on an
    /// ACK, the id it answers. (The wire allows an id on every type; socket.io ignores it
    /// elsewhere.)
    pub id: Option<u64>,
    /// The type-specific payload.
    pub data: PacketData,
}

impl Packet {
    /// A packet with no ack id.
    pub fn new(nsp: impl Into<String>, data: PacketData) -> Packet {
        Packet {
            nsp: nsp.into(),
            id: None,
            data,
        }
    }

    /// CONNECT, with an optional payload (auth from a client, `{"sid":...}` from a v5
    /// server).
    pub fn connect(nsp: impl Into<String>, payload: Option<Value>) -> Packet {
        Packet::new(nsp, PacketData::Connect(payload))
    }

    /// DISCONNECT.
    pub fn disconnect(nsp: impl Into<String>) -> Packet {
        Packet::new(nsp, PacketData::Disconnect)
    }

    /// EVENT `[event, ...args]` (BINARY_EVENT if `args` hold binary).
    pub fn event(nsp: impl Into<String>, event: impl Into<String>, args: Vec<Value>) -> Packet {
        Packet::new(
            nsp,
            PacketData::Event {
                event: event.into(),
                args,
            },
        )
    }

    /// ACK for ack id `id` (BINARY_ACK if `args` hold binary).
    pub fn ack(nsp: impl Into<String>, id: u64, args: Vec<Value>) -> Packet {
        Packet::new(nsp, PacketData::Ack { args }).with_id(id)
    }

    /// CONNECT_ERROR with the given payload.
    pub fn connect_error(nsp: impl Into<String>, payload: Value) -> Packet {
        Packet::new(nsp, PacketData::ConnectError(payload))
    }

    /// The v5 CONNECT_ERROR payload socket.io writes for a refused connection:
    /// `{"message": message}`, plus `"data": data` when given.
    pub fn connect_error_message(
        nsp: impl Into<String>,
        message: impl Into<String>,
        data: Option<Value>,
    ) -> Packet {
        let mut payload = vec![("message".to_owned(), Value::String(message.into()))];
        if let Some(data) = data {
            payload.push(("data".to_owned(), data));
        }
        Packet::connect_error(nsp, Value::Object(payload))
    }

    /// Sets the ack id.
    pub fn with_id(mut self, id: u64) -> Packet {
        self.id = Some(id);
        self
    }

    /// The type this packet is encoded as: EVENT and ACK become BINARY_EVENT and
    /// BINARY_ACK when their arguments contain binary.
    pub fn packet_type(&self) -> PacketType {
        match &self.data {
            PacketData::Connect(_) => PacketType::Connect,
            PacketData::Disconnect => PacketType::Disconnect,
            PacketData::Event { args, .. } if args.iter().any(Value::has_binary) => {
                PacketType::BinaryEvent
            }
            PacketData::Event { .. } => PacketType::Event,
            PacketData::Ack { args } if args.iter().any(Value::has_binary) => PacketType::BinaryAck,
            PacketData::Ack { .. } => PacketType::Ack,
            PacketData::ConnectError(_) => PacketType::ConnectError,
        }
    }

    /// The event name, for EVENT packets.
    pub fn event_name(&self) -> Option<&str> {
        match &self.data {
            PacketData::Event { event, .. } => Some(event),
            _ => None,
        }
    }

    /// The arguments of an EVENT or ACK packet.
    pub fn args(&self) -> Option<&[Value]> {
        match &self.data {
            PacketData::Event { args, .. } | PacketData::Ack { args } => Some(args),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn packet_type_digits() {
        for n in 0..=6u8 {
            let t = PacketType::from_u8(n).unwrap();
            assert_eq!(t.as_u8(), n);
            assert_eq!(t.as_char(), char::from(b'0' + n));
            assert_eq!(PacketType::try_from(n), Ok(t));
            assert_eq!(t.is_binary(), n >= 5);
        }
        assert_eq!(PacketType::from_u8(7), None);
        assert_eq!(PacketType::try_from(9), Err(9));
        assert_eq!(PacketType::BinaryAck.to_string(), "BINARY_ACK");
        assert_eq!(PacketType::ConnectError.name(), "CONNECT_ERROR");
    }

    #[test]
    fn derived_types_and_accessors() {
        let bin = Value::Binary(Bytes::from_static(b"x"));
        assert_eq!(
            Packet::connect("/", None).packet_type(),
            PacketType::Connect
        );
        assert_eq!(
            Packet::disconnect("/").packet_type(),
            PacketType::Disconnect
        );
        assert_eq!(
            Packet::event("/", "e", vec![]).packet_type(),
            PacketType::Event
        );
        let nested = Value::Array(vec![Value::object([("k", bin.clone())])]);
        let e = Packet::event("/", "e", vec![Value::Null, nested]);
        assert_eq!(e.packet_type(), PacketType::BinaryEvent);
        assert_eq!(e.event_name(), Some("e"));
        assert_eq!(e.args().map(<[Value]>::len), Some(2));
        assert_eq!(Packet::ack("/", 1, vec![]).packet_type(), PacketType::Ack);
        let a = Packet::ack("/", 1, vec![bin]);
        assert_eq!(a.packet_type(), PacketType::BinaryAck);
        assert_eq!(a.id, Some(1));
        assert_eq!(a.event_name(), None);
        assert_eq!(
            Packet::connect_error("/", Value::Null).packet_type(),
            PacketType::ConnectError
        );
        assert_eq!(Packet::disconnect("/").args(), None);
    }

    #[test]
    fn connect_error_message_shapes() {
        assert_eq!(
            Packet::connect_error_message("/nope", "Invalid namespace", None)
                .encode()
                .text,
            r#"4/nope,{"message":"Invalid namespace"}"#
        );
        let data = Value::object([("reason", "x")]);
        assert_eq!(
            Packet::connect_error_message("/admin", "not authorized", Some(data))
                .encode()
                .text,
            r#"4/admin,{"message":"not authorized","data":{"reason":"x"}}"#
        );
    }
}
