// Raw protocol: EIO=4 WebSocket transport and the polling → WebSocket upgrade, on the
// /engine.io/ echo endpoint.
// Spec: /work/shared/spec/conformance-server.md §2.3–§2.5; engine-io.md §5, §6, §7.
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/engine/raw-websocket.test.mjs

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  RS,
  ERR,
  MAX_PAYLOAD,
  PING_INTERVAL,
  PING_TIMEOUT,
  V4Session,
  openWs,
  openPacket,
  assertError,
  assertWsRefused,
  cleanup,
  sleep,
} from "../lib/raw.mjs";

const T = { timeout: 5000 };
const WS = "EIO=4&transport=websocket";

/** Opens a direct WebSocket session; returns `{ ws, sid }` after checking the open frame. */
async function wsSession(add, opts = {}) {
  const ws = add(await openWs(WS, { autoPong: true, ...opts }));
  assert.ok(ws.opened, `websocket refused (${ws.status})`);
  const text = await ws.nextText();
  const sid = JSON.parse(text.slice(1)).sid;
  assert.equal(text, openPacket(sid, []));
  return { ws, sid };
}

describe("raw websocket v4", () => {
  it("first frame is the open packet (text) with upgrades []", T, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs(WS));
    assert.ok(ws.opened);
    const f = await ws.next();
    assert.equal(f.binary, false);
    const open = JSON.parse(f.data.slice(1));
    assert.deepEqual(Object.keys(open), ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]);
    assert.equal(f.data, openPacket(open.sid, []));
    assert.equal(open.sid.length, 20);
  });

  it("extra query params ignored, any order", T, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs("transport=websocket&foo=bar&EIO=4&t=xyz&b64=1"));
    assert.ok(ws.opened);
    const text = await ws.nextText();
    assert.equal(text, openPacket(JSON.parse(text.slice(1)).sid, []));
  });

  it("text echo, one packet per frame, UTF-8 unchanged", T, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    const msgs = ["4hello", "4", "4😀é日", "4a\u2028b\u2029c", `4with${RS}separator`];
    for (const m of msgs) ws.send(m);
    for (const m of msgs) {
      const f = await ws.next();
      assert.equal(f.binary, false);
      assert.equal(f.data, m);
    }
  });

  it("binary echo as a raw binary frame (no type byte)", T, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    const bytes = Buffer.from([0x01, 0x02, 0x03, 0x04]);
    ws.send(bytes);
    const f = await ws.next();
    assert.equal(f.binary, true);
    assert.deepEqual(f.data, bytes);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    ws.send(all);
    const g = await ws.next();
    assert.equal(g.binary, true);
    assert.deepEqual(g.data, all);
    ws.send(Buffer.alloc(0));
    const h = await ws.next();
    assert.equal(h.binary, true);
    assert.equal(h.data.length, 0);
  });

  it("a text frame `b...` is a text message, not base64 binary", T, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    ws.send("4bAQID");
    assert.deepEqual(await ws.next(), { data: "4bAQID", binary: false });
  });

  it("server pings `2` every pingInterval; with pongs the socket stays open", { timeout: 6000 }, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs(WS));
    const open = await ws.nextText();
    const t0 = Date.now();
    assert.equal(open[0], "0");
    let last = t0;
    for (let i = 0; i < 4; i++) {
      const f = await ws.nextText(1000);
      assert.equal(f, "2");
      const now = Date.now();
      assert.ok(now - last >= PING_INTERVAL - 80 && now - last < PING_INTERVAL + 300, `interval ${now - last}`);
      last = now;
      ws.send("3");
    }
    ws.send("4alive");
    assert.equal(await ws.nextText(), "4alive");
    assert.equal(ws.isClosed, false);
  });

  it("no pong: closed ≈ pingInterval + pingTimeout after open", T, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs(WS));
    await ws.nextText();
    const t0 = Date.now();
    assert.equal(await ws.nextText(1000), "2");
    const { at } = await ws.waitClose(2000);
    const dt = at - t0;
    assert.ok(dt >= PING_INTERVAL + PING_TIMEOUT - 100, `closed after ${dt} ms`);
    assert.ok(dt < PING_INTERVAL + PING_TIMEOUT + 500, `closed after ${dt} ms`);
  });

  it("unexpected pong right after open is ignored", T, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    ws.send("3");
    ws.send("4x");
    assert.equal(await ws.nextText(), "4x");
  });

  it("a text message of exactly maxPayload bytes is echoed", { timeout: 10000 }, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    const msg = "4" + "a".repeat(MAX_PAYLOAD - 1);
    ws.send(msg);
    const got = await ws.nextText(5000);
    assert.equal(got.length, msg.length);
    assert.ok(got === msg);
  });

  it("a text message over maxPayload closes with 1009", { timeout: 10000 }, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    ws.send("4" + "a".repeat(MAX_PAYLOAD));
    const { code } = await ws.waitClose(5000);
    assert.equal(code, 1009);
  });

  it("a binary message over maxPayload closes with 1009", { timeout: 10000 }, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    ws.send(Buffer.alloc(MAX_PAYLOAD + 1, 7));
    const { code } = await ws.waitClose(5000);
    assert.equal(code, 1009);
  });

  for (const bad of ["abc", "9abc", "x", ""]) {
    it(`invalid packet ${JSON.stringify(bad)} closes the connection`, T, async (t) => {
      const add = cleanup(t);
      const { ws } = await wsSession(add);
      ws.send(bad);
      ws.send("4after");
      await ws.waitClose(1500);
      assert.ok(!ws.frames.some((f) => f.data === "4after"), "nothing processed after the bad packet");
    });
  }

  it("a ping `2` from a v4 client closes the connection", T, async (t) => {
    const add = cleanup(t);
    const { ws } = await wsSession(add);
    ws.send("2");
    await ws.waitClose(1500);
  });

  it("the client closing the socket ends the session", T, async (t) => {
    const add = cleanup(t);
    const { ws, sid } = await wsSession(add);
    ws.ws.close();
    await ws.waitClose(1500);
    await sleep(50);
    assertError(
      assert,
      await new V4Session(sid).get(),
      1,
      ERR[1],
    );
  });
});

