// Raw Socket.IO protocol against the `/socket.io/` endpoint of the conformance server at
// $SOCKIO_URL, with no client library: WebSockets through `ws`, polling through node:http
// (helpers of ../lib/raw.mjs). Checks the exact wire form of what the server writes and what
// it does with input that the official clients never send
// (spec: /work/shared/spec/conformance-server.md §4.2, §4.4, §4.5; socket-io.md §2–§5).
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/socketio/raw.test.mjs

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { V4Session, openWs, encodeV3, decodeV3, cleanup, sleep, RS } from "../lib/raw.mjs";
import { SIO_PATH, exitWhenDone } from "../lib/sio.mjs";

exitWhenDone(after, "socketio/raw");

const T = { timeout: 8000 };
const SOCKET_ID_RE = /^[A-Za-z0-9_-]{20}$/;
const AUTH_ERROR = '{"message":"not authorized","data":{"code":4001,"hint":"send auth.token"}}';
const nspPart = (nsp) => (nsp === "/" ? "" : `${nsp},`);

/**
 * A raw WebSocket connection to /socket.io/. v4: pings answered automatically. v3: the client
 * pings every 200 ms (EIO=3 heartbeat direction) and the `3` answers are dropped.
 */
class RawWs {
  static async open(add, { eio = 4, autoPong = true, query = "" } = {}) {
    const ws = add(await openWs(`EIO=${eio}&transport=websocket${query}`, { path: SIO_PATH, autoPong: eio === 4 && autoPong }));
    assert.ok(ws.opened, `websocket refused (${ws.status})`);
    const c = new RawWs(ws, eio);
    const open = await c.nextFrame();
    assert.equal(open.binary, false);
    assert.equal(open.data[0], "0", `open packet, got ${open.data}`);
    c.sid = JSON.parse(open.data.slice(1)).sid;
    if (eio === 3) {
      c.pinger = setInterval(() => {
        if (!ws.isClosed) ws.send("2");
      }, 200);
      ws.closed.then(() => clearInterval(c.pinger));
      add({ destroy: () => clearInterval(c.pinger) });
    }
    return c;
  }
  constructor(ws, eio) {
    this.ws = ws;
    this.eio = eio;
    this.backlog = [];
    this.nextId = 100;
  }
  send(...frames) {
    for (const f of frames) this.ws.send(f);
  }
  /** Next frame `{data, binary}` (v3 pongs skipped). */
  async nextFrame(ms = 2000) {
    if (this.backlog.length) return this.backlog.shift();
    for (;;) {
      const f = await this.ws.next(ms);
      if (this.eio === 3 && !f.binary && f.data === "3") continue;
      return f;
    }
  }
  /** Next frame, which must be text. */
  async next(ms) {
    const f = await this.nextFrame(ms);
    assert.equal(f.binary, false, `expected a text frame, got binary ${f.binary && f.data.toString("hex")}`);
    return f.data;
  }
  /** Reads frames until one satisfies `pred`; the others are kept for later `next` calls. */
  async until(pred, ms = 2000) {
    const i = this.backlog.findIndex(pred);
    if (i >= 0) return this.backlog.splice(i, 1)[0];
    const skipped = [];
    try {
      for (;;) {
        const f = await this.ws.next(ms);
        if (this.eio === 3 && !f.binary && f.data === "3") continue;
        if (pred(f)) return f;
        skipped.push(f);
      }
    } finally {
      this.backlog.push(...skipped);
    }
  }
  /** Emits `ev` with an ack id in `nsp` and resolves with the parsed ack array. */
  async call(nsp, ev, ...args) {
    const id = this.nextId++;
    const prefix = `43${nspPart(nsp)}${id}[`;
    this.send(`42${nspPart(nsp)}${id}${JSON.stringify([ev, ...args])}`);
    const f = await this.until((x) => !x.binary && x.data.startsWith(prefix));
    return JSON.parse(f.data.slice(prefix.length - 1));
  }
  /** CONNECT to `nsp` (v4): checks the exact reply and the auth event; returns the socket id. */
  async connect(nsp = "/", payload = "", expectedAuth = payload === "" ? {} : JSON.parse(payload)) {
    this.send(`40${nsp === "/" ? "" : nsp + ","}${payload}`);
    const reply = await this.next();
    const m = new RegExp(`^40${escape(nspPart(nsp))}(\\{.*\\})$`).exec(reply);
    assert.ok(m, `CONNECT reply for ${nsp}: ${reply}`);
    const body = JSON.parse(m[1]);
    assert.deepEqual(Object.keys(body), ["sid"], `only key sid: ${reply}`);
    assert.match(body.sid, SOCKET_ID_RE);
    assert.equal(reply, `40${nspPart(nsp)}{"sid":"${body.sid}"}`);
    assert.notEqual(body.sid, this.sid);
    assert.equal(await this.next(), `42${nspPart(nsp)}${JSON.stringify(["auth", expectedAuth])}`);
    return body.sid;
  }
  waitClose(ms = 2000) {
    return this.ws.waitClose(ms);
  }
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A bystander connected to `/` and the victim's socket id → the recorded reason (polls a bit). */
async function reasonOf(bystander, nsp, id) {
  const deadline = Date.now() + 2000;
  for (;;) {
    const [r] = await bystander.call("/", "last-disconnect-reason", nsp, id);
    if (r !== null || Date.now() > deadline) return r;
    await sleep(20);
  }
}

/** After a connection was closed: a new handshake + CONNECT + round trip works. */
async function freshConnectionWorks(add) {
  const c = await RawWs.open(add);
  await c.connect();
  assert.deepEqual(await c.call("/", "message-with-ack", "fresh"), ["fresh"]);
}

/** Polls a polling session until the server reports it closed (close packet or 400). */
async function pollingClosed(session, ms = 2500) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const res = await session.get({ timeout: deadline - Date.now() });
    if (res.status !== 200) {
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.text), { code: 1, message: "Session ID unknown" });
      return;
    }
    const packets = res.text.split(RS);
    if (packets.includes("1")) return;
    if (packets.includes("2")) await session.post("3").catch(() => {});
  }
  throw new Error("polling session still open");
}

