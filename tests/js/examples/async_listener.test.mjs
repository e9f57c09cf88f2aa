// examples/async_listener.rs: `socket.on_async` awaits a (simulated, 200 ms) database
// lookup before answering the acknowledgement; the socket's other events are not held up.
//
//   cargo run --example async_listener &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/async_listener.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { call, exitWhenDone } from "../lib/sio.mjs";
import { connected, connectedMany } from "../lib/example.mjs";

exitWhenDone(after, "examples/async_listener");

const T = { timeout: 10_000 };

test("the acknowledgement comes once the lookup is done", T, async (t) => {
  const { socket } = await connected(t);
  const started = Date.now();
  assert.deepEqual(await call(socket, "user", 1), { user: { id: 1, name: "Ada" } });
  const ms = Date.now() - started;
  assert.ok(ms >= 190, `answered after ${ms} ms, before the 200 ms lookup could end`);
  assert.deepEqual(await call(socket, "user", 2), { user: { id: 2, name: "Grace" } });
});

test("unknown users and bad ids are answered with an error", T, async (t) => {
  const { socket } = await connected(t);
  assert.deepEqual(await call(socket, "user", 99), { error: "no user 99" });
  for (const bad of ["one", -1, 1.5, null]) {
    assert.match((await call(socket, "user", bad)).error, /expected a user id/, JSON.stringify(bad));
  }
});

test("a ping sent during a lookup is answered first", T, async (t) => {
  const { socket } = await connected(t);
  const order = [];
  const lookup = call(socket, "user", 2).then((r) => order.push("user") && r);
  const ping = call(socket, "ping").then((r) => order.push("ping") && r);
  assert.deepEqual(await Promise.all([lookup, ping]), [{ user: { id: 2, name: "Grace" } }, "pong"]);
  assert.deepEqual(order, ["ping", "user"]);
});

test("lookups wait side by side, not one after the other", T, async (t) => {
  const clients = await connectedMany(t, 2);
  const started = Date.now();
  // Five lookups on each of two connections: one after the other, they would take at
  // least 10 × 200 ms; side by side, about 200 ms.
  const replies = await Promise.all(
    clients.flatMap(({ socket }) => [1, 2, 1, 2, 99].map((id) => call(socket, "user", id))),
  );
  const ms = Date.now() - started;
  assert.deepEqual(
    replies.map((r) => r.user?.name ?? r.error),
    ["Ada", "Grace", "Ada", "Grace", "no user 99", "Ada", "Grace", "Ada", "Grace", "no user 99"],
  );
  assert.ok(ms < 1900, `ten 200 ms lookups took ${ms} ms: they did not overlap`);
});
