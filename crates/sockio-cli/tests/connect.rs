//! `sockio connect` end to end: the `sockio` binary against socket.io 4.8 and 2.x on
//! Node (tests/js/client/server-v4.mjs, server-v2.mjs) and against sockio in this
//! process — lifecycle lines in order, `--emit --wait-ack`, stdin commands, exit codes.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Node server of `tests/js/client/`, stopped by pid when dropped.
struct Node {
    child: Child,
    port: u16,
    script: &'static str,
}

impl Node {
    fn start(script: &'static str, port: u16) -> Node {
        let js = repo().join("tests/js");
        assert!(js.join("node_modules").exists(), "run `npm ci` in tests/js");
        let mut child = Command::new("node")
            .arg(js.join("client").join(script))
            .current_dir(&js)
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("listening line");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Node {
            child,
            port,
            script,
        }
    }

    fn url(&self, nsp: &str) -> String {
        format!("http://127.0.0.1:{}{nsp}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `sockio connect`: its stdout lines as they come, its stdin.
struct Cli {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Cli {
    fn start(args: &[&str]) -> Cli {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockio"))
            .arg("connect")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sockio");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Cli {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{command}").expect("write a command");
        stdin.flush().expect("flush");
    }

    /// The next line that is not a heartbeat `ping` event.
    fn next(&mut self) -> String {
        loop {
            let line = self.lines.recv_timeout(WAIT).expect("a line in time");
            if !line.contains(r#""event":"ping""#) {
                return line;
            }
        }
    }

    /// Lines up to (and with) the first that contains `needle`.
    fn until(&mut self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self.next();
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    fn exit_code(&mut self) -> i32 {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "sockio connect did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn line(ns: &str, kind: &str, name: &str, args: &str) -> String {
    format!(r#"{{"ns":"{ns}","{kind}":"{name}","args":{args}}}"#)
}

#[test]
fn emit_wait_ack_against_socket_io_4() {
    let node = Node::start("server-v4.mjs", 0);
    let mut cli = Cli::start(&[
        &node.url("/"),
        "--emit",
        "echo",
        r#"["a",{"$binary":"AQID"},{"n":1}]"#,
        "--wait-ack",
    ]);
    assert_eq!(cli.next(), line("/", "event", "connecting", "[]"));
    assert_eq!(cli.next(), line("/", "event", "connect", "[]"));
    let ack = cli.until(r#""ack":"echo""#).pop().unwrap();
    assert_eq!(
        ack,
        line("/", "ack", "echo", r#"["a",{"$binary":"AQID"},{"n":1}]"#)
    );
    assert_eq!(cli.exit_code(), 0);
}

#[test]
fn stdin_commands_and_the_lifecycle_of_a_lost_server() {
    let mut node = Node::start("server-v4.mjs", 0);
    let port = node.port;
    let mut cli = Cli::start(&[
        &node.url("/"),
        "--transports",
        "websocket",
        "--reconnection-delay",
        "100",
        "--reconnection-delay-max",
        "200",
        "--randomization-factor",
        "0",
    ]);
    cli.until(r#""event":"connect""#);
    cli.send(r#"emit bounce [1,"two",{"$binary":"/w=="}]"#);
    assert_eq!(
        cli.until("bounced").pop().unwrap(),
        line("/", "event", "bounced", r#"[1,"two",{"$binary":"/w=="}]"#)
    );
    cli.send(r#"emit-ack echo ["x"]"#);
    assert_eq!(
        cli.until(r#""ack""#).pop().unwrap(),
        line("/", "ack", "echo", r#"["x"]"#)
    );
    cli.send("disconnect");
    assert_eq!(
        cli.next(),
        line("/", "event", "disconnect", r#"["io client disconnect"]"#)
    );
    cli.send("connect");
    cli.until(r#""event":"connect""#);

    // The server goes away and comes back on the same port.
    node.kill();
    assert_eq!(
        cli.next(),
        line("/", "event", "disconnect", r#"["transport close"]"#)
    );
    assert_eq!(cli.next(), line("/", "event", "reconnecting", "[1]"));
    assert_eq!(cli.next(), line("/", "event", "connecting", "[]"));
    let _node = Node::start(node.script, port);
    let rest = cli.until(r#""event":"connect""#);
    let names: Vec<&str> = rest
        .iter()
        .map(|l| {
            l.split(r#""event":""#)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    // Failed attempts (if the restart took a while), then reconnect and connect.
    assert_eq!(
        names[names.len() - 2..],
        ["reconnect", "connect"],
        "{rest:?}"
    );
    for pair in names[..names.len() - 2].chunks(4) {
        assert_eq!(
            pair,
            [
                "connect_error",
                "reconnect_error",
                "reconnecting",
                "connecting"
            ],
            "{rest:?}"
        );
    }
    cli.send("quit");
    assert_eq!(cli.exit_code(), 0);
}

#[test]
fn giving_up_exits_1_and_usage_errors_exit_2() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cli = Cli::start(&[
        &format!("http://127.0.0.1:{port}/"),
        "--reconnection-attempts",
        "2",
        "--reconnection-delay",
        "50",
        "--randomization-factor",
        "0",
    ]);
    let seen = cli.until("reconnect_failed");
    assert!(seen[0].contains("connecting"), "{seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|l| l.contains(r#""event":"reconnecting""#))
            .count(),
        2
    );
    assert_eq!(cli.exit_code(), 1);

    for bad in [
        vec!["http://127.0.0.1:1/", "--auth", "[1]"],
        vec!["http://127.0.0.1:1/", "--emit", "ev", "{not json"],
        vec!["http://127.0.0.1:1/", "--eio", "5"],
        vec!["http://127.0.0.1:1/", "--wait-ack"],
        vec!["ftp://127.0.0.1/"],
    ] {
        let mut cli = Cli::start(&bad);
        assert_eq!(cli.exit_code(), 2, "{bad:?}");
    }
}

#[test]
fn an_ack_that_never_comes_exits_1() {
    let node = Node::start("server-v4.mjs", 0);
    let mut cli = Cli::start(&[
        &node.url("/"),
        "--emit",
        "bounce",
        "[]",
        "--wait-ack",
        "--ack-timeout",
        "300",
    ]);
    assert_eq!(cli.exit_code(), 1);
}

#[test]
fn socket_io_2_with_eio_3() {
    let node = Node::start("server-v2.mjs", 0);
    let mut cli = Cli::start(&[
        &node.url("/"),
        "--eio",
        "3",
        "--emit",
        "echo",
        r#"[{"$binary":"AAEC"},"z"]"#,
        "--wait-ack",
    ]);
    assert_eq!(
        cli.until(r#""ack""#).pop().unwrap(),
        line("/", "ack", "echo", r#"[{"$binary":"AAEC"},"z"]"#)
    );
    assert_eq!(cli.exit_code(), 0);
}

#[test]
fn sockio_server_namespaces_auth_and_refusals() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let io = sockio::SocketIo::new();
    let admin = io.of("/admin");
    admin.middleware(|socket| async move {
        match socket.auth().get("token").and_then(|t| t.as_str()) {
            Some("secret") => Ok(()),
            _ => Err(sockio::ConnectError::new("not authorized")
                .with_data(serde_json::json!({"code": 7}))),
        }
    });
    admin.on_connection(|s| {
        s.on("whoami", |s, mut e| {
            let _ = e.ack(s.auth().clone());
        });
    });
    let port = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let io = io.clone();
        tokio::spawn(async move { io.serve(listener).await });
        port
    });
    let url = format!("http://127.0.0.1:{port}/admin");
    let mut cli = Cli::start(&[
        &url,
        "--auth",
        r#"{"token":"secret"}"#,
        "--emit",
        "whoami",
        "[]",
        "--wait-ack",
    ]);
    assert_eq!(
        cli.until(r#""ack""#).pop().unwrap(),
        line("/admin", "ack", "whoami", r#"[{"token":"secret"}]"#)
    );
    assert_eq!(cli.exit_code(), 0);

    let mut cli = Cli::start(&[&url, "--auth", r#"{"token":"nope"}"#, "--no-reconnection"]);
    assert_eq!(cli.next(), line("/admin", "event", "connecting", "[]"));
    assert_eq!(
        cli.next(),
        line(
            "/admin",
            "event",
            "connect_error",
            r#"[{"message":"not authorized","data":{"code":7}}]"#
        )
    );
    drop(rt);
}
