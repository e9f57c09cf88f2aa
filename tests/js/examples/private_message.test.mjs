// examples/private_message.rs: a private message to one client by socket id, and the
// list of connected clients.
//
//   cargo run --example private_message &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/private_message.test.mjs
//
// "Doesn't receive" is checked without sleeping: the sender then whispers a marker to the
// bystander itself; a connection's packets keep their order, so once the bystander holds
// the marker it would already hold the first message.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { call, uniq, exitWhenDone } from "../lib/sio.mjs";
import { connected, connectedMany } from "../lib/example.mjs";

exitWhenDone(after, "examples/private_message");

const T = { timeout: 10_000 };

test("users lists every connected client, and forgets those that left", T, async (t) => {
  const [a, b, c] = await connectedMany(t, 3);
  const ids = (await call(a.socket, "users")).users;
  for (const client of [a, b, c]) assert.ok(ids.includes(client.socket.id), `${client.socket.id} listed`);

  const gone = c.socket.id;
  c.socket.disconnect();
  // The server handles the disconnection on its own time: ask until it is done.
  for (let i = 0; ; i += 1) {
    const now = (await call(a.socket, "users")).users;
    if (!now.includes(gone)) {
      assert.ok(now.includes(a.socket.id) && now.includes(b.socket.id));
      break;
    }
    assert.ok(i < 100, `${gone} still listed after its disconnection`);
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("a private message reaches its recipient only", T, async (t) => {
  const [sender, recipient, bystander] = await connectedMany(t, 3);
  assert.deepEqual(
    await call(sender.socket, "private message", { to: recipient.socket.id, text: "psst" }),
    { ok: true },
  );
  assert.deepEqual(await recipient.rec.next("private message", 3000), [
    { from: sender.socket.id, text: "psst" },
  ]);

  const marker = uniq("marker");
  await call(sender.socket, "private message", { to: bystander.socket.id, text: marker });
  assert.deepEqual(await bystander.rec.next("private message", 3000), [
    { from: sender.socket.id, text: marker },
  ]);
  assert.equal(bystander.rec.count("private message"), 1, "the bystander got the first message");
  assert.equal(sender.rec.count("private message"), 0, "the sender got a copy");
  assert.equal(recipient.rec.count("private message"), 1);
});

test("a client can answer, and write to itself", T, async (t) => {
  const [a, b] = await connectedMany(t, 2);
  await call(a.socket, "private message", { to: b.socket.id, text: "ping" });
  const [{ from }] = await b.rec.next("private message", 3000);
  assert.deepEqual(await call(b.socket, "private message", { to: from, text: "pong" }), { ok: true });
  assert.deepEqual(await a.rec.next("private message", 3000), [{ from: b.socket.id, text: "pong" }]);
  await call(a.socket, "private message", { to: a.socket.id, text: "note to self" });
  assert.deepEqual(await a.rec.next("private message", 3000), [
    { from: a.socket.id, text: "note to self" },
  ]);
});

test("unknown recipients and malformed messages are refused", T, async (t) => {
  const a = await connected(t);
  const nobody = "nobody-has-this-id";
  assert.deepEqual(await call(a.socket, "private message", { to: nobody, text: "hello?" }), {
    error: `no client ${nobody}`,
  });
  for (const bad of ["text only", { to: a.socket.id }, { text: "to whom?" }, { to: 7, text: "x" }]) {
    const reply = await call(a.socket, "private message", bad);
    assert.match(reply.error, /expected \{ to, text \}/, JSON.stringify(bad));
  }
  assert.equal(a.rec.count("private message"), 0);
});
