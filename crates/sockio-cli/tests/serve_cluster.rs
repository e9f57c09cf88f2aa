//! `sockio serve --redis`: two chat servers (the built binary, each on its own free port)
//! joined through one real `redis-server` (started on a free port by
//! `tests/support/redis.rs`), with sockio clients on each — one chat: room messages,
//! announcements, private messages with their acknowledgement, the list of users and
//! taken nicknames span both nodes. Redis stopped: both servers keep serving their own
//! users; Redis back: the nodes talk again. Every process is stopped by its pid.

#[allow(dead_code)]
#[path = "../../../tests/support/redis.rs"]
mod redis;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sockio::client::{ClientBuilder, Error, Event, Socket};
use sockio::protocol::socket::from_value;
use tokio::sync::mpsc;

use redis::{free_port, RedisServer};

/// One `sockio serve --redis` node, killed (by pid) when dropped.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(redis_url: &str) -> Node {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockio"))
            .args(["serve", "--port", &port.to_string(), "--log", "warn"])
            .args(["--redis", redis_url, "--redis-key", "chat-test"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sockio serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        if line.trim() != format!("listening on http://127.0.0.1:{port}/") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("first stdout line {line:?}");
        }
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink);
        });
        Node { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chat page: its socket and every event it got, in order.
struct Page {
    socket: Socket,
    id: String,
    events: mpsc::UnboundedReceiver<(String, Value)>,
}

async fn page(url: &str, nickname: &str, token: &str) -> Result<Page, Error> {
    let (tx, events) = mpsc::unbounded_channel();
    let socket = ClientBuilder::new(url)
        .auth(json!({ "nickname": nickname, "token": token }))
        .on_any(move |ev: Event| {
            let arg = ev.arg::<Value>(0).unwrap_or(Value::Null);
            // A private message is acknowledged by the page that shows it.
            if ev.wants_ack() {
                let _ = ev.ack(());
            }
            let _ = tx.send((ev.name.clone(), arg));
        })
        .connect()
        .await?;
    let mut page = Page {
        socket,
        id: String::new(),
        events,
    };
    let welcome = page.wait("welcome", |_| true).await;
    page.id = welcome["id"].as_str().expect("welcome id").to_owned();
    Ok(page)
}

impl Page {
    /// The next `event` for which `matches` holds (others are skipped); panics after 10 s.
    async fn wait(&mut self, event: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((name, arg))) if name == event && matches(&arg) => return arg,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("page closed waiting for {event}"),
                Err(_) => panic!("no matching {event} within 10 s"),
            }
        }
    }

    /// Whether a matching `event` comes within `within`.
    async fn gets(
        &mut self,
        event: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((name, arg))) if name == event && matches(&arg) => return true,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Emits with acknowledgement; the answer.
    async fn ask(&self, event: &str, arg: Value) -> Value {
        let answer = self
            .socket
            .timeout(Duration::from_secs(10))
            .emit_with_ack(event, arg)
            .await
            .unwrap_or_else(|e| panic!("{event}: {e}"));
        let first = answer
            .into_iter()
            .next()
            .unwrap_or(sockio::protocol::socket::Value::Null);
        from_value(first).expect("json")
    }
}

