// examples/axum.rs: the Engine.IO echo mounted as a layer of an axum Router — the engine
// answers `/engine.io/` (every transport, the upgrade), axum answers the rest.
//
//   cargo run --example axum &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/axum.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import { serverUrl, once, echo, isBinary, toBuffer } from "../lib/eio.mjs";
import { exitWhenDone } from "../lib/sio.mjs";

exitWhenDone(after, "examples/axum");

const T = { timeout: 10_000 };

test("axum answers its own routes", T, async () => {
  const index = await fetch(`${serverUrl()}/`);
  assert.equal(index.status, 200);
  assert.equal(await index.text(), "engine.io echo at /engine.io/");
  const missing = await fetch(`${serverUrl()}/nothing-here`);
  assert.equal(missing.status, 404);
});

for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
  test(`the engine echoes over ${transports.join(" → ")}`, T, async (t) => {
    const socket = new Socket(serverUrl(), { transports });
    t.after(() => socket.close());
    await once(socket, "open", 3000);
    if (transports.length > 1 && socket.transport.name !== "websocket") {
      await once(socket, "upgrade", 3000);
    }
    assert.equal(socket.transport.name, transports.at(-1));
    assert.equal(await echo(socket, "hello"), "hello");
    assert.equal(await echo(socket, "é ✓ 😀"), "é ✓ 😀");
    const back = await echo(socket, Buffer.from([0, 1, 255]));
    assert.ok(isBinary(back), `not binary: ${typeof back}`);
    assert.deepEqual([...toBuffer(back)], [0, 1, 255]);
  });
}

test("the engine's handshake goes through the axum app", T, async () => {
  const res = await fetch(`${serverUrl()}/engine.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.match(body, /^0\{"sid":"[A-Za-z0-9_-]{20}"/);
});
