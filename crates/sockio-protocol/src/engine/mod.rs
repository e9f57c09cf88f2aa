//! Engine.IO packets and payloads, protocol revisions 4 and 3.
//!
//! Engine.IO moves *packets* over WebSocket (one packet per frame) or HTTP long-polling
//! (several packets per request body, a *payload*). This module has the two codecs:
//!
//! * [`Packet`]: one packet, as a WebSocket frame carries it ([`Packet::decode_text`],
//!   [`Packet::decode_binary`], [`Packet::encode_text`]).
//! * [`payload`]: the polling bodies — v4 `\x1e`-separated text, v3 `len:packet` text with
//!   UTF-16 lengths, v3 XHR2 binary framing, and v3 JSONP.
//!
//! ```
//! use sockio_protocol::engine::{Packet, Message, ProtocolVersion};
//! use sockio_protocol::Utf8Bytes;
//!
//! let p = Packet::decode_text(Utf8Bytes::from("4hello"), ProtocolVersion::V4).unwrap();
//! assert_eq!(p, Packet::Message(Message::Text(Utf8Bytes::from("hello"))));
//! assert_eq!(Packet::Ping(Utf8Bytes::from("probe")).encode_text(ProtocolVersion::V4).unwrap(), "2probe");
//! ```

mod packet;
pub mod payload;

pub use packet::{DecodeError, Message, Packet, PacketType};

/// The Engine.IO protocol revision a session speaks (query parameter `EIO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// Revision 3: socket.io-client 2.x. Client pings, `len:`-prefixed polling payloads,
    /// binary WebSocket frames with a leading type byte.
    V3,
    /// Revision 4: current clients. Server pings, `\x1e`-separated polling payloads.
    V4,
}

impl ProtocolVersion {
    /// Reads the `EIO` query value: `"4"` and `"3"` are known, anything else is not.
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "4" => Some(Self::V4),
            "3" => Some(Self::V3),
            _ => None,
        }
    }

    /// The `EIO` query value of this revision.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V3 => "3",
            Self::V4 => "4",
        }
    }
}

/// An Engine.IO transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name on the wire (the `transport` query value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of the `open` packet, fields in the order Node writes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPayload {
    /// Session id.
    pub sid: String,
    /// Transports the current transport may upgrade to.
    pub upgrades: Vec<String>,
    /// Heartbeat interval, milliseconds.
    pub ping_interval: u64,
    /// Heartbeat timeout, milliseconds.
    pub ping_timeout: u64,
    /// Largest accepted payload, bytes.
    pub max_payload: u64,
}

impl OpenPayload {
    /// The `open` packet text: `0{"sid":...}`, exactly what `JSON.stringify` gives.
    pub fn to_packet_text(&self) -> String {
        let mut s = String::with_capacity(112 + self.sid.len());
        s.push_str("0{\"sid\":");
        crate::json_string::write_str(&mut s, &self.sid);
        s.push_str(",\"upgrades\":[");
        for (i, u) in self.upgrades.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            crate::json_string::write_str(&mut s, u);
        }
        let mut digits = itoa::Buffer::new();
        s.push_str("],\"pingInterval\":");
        s.push_str(digits.format(self.ping_interval));
        s.push_str(",\"pingTimeout\":");
        s.push_str(digits.format(self.ping_timeout));
        s.push_str(",\"maxPayload\":");
        s.push_str(digits.format(self.max_payload));
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_packet_text_is_the_json_node_writes() {
        let cases = [
            OpenPayload {
                sid: "lv_VI97HAXpY6yYWAAAC".into(),
                upgrades: vec!["websocket".into()],
                ping_interval: 25000,
                ping_timeout: 20000,
                max_payload: 1_000_000,
            },
            OpenPayload {
                sid: "a\"b\\c\u{1}é".into(),
                upgrades: vec![],
                ping_interval: 0,
                ping_timeout: u64::MAX,
                max_payload: 1,
            },
            OpenPayload {
                sid: String::new(),
                upgrades: vec!["websocket".into(), "webtransport".into()],
                ping_interval: 300,
                ping_timeout: 200,
                max_payload: 100,
            },
        ];
        for open in cases {
            let expected = format!("0{}", serde_json::to_string(&open).expect("serializable"));
            assert_eq!(open.to_packet_text(), expected);
        }
        assert_eq!(
            OpenPayload {
                sid: "abc".into(),
                upgrades: vec!["websocket".into()],
                ping_interval: 25000,
                ping_timeout: 20000,
                max_payload: 1_000_000,
            }
            .to_packet_text(),
            r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
    }
}