// -------------------------------------------------------------------------------------------------

const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

// [label, frames to send after a successful CONNECT to "/", allowed disconnect reasons]
const SIO_LEVEL = ["forced close", "parse error"]; // socket.io 4.8: forced close
const STATE = ["forced close", "forced server close"]; // socket.io 4.8: forced close (engine closes at once)
const BAD_AFTER_CONNECT = [
  ["4abc (bad packet type)", ["4abc"], SIO_LEVEL],
  ["47[] (type 7)", ["47[]"], SIO_LEVEL],
  ["4 (empty Socket.IO packet)", ["4"], SIO_LEVEL],
  ["42{} (payload not an array)", ["42{}"], SIO_LEVEL],
  ['42abc["x"] (garbage before the array)', ['42abc["x"]'], SIO_LEVEL],
  ["42[] (empty array)", ["42[]"], SIO_LEVEL],
  ["42[{}] (event name an object)", ["42[{}]"], SIO_LEVEL],
  ['42["x" (broken JSON)', ['42["x"'], SIO_LEVEL],
  ["42[null]", ["42[null]"], SIO_LEVEL],
  ['41{"x":1} (DISCONNECT with payload)', ['41{"x":1}'], SIO_LEVEL],
  ['43{"a":1} (ACK payload not an array)', ['431{"a":1}'], SIO_LEVEL],
  ['45x-[...] (bad attachment count)', ['45x-["a",{"_placeholder":true,"num":0}]'], SIO_LEVEL],
  ['45-[...] (no attachment count)', ['45-["a",{"_placeholder":true,"num":0}]'], SIO_LEVEL],
  ["4511-[...] (more than 10 attachments)", ['4511-["a"]'], SIO_LEVEL],
  ...RESERVED.map((name) => [`reserved event name ${name}`, [`42${JSON.stringify([name, 1])}`], SIO_LEVEL]),
  ["second CONNECT to /", ["40"], STATE],
  ['EVENT for a namespace not joined (42/custom,["x"])', ['42/custom,["x"]'], STATE],
  ["DISCONNECT for a namespace not joined (41/custom,)", ["41/custom,"], STATE],
  ["ACK for a namespace not joined (43/custom,1[])", ["43/custom,1[]"], STATE],
  ["binary frame without a pending binary packet", [Buffer.from([1, 2, 3])], SIO_LEVEL],
  [
    "text packet while waiting for an attachment",
    ['451-["message",{"_placeholder":true,"num":0}]', '42["message"]'],
    SIO_LEVEL,
  ],
  ["Engine.IO garbage (x)", ["x"], ["parse error"]],
];

