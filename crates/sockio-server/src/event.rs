//! Incoming events and outgoing arguments.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sockio_protocol::socket::{from_value, to_value, RawArgs, Value, ValueError};
use sockio_protocol::Utf8Bytes;

use crate::error::EmitError;
use crate::socket::Socket;

/// The arguments of an emission.
///
/// Anything serializable is **one** argument: `socket.emit("ev", &data)`. Several
/// arguments, or none, go in an [`Args`] (see [`args!`](crate::args)).
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Result<Args, EmitError>;
}

/// An argument list; build it with [`args!`](crate::args), from a `Vec<Value>`, or take
/// it from a received [`Event`] ([`Event::take_args`]) to send it on.
///
/// Arguments received as JSON text stay text until something reads them as values, so
/// forwarding them (a broadcast, an echo in an acknowledgement) copies the text instead
/// of parsing and re-encoding it.
///
/// ```
/// use sockio_server::{args, Args, Value};
///
/// let mut list = args!["a", 1];
/// list.push(true).unwrap();
/// assert_eq!(list.values()[..], [Value::from("a"), 1.into(), true.into()]);
/// assert_eq!(Args::from(vec![Value::Null]).into_values(), vec![Value::Null]);
/// ```
#[derive(Clone, Default)]
pub struct Args {
    /// The values, unless `raw` holds the list.
    values: Vec<Value>,
    /// As received: validated JSON text (then `values` is unused).
    raw: Option<RawArgs>,
}

impl Args {
    /// No arguments.
    pub fn none() -> Self {
        Self::default()
    }

    /// Appends a serializable argument.
    pub fn push(&mut self, arg: impl Serialize) -> Result<(), EmitError> {
        let value = to_value(&arg).map_err(ser_error)?;
        self.values_mut().push(value);
        Ok(())
    }

    /// The arguments as values (parsed when they were still JSON text).
    pub fn values(&self) -> Cow<'_, [Value]> {
        match &self.raw {
            None => Cow::Borrowed(&self.values),
            Some(raw) => Cow::Owned(raw.parse()),
        }
    }

    /// The arguments as values, owned.
    pub fn into_values(self) -> Vec<Value> {
        match self.raw {
            None => self.values,
            Some(raw) => raw.parse(),
        }
    }

    /// The arguments as values, to change them.
    pub fn values_mut(&mut self) -> &mut Vec<Value> {
        if let Some(raw) = self.raw.take() {
            self.values = raw.parse();
        }
        &mut self.values
    }

    /// The JSON text of the list, when the arguments are still the text they came in.
    pub(crate) fn raw(&self) -> Option<&RawArgs> {
        self.raw.as_ref()
    }

    /// The values, leaving none (for arguments that are not raw text).
    pub(crate) fn take_values(&mut self) -> Vec<Value> {
        std::mem::take(self.values_mut())
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Self {
        Self { values, raw: None }
    }
}

impl From<RawArgs> for Args {
    fn from(raw: RawArgs) -> Self {
        Self {
            values: Vec::new(),
            raw: Some(raw),
        }
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Self) -> bool {
        match (&self.raw, &other.raw) {
            (Some(a), Some(b)) if a == b => true,
            _ => self.values() == other.values(),
        }
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.raw {
            None => f.debug_tuple("Args").field(&self.values).finish(),
            Some(raw) => f.debug_tuple("Args").field(&raw.as_str()).finish(),
        }
    }
}

pub(crate) fn ser_error(e: ValueError) -> EmitError {
    EmitError::Serialize(e.message().to_owned())
}

impl IntoArgs for Args {
    fn into_args(self) -> Result<Args, EmitError> {
        Ok(self)
    }
}

impl<T: Serialize> IntoArgs for T {
    fn into_args(self) -> Result<Args, EmitError> {
        Ok(Args::from(vec![to_value(&self).map_err(ser_error)?]))
    }
}

/// Builds an [`Args`] list from serializable values: `args![]`, `args!["a", 1, &data]`.
/// A value that cannot be serialized becomes `null`.
#[macro_export]
macro_rules! args {
    () => { $crate::Args::none() };
    ($($arg:expr),+ $(,)?) => {
        $crate::Args::from(vec![$($crate::__to_value(&$arg)),+])
    };
}

#[doc(hidden)]
pub fn __to_value<T: Serialize + ?Sized>(v: &T) -> Value {
    to_value(v).unwrap_or(Value::Null)
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
        let args = match args.raw {
            None => EventArgs {
                values: Some(args.values),
                ..EventArgs::default()
            },
            Some(raw) => EventArgs {
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
    pub(crate) socket: Socket,
    pub(crate) id: u64,
    /// Whether this sender answered.
    pub(crate) sent: AtomicBool,
    /// Whether any sender of the same acknowledgement answered (several listeners).
    pub(crate) shared: Option<Arc<AtomicBool>>,
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> AckSender {
        AckSender {
            socket,
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
            socket: self.socket.clone(),
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
        self.socket.send_args(None, Some(self.id), &mut args)
    }
}
