// Raw protocol: EIO=4 HTTP long-polling on the /engine.io/ echo endpoint.
// Spec: /work/shared/spec/conformance-server.md §2.2, §2.4, §3; engine-io.md §4, §7, §8.
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/engine/raw-polling.test.mjs

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import {
  RS,
  ERR,
  MAX_PAYLOAD,
  PING_INTERVAL,
  PING_TIMEOUT,
  V4Session,
  assertError,
  cleanup,
  rawTcp,
  sleep,
  target,
} from "../lib/raw.mjs";

const T = { timeout: 5000 };

/** Drops ping packets from a received list (they may interleave when a test is slow). */
const noPings = (packets) => packets.filter((p) => p !== "2");

function assertGetHeaders(res) {
  assert.equal(res.status, 200);
  assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
  assert.equal(res.headers["content-length"], String(res.body.length));
  assert.equal(res.headers["cache-control"], "no-store");
}

describe("raw polling v4: POST / GET basics", () => {
  it("POST answers 200 `ok`, text/html, Content-Length 2", T, async () => {
    const s = await V4Session.open();
    const res = await s.post("4hello");
    assert.equal(res.status, 200);
    assert.equal(res.text, "ok");
    assert.equal(res.headers["content-type"], "text/html");
    assert.equal(res.headers["content-length"], "2");
    assert.equal(res.headers["cache-control"], "no-store");
    const get = await s.get();
    assertGetHeaders(get);
    assert.deepEqual(noPings(get.text.split(RS)), ["4hello"]);
  });

  it("payload framing: packets joined by \\x1e both ways, no trailing separator", T, async () => {
    const s = await V4Session.open();
    await s.send(["4a", "4b", "4", "4c d"].join(RS));
    const res = await s.get();
    assertGetHeaders(res);
    assert.ok(!res.text.endsWith(RS));
    assert.deepEqual(noPings(res.text.split(RS)), ["4a", "4b", "4", "4c d"]);
  });

  it("binary both ways as b<base64> (no type digit)", T, async () => {
    const s = await V4Session.open();
    await s.send(`bAQIDBA==${RS}4text${RS}b3q0=${RS}b`);
    const res = await s.get();
    assertGetHeaders(res);
    assert.deepEqual(noPings(res.text.split(RS)), ["bAQIDBA==", "4text", "b3q0=", "b"]);
  });

  it("binary with all byte values round-trips", T, async () => {
    const s = await V4Session.open();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await s.send("b" + bytes.toString("base64"));
    const [pkt] = await s.recv();
    assert.equal(pkt[0], "b");
    assert.deepEqual(Buffer.from(pkt.slice(1), "base64"), bytes);
    assert.equal(pkt, "b" + bytes.toString("base64"));
  });

  it("UTF-8 passes unchanged (astral, U+2028/U+2029, NUL, combining)", T, async () => {
    const s = await V4Session.open();
    const msgs = ["4😀é日", "4a\u2028b\u2029c", "4\u0000x", "4e\u0301🏳️‍🌈", "4𝄞".repeat(3)];
    await s.send(msgs.join(RS));
    const res = await s.get();
    assertGetHeaders(res);
    assert.deepEqual(noPings(res.text.split(RS)), msgs);
    assert.equal(res.headers["content-length"], String(Buffer.byteLength(res.text)));
  });

  it("POST without Content-Type is accepted", T, async () => {
    const s = await V4Session.open();
    const res = await s.post("4noct", { contentType: null });
    assert.equal(res.status, 200);
    assert.equal(res.text, "ok");
    assert.deepEqual(await s.recv(), ["4noct"]);
  });

  it("POST with Content-Type text/plain (no charset) is accepted", T, async () => {
    const s = await V4Session.open();
    const res = await s.post("4plain", { contentType: "text/plain" });
    assert.equal(res.status, 200);
    assert.deepEqual(await s.recv(), ["4plain"]);
  });

  it("unexpected pong right after the handshake is ignored", T, async () => {
    const s = await V4Session.open();
    await s.send("3");
    await s.send("4after-pong");
    assert.deepEqual(await s.recv(), ["4after-pong"]);
  });

  it("GET with nothing queued is held until the ping (~pingInterval)", T, async () => {
    const s = await V4Session.open();
    const res = await s.get();
    assertGetHeaders(res);
    assert.equal(res.text, "2");
    assert.ok(res.elapsed >= PING_INTERVAL - 80, `answered after ${res.elapsed} ms`);
    assert.ok(res.elapsed < PING_INTERVAL + 400, `answered after ${res.elapsed} ms`);
  });

  it("a pending GET is released by the echo of a later POST", T, async () => {
    const s = await V4Session.open();
    const pending = s.get();
    await sleep(50);
    await s.send("4wake");
    const res = await pending;
    assert.deepEqual(noPings(res.text.split(RS)), ["4wake"]);
    assert.ok(res.elapsed < PING_INTERVAL, `took ${res.elapsed} ms`);
  });

  it("large polling answers are gzip-compressed when asked (Accept-Encoding)", T, async () => {
    const s = await V4Session.open();
    const msg = "4" + "z".repeat(4000);
    await s.send(msg);
    const res = await s.get({ headers: { "Accept-Encoding": "gzip" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
    const text = zlib.gunzipSync(res.body).toString("utf8");
    assert.deepEqual(noPings(text.split(RS)), [msg]);
  });

  it("without Accept-Encoding a large answer is plain", T, async () => {
    const s = await V4Session.open();
    const msg = "4" + "y".repeat(4000);
    await s.send(msg);
    const res = await s.get();
    assert.equal(res.headers["content-encoding"], undefined);
    assert.deepEqual(noPings(res.text.split(RS)), [msg]);
  });
});

describe("raw polling v4: headers", () => {
  it("X-XSS-Protection: 0 for IE user agents (GET and POST)", T, async () => {
    const s = await V4Session.open();
    const headers = { "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko" };
    const post = await s.post("4ie", { headers });
    assert.equal(post.headers["x-xss-protection"], "0");
    const res = await s.get({ headers });
    assert.equal(res.headers["x-xss-protection"], "0");
    const plain = await s.post("4x");
    assert.equal(plain.headers["x-xss-protection"], undefined);
  });
});

describe("raw polling v4: maxPayload", () => {
  it("POST of exactly maxPayload bytes is accepted and echoed", { timeout: 10000 }, async () => {
    const s = await V4Session.open();
    const msg = "4" + "é".repeat((MAX_PAYLOAD - 2) / 2) + "a"; // multi-byte: counts bytes
    assert.equal(Buffer.byteLength(msg), MAX_PAYLOAD);
    const res = await s.post(msg);
    assert.equal(res.status, 200);
    assert.equal(res.text, "ok");
    const [got] = await s.recv();
    assert.equal(got.length, msg.length);
    assert.ok(got === msg);
  });

  it("POST of maxPayload+1 bytes → 413; the session stays open", { timeout: 10000 }, async () => {
    const s = await V4Session.open();
    const res = await s.post("4" + "x".repeat(MAX_PAYLOAD));
    assert.equal(res.status, 413);
    await s.send("4still-here");
    assert.deepEqual(await s.recv(), ["4still-here"]);
  });

  it("byte count, not char count: maxPayload/2+1 two-byte chars → 413", { timeout: 10000 }, async () => {
    const s = await V4Session.open();
    const res = await s.post("4" + "é".repeat(MAX_PAYLOAD / 2));
    assert.equal(res.status, 413);
    await s.send("4ok");
    assert.deepEqual(await s.recv(), ["4ok"]);
  });
});

describe("raw polling v4: session-closing requests", () => {
  it("octet-stream POST → 400 and the session is closed", T, async () => {
    const s = await V4Session.open();
    const res = await s.post("4hello", { contentType: "application/octet-stream" });
    assert.equal(res.status, 400);
    assertError(assert, await s.get(), 1, ERR[1]);
  });

  for (const bad of ["abc", `4ok${RS}abc`, "9x", "x"]) {
    it(`invalid packet ${JSON.stringify(bad)} in a POST closes the session`, T, async () => {
      const s = await V4Session.open();
      try {
        const res = await s.post(bad);
        assert.ok([200, 400].includes(res.status), `POST → ${res.status}`);
      } catch {
        // a dropped connection is allowed too
      }
      // a GET may still find packets queued before the close (e.g. the echo of `4ok` or `1`)
      let res = await s.get();
      for (let i = 0; i < 3 && res.status === 200; i++) {
        for (const p of res.text.split(RS)) assert.ok(["4ok", "1", "6"].includes(p), `unexpected ${p}`);
        res = await s.get();
      }
      assertError(assert, res, 1, ERR[1]);
    });
  }

  it("ping from the client (v4) is a protocol violation: session closed", T, async () => {
    const s = await V4Session.open();
    await s.post("2");
    await sleep(20);
    let res = await s.get();
    if (res.status === 200) {
      assert.equal(res.text, "1");
      res = await s.get();
    }
    assertError(assert, res, 1, ERR[1]);
  });

  it("two GETs at once: the first gets `1`, the second 400, session gone", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const first = add(s.startGet());
    await sleep(50);
    const second = await s.get();
    assert.ok([400, 500].includes(second.status), `second GET → ${second.status}`);
    const res1 = await first.promise;
    assert.equal(res1.status, 200);
    assert.equal(res1.text, "1");
    assertError(assert, await s.get(), 1, ERR[1]);
  });

  it("a second POST while a POST body is still arriving → 400, session closed", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const slow = add(await rawTcp());
    slow.sock.write(
      `POST ${target(s.query())} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n4partial`,
    );
    await sleep(50);
    const second = await s.post("4second");
    assert.equal(second.status, 400);
    await sleep(20);
    let res = await s.get();
    if (res.status === 200) {
      assert.equal(res.text, "1");
      res = await s.get();
    }
    assertError(assert, res, 1, ERR[1]);
  });

  it("a GET aborted by the client closes the session", T, async () => {
    const s = await V4Session.open();
    const pending = s.startGet();
    await sleep(50);
    pending.abort();
    await sleep(80);
    assertError(assert, await s.get(), 1, ERR[1]);
    const post = await s.post("4x");
    assertError(assert, post, 1, ERR[1]);
  });

  it("close packet `1` in a POST: pending GET gets `6`, session ends", T, async (t) => {
    const add = cleanup(t);
    const s = await V4Session.open();
    const pending = add(s.startGet());
    await sleep(50);
    const post = await s.post("1");
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const res = await pending.promise;
    assert.equal(res.status, 200);
    assert.equal(res.text, "6");
    assertError(assert, await s.get(), 1, ERR[1]);
    assertError(assert, await s.post("4x"), 1, ERR[1]);
  });

  it("close packet `1` in a POST without a pending GET ends the session", T, async () => {
    const s = await V4Session.open();
    await s.send("1");
    assertError(assert, await s.get(), 1, ERR[1]);
  });

  it("packets before `1` in the same POST are processed", T, async () => {
    const s = await V4Session.open();
    const res = await s.post(`4before${RS}1`);
    assert.equal(res.status, 200);
    // the echo was queued before the close: it may or may not be delivered, but the session ends
    let get = await s.get();
    if (get.status === 200) {
      for (const p of get.text.split(RS)) assert.ok(["4before", "1", "6"].includes(p), p);
      get = await s.get();
    }
    assertError(assert, get, 1, ERR[1]);
  });
});

describe("raw polling v4: heartbeat", () => {
  it("no pong: pending GET gets `1` after pingTimeout, then the session is gone", T, async () => {
    const s = await V4Session.open();
    const t0 = Date.now();
    const ping = await s.get();
    assert.equal(ping.text, "2");
    const close = await s.get();
    const afterPing = close.elapsed;
    assert.equal(close.status, 200);
    assert.equal(close.text, "1");
    assert.ok(afterPing >= PING_TIMEOUT - 80, `closed ${afterPing} ms after the ping`);
    assert.ok(afterPing < PING_TIMEOUT + 400, `closed ${afterPing} ms after the ping`);
    assert.ok(Date.now() - t0 < PING_INTERVAL + PING_TIMEOUT + 500);
    assertError(assert, await s.get(), 1, ERR[1]);
  });

  it("no pong and no GET: the next request after pingInterval+pingTimeout is refused", T, async () => {
    const s = await V4Session.open();
    await sleep(PING_INTERVAL + PING_TIMEOUT + 250);
    // the ping and the close packet may still be queued; at most one GET can carry them
    let res = await s.get();
    if (res.status === 200) {
      for (const p of res.text.split(RS)) assert.ok(["2", "1"].includes(p), p);
      res = await s.get();
    }
    assertError(assert, res, 1, ERR[1]);
  });

  it("with pongs the session stays open (4 ping cycles)", { timeout: 8000 }, async () => {
    const s = await V4Session.open();
    let last = Date.now();
    for (let i = 0; i < 4; i++) {
      const res = await s.get();
      assert.equal(res.status, 200);
      assert.equal(res.text, "2", `cycle ${i}`);
      const now = Date.now();
      assert.ok(now - last >= PING_INTERVAL - 80, `ping interval ${now - last} ms`);
      last = now;
      await s.send("3");
    }
    await s.send("4alive");
    assert.deepEqual(await s.recv(), ["4alive"]);
  });

  it("messages in the POST do not replace pongs forever", { timeout: 8000 }, async () => {
    // engine.io refreshes the pong deadline once per ping for a non-pong packet,
    // so a client sending only messages is still dropped within two timeouts.
    const s = await V4Session.open();
    const ping = await s.get();
    assert.equal(ping.text, "2");
    const deadline = Date.now() + 2000;
    let closed = false;
    while (Date.now() < deadline) {
      const res = await s.post("4busy");
      if (res.status !== 200) {
        assertError(assert, res, 1, ERR[1]);
        closed = true;
        break;
      }
      await sleep(40);
    }
    assert.ok(closed, "session should be closed without pongs");
  });
});
