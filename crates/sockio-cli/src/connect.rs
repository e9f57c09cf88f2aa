//! `sockio connect`: a Socket.IO client on the command line, the `wscat` of Socket.IO.
//!
//! Every event it receives, lifecycle events included, is one JSON line on stdout
//! (`{"ns":"/","event":NAME,"args":[…]}`), every acknowledgement it gets back too
//! (`{"ns":"/","ack":EVENT,"args":[…]}`); binary values are `{"$binary":"<base64>"}`.
//! Logs go to stderr. Commands come on stdin, one a line: `emit EVENT JSON_ARRAY`,
//! `emit-ack EVENT JSON_ARRAY`, `disconnect`, `connect`, `quit`.
//!
//! Exit status: 0 after `quit` (or a successful `--emit … --wait-ack`), 1 after
//! `connect_failed`, `reconnect_failed` or an acknowledgement that did not come in time,
//! 2 for a bad command line.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use clap::Args;
use sockio::client::{ClientBuilder, Event, Socket, TransportKind, Value};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// `sockio connect`'s command line.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The server and namespace, e.g. `http://localhost:3000/chat` (http, https, ws, wss).
    url: String,
    /// The Engine.IO path.
    #[arg(long, default_value = "/socket.io/")]
    path: String,
    /// Transports in the order tried: `polling,websocket` (upgrade), `websocket`, `polling`.
    #[arg(long, default_value = "polling,websocket")]
    transports: String,
    /// Engine.IO protocol: 4 (socket.io 3 and 4) or 3 (socket.io 2).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(3..=4))]
    eio: u8,
    /// The auth payload, a JSON object.
    #[arg(long)]
    auth: Option<String>,
    /// A query parameter `K=V` (repeatable).
    #[arg(long = "query", value_name = "K=V")]
    query: Vec<String>,
    /// An extra request header `"K: V"` (repeatable).
    #[arg(long = "header", value_name = "K: V")]
    header: Vec<String>,
    /// Do not reconnect after losing the connection.
    #[arg(long)]
    no_reconnection: bool,
    /// Reconnection attempts before giving up (default: unlimited).
    #[arg(long)]
    reconnection_attempts: Option<u32>,
    /// First reconnection delay, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    reconnection_delay: u64,
    /// Longest reconnection delay, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    reconnection_delay_max: u64,
    /// Randomization of the reconnection delays, 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    randomization_factor: f64,
    /// Emits EVENT with the JSON array's elements as arguments once connected.
    #[arg(long, num_args = 2, value_names = ["EVENT", "JSON_ARRAY"])]
    emit: Option<Vec<String>>,
    /// With `--emit`: asks for an acknowledgement, prints it and exits (1 if none comes).
    #[arg(long, requires = "emit")]
    wait_ack: bool,
    /// How long `--wait-ack` and `emit-ack` wait, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    ack_timeout: u64,
}

/// Writes whole lines to stdout, one at a time.
#[derive(Clone)]
struct Out(Arc<Mutex<std::io::Stdout>>);

