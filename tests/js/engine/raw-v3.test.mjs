// Raw protocol: EIO=3 (legacy) polling, XHR2 binary, JSONP and WebSocket on the /engine.io/ echo
// endpoint.
// Spec: /work/shared/spec/conformance-server.md §2.4, §2.5, §2.6; engine-io.md §5, §6, §7, §9.
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/engine/raw-v3.test.mjs

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ERR,
  PING_INTERVAL,
  PING_TIMEOUT,
  V4Session,
  assertError,
  cleanup,
  decodeV3,
  encodeV3,
  handshake,
  openWs,
  openPacket,
  assertWsRefused,
  sleep,
} from "../lib/raw.mjs";

const T = { timeout: 5000 };

/** A v3 polling session (optionally b64=1 or JSONP via `extra`). */
async function v3(extra = "") {
  const hs = await handshake({ eio: 3, extra });
  const s = new V4Session(hs.sid, { eio: 3, extra });
  s.handshake = hs;
  return s;
}

function assertText(res) {
  assert.equal(res.status, 200);
  assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
  assert.equal(res.headers["content-length"], String(res.body.length));
}

describe("raw v3 polling: text payloads", () => {
  it("handshake: `<len>:0{...}` with the exact open packet", T, async () => {
    const s = await v3();
    const res = s.handshake.res;
    assertText(res);
    const body = s.handshake.body;
    const open = JSON.parse(body.slice(1));
    assert.deepEqual(Object.keys(open).slice(0, 4), ["sid", "upgrades", "pingInterval", "pingTimeout"]);
    const expected = "maxPayload" in open ? openPacket(s.sid, ["websocket"]) : body;
    assert.equal(body, expected);
    assert.equal(res.text, `${body.length}:${body}`);
  });

  it("echo with UTF-16 lengths: `4😀é日` has length 5", T, async () => {
    const s = await v3();
    await s.send("5:4😀é日");
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, "5:4😀é日");
  });

  it("several packets in one POST, lengths in UTF-16 code units", T, async () => {
    const s = await v3();
    const msgs = ["4hello", "4wörld", "4w😀ld", "4", "4a\u2028b\u2029", "4𝄞𝄞"];
    await s.send(encodeV3(msgs));
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, encodeV3(msgs));
    assert.equal(res.text, "6:4hello6:4wörld6:4w😀ld1:45:4a\u2028b\u20295:4𝄞𝄞");
  });

  for (const bad of ["9:4abc", "3:4abc", "x:4a", "2:4a5", ":4", "4abc", "5:4😀é"]) {
    it(`wrong framing ${JSON.stringify(bad)} closes the session`, T, async () => {
      const s = await v3();
      try {
        await s.post(bad);
      } catch {
        // a dropped connection is allowed
      }
      let res = await s.get();
      if (res.status === 200) {
        assert.equal(res.text, "1:1");
        res = await s.get();
      }
      assertError(assert, res, 1, ERR[1]);
    });
  }

  it("client ping `1:2` → `1:3`", T, async () => {
    const s = await v3();
    await s.send("1:2");
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, "1:3");
  });

  it("the server never pings a v3 client; pings keep the session alive", { timeout: 6000 }, async () => {
    const s = await v3();
    for (let i = 0; i < 5; i++) {
      await sleep(PING_INTERVAL - 50);
      await s.send("1:2");
      assert.equal((await s.get()).text, "1:3");
    }
    await s.send("7:4alive?");
    assert.equal((await s.get()).text, "7:4alive?");
  });

  it("no client ping for pingInterval+pingTimeout: pending GET gets `1:1`, session closed", T, async () => {
    const s = await v3();
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, "1:1");
    // the GET starts right after the handshake: its duration ≈ time since open
    assert.ok(res.elapsed >= PING_INTERVAL + PING_TIMEOUT - 150, `closed after ${res.elapsed} ms`);
    assert.ok(res.elapsed < PING_INTERVAL + PING_TIMEOUT + 500, `closed after ${res.elapsed} ms`);
    assertError(assert, await s.get(), 1, ERR[1]);
  });

  it("a pong `3` from a v3 client is a protocol violation: session closed", T, async () => {
    const s = await v3();
    await s.post("1:3").catch(() => {});
    await sleep(20);
    let res = await s.get();
    if (res.status === 200) {
      assert.equal(res.text, "1:1");
      res = await s.get();
    }
    assertError(assert, res, 1, ERR[1]);
  });

  it("close `1:1` in a POST: pending GET gets `1:6`, session ends", T, async (t) => {
    const add = cleanup(t);
    const s = await v3();
    const pending = add(s.startGet());
    await sleep(50);
    const post = await s.post("1:1");
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const res = await pending.promise;
    assert.equal(res.status, 200);
    assert.equal(res.text, "1:6");
    assertError(assert, await s.get(), 1, ERR[1]);
  });
});

