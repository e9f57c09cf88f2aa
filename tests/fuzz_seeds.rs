//! Every committed fuzz seed (`fuzz/seeds/<target>/`: handwritten inputs and the inputs
//! fuzzing found interesting, crashes fixed included) runs through its target's checks
//! in the normal test suite, so a regression shows without a fuzzer.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

fn run(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("seeds")
        .join(target);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("seed folder") {
        let path = entry.expect("seed").path();
        let data = std::fs::read(&path).expect("seed bytes");
        check(&data);
        // Every prefix too: inputs cut anywhere must not panic either.
        for end in 0..data.len() {
            check(&data[..end]);
        }
        seen += 1;
    }
    assert!(seen > 0, "no seed in {}", dir.display());
}

#[test]
fn engine_packet_seeds() {
    run("engine_packet", targets::engine_packet);
}

#[test]
fn engine_payload_seeds() {
    run("engine_payload", targets::engine_payload);
}

#[test]
fn socket_decoder_seeds() {
    run("socket_decoder", targets::socket_decoder);
}

#[test]
fn msgpack_seeds() {
    run("msgpack", targets::msgpack);
}

#[test]
fn query_seeds() {
    run("query", targets::query);
}

#[test]
fn http_head_seeds() {
    run("http_head", targets::http_head);
}

#[test]
fn ws_frames_seeds() {
    run("ws_frames", targets::ws_frames);
}

#[test]
fn client_engine_seeds() {
    run("client_engine", targets::client_engine);
}

#[test]
fn client_ws_seeds() {
    run("client_ws", targets::client_ws);
}

#[test]
fn client_handshake_seeds() {
    run("client_handshake", targets::client_handshake);
}

#[test]
fn client_socket_seeds() {
    run("client_socket", targets::client_socket);
}

#[test]
fn client_url_seeds() {
    run("client_url", targets::client_url);
}