impl Out {
    /// `{"ns":…,"<kind>":<name>,"args":[…]}`, keys in that order.
    fn line(&self, nsp: &str, kind: &str, name: &str, args: &[Value]) {
        let mut text = format!(
            "{{\"ns\":{},\"{kind}\":{},\"args\":",
            serde_json::Value::from(nsp),
            serde_json::Value::from(name),
        );
        write_json(&Value::Array(args.to_vec()), &mut text);
        text.push('}');
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Writes a Socket.IO value as JSON, keys in their order, binary as
/// `{"$binary":"<base64>"}`.
fn write_json(value: &Value, out: &mut String) {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&text(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&text(k));
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
        Value::Binary(b) => {
            out.push_str("{\"$binary\":\"");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push_str("\"}");
        }
    }
}

/// JSON from the command line as a Socket.IO value, `{"$binary": base64}` as binary.
fn from_json(value: serde_json::Value) -> Result<Value, String> {
    Ok(match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Number(n),
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => {
            Value::Array(a.into_iter().map(from_json).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(o) => {
            if let (1, Some(serde_json::Value::String(b64))) = (o.len(), o.get("$binary")) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("$binary: {e}"))?;
                return Ok(Value::Binary(bytes.into()));
            }
            Value::Object(
                o.into_iter()
                    .map(|(k, v)| from_json(v).map(|v| (k, v)))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// A JSON array from the command line as an argument list.
fn args_of(json: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Array(a)) => a.into_iter().map(from_json).collect(),
        Ok(_) => Err(format!("{json}: not a JSON array")),
        Err(e) => Err(format!("{json}: {e}")),
    }
}

/// What the client's handlers tell the main loop.
enum Signal {
    Connected,
    GaveUp(&'static str),
}

/// The lifecycle events of a socket and of its manager, printed like server events.
const SOCKET_EVENTS: [&str; 6] = [
    "connecting",
    "connect",
    "connect_error",
    "connect_failed",
    "disconnect",
    "error",
];
const MANAGER_EVENTS: [&str; 5] = [
    "reconnecting",
    "reconnect",
    "reconnect_error",
    "reconnect_failed",
    "ping",
];

fn builder(args: &ConnectArgs) -> Result<ClientBuilder, String> {
    let mut b = ClientBuilder::new(&args.url).path(&args.path);
    let mut transports = Vec::new();
    for t in args.transports.split(',').map(str::trim) {
        transports.push(match t {
            "polling" => TransportKind::Polling,
            "websocket" => TransportKind::WebSocket,
            other => return Err(format!("--transports: unknown transport {other:?}")),
        });
    }
    b = b.transports(&transports);
    if args.eio == 3 {
        b = b.eio3();
    }
    if let Some(auth) = &args.auth {
        let value: serde_json::Value =
            serde_json::from_str(auth).map_err(|e| format!("--auth: {e}"))?;
        if !value.is_object() {
            return Err("--auth: not a JSON object".into());
        }
        b = b.auth(value);
    }
    for q in &args.query {
        let (k, v) = q
            .split_once('=')
            .ok_or_else(|| format!("--query {q:?}: expected K=V"))?;
        b = b.query(k, v);
    }
    for h in &args.header {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("--header {h:?}: expected \"K: V\""))?;
        b = b
            .header(k.trim(), v.trim())
            .map_err(|e| format!("--header {h:?}: {e}"))?;
    }
    if !(0.0..=1.0).contains(&args.randomization_factor) {
        return Err("--randomization-factor: expected a number from 0 to 1".into());
    }
    b = b
        .reconnection(!args.no_reconnection)
        .reconnection_delay(Duration::from_millis(args.reconnection_delay))
        .reconnection_delay_max(Duration::from_millis(args.reconnection_delay_max))
        .randomization_factor(args.randomization_factor);
    if let Some(n) = args.reconnection_attempts {
        b = b.reconnection_attempts(n);
    }
    Ok(b)
}

/// Runs `sockio connect`; returns the exit status.
pub fn run(args: ConnectArgs) -> ExitCode {
    let emit = match &args.emit {
        Some(e) => match args_of(&e[1]) {
            Ok(values) => Some((e[0].clone(), values)),
            Err(msg) => return usage(&format!("--emit: {msg}")),
        },
        None => None,
    };
    let builder = match builder(&args) {
        Ok(b) => b,
        Err(msg) => return usage(&msg),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(session(builder, args, emit));
    // The stdin reader may be blocked in a read: don't wait for it.
    runtime.shutdown_background();
    code
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg} (see `sockio connect --help`)");
    ExitCode::from(2)
}

async fn session(
    builder: ClientBuilder,
    args: ConnectArgs,
    emit: Option<(String, Vec<Value>)>,
) -> ExitCode {
    let out = Out(Arc::new(Mutex::new(std::io::stdout())));
    let (signal_tx, mut signals) = mpsc::unbounded_channel::<Signal>();
    let manager = match builder.manager() {
        Ok(m) => m,
        Err(e) => return usage(&e.to_string()),
    };
    let nsp = match sockio::client::ServerUrl::parse(&args.url) {
        Ok(url) => url.namespace,
        Err(e) => return usage(&e.to_string()),
    };
    let print = |out: &Out, nsp: &str, ev: &Event| out.line(nsp, "event", &ev.name, &ev.args);
    for name in MANAGER_EVENTS {
        let (out, nsp, tx) = (out.clone(), nsp.clone(), signal_tx.clone());
        manager.on(name, move |ev| {
            print(&out, &nsp, &ev);
            if ev.name == "reconnect_failed" {
                let _ = tx.send(Signal::GaveUp("reconnect_failed"));
            }
        });
    }
    let socket = manager.socket(&nsp);
    for name in SOCKET_EVENTS {
        let (out, nsp, tx) = (out.clone(), nsp.clone(), signal_tx.clone());
        socket.on(name, move |ev| {
            print(&out, &nsp, &ev);
            match ev.name.as_str() {
                "connect" => {
                    let _ = tx.send(Signal::Connected);
                }
                "connect_failed" => {
                    let _ = tx.send(Signal::GaveUp("connect_failed"));
                }
                _ => {}
            }
        });
    }
    {
        let (out, nsp) = (out.clone(), nsp.clone());
        socket.on_any(move |ev| {
            if !SOCKET_EVENTS.contains(&ev.name.as_str()) {
                print(&out, &nsp, &ev);
            }
        });
    }
    socket.connect();

    let ack_timeout = Duration::from_millis(args.ack_timeout);
    let mut emit = emit;
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            if line_tx.send(line).is_err() {
                break;
            }
        }
        // End of input: the session goes on (scripts may only read).
    });
    loop {
        tokio::select! {
            signal = signals.recv() => match signal {
                Some(Signal::Connected) => {
                    if let Some((event, values)) = emit.take() {
                        if args.wait_ack {
                            return if emit_ack(&socket, &out, &nsp, &event, values, ack_timeout).await {
                                ExitCode::SUCCESS
                            } else {
                                ExitCode::FAILURE
                            };
                        }
                        if let Err(e) = socket.emit(&event, sockio::client::Args::from(values)) {
                            eprintln!("emit {event}: {e}");
                        }
                    }
                }
                Some(Signal::GaveUp(why)) => {
                    // The events that come with giving up (`connect_failed` after
                    // `reconnect_failed`) are printed too.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    eprintln!("error: {why}");
                    return ExitCode::FAILURE;
                }
                None => return ExitCode::FAILURE,
            },
            Some(line) = lines.recv() => {
                if !command(&socket, &out, &nsp, line.trim(), ack_timeout) {
                    socket.disconnect();
                    manager.close();
                    return ExitCode::SUCCESS;
                }
            }
        }
    }
}