const BAD_CONNECT = [
  ['40"str"', ['40"str"']],
  ["40[1,2]", ["40[1,2]"]],
  ["40{bad", ["40{bad"]],
  ["40null", ["40null"]],
  ['40/custom,"str"', ['40/custom,"str"']],
  ["40/custom,[1]", ["40/custom,[1]"]],
];

describe("raw Socket.IO over WebSocket: bad input closes only that connection", { concurrency: true }, () => {
  for (const [label, frames, reasons] of BAD_AFTER_CONNECT) {
    it(label, T, async (t) => {
      const add = cleanup(t);
      const [bystander, victim] = await Promise.all([RawWs.open(add), RawWs.open(add)]);
      await bystander.connect();
      const id = await victim.connect();
      victim.send(...frames);
      await victim.waitClose();
      assert.deepEqual(await bystander.call("/", "message-with-ack", "alive"), ["alive"]);
      const r = await reasonOf(bystander, "/", id);
      assert.ok(r && reasons.includes(r.reason), `disconnect reason ${JSON.stringify(r)}, expected one of ${reasons}`);
      assert.ok(!(await bystander.call("/", "namespace-sockets"))[0].includes(id), "socket gone");
      await freshConnectionWorks(add);
    });
  }

  for (const [label, frames] of BAD_CONNECT) {
    it(`CONNECT payload not an object: ${label}`, T, async (t) => {
      const add = cleanup(t);
      const [bystander, victim] = await Promise.all([RawWs.open(add), RawWs.open(add)]);
      await bystander.connect();
      victim.send(...frames);
      await victim.waitClose();
      assert.deepEqual(
        victim.ws.frames.slice(1).filter((f) => f.data !== "2"),
        [],
        "nothing but the open packet (and pings) was sent",
      );
      assert.deepEqual(await bystander.call("/", "message-with-ack", "alive"), ["alive"]);
      await freshConnectionWorks(add);
    });
  }

  it("a bad packet in one namespace closes every namespace of the connection", T, async (t) => {
    const add = cleanup(t);
    const [bystander, victim] = await Promise.all([RawWs.open(add), RawWs.open(add)]);
    await bystander.connect();
    const id1 = await victim.connect();
    const id2 = await victim.connect("/custom");
    victim.send('42/custom,["disconnect"]');
    await victim.waitClose();
    assert.equal((await reasonOf(bystander, "/", id1))?.reason, "forced close");
    assert.equal((await reasonOf(bystander, "/custom", id2))?.reason, "forced close");
  });
});

