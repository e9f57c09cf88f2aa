//! Shared helpers of the behaviour tests: start the conformance server (or any other
//! example), run a Node test file against it.

#![allow(dead_code)]

pub mod cluster;
pub mod echo_engine;
pub mod raw_client;
pub mod redis;
pub mod two_servers;
pub mod ws_frames;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Node suites are timing-sensitive (300 ms heartbeats): run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary of example `name` cargo built next to this test.
fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A running example server (the conformance server, or one of `examples/`), stopped (by
/// pid) when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// The conformance server.
    pub fn start() -> Server {
        Self::start_with_env(&[])
    }

    /// The conformance server with extra environment variables.
    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        Self::start_example("conformance", env)
    }

    /// Starts `examples/<name>` with `PORT=0` (and `env`) and waits for the port it prints
    /// on its first stdout line, `listening <port>`. The rest of its stdout is read and
    /// dropped (shown on stderr with `SERVER_LOG` set), so its prints never fail.
    pub fn start_example(name: &str, env: &[(&str, &str)]) -> Server {
        let bin = example_bin(name);
        assert!(
            bin.exists(),
            "{} missing: cargo test builds examples",
            bin.display()
        );
        Self::spawn(name, Command::new(bin), env)
    }

    /// Starts socket.io 4.8 on Node: `tests/js/reference/conformance-server.mjs`, with
    /// `env` (its cluster mode with `REDIS_URL`).
    pub fn start_node_reference(env: &[(&str, &str)]) -> Server {
        let js = repo().join("tests").join("js");
        assert!(
            js.join("node_modules").exists(),
            "tests/js/node_modules missing: run `npm ci` in tests/js (scripts/test.sh does)"
        );
        let mut cmd = Command::new("node");
        cmd.arg("reference/conformance-server.mjs").current_dir(&js);
        Self::spawn("node-reference", cmd, env)
    }

    fn spawn(name: &str, mut cmd: Command, env: &[(&str, &str)]) -> Server {
        cmd.env("PORT", "0")
            .env(
                "RUST_LOG",
                std::env::var("SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start example {name}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example {name}: first stdout line {line:?} ({read:?}), not `listening <port>`");
        };
        let show = std::env::var_os("SERVER_LOG").is_some();
        let name = name.to_owned();
        std::thread::spawn(move || {
            let mut line = Vec::new();
            while matches!(stdout.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                if show {
                    eprintln!("[{name}] {}", String::from_utf8_lossy(&line).trim_end());
                }
                line.clear();
            }
        });
        Server { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `node --test` on files under `tests/js` against `url`; panics with Node's output
/// when a test fails.
pub fn run_node_tests(url: &str, files: &[&str]) {
    run_node_tests_with_env(url, files, &[]);
}

/// [`run_node_tests`] with more environment variables for the Node suites.
pub fn run_node_tests_with_env(url: &str, files: &[&str], env: &[(&str, &str)]) {
    let js = repo().join("tests").join("js");
    assert!(
        js.join("node_modules").exists(),
        "tests/js/node_modules missing: run `npm ci` in tests/js (scripts/test.sh does)"
    );
    let started = Instant::now();
    let out = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        .args(files)
        .current_dir(&js)
        .env("SOCKIO_URL", url)
        .envs(env.iter().copied())
        .output()
        .expect("run node (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ℹ tests") || l.starts_with("ℹ pass") || l.starts_with("ℹ fail"))
        .collect();
    eprintln!(
        "{files:?}: {} in {:.1?}",
        summary.join(", "),
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "node tests {files:?} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ℹ pass") && !stdout.contains("ℹ pass 0"),
        "node ran no test:\n{stdout}"
    );
}

/// Polls until `f` holds, for at most `timeout`.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
