//! The Redis side shared by every namespace of one server: a publishing client, a
//! subscribing client, the task that hands each received message to its namespace, and
//! the task that publishes, in order, what the namespaces queue.
//!
//! Like Node's adapters (one `pubClient` and one `subClient` for all namespaces), one
//! [`Connection`] serves every namespace of a server, so that the server is one
//! subscriber of each channel and `PUBSUB NUMSUB` counts it once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, ClusterInterface, EventInterface, PubsubInterface};
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::Builder;
use sockio_server::AdapterError;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many messages may wait to be published (while Redis is away, say) before new
/// ones are dropped, with a warning.
const MAX_QUEUED: usize = 100_000;
/// How many queued messages go to Redis in one pipeline.
const BATCH: usize = 256;

/// What receives the messages of some channels: a namespace's adapter.
pub(crate) trait Inbox: Send + Sync {
    fn receive(self: Arc<Self>, channel: &str, payload: &[u8]);
}

/// A message waiting to be published.
struct Outgoing {
    channel: String,
    payload: Bytes,
    sharded: bool,
}

/// Which inbox gets a channel's messages.
#[derive(Default)]
struct Routes {
    /// By exact channel name.
    exact: HashMap<String, Weak<dyn Inbox>>,
    /// By channel prefix (the classic adapter's pattern subscriptions).
    prefixes: Vec<(String, Weak<dyn Inbox>)>,
}

impl Routes {
    fn find(&self, channel: &str) -> Option<Arc<dyn Inbox>> {
        if let Some(inbox) = self.exact.get(channel) {
            return inbox.upgrade();
        }
        self.prefixes
            .iter()
            .filter(|(p, _)| channel.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .and_then(|(_, inbox)| inbox.upgrade())
    }
}

/// The shared Redis connections of one server.
pub(crate) struct Connection {
    publisher: Client,
    subscriber: SubscriberClient,
    routes: RwLock<Routes>,
    out: mpsc::UnboundedSender<Outgoing>,
    queued: Arc<AtomicUsize>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    fred_tasks: Mutex<Vec<JoinHandle<Result<(), fred::error::Error>>>>,
}

fn transport(e: fred::error::Error) -> AdapterError {
    AdapterError::Transport(e.to_string())
}

impl Connection {
    /// Connects both clients to `url` (`redis://…`, or `redis-cluster://…` for a Redis
    /// Cluster), waiting for the first connection; afterwards both reconnect on their own
    /// (the subscriber subscribes again to everything it had).
    pub(crate) async fn connect(
        url: &str,
        command_timeout: Duration,
    ) -> Result<Arc<Connection>, fred::error::Error> {
        let config = Config::from_url(url)?;
        let mut builder = Builder::from_config(config);
        builder
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .with_performance_config(|p| {
                p.default_command_timeout = command_timeout;
                // Pub/sub messages are read from a broadcast channel: room for bursts.
                p.broadcast_channel_capacity = 1 << 16;
            })
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.internal_command_timeout = Duration::from_secs(5);
                c.max_command_attempts = 3;
            });
        let publisher = builder.build()?;
        let subscriber = builder.build_subscriber_client()?;
        let mut fred_tasks = Vec::new();
        for (name, client) in [
            ("publisher", publisher.clone()),
            ("subscriber", subscriber.to_client()),
        ] {
            fred_tasks.push(client.on_error(move |(error, server)| async move {
                tracing::warn!(client = name, ?server, %error, "redis connection error");
                Ok(())
            }));
            fred_tasks.push(client.on_reconnect(move |server| async move {
                tracing::info!(client = name, %server, "redis connection (re)established");
                Ok(())
            }));
        }
        fred_tasks.push(publisher.init().await?);
        fred_tasks.push(subscriber.init().await?);