fn nicknames(users: &Value) -> Vec<String> {
    users
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|u| u["nickname"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn text_is(text: &'static str) -> impl Fn(&Value) -> bool {
    move |m: &Value| m["text"] == text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_nodes_share_one_chat_through_redis() {
    let mut redis = RedisServer::start();
    let mut a = Node::start(&redis.url());
    let mut b = Node::start(&redis.url());

    let mut alice = page(&a.url(), "alice", "token-alice").await.expect("alice");
    let mut bob = page(&b.url(), "bob", "token-bob").await.expect("bob");

    // The list of users is the cluster's, on both nodes.
    let both = |u: &Value| nicknames(u) == ["alice", "bob"];
    alice.wait("users", both).await;
    bob.wait("users", both).await;

    // A nickname held on the other node is taken.
    match page(&b.url(), "Alice", "another-page").await {
        Err(Error::ConnectRefused { message, .. }) => {
            assert!(message.contains("taken"), "{message}")
        }
        other => panic!("Alice on node b: {:?}", other.map(|p| p.id)),
    }

    // Rooms across nodes.
    for p in [&alice, &bob] {
        let joined = p.ask("join", json!(["lobby"])).await;
        assert_eq!(joined, json!({ "rooms": ["lobby"] }));
    }
    let sent = alice
        .ask(
            "room message",
            json!({ "room": "lobby", "text": "hello from a" }),
        )
        .await;
    assert_eq!(sent, json!({ "ok": true }));
    let got = bob.wait("message", text_is("hello from a")).await;
    assert_eq!(got["kind"], "room");
    assert_eq!(got["from"], "alice");
    assert_eq!(got["fromId"], alice.id.as_str());

    // Announcements across nodes.
    let sent = bob.ask("announce", json!({ "text": "hi all" })).await;
    assert_eq!(sent, json!({ "ok": true }));
    let got = alice.wait("message", text_is("hi all")).await;
    assert_eq!(
        (got["kind"].as_str(), got["from"].as_str()),
        (Some("all"), Some("bob"))
    );

    // A private message to a socket of the other node, acknowledged by its page.
    let sent = bob
        .ask("private message", json!({ "to": alice.id, "text": "psst" }))
        .await;
    assert_eq!(sent, json!({ "ok": true }));
    let got = alice.wait("message", text_is("psst")).await;
    assert_eq!(
        (got["kind"].as_str(), got["from"].as_str()),
        (Some("private"), Some("bob"))
    );
    let sent = bob
        .ask(
            "private message",
            json!({ "to": "AAAAAAAAAAAAAAAAAAAA", "text": "x" }),
        )
        .await;
    assert_eq!(sent, json!({ "error": "nobody with that id is online" }));
    for room in ["#lobby", "@alice"] {
        let sent = bob
            .ask("private message", json!({ "to": room, "text": "x" }))
            .await;
        assert_eq!(sent, json!({ "error": "nobody with that id is online" }));
    }

    // A departure on one node reaches the list of the other.
    let carol = page(&b.url(), "carol", "token-carol").await.expect("carol");
    alice
        .wait("users", |u| nicknames(u) == ["alice", "bob", "carol"])
        .await;
    carol.socket.disconnect();
    alice.wait("users", both).await;

    // Redis away: nobody crashes, each node still serves its own users.
    let mut dave = page(&a.url(), "dave", "token-dave").await.expect("dave");
    assert_eq!(
        dave.ask("join", json!(["lobby"])).await,
        json!({ "rooms": ["lobby"] })
    );
    redis.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = alice
        .ask(
            "room message",
            json!({ "room": "lobby", "text": "redis is gone" }),
        )
        .await;
    assert_eq!(sent, json!({ "ok": true }));
    dave.wait("message", text_is("redis is gone")).await;
    let late = page(&b.url(), "erin", "token-erin")
        .await
        .expect("erin connects to b");
    drop(late);
    assert!(a.running() && b.running(), "a node died with Redis");

    // Redis back: the nodes reconnect and talk again.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    loop {
        n += 1;
        let text = format!("back {n}");
        let sent = alice
            .ask("room message", json!({ "room": "lobby", "text": text }))
            .await;
        assert_eq!(sent, json!({ "ok": true }));
        let expected = text.clone();
        if bob
            .gets("message", Duration::from_millis(500), move |m| {
                m["text"] == expected.as_str()
            })
            .await
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery across nodes after Redis came back"
        );
    }
    assert!(a.running() && b.running());

    // Alice's page comes back to the other node with its token: it takes its nickname
    // over there, and its old socket on node a is let go.
    let moved = page(&b.url(), "Alice", "token-alice")
        .await
        .expect("alice's page on node b");
    let new_id = moved.id.clone();
    bob.wait("users", move |u| {
        let alices: Vec<&Value> = u
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| {
                x["nickname"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("alice"))
            })
            .collect();
        alices.len() == 1 && alices[0]["id"] == new_id.as_str()
    })
    .await;
    moved.socket.disconnect();
    alice.socket.disconnect();
    bob.socket.disconnect();
    dave.socket.disconnect();
}

#[test]
fn an_unreachable_redis_is_an_error_at_start() {
    let closed = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_sockio"))
        .args(["serve", "--port", "0", "--redis"])
        .arg(format!("redis://127.0.0.1:{closed}"))
        .stdin(Stdio::null())
        .output()
        .expect("run sockio serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "it listened: {:?}", out.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: cannot connect to redis://127.0.0.1:"),
        "{stderr}"
    );
}
