//! What the classic and the sharded adapter both keep for one namespace.

use std::sync::{Arc, OnceLock};

use sockio_server::adapter::NamespaceHandle;
use sockio_server::AdapterError;
use tokio::sync::watch;

use crate::conn::Connection;
use crate::requests::Requests;
use crate::Options;

/// Where a namespace's adapter tells [`crate::RedisAdapter::ready`] how subscribing went.
pub(crate) type ReadySender = watch::Sender<Option<Result<(), AdapterError>>>;

/// The state both adapter kinds have for one namespace.
pub(crate) struct Common {
    pub(crate) conn: Arc<Connection>,
    pub(crate) options: Arc<Options>,
    pub(crate) nsp: String,
    /// This server's id in the messages.
    pub(crate) uid: String,
    /// `key#nsp#`
    pub(crate) channel: String,
    pub(crate) ns: OnceLock<NamespaceHandle>,
    pub(crate) requests: Arc<Requests>,
    ready: ReadySender,
}

impl Common {
    pub(crate) fn new(
        conn: Arc<Connection>,
        options: Arc<Options>,
        nsp: &str,
        uid: String,
        ready: ReadySender,
    ) -> Self {
        Common {
            channel: format!("{}#{nsp}#", options.key),
            conn,
            options,
            nsp: nsp.to_owned(),
            uid,
            ns: OnceLock::new(),
            requests: Arc::default(),
            ready,
        }
    }

    /// Reports how subscribing went to whoever waits for this namespace, and returns it.
    pub(crate) fn subscribed(&self, result: Result<(), AdapterError>) -> Result<(), AdapterError> {
        self.ready.send_replace(Some(result.clone()));
        result
    }
}
