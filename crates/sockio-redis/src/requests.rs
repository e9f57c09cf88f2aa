//! The requests of one namespace's adapter that wait for the other servers, shared by
//! the classic and the sharded adapter: requests gathering one answer per server
//! (`fetch_sockets`, `all_rooms`, server-side emits with acknowledgement) and broadcasts
//! with acknowledgements, each by its request id.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sockio_protocol::socket::Value;
use sockio_server::adapter::{
    gather_replies, AckReply, AckSink, BroadcastOptions, RemoteSocketData,
};
use sockio_server::{AdapterError, BroadcastAckError, Room};
use tokio::sync::mpsc;

use crate::{wire, ACK_GRACE};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A request waiting for answers: each answer's `field` goes to `tx`.
struct Pending {
    field: &'static str,
    tx: mpsc::UnboundedSender<Value>,
}

/// The other servers' answers, or why not all came (with those that did).
pub(crate) type Answers = Result<Vec<Value>, (AdapterError, Vec<Value>)>;

/// The requests of this server still waiting, by request id.
#[derive(Default)]
pub(crate) struct Requests {
    pending: Mutex<HashMap<String, Pending>>,
    acks: Mutex<HashMap<String, AckSink>>,
}

impl Requests {
    /// Whether `id` is a request of this server (a server does not answer itself).
    pub(crate) fn is_ours(&self, id: &str) -> bool {
        lock(&self.pending).contains_key(id) || lock(&self.acks).contains_key(id)
    }

    /// Request `id` expects one answer from every other server (`servers` counts them,
    /// this one included): `publish` sends it, then the `field` of each answer is
    /// gathered for `timeout`. Nothing is published when this server is alone or the
    /// servers cannot be counted.
    pub(crate) async fn ask(
        &self,
        id: String,
        field: &'static str,
        servers: impl Future<Output = Result<usize, AdapterError>>,
        timeout: Duration,
        publish: impl FnOnce(),
    ) -> Answers {
        let expected = servers
            .await
            .map_err(|e| (e, Vec::new()))?
            .saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.pending).insert(id.clone(), Pending { field, tx });
        publish();
        let answers = gather_replies(&mut rx, expected, timeout).await;
        lock(&self.pending).remove(&id);
        answers
    }

    /// An answer to request `id` (ignored unless this server waits for it); a missing
    /// field counts as an answer of `null`.
    pub(crate) fn answer(&self, id: &str, response: &Value) {
        if let Some(p) = lock(&self.pending).get(id) {
            let _ =
                p.tx.send(response.get(p.field).cloned().unwrap_or(Value::Null));
        }
    }

    /// Broadcast `id` with acknowledgements sends the answers it gets into `sink`, until
    /// its timeout (`opts.flags.timeout`, else `default_timeout`) and a grace have passed:
    /// the namespace stops waiting at the timeout itself, and a sink kept a little longer
    /// lets it report its timeout rather than a closed channel.
    pub(crate) fn track_acks(
        self: &Arc<Self>,
        id: String,
        sink: AckSink,
        opts: &BroadcastOptions,
        default_timeout: Duration,
    ) {
        lock(&self.acks).insert(id.clone(), sink);
        let timeout = opts
            .flags
            .timeout
            .map(Duration::from_millis)
            .unwrap_or(default_timeout);
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(timeout + ACK_GRACE).await;
            if let Some(me) = me.upgrade() {
                lock(&me.acks).remove(&id);
            }
        });
    }

    /// Whether `id` is a broadcast with acknowledgements of this server.
    pub(crate) fn is_ack(&self, id: &str) -> bool {
        lock(&self.acks).contains_key(id)
    }

    /// One answer to broadcast `id`: a server's `clientCount` (when a number), or one
    /// socket's acknowledgement (`packet`, `null` when missing).
    pub(crate) fn ack(&self, id: &str, reply: AckAnswer<'_>) {
        let Some(sink) = lock(&self.acks).get(id).cloned() else {
            return;
        };
        match reply {
            AckAnswer::ClientCount(count) => {
                if let Some(n) = count.and_then(Value::as_u64) {
                    sink.send(AckReply::ClientCount(n as usize));
                }
            }
            AckAnswer::Ack(packet) => {
                sink.send(AckReply::Ack(packet.cloned().unwrap_or(Value::Null)));
            }
        }
    }
}

/// An answer to a broadcast with acknowledgements, as read off the wire.
pub(crate) enum AckAnswer<'a> {
    /// The `clientCount` field.
    ClientCount(Option<&'a Value>),
    /// The `packet` field.
    Ack(Option<&'a Value>),
}

/// The items of every answer, each a list (an answer that is not a list adds nothing).
fn flatten(answers: &[Value]) -> impl Iterator<Item = &Value> {
    answers.iter().filter_map(Value::as_array).flatten()
}

/// The sockets listed in the answers to a fetch request.
pub(crate) fn sockets(answers: Answers) -> Result<Vec<RemoteSocketData>, AdapterError> {
    let answers = answers.map_err(|(e, _)| e)?;
    Ok(flatten(&answers).filter_map(wire::socket_of).collect())
}

/// The rooms listed in the answers to an all-rooms request.
pub(crate) fn rooms(answers: Answers) -> Result<Vec<Room>, AdapterError> {
    let answers = answers.map_err(|(e, _)| e)?;
    let all = flatten(&answers).cloned().collect();
    Ok(wire::rooms_of(Some(&Value::Array(all))))
}

/// The answers to a server-side emit: when not all came, those that did with the error.
pub(crate) fn server_side(answers: Answers) -> Result<Vec<Value>, BroadcastAckError> {
    answers.map_err(|(error, responses)| BroadcastAckError::Adapter { error, responses })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::obj;

    #[tokio::test]
    async fn answers_are_gathered_by_field() {
        let requests = Arc::new(Requests::default());
        let r = requests.clone();
        let answers = requests
            .ask(
                "id".into(),
                "sockets",
                async { Ok(3) },
                Duration::from_secs(5),
                move || {
                    assert!(r.is_ours("id"));
                    r.answer("other", &obj([("sockets", Value::Array(vec![]))]));
                    r.answer(
                        "id",
                        &obj([("sockets", Value::Array(vec![Value::from(1)]))]),
                    );
                    r.answer("id", &obj([("rooms", Value::from(2))]));
                },
            )
            .await;
        let answers = answers.unwrap_or_else(|(e, _)| panic!("{e}"));
        assert_eq!(
            answers,
            vec![Value::Array(vec![Value::from(1)]), Value::Null]
        );
        assert_eq!(flatten(&answers).count(), 1);
        let rooms = rooms(Ok(vec![Value::Array(vec![Value::from("a")]), Value::Null]));
        assert_eq!(rooms, Ok(vec![Room::from("a")]));
        assert!(!requests.is_ours("id"));
    }

    #[tokio::test]
    async fn a_lone_server_publishes_nothing() {
        let requests = Requests::default();
        let answers = requests
            .ask(
                "id".into(),
                "data",
                async { Ok(1) },
                Duration::from_secs(5),
                || panic!("published"),
            )
            .await;
        assert_eq!(answers, Ok(Vec::new()));
    }
}
