// Socket.IO interop with socket.io-client 4.8 (EIO=4, Socket.IO protocol v5) against the
// `/socket.io/` endpoint of the conformance server at $SOCKIO_URL
// (spec: /work/shared/spec/conformance-server.md §4, §6.4; socket-io.md).
//
// Every case runs over websocket, polling, and polling → websocket (after the upgrade).
// Tests that broadcast use their own dynamic namespace (/dyn-<unique>) so that tests can run
// in parallel without seeing each other's traffic. "Exactly once" is checked with a marker:
// after the emission under test the sender asks for an `emit-all` of a unique marker event;
// packets on one connection keep their order, so when a client has the marker it has
// everything it will ever get from the emission before it.
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/socketio/client-v4.test.mjs

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import {
  V4_VARIANTS,
  ManagerV4,
  FAST_RECONNECT,
  SIO_PATH,
  serverUrl,
  createV4,
  connectV4,
  waitUpgrade,
  call,
  callAll,
  callAllWithin,
  once,
  firesWithin,
  dynNsp,
  uniq,
  normalize,
  sorted,
  sleep,
  exitWhenDone,
} from "../lib/sio.mjs";

exitWhenDone(after, "socketio/client-v4");

const T = { timeout: 10_000 };
const SID_RE = /^[A-Za-z0-9_-]{20}$/;
const bin = (...bytes) => Buffer.from(bytes);

/** Connects `n` sockets to `nsp` in parallel. */
function group(t, nsp, variant, n, opts) {
  return Promise.all(Array.from({ length: n }, () => connectV4(t, nsp, variant, opts)));
}

/**
 * Waits until every client of `clients` has a fresh marker (sent by `sender` to the whole
 * namespace with `emit-all`), so that anything emitted before has arrived.
 */
async function settle(sender, clients) {
  const marker = uniq("marker");
  await call(sender.socket, "emit-all", "marker", marker);
  for (const c of clients) {
    for (;;) {
      const [m] = await c.rec.next("marker", 3000);
      if (m === marker) break;
    }
  }
}

/** Same for a single client, with a marker sent by `to-socket` to itself. */
async function settleSelf(c) {
  const marker = uniq("marker");
  await call(c.socket, "to-socket", c.socket.id, "marker", marker);
  for (;;) {
    const [m] = await c.rec.next("marker", 3000);
    if (m === marker) break;
  }
}

/** How many times each client received `event`. */
const counts = (clients, event) => clients.map((c) => c.rec.count(event));

