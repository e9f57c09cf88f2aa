// Socket.IO interop with socket.io-client 2.5 (EIO=3, Socket.IO protocol v4) against the
// `/socket.io/` endpoint of the conformance server at $SOCKIO_URL
// (spec: /work/shared/spec/conformance-server.md §4.5; socket-io.md §4 "v4 protocol").
//
// Every case runs over websocket, polling (in Node the 2.x polling transport always asks for
// b64=1) and polling → websocket. Rooms and broadcasts are checked between 2.x and 4.8
// clients in the same namespace.
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/socketio/client-v2.test.mjs

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import {
  V2_VARIANTS,
  V4_VARIANTS,
  createV2,
  connectV2,
  connectV4,
  callV2,
  call,
  callAll,
  once,
  firesWithin,
  dynNsp,
  uniq,
  normalize,
  sorted,
  exitWhenDone,
} from "../lib/sio.mjs";

exitWhenDone(after, "socketio/client-v2");

const T = { timeout: 10_000 };
const bin = (...bytes) => Buffer.from(bytes);

/** Waits for a marker sent by the v4 client `sender` with `emit-all` on every client given. */
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

describe("socket.io-client 2.x (EIO=3) ↔ /socket.io/", { concurrency: true }, () => {
  for (const variant of V2_VARIANTS) {
    describe(variant.name, { concurrency: 4 }, () => {
      it("implicit / connect: auth event {} first; id = Engine.IO sid", T, async (t) => {
        const { socket, rec, auth } = await connectV2(t, "/", variant);
        assert.deepEqual(auth, {});
        assert.equal(rec.events[0].event, "auth");
        assert.equal(socket.id, socket.io.engine.id);
        assert.equal(socket.io.engine.transport.name, variant.final);
        const [hs] = await callV2(socket, "get-handshake");
        assert.deepEqual(hs.auth, {});
        assert.equal(hs.query.EIO, "3");
      });

      it("namespace with query → auth {x:'1',y:'two'}; id = <nsp>#<engine sid>", T, async (t) => {
        const { socket, auth } = await connectV2(t, "/custom?x=1&y=two", variant);
        assert.deepEqual(auth, { x: "1", y: "two" });
        assert.equal(socket.id, `/custom#${socket.io.engine.id}`);
        const [hs] = await callV2(socket, "get-handshake");
        assert.deepEqual(hs.auth, { x: "1", y: "two" });
        const [ids] = await callV2(socket, "namespace-sockets");
        assert.ok(ids.includes(socket.id));
      });

      it("dynamic namespace", T, async (t) => {
        const nsp = dynNsp();
        const { socket, auth } = await connectV2(t, nsp, variant);
        assert.deepEqual(auth, {});
        assert.deepEqual(await callV2(socket, "namespace-sockets"), [[`${nsp}#${socket.io.engine.id}`]]);
      });

      it("/restricted: error event with the middleware's data; with ?token=let-me-in → connected", T, async (t) => {
        const denied = createV2(t, "/restricted", variant);
        const [data] = await once(denied.socket, "error", 3000, ["connect"]);
        assert.deepEqual(data, { code: 4001, hint: "send auth.token" });
        const wrong = createV2(t, "/restricted?token=nope", variant);
        assert.deepEqual((await once(wrong.socket, "error", 3000, ["connect"]))[0], { code: 4001, hint: "send auth.token" });
        const ok = await connectV2(t, "/restricted?token=let-me-in", variant);
        assert.deepEqual(ok.auth, { token: "let-me-in" });
        assert.deepEqual(await callV2(ok.socket, "get-rooms"), [[]]);
      });

      it("unknown namespace: error event {message:'Invalid namespace'}", T, async (t) => {
        const { socket } = createV2(t, "/nope", variant);
        const [data] = await once(socket, "error", 3000, ["connect"]);
        assert.deepEqual(data, { message: "Invalid namespace" });
      });

      it("binary both ways: message-back, message-with-ack, request-binary", T, async (t) => {
        const { socket, rec } = await connectV2(t, "/", variant);
        const args = ["b", bin(1, 2, 3), { nested: [bin(0xff, 0), "x"] }];
        socket.emit("message", ...args);
        const back = await rec.next("message-back");
        assert.deepEqual(normalize(back), normalize(args));
        assert.ok(Buffer.isBuffer(back[1]) || back[1] instanceof ArrayBuffer, "binary stays binary");
        assert.deepEqual(normalize(await callV2(socket, "message-with-ack", bin(9), "t")), normalize([bin(9), "t"]));
        assert.deepEqual(await callV2(socket, "request-binary"), []);
        const [data] = await rec.next("binary-data");
        assert.deepEqual(normalize(data), {
          a: { bin: "010203" },
          nested: { list: [{ bin: "0405" }, "text", { deep: { bin: "06" } }], n: 42 },
          last: { bin: "ff0080" },
        });
      });

      it("acks both ways: message-with-ack (0, 1, several args), server-ack", T, async (t) => {
        const { socket, rec } = await connectV2(t, "/custom?z=1", variant);
        assert.deepEqual(await callV2(socket, "message-with-ack"), []);
        assert.deepEqual(await callV2(socket, "message-with-ack", 1), [1]);
        assert.deepEqual(await callV2(socket, "message-with-ack", "a", [2], { c: null }), ["a", [2], { c: null }]);
        socket.on("server-ack-request", (...a) => {
          const cb = a.pop();
          cb("answer", ...a, bin(4, 2));
        });
        const done = callV2(socket, "server-ack", "q", 1);
        assert.deepEqual(normalize(await rec.next("server-ack-response")), normalize(["answer", "q", 1, bin(4, 2)]));
        assert.deepEqual(await done, []);
      });

      it("join / leave / get-rooms and disconnect-me → io server disconnect", T, async (t) => {
        const nsp = dynNsp();
        const { socket } = await connectV2(t, nsp, variant);
        assert.deepEqual(await callV2(socket, "join", ["b", "a"]), [["a", "b"]]);
        assert.deepEqual(await callV2(socket, "leave", "a"), [["b"]]);
        const id = socket.id;
        const watcher = await connectV4(t, nsp);
        socket.emit("disconnect-me");
        assert.equal((await once(socket, "disconnect", 2000))[0], "io server disconnect");
        assert.equal(await firesWithin(socket, "connect", 300), false);
        assert.deepEqual(await call(watcher.socket, "last-disconnect-reason", nsp, id), {
          reason: "server namespace disconnect",
          rooms: ["b"],
        });
      });

      it("close-transport → transport close, then reconnects (auth again)", T, async (t) => {
        const { socket, rec } = await connectV2(t, "/", variant);
        socket.emit("close-transport");
        assert.equal((await once(socket, "disconnect", 2000))[0], "transport close");
        await once(socket, "connect", 3000);
        assert.deepEqual(await rec.next("auth"), [{}]);
        assert.deepEqual(await callV2(socket, "message-with-ack", "again"), ["again"]);
      });

      for (const v4variant of [V4_VARIANTS[0], V4_VARIANTS[1]]) {
        it(`rooms and broadcasts shared with a 4.8 client (${v4variant.name})`, T, async (t) => {
          const nsp = dynNsp();
          const [v2, v4] = await Promise.all([connectV2(t, nsp, variant), connectV4(t, nsp, v4variant)]);
          const other = await connectV4(t, nsp, v4variant); // in the namespace, in no room
          const all = [v2, v4, other];
          assert.deepEqual(await callV2(v2.socket, "join", "mix"), [["mix"]]);
          assert.deepEqual(await call(v4.socket, "join", "mix"), ["mix"]);
          assert.deepEqual(
            await call(other.socket, "room-members", "mix"),
            sorted([v2.socket.id, v4.socket.id]),
          );
          assert.equal(v2.socket.id, `${nsp}#${v2.socket.io.engine.id}`);
          // v4 → room: reaches the v2 client (binary kept)
          const e1 = uniq("e");
          assert.deepEqual(await callAll(v4.socket, "to-rooms", "mix", e1, "from-v4", bin(1, 2)), []);
          // v2 → room: reaches the v4 client
          const e2 = uniq("e");
          assert.deepEqual(await callV2(v2.socket, "to-rooms", ["mix"], e2, "from-v2", bin(3)), []);
          // v2 → io-to-rooms (sender included), broadcast, emit-all
          const e3 = uniq("e");
          await callV2(v2.socket, "io-to-rooms", "mix", e3, 3);
          const e4 = uniq("e");
          await callV2(v2.socket, "broadcast", e4, 4);
          const e5 = uniq("e");
          await callAll(other.socket, "emit-all", e5, 5);
          const e6 = uniq("e");
          await callAll(v4.socket, "to-socket", v2.socket.id, e6, 6);
          await settle(other, all);
          const counts = (ev) => all.map((c) => c.rec.count(ev));
          assert.deepEqual(counts(e1), [1, 0, 0], "v4 to-rooms");
          assert.deepEqual(normalize(v2.rec.of(e1)[0]), normalize(["from-v4", bin(1, 2)]));
          assert.deepEqual(counts(e2), [0, 1, 0], "v2 to-rooms");
          assert.deepEqual(normalize(v4.rec.of(e2)[0]), normalize(["from-v2", bin(3)]));
          assert.deepEqual(counts(e3), [1, 1, 0], "v2 io-to-rooms");
          assert.deepEqual(counts(e4), [0, 1, 1], "v2 broadcast");
          assert.deepEqual(counts(e5), [1, 1, 1], "emit-all");
          assert.deepEqual(counts(e6), [1, 0, 0], "to-socket v2 id");
          // a broadcast with ack reaches both kinds of client
          v2.socket.on("q", (x, cb) => cb(`v2-${x}`));
          v4.socket.on("q", (x, cb) => cb(`v4-${x}`));
          assert.deepEqual(await call(other.socket, "broadcast-with-ack", { rooms: "mix" }, 2000, "q", 1), ["v2-1", "v4-1"]);
        });
      }
    });
  }
});
