//! The arguments of an emit or an acknowledgement: [`IntoArgs`], [`Args`] and
//! [`args!`](macro@crate::args).

use serde::Serialize;
use sockio_protocol::socket::{to_value, Value};

use crate::error::Error;

/// The arguments of an emission.
///
/// Anything serializable is **one** argument: `socket.emit("ev", &data)`. Several
/// arguments, or none, go in an [`Args`] (see [`args!`](macro@crate::args)).
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Result<Args, Error>;
}

/// An argument list.
///
/// ```
/// use sockio_client::{args, Args, IntoArgs, Value};
/// let list = args!["a", 1].into_args().unwrap();
/// assert_eq!(list.0, vec![Value::from("a"), Value::from(1)]);
/// assert_eq!("one".into_args().unwrap().0, vec![Value::from("one")]);
/// assert!(().into_args().unwrap().0.is_empty());
/// assert!(Args::none().0.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args(pub Vec<Value>);

impl Args {
    /// No arguments.
    pub fn none() -> Args {
        Args(Vec::new())
    }

    /// Appends a serializable argument.
    pub fn push(&mut self, arg: impl Serialize) -> Result<(), Error> {
        self.0
            .push(to_value(&arg).map_err(|e| Error::Serialize(e.message().to_owned()))?);
        Ok(())
    }

    /// A list filled by `fill` (what [`args!`](macro@crate::args) expands to).
    pub fn build(fill: impl FnOnce(&mut Args) -> Result<(), Error>) -> BuiltArgs {
        let mut args = Args::none();
        BuiltArgs(fill(&mut args).map(|()| args))
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args(values)
    }
}

impl IntoArgs for Args {
    fn into_args(self) -> Result<Args, Error> {
        Ok(self)
    }
}

/// What [`args!`](macro@crate::args) gives: the list, or the first serialization error.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltArgs(pub Result<Args, Error>);

impl IntoArgs for BuiltArgs {
    fn into_args(self) -> Result<Args, Error> {
        self.0
    }
}

/// One argument; `()` is no argument at all (`socket.emit("ping", ())`).
impl<T: Serialize> IntoArgs for T {
    fn into_args(self) -> Result<Args, Error> {
        if std::any::type_name::<T>() == "()" {
            return Ok(Args::none());
        }
        let value = to_value(&self).map_err(|e| Error::Serialize(e.message().to_owned()))?;
        Ok(Args(vec![value]))
    }
}

/// Builds an argument list from serializable values: `args![]`, `args!["a", 1, &data]`.
///
/// ```
/// use sockio_client::{args, IntoArgs};
/// assert_eq!(args!["a", 1, true].into_args().unwrap().0.len(), 3);
/// assert!(args![].into_args().unwrap().0.is_empty());
/// ```
#[macro_export]
macro_rules! args {
    () => { $crate::Args::build(|_| ::core::result::Result::Ok(())) };
    ($($arg:expr),+ $(,)?) => {
        $crate::Args::build(|__list| {
            $( __list.push($arg)?; )+
            ::core::result::Result::Ok(())
        })
    };
}
