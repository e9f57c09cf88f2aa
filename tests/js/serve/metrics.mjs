// A scripted session against `sockio serve`, for crates/sockio-cli/tests/serve.rs, which
// parses /metrics at each `@@scrape N` and checks the numbers this session makes:
//
// 1. alice, bob and xavier connect (WebSocket only: no heartbeat, no upgrade packets in
//    the counts), join rooms, alice writes three times to "general", bob announces,
//    alice types; three refused Engine.IO requests (codes 0, 1 and 5).
// 2. alice writes privately to xavier, whose page never acknowledges: one ack pending.
// 3. five seconds later the server gave up: alice's answer is an error, one ack timed out.
// 4. a taken nickname is refused; the same page (same token) takes its own back.
// 5. the server stops: every client is told, then disconnected.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import { ask, run, until } from "./control.mjs";

const url = process.env.SOCKIO_URL;

function client(nickname) {
  return io(url, {
    transports: ["websocket"],
    auth: { nickname, token: nickname },
    reconnection: false,
    forceNew: true,
  });
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
}

run(async () => {
  const alice = client("alice");
  await connected(alice);
  const bob = client("bob");
  await connected(bob);
  const xavier = client("xavier");
  await connected(xavier);

  assert.deepEqual(await alice.emitWithAck("join", ["general", "rust"]), { rooms: ["general", "rust"] });
  assert.deepEqual(await bob.emitWithAck("join", ["general"]), { rooms: ["general"] });
  assert.deepEqual(await xavier.emitWithAck("join", ["random"]), { rooms: ["random"] });

  const bobGot = [];
  bob.on("message", (m) => bobGot.push(m));
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await alice.emitWithAck("room message", { room: "general", text: `m${i}` }), { ok: true });
  }
  const xavierGot = [];
  xavier.on("message", (m) => xavierGot.push(m)); // never acknowledges
  const aliceGot = [];
  alice.on("message", (m) => aliceGot.push(m));
  assert.deepEqual(await bob.emitWithAck("announce", { text: "hi all" }), { ok: true });
  const typing = new Promise((r) => bob.once("typing", r));
  alice.emit("typing", { room: "general", typing: true });
  assert.deepEqual(await typing, { room: "general", from: "alice", typing: true });
  await until(() => bobGot.length === 3 && xavierGot.length === 1 && aliceGot.length === 1, 5000, "messages");
  assert.deepEqual(bobGot.map((m) => m.text), ["m0", "m1", "m2"]);
  assert.equal(xavierGot[0].kind, "all");

  for (const [query, code] of [
    ["EIO=4&transport=carrier-pigeon", 0],
    ["EIO=4&transport=polling&sid=nobody", 1],
    ["EIO=9&transport=polling", 5],
  ]) {
    const res = await fetch(`${url}/socket.io/?${query}`);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, code);
  }
  await ask("scrape 1");

  const answer = alice.timeout(10_000).emitWithAck("private message", { to: xavier.id, text: "psst" });
  await until(() => xavierGot.length === 2, 5000, "the private message");
  assert.equal(xavierGot[1].kind, "private");
  await ask("scrape 2");
  const reply = await answer;
  assert.match(reply.error, /^not delivered/);
  await ask("scrape 3");

  // A nickname in use: refused, unless it is the same page (same token) coming back,
  // which takes it over from its old connection.
  const impostor = io(url, { transports: ["websocket"], auth: { nickname: "Bob", token: "not bob" }, reconnection: false, forceNew: true });
  await assert.rejects(connected(impostor), { message: 'nickname "bob" is taken' });
  impostor.close();
  const dropped = new Promise((r) => alice.once("disconnect", r));
  const alice2 = client("alice");
  await connected(alice2);
  assert.equal(await dropped, "io server disconnect");

  const told = [alice2, bob, xavier].map(
    (s) =>
      new Promise((resolve) => {
        let notice = false;
        s.on("notice", (text) => {
          if (text === "server shutting down") notice = true;
        });
        s.on("disconnect", (reason) => resolve({ notice, reason }));
      })
  );
  await ask("stop");
  for (const { notice, reason } of await Promise.all(told)) {
    assert.ok(notice, "told the server is shutting down");
    assert.equal(reason, "transport close");
  }
});
