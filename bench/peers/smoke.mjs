// Smoke check of one bench server (docs/benchmark-contract.md) on 127.0.0.1:PORT.
// Usage: node bench/peers/smoke.mjs [PORT [BURST]]   (PORT: default env PORT, else 3900;
//        BURST: broadcasts sent at once at the end, default 64 — below socketioxide's default
//        per-socket buffer of 128 packets, past which it drops packets)
// Speaks Engine.IO v4 / Socket.IO v5 over a raw WebSocket and asserts the exact frames.
// Exits 0 and prints "smoke ok" on success, 1 with the first mismatch otherwise.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const WebSocket = require("../../tests/js/node_modules/ws");

const port = Number.parseInt(process.argv[2] ?? process.env.PORT ?? "3900", 10);
const url = `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
const burst = Number.parseInt(process.argv[3] ?? "64", 10);
const QUIET_MS = 300;

class Client {
  constructor(name) {
    this.name = name;
    this.frames = [];
    this.waiters = [];
    this.closed = false;
  }

  async connect() {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on("message", (data, isBinary) => {
      if (isBinary) return this.push(`<binary ${data.length} bytes>`);
      const text = data.toString("utf8");
      if (text === "2") return this.ws.send("3"); // Engine.IO ping: answer, don't record.
      this.push(text);
    });
    this.ws.on("close", () => {
      this.closed = true;
      this.push(null);
    });
    await new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
    const open = await this.next();
    check(open.startsWith("0{"), `${this.name}: open packet, got ${show(open)}`);
    const handshake = JSON.parse(open.slice(1));
    check(typeof handshake.sid === "string" && handshake.sid.length > 0, `${this.name}: sid in ${open}`);
    check(Number.isInteger(handshake.pingInterval), `${this.name}: pingInterval in ${open}`);
    check(Number.isInteger(handshake.pingTimeout), `${this.name}: pingTimeout in ${open}`);
    check(Number.isInteger(handshake.maxPayload), `${this.name}: maxPayload in ${open}`);
    this.send("40");
    const connect = await this.next();
    check(/^40\{"sid":"[^"]+"\}$/.test(connect), `${this.name}: CONNECT reply, got ${show(connect)}`);
  }

  push(frame) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(frame);
    else this.frames.push(frame);
  }

  send(frame) {
    this.ws.send(frame);
  }

  next(timeoutMs = 3000) {
    if (this.frames.length > 0) return Promise.resolve(this.frames.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.name}: no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.waiters.push(waiter);
    });
  }

  async expect(frame, what) {
    const got = await this.next();
    check(got === frame, `${this.name}: ${what}: expected ${show(frame)}, got ${show(got)}`);
  }

  // Asserts nothing arrives for QUIET_MS.
  async expectNothing(what) {
    await sleep(QUIET_MS);
    check(this.frames.length === 0, `${this.name}: ${what}: unexpected ${this.frames.map(show).join(", ")}`);
  }

  close() {
    this.ws.terminate();
  }
}

function show(frame) {
  if (frame === null) return "<closed>";
  return frame.length > 200 ? JSON.stringify(frame.slice(0, 200) + "…") : JSON.stringify(frame);
}

function check(ok, message) {
  if (!ok) throw new Error(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const a = new Client("A");
  const b = new Client("B");
  const c = new Client("C");
  try {
    await a.connect();
    await b.connect();

    // join with an ack: 431["ok"].
    a.send('421["join","bench"]');
    await a.expect('431["ok"]', "join ack");

    // broadcast from a non-member: every member gets 42["msg",PAYLOAD], the emitter nothing.
    // `t` stays below 2^53: Node re-encodes JSON numbers as doubles (an epoch in ns would come
    // back rounded), so a load generator must send ns relative to its own start.
    const payload = `{"t":123456789012345,"s":7,"p":"${"x".repeat(60)}"}`;
    b.send(`42["broadcast",${payload}]`);
    await a.expect(`42["msg",${payload}]`, "broadcast delivery");

    // echo with one- and multi-digit ack ids: 43<id>[PAYLOAD].
    const echo = `{"p":"${"y".repeat(40)}"}`;
    b.send(`420["echo",${echo}]`);
    await b.expect(`430[${echo}]`, "echo ack id 0");
    b.send(`42123456["echo",${echo}]`);
    await b.expect(`43123456[${echo}]`, "echo ack id 123456");

    // join without an ack: no reply; then C is a member too.
    await c.connect();
    c.send('42["join","bench"]');
    await c.expectNothing("join without ack");
    const payload2 = `{"t":2,"s":8,"p":"${"z".repeat(100)}"}`;
    b.send(`42["broadcast",${payload2}]`);
    await a.expect(`42["msg",${payload2}]`, "broadcast delivery 2");
    await c.expect(`42["msg",${payload2}]`, "broadcast delivery 2");

    // A member broadcasting gets its own msg too (io.to, not socket.to).
    a.send(`42["broadcast",${payload}]`);
    await a.expect(`42["msg",${payload}]`, "broadcast from a member, to itself");
    await c.expect(`42["msg",${payload}]`, "broadcast from a member");

    // Many in flight, in order for each member.
    const n = burst;
    for (let s = 0; s < n; s++) b.send(`42["broadcast",{"t":${s},"s":${s},"p":"x"}]`);
    for (const client of [a, c]) {
      const got = [];
      for (let s = 0; s < n; s++) {
        try {
          got.push(await client.next());
        } catch (err) {
          throw new Error(`${err.message} (burst of ${n}: got ${s})`);
        }
      }
      const want = new Set(Array.from({ length: n }, (_, s) => `42["msg",{"t":${s},"s":${s},"p":"x"}]`));
      for (const frame of got) {
        check(want.delete(frame), `${client.name}: burst: unexpected or duplicate ${show(frame)}`);
      }
    }

    await Promise.all([a, b, c].map((client) => client.expectNothing("end")));
    console.log(`smoke ok: 127.0.0.1:${port}`);
  } finally {
    for (const client of [a, b, c]) if (client.ws) client.close();
  }
}

main().catch((err) => {
  console.error(`smoke FAILED on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
