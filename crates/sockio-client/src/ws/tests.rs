use std::future::poll_fn;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use sockio_ws::apply_mask;

const OP_CONTINUATION: u8 = opcode::CONTINUATION;
const OP_TEXT: u8 = opcode::TEXT;
const OP_BINARY: u8 = opcode::BINARY;
const OP_CLOSE: u8 = opcode::CLOSE;
const OP_PING: u8 = opcode::PING;
const OP_PONG: u8 = opcode::PONG;

/// A server frame: unmasked unless `mask` is given (which a server must not do).
fn frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let start = out.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
    }
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask);
    }
    out
}

/// The client's frames in `data`, unmasked: (fin, opcode, payload). Panics on an
/// unmasked one (a client must mask every frame).
fn client_frames(mut data: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !data.is_empty() {
        let (fin, opcode) = (data[0] & 0x80 != 0, data[0] & 0x0f);
        assert!(data[1] & 0x80 != 0, "a client frame must be masked");
        let (len, at) = match data[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([data[2], data[3]])), 4),
            127 => {
                let mut n = [0; 8];
                n.copy_from_slice(&data[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        let mask = [data[at], data[at + 1], data[at + 2], data[at + 3]];
        let mut payload = data[at + 4..at + 4 + len].to_vec();
        apply_mask(&mut payload, mask);
        frames.push((fin, opcode, payload));
        data = &data[at + 4 + len..];
    }
    frames
}

fn pair(max_payload: usize) -> (ClientWs<DuplexStream>, DuplexStream) {
    let (client, server) = tokio::io::duplex(1 << 20);
    (ClientWs::new(client, &[], max_payload), server)
}

async fn next(ws: &mut ClientWs<DuplexStream>) -> WsEvent {
    poll_fn(|cx| ws.poll_next(cx)).await
}

async fn flush(ws: &mut ClientWs<DuplexStream>) {
    poll_fn(|cx| ws.poll_flush(cx)).await.unwrap();
}

/// Everything the client wrote, once its side is shut.
async fn written(mut ws: ClientWs<DuplexStream>, server: &mut DuplexStream) -> Vec<u8> {
    ws.finish().await.unwrap();
    drop(ws);
    let mut data = Vec::new();
    server.read_to_end(&mut data).await.unwrap();
    data
}

fn text(s: &str) -> WsEvent {
    WsEvent::Text(Utf8Bytes::from(s))
}

#[tokio::test]
async fn reads_text_and_binary_messages_and_keeps_no_buffer() {
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    let mut data = frame(true, OP_TEXT, b"4hello", None);
    data.extend(frame(true, OP_BINARY, &[1, 2, 3], None));
    server.write_all(&data).await.unwrap();
    assert_eq!(next(&mut ws).await, text("4hello"));
    // The second frame came in the same read: it is kept until asked for.
    assert!(!ws.pending.is_empty());
    assert_eq!(
        next(&mut ws).await,
        WsEvent::Binary(Bytes::from_static(&[1, 2, 3]))
    );
    assert_eq!(ws.pending.capacity(), 0);
}

#[tokio::test]
async fn frames_split_across_reads() {
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    let long = "x".repeat(70_000);
    let mut data = frame(true, OP_TEXT, b"a", None);
    data.extend(frame(true, OP_TEXT, long.as_bytes(), None));
    data.extend(frame(true, OP_TEXT, "é".repeat(200).as_bytes(), None));
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next(&mut ws).await);
        }
        (got, ws)
    });
    // One byte, then odd-sized pieces: headers and payloads cut anywhere.
    for piece in data.chunks(1).take(3).chain(data[3..].chunks(997)) {
        server.write_all(piece).await.unwrap();
        tokio::task::yield_now().await;
    }
    let (got, ws) = reader.await.unwrap();
    assert_eq!(got, vec![text("a"), text(&long), text(&"é".repeat(200))]);
    assert!(ws.pending.is_empty() && ws.pending.capacity() == 0);
}

