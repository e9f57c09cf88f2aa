// Engine.IO v4 (EIO=4) interop: the npm client engine.io-client 6.6 against the bare
// echo endpoint /engine.io/ of the server at $SOCKIO_URL
// (spec: /work/shared/spec/conformance-server.md §1–§3, engine-io.md).
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/engine/client-v4.test.mjs

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import {
  serverUrl,
  once,
  collect,
  echo,
  sleep,
  isBinary,
  toBuffer,
  bytes,
  probeSession,
} from "../lib/eio.mjs";

const PATH = "/engine.io/";
const MAX_PAYLOAD = 1_000_000;
const SID_RE = /^[A-Za-z0-9_\-.~]+$/;

const VARIANTS = [
  { name: "polling", transports: ["polling"], first: "polling", final: "polling" },
  { name: "websocket", transports: ["websocket"], first: "websocket", final: "websocket" },
  {
    name: "polling → websocket (upgrade)",
    transports: ["polling", "websocket"],
    first: "polling",
    final: "websocket",
    upgrade: true,
  },
];

/** Creates a client socket that is closed when test `t` ends. */
function create(t, variant, extra = {}) {
  const socket = new Socket(serverUrl(), {
    path: PATH,
    transports: variant.transports,
    ...extra,
  });
  t.after(() => socket.close());
  return socket;
}

/** Opens a socket and waits for the handshake, `open` and (upgrade variant) `upgrade`. */
async function connect(t, variant) {
  const socket = create(t, variant);
  const waits = [once(socket, "handshake", 3000), once(socket, "open", 3000)];
  if (variant.upgrade) waits.push(once(socket, "upgrade", 3000));
  const [[handshake]] = await Promise.all(waits);
  return { socket, handshake };
}

// Safety net: if the server leaves a request hanging (e.g. never answers a pending
// polling GET after close), do not let the test process hang forever.
after(() => {
  setTimeout(() => {
    console.error("client-v4: handles still open 2 s after the last test; forcing exit");
    process.exit();
  }, 2000).unref();
});

const TEXTS = [
  "hello",
  "4😀é日",
  "😀",
  "\u2028\u2029",
  "a\u2028b\u2029c",
  "line\nbreak\r\n\ttab",
  "nul\u0000byte",
  "1:2",
  "2",
  "3probe",
  "b4AQID",
  "bAQID",
  '{"json":[1,2,3]}',
  Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join(""),
  "ünïcödé ✓ 𝄞 🎉🎉 ﷽",
  "日本語".repeat(1000) + "😀".repeat(1000),
];

