// socket.io-client 4.8 with socket.io-msgpack-parser 3.0.2 against a server started with
// the msgpack parser (the conformance server with PARSER=msgpack): every packet is one
// msgpack binary message; binary stays inline.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { io } from "socket.io-client";

const require = createRequire(import.meta.url);
const parser = require("socket.io-msgpack-parser");
const URL = process.env.SOCKIO_URL;
const T = { timeout: 10000 };

function connect(t, nsp = "/", opts = {}) {
  const socket = io(URL + nsp, { parser, forceNew: true, reconnection: false, ...opts });
  t.after(() => socket.close());
  return socket;
}

const once = (emitter, event, ms = 3000) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });

for (const transports of [["websocket"], ["polling"], ["polling", "websocket"]]) {
  describe(`msgpack parser over ${transports.join(" → ")}`, () => {
    it("connects, gets the auth event, acks with binary inline", T, async (t) => {
      const socket = connect(t, "/", { transports, auth: { token: "m" } });
      const [auth] = await once(socket, "auth");
      assert.deepEqual(auth, { token: "m" });
      const reply = await socket.timeout(3000).emitWithAck("message-with-ack", 1, "two", Buffer.from([1, 2, 3]));
      assert.equal(reply, 1);
      const all = await new Promise((resolve) => {
        socket.emit("message-with-ack", { a: [1.5, -2, null] }, Buffer.from([9]), (...args) => resolve(args));
      });
      assert.deepEqual(all[0], { a: [1.5, -2, null] });
      assert.ok(Buffer.isBuffer(all[1]) || all[1] instanceof Uint8Array);
      assert.deepEqual([...all[1]], [9]);
    });

    it("broadcasts reach the others, server acks round-trip, binary structure kept", T, async (t) => {
      const a = connect(t, "/custom", { transports });
      const b = connect(t, "/custom", { transports });
      await Promise.all([once(a, "connect"), once(b, "connect")]);
      const got = once(b, "hello");
      await a.timeout(3000).emitWithAck("broadcast", "hello", "from-a", 7);
      assert.deepEqual(await got, ["from-a", 7]);
      const bin = once(a, "binary-data");
      await a.timeout(3000).emitWithAck("request-binary");
      const [data] = await bin;
      assert.deepEqual([...data.a], [1, 2, 3]);
      assert.deepEqual([...data.nested.list[0]], [4, 5]);
      assert.equal(data.nested.list[1], "text");
      assert.deepEqual([...data.nested.list[2].deep], [6]);
      assert.equal(data.nested.n, 42);
      assert.deepEqual([...data.last], [0xff, 0x00, 0x80]);
      a.on("server-ack-request", (...args) => args.pop()("pong", args[0]));
      const response = once(a, "server-ack-response");
      await a.timeout(3000).emitWithAck("server-ack", 5);
      assert.deepEqual(await response, ["pong", 5]);
    });

    it("refusals come as connect_error with data", T, async (t) => {
      const r = connect(t, "/restricted", { transports });
      const [err] = await once(r, "connect_error");
      assert.equal(err.message, "not authorized");
      assert.deepEqual(err.data, { code: 4001, hint: "send auth.token" });
      const n = connect(t, "/nope", { transports });
      const [err2] = await once(n, "connect_error");
      assert.equal(err2.message, "Invalid namespace");
    });
  });
}
