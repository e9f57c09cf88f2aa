//! Engine.IO behaviour against real peers: the official npm clients (`engine.io-client` 6
//! for EIO=4, `engine.io-client` 3 for EIO=3) and raw HTTP / WebSocket requests, all
//! driving the conformance server's `/engine.io/` echo endpoint. The Node suites live in
//! `tests/js/engine/`; each passes against the stock Node `engine.io` too
//! (`tests/js/reference/engine-server.mjs`).

mod support;

use support::{run_node_tests, serial, Server};

fn suite(files: &[&str]) {
    let _one_at_a_time = serial();
    let server = Server::start();
    run_node_tests(&server.url(), files);
}

#[test]
fn engine_io_client_v6_polling_websocket_upgrade() {
    suite(&["engine/client-v4.test.mjs"]);
}

#[test]
fn engine_io_client_v3_polling_websocket_upgrade_base64() {
    suite(&["engine/client-v3.test.mjs"]);
}

#[test]
fn raw_handshake_and_errors() {
    suite(&["engine/raw-handshake.test.mjs"]);
}

#[test]
fn raw_polling_v4() {
    suite(&["engine/raw-polling.test.mjs"]);
}

#[test]
fn raw_websocket_and_upgrade() {
    suite(&["engine/raw-websocket.test.mjs"]);
}

#[test]
fn raw_v3_framing_jsonp_xhr2() {
    suite(&["engine/raw-v3.test.mjs"]);
}

#[test]
fn raw_hostile_traffic() {
    suite(&["engine/raw-robustness.test.mjs"]);
}
