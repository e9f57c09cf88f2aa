//! Incoming events: [`Event`], and the acknowledgement a client asked for
//! ([`AckSender`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use sockio_protocol::socket::{from_value, RawArgs, Value, ValueError};
use sockio_protocol::Utf8Bytes;

use crate::args::{Args, IntoArgs};
use crate::error::EmitError;

/// Where an acknowledgement goes: the socket that received the event.
pub(crate) trait AckChannel: Send + Sync + std::fmt::Debug {
    /// Sends ACK `id` with `args` to the client.
    fn send_ack(&self, id: u64, args: &mut Args) -> Result<(), EmitError>;
}

/// An event received from a client.
///
/// Its arguments are read with [`args`](Event::args), [`arg`](Event::arg) or
/// [`args_as`](Event::args_as); [`take_args`](Event::take_args) hands them over to be
/// sent on unchanged (without parsing them when they came as JSON text).
#[derive(Debug)]
pub struct Event {
    /// The event name (sharing the received frame's bytes).
    pub name: Utf8Bytes,
    args: EventArgs,
    pub(crate) ack: Option<AckSender>,
}

/// Received arguments: values, or JSON text parsed on first read.
#[derive(Debug, Clone, Default)]
struct EventArgs {
    /// The values, once changed or when they came as values.
    values: Option<Vec<Value>>,
    /// The JSON text, while `values` is `None`.
    raw: Option<RawArgs>,
    /// `raw` parsed, once read.
    parsed: OnceLock<Vec<Value>>,
}

impl Event {
    pub(crate) fn new(name: Utf8Bytes, args: Args, ack: Option<AckSender>) -> Event {
        let args = match args.into_parts() {
            (values, None) => EventArgs {
                values: Some(values),
                ..EventArgs::default()
            },
            (_, Some(raw)) => EventArgs {
                raw: Some(raw),
                ..EventArgs::default()
            },
        };
        Event { name, args, ack }
    }

    /// A copy for another listener (sharing the acknowledgement).
    pub(crate) fn duplicate(&mut self) -> Event {
        Event {
            name: self.name.clone(),
            args: self.args.clone(),
            ack: self.ack.as_mut().map(AckSender::share),
        }
    }

    /// The arguments, binary included (parsed on first use when they came as text).
    pub fn args(&self) -> &[Value] {
        match &self.args.values {
            Some(values) => values,
            None => self.args.parsed.get_or_init(|| {
                self.args
                    .raw
                    .as_ref()
                    .map(RawArgs::parse)
                    .unwrap_or_default()
            }),
        }
    }

    /// The arguments, to change them (a packet middleware may).
    pub fn args_mut(&mut self) -> &mut Vec<Value> {
        let EventArgs {
            values,
            raw,
            parsed,
        } = &mut self.args;
        values.get_or_insert_with(|| {
            let raw = raw.take();
            parsed
                .take()
                .unwrap_or_else(|| raw.map(|r| r.parse()).unwrap_or_default())
        })
    }

    /// Takes the arguments out, to send them on (the event keeps none); arguments that
    /// came as JSON text are handed over as that text.
    pub fn take_args(&mut self) -> Args {
        let args = std::mem::take(&mut self.args);
        match (args.values, args.raw) {
            (Some(values), _) => Args::from(values),
            (None, Some(raw)) => Args::from(raw),
            (None, None) => Args::none(),
        }
    }

    /// A copy of the arguments, to send them on.
    pub fn clone_args(&self) -> Args {
        match (&self.args.values, &self.args.raw) {
            (None, Some(raw)) => Args::from(raw.clone()),
            _ => Args::from(self.args().to_vec()),
        }
    }

    /// Argument `i` as a `T`.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, ValueError> {
        from_value(self.args().get(i).cloned().unwrap_or(Value::Null))
    }

    /// Every argument as a `T`: a tuple `(A, B)`, a `Vec`, or a struct of the same shape.
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(Value::Array(self.args().to_vec()))
    }

    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Takes the acknowledgement, to answer later (for example from a spawned task).
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Answers the client's acknowledgement with `args` (nothing happens when it asked
    /// for none, or it was answered already).
    pub fn ack(&mut self, args: impl IntoArgs) -> Result<(), EmitError> {
        match self.ack.take() {
            Some(a) => a.send(args),
            None => Ok(()),
        }
    }
}

/// The acknowledgement a client asked for; answer it once with [`AckSender::send`].
///
/// When several listeners receive the same event, each gets an `AckSender` and the
/// first answer wins, as in socket.io.
#[derive(Debug)]
pub struct AckSender {
    channel: Arc<dyn AckChannel>,
    id: u64,
    /// Whether this sender answered.
    sent: AtomicBool,
    /// Whether any sender of the same acknowledgement answered (several listeners).
    shared: Option<Arc<AtomicBool>>,
}

impl AckSender {
    pub(crate) fn new(channel: Arc<dyn AckChannel>, id: u64) -> AckSender {
        AckSender {
            channel,
            id,
            sent: AtomicBool::new(false),
            shared: None,
        }
    }

    /// Another sender of the same acknowledgement (for another listener); from then on
    /// both answer once between them.
    pub(crate) fn share(&mut self) -> AckSender {
        let shared = self
            .shared
            .get_or_insert_with(|| Arc::new(AtomicBool::new(self.sent.load(Ordering::Acquire))))
            .clone();
        AckSender {
            channel: self.channel.clone(),
            id: self.id,
            sent: AtomicBool::new(false),
            shared: Some(shared),
        }
    }

    /// Sends the acknowledgement; later calls do nothing.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        let flag = self.shared.as_deref().unwrap_or(&self.sent);
        if flag.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut args = args.into_args()?;
        self.channel.send_ack(self.id, &mut args)
    }
}
