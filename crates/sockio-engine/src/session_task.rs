//! The task of a session: its heartbeat while it is on polling, then its WebSocket — the
//! queue written out, the client's frames read, the heartbeat run — once it opens on
//! one or an upgrade hands one over.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::{Either, FutureExt as _};
use sockio_protocol::engine::payload::EncodedPacket;
use sockio_protocol::engine::Packet;
use tokio::time::{sleep_until, Instant as TokioInstant};

use crate::error::CloseReason;
use crate::proto::{FinalPacket, WsRound};
use crate::session::Session;
use crate::ws_stream::{self, Incoming, WsEvent, WsStream};
use crate::ws_write::{self, Frames, Quick};

/// Most packets the WebSocket task takes from the queue per round: two buffers each fill
/// one vectored write (`IOV_MAX` is 1024). Anything more goes in the next round, after a
/// look at the client's frames.
const WRITE_BATCH: usize = 512;

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
    let mut frames = Frames::default();
    // One timer for the life of the session, on the engine's heartbeat schedule (not a
    // tokio timer: see `heartbeats`), moved only when the deadline does.
    let mut timer = session.shared.heartbeats.timer();
    timer.reset(deadline);
    // Whether the stream was polled and was pending earlier in this very poll of the task,
    // and nothing was read since (see `next_unless_just_polled`).
    let mut ws_idle = false;
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
                timer.reset(deadline);
            }
            (round.closed, round.overflowed)
        };
        if overflowed {
            session.close(CloseReason::SlowClient, FinalPacket::Close);
            return;
        }
        if batch.len() == 1 && !ws.control_pending() {
            // One packet, nothing of the stream's own before it (a heartbeat's ping): a
            // small text one is written at once, framed on the stack.
            if let Some(p) = batch.pop() {
                match ws_write::try_write_small(ws.get_mut(), p) {
                    Quick::Done => {}
                    Quick::Rest(rest) => frames.push_raw(rest),
                    Quick::NotNow(p) => frames.push(p, version, base64),
                    Quick::Failed => {
                        session.close(CloseReason::TransportClose, FinalPacket::Close);
                        return;
                    }
                }
            }
        }
        for p in batch.drain(..) {
            frames.push(p, version, base64);
        }
        if batch.capacity() > 64 {
            batch = Vec::new();
        }
        if !frames.is_empty() {
            let write = async {
                // Our control frames (a pong) leave first, then everything
                // queued here in as few writes as the kernel takes.
                ws.flush().await?;
                frames.write_to(ws.get_mut()).await
            };
            tokio::pin!(write);
            // Most writes complete at once. One that cannot (the client's socket buffer is
            // full) marks the transport busy, and volatile packets are dropped meanwhile.
            let first = futures_util::FutureExt::now_or_never(&mut write);
            let written = if let Some(r) = first {
                r.is_ok()
            } else {
                session.lock().proto.ws_write_blocked();
                // The task may be suspended here: the stream is polled anew below.
                ws_idle = false;
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
        let skip = std::mem::take(&mut ws_idle);
        tokio::select! {
            biased;
            msg = next_unless_just_polled(&mut ws, skip) => match ws_stream::classify(msg, version) {
                Incoming::Packet(p) => {
                    // Answers queued while handling this packet are written by this very
                    // task on its next round: no wake-up needed for them. (A pong queues
                    // none: its waker stays.)
                    if !matches!(p, Packet::Pong(_)) {
                        session.out_notify.unregister();
                    }
                    session.receive(p);
                }
                Incoming::Invalid(e) => session.parse_error(&e),
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
            // The stream was pending before this branch was looked at (`biased`): unless
            // that look was skipped, the next round, in this same poll, need not look again.
            _ = session.out_notify.wait() => ws_idle = !skip,
            _ = timer.elapsed() => {
                ws_idle = !skip;
                // The ping this queues is written by this very task on its next round: it
                // raises nothing. A fired timer is disarmed: armed again for the deadline
                // the tick left (the next round's look at the state re-arms it only if
                // that moves). A tick that closed the session leaves the rest to the next
                // round.
                if let Some(next) = session.heartbeat_tick_ws() {
                    deadline = next;
                    timer.reset(deadline);
                }
            }
        }
    }
}

/// The WebSocket's next frame, except that with `skip` the first poll is pending without
/// looking at the stream.
///
/// For a round where the stream was polled, and was pending, earlier in the same poll of
/// the task (a round woken by the heartbeat or the queue, which writes and waits again
/// without yielding in between): nothing can have been read since, and the stream's waker,
/// registered by that poll, stays registered until the socket turns readable, which wakes
/// the task and polls this future again, for real. Saves one readiness poll of the socket
/// (~290 instructions) per heartbeat round and per queue wake-up. Never skips twice
/// running: each skip is followed by a real poll before another can be decided.
fn next_unless_just_polled(ws: &mut WsStream, skip: bool) -> impl Future<Output = WsEvent> + '_ {
    let mut skip = skip;
    std::future::poll_fn(move |cx| {
        if std::mem::take(&mut skip) {
            std::task::Poll::Pending
        } else {
            ws.poll_next(cx)
        }
    })
}

#[cfg(test)]
mod tests {
    //! The tasks driving the state machine, on a runtime whose clock is paused: timers
    //! fire as soon as every task waits, so heartbeats are tested in no real time.

    use std::sync::Mutex;
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::Full;
    use sockio_protocol::engine::ProtocolVersion;
    use tokio::time::Instant;

    use super::*;
    use crate::proto::{PollingFormat, TransportKind};
    use crate::{Engine, EngineConfig, Handler, Message, Socket};

