//! The task of a session: its heartbeat while it is on polling, then its WebSocket — the
//! queue written out, the client's frames read, the heartbeat run — once it opens on
//! one or an upgrade hands one over.

use std::sync::Arc;

use futures_util::future::{Either, FutureExt as _};
use futures_util::{SinkExt, StreamExt};
use sockio_protocol::engine::payload::EncodedPacket;
use tokio::time::{sleep_until, Instant as TokioInstant};

use crate::error::CloseReason;
use crate::proto::{FinalPacket, WsRound};
use crate::session::Session;
use crate::ws_stream::{self, Incoming, WsStream};

/// Most packets the WebSocket task writes per flush.
const WRITE_BATCH: usize = 64;

/// The task of a session opened by polling: its heartbeat, then its WebSocket once an
/// upgrade hands one over. Chained, so the task holds one phase's state at a time.
pub(crate) fn run_polling<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
) -> impl std::future::Future<Output = ()> + Send {
    let next = session.clone();
    polling_phase(session).then(move |ws| match ws {
        Some(ws) => Either::Left(run_websocket(next, ws)),
        None => Either::Right(std::future::ready(())),
    })
}

async fn polling_phase<D: Send + Sync + 'static>(session: Arc<Session<D>>) -> Option<WsStream> {
    let session = &session;
    loop {
        if session.close_if_overflowed() {
            return None;
        }
        let deadline = {
            let mut st = session.lock();
            if st.proto.is_closed() {
                return None;
            }
            if let Some(ws) = st.handoff.take() {
                return Some(*ws);
            }
            st.proto.poll_timeout()
        };
        tokio::select! {
            _ = session.task_notify.wait() => {}
            _ = sleep_until(TokioInstant::from_std(deadline)) => {
                if !session.heartbeat_tick() {
                    return None;
                }
            }
        }
    }
}

/// The task of a session on WebSocket: writes its queue, reads the client's frames, runs
/// its heartbeat.
pub(crate) async fn run_websocket<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
    mut ws: WsStream,
) {
    let session = &session;
    let version = session.protocol;
    let (base64, mut deadline) = {
        let st = session.lock();
        (st.proto.ws_base64(), st.proto.poll_timeout())
    };
    let mut batch: Vec<EncodedPacket> = Vec::new();
    // One timer for the life of the session, moved only when the deadline does: creating
    // and dropping a timer entry on every wake-up costs more than the write itself.
    let sleep = tokio::time::sleep_until(TokioInstant::from_std(deadline));
    tokio::pin!(sleep);
    loop {
        // Cleared before looking, so a packet queued after the look raises it again.
        session.out_notify.clear();
        // Bounded batches keep this task's buffers small whatever the queue holds.
        // (Scoped, so that only the two flags stay in the task's state across awaits.)
        let (closed, overflowed) = {
            let round: WsRound = session
                .lock()
                .proto
                .poll_ws_transmit(&mut batch, WRITE_BATCH);
            if round.more {
                // The rest goes in the next round, after a look at incoming frames.
                session.out_notify.raise();
            }
            if round.deadline != deadline {
                deadline = round.deadline;
                sleep.as_mut().reset(TokioInstant::from_std(deadline));
            }
            (round.closed, round.overflowed)
        };
        if overflowed {
            session.close(CloseReason::SlowClient, FinalPacket::Close);
            return;
        }
        if !batch.is_empty() {
            let write = async {
                for p in batch.drain(..) {
                    ws.feed(ws_stream::to_ws_message(p, version, base64))
                        .await?;
                }
                ws.flush().await
            };
            tokio::pin!(write);
            // Most writes complete at once. One that cannot (the client's socket buffer is
            // full) marks the transport busy, and volatile packets are dropped meanwhile.
            let first = futures_util::FutureExt::now_or_never(&mut write);
            let written = if let Some(r) = first {
                r.is_ok()
            } else {
                session.lock().proto.ws_write_blocked();
                loop {
                    tokio::select! {
                        biased;
                        r = &mut write => break r.is_ok(),
                        // A client too slow to take what is queued is dropped at once; any
                        // other close lets the write finish first.
                        _ = session.task_notify.wait() => {
                            if session.close_if_overflowed() {
                                return;
                            }
                        }
                    }
                }
            };
            if !written {
                session.close(CloseReason::TransportClose, FinalPacket::Close);
                return;
            }
        }
        if closed {
            ws_stream::close_gracefully(&mut ws).await;
            return;
        }
        tokio::select! {
            biased;
            msg = ws.next() => match ws_stream::classify(msg, version) {
                Incoming::Packet(p) => {
                    // Answers queued while handling this packet are written by this very
                    // task on its next round: no wake-up needed for them.
                    session.out_notify.unregister();
                    session.receive(p);
                }
                Incoming::Invalid(e) => session.parse_error(&e),
                Incoming::Skip => {}
                Incoming::Closed(reason) => {
                    session.close(reason, FinalPacket::Close);
                    return;
                }
                Incoming::TooBig => {
                    tracing::debug!(sid = %session.sid, "websocket message over max payload");
                    ws_stream::close_too_big(&mut ws).await;
                    session.close(CloseReason::TransportClose, FinalPacket::Close);
                    return;
                }
            },
            // Whatever raises `task_notify` (a close, an overflow) raises this too.
            _ = session.out_notify.wait() => {}
            _ = &mut sleep => {
                session.heartbeat_tick();
                // Never leave an elapsed timer armed: it would fire again at once.
                deadline = session
                    .heartbeat_deadline()
                    .max(crate::session::now() + std::time::Duration::from_millis(1));
                sleep.as_mut().reset(TokioInstant::from_std(deadline));
            }
        }
    }
}
