//! Helpers of the client's integration tests: an event recorder, our own server served
//! in-process, Node servers started (and stopped by pid) as child processes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sockio_client::{args, ClientBuilder, Event, Manager, Socket, Value};

type Seen = (String, Vec<Value>, Instant);

/// Records events (name and arguments) in arrival order.
#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    pub fn push(&self, name: &str, args: Vec<Value>) {
        self.events
            .lock()
            .unwrap()
            .push((name.to_owned(), args, Instant::now()));
    }

    pub fn handler(&self, label: &str) -> impl Fn(Event) + Send + Sync + 'static {
        let me = self.clone();
        let label = label.to_owned();
        move |ev: Event| me.push(&label, ev.args)
    }

    /// Records `names` of a socket, each under its own name.
    pub fn socket(&self, socket: &Socket, names: &[&str]) {
        for n in names {
            socket.on(n, self.handler(n));
        }
    }

    pub fn manager(&self, manager: &Manager, names: &[&str]) {
        for n in names {
            manager.on(n, self.handler(n));
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.0.clone())
            .collect()
    }

    pub fn args_of(&self, name: &str) -> Vec<Vec<Value>> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == name)
            .map(|e| e.1.clone())
            .collect()
    }

    pub fn times_of(&self, name: &str) -> Vec<Instant> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == name)
            .map(|e| e.2)
            .collect()
    }

    pub fn count(&self, name: &str) -> usize {
        self.args_of(name).len()
    }

    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }

    /// Waits until `name` was seen `n` times; false on timeout.
    pub async fn wait(&self, name: &str, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.count(name) >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("tests")
        .join("js")
}

/// A Node server started from `tests/js/client/`, stopped (by pid) when dropped.
pub struct NodeServer {
    child: Child,
    pub port: u16,
    script: String,
}