/// Emits with an acknowledgement and prints the answer; false when it did not come.
async fn emit_ack(
    socket: &Socket,
    out: &Out,
    nsp: &str,
    event: &str,
    values: Vec<Value>,
    timeout: Duration,
) -> bool {
    match socket
        .timeout(timeout)
        .emit_with_ack(event, sockio::client::Args::from(values))
        .await
    {
        Ok(answer) => {
            out.line(nsp, "ack", event, &answer);
            true
        }
        Err(e) => {
            eprintln!("error: acknowledgement of {event}: {e}");
            false
        }
    }
}

/// Runs one stdin command; false for `quit`.
fn command(socket: &Socket, out: &Out, nsp: &str, line: &str, ack_timeout: Duration) -> bool {
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    match word {
        "" => {}
        "quit" => return false,
        "disconnect" => socket.disconnect(),
        "connect" => socket.connect(),
        "emit" | "emit-ack" => {
            let rest = rest.trim_start();
            let (event, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, "[]"));
            if event.is_empty() {
                eprintln!("usage: {word} EVENT JSON_ARRAY");
                return true;
            }
            let values = match args_of(json.trim()) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{word}: {e}");
                    return true;
                }
            };
            if word == "emit" {
                if let Err(e) = socket.emit(event, sockio::client::Args::from(values)) {
                    eprintln!("emit {event}: {e}");
                }
            } else {
                let (socket, out, nsp, event) = (
                    socket.clone(),
                    out.clone(),
                    nsp.to_owned(),
                    event.to_owned(),
                );
                tokio::spawn(async move {
                    emit_ack(&socket, &out, &nsp, &event, values, ack_timeout).await;
                });
            }
        }
        other => eprintln!("unknown command {other:?} (emit, emit-ack, disconnect, connect, quit)"),
    }
    true
}
