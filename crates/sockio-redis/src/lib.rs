//! Redis adapters for sockio: the servers of a cluster share their broadcasts, rooms and
//! requests through Redis, with the wire format of Node's
//! [`@socket.io/redis-adapter`](https://www.npmjs.com/package/@socket.io/redis-adapter)
//! 8.3 — so sockio servers and Node.js socket.io 4.8 servers on the same Redis form
//! **one** cluster.
//!
//! * [`AdapterKind::Classic`] is `createAdapter`: `PUBLISH` / `PSUBSCRIBE` /
//!   `SUBSCRIBE`, msgpack broadcasts, JSON requests, servers counted with
//!   `PUBSUB NUMSUB`.
//! * [`AdapterKind::Sharded`] is `createShardedAdapter` (Redis ≥ 7): `SPUBLISH` /
//!   `SSUBSCRIBE`, socket.io-adapter's ClusterAdapter messages, servers counted with
//!   `PUBSUB SHARDNUMSUB`, in the `dynamic`, `dynamic-private` or `static`
//!   [`SubscriptionMode`]; it works with Redis Cluster (`redis-cluster://` URLs).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sockio_redis::{RedisAdapter, RedisAdapterOptions};
//! use sockio_server::SocketIo;
//!
//! let redis = RedisAdapter::connect(RedisAdapterOptions::new("redis://127.0.0.1:6379")).await?;
//! let io = SocketIo::builder().adapter(redis.factory()).build();
//! redis.ready("/").await?; // subscribed: the other servers count this one
//! # let _ = io; Ok(()) }
//! ```
//!
//! One [`RedisAdapter`] holds the two Redis connections of a server (one publishing, one
//! subscribed) for all its namespaces; both reconnect on their own and the subscriptions
//! are made again. While Redis is away, each server keeps delivering to its own clients;
//! what it publishes meanwhile waits in a queue (up to 100 000 messages), and requests
//! that need Redis fail with [`AdapterError::Transport`]. Requests waiting for other
//! servers end at their timeout with what came and an [`AdapterError::Timeout`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio_server::adapter::Adapter;
use sockio_server::AdapterError;
use tokio::sync::watch;

mod classic;
mod common;
mod conn;
mod remote;
mod requests;
mod sharded;
mod wire;

use conn::Connection;

/// How much longer than its timeout a broadcast with acknowledgements keeps listening
/// for answers (the namespace itself stops at the timeout).
pub(crate) const ACK_GRACE: Duration = Duration::from_millis(500);

/// Which of Node's Redis adapters to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdapterKind {
    /// `createAdapter` (pub/sub with patterns).
    #[default]
    Classic,
    /// `createShardedAdapter` (sharded pub/sub, Redis ≥ 7).
    Sharded,
}

/// How the sharded adapter spreads broadcasts over channels (`subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// A channel per public room (not a socket id): a broadcast to exactly one such room
    /// travels on it, and only the servers having that room receive it. Node's default.
    #[default]
    Dynamic,
    /// Like `Dynamic`, socket id rooms included.
    DynamicPrivate,
    /// Everything on the namespace's channel.
    Static,
}

/// The adapter's options, named and defaulted as Node's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisAdapterOptions {
    /// `redis://HOST:PORT` (standalone) or `redis-cluster://HOST:PORT` (Redis Cluster).
    pub url: String,
    /// Classic or sharded.
    pub kind: AdapterKind,
    /// The channel prefix: the classic `key` / the sharded `channelPrefix`
    /// (default `socket.io`).
    pub key: String,
    /// How long requests (fetching sockets, all rooms, server-side emits with
    /// acknowledgement) wait for the other servers (`requestsTimeout`, default 5 s).
    pub requests_timeout: Duration,
    /// Classic adapter: answer requests on the requester's own response channel
    /// (`publishOnSpecificResponseChannel`, default false).
    pub publish_on_specific_response_channel: bool,
    /// Sharded adapter: the subscription mode (default dynamic).
    pub subscription_mode: SubscriptionMode,
}

impl RedisAdapterOptions {
    /// Node's defaults, for the Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            kind: AdapterKind::Classic,
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            subscription_mode: SubscriptionMode::Dynamic,
        }
    }

    /// Classic or sharded.
    pub fn kind(mut self, kind: AdapterKind) -> Self {
        self.kind = kind;
        self
    }

    /// The channel prefix (`key` / `channelPrefix`).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// How long requests wait for the other servers.
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Answer requests on the requester's own response channel.
    pub fn publish_on_specific_response_channel(mut self, yes: bool) -> Self {
        self.publish_on_specific_response_channel = yes;
        self
    }

    /// The sharded adapter's subscription mode.
    pub fn subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.subscription_mode = mode;
        self
    }
}

pub(crate) type Options = RedisAdapterOptions;

/// Why connecting to Redis failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("redis: {0}")]
pub struct RedisError(String);

type Ready = watch::Receiver<Option<Result<(), AdapterError>>>;

/// The Redis connections of one server and the factory of its namespaces' adapters.
/// Cheap to clone.
#[derive(Clone)]
pub struct RedisAdapter {
    conn: Arc<Connection>,
    options: Arc<Options>,
    ready: Arc<Mutex<HashMap<String, Ready>>>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// Connects to Redis (the first connection must succeed; later ones are retried
    /// forever).
    pub async fn connect(options: RedisAdapterOptions) -> Result<RedisAdapter, RedisError> {
        let conn = Connection::connect(&options.url, options.requests_timeout)
            .await
            .map_err(|e| RedisError(e.to_string()))?;
        Ok(RedisAdapter {
            conn,
            options: Arc::new(options),
            ready: Arc::default(),
        })
    }

    /// The adapter of namespace `nsp` (what [`RedisAdapter::factory`] gives the server).
    pub fn adapter(&self, nsp: &str) -> Arc<dyn Adapter> {
        let (tx, rx) = watch::channel(None);
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nsp.to_owned(), rx);
        match self.options.kind {
            AdapterKind::Classic => Arc::new(classic::ClassicAdapter::new(
                self.conn.clone(),
                self.options.clone(),
                nsp,
                tx,
            )),
            AdapterKind::Sharded => Arc::new(sharded::ShardedAdapter::new(
                self.conn.clone(),
                self.options.clone(),
                nsp,
                tx,
            )),
        }
    }

    /// For [`SocketIoBuilder::adapter`](sockio_server::SocketIoBuilder::adapter).
    pub fn factory(&self) -> impl Fn(&str) -> Arc<dyn Adapter> + Send + Sync + 'static {
        let me = self.clone();
        move |nsp| me.adapter(nsp)
    }

    /// Waits until namespace `nsp` has subscribed to its channels (from then on the other
    /// servers count this one). Fails if the namespace has no adapter yet or its
    /// subscriptions failed.
    pub async fn ready(&self, nsp: &str) -> Result<(), AdapterError> {
        let rx = self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(nsp)
            .cloned();
        let Some(mut rx) = rx else {
            return Err(AdapterError::Transport(format!(
                "namespace {nsp} has no redis adapter"
            )));
        };
        let result = rx
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone().unwrap_or(Ok(())));
        match result {
            Ok(r) => r,
            Err(_) => Err(AdapterError::Transport("adapter dropped".to_owned())),
        }
    }

    /// Closes the Redis connections (after the server closed its namespaces).
    pub async fn close(&self) {
        self.conn.close().await;
    }
}