describe("socket.io-client 4.8 ↔ /socket.io/", { concurrency: true }, () => {
  for (const variant of V4_VARIANTS) {
    // a few tests at a time per variant: with pingTimeout 200 ms, a busy event loop (in the
    // server or in this process) would make clients time out
    describe(variant.name, { concurrency: 4 }, () => {
      // ---------------------------------------------------------------------------------------
      // connecting

      it("connects to / ; first event is auth {} ; socket id ≠ engine id", T, async (t) => {
        const { socket, rec, auth } = await connectV4(t, "/", variant);
        assert.deepEqual(auth, {});
        assert.equal(rec.events[0].event, "auth");
        assert.match(socket.id, SID_RE);
        assert.notEqual(socket.id, socket.io.engine.id);
        assert.equal(socket.io.engine.transport.name, variant.final);
        assert.deepEqual(await call(socket, "get-rooms"), []);
      });

      it("connects to /custom with auth; auth event carries it", T, async (t) => {
        const authIn = { token: "abc", n: 1, nested: { list: [1, "x", null] } };
        const { socket, rec, auth } = await connectV4(t, "/custom", variant, { auth: authIn });
        assert.deepEqual(auth, authIn);
        assert.equal(rec.events[0].event, "auth");
        assert.match(socket.id, SID_RE);
        const hs = await call(socket, "get-handshake");
        assert.deepEqual(hs.auth, authIn);
      });

      it("dynamic namespace /dyn-abc-1 and a fresh /dyn-… (own sockets only)", T, async (t) => {
        const a = await connectV4(t, "/dyn-abc-1", variant);
        assert.deepEqual(a.auth, {});
        assert.ok((await call(a.socket, "namespace-sockets")).includes(a.socket.id));
        const nsp = dynNsp();
        const [b, c] = await group(t, nsp, variant, 2, { auth: { who: "me" } });
        assert.deepEqual(b.auth, { who: "me" });
        assert.deepEqual(await call(b.socket, "namespace-sockets"), sorted([b.socket.id, c.socket.id]));
        // a second fresh dynamic namespace is a namespace of its own
        const other = await connectV4(t, dynNsp(), variant);
        assert.deepEqual(await call(other.socket, "namespace-sockets"), [other.socket.id]);
      });

      it("/restricted without / with a wrong token → connect_error not authorized + data", T, async (t) => {
        for (const auth of [undefined, { token: "nope" }]) {
          const { socket } = createV4(t, "/restricted", variant, auth ? { auth } : {});
          const [err] = await once(socket, "connect_error", 3000, ["connect"]);
          assert.equal(err.message, "not authorized");
          assert.deepEqual(err.data, { code: 4001, hint: "send auth.token" });
          assert.equal(socket.connected, false);
          // a CONNECT_ERROR does not make the client retry by itself
          assert.equal(await firesWithin(socket, "connect", 300), false);
        }
      });

      it("/restricted with auth.token let-me-in → connected, auth event", T, async (t) => {
        const { socket, auth } = await connectV4(t, "/restricted", variant, { auth: { token: "let-me-in" } });
        assert.deepEqual(auth, { token: "let-me-in" });
        assert.deepEqual(await call(socket, "get-rooms"), []);
      });

      it("unknown namespaces → connect_error Invalid namespace", T, async (t) => {
        for (const nsp of ["/nope", "/DYN-x", "/dyn-", "/restricted-x", "/custom/sub"]) {
          const { socket } = createV4(t, nsp, variant);
          const [err] = await once(socket, "connect_error", 3000, ["connect"]);
          assert.equal(err.message, "Invalid namespace", nsp);
          assert.equal(err.data, undefined, nsp);
        }
      });

      it("multiplexed namespaces on one Manager (one Engine.IO connection)", T, async (t) => {
        const manager = new ManagerV4(serverUrl(), {
          path: SIO_PATH,
          transports: variant.transports,
          timeout: 3000,
          ...FAST_RECONNECT,
        });
        t.after(() => manager.engine?.close());
        const dyn = dynNsp();
        const room = uniq("room");
        const [root, custom, d, rejected] = ["/", "/custom", dyn, "/restricted"].map((nsp) =>
          createV4(t, nsp, variant, { manager, auth: nsp === "/custom" ? { c: 1 } : undefined }),
        );
        const rejectedErr = once(rejected.socket, "connect_error", 3000, ["connect"]);
        await Promise.all([root, custom, d].map((c) => once(c.socket, "connect", 3000, ["connect_error"])));
        const [err] = await rejectedErr;
        assert.equal(err.message, "not authorized");
        assert.deepEqual((await root.rec.next("auth"))[0], {});
        assert.deepEqual((await custom.rec.next("auth"))[0], { c: 1 });
        assert.deepEqual((await d.rec.next("auth"))[0], {});
        if (variant.upgrade) await waitUpgrade(root.socket);
        assert.equal(root.socket.io, manager);
        assert.equal(custom.socket.io, manager);
        const ids = [root.socket.id, custom.socket.id, d.socket.id];
        assert.equal(new Set(ids).size, 3, "a fresh id per namespace");
        for (const id of ids) assert.notEqual(id, manager.engine.id);
        // packets are routed by namespace; rooms are per namespace
        assert.deepEqual(await call(d.socket, "join", room), [room]);
        assert.deepEqual(await call(custom.socket, "get-rooms"), []);
        await call(custom.socket, "io-to-rooms", room, "in-room", "custom");
        await call(d.socket, "io-to-rooms", room, "in-room", "dyn");
        assert.deepEqual(await d.rec.next("in-room"), ["dyn"]);
        await settleSelf(root);
        assert.equal(d.rec.count("in-room"), 1);
        assert.equal(custom.rec.count("in-room"), 0);
        assert.equal(root.rec.count("in-room"), 0);
        // one namespace leaving does not disturb the others
        custom.socket.disconnect();
        assert.deepEqual(await callAll(root.socket, "message-with-ack", "still"), ["still"]);
        assert.deepEqual(await call(d.socket, "get-rooms"), [room]);
        assert.equal(
          (await call(root.socket, "last-disconnect-reason", "/custom", ids[1]))?.reason,
          "client namespace disconnect",
        );
      });

      // ---------------------------------------------------------------------------------------
      // §4.3 handlers on one socket

      it("message → message-back with 0, 1, several args and binary", T, async (t) => {
        const { socket, rec } = await connectV4(t, "/", variant);
        const cases = [
          [],
          ["one"],
          [1, "two", { three: [3] }, null, true, 4.5],
          [bin(1, 2, 3)],
          ["mixed", bin(0xde, 0xad), { deep: [bin(), bin(0xff)] }, "end"],
          ["😀é日\u2028"],
        ];
        for (const args of cases) socket.emit("message", ...args);
        for (const args of cases) {
          assert.deepEqual(normalize(await rec.next("message-back")), normalize(args));
        }
        // binary arrives as binary
        const [b] = rec.of("message-back")[3];
        assert.ok(Buffer.isBuffer(b) || b instanceof ArrayBuffer, `binary type ${typeof b}`);
      });

      it("message with an ack request is never acked", T, async (t) => {
        const { socket, rec } = await connectV4(t, "/", variant);
        await assert.rejects(callAllWithin(300, socket, "message", "x"), /operation has timed out/);
        assert.deepEqual(await rec.next("message-back"), ["x"]);
      });

      it("message-with-ack acks the same args (0, 1, several, binary)", T, async (t) => {
        const { socket } = await connectV4(t, "/", variant);
        assert.deepEqual(await callAll(socket, "message-with-ack"), []);
        assert.deepEqual(await callAll(socket, "message-with-ack", 1), [1]);
        assert.deepEqual(await callAll(socket, "message-with-ack", "a", 2, [3], { b: null }), ["a", 2, [3], { b: null }]);
        const r = await callAll(socket, "message-with-ack", bin(1, 2), { x: [bin(3)] }, "t");
        assert.deepEqual(normalize(r), normalize([bin(1, 2), { x: [bin(3)] }, "t"]));
        // emitWithAck resolves with the first ack argument
        assert.equal(await socket.timeout(2000).emitWithAck("message-with-ack", "first", "second"), "first");
      });

      it("server-ack: server asks, client acks, server emits the answer", T, async (t) => {
        const { socket, rec } = await connectV4(t, "/", variant);
        const seen = [];
        socket.on("server-ack-request", (...args) => {
          const cb = args.pop();
          seen.push(args);
          cb("r1", bin(9, 8), { n: args.length });
        });
        const done = callAll(socket, "server-ack", "q", 2, bin(7));
        assert.deepEqual(normalize(await rec.next("server-ack-response")), normalize(["r1", bin(9, 8), { n: 3 }]));
        assert.deepEqual(await done, []);
        assert.deepEqual(normalize(seen), normalize([["q", 2, bin(7)]]));
      });

      it("server-ack-timeout: answered in time → ok ; not answered → timeout", T, async (t) => {
        const [a, b] = await Promise.all([connectV4(t, "/", variant), connectV4(t, "/", variant)]);
        const asked = [];
        a.socket.on("server-ack-request", (ms, cb) => {
          asked.push(ms);
          cb("fine", 2);
        });
        b.socket.on("server-ack-request", () => {}); // never answers
        const started = Date.now();
        const [da, db] = [callAll(a.socket, "server-ack-timeout", 400), callAll(b.socket, "server-ack-timeout", 300)];
        assert.deepEqual(await a.rec.next("server-ack-timeout-result"), ["ok", "fine", 2]);
        assert.deepEqual(await da, []);
        assert.deepEqual(await b.rec.next("server-ack-timeout-result"), ["timeout"]);
        assert.ok(Date.now() - started >= 280, "timeout result not before the timeout");
        assert.deepEqual(await db, []);
        assert.deepEqual(asked, [400]);
      });

      it("join / leave / get-rooms (sorted, own id excluded)", T, async (t) => {
        const { socket } = await connectV4(t, dynNsp(), variant);
        assert.deepEqual(await call(socket, "get-rooms"), []);
        assert.deepEqual(await call(socket, "join", "b"), ["b"]);
        assert.deepEqual(await call(socket, "join", ["c", "a"]), ["a", "b", "c"]);
        assert.deepEqual(await call(socket, "join", "a"), ["a", "b", "c"]);
        assert.deepEqual(await call(socket, "leave", "b"), ["a", "c"]);
        assert.deepEqual(await call(socket, "leave", "zzz"), ["a", "c"]);
        assert.deepEqual(await call(socket, "get-rooms"), ["a", "c"]);
      });

      it("room-members and namespace-sockets (sorted ids; a socket id is a room)", T, async (t) => {
        const nsp = dynNsp();
        const [a, b, c] = await group(t, nsp, variant, 3);
        await call(a.socket, "join", "r");
        await call(c.socket, "join", ["r", "s"]);
        assert.deepEqual(await call(b.socket, "room-members", "r"), sorted([a.socket.id, c.socket.id]));
        assert.deepEqual(await call(b.socket, "room-members", "s"), [c.socket.id]);
        assert.deepEqual(await call(b.socket, "room-members", "none"), []);
        assert.deepEqual(await call(b.socket, "room-members", a.socket.id), [a.socket.id]);
        assert.deepEqual(
          await call(b.socket, "namespace-sockets"),
          sorted([a.socket.id, b.socket.id, c.socket.id]),
        );
        c.socket.disconnect();
        // once the DISCONNECT is processed the socket is gone everywhere
        const deadline = Date.now() + 2000;
        let members;
        do {
          members = await call(b.socket, "namespace-sockets");
        } while (members.length !== 2 && Date.now() < deadline);
        assert.deepEqual(members, sorted([a.socket.id, b.socket.id]));
        assert.deepEqual(await call(b.socket, "room-members", "r"), [a.socket.id]);
      });

      it("to-rooms / io-to-rooms / to-rooms-except / broadcast / emit-all / to-socket: who, exactly once", T, async (t) => {
        const nsp = dynNsp();
        const all = await group(t, nsp, variant, 4);
        const [A, B, C, D] = all;
        // A: r1 ; B: r1 r2 ; C: r2 ; D: none
        await call(A.socket, "join", "r1");
        await call(B.socket, "join", ["r1", "r2"]);
        await call(C.socket, "join", "r2");
        const payload = ["p", 1, { b: bin(1, 2) }];
        const check = async (label, sender, op, expected) => {
          const ev = uniq("ev");
          assert.deepEqual(await callAll(sender.socket, op[0], ...op.slice(1).map((x) => (x === "$EV" ? ev : x)), ...payload), [], `${label}: done ack`);
          await settle(sender, all);
          assert.deepEqual(counts(all, ev), expected, label);
          for (const [i, c] of all.entries()) {
            if (expected[i]) assert.deepEqual(normalize(c.rec.of(ev)[0]), normalize(payload), `${label}: args`);
          }
        };
        await check("to-rooms r1,r2 from B", B, ["to-rooms", ["r1", "r2"], "$EV"], [1, 0, 1, 0]);
        await check("to-rooms r1 (string) from D", D, ["to-rooms", "r1", "$EV"], [1, 1, 0, 0]);
        await check("io-to-rooms r1,r2 from B", B, ["io-to-rooms", ["r1", "r2"], "$EV"], [1, 1, 1, 0]);
        await check("io-to-rooms r2 from D", D, ["io-to-rooms", "r2", "$EV"], [0, 1, 1, 0]);
        await check("to-rooms-except r1,r2 except r2 from A", A, ["to-rooms-except", ["r1", "r2"], "r2", "$EV"], [1, 0, 0, 0]);
        await check("to-rooms-except r2 except [C.id] from D", D, ["to-rooms-except", "r2", [C.socket.id], "$EV"], [0, 1, 0, 0]);
        await check("to-rooms-except r1 except [] from B", B, ["to-rooms-except", ["r1"], [], "$EV"], [1, 1, 0, 0]);
        await check("to-rooms to a socket id from A", A, ["to-rooms", [D.socket.id, C.socket.id, "r2"], "$EV"], [0, 1, 1, 1]);
        await check("broadcast from A", A, ["broadcast", "$EV"], [0, 1, 1, 1]);
        await check("emit-all from C", C, ["emit-all", "$EV"], [1, 1, 1, 1]);
        await check("to-socket C from A", A, ["to-socket", C.socket.id, "$EV"], [0, 0, 1, 0]);
        await check("to-socket self", B, ["to-socket", B.socket.id, "$EV"], [0, 1, 0, 0]);
        await check("to-socket unknown id", B, ["to-socket", "nobody", "$EV"], [0, 0, 0, 0]);
      });

      it("broadcasts stay inside their namespace", T, async (t) => {
        const [x1, x2] = await group(t, dynNsp(), variant, 2);
        const [y1] = await group(t, dynNsp(), variant, 1);
        await call(x1.socket, "emit-all", "nsp-ev", 1);
        await call(y1.socket, "join", "shared");
        await call(x2.socket, "join", "shared");
        await call(x1.socket, "io-to-rooms", "shared", "nsp-ev", 2);
        await settle(x1, [x1, x2]);
        await settle(y1, [y1]);
        assert.deepEqual(x1.rec.of("nsp-ev"), [[1]]);
        assert.deepEqual(x2.rec.of("nsp-ev"), [[1], [2]]);
        assert.equal(y1.rec.count("nsp-ev"), 0);
      });

      it("volatile: delivered when the transport can write, done ack in any case", T, async (t) => {
        const { socket, rec } = await connectV4(t, "/", variant);
        assert.deepEqual(await callAll(socket, "volatile", "vol", 1, bin(5)), []);
        await settleSelf({ socket, rec });
        if (variant.final === "websocket") {
          assert.equal(rec.count("vol"), 1);
          assert.deepEqual(normalize(rec.of("vol")[0]), normalize([1, bin(5)]));
        } else {
          // polling: dropped iff no GET was pending at that instant (see raw.test.mjs)
          assert.ok(rec.count("vol") <= 1);
        }
      });

      it("request-binary: exact nested structure with 4 attachments", T, async (t) => {
        const { socket, rec } = await connectV4(t, "/", variant);
        assert.deepEqual(await callAll(socket, "request-binary"), []);
        const args = await rec.next("binary-data");
        assert.equal(args.length, 1);
        const [data] = args;
        assert.deepEqual(Object.keys(data), ["a", "nested", "last"]);
        assert.deepEqual(Object.keys(data.nested), ["list", "n"]);
        assert.deepEqual(normalize(data), {
          a: { bin: "010203" },
          nested: { list: [{ bin: "0405" }, "text", { deep: { bin: "06" } }], n: 42 },
          last: { bin: "ff0080" },
        });
      });

      it("get-handshake: auth and the handshake query (strings, EIO and transport included)", T, async (t) => {
        const { socket } = await connectV4(t, "/custom", variant, {
          auth: { k: "v" },
          query: { foo: "bar", n: 1 },
        });
        const hs = await call(socket, "get-handshake");
        assert.deepEqual(Object.keys(hs).sort(), ["auth", "query"]);
        assert.deepEqual(hs.auth, { k: "v" });
        assert.equal(hs.query.EIO, "4");
        assert.equal(hs.query.transport, variant.first);
        assert.equal(hs.query.foo, "bar");
        assert.equal(hs.query.n, "1");
        for (const v of Object.values(hs.query)) assert.equal(typeof v, "string");
      });

      // ---------------------------------------------------------------------------------------
      // disconnections

      it("disconnect-me → io server disconnect, no reconnection; reason recorded with rooms", T, async (t) => {
        const nsp = dynNsp();
        const [a, watcher] = await group(t, nsp, variant, 2);
        await call(a.socket, "join", ["y", "x"]);
        const id = a.socket.id;
        a.socket.emit("disconnect-me");
        const [reason] = await once(a.socket, "disconnect", 2000);
        assert.equal(reason, "io server disconnect");
        assert.equal(await firesWithin(a.socket, "connect", 400), false, "must not reconnect");
        assert.deepEqual(await call(watcher.socket, "last-disconnect-reason", nsp, id), {
          reason: "server namespace disconnect",
          rooms: ["x", "y"],
        });
        assert.deepEqual(await call(watcher.socket, "namespace-sockets"), [watcher.socket.id]);
        // the client may connect again by itself: a new id, a new auth event
        a.socket.connect();
        await once(a.socket, "connect", 3000);
        assert.notEqual(a.socket.id, id);
        assert.deepEqual(await a.rec.next("auth"), [{}]);
      });

      it("disconnect-me true → every namespace of the connection gets io server disconnect", T, async (t) => {
        const manager = new ManagerV4(serverUrl(), {
          path: SIO_PATH,
          transports: variant.transports,
          timeout: 3000,
          ...FAST_RECONNECT,
        });
        t.after(() => manager.engine?.close());
        const nsp = dynNsp();
        const a = createV4(t, nsp, variant, { manager });
        const b = createV4(t, "/custom", variant, { manager });
        await Promise.all([once(a.socket, "connect", 3000), once(b.socket, "connect", 3000)]);
        const watcher = await connectV4(t, nsp, variant);
        const ids = [a.socket.id, b.socket.id];
        const engineClosed = once(manager, "close", 3000);
        a.socket.emit("disconnect-me", true);
        const [[ra], [rb]] = await Promise.all([once(a.socket, "disconnect", 2000), once(b.socket, "disconnect", 2000)]);
        assert.equal(ra, "io server disconnect");
        assert.equal(rb, "io server disconnect");
        await engineClosed;
        assert.equal(await firesWithin(a.socket, "connect", 400), false, "must not reconnect");
        assert.equal(b.socket.connected, false);
        assert.equal((await call(watcher.socket, "last-disconnect-reason", nsp, ids[0]))?.reason, "server namespace disconnect");
        assert.equal((await call(watcher.socket, "last-disconnect-reason", "/custom", ids[1]))?.reason, "server namespace disconnect");
      });

      it("close-transport → transport close, automatic reconnection (new id, auth again)", T, async (t) => {
        const nsp = dynNsp();
        const { socket, rec } = await connectV4(t, nsp, variant, { auth: { again: true } });
        await call(socket, "join", "kept-not");
        const id = socket.id;
        socket.emit("close-transport");
        const [reason] = await once(socket, "disconnect", 2000);
        assert.equal(reason, "transport close");
        await once(socket, "connect", 3000);
        assert.notEqual(socket.id, id);
        assert.deepEqual(await rec.next("auth"), [{ again: true }]);
        assert.deepEqual(await call(socket, "get-rooms"), [], "rooms are not restored");
        assert.deepEqual(await call(socket, "last-disconnect-reason", nsp, id), {
          reason: "forced close",
          rooms: ["kept-not"],
        });
        assert.deepEqual(await call(socket, "namespace-sockets"), [socket.id]);
      });

      it("last-disconnect-reason: client namespace disconnect, transport close, ping timeout, unknown", T, async (t) => {
        const nsp = dynNsp();
        const [watcher, a, b, c] = await group(t, nsp, variant, 4);
        const reasonOf = async (id) => {
          const deadline = Date.now() + 2000;
          for (;;) {
            const r = await call(watcher.socket, "last-disconnect-reason", nsp, id);
            if (r !== null || Date.now() > deadline) return r;
            await sleep(20);
          }
        };
        assert.equal(await call(watcher.socket, "last-disconnect-reason", nsp, a.socket.id), null, "still connected");
        assert.equal(await call(watcher.socket, "last-disconnect-reason", nsp, "unknown-id"), null);
        assert.equal(await call(watcher.socket, "last-disconnect-reason", "/nope", a.socket.id), null);
        // the client leaves the namespace (DISCONNECT packet)
        await call(a.socket, "join", "ra");
        const ida = a.socket.id;
        a.socket.disconnect();
        assert.deepEqual(await reasonOf(ida), { reason: "client namespace disconnect", rooms: ["ra"] });
        // the client closes its Engine.IO connection
        const idb = b.socket.id;
        b.socket.io.reconnection(false);
        b.socket.io.engine.close();
        assert.deepEqual(await reasonOf(idb), { reason: "transport close", rooms: [] });
        // the client stops answering pings
        const idc = c.socket.id;
        const engine = c.socket.io.engine;
        const orig = engine._sendPacket.bind(engine);
        engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : orig(type, ...rest));
        c.socket.io.reconnection(false);
        const started = Date.now();
        assert.deepEqual(await reasonOf(idc), { reason: "ping timeout", rooms: [] });
        assert.ok(Date.now() - started < 1500, "ping timeout after ≈ pingInterval + pingTimeout");
      });

      // ---------------------------------------------------------------------------------------
      // client acks with timeout

      it("socket.timeout(ms).emitWithAck: resolves with the ack, rejects when none comes", T, async (t) => {
        const { socket } = await connectV4(t, "/", variant);
        assert.deepEqual(await socket.timeout(2000).emitWithAck("message-with-ack", { v: 1 }), { v: 1 });
        assert.deepEqual(await socket.timeout(2000).emitWithAck("get-rooms"), []);
        await assert.rejects(socket.timeout(200).emitWithAck("no-such-event", 1), /operation has timed out/);
        // an event the server answers without an ack (message) also times out
        await assert.rejects(socket.timeout(200).emitWithAck("message", 1), /operation has timed out/);
        // unknown events are ignored: the connection still works
        assert.equal(await socket.timeout(2000).emitWithAck("message-with-ack", 7), 7);
      });

      it("events emitted right after connect (during the upgrade) arrive in order, once", T, async (t) => {
        const { socket, rec } = createV4(t, "/", variant);
        await once(socket, "connect", 3000);
        const n = 50;
        const acks = [];
        for (let i = 0; i < n; i++) {
          socket.emit("message", i);
          acks.push(callAll(socket, "message-with-ack", i));
        }
        assert.deepEqual(await Promise.all(acks), Array.from({ length: n }, (_, i) => [i]));
        for (let i = 0; i < n; i++) assert.deepEqual(await rec.next("message-back"), [i]);
        if (variant.upgrade) await waitUpgrade(socket);
        await settleSelf({ socket, rec });
        assert.equal(rec.count("message-back"), n);
      });

      // ---------------------------------------------------------------------------------------
      // §6.4 cluster handlers, single node

      it("§6.4 node-id, server-count, set-data, fetch-sockets with selectors", T, async (t) => {
        const nsp = dynNsp();
        const [a, b, c] = await Promise.all([
          connectV4(t, nsp, variant, { auth: { token: "t" } }),
          connectV4(t, nsp, variant),
          connectV4(t, nsp, variant, { auth: { n: 3 } }),
        ]);
        const nodeId = await call(a.socket, "node-id");
        assert.equal(typeof nodeId, "string");
        if (process.env.SOCKIO_NODE_ID !== undefined) assert.equal(nodeId, process.env.SOCKIO_NODE_ID);
        assert.deepEqual(await callAll(a.socket, "server-count"), [1]);
        assert.deepEqual(await callAll(b.socket, "set-data", { name: "b", list: [1, null] }), []);
        assert.deepEqual(await callAll(c.socket, "set-data", "plain"), []);
        await call(a.socket, "join", ["red", "green"]);
        await call(b.socket, "join", ["red", "blue"]);
        const entry = (x, rooms, data, auth) => ({ id: x.socket.id, rooms, data, auth });
        const byId = (list) => [...list].sort((p, q) => (p.id < q.id ? -1 : p.id > q.id ? 1 : 0));
        const ea = entry(a, ["green", "red"], {}, { token: "t" });
        const eb = entry(b, ["blue", "red"], { name: "b", list: [1, null] }, {});
        const ec = entry(c, [], "plain", { n: 3 });
        assert.deepEqual(await call(c.socket, "fetch-sockets", null), byId([ea, eb, ec]));
        assert.deepEqual(await call(c.socket, "fetch-sockets", {}), byId([ea, eb, ec]));
        assert.deepEqual(await call(c.socket, "fetch-sockets", { rooms: "red" }), byId([ea, eb]));
        assert.deepEqual(await call(c.socket, "fetch-sockets", { rooms: "red", except: ["blue"] }), [ea]);
        assert.deepEqual(await call(c.socket, "fetch-sockets", { rooms: [], except: "red" }), [ec]);
        assert.deepEqual(await call(c.socket, "fetch-sockets", { rooms: [c.socket.id, "green"] }), byId([ea, ec]));
        assert.deepEqual(await call(c.socket, "fetch-sockets", { except: [a.socket.id, b.socket.id] }), [ec]);
        assert.deepEqual(await call(c.socket, "fetch-sockets", { rooms: "nobody" }), []);
      });

      it("§6.4 sockets-join / sockets-leave / emit-local", T, async (t) => {
        const nsp = dynNsp();
        const all = await group(t, nsp, variant, 3);
        const [a, b, c] = all;
        await call(a.socket, "join", "red");
        assert.deepEqual(await callAll(c.socket, "sockets-join", { rooms: "red" }, ["j1", "j2"]), []);
        assert.deepEqual(await call(a.socket, "get-rooms"), ["j1", "j2", "red"]);
        assert.deepEqual(await call(b.socket, "get-rooms"), []);
        assert.deepEqual(await callAll(c.socket, "sockets-join", { except: "red" }, "k"), []);
        assert.deepEqual(await call(b.socket, "get-rooms"), ["k"]);
        assert.deepEqual(await call(c.socket, "get-rooms"), ["k"]);
        assert.deepEqual(await callAll(a.socket, "sockets-join", null, "all"), []);
        assert.deepEqual(await call(c.socket, "room-members", "all"), sorted(all.map((x) => x.socket.id)));
        assert.deepEqual(await callAll(b.socket, "sockets-leave", { rooms: ["k"] }, ["all", "k"]), []);
        assert.deepEqual(await call(b.socket, "get-rooms"), []);
        assert.deepEqual(await call(c.socket, "get-rooms"), []);
        assert.deepEqual(await call(a.socket, "get-rooms"), ["all", "j1", "j2", "red"]);
        assert.deepEqual(await callAll(b.socket, "sockets-leave", { rooms: a.socket.id }, "j1"), []);
        assert.deepEqual(await call(a.socket, "get-rooms"), ["all", "j2", "red"]);
        // emit-local: every socket of the namespace on this node, sender included
        const ev = uniq("local");
        assert.deepEqual(await callAll(b.socket, "emit-local", ev, 1, bin(2)), []);
        await settle(b, all);
        assert.deepEqual(counts(all, ev), [1, 1, 1]);
        assert.deepEqual(normalize(a.rec.of(ev)[0]), normalize([1, bin(2)]));
      });

      it("§6.4 disconnect-sockets without and with close", T, async (t) => {
        const nsp = dynNsp();
        const [a, b, c] = await group(t, nsp, variant, 3);
        await call(a.socket, "join", "out");
        await call(b.socket, "join", "out");
        const [ida, idb] = [a.socket.id, b.socket.id];
        const da = once(a.socket, "disconnect", 2000);
        assert.deepEqual(await callAll(c.socket, "disconnect-sockets", { rooms: "out", except: idb }), []);
        assert.equal((await da)[0], "io server disconnect");
        assert.deepEqual(await call(c.socket, "last-disconnect-reason", nsp, ida), {
          reason: "server namespace disconnect",
          rooms: ["out"],
        });
        assert.equal(await firesWithin(a.socket, "connect", 300), false);
        const db = once(b.socket, "disconnect", 2000);
        const closed = once(b.socket.io, "close", 2000);
        assert.deepEqual(await callAll(c.socket, "disconnect-sockets", { rooms: [idb] }, true), []);
        assert.equal((await db)[0], "io server disconnect");
        await closed;
        assert.equal((await call(c.socket, "last-disconnect-reason", nsp, idb)).reason, "server namespace disconnect");
        assert.deepEqual(await call(c.socket, "namespace-sockets"), [c.socket.id]);
      });

      it("§6.4 server-side-emit / server-side-log / server-side-emit-with-ack on a single node", T, async (t) => {
        const { socket } = await connectV4(t, dynNsp(), variant);
        const tag = uniq("tag");
        assert.deepEqual(await callAll(socket, "server-side-emit", tag, 1, { x: null }), []);
        assert.deepEqual(await callAll(socket, "server-side-log", tag), [[]]);
        const started = Date.now();
        assert.deepEqual(await callAll(socket, "server-side-emit-with-ack", tag), [[]]);
        assert.ok(Date.now() - started < 1000, "answered at once");
      });

      it("§6.4 broadcast-with-ack: all answer / one silent (timeout) / nobody selected", T, async (t) => {
        const nsp = dynNsp();
        const all = await group(t, nsp, variant, 3);
        const [a, b, c] = all;
        a.socket.on("q", (x, cb) => cb(`from-a-${x}`, "ignored"));
        b.socket.on("q", (x, cb) => cb({ b: x }));
        c.socket.on("q", (x, cb) => cb(`from-c-${x}`));
        await call(b.socket, "join", "quiet");
        // the first argument of every client's ack, sorted by JSON text
        assert.deepEqual(await callAll(a.socket, "broadcast-with-ack", null, 1500, "q", 1), [
          ["from-a-1", "from-c-1", { b: 1 }],
        ]);
        assert.deepEqual(await call(a.socket, "broadcast-with-ack", { except: a.socket.id }, 1500, "q", 2), [
          "from-c-2",
          { b: 2 },
        ]);
        // nobody selected: [] at once
        const t0 = Date.now();
        assert.deepEqual(await call(a.socket, "broadcast-with-ack", { rooms: "empty-room" }, 1500, "q", 3), []);
        assert.ok(Date.now() - t0 < 1000);
        // one client does not answer
        b.socket.off("q");
        b.socket.on("q", () => {});
        const t1 = Date.now();
        const r = await call(c.socket, "broadcast-with-ack", null, 400, "q", 4);
        assert.ok(Date.now() - t1 >= 350, "not before the timeout");
        assert.deepEqual(r, { error: "operation has timed out", responses: ["from-a-4", "from-c-4"] });
        // who was asked (each request carried an ack id)
        assert.deepEqual(a.rec.of("q"), [[1], [4]]);
        assert.deepEqual(b.rec.of("q"), [[1], [2], [4]]);
        assert.deepEqual(c.rec.of("q"), [[1], [2], [4]]);
        assert.ok(a.rec.events.filter((e) => e.event === "q").every((e) => e.ack), "sent with an ack id");
      });
    });
  }
});

