//! [`Event`]: an event as a handler sees it, and [`AckSender`], the answer to the
//! server's acknowledgement request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use sockio_protocol::socket::{from_value, Packet, Value};

use crate::args::IntoArgs;
use crate::command::Cmd;
use crate::error::Error;
use crate::queue;

/// An event as a handler sees it: its name, its arguments, and the acknowledgement the
/// server asked for, if any.
///
/// Lifecycle events carry: `connect` nothing; `disconnect` the reason string;
/// `connect_error` an object `{"message": ..., "data"?: ...}`; `reconnecting` /
/// `reconnect_attempt` / `reconnect` the attempt number; `reconnect_error` and `error`
/// the error's text.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments (binary ones as [`Value::Binary`]).
    pub args: Vec<Value>,
    ack: Option<AckSender>,
}

impl Event {
    pub(crate) fn new(name: impl Into<String>, args: Vec<Value>, ack: Option<AckSender>) -> Event {
        Event {
            name: name.into(),
            args,
            ack,
        }
    }

    /// Argument `i` as a `T` (binary fields as `bytes::Bytes`).
    ///
    /// ```
    /// use sockio_client::{Event, Value};
    /// # let ev = sockio_client::Event::from_args("m", vec![Value::from("hi"), Value::from(3)]);
    /// let s: String = ev.arg(0).unwrap();
    /// let n: u32 = ev.arg(1).unwrap();
    /// assert_eq!((s.as_str(), n), ("hi", 3));
    /// assert!(ev.arg::<String>(5).is_err());
    /// ```
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, Error> {
        let v = self.args.get(i).cloned().unwrap_or(Value::Null);
        from_value(v).map_err(|e| Error::Deserialize(e.message().to_owned()))
    }

    /// All arguments as one `T`, read from the argument array (a tuple, a `Vec`, a
    /// struct of sequence form).
    ///
    /// ```
    /// use sockio_client::{Event, Value};
    /// let ev = Event::from_args("m", vec![Value::from("a"), Value::from(1)]);
    /// let (a, n): (String, i64) = ev.args_as().unwrap();
    /// assert_eq!((a.as_str(), n), ("a", 1));
    /// ```
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        from_value(Value::Array(self.args.clone()))
            .map_err(|e| Error::Deserialize(e.message().to_owned()))
    }

    /// An event built by hand (tests, forwarding).
    pub fn from_args(name: impl Into<String>, args: Vec<Value>) -> Event {
        Event::new(name, args, None)
    }

    /// Whether the server waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// The acknowledgement, to answer later or from another task.
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Answers the server's acknowledgement (once; later answers are ignored).
    pub fn ack(&self, args: impl IntoArgs) -> Result<(), Error> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }
}

/// Answers one acknowledgement request of the server. Clones share it: the first
/// answer is sent, the others are ignored.
#[derive(Debug, Clone)]
pub struct AckSender {
    nsp: String,
    id: u64,
    cmd: queue::Sender<Cmd>,
    sent: Arc<AtomicBool>,
}

impl AckSender {
    pub(crate) fn new(nsp: String, id: u64, cmd: queue::Sender<Cmd>) -> AckSender {
        AckSender {
            nsp,
            id,
            cmd,
            sent: Arc::default(),
        }
    }

    /// Sends the acknowledgement with these arguments.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), Error> {
        let args = args.into_args()?;
        if self.sent.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let packet = Packet::ack(self.nsp.clone(), self.id, args.0);
        self.cmd
            .send(Cmd::Ack(packet))
            .map_err(|_| Error::ClientClosed)
    }
}
