//! Applying another server's request to this server's namespace, for both adapters:
//! each reads its own wire format down to the fields named here (the same in the classic
//! and the sharded messages) and writes the answer back its own way.

use sockio_protocol::socket::Value;
use sockio_server::adapter::{BroadcastOptions, NamespaceHandle};
use sockio_server::Args;

use crate::wire;

/// A request changing this server's sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// The selected sockets join the message's `rooms`.
    Join,
    /// The selected sockets leave the message's `rooms`.
    Leave,
    /// The selected sockets disconnect (their connections too when `close` is true).
    Disconnect,
}

/// Applies a join, leave or disconnect request (its fields `rooms` / `close` in
/// `fields`) to the sockets `opts` selects.
pub(crate) fn membership(
    ns: &NamespaceHandle,
    op: Membership,
    opts: &BroadcastOptions,
    fields: &Value,
) {
    match op {
        Membership::Join => ns.add_sockets(opts, &wire::rooms_of(fields.get("rooms"))),
        Membership::Leave => ns.del_sockets(opts, &wire::rooms_of(fields.get("rooms"))),
        Membership::Disconnect => ns.disconnect_sockets(
            opts,
            fields.get("close").and_then(Value::as_bool) == Some(true),
        ),
    }
}

/// The sockets `opts` selects, as the answer to a fetch request lists them.
pub(crate) fn sockets(ns: &NamespaceHandle, opts: &BroadcastOptions) -> Value {
    let sockets = ns.fetch_sockets(opts);
    Value::Array(sockets.iter().map(wire::socket_value).collect())
}

/// Delivers a broadcast (its packet's `data`, `[event, ...args]`) to the sockets `opts`
/// selects; nothing when the packet is not an event.
pub(crate) fn broadcast(ns: &NamespaceHandle, opts: &BroadcastOptions, data: Option<&Value>) {
    if let Some((event, args)) = wire::event_of(data) {
        ns.broadcast(opts, &event, Args::from(args));
    }
}

/// Like [`broadcast`], asking each socket for an acknowledgement that `on_ack` gets: the
/// number of sockets reached, to send back (`None` when the packet is not an event).
pub(crate) fn broadcast_with_ack(
    ns: &NamespaceHandle,
    opts: &BroadcastOptions,
    data: Option<&Value>,
    on_ack: impl Fn(Value) + Send + Sync + 'static,
) -> Option<usize> {
    let (event, args) = wire::event_of(data)?;
    Some(ns.broadcast_with_ack(opts, &event, Args::from(args), on_ack))
}

/// Runs a server-side event (`data` is `[event, ...args]`); with `with_ack`, its
/// listener's answer, to send back. `None` when there is nothing to answer: no
/// acknowledgement asked, no such listener, or `data` is not an event.
pub(crate) fn server_side(
    ns: &NamespaceHandle,
    data: Option<&Value>,
    with_ack: bool,
) -> Option<Value> {
    let Some(Value::Array(data)) = data else {
        return None;
    };
    data.first().and_then(Value::as_str)?;
    if with_ack {
        ns.server_side_emit_with_ack(data.clone())
    } else {
        ns.server_side_emit(data.clone());
        None
    }
}
