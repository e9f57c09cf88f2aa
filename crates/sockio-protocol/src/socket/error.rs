//! The errors of the two packet decoders ([`Decoder`](super::Decoder) and
//! [`decode_msgpack`](super::decode_msgpack)), in a module of their own so that both
//! decoders can use them without depending on each other.

use super::json::JsonError;
use super::packet::PacketType;

/// Why a Socket.IO message was refused.
///
/// socket.io closes the whole connection on any of these (disconnect reason
/// `forced close`), and so should a server built on this decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text message was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type digit `0`..=`6`.
    #[error("unknown packet type {0:?}")]
    UnknownPacketType(char),
    /// A BINARY_EVENT / BINARY_ACK header without a valid `<count>-` (missing, not
    /// decimal digits, not followed by `-`, or zero).
    #[error("illegal attachment count")]
    InvalidAttachmentCount,
    /// More attachments announced than [`DecoderConfig::max_attachments`](super::DecoderConfig::max_attachments) allows.
    #[error("too many attachments: {count} (at most {max})")]
    TooManyAttachments {
        /// The announced count (saturated at `u64::MAX`).
        count: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The ack id does not fit in 64 bits.
    #[error("ack id out of range")]
    AckIdOverflow,
    /// The payload is not valid JSON (the offset is relative to the payload's start).
    #[error("invalid JSON payload: {0}")]
    InvalidJson(#[from] JsonError),
    /// An EVENT, BINARY_EVENT or CONNECT_ERROR without payload.
    #[error("{0} packet without payload")]
    MissingPayload(PacketType),
    /// A DISCONNECT with a payload.
    #[error("{0} packet must not have a payload")]
    UnexpectedPayload(PacketType),
    /// A CONNECT payload that is not a JSON object (found: the JSON type's name).
    #[error("CONNECT payload must be an object, found {0}")]
    InvalidConnectPayload(&'static str),
    /// A v5 CONNECT_ERROR payload that is neither a string nor an object.
    #[error("CONNECT_ERROR payload must be a string or an object, found {0}")]
    InvalidConnectErrorPayload(&'static str),
    /// An EVENT or ACK payload that is not a JSON array.
    #[error("{packet_type} payload must be an array, found {found}")]
    NotAnArray {
        /// The packet's type.
        packet_type: PacketType,
        /// The JSON type's name.
        found: &'static str,
    },
    /// An EVENT payload that is an empty array: no event name.
    #[error("event without a name")]
    MissingEventName,
    /// An event name that is neither a string nor a number (found: the JSON type's name).
    #[error("event name must be a string or a number, found {0}")]
    InvalidEventName(&'static str),
    /// An event name reserved by socket.io ([`is_reserved_event`](super::is_reserved_event)).
    #[error("reserved event name {0:?}")]
    ReservedEventName(String),
    /// An attachment placeholder (`{"_placeholder":true,...}`) whose `num` is not a
    /// non-negative integer.
    #[error("invalid attachment placeholder")]
    InvalidPlaceholder,
    /// An attachment placeholder whose `num` is not below the attachment count.
    #[error("attachment placeholder {num} out of range (packet has {attachments})")]
    PlaceholderOutOfRange {
        /// The placeholder's `num`.
        num: u64,
        /// The announced attachment count.
        attachments: usize,
    },
    /// A text message arrived while binary attachments were still expected.
    #[error("text packet while waiting for {missing} binary attachment(s)")]
    UnexpectedText {
        /// How many attachments were still missing.
        missing: usize,
    },
    /// A binary message arrived while no attachment was expected.
    #[error("binary message while no attachment is expected")]
    UnexpectedBinary,
    /// A msgpack-encoded packet ([`decode_msgpack`](super::decode_msgpack)) that is not
    /// valid msgpack or not a valid packet map.
    #[error("invalid msgpack packet: {0}")]
    InvalidMsgpack(#[from] MsgpackError),
}

/// Why a msgpack packet was refused at the msgpack level or as a packet map (carried by
/// [`DecodeError::InvalidMsgpack`]; payloads that are invalid for their packet type give
/// the same [`DecodeError`] variants as the default decoder).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MsgpackError {
    /// The input is empty or ends in the middle of a value.
    #[error("unexpected end of msgpack input")]
    UnexpectedEnd,
    /// Bytes follow the packet's map (how many).
    #[error("{0} trailing byte(s) after the msgpack packet")]
    TrailingBytes(usize),
    /// The byte `0xc1`, which msgpack never uses, at this offset.
    #[error("invalid msgpack type byte 0xc1 at offset {0}")]
    InvalidTypeByte(usize),
    /// An extension type that notepack.io does not produce.
    #[error("unsupported msgpack extension type {ext_type} at offset {offset}")]
    UnsupportedExtension {
        /// The extension's type byte.
        ext_type: i8,
        /// Where the extension value starts.
        offset: usize,
    },
    /// A timestamp extension (type −1) whose data is not 4, 8 or 12 bytes long or whose
    /// nanoseconds exceed 999 999 999 (offset of the extension value).
    #[error("invalid msgpack timestamp at offset {0}")]
    InvalidTimestamp(usize),
    /// A map key that is not a string (offset of the key).
    #[error("msgpack map key at offset {0} is not a string")]
    NonStringKey(usize),
    /// Arrays and maps nested deeper than [`DEFAULT_MAX_DEPTH`](super::DEFAULT_MAX_DEPTH) (the packet map itself
    /// not counted), at this offset.
    #[error("msgpack nesting too deep at offset {0}")]
    TooDeep(usize),
    /// The packet is not a map (found: the decoded value's type name, or `"undefined"`).
    #[error("msgpack packet must be a map, found {0}")]
    NotAMap(&'static str),
    /// `type` is missing, not an integer, or not in `0..=4`.
    #[error("invalid packet type")]
    InvalidPacketType,
    /// `nsp` is missing or not a string.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// `id` is present but not a non-negative integer that fits in 64 bits.
    #[error("invalid packet id")]
    InvalidAckId,
}
