//! Outgoing arguments: [`Args`], [`IntoArgs`] and the [`args!`](crate::args) macro.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use sockio_protocol::socket::{to_value, RawArgs, Value, ValueError};

use crate::error::EmitError;

/// The arguments of an emission.
///
/// Anything serializable is **one** argument: `socket.emit("ev", &data)`. Several
/// arguments, or none, go in an [`Args`] (see [`args!`](crate::args)).
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Result<Args, EmitError>;
}

/// An argument list; build it with [`args!`](crate::args), from a `Vec<Value>`, or take
/// it from a received [`Event`](crate::Event) ([`Event::take_args`](crate::Event::take_args))
/// to send it on.
///
/// Arguments received as JSON text stay text until something reads them as values, so
/// forwarding them (a broadcast, an echo in an acknowledgement) copies the text instead
/// of parsing and re-encoding it.
///
/// ```
/// use sockio_server::{args, Args, Value};
///
/// let mut list = args!["a", 1].unwrap();
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

    /// A list filled by `fill` (what [`args!`](crate::args) expands to): the first
    /// argument that fails to serialize fails the whole list.
    pub fn build(fill: impl FnOnce(&mut Args) -> Result<(), EmitError>) -> BuiltArgs {
        let mut args = Args::none();
        BuiltArgs(fill(&mut args).map(|()| args))
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

    /// The parts: values, or the JSON text.
    pub(crate) fn into_parts(self) -> (Vec<Value>, Option<RawArgs>) {
        (self.values, self.raw)
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

/// What [`args!`](crate::args) gives: the list, or why an argument failed to serialize.
/// Every emit takes it as it is; [`BuiltArgs::into_result`] gives the list itself.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltArgs(Result<Args, EmitError>);

impl BuiltArgs {
    /// The list, or the serialization error.
    pub fn into_result(self) -> Result<Args, EmitError> {
        self.0
    }

    /// The list; panics if an argument failed to serialize (for tests and examples).
    pub fn unwrap(self) -> Args {
        match self.0 {
            Ok(args) => args,
            Err(e) => panic!("args! failed: {e}"),
        }
    }
}

impl IntoArgs for BuiltArgs {
    fn into_args(self) -> Result<Args, EmitError> {
        self.0
    }
}

impl<T: Serialize> IntoArgs for T {
    fn into_args(self) -> Result<Args, EmitError> {
        Ok(Args::from(vec![to_value(&self).map_err(ser_error)?]))
    }
}

/// Builds an argument list from serializable values: `args![]`, `args!["a", 1, &data]`.
///
/// It gives a [`BuiltArgs`], which every emit accepts as it is: a value that cannot be
/// serialized fails the emission with [`EmitError::Serialize`] instead of being sent as
/// something else.
///
/// ```
/// use std::collections::HashMap;
/// use sockio_server::{args, EmitError, IntoArgs};
///
/// assert_eq!(args!["a", 1].unwrap().values().len(), 2);
/// assert!(args![].unwrap().values().is_empty());
///
/// // A map with non-string keys has no JSON form.
/// let bad: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
/// assert!(matches!(args!["ok", bad].into_args(), Err(EmitError::Serialize(_))));
/// ```
#[macro_export]
macro_rules! args {
    () => { $crate::Args::build(|_| ::core::result::Result::Ok(())) };
    ($($arg:expr),+ $(,)?) => {
        $crate::Args::build(|__list| {
            $(__list.push(&$arg)?;)+
            ::core::result::Result::Ok(())
        })
    };
}
