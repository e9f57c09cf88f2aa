//! Helpers of the client's integration tests: an event recorder, our own server served
//! in-process, Node servers started (and stopped by pid) as child processes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockio_client::{Event, Manager, Socket, Value};

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
