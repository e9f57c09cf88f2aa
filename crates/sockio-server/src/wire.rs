//! What goes on the wire for one Socket.IO packet: the Engine.IO packets ([`Frames`])
//! that carry it, encoded for a protocol revision and a [`Parser`].

use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::socket::{Packet, PacketData, ProtocolVersion, Value};
use sockio_protocol::Utf8Bytes;

use crate::args::Args;
use crate::config::Parser;

/// The Engine.IO packets that carry one Socket.IO packet: the packet, then its binary
/// attachments (none, most of the time: then nothing is allocated for them).
#[derive(Debug, Clone)]
pub(crate) struct Frames {
    first: EncodedPacket,
    attachments: Vec<EncodedPacket>,
}

impl Frames {
    fn text(text: String) -> Frames {
        Frames {
            first: EncodedPacket::Text(Utf8Bytes::from(text)),
            attachments: Vec::new(),
        }
    }

    /// Every frame, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &EncodedPacket> {
        std::iter::once(&self.first).chain(self.attachments.iter())
    }
}

impl IntoIterator for Frames {
    type Item = EncodedPacket;
    type IntoIter =
        std::iter::Chain<std::iter::Once<EncodedPacket>, std::vec::IntoIter<EncodedPacket>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.attachments)
    }
}

/// Encodes a packet as the Engine.IO packets that carry it: with the default parser the
/// text (as a `message`, `4…`) then each attachment; with msgpack one binary message.
pub(crate) fn frames(packet: &Packet, version: ProtocolVersion, parser: Parser) -> Frames {
    if parser.is_msgpack() {
        #[cfg(feature = "msgpack")]
        return Frames {
            first: EncodedPacket::Binary(sockio_protocol::socket::encode_msgpack(packet)),
            attachments: Vec::new(),
        };
    }
    // The Engine.IO `message` type digit first, in the same buffer.
    let encoded = sockio_protocol::socket::encode_after(packet, version, "4");
    Frames {
        first: EncodedPacket::Text(Utf8Bytes::from(encoded.text)),
        attachments: encoded
            .attachments
            .into_iter()
            .map(EncodedPacket::Binary)
            .collect(),
    }
}

/// Encodes an EVENT (`event` is `Some`) or ACK with `args` for `nsp`: arguments still
/// in their JSON text are copied as they are (default parser); values are encoded as a
/// packet and left in `args` afterwards.
pub(crate) fn args_frames(
    nsp: &str,
    event: Option<&str>,
    id: Option<u64>,
    args: &mut Args,
    version: ProtocolVersion,
    parser: Parser,
) -> Frames {
    if !parser.is_msgpack() {
        if let Some(raw) = args.raw() {
            return Frames::text(sockio_protocol::socket::encode_raw_after(
                "4", nsp, id, event, raw,
            ));
        }
    }
    let values = args.take_values();
    let mut packet = match event {
        Some(event) => Packet::event(nsp, event, values),
        None => Packet::ack(nsp, 0, values),
    };
    packet.id = id;
    let frames = frames(&packet, version, parser);
    if let PacketData::Event { args: values, .. } | PacketData::Ack { args: values } = packet.data {
        *args = Args::from(values);
    }
    frames
}

/// The CONNECT that accepts socket `id` in `nsp`: `{"sid":…}` in v5, nothing in v4.
pub(crate) fn connect_reply(
    nsp: &str,
    id: &str,
    version: ProtocolVersion,
    parser: Parser,
) -> Frames {
    let plain = |c: char| c != '"' && c != '\\' && !c.is_control();
    match version {
        // Written directly (the usual case): ids are generated, nothing to escape.
        ProtocolVersion::V5 if !parser.is_msgpack() && id.chars().all(plain) => {
            let nsp_len = if nsp == "/" { 0 } else { nsp.len() + 1 };
            let mut text = String::with_capacity(2 + nsp_len + 10 + id.len());
            text.push_str("40");
            if nsp_len > 0 {
                text.push_str(nsp);
                text.push(',');
            }
            text.push_str("{\"sid\":\"");
            text.push_str(id);
            text.push_str("\"}");
            Frames::text(text)
        }
        ProtocolVersion::V5 => {
            let sid = Value::Object(vec![("sid".to_owned(), Value::String(id.to_owned()))]);
            frames(
                &Packet::connect(nsp, Some(sid)),
                ProtocolVersion::V5,
                parser,
            )
        }
        ProtocolVersion::V4 => frames(&Packet::connect(nsp, None), ProtocolVersion::V4, parser),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_text(f: &Frames) -> String {
        match f.iter().next() {
            Some(EncodedPacket::Text(t)) => t.to_string(),
            other => panic!("not text: {other:?}"),
        }
    }

    #[test]
    fn connect_reply_written_directly_matches_the_encoder() {
        for nsp in ["/", "/chat"] {
            let direct = connect_reply(nsp, "abc", ProtocolVersion::V5, Parser::Default);
            let sid = Value::Object(vec![("sid".into(), Value::from("abc"))]);
            let encoded = frames(
                &Packet::connect(nsp, Some(sid)),
                ProtocolVersion::V5,
                Parser::Default,
            );
            assert_eq!(first_text(&direct), first_text(&encoded));
        }
        let v4 = connect_reply("/chat", "x", ProtocolVersion::V4, Parser::Default);
        assert_eq!(first_text(&v4), "40/chat,");
    }
}