impl NodeServer {
    /// Starts `tests/js/client/<script>` with `PORT=port` (0: any free port) and reads
    /// the `listening <port>` line it prints.
    pub fn start(script: &str, port: u16) -> NodeServer {
        NodeServer::try_start(script, port).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start(script: &str, port: u16) -> Result<NodeServer, String> {
        let js = js_dir();
        assert!(
            js.join("node_modules").exists(),
            "tests/js/node_modules missing: run `npm ci` in tests/js"
        );
        let mut child = Command::new("node")
            .arg(js.join("client").join(script))
            .current_dir(&js)
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start node (is Node.js installed?): {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        match line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
        {
            Some(port) => Ok(NodeServer {
                child,
                port,
                script: script.to_owned(),
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{script}: unexpected first line {line:?}"))
            }
        }
    }

    pub fn url(&self, nsp: &str) -> String {
        format!("http://127.0.0.1:{}{nsp}", self.port)
    }

    /// Kills the server (by pid) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the same script again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match NodeServer::try_start(&self.script, self.port) {
                // The old (dead) child is dropped here.
                Ok(s) => {
                    *self = s;
                    return;
                }
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Node tests are timing-sensitive: one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn v(json: &str) -> Value {
    Value::from_json(json).expect("json")
}

/// How long the payload checks wait for an answer.
const ANSWER: Duration = Duration::from_secs(5);

/// Binary nested in a typed payload: `Buffer`s on a Node server, `Bytes` here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nested {
    pub name: String,
    pub blobs: Vec<Bytes>,
    pub inner: Inner,
}

/// The inner part of [`Nested`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inner {
    pub data: Bytes,
    pub n: u32,
}

impl Nested {
    /// Three binary values at three depths; the second blob is given (socket.io 2 gets
    /// a non-empty one).
    pub fn sample(second_blob: &'static [u8]) -> Nested {
        Nested {
            name: "file".into(),
            blobs: vec![Bytes::from_static(&[1, 2]), Bytes::from_static(second_blob)],
            inner: Inner {
                data: Bytes::from_static(&[0xff, 0, 0x80]),
                n: 7,
            },
        }
    }
}

/// The client's side of the servers' `question`: an ack with text, binary and the number
/// of arguments the question had.
pub fn answer_question(ev: Event) {
    let _ = ev.ack(args![
        "answer",
        Bytes::from_static(&[1, 2, 3]),
        ev.args.len()
    ]);
}

/// `sample` both ways, typed: echoed in an ack, and bounced back by the server as a
/// `bounced` event (which `rec` records) with the second argument kept.
pub async fn check_nested_round_trips(
    socket: &Socket,
    rec: &Recorder,
    sample: &Nested,
    label: &str,
) {
    let reply = socket
        .timeout(ANSWER)
        .emit_with_ack("echo", sample.clone())
        .await
        .unwrap();
    let back: Nested = sockio_client::from_value(reply[0].clone()).unwrap();
    assert_eq!(&back, sample, "{label}");
    socket.emit("bounce", args![sample.clone(), "x"]).unwrap();
    assert!(rec.wait("bounced", 1, ANSWER).await, "{label}");
    let got = &rec.args_of("bounced")[0];
    assert_eq!(
        &sockio_client::from_value::<Nested>(got[0].clone()).unwrap(),
        sample,
        "{label}"
    );
    assert_eq!(got[1], Value::from("x"), "{label}");
}

/// Against the Node servers: accented and astral text (UTF-16 lengths in v3 payloads)
/// and a 200 KB binary echoed, and the paths at which the server sees `sample`'s binary.
pub async fn check_text_binary_and_paths(socket: &Socket, sample: &Nested, label: &str) {
    let text = "é😀\u{2028}x".repeat(5000);
    let blob = Bytes::from((0..200_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    let reply = socket
        .timeout(ANSWER)
        .emit_with_ack("echo", args![&text, blob.clone()])
        .await
        .unwrap();
    assert_eq!(reply[0].as_str(), Some(text.as_str()), "{label}");
    assert_eq!(reply[1], Value::Binary(blob), "{label}");
    let paths = socket
        .timeout(ANSWER)
        .emit_with_ack("binary-paths", sample.clone())
        .await
        .unwrap();
    assert_eq!(
        paths[0],
        v(r#"["$.blobs[0]","$.blobs[1]","$.inner.data"]"#),
        "{label}"
    );
}

/// The server asks (`ask-me` → its `question` with an ack), the client answers with
/// [`answer_question`], and the server reports the answer as an `answer-was` event
/// (recorded by `rec`) whose text must be `expected`.
pub async fn check_server_ack(socket: &Socket, rec: &Recorder, expected: &str, label: &str) {
    socket.emit("ask-me", ()).unwrap();
    assert!(rec.wait("answer-was", 1, ANSWER).await, "{label}");
    assert_eq!(
        rec.args_of("answer-was")[0][0].as_str(),
        Some(expected),
        "{label}"
    );
}

/// Multiplexing, against a server at `url(namespace)` whose `/` and `/admin` answer
/// `engine-id` with the Engine.IO session id: sockets of one URL share a connection (a
/// hand-made manager's too), `force_new` opens its own, and leaving one namespace keeps
/// the other.
pub async fn check_multiplexing(url: impl Fn(&str) -> String) {
    async fn engine_id(socket: &Socket) -> Vec<Value> {
        socket
            .timeout(ANSWER)
            .emit_with_ack("engine-id", ())
            .await
            .unwrap()
    }
    let main = ClientBuilder::new(&url("/")).connect().await.unwrap();
    let admin = ClientBuilder::new(&url("/admin")).connect().await.unwrap();
    let a = engine_id(&main).await;
    assert_eq!(a, engine_id(&admin).await, "one Engine.IO connection");
    assert_ne!(main.id(), admin.id());
    // A manager made by hand carries both too.
    let manager = ClientBuilder::new(&url("/")).manager().unwrap();
    let (m1, m2) = (manager.socket("/"), manager.socket("admin"));
    m1.connect_and_wait().await.unwrap();
    m2.connect_and_wait().await.unwrap();
    let c = engine_id(&m1).await;
    assert_eq!(c, engine_id(&m2).await);
    assert_ne!(a, c);
    // force_new: a connection of its own.
    let forced = ClientBuilder::new(&url("/admin"))
        .force_new(true)
        .connect()
        .await
        .unwrap();
    let e = engine_id(&forced).await;
    assert_ne!(e, a);
    assert_ne!(e, c);
    // Leaving one namespace keeps the other.
    admin.disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!admin.connected());
    assert_eq!(engine_id(&main).await, a);
    for s in [main, forced, m1] {
        s.io().close();
    }
}
