//! [`Cmd`]: what the handles ([`Manager`](crate::Manager), [`Socket`](crate::Socket),
//! [`AckSender`](crate::AckSender)) ask of the connection's task.

use sockio_protocol::socket::{Packet, Value};

/// A command from a handle to the connection's task (its channel's one message type).
pub(crate) enum Cmd {
    /// A socket wants its namespace joined.
    Connect(String),
    /// The CONNECT of `nsp` with what the auth callback gave, if the connection it was
    /// computed for (`generation`) is still the current one.
    SendConnect {
        nsp: String,
        auth: Value,
        generation: u64,
    },
    /// An emit of a connected socket (a volatile one is dropped if it cannot go now).
    Packet { packet: Packet, volatile: bool },
    /// An acknowledgement of a server's event.
    Ack(Packet),
    /// A socket left ([`Socket::disconnect`](crate::Socket::disconnect) did its side).
    Disconnect { nsp: String },
    /// The last handle of a socket went away.
    Dropped { nsp: String },
    /// Close the connection: [`Manager::close`](crate::Manager::close), or the last
    /// handle went away.
    Close,
}