describe("raw v3 polling: binary", () => {
  it("b64=1: binary both ways as `b4<base64>`, length covers `b4`", T, async () => {
    const s = await v3("&b64=1");
    await s.send("10:b4AQIDBA==6:4hello");
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, "10:b4AQIDBA==6:4hello");
  });

  it("without b64: binary answer in XHR2 framing (exact spec bytes)", T, async () => {
    const s = await v3();
    await s.send("6:4hello10:b4AQIDBA==");
    const res = await s.get();
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/octet-stream");
    assert.equal(res.headers["content-length"], String(res.body.length));
    assert.equal(
      res.body.toString("hex"),
      "0006ff3468656c6c6f0105ff0401020304",
    );
  });

  it("without b64: text-only answers stay text", T, async () => {
    const s = await v3();
    await s.send("6:4hello");
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, "6:4hello");
  });

  it("XHR2 binary POST (octet-stream) is accepted on v3", T, async () => {
    const s = await v3();
    const body = Buffer.from("0006ff3468656c6c6f0105ff0401020304", "hex");
    const post = await s.post(body, { contentType: "application/octet-stream" });
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const res = await s.get();
    assert.equal(res.headers["content-type"], "application/octet-stream");
    assert.equal(res.body.toString("hex"), "0006ff3468656c6c6f0105ff0401020304");
  });

  it("XHR2 framing with multi-digit lengths", T, async () => {
    const s = await v3();
    const data = Buffer.alloc(300, 0xab);
    // binary packet of 301 bytes (type byte + data): length digits 3 0 1
    const body = Buffer.concat([Buffer.from([0x01, 3, 0, 1, 0xff, 0x04]), data]);
    await s.send(body, { contentType: "application/octet-stream" });
    const res = await s.get();
    assert.equal(res.headers["content-type"], "application/octet-stream");
    assert.deepEqual(res.body, body);
  });

  it("b64=1 session: XHR2 binary POST is echoed as base64 text", T, async () => {
    const s = await v3("&b64=1");
    await s.send(Buffer.from("0105ff0401020304", "hex"), { contentType: "application/octet-stream" });
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, "10:b4AQIDBA==");
  });
});

