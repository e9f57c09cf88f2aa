//! `sockio serve` end to end: the built binary on a free port (`--port 0`; its first
//! stdout line says which), driven by the Node scripts of `tests/js/serve/`:
//!
//! * `chat.browser.mjs`: the chat page in Debian's chromium (playwright-core), three
//!   pages, through a server stop and restart; screenshots in
//!   `target/serve-screenshots/`.
//! * `metrics.mjs`: a scripted session with socket.io-client; `/metrics` is parsed at
//!   each step and must count exactly what the session did.
//!
//! A script asks this test for what only it can do with a line `@@<command>` on stdout
//! (`scrape N`, `stop`, `start`) and waits for `ok` (or the failure) on stdin. Every
//! process is stopped by its pid. Bad configurations are checked too: one line on
//! stderr, a non-zero status, no panic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sockio() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockio"))
}

/// A running `sockio serve`, stopped (by pid) when dropped.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    /// Starts `sockio serve --port <port>` and waits for its first line.
    fn start(port: u16) -> Serve {
        let mut child = sockio()
            .args(["serve", "--port", &port.to_string(), "--log", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sockio serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("first stdout line {line:?}, not `listening on http://127.0.0.1:<port>/`");
        };
        // The rest of stdout is read and dropped, so that a print never blocks.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink);
        });
        Serve { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM, then waits: the server must be gone within two seconds, status 0.
    fn stop(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if !sent.success() {
            return Err("kill -TERM failed".into());
        }
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                if !status.success() {
                    return Err(format!("sockio serve exited with {status} on SIGTERM"));
                }
                let took = started.elapsed();
                if took > Duration::from_secs(2) {
                    return Err(format!("sockio serve took {took:?} to stop"));
                }
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(5) {
                return Err("sockio serve still running 5 s after SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of `GET {url}{path}`.
fn get(url: &str, path: &str) -> String {
    let addr = url.strip_prefix("http://").expect("http url");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// `GET {path}` with extra `headers`: the status line and headers (lower-cased names),
/// and the body's length.
fn head(url: &str, path: &str, headers: &str) -> (String, usize) {
    let addr = url.strip_prefix("http://").expect("http url");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .expect("write request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    let head = String::from_utf8_lossy(&response[..end]).to_lowercase();
    (head, response.len() - end - 4)
}

/// `/metrics`, parsed.
struct Metrics(Scrape);

impl Metrics {
    fn scrape(url: &str) -> Metrics {
        let text = get(url, "/metrics");
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse");
        Metrics(scrape)
    }

    /// The value of `name` with exactly `labels`; panics when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let sample = self.0.samples.iter().find(|s| {
            s.metric == name
                && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
                && s.labels.len() == labels.len()
        });
        match sample.map(|s| &s.value) {
            Some(Value::Counter(v)) | Some(Value::Gauge(v)) | Some(Value::Untyped(v)) => *v,
            other => panic!("{name}{labels:?}: {other:?}"),
        }
    }
}

/// Runs `node tests/js/serve/<script>` against `url`, answering its `@@` commands with
/// `answer`; panics with its output when it fails.
fn drive(
    script: &str,
    url: &str,
    env: &[(&str, &str)],
    mut answer: impl FnMut(&str) -> Result<(), String>,
) {
    let js = repo().join("tests/js");
    assert!(
        js.join("node_modules/playwright-core").exists(),
        "tests/js/node_modules missing: run `npm ci` in tests/js (scripts/test.sh does)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(format!("serve/{script}"))
        .current_dir(&js)
        .env("SOCKIO_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run node (is Node.js installed?)");
    let mut stdin: ChildStdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut output = Vec::new();
    loop {
        let line = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{script} timed out:\n{}", output.join("\n"));
            }
        };
        if let Some(command) = line.strip_prefix("@@") {
            let reply = match answer(command) {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.replace('\n', " "),
            };
            eprintln!("[{script}] {command}: {reply}");
            let _ = writeln!(stdin, "{reply}");
        }
        output.push(line);
    }
    let status = child.wait().expect("wait for node");
    let errors = errors.join().unwrap_or_default();
    assert!(
        status.success(),
        "{script} failed ({status}):\n{}\n{errors}",
        output.join("\n")
    );
    assert!(
        output.iter().any(|l| l == "1 passed, 0 failed"),
        "{script} ran no test"
    );
}

/// A metric's name, its labels and the value expected.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Checks `expected` against a scrape; the first difference.
fn check(m: &Metrics, expected: &[Expected]) -> Result<(), String> {
    for (name, labels, want) in expected {
        let got = m.value(name, labels);
        if got != *want {
            return Err(format!("{name}{labels:?} = {got}, expected {want}"));
        }
    }
    Ok(())
}

#[test]
fn metrics_count_a_scripted_session() {
    let mut server = Serve::start(0);
    let url = server.url();
    let ns: &[(&str, &str)] = &[("namespace", "/")];
    let ws4: &[(&str, &str)] = &[("transport", "websocket"), ("eio", "4")];
    let none: &[(&str, &str)] = &[];
    let code = |c: &'static str| -> Vec<(&'static str, &'static str)> { vec![("code", c)] };
    let (c0, c1, c2, c3, c4, c5) = (
        code("0"),
        code("1"),
        code("2"),
        code("3"),
        code("4"),
        code("5"),
    );
    let scrape = |n: u32| -> Result<(), String> {
        let m = Metrics::scrape(&url);
        // What every step shares: three clients on WebSocket, three rooms, the refused
        // requests, no slow client.
        check(
            &m,
            &[
                ("sockio_connected_clients", ws4, 3.0),
                (
                    "sockio_connected_clients",
                    &[("transport", "polling"), ("eio", "4")],
                    0.0,
                ),
                ("sockio_sockets", ns, 3.0),
                ("sockio_rooms", ns, 3.0),
                ("sockio_handshake_errors_total", &c0, 1.0),
                ("sockio_handshake_errors_total", &c1, 1.0),
                ("sockio_handshake_errors_total", &c2, 0.0),
                ("sockio_handshake_errors_total", &c3, 0.0),
                ("sockio_handshake_errors_total", &c4, 0.0),
                ("sockio_handshake_errors_total", &c5, 1.0),
                ("sockio_slow_client_disconnects_total", none, 0.0),
                // 3 lists of users (one per arrival), 3 room messages, 1 announcement,
                // 1 "typing"; private messages are emits to one socket.
                ("sockio_broadcasts_total", ns, 8.0),
            ],
        )?;
        // Packets: in, each client's CONNECT and events (alice: 6, bob: 3, xavier: 2,
        // then alice's private message); out, see metrics.mjs (25 in step 1, then the
        // private message, then alice's answer).
        let (packets_in, packets_out, pending, timeouts) = match n {
            1 => (11.0, 25.0, 0.0, 0.0),
            2 => (12.0, 26.0, 1.0, 0.0),
            _ => (12.0, 27.0, 0.0, 1.0),
        };
        check(
            &m,
            &[
                ("sockio_packets_received_total", none, packets_in),
                ("sockio_packets_sent_total", none, packets_out),
                ("sockio_acks_pending", ns, pending),
                ("sockio_ack_timeouts_total", ns, timeouts),
            ],
        )?;
        // At least one task per WebSocket session (and the connections being served).
        let tasks = m.value("sockio_engine_tasks", none);
        if tasks < 3.0 {
            return Err(format!(
                "sockio_engine_tasks = {tasks}, expected at least 3"
            ));
        }
        // Each text packet is at least its type digit and one character.
        let bytes_in = m.value("sockio_received_bytes_total", none);
        let bytes_out = m.value("sockio_sent_bytes_total", none);
        if bytes_in < 2.0 * packets_in || bytes_out < 2.0 * packets_out {
            return Err(format!("bytes in {bytes_in}, out {bytes_out}: too few"));
        }
        Ok(())
    };
    let mut stopped = false;
    drive("metrics.mjs", &url.clone(), &[], |command| match command {
        "scrape 1" => scrape(1),
        "scrape 2" => scrape(2),
        "scrape 3" => scrape(3),
        "stop" => {
            stopped = true;
            server.stop()
        }
        other => Err(format!("unknown command {other}")),
    });
    assert!(stopped, "the session ends by stopping the server");
}

#[test]
fn chat_in_a_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: `apt-get install -y chromium` (scripts/test.sh does)"
    );
    let shots = repo().join("target/serve-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let mut server = Some(Serve::start(0));
    let port = server.as_ref().map(|s| s.port).unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}");
    let shots_env = shots.to_string_lossy().into_owned();
    drive(
        "chat.browser.mjs",
        &url,
        &[("SCREENSHOT_DIR", &shots_env), ("CHROMIUM", &chromium)],
        |command| match command {
            "stop" => match server.take() {
                Some(mut s) => s.stop(),
                None => Err("not running".into()),
            },
            "start" => {
                // Same port: the pages reconnect to where they were.
                server = Some(Serve::start(port));
                Ok(())
            }
            other => Err(format!("unknown command {other}")),
        },
    );
    for name in [
        "01-nickname-taken",
        "02-room-message",
        "05-reconnecting",
        "06-after-restart",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name} missing"
        );
    }
}