describe("raw Socket.IO over polling: bad input closes only that session", { concurrency: true }, () => {
  const cases = [
    ["42[]", "42[]", true],
    ["reserved event name", '42["disconnect"]', true],
    ["second CONNECT", "40", true],
    ["EVENT for a namespace not joined", '42/custom,["x"]', true],
    ["binary without a pending binary packet", "bAQID", true],
    ['CONNECT payload not an object (40"str")', '40"str"', false],
  ];
  for (const [label, body, connectFirst] of cases) {
    it(label, T, async (t) => {
      const add = cleanup(t);
      const bystander = await RawWs.open(add);
      await bystander.connect();
      const s = await V4Session.open({ path: SIO_PATH });
      if (connectFirst) {
        await s.send("40");
        const packets = await s.recv();
        assert.match(packets[0], /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
      }
      // the POST itself may get 200 or 400, or its connection may be dropped
      const res = await s.post(body).catch(() => null);
      if (res) assert.ok([200, 400].includes(res.status), `POST → ${res.status}`);
      await pollingClosed(s);
      assert.deepEqual(await bystander.call("/", "message-with-ack", "alive"), ["alive"]);
      await freshConnectionWorks(add);
    });
  }
});

// -------------------------------------------------------------------------------------------------

describe("raw Socket.IO: connecting", { concurrency: true }, () => {
  it("CONNECT / : exact reply 40{\"sid\":…} (20 chars, ≠ engine sid) then 42[\"auth\",{}]", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    const id = await c.connect();
    assert.notEqual(id, c.sid);
    assert.deepEqual(await c.call("/", "get-rooms"), [[]]);
    assert.deepEqual(await c.call("/", "room-members", id), [[id]]);
  });

  it("CONNECT with auth, with and without trailing comma; one id per namespace", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    const a = await c.connect("/", '{"token":"abc","n":[1,null]}');
    const b = await c.connect("/custom", '{"token":"abc"}');
    // `40/dyn-x` without comma means no auth
    c.send("40/dyn-raw-1");
    const reply = await c.next();
    assert.match(reply, /^40\/dyn-raw-1,\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
    assert.equal(await c.next(), '42/dyn-raw-1,["auth",{}]');
    const d = JSON.parse(reply.slice("40/dyn-raw-1,".length)).sid;
    assert.equal(new Set([a, b, d, c.sid]).size, 4);
    assert.deepEqual(await c.call("/custom", "get-handshake"), [
      { auth: { token: "abc" }, query: { EIO: "4", transport: "websocket" } },
    ]);
  });

  it("CONNECT over polling: POST 40 then one GET → 40{\"sid\":…}\\x1e42[\"auth\",{}]", T, async (t) => {
    const s = await V4Session.open({ path: SIO_PATH });
    // (s.recv answers and drops a ping `2` that may lead the payload on a slow machine)
    await s.send("40");
    const body = (await s.recv()).join(RS);
    const m = /^40\{"sid":"([A-Za-z0-9_-]{20})"\}\x1e42\["auth",\{\}\]$/.exec(body);
    assert.ok(m, `GET body ${JSON.stringify(body)}`);
    assert.notEqual(m[1], s.sid);
    await s.send('40/custom,{"k":"v"}');
    const body2 = (await s.recv()).join(RS);
    assert.match(body2, /^40\/custom,\{"sid":"[A-Za-z0-9_-]{20}"\}\x1e42\/custom,\["auth",\{"k":"v"\}\]$/);
    await s.send("1");
  });

  it("unknown namespace → 44/random,{\"message\":\"Invalid namespace\"}; connection stays usable", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    c.send("40/random");
    assert.equal(await c.next(), '44/random,{"message":"Invalid namespace"}');
    c.send("40/random,");
    assert.equal(await c.next(), '44/random,{"message":"Invalid namespace"}');
    c.send('40/DYN-x,{"a":1}');
    assert.equal(await c.next(), '44/DYN-x,{"message":"Invalid namespace"}');
    await c.connect();
    assert.deepEqual(await c.call("/", "message-with-ack", 1), [1]);
    c.send("40/random");
    assert.equal(await c.next(), '44/random,{"message":"Invalid namespace"}');
    assert.deepEqual(await c.call("/", "message-with-ack", 2), [2]);
  });

  it("/restricted: exact CONNECT_ERROR with data; with the token → connected", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    c.send("40/restricted");
    assert.equal(await c.next(), `44/restricted,${AUTH_ERROR}`);
    c.send('40/restricted,{"token":"nope"}');
    assert.equal(await c.next(), `44/restricted,${AUTH_ERROR}`);
    await c.connect("/restricted", '{"token":"let-me-in"}');
    assert.deepEqual(await c.call("/restricted", "get-rooms"), [[]]);
  });

  it("connectTimeout: no CONNECT within 1000 ms → closed, even while answering pings", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    const started = Date.now();
    const closed = await c.waitClose(3000);
    const elapsed = closed.at - started;
    assert.ok(elapsed >= 850 && elapsed <= 1800, `closed after ${elapsed} ms`);
    assert.ok(c.ws.frames.slice(1).every((f) => f.data === "2"), "only pings after the open packet");
    assert.ok(c.ws.frames.length >= 3, "pings were sent (and answered) meanwhile");
  });

  it("connectTimeout: a CONNECT_ERROR does not count as joined", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    const started = Date.now();
    c.send("40/nope");
    assert.equal(await c.next(), '44/nope,{"message":"Invalid namespace"}');
    c.send("40/restricted");
    assert.equal(await c.next(), `44/restricted,${AUTH_ERROR}`);
    const closed = await c.waitClose(3000);
    assert.ok(closed.at - started >= 850, `closed after ${closed.at - started} ms`);
  });

  it("connectTimeout over polling: the session is closed after ≈1000 ms", T, async () => {
    const s = await V4Session.open({ path: SIO_PATH });
    const started = Date.now();
    await pollingClosed(s, 3000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 850 && elapsed <= 1900, `closed after ${elapsed} ms`);
  });

  it("a connected client is not closed by connectTimeout", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    await c.connect();
    await sleep(1300);
    assert.deepEqual(await c.call("/", "message-with-ack", "still"), ["still"]);
  });
});