describe("raw upgrade polling → websocket (v4)", () => {
  it("full sequence: 2probe/3probe, queued packets to polling, 6, 5, then all on WS", { timeout: 6000 }, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    await s.send(`4queued-1${RS}4queued-2`); // echoes wait in the buffer (no GET pending)

    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`, { autoPong: true }));
    assert.ok(ws.opened, `upgrade refused (${ws.status})`);
    ws.send("2probe");
    assert.deepEqual(await ws.next(), { data: "3probe", binary: false });
    assert.equal(ws.frames.length, 1, "no open packet on the probe socket");

    // buffered packets are flushed to polling first …
    const got = [];
    let sawNoop = false;
    for (let i = 0; i < 4 && !sawNoop; i++) {
      const res = await s.get();
      assert.equal(res.status, 200);
      for (const p of res.text.split(RS)) {
        if (p === "6") sawNoop = true;
        else if (p === "2") continue; // a ping may slip in on slow machines
        else got.push(p);
      }
    }
    assert.deepEqual(got, ["4queued-1", "4queued-2"]);
    assert.ok(sawNoop, "a polling GET is released with the noop 6");

    ws.send("5");
    await sleep(30);
    ws.send("4over-ws");
    ws.send(Buffer.from([9, 8, 7]));
    assert.deepEqual(await ws.next(), { data: "4over-ws", binary: false });
    assert.deepEqual(await ws.next(), { data: Buffer.from([9, 8, 7]), binary: true });

    // polling is gone for this sid
    assertError(assert, await s.get(), 3, ERR[3]);
    assertError(assert, await s.post("4x"), 3, ERR[3]);

    // a second websocket with the same sid is accepted (101), then closed, as engine.io
    const ws2 = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`));
    assert.ok(ws2.opened, `second websocket answered ${ws2.status}, not 101`);
    ws2.send("2probe");
    await assertWsRefused(assert, ws2);

    // the first keeps working, heartbeat included (pings answered by autoPong)
    await sleep(PING_INTERVAL + PING_TIMEOUT);
    ws.send("4still");
    assert.equal(await ws.nextText(), "4still");
    assert.ok(ws.frames.some((f) => f.data === "2"), "pings arrive on the websocket after the upgrade");
  });

  it("a GET pending during the probe is released with `6`", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const pending = add(s.startGet());
    await sleep(30);
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`, { autoPong: true }));
    assert.ok(ws.opened);
    ws.send("2probe");
    assert.equal(await ws.nextText(), "3probe");
    const res = await pending.promise;
    assert.equal(res.status, 200);
    assert.equal(res.text, "6");
    assert.ok(res.elapsed < PING_INTERVAL + 100, `released after ${res.elapsed} ms`);
    ws.send("5");
    ws.send("4done");
    assert.equal(await ws.nextText(), "4done");
  });

  it("messages POSTed during the probe are echoed to polling; after `5` on WS", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`, { autoPong: true }));
    ws.send("2probe");
    assert.equal(await ws.nextText(), "3probe");
    await s.send("4during");
    const res = await s.get();
    assert.deepEqual(res.text.split(RS).filter((p) => p !== "2" && p !== "6"), ["4during"]);
    ws.send("5");
    await s.send("4late-post").catch(() => {}); // refused after the upgrade (400 code 3)
    ws.send("4after");
    assert.equal(await ws.nextText(), "4after");
  });

  it("upgrade with an unknown sid is refused", T, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs("EIO=4&transport=websocket&sid=unknown-sid-00000000"));
    if (ws.opened) ws.send("2probe");
    await assertWsRefused(assert, ws, { expectStatus: 400 });
    if (ws.body !== undefined) assert.equal(ws.body, "Session ID unknown");
  });

  it("upgrade with the sid of a closed session is refused", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    await s.send("1");
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`));
    if (ws.opened) ws.send("2probe");
    await assertWsRefused(assert, ws, { expectStatus: 400 });
  });

  it("a first packet other than 2probe aborts the upgrade; polling continues", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`));
    assert.ok(ws.opened);
    ws.send("4not-a-probe");
    await ws.waitClose(1500);
    assert.deepEqual(ws.frames, []);
    await s.send("4polling-ok");
    assert.deepEqual(await s.recv(), ["4polling-ok"]);
  });

  it("a second probe websocket while upgrading is accepted then closed; the first completes", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`, { autoPong: true }));
    ws.send("2probe");
    assert.equal(await ws.nextText(), "3probe");
    const ws2 = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`));
    assert.ok(ws2.opened, `second probe answered ${ws2.status}, not 101`);
    ws2.send("2probe");
    await assertWsRefused(assert, ws2);
    ws.send("5");
    ws.send("4first");
    assert.equal(await ws.nextText(), "4first");
  });

  it("upgrade to an EIO=3 websocket with an EIO=4 sid is refused", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const ws = add(await openWs(`EIO=3&transport=websocket&sid=${s.sid}`));
    if (ws.opened) ws.send("2probe");
    await assertWsRefused(assert, ws, { expectStatus: 400 });
  });

  it("no `5` within the probe: session stays on polling with heartbeat", { timeout: 6000 }, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`));
    ws.send("2probe");
    assert.equal(await ws.nextText(), "3probe");
    // keep polling for a while (pings answered); polling must keep working
    const end = Date.now() + PING_INTERVAL * 2 + PING_TIMEOUT;
    while (Date.now() < end) {
      const res = await s.get();
      assert.equal(res.status, 200);
      const ps = res.text.split(RS);
      for (const p of ps) assert.ok(["2", "6"].includes(p), p);
      if (ps.includes("2")) await s.send("3");
      else await sleep(20);
    }
    await s.send("4still-polling");
    assert.deepEqual((await s.recv()).filter((p) => p !== "6"), ["4still-polling"]);
  });
});
