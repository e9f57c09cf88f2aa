//! Every example of `examples/` runs and does what its doc comment promises: each test
//! starts the example's binary (`PORT=0`, the port from its `listening <port>` line) and
//! drives it with its Node file, `tests/js/examples/<name>.test.mjs`, using
//! socket.io-client 4.8 (engine.io-client 6 for the Engine.IO-only `axum`).

mod support;

use support::{run_node_tests, serial, Server};

/// Starts `examples/<name>` and runs `tests/js/examples/<name>.test.mjs` against it.
fn example(name: &str) {
    // One Node suite at a time, as in the other behaviour tests: some wait on timeouts.
    let _one_at_a_time = serial();
    let server = Server::start_example(name, &[]);
    run_node_tests(&server.url(), &[&format!("examples/{name}.test.mjs")]);
}

#[test]
fn chat() {
    example("chat");
}

#[test]
fn private_message() {
    example("private_message");
}

#[test]
fn namespaces_auth() {
    example("namespaces_auth");
}

#[test]
fn acks() {
    example("acks");
}

#[test]
fn binary() {
    example("binary");
}

#[test]
fn broadcast_acks() {
    example("broadcast_acks");
}

#[test]
fn async_listener() {
    example("async_listener");
}

#[test]
fn axum() {
    example("axum");
}
