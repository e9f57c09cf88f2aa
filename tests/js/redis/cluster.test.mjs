// A mixed cluster on one Redis: sockio conformance nodes and socket.io 4.8 nodes with
// @socket.io/redis-adapter 8.3 (tests/js/reference/conformance-server.mjs in cluster mode),
// driven with socket.io-client 4.8 through the cluster handlers of conformance-server.md §6.4.
// Every operation is tried from a sockio node and from a Node node, so each side must read
// what the other writes.
//
// Env: CLUSTER_NODES  "A=http://127.0.0.1:1234,B=...,C=..." (node id = NODE_ID of that node)
//      CLUSTER_MSGPACK  ids of the nodes serving socket.io-msgpack-parser clients ("B")
//      REDIS_URL, REDIS_ADAPTER (classic | sharded): for @socket.io/redis-emitter (classic only)

import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { io } from "socket.io-client";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { uniq, sleep } from "../lib/sio.mjs";

const require = createRequire(import.meta.url);
const msgpackParser = require("socket.io-msgpack-parser");

const NODES = (process.env.CLUSTER_NODES ?? "")
  .split(",")
  .filter(Boolean)
  .map((entry) => {
    const [id, url] = entry.split("=");
    return { id, url };
  });
const MSGPACK = new Set((process.env.CLUSTER_MSGPACK ?? "").split(",").filter(Boolean));
const KIND = process.env.REDIS_ADAPTER ?? "classic";
if (NODES.length < 3) throw new Error("CLUSTER_NODES needs three nodes");

let open = [];
afterEach(() => {
  for (const s of open) s.disconnect();
  open = [];
});

/** A connected client of node `node` in namespace `nsp`. */
function connect(node, nsp = "/", opts = {}) {
  return new Promise((resolve, reject) => {
    const socket = io(node.url + nsp, {
      forceNew: true,
      reconnection: false,
      transports: ["websocket"],
      timeout: 5000,
      ...(MSGPACK.has(node.id) ? { parser: msgpackParser } : {}),
      ...opts,
    });
    open.push(socket);
    socket.node = node.id;
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** One client on each node, in `/`: [a, b, c]. */
const everyone = (nsp = "/") => Promise.all(NODES.map((n) => connect(n, nsp)));

const ask = (socket, ...args) => socket.timeout(12000).emitWithAck(...args);

/** Records every `event` the socket receives (argument lists). */
function record(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args));
  return got;
}

async function until(what, cond, ms = 4000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await sleep(20);
  }
}

const sorted = (list) => [...list].sort();
const byJson = (list) => [...list].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));

test("every node counts every node", async () => {
  const clients = await everyone();
  for (const [i, s] of clients.entries()) {
    assert.equal(await ask(s, "server-count"), NODES.length);
    assert.equal(await ask(s, "node-id"), NODES[i].id);
  }
});

test("room broadcasts, except and socket ids reach the sockets of every node once", async () => {
  const clients = await everyone();
  const [a, b, c] = clients;
  const room = uniq("room");
  for (const s of clients) await ask(s, "join", room);
  const got = clients.map((s) => record(s, "r-ev"));

  // from a sockio node, binary included, sender spared
  await ask(a, "to-rooms", room, "r-ev", 1, Buffer.from([1, 2, 3]));
  await until("b and c got it", () => got[1].length === 1 && got[2].length === 1);
  for (const i of [1, 2]) {
    assert.equal(got[i][0][0], 1);
    assert.deepEqual(Buffer.from(got[i][0][1]), Buffer.from([1, 2, 3]));
  }
  // from the Node node, sender included
  await ask(c, "io-to-rooms", room, "r-ev", "two");
  await until("everyone got it", () => got[0].length === 1 && got[1].length === 2 && got[2].length === 2);
  // except one socket of another node, from the other sockio node
  await ask(b, "to-rooms-except", room, a.id, "r-ev", "three");
  await until("b and c got three", () => got[1].length === 3 && got[2].length === 3);
  // one socket by id, on a sockio node, from the Node node
  await ask(c, "to-socket", a.id, "r-ev", "four");
  await until("a got four", () => got[0].length === 2);
  // everyone but the sender / everyone
  await ask(b, "broadcast", "r-ev", "five");
  await until("a and c got five", () => got[0].length === 3 && got[2].length === 4);
  await ask(c, "emit-all", "r-ev", "six");
  await until("all got six", () => got[0].length === 4 && got[1].length === 4 && got[2].length === 5);
  await sleep(300);
  assert.deepEqual(
    got.map((g) => g.map((args) => (typeof args[0] === "string" ? args[0] : "one"))),
    [
      ["two", "four", "five", "six"],
      ["one", "two", "three", "six"],
      ["one", "two", "three", "five", "six"],
    ],
  );
});