// -------------------------------------------------------------------------------------------------

describe("raw Socket.IO: events, acks, binary, disconnects", { concurrency: true }, () => {
  it("ACKs with an unknown id are ignored (text and binary); numeric event names accepted", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    await c.connect();
    c.send("4399999[1]");
    c.send('461-99998[{"_placeholder":true,"num":0}]', Buffer.from([1, 2]));
    c.send('42[1,"x"]');
    c.send('42["no-such-event",1]');
    assert.deepEqual(await c.call("/", "get-rooms"), [[]]);
    await c.connect("/custom");
    c.send("43/custom,99999[]");
    assert.deepEqual(await c.call("/custom", "message-with-ack", "ok"), ["ok"]);
  });

  it("message → message-back exact frames; message never acks", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    await c.connect("/custom");
    c.send('42/custom,["message"]');
    assert.equal(await c.next(), '42/custom,["message-back"]');
    c.send('42/custom,5["message",1,"a",{"b":[null]}]');
    assert.equal(await c.next(), '42/custom,["message-back",1,"a",{"b":[null]}]');
    assert.equal(await c.call("/custom", "message-with-ack").then((r) => JSON.stringify(r)), "[]");
    assert.equal(c.backlog.length, 0, "no ACK for message");
  });

  it("binary: BINARY_EVENT in, BINARY_ACK out with the exact placeholder form", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    await c.connect();
    c.send('451-7["message-with-ack",{"_placeholder":true,"num":0}]', Buffer.from([1, 2]));
    assert.equal(await c.next(), '461-7[{"_placeholder":true,"num":0}]');
    const f = await c.nextFrame();
    assert.equal(f.binary, true);
    assert.equal(f.data.toString("hex"), "0102");
    c.send('452-["message","x",{"_placeholder":true,"num":1},{"k":{"_placeholder":true,"num":0}}]', Buffer.from([0xaa]), Buffer.from([0xbb, 0xcc]));
    assert.equal(await c.next(), '452-["message-back","x",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]');
    assert.equal((await c.nextFrame()).data.toString("hex"), "bbcc");
    assert.equal((await c.nextFrame()).data.toString("hex"), "aa");
  });

  it("request-binary: exact BINARY_EVENT with 4 attachments in depth-first order, then the done ack", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    await c.connect();
    c.send('429["request-binary"]');
    assert.equal(
      await c.next(),
      '454-["binary-data",{"a":{"_placeholder":true,"num":0},"nested":{"list":[{"_placeholder":true,"num":1},"text",{"deep":{"_placeholder":true,"num":2}}],"n":42},"last":{"_placeholder":true,"num":3}}]',
    );
    for (const hex of ["010203", "0405", "06", "ff0080"]) {
      const f = await c.nextFrame();
      assert.equal(f.binary, true);
      assert.equal(f.data.toString("hex"), hex);
    }
    assert.equal(await c.next(), "439[]");
  });

  it("server-ack: 42<id>[\"server-ack-request\",…] ; client 43<id>[…] → server-ack-response, done", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    await c.connect("/custom");
    c.send('42/custom,3["server-ack",1,"two"]');
    const req = await c.next();
    const m = /^42\/custom,(\d+)\["server-ack-request",1,"two"\]$/.exec(req);
    assert.ok(m, req);
    c.send(`43/custom,${m[1]}["r",{"x":1}]`);
    assert.equal(await c.next(), '42/custom,["server-ack-response","r",{"x":1}]');
    assert.equal(await c.next(), "43/custom,3[]");
    // a second ACK for the same id is ignored
    c.send(`43/custom,${m[1]}["again"]`);
    assert.deepEqual(await c.call("/custom", "get-rooms"), [[]]);
  });

  it("volatile over polling: dropped when no GET is pending, delivered when one is", T, async () => {
    const s = await V4Session.open({ path: SIO_PATH });
    await s.send("40");
    await s.recv();
    await s.send('421["volatile","v",1]');
    assert.deepEqual(await s.recv(), ["431[]"]);
    const pending = s.startGet();
    await sleep(50);
    await s.send('422["volatile","v",2]');
    const got = [];
    let res = await pending.promise;
    for (;;) {
      const packets = res.text.split(RS).filter((p) => p !== "2");
      if (res.text.split(RS).includes("2")) await s.send("3");
      got.push(...packets);
      if (got.includes("432[]")) break;
      res = await s.get();
    }
    assert.deepEqual(got, ['42["v",2]', "432[]"]);
    await s.send("1");
  });

  it("disconnect-me: 41 then the connection stays open; CONNECT again gives a new id", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add);
    const id1 = await c.connect();
    const idc = await c.connect("/custom");
    c.send('42["disconnect-me"]');
    assert.equal(await c.next(), "41");
    c.send('42/custom,["disconnect-me",false]');
    assert.equal(await c.next(), "41/custom,");
    // pings go on and nothing closes the connection (no namespace joined now)
    await sleep(1100);
    assert.equal(c.ws.isClosed, false);
    const id2 = await c.connect();
    assert.notEqual(id2, id1);
    assert.deepEqual(await c.call("/", "last-disconnect-reason", "/", id1), [{ reason: "server namespace disconnect", rooms: [] }]);
    assert.deepEqual(await c.call("/", "last-disconnect-reason", "/custom", idc), [{ reason: "server namespace disconnect", rooms: [] }]);
  });

  it("disconnect-me true: 41 for every namespace, then the connection closes", T, async (t) => {
    const add = cleanup(t);
    const bystander = await RawWs.open(add);
    await bystander.connect();
    const c = await RawWs.open(add);
    const id1 = await c.connect();
    const id2 = await c.connect("/custom");
    c.send('42/custom,["join","r"]');
    c.send('42["disconnect-me",true]');
    await c.waitClose();
    const disconnects = c.ws.frames.filter((f) => !f.binary && f.data.startsWith("41")).map((f) => f.data);
    // socket.io 4.8 writes them in the order the namespaces were joined
    assert.deepEqual(disconnects.sort(), ["41", "41/custom,"]);
    assert.deepEqual(await reasonOf(bystander, "/", id1), { reason: "server namespace disconnect", rooms: [] });
    assert.deepEqual(await reasonOf(bystander, "/custom", id2), { reason: "server namespace disconnect", rooms: ["r"] });
  });

  it("close-transport: closed without any Socket.IO packet; reason forced close", T, async (t) => {
    const add = cleanup(t);
    const bystander = await RawWs.open(add);
    await bystander.connect();
    const c = await RawWs.open(add);
    const id = await c.connect();
    const before = c.ws.frames.length;
    c.send('42["close-transport"]');
    await c.waitClose();
    assert.deepEqual(c.ws.frames.slice(before).filter((f) => f.data !== "2"), []);
    assert.deepEqual(await reasonOf(bystander, "/", id), { reason: "forced close", rooms: [] });
  });

  it("close-transport over polling: the pending GET gets the close packet 1", T, async () => {
    const s = await V4Session.open({ path: SIO_PATH });
    await s.send("40");
    await s.recv();
    const pending = s.startGet();
    await sleep(50);
    await s.send('42["close-transport"]');
    const res = await pending.promise;
    assert.ok(res.text.split(RS).includes("1"), `GET body ${JSON.stringify(res.text)}`);
    const after = await s.get();
    assert.equal(after.status, 400);
  });

  it("reasons: client 41, client closes the WebSocket, no pongs (ping timeout)", T, async (t) => {
    const add = cleanup(t);
    const bystander = await RawWs.open(add);
    await bystander.connect();
    const a = await RawWs.open(add);
    const ida = await a.connect();
    a.send("41");
    assert.deepEqual(await reasonOf(bystander, "/", ida), { reason: "client namespace disconnect", rooms: [] });
    const b = await RawWs.open(add);
    const idb = await b.connect();
    b.ws.ws.close();
    assert.deepEqual(await reasonOf(bystander, "/", idb), { reason: "transport close", rooms: [] });
    const c = await RawWs.open(add, { autoPong: false });
    c.send("40");
    const idc = JSON.parse((await c.until((f) => f.data.startsWith("40"))).data.slice(2)).sid;
    const started = Date.now();
    const closed = await c.waitClose(2000);
    assert.ok(closed.at - started <= 900, `closed ${closed.at - started} ms after CONNECT`);
    assert.deepEqual(await reasonOf(bystander, "/", idc), { reason: "ping timeout", rooms: [] });
  });
});

