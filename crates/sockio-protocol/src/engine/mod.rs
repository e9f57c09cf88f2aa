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
    /// The `open` packet text: `0{"sid":...}`.
    pub fn to_packet_text(&self) -> String {
        let mut s = String::with_capacity(128);
        s.push('0');
        // Serializing plain strings and integers cannot fail.
        if let Ok(json) = serde_json::to_string(self) {
            s.push_str(&json);
        }
        s
    }
}