// With the sharded adapter, a broadcast to one public room travels on that room's own
// channel, which a node subscribes to when the room appears on it. socket.io acks the join
// before node-redis has written the SSUBSCRIBE (seen with MONITOR: a publish from another
// node can overtake it), so the test leaves the subscription a moment to reach Redis.
test("a room joined on one node gets the broadcasts of every node (one-room channels)", async () => {
  const [a, b, c] = await everyone();
  for (const [joiner, sender] of [
    [a, c],
    [c, b],
    [b, a],
  ]) {
    const room = uniq("late");
    await ask(joiner, "join", room);
    await sleep(100);
    const got = record(joiner, "late-ev");
    await ask(sender, "to-rooms", room, "late-ev", joiner.id);
    await until(`${joiner.node} got the broadcast of ${sender.node}`, () => got.length === 1);
  }
});

test("broadcasts with acknowledgements collect the answers of every node's clients", async () => {
  const clients = await everyone();
  for (const s of clients) s.on("q", (arg, cb) => cb(`${s.node}:${arg}`));
  for (const s of clients) {
    const answers = await ask(s, "broadcast-with-ack", null, 4000, "q", "x");
    assert.deepEqual(answers, NODES.map((n) => `${n.id}:x`));
  }
  const room = uniq("ackroom");
  await ask(clients[1], "join", room);
  await ask(clients[2], "join", room);
  assert.deepEqual(await ask(clients[0], "broadcast-with-ack", { rooms: room }, 4000, "q", "y"), [
    `${NODES[1].id}:y`,
    `${NODES[2].id}:y`,
  ]);
  assert.deepEqual(await ask(clients[2], "broadcast-with-ack", { rooms: uniq("nobody") }, 4000, "q"), []);
});

test("fetchSockets: Node nodes see sockio sockets and the reverse", async () => {
  const clients = await everyone();
  const room = uniq("fetch");
  for (const [i, s] of clients.entries()) {
    await ask(s, "set-data", { name: NODES[i].id });
    if (i !== 1) await ask(s, "join", room);
  }
  const expected = clients
    .map((s, i) => ({
      id: s.id,
      rooms: i !== 1 ? [room] : [],
      data: { name: NODES[i].id },
      auth: {},
    }))
    .sort((x, y) => (x.id < y.id ? -1 : 1));
  for (const s of clients) {
    assert.deepEqual(await ask(s, "fetch-sockets", null), expected);
    assert.deepEqual(
      (await ask(s, "fetch-sockets", { rooms: room, except: clients[0].id })).map((x) => x.id),
      [clients[2].id],
    );
    assert.deepEqual(await ask(s, "room-members", room), sorted([clients[0].id, clients[2].id]));
  }
});

test("socketsJoin, socketsLeave and disconnectSockets act on every node", async () => {
  const [a, b, c] = await everyone();
  const room = uniq("joined");
  // from the Node node, on sockets of the sockio nodes
  await ask(c, "sockets-join", { rooms: [a.id, b.id] }, room);
  await until("a and b joined", async () => {
    const members = await ask(c, "room-members", room);
    return JSON.stringify(members) === JSON.stringify(sorted([a.id, b.id]));
  });
  assert.deepEqual(await ask(a, "get-rooms"), [room]);
  // from a sockio node, on everyone
  await ask(a, "sockets-leave", null, room);
  await until("nobody in the room", async () => (await ask(b, "room-members", room)).length === 0);
  await ask(b, "sockets-join", { except: b.id }, room);
  await until("a and c joined", async () => {
    const members = await ask(b, "room-members", room);
    return JSON.stringify(members) === JSON.stringify(sorted([a.id, c.id]));
  });

  // a sockio node disconnects the Node node's socket, and the reverse
  const cGone = new Promise((resolve) => c.once("disconnect", resolve));
  await ask(a, "disconnect-sockets", { rooms: c.id }, false);
  assert.equal(await cGone, "io server disconnect");
  const c2 = await connect(NODES[2]);
  const bGone = new Promise((resolve) => b.once("disconnect", resolve));
  await ask(c2, "disconnect-sockets", { rooms: [b.id] }, true);
  assert.equal(await bGone, "io server disconnect");
  assert.ok(a.connected);
});