        let (out, out_rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let conn = Arc::new(Connection {
            publisher: publisher.clone(),
            subscriber: subscriber.clone(),
            routes: RwLock::default(),
            out,
            queued: queued.clone(),
            tasks: Mutex::default(),
            fred_tasks: Mutex::new(fred_tasks),
        });

        let mut tasks = Vec::new();
        // Subscriptions come back after a reconnection.
        let resubscriber = subscriber.clone();
        let mut reconnections = subscriber.reconnect_rx();
        tasks.push(tokio::spawn(async move {
            loop {
                match reconnections.recv().await {
                    Ok(server) => match resubscribe(&resubscriber).await {
                        Ok(()) => tracing::info!(%server, "redis subscriptions restored"),
                        Err(e) => {
                            tracing::warn!(%server, error = %e, "redis resubscription failed")
                        }
                    },
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        }));
        tasks.push(tokio::spawn(dispatch(
            subscriber.message_rx(),
            Arc::downgrade(&conn),
        )));
        tasks.push(tokio::spawn(publish_loop(publisher, out_rx, queued)));
        *conn.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        Ok(conn)
    }

    /// Queues a message: messages are published in the order they are queued.
    pub(crate) fn publish(&self, channel: String, payload: Bytes, sharded: bool) {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(%channel, "redis publish queue full: message dropped");
            return;
        }
        let _ = self.out.send(Outgoing {
            channel,
            payload,
            sharded,
        });
    }

    pub(crate) fn route_exact(&self, channel: &str, inbox: Weak<dyn Inbox>) {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        routes.exact.insert(channel.to_owned(), inbox);
    }

    pub(crate) fn route_prefix(&self, prefix: &str, inbox: Weak<dyn Inbox>) {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        routes.prefixes.push((prefix.to_owned(), inbox));
    }

    pub(crate) fn unroute(&self, exact: &[String], prefix: Option<&str>) {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        for c in exact {
            routes.exact.remove(c);
        }
        if let Some(p) = prefix {
            routes.prefixes.retain(|(q, _)| q != p);
        }
    }

    pub(crate) async fn subscribe(&self, channels: Vec<String>) -> Result<(), AdapterError> {
        self.subscriber.subscribe(channels).await.map_err(transport)
    }

    pub(crate) async fn psubscribe(&self, pattern: String) -> Result<(), AdapterError> {
        self.subscriber.psubscribe(pattern).await.map_err(transport)
    }

    pub(crate) async fn ssubscribe(&self, channel: String) -> Result<(), AdapterError> {
        self.subscriber.ssubscribe(channel).await.map_err(transport)
    }

    pub(crate) async fn unsubscribe(&self, channels: Vec<String>) -> Result<(), AdapterError> {
        self.subscriber
            .unsubscribe(channels)
            .await
            .map_err(transport)
    }

    pub(crate) async fn punsubscribe(&self, pattern: String) -> Result<(), AdapterError> {
        self.subscriber
            .punsubscribe(pattern)
            .await
            .map_err(transport)
    }

    pub(crate) async fn sunsubscribe(&self, channel: String) -> Result<(), AdapterError> {
        self.subscriber
            .sunsubscribe(channel)
            .await
            .map_err(transport)
    }

    /// `PUBSUB NUMSUB channel` (`SHARDNUMSUB` when `sharded`): how many clients are
    /// subscribed. On a Redis Cluster, plain `NUMSUB` is summed over the primaries, as
    /// Node's adapter does.
    pub(crate) async fn numsub(&self, channel: &str, sharded: bool) -> Result<usize, AdapterError> {
        if sharded {
            // On a Redis Cluster, the shard that owns the channel's slot knows.
            let owner = self.publisher.is_clustered().then(|| {
                let slot = fred::util::redis_keyslot(channel.as_bytes());
                self.publisher
                    .cached_cluster_state()
                    .and_then(|s| s.get_server(slot).cloned())
            });
            let reply: Vec<fred::types::Value> = match owner.flatten() {
                Some(server) => self
                    .publisher
                    .with_cluster_node(server)
                    .pubsub_shardnumsub(channel)
                    .await
                    .map_err(transport)?,
                None => self
                    .publisher
                    .pubsub_shardnumsub(channel)
                    .await
                    .map_err(transport)?,
            };
            return Ok(count_of(&reply));
        }
        if self.publisher.is_clustered() {
            let nodes = self
                .publisher
                .cached_cluster_state()
                .map(|s| s.unique_primary_nodes())
                .unwrap_or_default();
            let mut total = 0;
            for node in nodes {
                let reply: Vec<fred::types::Value> = self
                    .publisher
                    .with_cluster_node(node)
                    .pubsub_numsub(channel)
                    .await
                    .map_err(transport)?;
                total += count_of(&reply);
            }
            return Ok(total);
        }
        let reply: Vec<fred::types::Value> = self
            .publisher
            .pubsub_numsub(channel)
            .await
            .map_err(transport)?;
        Ok(count_of(&reply))
    }

    /// Stops the tasks and closes both connections.
    pub(crate) async fn close(&self) {
        abort_all(&self.tasks);
        let _ = self.subscriber.quit().await;
        let _ = self.publisher.quit().await;
        abort_all(&self.fred_tasks);
    }
}

/// Aborts the tasks of `tasks`, and forgets them.
fn abort_all<T>(tasks: &Mutex<Vec<JoinHandle<T>>>) {
    for t in tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        t.abort();
    }
}