/// Runs `sockio <args>` to its end; (status, stderr).
fn fails(args: &[&str]) -> (Option<i32>, String) {
    let out = sockio()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sockio");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: not one line on stderr: {stderr:?}"
    );
    (out.status.code(), stderr)
}

#[test]
fn bad_configuration_is_one_line_and_a_failure() {
    let (status, err) = fails(&["serve", "--prot", "3000"]);
    assert_eq!(status, Some(2));
    assert!(err.contains("--prot"), "{err}");

    let (status, err) = fails(&["serve", "--port", "seventy"]);
    assert_eq!(status, Some(2));
    assert!(err.contains("seventy"), "{err}");

    let (_, err) = fails(&["frobnicate"]);
    assert!(err.contains("frobnicate"), "{err}");

    let dir = std::env::temp_dir().join(format!("sockio-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "port = 3000\nping_interval_ms = \"soon\"\n").expect("write");
    let (status, err) = fails(&["serve", "--config", bad.to_str().unwrap()]);
    assert_eq!(status, Some(1));
    assert!(err.contains("bad.toml") && err.contains("line 2"), "{err}");

    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "prot = 3000\n").expect("write");
    let (_, err) = fails(&["serve", "--config", unknown.to_str().unwrap()]);
    assert!(err.contains("prot"), "{err}");

    let (_, err) = fails(&[
        "serve",
        "--config",
        dir.join("absent.toml").to_str().unwrap(),
    ]);
    assert!(err.contains("absent.toml"), "{err}");

    let (_, err) = fails(&[
        "serve",
        "--client-dir",
        dir.to_str().unwrap(),
        "--port",
        "0",
    ]);
    assert!(err.contains("scripts/setup.sh"), "{err}");

    let (_, err) = fails(&["serve", "--transports", "carrier-pigeon"]);
    assert!(err.contains("carrier-pigeon"), "{err}");

    let (_, err) = fails(&["serve", "--log", "[[["]);
    assert!(err.contains("log filter"), "{err}");

    let (status, err) = fails(&["serve", "--redis", "http://127.0.0.1:6379"]);
    assert_eq!(status, Some(1));
    assert!(err.contains("redis://"), "{err}");
    let (_, err) = fails(&[
        "serve",
        "--redis",
        "redis://127.0.0.1:6379",
        "--redis-adapter",
        "fancy",
    ]);
    assert!(err.contains("fancy"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (status, err) = fails(&["serve", "--port", &port]);
    assert_eq!(status, Some(1));
    assert!(
        err.contains("cannot listen") && err.contains(&port),
        "{err}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_client_bundle_is_served_like_socket_io() {
    let server = Serve::start(0);
    let url = server.url();
    let (h, len) = head(&url, "/socket.io/socket.io.min.js", "");
    assert!(h.starts_with("http/1.1 200"), "{h}");
    assert!(
        h.contains("content-type: application/javascript; charset=utf-8"),
        "{h}"
    );
    assert!(h.contains("cache-control: public, max-age=0"), "{h}");
    assert!(h.contains("etag: \"4.8."), "{h}");
    assert!(len > 10_000, "{len} bytes");
    let etag = h
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .to_owned();

    for tag in [etag.clone(), format!("W/{etag}")] {
        let (h, len) = head(
            &url,
            "/socket.io/socket.io.js",
            &format!("If-None-Match: {tag}\r\n"),
        );
        assert!(h.starts_with("http/1.1 304"), "{tag}: {h}");
        assert_eq!(len, 0);
    }
    let (h, _) = head(
        &url,
        "/socket.io/socket.io.js",
        "If-None-Match: \"0.0.1\"\r\n",
    );
    assert!(h.starts_with("http/1.1 200"), "{h}");

    let (h, _) = head(
        &url,
        "/socket.io/socket.io.esm.min.js.map",
        "Accept-Encoding: gzip\r\n",
    );
    assert!(
        h.contains("content-type: application/json; charset=utf-8"),
        "{h}"
    );
    assert!(h.contains("content-encoding: gzip"), "{h}");

    // The query string does not matter; other names under the path are the engine's.
    let (h, _) = head(&url, "/socket.io/socket.io.esm.min.js?v=1", "");
    assert!(h.starts_with("http/1.1 200"), "{h}");
    let (h, _) = head(&url, "/socket.io/index.js", "");
    assert!(h.starts_with("http/1.1 400"), "{h}");

    // The page loads the bundle from there, and the page itself is served.
    let page = get(&url, "/");
    assert!(page.contains("<script src=\"/socket.io/socket.io.min.js\"></script>"));
    assert!(get(&url, "/chat.js").contains("reconnect_attempt"));
}