test("serverSideEmit and serverSideEmitWithAck go both ways", async () => {
  const clients = await everyone();
  for (const [i, sender] of clients.entries()) {
    const tag = uniq("note");
    await ask(sender, "server-side-emit", tag, i, { x: null });
    for (const [j, s] of clients.entries()) {
      if (j === i) continue;
      await until(`${NODES[j].id} logged ${tag}`, async () => (await ask(s, "server-side-log", tag)).length === 1);
      assert.deepEqual(await ask(s, "server-side-log", tag), [[tag, i, { x: null }]]);
    }
    assert.deepEqual(await ask(sender, "server-side-log", tag), []);
    const answers = await ask(sender, "server-side-emit-with-ack", tag);
    assert.deepEqual(
      answers,
      byJson(NODES.filter((_, j) => j !== i).map((n) => [n.id, tag])),
    );
  }
});

test("EIO=3 clients (socket.io-client 2.x) get the broadcasts of every node, binary kept", async () => {
  const io2 = require("socket.io-client-v2");
  const old = await Promise.all(
    [NODES[0], NODES[2]].map(
      (n) =>
        new Promise((resolve, reject) => {
          const s = io2(`${n.url}/`, { forceNew: true, reconnection: false, transports: ["websocket"] });
          open.push(s);
          s.once("connect", () => resolve(s));
          s.once("connect_error", reject);
        }),
    ),
  );
  const got = old.map((s) => record(s, "v2-ev"));
  const [, b] = await everyone();
  await ask(b, "emit-all", "v2-ev", "x", Buffer.from([5, 6]));
  await until("both 2.x clients got it", () => got.every((g) => g.length === 1));
  for (const g of got) {
    assert.equal(g[0][0], "x");
    assert.deepEqual(Buffer.from(g[0][1]), Buffer.from([5, 6]));
  }
});

test("other namespaces form their own cluster", async () => {
  const clients = await everyone("/custom");
  for (const s of clients) assert.equal(await ask(s, "server-count"), NODES.length);
  const got = clients.map((s) => record(s, "custom-ev"));
  await ask(clients[0], "broadcast", "custom-ev", 1);
  await until("b and c got it", () => got[1].length === 1 && got[2].length === 1);
  await sleep(200);
  assert.equal(got[0].length, 0);
});

test("@socket.io/redis-emitter reaches the sockets of every node", { skip: KIND !== "classic" }, async () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  await redis.connect();
  try {
    const emitter = new Emitter(redis);
    const clients = await everyone();
    const [a, b, c] = clients;
    const room = uniq("em");
    await ask(b, "join", room);
    await ask(c, "join", room);
    const got = clients.map((s) => record(s, "em-ev"));

    emitter.emit("em-ev", "all", Buffer.from([7]));
    await until("everyone got it", () => got.every((g) => g.length === 1));
    assert.deepEqual(Buffer.from(got[0][0][1]), Buffer.from([7]));
    emitter.to(room).except(c.id).emit("em-ev", "room");
    await until("b got it", () => got[1].length === 2);
    emitter.to(a.id).emit("em-ev", "a-only");
    await until("a got it", () => got[0].length === 2);
    await sleep(200);
    assert.deepEqual(got.map((g) => g.map((x) => x[0])), [["all", "a-only"], ["all", "room"], ["all"]]);

    const custom = await Promise.all(NODES.map((n) => connect(n, "/custom")));
    const gotCustom = custom.map((s) => record(s, "em-custom"));
    emitter.of("/custom").emit("em-custom", 1);
    await until("every /custom client got it", () => gotCustom.every((g) => g.length === 1));

    const joined = uniq("em-joined");
    emitter.in(room).socketsJoin(joined);
    await until("b and c joined", async () => {
      const members = await ask(a, "room-members", joined);
      return JSON.stringify(members) === JSON.stringify(sorted([b.id, c.id]));
    });
    emitter.socketsLeave(joined);
    await until("they left", async () => (await ask(a, "room-members", joined)).length === 0);

    const tag = uniq("em-note");
    emitter.serverSideEmit("cluster-note", tag, 1);
    for (const s of clients) {
      await until(`${s.node} logged it`, async () => (await ask(s, "server-side-log", tag)).length === 1);
    }

    const gone = [a, b].map((s) => new Promise((resolve) => s.once("disconnect", resolve)));
    emitter.except(c.id).disconnectSockets();
    assert.deepEqual(await Promise.all(gone), ["io server disconnect", "io server disconnect"]);
    assert.ok(c.connected);
  } finally {
    await redis.quit();
  }
});
