// examples/chat.rs: joining and leaving rooms (several at once), a message to a room
// without its sender, announcements to everybody, a socket's rooms, a room's members.
//
//   cargo run --example chat &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/chat.test.mjs
//
// "Doesn't receive" is checked without sleeping: after the emission under test, the
// sender announces a unique marker to everybody; a connection's packets keep their order,
// so a client holding the marker has received everything sent to it before.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { call, uniq, sorted, exitWhenDone } from "../lib/sio.mjs";
import { connected, connectedMany } from "../lib/example.mjs";

exitWhenDone(after, "examples/chat");

const T = { timeout: 10_000 };

/** Waits until each of `clients` has the announcement of a fresh marker sent by `sender`. */
async function settle(sender, clients) {
  const marker = uniq("marker");
  sender.socket.emit("announce", marker);
  for (const c of clients) {
    for (;;) {
      const [{ text }] = await c.rec.next("announcement", 3000);
      if (text === marker) break;
    }
  }
}

test("join several rooms at once, leave some, list them", T, async (t) => {
  const a = await connected(t);
  const [r1, r2, r3] = [uniq("r1"), uniq("r2"), uniq("r3")];
  assert.deepEqual(await call(a.socket, "join", [r1, r2, r3]), { rooms: sorted([r1, r2, r3]) });
  assert.deepEqual(await call(a.socket, "rooms"), { rooms: sorted([r1, r2, r3]) });
  assert.deepEqual(await call(a.socket, "leave", [r1, r3]), { rooms: [r2] });
  assert.deepEqual(await call(a.socket, "rooms"), { rooms: [r2] });
  // Joining twice changes nothing; leaving a room never joined either.
  assert.deepEqual(await call(a.socket, "join", [r2]), { rooms: [r2] });
  assert.deepEqual(await call(a.socket, "leave", [uniq("never")]), { rooms: [r2] });
});

test("join and leave refuse what is not a list of rooms", T, async (t) => {
  const a = await connected(t);
  for (const bad of ["just-a-string", [1, 2], { room: "x" }]) {
    const reply = await call(a.socket, "join", bad);
    assert.match(reply.error, /expected a list of rooms/, JSON.stringify(bad));
  }
  assert.match((await call(a.socket, "leave")).error, /expected a list of rooms/);
  assert.deepEqual(await call(a.socket, "rooms"), { rooms: [] });
});

test("a message reaches the other members of the room, not the sender nor other rooms", T, async (t) => {
  const [sender, b1, b2, other] = await connectedMany(t, 4);
  const room = uniq("room");
  await call(sender.socket, "join", [room, uniq("extra")]);
  await call(b1.socket, "join", [room]);
  await call(b2.socket, "join", [uniq("b2-also"), room]);
  await call(other.socket, "join", [uniq("elsewhere")]);

  assert.deepEqual(await call(sender.socket, "message", { room, text: "hello room" }), { ok: true });
  const expected = { room, from: sender.socket.id, text: "hello room" };
  for (const member of [b1, b2]) {
    assert.deepEqual(await member.rec.next("message", 3000), [expected]);
  }
  await settle(sender, [sender, b1, b2, other]);
  assert.equal(sender.rec.count("message"), 0, "the sender got its own message");
  assert.equal(other.rec.count("message"), 0, "a client of another room got the message");
  assert.equal(b1.rec.count("message"), 1);
  assert.equal(b2.rec.count("message"), 1);
});

test("after leaving a room, a client no longer gets its messages", T, async (t) => {
  const [sender, stays, leaves] = await connectedMany(t, 3);
  const room = uniq("room");
  for (const c of [sender, stays, leaves]) await call(c.socket, "join", [room]);
  assert.deepEqual(await call(leaves.socket, "leave", [room]), { rooms: [] });

  assert.deepEqual(await call(sender.socket, "message", { room, text: "still here?" }), { ok: true });
  assert.deepEqual(await stays.rec.next("message", 3000), [
    { room, from: sender.socket.id, text: "still here?" },
  ]);
  await settle(sender, [stays, leaves]);
  assert.equal(leaves.rec.count("message"), 0);
});

test("a message needs a room the sender joined, and a { room, text }", T, async (t) => {
  const [sender, member] = await connectedMany(t, 2);
  const room = uniq("room");
  await call(member.socket, "join", [room]);
  assert.deepEqual(await call(sender.socket, "message", { room, text: "let me in" }), {
    error: `join ${room} first`,
  });
  assert.match((await call(sender.socket, "message", "no object")).error, /expected \{ room, text \}/);
  assert.match((await call(sender.socket, "message", { room })).error, /expected \{ room, text \}/);
  await settle(sender, [member]);
  assert.equal(member.rec.count("message"), 0);
});

test("an announcement reaches everybody, the sender included", T, async (t) => {
  const clients = await connectedMany(t, 3);
  const [sender] = clients;
  await call(clients[1].socket, "join", [uniq("in-a-room")]);
  sender.socket.emit("announce", "hello everyone");
  for (const c of clients) {
    assert.deepEqual(await c.rec.next("announcement", 3000), [
      { from: sender.socket.id, text: "hello everyone" },
    ]);
  }
});

test("members lists the sockets of a room", T, async (t) => {
  const [a, b, c] = await connectedMany(t, 3);
  const room = uniq("room");
  await call(a.socket, "join", [room]);
  await call(b.socket, "join", [room, uniq("other")]);
  await call(c.socket, "join", [uniq("not-this-one")]);
  assert.deepEqual(await call(c.socket, "members", room), {
    members: sorted([a.socket.id, b.socket.id]),
  });
  await call(b.socket, "leave", [room]);
  assert.deepEqual(await call(c.socket, "members", room), { members: [a.socket.id] });
  assert.deepEqual(await call(c.socket, "members", uniq("empty")), { members: [] });
  assert.match((await call(c.socket, "members", 42)).error, /expected a room name/);
});
