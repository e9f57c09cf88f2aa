//! Unit tests of the sans-IO Engine.IO client: no runtime, time as an input.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sockio_protocol::engine::{Message, ProtocolVersion};
use sockio_protocol::Utf8Bytes;

use super::*;

const OPEN_V4: &str = r#"0{"sid":"s1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;
const OPEN_V4_NO_UPGRADE: &str =
    r#"0{"sid":"s1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn body(s: &str) -> Input {
    Input::PollResponse {
        body: Bytes::from(s.to_owned()),
        binary: false,
    }
}

fn text(s: &str) -> Utf8Bytes {
    Utf8Bytes::from(s.to_owned())
}

fn closed(actions: &[Action]) -> Option<(&CloseReason, bool)> {
    actions.iter().find_map(|a| match a {
        Action::Event(EngineEvent::Closed { reason, was_open }) => Some((reason, *was_open)),
        _ => None,
    })
}

fn posts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Post { body, .. } => Some(String::from_utf8_lossy(body).into_owned()),
            _ => None,
        })
        .collect()
}

fn opened_v4(open: &str, t0: Instant) -> EngineClient {
    let mut e = EngineClient::new(EngineOptions::default());
    assert_eq!(
        e.handle(Input::Connect, t0),
        vec![Action::Poll { sid: None }]
    );
    let a = e.handle(body(open), t0);
    assert!(matches!(&a[0], Action::Event(EngineEvent::Open(h)) if h.sid == "s1"));
    e
}

#[test]
fn v4_polling_handshake_then_long_poll() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions {
        upgrade: false,
        ..EngineOptions::default()
    });
    e.handle(Input::Connect, t0);
    let a = e.handle(body(OPEN_V4), t0);
    assert_eq!(a.len(), 2, "{a:?}");
    let Action::Event(EngineEvent::Open(h)) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(h.ping_interval, ms(300));
    assert_eq!(h.ping_timeout, ms(200));
    assert_eq!(h.max_payload, Some(1_000_000));
    assert_eq!(
        a[1],
        Action::Poll {
            sid: Some("s1".into())
        }
    );
    assert!(e.is_open());
    // A payload of two messages and a ping: messages delivered, pong posted, next GET.
    let a = e.handle(body("4hello\x1e2\x1ebAQID"), t0 + ms(100));
    assert_eq!(
        a,
        vec![
            Action::Event(EngineEvent::Message(Message::Text(text("hello")))),
            Action::Event(EngineEvent::Heartbeat),
            Action::Post {
                sid: "s1".into(),
                body: Bytes::from_static(b"3")
            },
            Action::Event(EngineEvent::Message(Message::Binary(Bytes::from_static(
                &[1, 2, 3]
            )))),
            Action::Poll {
                sid: Some("s1".into())
            },
        ]
    );
    assert_eq!(e.next_deadline(), Some(t0 + ms(600)));
}

#[test]
fn v4_silent_server_times_out_after_interval_plus_timeout() {
    let t0 = Instant::now();
    let mut e = opened_v4(OPEN_V4_NO_UPGRADE, t0);
    assert!(e.handle(Input::Tick, t0 + ms(499)).is_empty());
    let a = e.handle(Input::Tick, t0 + ms(500));
    assert_eq!(closed(&a), Some((&CloseReason::PingTimeout, true)));
    assert!(e.is_closed());
    assert_eq!(e.next_deadline(), None);
    // Nothing happens after the close.
    assert!(e.handle(body("4late"), t0 + ms(600)).is_empty());
}

#[test]
fn writes_wait_for_the_post_in_flight_and_go_together() {
    let t0 = Instant::now();
    let mut e = opened_v4(OPEN_V4_NO_UPGRADE, t0);
    let a = e.handle(Input::Send(Message::Text(text("a"))), t0);
    assert_eq!(posts(&a), vec!["4a"]);
    assert!(posts(&e.handle(Input::Send(Message::Text(text("b"))), t0)).is_empty());
    assert!(
        posts(&e.handle(Input::Send(Message::Binary(Bytes::from_static(&[9]))), t0)).is_empty()
    );
    assert_eq!(e.buffered(), 2);
    let a = e.handle(Input::PostDone, t0);
    assert_eq!(posts(&a), vec!["4b\x1ebCQ=="]);
    assert!(posts(&e.handle(Input::PostDone, t0)).is_empty());
}

#[test]
fn posts_are_split_at_max_payload() {
    let t0 = Instant::now();
    let open =
        r#"0{"sid":"s1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":12}"#;
    let mut e = opened_v4(open, t0);
    e.handle(Input::Send(Message::Text(text("first"))), t0);
    for m in ["aaaa", "bbbb", "cccc"] {
        e.handle(Input::Send(Message::Text(text(m))), t0);
    }
    assert_eq!(
        posts(&e.handle(Input::PostDone, t0)),
        vec!["4aaaa\x1e4bbbb"]
    );
    assert_eq!(posts(&e.handle(Input::PostDone, t0)), vec!["4cccc"]);
}