// -------------------------------------------------------------------------------------------------

/**
 * EIO=3 polling helpers: every POST starts with a ping `2` (in v3 the client pings; without it
 * the session would expire after pingInterval + pingTimeout = 500 ms), and `recv` GETs until a
 * payload holds something other than the pong `3`.
 */
function v3Polling(s) {
  return {
    send: (packets) => s.send(encodeV3(["2", ...packets])),
    async recv() {
      for (;;) {
        const res = await s.get();
        assert.equal(res.status, 200, `GET → ${res.status} ${res.text}`);
        const packets = decodeV3(res.text).filter((p) => p !== "3");
        if (packets.length) return packets;
      }
    },
  };
}

describe("raw Socket.IO v4 protocol (EIO=3 clients)", { concurrency: true }, () => {
  it("polling: handshake, then the first GET is exactly 2:4013:42[\"auth\",{}]", T, async () => {
    for (const extra of ["", "&b64=1"]) {
      const s = await V4Session.open({ path: SIO_PATH, eio: 3, extra });
      const res = await s.get();
      assert.equal(res.status, 200);
      assert.equal(res.text, '2:4013:42["auth",{}]');
      await s.send(encodeV3(["1"]));
    }
  });

  it("polling: /custom?x=1&y=two → 40/custom, + auth from the query; errors; acks per namespace", T, async () => {
    const s = await V4Session.open({ path: SIO_PATH, eio: 3, extra: "&b64=1" });
    await s.get();
    const { send, recv } = v3Polling(s);
    await send(["40/custom?x=1&y=two,"]);
    assert.deepEqual(await recv(), ["40/custom,", '42/custom,["auth",{"x":"1","y":"two"}]']);
    await send(["40/nope,"]);
    assert.deepEqual(await recv(), ['44/nope,{"message":"Invalid namespace"}']);
    await send(["40/restricted,"]);
    assert.deepEqual(await recv(), ['44/restricted,{"code":4001,"hint":"send auth.token"}']);
    await send(["40/restricted?token=let-me-in,"]);
    assert.deepEqual(await recv(), ["40/restricted,", '42/restricted,["auth",{"token":"let-me-in"}]']);
    await send(['421["message-with-ack",1]', '42/custom,2["message-with-ack",2]']);
    let got = await recv();
    if (got.length < 2) got = got.concat(await recv());
    assert.deepEqual(got, ["431[1]", "43/custom,2[2]"]);
    // v3 socket ids: / = the Engine.IO sid, others <nsp>#<sid>
    await send(['423["namespace-sockets"]']);
    assert.ok(JSON.parse((await recv())[0].slice(3))[0].includes(s.sid));
    await send(['42/custom,4["namespace-sockets"]']);
    assert.ok(JSON.parse((await recv())[0].slice("43/custom,4".length))[0].includes(`/custom#${s.sid}`));
    await s.send(encodeV3(["1"]));
  });

  it("polling b64=1: binary attachments as b4<base64>, both ways", T, async () => {
    const s = await V4Session.open({ path: SIO_PATH, eio: 3, extra: "&b64=1" });
    await s.get();
    const { send, recv } = v3Polling(s);
    await send(['451-["message",{"_placeholder":true,"num":0}]', "b4AQID"]);
    assert.deepEqual(await recv(), ['451-["message-back",{"_placeholder":true,"num":0}]', "b4AQID"]);
    await s.send(encodeV3(["1"]));
  });

  it("websocket: 40 and the auth event as frames; binary frames carry the 0x04 type byte", T, async (t) => {
    const add = cleanup(t);
    const c = await RawWs.open(add, { eio: 3 });
    assert.equal(await c.next(), "40");
    assert.equal(await c.next(), '42["auth",{}]');
    c.send('451-["message",{"_placeholder":true,"num":0}]', Buffer.from([4, 9, 8]));
    assert.equal(await c.next(), '451-["message-back",{"_placeholder":true,"num":0}]');
    const f = await c.nextFrame();
    assert.equal(f.binary, true);
    assert.equal(f.data.toString("hex"), "040908");
    c.send("40/custom?x=1&y=two,");
    assert.equal(await c.next(), "40/custom,");
    assert.equal(await c.next(), '42/custom,["auth",{"x":"1","y":"two"}]');
    c.send('42/custom,7["get-handshake"]');
    const hs = JSON.parse((await c.next()).slice("43/custom,7".length))[0];
    assert.deepEqual(hs.auth, { x: "1", y: "two" });
    assert.equal(hs.query.EIO, "3");
  });
});