describe("raw v3 JSONP polling", () => {
  it("handshake: `___eio[0](\"<payload>\");`", T, async () => {
    const res = (await handshake({ eio: 3, extra: "&j=0" })).res;
    assertText(res);
    const m = /^___eio\[0\]\((".*")\);$/s.exec(res.text);
    assert.ok(m, res.text);
    const payload = JSON.parse(m[1]);
    const [pkt] = decodeV3(payload);
    assert.equal(res.text, `___eio[0](${JSON.stringify(`${pkt.length}:${pkt}`)});`);
  });

  it("the index keeps only the digits of j", T, async () => {
    const res = (await handshake({ eio: 3, extra: "&j=a1b2" })).res;
    assert.match(res.text, /^___eio\[12\]\("/);
  });

  it("form-encoded POST `d=` is echoed as a JSONP call", T, async () => {
    const s = await v3("&j=0&b64=1");
    const post = await s.post("d=" + encodeURIComponent("6:4hello5:4😀é日"), {
      contentType: "application/x-www-form-urlencoded",
    });
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const res = await s.get();
    assertText(res);
    assert.equal(res.text, `___eio[0]("6:4hello5:4😀é日");`);
  });

  it("U+2028/U+2029 are escaped in the JSONP answer", T, async () => {
    const s = await v3("&j=3&b64=1");
    await s.send("d=" + encodeURIComponent("5:4a\u2028b\u2029"), {
      contentType: "application/x-www-form-urlencoded",
    });
    const res = await s.get();
    assert.equal(res.text, '___eio[3]("5:4a\\u2028b\\u2029");');
  });

  it("escaped newlines in `d` are unescaped (\\\\n → newline)", T, async () => {
    const s = await v3("&j=0&b64=1");
    // the JSONP client sends a newline as the two characters `\n`
    await s.send("d=" + encodeURIComponent("4:4a\\nb"), {
      contentType: "application/x-www-form-urlencoded",
    });
    const res = await s.get();
    assert.equal(res.text, '___eio[0]("4:4a\\nb");');
  });

  it("JSONP binary with b64=1: `b4<base64>` inside the call", T, async () => {
    const s = await v3("&j=0&b64=1");
    await s.send("d=" + encodeURIComponent("10:b4AQIDBA=="), {
      contentType: "application/x-www-form-urlencoded",
    });
    const res = await s.get();
    assert.equal(res.text, '___eio[0]("10:b4AQIDBA==");');
  });

  it("JSONP ping `1:2` → `1:3`, close `1:1` ends the session", T, async () => {
    const s = await v3("&j=0&b64=1");
    await s.send("d=1%3A2", { contentType: "application/x-www-form-urlencoded" });
    assert.equal((await s.get()).text, '___eio[0]("1:3");');
    await s.send("d=1%3A1", { contentType: "application/x-www-form-urlencoded" });
    assertError(assert, await s.get(), 1, ERR[1]);
  });
});

describe("raw v3 websocket", () => {
  async function v3ws(add, extra = "") {
    const ws = add(await openWs(`EIO=3&transport=websocket${extra}`));
    assert.ok(ws.opened, `refused (${ws.status})`);
    const text = await ws.nextText();
    const open = JSON.parse(text.slice(1));
    assert.equal(text, "maxPayload" in open ? openPacket(open.sid, []) : text);
    assert.deepEqual(open.upgrades, []);
    return { ws, sid: open.sid };
  }

  it("open packet first, text echo, UTF-8", T, async (t) => {
    const { ws } = await v3ws(cleanup(t));
    ws.send("4hello");
    ws.send("4😀é日");
    assert.deepEqual(await ws.next(), { data: "4hello", binary: false });
    assert.deepEqual(await ws.next(), { data: "4😀é日", binary: false });
  });

  it("binary frames carry the 0x04 type byte both ways", T, async (t) => {
    const { ws } = await v3ws(cleanup(t));
    ws.send(Buffer.from([0x04, 0x01, 0x02, 0x03]));
    const f = await ws.next();
    assert.equal(f.binary, true);
    assert.equal(f.data.toString("hex"), "04010203");
    ws.send(Buffer.from([0x04, 0xde, 0xad]));
    assert.equal((await ws.next()).data.toString("hex"), "04dead");
  });

  it("b64=1 on websocket: binary comes back as text `b4<base64>`", T, async (t) => {
    const { ws } = await v3ws(cleanup(t), "&b64=1");
    ws.send(Buffer.from([0x04, 0x01, 0x02, 0x03, 0x04]));
    assert.deepEqual(await ws.next(), { data: "b4AQIDBA==", binary: false });
  });

  it("client ping `2` → `3`; `2probe` on an open socket → `3`", T, async (t) => {
    const { ws } = await v3ws(cleanup(t));
    ws.send("2");
    assert.equal(await ws.nextText(), "3");
    ws.send("2probe");
    assert.equal(await ws.nextText(), "3");
  });

  it("no client ping: closed after pingInterval+pingTimeout", T, async (t) => {
    const { ws } = await v3ws(cleanup(t));
    const t0 = Date.now();
    const { at } = await ws.waitClose(2000);
    assert.ok(at - t0 >= PING_INTERVAL + PING_TIMEOUT - 100, `closed after ${at - t0} ms`);
    assert.deepEqual(ws.frames.length, 1, "no server ping on v3");
  });

  it("pings keep the v3 websocket alive", { timeout: 6000 }, async (t) => {
    const { ws } = await v3ws(cleanup(t));
    for (let i = 0; i < 4; i++) {
      await sleep(PING_INTERVAL - 50);
      ws.send("2");
      assert.equal(await ws.nextText(), "3");
    }
    ws.send("4ok");
    assert.equal(await ws.nextText(), "4ok");
  });
});

describe("raw v3 upgrade polling → websocket", () => {
  it("2probe/3probe, pending GET `1:6`, 5, then WS; polling refused with code 3", T, async (t) => {
    const add = cleanup(t);
    const s = await v3();
    await s.send("7:4queued");
    const ws = add(await openWs(`EIO=3&transport=websocket&sid=${s.sid}`));
    assert.ok(ws.opened);
    ws.send("2probe");
    assert.equal(await ws.nextText(), "3probe");
    assert.equal((await s.get()).text, "7:4queued");
    const noop = await s.get();
    assert.equal(noop.text, "1:6");
    ws.send("5");
    ws.send("4on-ws");
    ws.send(Buffer.from([0x04, 0x05]));
    assert.equal(await ws.nextText(), "4on-ws");
    assert.equal((await ws.next()).data.toString("hex"), "0405");
    ws.send("2");
    assert.equal(await ws.nextText(), "3");
    assertError(assert, await s.get(), 3, ERR[3]);
    assertError(assert, await s.post("6:4hello"), 3, ERR[3]);
    // a second websocket with the same sid is accepted (101), then closed, as engine.io
    const ws2 = add(await openWs(`EIO=3&transport=websocket&sid=${s.sid}`));
    assert.ok(ws2.opened, `second websocket answered ${ws2.status}, not 101`);
    ws2.send("2probe");
    await assertWsRefused(assert, ws2);
  });

  it("EIO=4 websocket with an EIO=3 sid is refused", T, async (t) => {
    const add = cleanup(t);
    const s = await v3();
    const ws = add(await openWs(`EIO=4&transport=websocket&sid=${s.sid}`));
    if (ws.opened) ws.send("2probe");
    await assertWsRefused(assert, ws, { expectStatus: 400 });
  });
});