#[test]
fn upgrade_probe_pause_and_switch() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions::default());
    e.handle(Input::Connect, t0);
    let a = e.handle(body(OPEN_V4), t0);
    assert_eq!(
        &a[1..],
        &[
            Action::WsConnect {
                sid: Some("s1".into())
            },
            Action::Poll {
                sid: Some("s1".into())
            }
        ]
    );
    let a = e.handle(Input::WsOpen, t0);
    assert_eq!(a, vec![Action::WsSend(WsFrame::Text(text("2probe")))]);
    // Messages sent before the probe answer still go by polling.
    assert_eq!(
        posts(&e.handle(Input::Send(Message::Text(text("x"))), t0)),
        vec!["4x"]
    );
    // 3probe: pause; the GET and the POST are still in flight, so no `5` yet.
    assert!(e.handle(Input::WsText(text("3probe")), t0).is_empty());
    // Sends during the pause are kept for the new transport.
    assert!(e
        .handle(Input::Send(Message::Text(text("y"))), t0)
        .is_empty());
    assert!(e.handle(Input::PostDone, t0).is_empty());
    // The server releases the GET with a noop: upgrade, no more GET.
    let a = e.handle(body("6"), t0);
    assert_eq!(
        a,
        vec![
            Action::WsSend(WsFrame::Text(text("5"))),
            Action::Event(EngineEvent::Upgraded(TransportKind::WebSocket)),
            Action::WsSend(WsFrame::Text(text("4y"))),
        ]
    );
    assert_eq!(e.transport(), TransportKind::WebSocket);
    // Now everything is frames.
    let a = e.handle(Input::WsText(text("2")), t0 + ms(100));
    assert_eq!(
        a,
        vec![
            Action::Event(EngineEvent::Heartbeat),
            Action::WsSend(WsFrame::Text(text("3")))
        ]
    );
    let a = e.handle(Input::Send(Message::Binary(Bytes::from_static(&[1]))), t0);
    assert_eq!(
        a,
        vec![Action::WsSend(WsFrame::Binary(Bytes::from_static(&[1])))]
    );
    let a = e.handle(Input::WsBinary(Bytes::from_static(&[7])), t0);
    assert_eq!(
        a,
        vec![Action::Event(EngineEvent::Message(Message::Binary(
            Bytes::from_static(&[7])
        )))]
    );
    // The server closing the WebSocket ends the session.
    let a = e.handle(Input::WsClosed(None), t0);
    assert_eq!(closed(&a), Some((&CloseReason::TransportClose, true)));
}

#[test]
fn failed_probe_keeps_polling() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions::default());
    e.handle(Input::Connect, t0);
    e.handle(body(OPEN_V4), t0);
    let a = e.handle(
        Input::WsClosed(Some(TransportError::WebSocket("refused".into()))),
        t0,
    );
    assert!(closed(&a).is_none(), "{a:?}");
    assert_eq!(e.transport(), TransportKind::Polling);
    assert!(e.is_open());
    // A probe that is never answered is abandoned after its deadline.
    let mut e = EngineClient::new(EngineOptions::default());
    e.handle(Input::Connect, t0);
    e.handle(body(OPEN_V4), t0);
    e.handle(Input::WsOpen, t0);
    let a = e.handle(body("2"), t0 + ms(700));
    assert!(closed(&a).is_none(), "{a:?}");
    let a = e.handle(Input::Tick, t0 + ms(1000));
    assert!(a.contains(&Action::WsClose), "{a:?}");
    assert!(e.is_open());
    assert_eq!(e.transport(), TransportKind::Polling);
}

#[test]
fn websocket_first() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions {
        transports: vec![TransportKind::WebSocket],
        ..EngineOptions::default()
    });
    assert_eq!(
        e.handle(Input::Connect, t0),
        vec![Action::WsConnect { sid: None }]
    );
    assert!(e.handle(Input::WsOpen, t0).is_empty());
    let a = e.handle(Input::WsText(text(OPEN_V4)), t0);
    assert_eq!(a.len(), 1, "no probe on websocket: {a:?}");
    assert!(e.is_open());
    let a = e.handle(Input::Send(Message::Text(text("hi"))), t0);
    assert_eq!(a, vec![Action::WsSend(WsFrame::Text(text("4hi")))]);
    let a = e.handle(Input::Close, t0);
    assert_eq!(a[0], Action::WsSend(WsFrame::Text(text("1"))));
    assert!(a.contains(&Action::WsClose));
    assert_eq!(closed(&a), Some((&CloseReason::ForcedClose, true)));
}