// -------------------------------------------------------------------------------------------------

describe("load: 200 websocket + 40 polling clients in one room", () => {
  it("a broadcast reaches each exactly once", { timeout: 30_000 }, async (t) => {
    const nsp = dynNsp("load");
    const room = uniq("crowd");
    const ws = V4_VARIANTS[0];
    const polling = V4_VARIANTS[1];
    const plan = [...Array(200).fill(ws), ...Array(40).fill(polling)];
    const clients = [];
    for (let i = 0; i < plan.length; i += 40) {
      const batch = await Promise.all(
        plan.slice(i, i + 40).map(async (v) => {
          const c = await connectV4(t, nsp, v, { reconnection: false });
          await call(c.socket, "join", room);
          return c;
        }),
      );
      clients.push(...batch);
    }
    const outsider = await connectV4(t, nsp, ws, { reconnection: false });
    assert.equal((await call(outsider.socket, "room-members", room)).length, 240);
    const [sender] = clients;
    const payload = { text: "hello crowd", bytes: bin(1, 2, 3) };
    assert.deepEqual(await callAll(sender.socket, "io-to-rooms", room, "crowd", payload), []);
    assert.deepEqual(await callAll(outsider.socket, "to-rooms", room, "crowd-end"), []);
    await Promise.all(clients.map((c) => c.rec.next("crowd-end", 10_000)));
    const got = clients.map((c) => c.rec.count("crowd"));
    assert.deepEqual(
      got.map((n, i) => [i, n]).filter(([, n]) => n !== 1),
      [],
      "clients that did not get exactly one broadcast",
    );
    assert.deepEqual(normalize(clients[239].rec.of("crowd")[0]), normalize([payload]));
    assert.equal(outsider.rec.count("crowd"), 0);
    // heartbeats were answered under that load: nobody was dropped
    assert.equal(clients.filter((c) => !c.socket.connected).length, 0);
  });
});
