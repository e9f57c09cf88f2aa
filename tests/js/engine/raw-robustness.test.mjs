// Raw protocol: hostile / broken traffic. After each case the server must still answer a fresh
// handshake and an echo round trip.
// Spec: /work/shared/spec/conformance-server.md §5; engine-io.md §4 (maxHttpBufferSize).
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/engine/raw-robustness.test.mjs

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
  EIO_PATH,
  V4Session,
  openWs,
  openPacket,
  rawTcp,
  request,
  target,
  cleanup,
  sleep,
  withTimeout,
} from "../lib/raw.mjs";

const T = { timeout: 8000 };

/** The server still works: polling handshake + echo, and a WebSocket echo. */
async function assertAlive(t) {
  const s = await V4Session.open();
  await s.send("4alive");
  assert.deepEqual(await s.recv(), ["4alive"]);
  const add = cleanup(t);
  const ws = add(await openWs("EIO=4&transport=websocket", { autoPong: true }));
  assert.ok(ws.opened);
  const open = await ws.nextText();
  assert.equal(open, openPacket(JSON.parse(open.slice(1)).sid, []));
  ws.send("4ws-alive");
  assert.equal(await ws.nextText(), "4ws-alive");
  ws.close();
}

describe("raw robustness", () => {
  it("garbage bytes on a TCP connection", T, async (t) => {
    const add = cleanup(t);
    for (const garbage of [
      crypto.randomBytes(4096),
      Buffer.from("\x00\x01\x02\xff\r\n\r\n"),
      Buffer.from("GARBAGE / HTTP/9.9\r\n\r\n"),
      Buffer.from("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
      Buffer.from("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nBad Header Line\r\n\r\n"),
    ]) {
      const c = add(await rawTcp());
      c.sock.write(garbage);
      await withTimeout(c.ended, 3000, "server closes a garbage connection").catch(() => {});
      const got = c.received().toString("latin1");
      if (got.length) assert.match(got, /^HTTP\/1\.[01] 4\d\d /, "garbage gets a 4xx (or nothing)");
      c.sock.destroy();
    }
    await assertAlive(t);
  });

  it("random bytes as WebSocket frames on an open session", T, async (t) => {
    const add = cleanup(t);
    for (let i = 0; i < 3; i++) {
      const ws = add(await openWs("EIO=4&transport=websocket"));
      assert.ok(ws.opened);
      await ws.nextText();
      ws.ws._socket.write(crypto.randomBytes(2048));
      await ws.waitClose(3000).catch(() => ws.close());
    }
    await assertAlive(t);
  });

  it("5 MB POST body → 413, session still usable", { timeout: 15000 }, async (t) => {
    const s = await V4Session.open();
    const res = await s.post(Buffer.alloc(5 * 1024 * 1024, 0x61), { timeout: 10000 }).catch((e) => e);
    if (!(res instanceof Error)) assert.equal(res.status, 413);
    await s.send("4after-5mb");
    const got = await s.recv();
    assert.deepEqual(got, ["4after-5mb"]);
    await assertAlive(t);
  });

  it("5 MB chunked POST body (no Content-Length) → 413", { timeout: 15000 }, async (t) => {
    const s = await V4Session.open();
    const res = await request({
      method: "POST",
      path: target(s.query()),
      headers: { "Content-Type": "text/plain;charset=UTF-8", "Transfer-Encoding": "chunked" },
      body: "4" + "b".repeat(5 * 1024 * 1024),
      timeout: 10000,
    }).catch((e) => e);
    if (!(res instanceof Error)) assert.equal(res.status, 413);
    await assertAlive(t);
  });

  it("5 MB WebSocket frame → closed (1009)", { timeout: 15000 }, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs("EIO=4&transport=websocket"));
    await ws.nextText();
    ws.send(Buffer.alloc(5 * 1024 * 1024));
    const { code } = await ws.waitClose(8000);
    assert.equal(code, 1009);
    await assertAlive(t);
  });

  it("30 connections with half-sent headers do not block the server", T, async (t) => {
    const add = cleanup(t);
    const half = [];
    for (let i = 0; i < 30; i++) {
      const c = add(await rawTcp());
      c.sock.write(`GET ${EIO_PATH}?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
      half.push(c);
    }
    await sleep(50);
    await assertAlive(t);
    // a half-sent POST body on a real session does not block it either
    const s = await V4Session.open();
    const slow = add(await rawTcp());
    slow.sock.write(
      `POST ${target(s.query())} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n4abc`,
    );
    await sleep(30);
    await assertAlive(t);
    for (const c of half) c.sock.destroy();
  });

  it("aborted POSTs do not hurt the server", T, async (t) => {
    for (let i = 0; i < 5; i++) {
      const s = await V4Session.open();
      const c = await rawTcp();
      c.sock.write(
        `POST ${target(s.query())} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n4partial`,
      );
      await sleep(10);
      c.sock.destroy();
    }
    await assertAlive(t);
  });

  it("100 abandoned polling sessions, 100 concurrent handshakes", { timeout: 10000 }, async (t) => {
    const opens = await Promise.all(Array.from({ length: 100 }, () => V4Session.open()));
    assert.equal(new Set(opens.map((s) => s.sid)).size, 100);
    await assertAlive(t);
  });

  it("WebSockets that stop reading do not block others", { timeout: 10000 }, async (t) => {
    const add = cleanup(t);
    for (let i = 0; i < 5; i++) {
      const ws = add(await openWs("EIO=4&transport=websocket"));
      await ws.nextText();
      ws.ws._socket.pause(); // stop reading: the echoes pile up on the server
      const chunk = "4" + "s".repeat(200_000);
      for (let j = 0; j < 10; j++) ws.send(chunk);
    }
    await sleep(50);
    await assertAlive(t);
  });

  it("200 rapid WebSocket connect/disconnect cycles", { timeout: 10000 }, async (t) => {
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const ws = await openWs("EIO=4&transport=websocket");
          if (ws.opened) await ws.nextText().catch(() => {});
          ws.close();
        }),
      );
    }
    await assertAlive(t);
  });

  it("HTTP pipelining of two handshakes on one connection", T, async (t) => {
    const add = cleanup(t);
    const c = add(await rawTcp());
    const req = `GET ${EIO_PATH}?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    c.sock.write(req + req.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    await withTimeout(c.ended, 3000, "pipelined responses");
    const text = c.received().toString("utf8");
    const opens = text.match(/0\{"sid":"[^"]+","upgrades":\["websocket"\],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}/g);
    assert.equal(opens?.length, 2, text);
  });
});