#[test]
fn v3_polling_client_pings() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions {
        version: ProtocolVersion::V3,
        upgrade: false,
        ..EngineOptions::default()
    });
    e.handle(Input::Connect, t0);
    let open = r#"0{"sid":"s1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200}"#;
    let payload = format!("{}:{open}2:40", open.len());
    let a = e.handle(body(&payload), t0);
    let Action::Event(EngineEvent::Open(h)) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(h.max_payload, None);
    assert_eq!(
        a[1],
        Action::Event(EngineEvent::Message(Message::Text(text("0"))))
    );
    assert_eq!(e.next_deadline(), Some(t0 + ms(300)));
    let a = e.handle(Input::Tick, t0 + ms(300));
    assert_eq!(posts(&a), vec!["1:2"]);
    assert_eq!(e.next_deadline(), Some(t0 + ms(500)));
    e.handle(Input::PostDone, t0 + ms(301));
    let a = e.handle(body("1:3"), t0 + ms(310));
    assert_eq!(a[0], Action::Event(EngineEvent::Heartbeat));
    assert_eq!(e.next_deadline(), Some(t0 + ms(610)));
    // Binary messages in a v3 text payload, and the v3 XHR2 binary form.
    let a = e.handle(body("6:b4AQID"), t0 + ms(320));
    assert_eq!(
        a[0],
        Action::Event(EngineEvent::Message(Message::Binary(Bytes::from_static(
            &[1, 2, 3]
        ))))
    );
    let a = e.handle(
        Input::PollResponse {
            body: Bytes::from_static(&[1, 3, 0xff, 4, 9, 8]),
            binary: true,
        },
        t0 + ms(330),
    );
    assert_eq!(
        a[0],
        Action::Event(EngineEvent::Message(Message::Binary(Bytes::from_static(
            &[9, 8]
        ))))
    );
    // Sends use the v3 text payload.
    let a = e.handle(
        Input::Send(Message::Binary(Bytes::from_static(&[1, 2, 3]))),
        t0,
    );
    assert_eq!(posts(&a), vec!["6:b4AQID"]);
    // Our next ping goes unanswered.
    e.handle(Input::PostDone, t0 + ms(331));
    assert_eq!(posts(&e.handle(Input::Tick, t0 + ms(610))), vec!["1:2"]);
    let a = e.handle(Input::Tick, t0 + ms(810));
    assert_eq!(closed(&a), Some((&CloseReason::PingTimeout, true)));
}

#[test]
fn v3_websocket_binary_frames_have_a_type_byte() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions {
        version: ProtocolVersion::V3,
        transports: vec![TransportKind::WebSocket],
        upgrade: false,
    });
    e.handle(Input::Connect, t0);
    e.handle(Input::WsOpen, t0);
    e.handle(
        Input::WsText(text(
            r#"0{"sid":"s1","upgrades":[],"pingInterval":300,"pingTimeout":200}"#,
        )),
        t0,
    );
    let a = e.handle(Input::Send(Message::Binary(Bytes::from_static(&[5]))), t0);
    assert_eq!(
        a,
        vec![Action::WsSend(WsFrame::Binary(Bytes::from_static(&[4, 5])))]
    );
    let a = e.handle(Input::WsBinary(Bytes::from_static(&[4, 6])), t0);
    assert_eq!(
        a,
        vec![Action::Event(EngineEvent::Message(Message::Binary(
            Bytes::from_static(&[6])
        )))]
    );
    // A binary frame of another type is a parse error.
    let a = e.handle(Input::WsBinary(Bytes::from_static(&[2])), t0);
    assert!(matches!(
        closed(&a),
        Some((CloseReason::ParseError(_), true))
    ));
}