/// Subscribes again to every channel, pattern and shard channel the subscriber tracks
/// (after a reconnection the server has forgotten them). Each kind on its own, so that
/// none is skipped when another kind has nothing to restore.
async fn resubscribe(subscriber: &SubscriberClient) -> Result<(), fred::error::Error> {
    let channels: Vec<fred::types::Key> = subscriber
        .tracked_channels()
        .into_iter()
        .map(Into::into)
        .collect();
    if !channels.is_empty() {
        subscriber.subscribe(channels).await?;
    }
    let patterns: Vec<fred::types::Key> = subscriber
        .tracked_patterns()
        .into_iter()
        .map(Into::into)
        .collect();
    if !patterns.is_empty() {
        subscriber.psubscribe(patterns).await?;
    }
    // One at a time: shard channels of one command must share a hash slot.
    for channel in subscriber.tracked_shard_channels() {
        subscriber.ssubscribe(channel).await?;
    }
    Ok(())
}

/// The count in a `[channel, count]` reply.
fn count_of(reply: &[fred::types::Value]) -> usize {
    reply
        .get(1)
        .and_then(|v| v.as_i64())
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// Hands each received message to the inbox of its channel.
async fn dispatch(
    mut rx: tokio::sync::broadcast::Receiver<fred::types::Message>,
    conn: Weak<Connection>,
) {
    loop {
        match rx.recv().await {
            Ok(message) => {
                let Some(conn) = conn.upgrade() else { return };
                let channel: &str = &message.channel;
                let inbox = conn
                    .routes
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .find(channel);
                let (Some(inbox), Some(payload)) = (inbox, message.value.as_bytes()) else {
                    continue;
                };
                inbox.receive(channel, payload);
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    lost = n,
                    "redis messages arrived faster than handled: some were lost"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Publishes the queued messages in order, several at a time in a pipeline.
async fn publish_loop(
    client: Client,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    queued: Arc<AtomicUsize>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        queued.fetch_sub(batch.len(), Ordering::Relaxed);
        let pipeline = client.pipeline();
        for m in batch.drain(..) {
            let queued: Result<(), _> = if m.sharded {
                pipeline.spublish(m.channel, m.payload).await
            } else {
                pipeline.publish(m.channel, m.payload).await
            };
            if let Err(e) = queued {
                tracing::warn!(error = %e, "redis publish failed");
            }
        }
        for result in pipeline.try_all::<fred::types::Value>().await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "redis publish failed");
            }
        }
    }
}