#[tokio::test]
async fn the_handshake_tail_is_read_first() {
    let (client, mut server) = tokio::io::duplex(1024);
    let mut tail = frame(true, OP_TEXT, b"0{}", None);
    tail.extend_from_slice(&frame(true, OP_TEXT, b"40", None)[..2]);
    let mut ws = ClientWs::new(client, &tail, MAX_PAYLOAD);
    server.write_all(b"40").await.unwrap();
    assert_eq!(next(&mut ws).await, text("0{}"));
    assert_eq!(next(&mut ws).await, text("40"));
}

#[tokio::test]
async fn fragments_with_control_frames_between() {
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    let mut data = frame(false, OP_TEXT, b"4he", None);
    data.extend(frame(true, OP_PING, b"p1", None));
    data.extend(frame(false, OP_CONTINUATION, b"ll", None));
    data.extend(frame(true, OP_PONG, b"", None));
    data.extend(frame(true, OP_CONTINUATION, b"o", None));
    data.extend(frame(false, OP_BINARY, &[1], None));
    data.extend(frame(true, OP_CONTINUATION, &[2], None));
    server.write_all(&data).await.unwrap();
    assert_eq!(next(&mut ws).await, text("4hello"));
    assert_eq!(
        next(&mut ws).await,
        WsEvent::Binary(Bytes::from_static(&[1, 2]))
    );
    assert!(!ws.messages.in_message());
    // The ping was answered with a masked pong carrying its payload.
    let frames = client_frames(&written(ws, &mut server).await);
    assert_eq!(frames, vec![(true, OP_PONG, b"p1".to_vec())]);
}

#[tokio::test]
async fn sends_masked_frames_of_every_length_form() {
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    let sizes = [0, 125, 126, 65_535, 65_536, 100_000];
    for &n in &sizes {
        ws.send_text(&"y".repeat(n));
    }
    ws.send_binary(&[0, 255, 7]);
    let reader = tokio::spawn(async move {
        let mut data = Vec::new();
        server.read_to_end(&mut data).await.unwrap();
        data
    });
    flush(&mut ws).await;
    assert!(!ws.has_output());
    assert_eq!(ws.out.capacity(), 0);
    ws.finish().await.unwrap();
    drop(ws);
    let frames = client_frames(&reader.await.unwrap());
    let mut want: Vec<_> = sizes
        .iter()
        .map(|&n| (true, OP_TEXT, vec![b'y'; n]))
        .collect();
    want.push((true, OP_BINARY, vec![0, 255, 7]));
    assert_eq!(frames, want);
}

#[tokio::test]
async fn a_close_frame_is_answered_with_its_code() {
    for (payload, answer) in [
        (vec![0x03, 0xe8], vec![0x03, 0xe8]),                   // 1000
        (vec![0x0f, 0xa0, b'b', b'y', b'e'], vec![0x0f, 0xa0]), // 4000, reason dropped
        (vec![0x03, 0xed], vec![]),                             // 1005 may not be sent
        (vec![], vec![]),
        (vec![0x03], vec![0x03, 0xea]), // one byte: 1002
    ] {
        let (mut ws, mut server) = pair(MAX_PAYLOAD);
        server
            .write_all(&frame(true, OP_CLOSE, &payload, None))
            .await
            .unwrap();
        assert_eq!(next(&mut ws).await, WsEvent::Closed);
        // Closed stays closed; nothing is sent after the close frame.
        assert_eq!(next(&mut ws).await, WsEvent::Closed);
        ws.send_text("late");
        let frames = client_frames(&written(ws, &mut server).await);
        assert_eq!(frames, vec![(true, OP_CLOSE, answer)], "{payload:?}");
    }
}

#[tokio::test]
async fn the_end_of_the_connection_is_a_close() {
    let (mut ws, server) = pair(MAX_PAYLOAD);
    drop(server);
    assert_eq!(next(&mut ws).await, WsEvent::Closed);
    // Also inside a frame.
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    server
        .write_all(&frame(true, OP_TEXT, b"hello", None)[..4])
        .await
        .unwrap();
    drop(server);
    assert_eq!(next(&mut ws).await, WsEvent::Closed);
}

