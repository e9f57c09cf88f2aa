//! Socket.IO behaviour against real peers: `socket.io-client` 4.8 (protocol v5) and 2.x
//! (protocol v4 over Engine.IO 3), and raw Socket.IO packets, driving the conformance
//! server's `/socket.io/` endpoint. The Node suites live in `tests/js/socketio/`; each
//! passes against socket.io 4.8 on Node too (`tests/js/reference/conformance-server.mjs`).

mod support;

use support::{run_node_tests, serial, Server};

fn suite(files: &[&str]) {
    let _one_at_a_time = serial();
    let server = Server::start();
    run_node_tests(&server.url(), files);
}

#[test]
fn socket_io_client_v4() {
    suite(&["socketio/client-v4.test.mjs"]);
}

#[test]
fn socket_io_client_v2_and_mixed_rooms() {
    suite(&["socketio/client-v2.test.mjs"]);
}

#[test]
fn raw_socket_io_packets_and_bad_input() {
    suite(&["socketio/raw.test.mjs"]);
}

#[test]
fn socket_io_client_with_the_msgpack_parser() {
    let _one_at_a_time = serial();
    let server = Server::start_with_env(&[("PARSER", "msgpack")]);
    run_node_tests(&server.url(), &["socketio/msgpack.test.mjs"]);
}
