//! Payload rules shared by the text decoder and the msgpack decoder.

use super::error::DecodeError;
use super::is_reserved_event;
use super::packet::{PacketData, PacketType};
use super::query;
use super::value::Value;

/// The payload rules of EVENT / BINARY_EVENT, shared by both parsers: a non-empty array whose
/// first element is the event name — a string that is not reserved, or a number (kept as
/// its decimal text, the listener name Node.js dispatches it to).
pub(super) fn event_payload(
    kind: PacketType,
    payload: Option<Value>,
) -> Result<PacketData, DecodeError> {
    let mut items = match payload {
        None => return Err(DecodeError::MissingPayload(kind)),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(DecodeError::NotAnArray {
                packet_type: kind,
                found: other.type_name(),
            })
        }
    };
    if items.is_empty() {
        return Err(DecodeError::MissingEventName);
    }
    let event = match items.remove(0) {
        Value::String(name) if is_reserved_event(&name) => {
            return Err(DecodeError::ReservedEventName(name))
        }
        Value::String(name) => name,
        Value::Number(n) => query::number_to_string(&n),
        other => return Err(DecodeError::InvalidEventName(other.type_name())),
    };
    Ok(PacketData::Event { event, args: items })
}