#[tokio::test]
async fn our_close_is_sent_once_and_empty() {
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    ws.send_text("41");
    ws.send_close(None);
    ws.send_close(Some(1000));
    let frames = client_frames(&written(ws, &mut server).await);
    assert_eq!(
        frames,
        vec![(true, OP_TEXT, b"41".to_vec()), (true, OP_CLOSE, vec![])]
    );
}

/// Feeds `data` and expects a failure answered with close `code`.
async fn fails_with(data: Vec<u8>, max_payload: usize, code: u16) {
    let (mut ws, mut server) = pair(max_payload);
    server.write_all(&data).await.unwrap();
    let event = next(&mut ws).await;
    assert!(matches!(event, WsEvent::Failed(_)), "{event:?}");
    assert_eq!(ws.pending.capacity(), 0);
    let frames = client_frames(&written(ws, &mut server).await);
    assert_eq!(
        frames,
        vec![(true, OP_CLOSE, code.to_be_bytes().to_vec())],
        "{data:?}"
    );
}

#[tokio::test]
async fn protocol_errors_close_with_1002() {
    // A server must not mask.
    fails_with(
        frame(true, OP_TEXT, b"4x", Some([1, 2, 3, 4])),
        MAX_PAYLOAD,
        1002,
    )
    .await;
    // Reserved bits.
    let mut rsv = frame(true, OP_TEXT, b"4x", None);
    rsv[0] |= 0x40;
    fails_with(rsv, MAX_PAYLOAD, 1002).await;
    // Control frames: not fragmented, at most 125 bytes.
    fails_with(frame(false, OP_PING, b"", None), MAX_PAYLOAD, 1002).await;
    fails_with(frame(true, OP_PING, &[0; 126], None), MAX_PAYLOAD, 1002).await;
    // Unknown opcodes.
    fails_with(frame(true, 0x3, b"", None), MAX_PAYLOAD, 1002).await;
    fails_with(frame(true, 0xB, b"", None), MAX_PAYLOAD, 1002).await;
    // A continuation with nothing begun; a new message inside a fragmented one.
    fails_with(frame(true, OP_CONTINUATION, b"x", None), MAX_PAYLOAD, 1002).await;
    let mut data = frame(false, OP_TEXT, b"4a", None);
    data.extend(frame(true, OP_TEXT, b"4b", None));
    fails_with(data, MAX_PAYLOAD, 1002).await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    fails_with(frame(true, OP_TEXT, &[b'4', 0xff], None), MAX_PAYLOAD, 1007).await;
    // Also when the fragments are only checked whole ("é" cut in two is fine).
    let mut data = frame(false, OP_TEXT, &[b'4', 0xc3], None);
    data.extend(frame(true, OP_CONTINUATION, &[0xa9], None));
    let (mut ws, mut server) = pair(MAX_PAYLOAD);
    server.write_all(&data).await.unwrap();
    assert_eq!(next(&mut ws).await, text("4é"));
    let mut data = frame(false, OP_TEXT, &[b'4', 0xc3], None);
    data.extend(frame(true, OP_CONTINUATION, b"x", None));
    fails_with(data, MAX_PAYLOAD, 1007).await;
}

#[tokio::test]
async fn messages_over_the_maximum_close_with_1009() {
    // The header alone tells: nothing of the payload needs to arrive.
    let mut header = frame(true, OP_BINARY, &[0; 11], None);
    header.truncate(2);
    fails_with(header, 10, 1009).await;
    let mut huge = vec![0x82, 127];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    fails_with(huge, MAX_PAYLOAD, 1009).await;
    // Fragments adding up to more.
    let mut data = frame(false, OP_TEXT, b"123456", None);
    data.extend(frame(true, OP_CONTINUATION, b"12345", None));
    fails_with(data, 10, 1009).await;
    // Exactly the maximum is fine.
    let (mut ws, mut server) = pair(10);
    server
        .write_all(&frame(true, OP_TEXT, b"0123456789", None))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await, text("0123456789"));
}
