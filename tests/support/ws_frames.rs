//! WebSocket frames written and read by hand, for the raw-TCP engine tests.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A client text frame: final, masked (as clients must send them), payload under 126
/// bytes.
pub fn client_text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126, "a short frame");
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one server text frame: final, unmasked, payload under 126 bytes.
pub async fn server_text_frame(stream: &mut TcpStream) -> String {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.unwrap();
    assert_eq!(header[0], 0x81, "a final text frame");
    let mut payload = vec![0u8; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut payload).await.unwrap();
    String::from_utf8(payload).unwrap()
}