describe("engine.io-client v6 (EIO=4) ↔ /engine.io/ echo", { concurrency: true }, () => {
  for (const variant of VARIANTS) {
    // tests of one variant run one after the other; the variants run in parallel
    describe(variant.name, { concurrency: 1 }, () => {
      const largeBinary = variant.final === "polling" ? 749_000 : 999_900;

      it("opens with the expected handshake", { timeout: 5000 }, async (t) => {
        const socket = create(t, variant);
        let upgraded = null;
        socket.on("upgrade", (t) => (upgraded = t.name));
        const [[hs]] = await Promise.all([
          once(socket, "handshake", 3000),
          once(socket, "open", 3000),
        ]);
        assert.equal(typeof hs.sid, "string");
        assert.match(hs.sid, SID_RE);
        assert.equal(hs.pingInterval, 300);
        assert.equal(hs.pingTimeout, 200);
        assert.equal(hs.maxPayload, MAX_PAYLOAD);
        assert.deepEqual(hs.upgrades, variant.first === "polling" ? ["websocket"] : []);
        assert.deepEqual(
          Object.keys(hs).sort(),
          ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"],
        );
        assert.equal(socket.id, hs.sid);
        if (variant.upgrade) {
          if (!upgraded) await once(socket, "upgrade", 3000);
          assert.equal(socket.transport.name, "websocket");
          assert.equal(socket.id, hs.sid, "the sid survives the upgrade");
        } else {
          assert.equal(socket.transport.name, variant.first);
        }
      });

      it("gives each session its own sid", { timeout: 5000 }, async (t) => {
        const [a, b] = await Promise.all([connect(t, variant), connect(t, variant)]);
        assert.notEqual(a.handshake.sid, b.handshake.sid);
      });

      it("echoes text (ascii, unicode, astral, U+2028/U+2029)", { timeout: 5000 }, async (t) => {
        const { socket } = await connect(t, variant);
        for (const text of TEXTS) {
          const got = await echo(socket, text);
          assert.equal(typeof got, "string", `type of echo of ${JSON.stringify(text.slice(0, 20))}`);
          assert.equal(got, text);
        }
        assert.equal(socket.transport.name, variant.final);
      });

      it("echoes an empty text message", { timeout: 5000 }, async (t) => {
        const { socket } = await connect(t, variant);
        // "" travels as the bare packet `4`; the v6 client hands an empty message
        // packet to the application as `undefined` (engine.io-parser behaviour).
        const got = await echo(socket, "");
        assert.ok(got === undefined || got === "", `got ${JSON.stringify(got)}`);
        // still usable afterwards
        assert.equal(await echo(socket, "after-empty"), "after-empty");
      });

      it("echoes binary (Buffer, ArrayBuffer, Uint8Array, views) as binary", { timeout: 5000 }, async (t) => {
        const { socket } = await connect(t, variant);
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const backing = new Uint8Array([9, 9, 1, 2, 3, 9, 9]);
        const cases = [
          ["Buffer 0..255", all, all],
          ["Buffer 01 02 03 04", Buffer.from([1, 2, 3, 4]), Buffer.from([1, 2, 3, 4])],
          ["ArrayBuffer", new Uint8Array([0xde, 0xad, 0xbe, 0xef]).buffer, Buffer.from("deadbeef", "hex")],
          ["Uint8Array", new Uint8Array([0, 255, 128, 10]), Buffer.from([0, 255, 128, 10])],
          ["Uint8Array view with offset", backing.subarray(2, 5), Buffer.from([1, 2, 3])],
          ["text-looking bytes", Buffer.from("4hello"), Buffer.from("4hello")],
          ["single zero byte", Buffer.from([0]), Buffer.from([0])],
          ["empty Buffer", Buffer.alloc(0), Buffer.alloc(0)],
          ["random 10 kB", bytes(10_000, 7), bytes(10_000, 7)],
        ];
        for (const [what, data, expected] of cases) {
          const got = await echo(socket, data);
          assert.ok(isBinary(got), `${what}: expected binary, got ${typeof got} ${JSON.stringify(got)}`);
          assert.deepEqual(toBuffer(got), expected, what);
        }
      });

      it("echoes 200 mixed text/binary messages in order", { timeout: 8000 }, async (t) => {
        const { socket } = await connect(t, variant);
        const sent = [];
        for (let i = 0; i < 200; i++) {
          if (i % 3 === 0) {
            const b = Buffer.alloc(4);
            b.writeUInt32BE(i);
            sent.push(b);
          } else {
            sent.push(i % 3 === 1 ? `msg-${i}` : `ü-${i}-😀`);
          }
        }
        const p = collect(socket, sent.length, 6000);
        for (const m of sent) socket.send(m);
        const got = await p;
        for (let i = 0; i < sent.length; i++) {
          if (typeof sent[i] === "string") {
            assert.equal(got[i], sent[i], `message #${i}`);
          } else {
            assert.ok(isBinary(got[i]), `message #${i} should be binary, got ${JSON.stringify(got[i])}`);
            assert.deepEqual(toBuffer(got[i]), sent[i], `message #${i}`);
          }
        }
      });

      it("echoes a text message of almost maxPayload bytes", { timeout: 8000 }, async (t) => {
        const { socket } = await connect(t, variant);
        const ascii = "x".repeat(999_990); // packet `4` + data = 999 991 bytes
        assert.equal(await echo(socket, ascii, 6000), ascii);
        // multi-byte: 990 000 UTF-8 bytes, 440 000 UTF-16 code units
        const multi = "日😀é".repeat(110_000);
        assert.equal(await echo(socket, multi, 6000), multi);
      });

      it(`echoes a binary message of ${largeBinary} bytes`, { timeout: 8000 }, async (t) => {
        // over v4 polling binary travels as base64 (4/3 larger), hence a smaller size there
        const { socket } = await connect(t, variant);
        const data = bytes(largeBinary, 42);
        const got = await echo(socket, data, 6000);
        assert.ok(isBinary(got));
        assert.ok(toBuffer(got).equals(data), "large binary differs");
      });

      it("echoes a burst of large messages whose total exceeds maxPayload", { timeout: 8000 }, async (t) => {
        // the v6 client splits its polling write buffer into several POSTs of at most
        // maxPayload bytes; the server's polling responses may be larger than maxPayload
        const { socket } = await connect(t, variant);
        const sent = ["a".repeat(400_000), bytes(300_000, 3), "c".repeat(400_000), "end"];
        const p = collect(socket, sent.length, 6000);
        for (const m of sent) socket.send(m);
        const got = await p;
        assert.equal(got[0], sent[0]);
        assert.ok(isBinary(got[1]) && toBuffer(got[1]).equals(sent[1]));
        assert.equal(got[2], sent[2]);
        assert.equal(got[3], "end");
      });

      it("survives several heartbeats without traffic", { timeout: 5000 }, async (t) => {
        const { socket } = await connect(t, variant);
        let closed = null;
        let pings = 0;
        socket.on("close", (reason) => (closed = reason));
        socket.on("ping", () => pings++);
        await sleep(1500);
        assert.equal(closed, null, `closed with "${closed}"`);
        // the server pings every 300 ms (EIO=4: server → client)
        assert.ok(pings >= 3, `only ${pings} pings from the server in 1.5 s`);
        assert.equal(socket.readyState, "open");
        assert.equal(socket.transport.name, variant.final);
        assert.equal(await echo(socket, "still alive"), "still alive");
      });

      it("closes cleanly with close()", { timeout: 5000 }, async (t) => {
        const { socket, handshake } = await connect(t, variant);
        assert.equal(await echo(socket, "before close"), "before close");
        const closed = once(socket, "close", 2000);
        socket.close();
        const [reason] = await closed;
        assert.equal(reason, "forced close");
        assert.equal(socket.readyState, "closed");
        // the server must forget the session: polling GET with that sid → 400 code 1
        await sleep(100);
        const answer = await probeSession(PATH, 4, handshake.sid);
        assert.deepEqual(answer, {
          status: 400,
          body: { code: 1, message: "Session ID unknown" },
        });
      });

      if (variant.upgrade) {
        it("keeps messages flowing both ways across the upgrade", { timeout: 8000 }, async (t) => {
          const socket = create(t, variant);
          const sent = [];
          const phases = [];
          const burst = (tag, n) => {
            for (let i = 0; i < n; i++) {
              const m = i % 2 ? Buffer.from(`${tag}-${i}`) : `${tag}-${i}`;
              sent.push(m);
              phases.push(tag);
              socket.send(m);
            }
          };
          const received = [];
          const transports = [];
          socket.on("message", (m) => {
            received.push(m);
            transports.push(socket.transport.name);
          });
          const upgraded = once(socket, "upgrade", 4000);
          upgraded.catch(() => {}); // awaited below; avoid an unhandled rejection if open fails
          await once(socket, "open", 3000);
          assert.equal(socket.transport.name, "polling");
          burst("open", 20); // sent over polling
          socket.once("upgrading", () => burst("upgrading", 20)); // buffered during the upgrade
          const [transport] = await upgraded;
          assert.equal(transport.name, "websocket");
          burst("upgraded", 20); // over the websocket
          const end = Date.now() + 4000;
          while (received.length < sent.length && Date.now() < end) await sleep(10);
          // give a stray duplicate a chance to show up
          await sleep(100);
          assert.equal(received.length, sent.length, "number of echoes of the messages sent around the upgrade");
          for (let i = 0; i < sent.length; i++) {
            if (typeof sent[i] === "string") {
              assert.equal(received[i], sent[i], `message #${i} (${phases[i]})`);
            } else {
              assert.ok(isBinary(received[i]), `message #${i} (${phases[i]}) should be binary`);
              assert.deepEqual(toBuffer(received[i]), sent[i], `message #${i} (${phases[i]})`);
            }
          }
          assert.equal(transports.at(-1), "websocket");
          assert.equal(socket.transport.name, "websocket");
          // and afterwards, a fresh round trip on the websocket
          assert.equal(await echo(socket, "after upgrade"), "after upgrade");
          assert.deepEqual(toBuffer(await echo(socket, Buffer.from([7, 7]))), Buffer.from([7, 7]));
          // the polling transport of that sid is gone: a polling GET is refused
          const res = await fetch(
            `${serverUrl()}${PATH}?EIO=4&transport=polling&sid=${encodeURIComponent(socket.id)}`,
            { signal: AbortSignal.timeout(2000) },
          );
          assert.equal(res.status, 400);
          await res.arrayBuffer();
          assert.equal(await echo(socket, "still fine"), "still fine");
        });
      }
    });
  }
});
