//! Incoming events and outgoing arguments.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sockio_protocol::socket::{from_value, to_value, Packet, Value, ValueError};

use crate::error::EmitError;
use crate::socket::Socket;

/// The arguments of an emission.
///
/// Anything serializable is **one** argument: `socket.emit("ev", &data)`. Several
/// arguments, or none, go in an [`Args`] (see [`args!`](crate::args)).
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Result<Vec<Value>, EmitError>;
}

/// An explicit argument list; build it with [`args!`](crate::args).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args(pub Vec<Value>);

impl Args {
    /// No arguments.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Appends a serializable argument.
    pub fn push(&mut self, arg: impl Serialize) -> Result<(), EmitError> {
        self.0.push(to_value(&arg).map_err(ser_error)?);
        Ok(())
    }
}

pub(crate) fn ser_error(e: ValueError) -> EmitError {
    EmitError::Serialize(e.message().to_owned())
}

impl IntoArgs for Args {
    fn into_args(self) -> Result<Vec<Value>, EmitError> {
        Ok(self.0)
    }
}

impl<T: Serialize> IntoArgs for T {
    fn into_args(self) -> Result<Vec<Value>, EmitError> {
        Ok(vec![to_value(&self).map_err(ser_error)?])
    }
}

/// Builds an [`Args`] list from serializable values: `args![]`, `args!["a", 1, &data]`.
/// A value that cannot be serialized becomes `null`.
#[macro_export]
macro_rules! args {
    () => { $crate::Args::none() };
    ($($arg:expr),+ $(,)?) => {
        $crate::Args(vec![$($crate::__to_value(&$arg)),+])
    };
}

#[doc(hidden)]
pub fn __to_value<T: Serialize + ?Sized>(v: &T) -> Value {
    to_value(v).unwrap_or(Value::Null)
}

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments, binary included.
    pub args: Vec<Value>,
    pub(crate) ack: Option<AckSender>,
}

impl Event {
    /// Argument `i` as a `T`.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, ValueError> {
        from_value(self.args.get(i).cloned().unwrap_or(Value::Null))
    }

    /// Every argument as a `T`: a tuple `(A, B)`, a `Vec`, or a struct of the same shape.
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(Value::Array(self.args.clone()))
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
#[derive(Debug, Clone)]
pub struct AckSender {
    pub(crate) socket: Socket,
    pub(crate) id: u64,
    pub(crate) sent: Arc<AtomicBool>,
}

impl AckSender {
    /// Sends the acknowledgement; later calls do nothing.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        if self.sent.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let args = args.into_args()?;
        let packet = Packet::ack(self.socket.namespace_name(), self.id, args);
        self.socket.send_packet(&packet)
    }
}