    const INTERVAL: Duration = Duration::from_secs(25);
    const TIMEOUT: Duration = Duration::from_secs(20);

    #[derive(Default, Clone)]
    struct Record(Arc<Mutex<Vec<String>>>);

    impl Handler<()> for Record {
        fn on_message(&self, _: &Socket<()>, message: Message) {
            if let Message::Text(t) = message {
                self.0.lock().unwrap().push(format!("message {t}"));
            }
        }
        fn on_close(&self, _: &Socket<()>, reason: CloseReason) {
            self.0.lock().unwrap().push(format!("close {reason}"));
        }
    }

    impl Record {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    /// A registered polling session with its task running.
    fn open(protocol: ProtocolVersion) -> (Engine<()>, Record, Arc<Session<()>>) {
        let record = Record::default();
        let config = EngineConfig::builder()
            .ping_interval(INTERVAL)
            .ping_timeout(TIMEOUT)
            .build();
        let engine = Engine::new(config, record.clone());
        let format = match protocol {
            ProtocolVersion::V4 => PollingFormat::V4,
            ProtocolVersion::V3 => PollingFormat::V3Text,
        };
        let session = Session::new(
            engine.shared.clone(),
            protocol,
            TransportKind::Polling,
            format,
            crate::Handshake::from_head(
                bytes::Bytes::new(),
                http::Uri::default(),
                None,
                std::time::SystemTime::UNIX_EPOCH,
            ),
            (),
        );
        engine.shared.sessions.insert(session.sid, session.clone());
        tokio::spawn(run_polling(session.clone()));
        (engine, record, session)
    }

    async fn get(session: &Arc<Session<()>>) -> (u16, String) {
        let answer = crate::polling::poll(session.clone(), None, false).await;
        let status = answer.status.as_u16();
        (status, String::from_utf8_lossy(&answer.body).into_owned())
    }

    async fn post(session: &Arc<Session<()>>, body: &'static str) -> u16 {
        let body = Full::new(Bytes::from_static(body.as_bytes()));
        crate::polling::post(session.clone(), false, false, body)
            .await
            .status
            .as_u16()
    }

    #[tokio::test(start_paused = true)]
    async fn v4_ping_then_ping_timeout() {
        let (engine, record, session) = open(ProtocolVersion::V4);
        let t0 = Instant::now();
        assert_eq!(get(&session).await, (200, "2".to_owned()));
        assert_eq!(t0.elapsed(), INTERVAL);
        // No pong: the waiting GET gets the close packet once the timeout passes.
        assert_eq!(get(&session).await, (200, "1".to_owned()));
        assert_eq!(t0.elapsed(), INTERVAL + TIMEOUT);
        assert_eq!(record.take(), ["close ping timeout"]);
        assert!(engine.socket(session.sid).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn v4_pong_keeps_the_session_alive() {
        let (engine, record, session) = open(ProtocolVersion::V4);
        let t0 = Instant::now();
        assert_eq!(get(&session).await, (200, "2".to_owned()));
        tokio::time::sleep(TIMEOUT / 2).await;
        assert_eq!(post(&session, "3").await, 200);
        assert_eq!(post(&session, "4hello").await, 200);
        // The next ping comes an interval after the pong.
        assert_eq!(get(&session).await, (200, "2".to_owned()));
        assert_eq!(t0.elapsed(), INTERVAL + TIMEOUT / 2 + INTERVAL);
        assert_eq!(record.take(), ["message hello"]);
        assert!(engine.socket(session.sid).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn v3_client_pings_are_answered_and_their_absence_times_out() {
        let (engine, record, session) = open(ProtocolVersion::V3);
        let t0 = Instant::now();
        tokio::time::sleep(INTERVAL).await;
        assert_eq!(post(&session, "1:2").await, 200);
        assert_eq!(get(&session).await, (200, "1:3".to_owned()));
        // The server never pings on v3: the next GET waits until the client's next ping
        // is overdue.
        assert_eq!(get(&session).await, (200, "1:1".to_owned()));
        assert_eq!(t0.elapsed(), INTERVAL + INTERVAL + TIMEOUT);
        assert_eq!(record.take(), ["close ping timeout"]);
        assert!(engine.socket(session.sid).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_get_is_refused_and_closes() {
        let (engine, record, session) = open(ProtocolVersion::V4);
        let first = tokio::spawn({
            let session = session.clone();
            async move { get(&session).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(get(&session).await.0, 400);
        assert_eq!(first.await.unwrap(), (200, "1".to_owned()));
        assert_eq!(record.take(), ["close transport error"]);
        assert!(engine.socket(session.sid).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn server_close_flushes_then_answers_close() {
        let (engine, record, session) = open(ProtocolVersion::V4);
        let socket = engine.socket(session.sid).unwrap();
        socket.send_text("bye").unwrap();
        socket.close();
        assert_eq!(get(&session).await, (200, "4bye".to_owned()));
        // Still reachable for its last GET.
        assert!(engine.shared.sessions.get(&session.sid).is_some());
        assert_eq!(get(&session).await, (200, "1".to_owned()));
        assert!(engine.shared.sessions.get(&session.sid).is_none());
        assert_eq!(record.take(), ["close forced close"]);
    }

    #[tokio::test(start_paused = true)]
    async fn client_close_packet_closes() {
        let (engine, record, session) = open(ProtocolVersion::V4);
        assert_eq!(post(&session, "1").await, 200);
        assert_eq!(get(&session).await, (200, "6".to_owned()));
        assert_eq!(record.take(), ["close transport close"]);
        assert!(engine.socket(session.sid).is_none());
    }
}