#[test]
fn bad_handshakes_and_garbage() {
    let t0 = Instant::now();
    for (input, expect_handshake) in [
        ("4hello", true),
        ("0not json", true),
        (r#"0{"sid":""}"#, true),
        ("zzz", false),
        ("", false),
    ] {
        let mut e = EngineClient::new(EngineOptions::default());
        e.handle(Input::Connect, t0);
        let a = e.handle(body(input), t0);
        let (reason, was_open) = closed(&a).unwrap_or_else(|| panic!("{input:?}: {a:?}"));
        assert!(!was_open);
        assert_eq!(
            matches!(reason, CloseReason::Handshake(_)),
            expect_handshake,
            "{input:?}: {reason:?}"
        );
        assert!(e.is_closed());
    }
    // Garbage after the handshake.
    let mut e = opened_v4(OPEN_V4_NO_UPGRADE, t0);
    let a = e.handle(body("4ok\x1e9"), t0);
    assert_eq!(
        a[0],
        Action::Event(EngineEvent::Message(Message::Text(text("ok"))))
    );
    assert!(matches!(
        closed(&a),
        Some((CloseReason::ParseError(_), true))
    ));
    // An HTTP error on the handshake.
    let mut e = EngineClient::new(EngineOptions::default());
    e.handle(Input::Connect, t0);
    let err = TransportError::Http {
        status: 400,
        body: "{}".into(),
    };
    let a = e.handle(Input::PollFailed(err.clone()), t0);
    assert_eq!(closed(&a), Some((&CloseReason::TransportError(err), false)));
}

#[test]
fn server_close_and_client_close() {
    let t0 = Instant::now();
    let mut e = opened_v4(OPEN_V4_NO_UPGRADE, t0);
    let a = e.handle(body("1"), t0);
    assert_eq!(closed(&a), Some((&CloseReason::TransportClose, true)));
    assert_eq!(
        CloseReason::TransportClose.disconnect_reason(),
        "transport close"
    );

    let mut e = opened_v4(OPEN_V4_NO_UPGRADE, t0);
    let a = e.handle(Input::Close, t0);
    assert_eq!(posts(&a), vec!["1"]);
    assert_eq!(closed(&a), Some((&CloseReason::ForcedClose, true)));
    // A client close before the handshake completes.
    let mut e = EngineClient::new(EngineOptions::default());
    e.handle(Input::Connect, t0);
    let a = e.handle(Input::Close, t0);
    assert_eq!(a.len(), 1);
    assert_eq!(closed(&a), Some((&CloseReason::ForcedClose, false)));
}

#[test]
fn v3_upgrade_and_close_during_probe() {
    let t0 = Instant::now();
    let opts = EngineOptions {
        version: ProtocolVersion::V3,
        ..EngineOptions::default()
    };
    let open = r#"0{"sid":"s1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200}"#;
    let payload = format!("{}:{open}", open.len());
    // Close while the probe is open: the probe WebSocket closes too.
    let mut e = EngineClient::new(opts.clone());
    e.handle(Input::Connect, t0);
    e.handle(body(&payload), t0);
    e.handle(Input::WsOpen, t0);
    let a = e.handle(Input::Close, t0);
    assert_eq!(posts(&a), vec!["1:1"]);
    assert!(a.contains(&Action::WsClose));
    // A full v3 upgrade: binary frames carry the type byte afterwards.
    let mut e = EngineClient::new(opts);
    e.handle(Input::Connect, t0);
    e.handle(body(&payload), t0);
    e.handle(Input::WsOpen, t0);
    assert!(e.handle(Input::WsText(text("3probe")), t0).is_empty());
    let a = e.handle(body("1:6"), t0);
    assert_eq!(a[0], Action::WsSend(WsFrame::Text(text("5"))));
    let a = e.handle(Input::Send(Message::Binary(Bytes::from_static(&[8]))), t0);
    assert_eq!(
        a,
        vec![Action::WsSend(WsFrame::Binary(Bytes::from_static(&[4, 8])))]
    );
    // Our pings now go as frames.
    let a = e.handle(Input::Tick, t0 + ms(300));
    assert_eq!(a, vec![Action::WsSend(WsFrame::Text(text("2")))]);
    let a = e.handle(Input::WsText(text("3")), t0 + ms(350));
    assert_eq!(a, vec![Action::Event(EngineEvent::Heartbeat)]);
    assert_eq!(e.next_deadline(), Some(t0 + ms(650)));
}

#[test]
fn websocket_first_needs_an_open_packet_first() {
    let t0 = Instant::now();
    let mut e = EngineClient::new(EngineOptions {
        transports: vec![TransportKind::WebSocket],
        ..EngineOptions::default()
    });
    e.handle(Input::Connect, t0);
    e.handle(Input::WsOpen, t0);
    let a = e.handle(Input::WsText(text("40")), t0);
    assert!(matches!(
        closed(&a),
        Some((CloseReason::Handshake(_), false))
    ));
    assert!(a.contains(&Action::WsClose));
    // A WebSocket that fails to open is a transport error before the handshake.
    let mut e = EngineClient::new(EngineOptions {
        transports: vec![TransportKind::WebSocket],
        ..EngineOptions::default()
    });
    e.handle(Input::Connect, t0);
    let err = TransportError::Connect("refused".into());
    let a = e.handle(Input::WsClosed(Some(err.clone())), t0);
    assert_eq!(closed(&a), Some((&CloseReason::TransportError(err), false)));
    // Nothing is sent before the handshake, and no timer runs.
    let mut e = EngineClient::new(EngineOptions::default());
    e.handle(Input::Connect, t0);
    assert!(e
        .handle(Input::Send(Message::Text(text("early"))), t0)
        .is_empty());
    assert_eq!(e.next_deadline(), None);
    assert!(e.handle(Input::Tick, t0 + ms(100_000)).is_empty());
    let a = e.handle(body(OPEN_V4_NO_UPGRADE), t0);
    assert_eq!(posts(&a), vec!["4early"]);
}
