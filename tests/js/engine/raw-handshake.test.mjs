// Raw protocol: handshake, refused requests (error codes), CORS, paths.
// Spec: /work/shared/spec/conformance-server.md §1, §2.1; engine-io.md §1, §3, §10, §11.
//
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/engine/raw-handshake.test.mjs

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  EIO_PATH,
  SIO_PATH,
  SID_RE,
  CONFORMANCE_ONLY,
  ERR,
  get,
  request,
  target,
  handshake,
  openPacket,
  assertError,
  decodeV3,
  openWs,
  assertWsRefused,
  cleanup,
  V4Session,
  rawTcp,
  withTimeout,
} from "../lib/raw.mjs";

const T = { timeout: 5000 };

function assertPollingHeaders(res) {
  assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
  assert.equal(res.headers["content-length"], String(res.body.length));
  assert.equal(res.headers["cache-control"], "no-store");
}

function assertCorsOrigin(res, origin) {
  const acao = res.headers["access-control-allow-origin"];
  assert.ok(acao === "*" || (origin && acao === origin), `Access-Control-Allow-Origin: ${acao}`);
}

describe("raw handshake (EIO=4 polling)", () => {
  for (const path of [EIO_PATH, SIO_PATH]) {
    it(`${path}: 200, exact open packet, headers`, T, async () => {
      const res = await get("EIO=4&transport=polling", { path });
      assert.equal(res.status, 200);
      assertPollingHeaders(res);
      assertCorsOrigin(res);
      const open = JSON.parse(res.text.slice(1));
      assert.deepEqual(Object.keys(open), [
        "sid",
        "upgrades",
        "pingInterval",
        "pingTimeout",
        "maxPayload",
      ]);
      assert.equal(res.text, openPacket(open.sid, ["websocket"]));
      assert.match(open.sid, SID_RE);
      assert.equal(open.sid.length, 20);
    });
  }

  it("sids are unique", T, async () => {
    const sids = await Promise.all(
      Array.from({ length: 20 }, () => handshake().then((h) => h.sid)),
    );
    assert.equal(new Set(sids).size, sids.length);
    for (const s of sids) assert.match(s, SID_RE);
  });

  it("query parameters in any order, extras ignored", T, async () => {
    for (const q of [
      "transport=polling&EIO=4",
      "t=Nx1a2b&EIO=4&foo=bar&transport=polling",
      "EIO=4&transport=polling&t=1700000000.123&b64=1&x=%E2%9C%93",
    ]) {
      const res = await get(q);
      assert.equal(res.status, 200, q);
      const open = JSON.parse(res.text.slice(1));
      assert.equal(res.text, openPacket(open.sid, ["websocket"]), q);
    }
  });

  it("the session accepts later requests with params in any order", T, async () => {
    const { sid } = await handshake();
    const post = await request({
      method: "POST",
      path: target(`sid=${sid}&foo=1&transport=polling&EIO=4&t=abc`),
      body: "4order",
    });
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const res = await get(`t=zz&sid=${sid}&EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    assert.equal(res.text, "4order");
  });

  it("EIO=3 handshake: length-prefixed open packet", T, async () => {
    const res = await get("EIO=3&transport=polling");
    assert.equal(res.status, 200);
    assertPollingHeaders(res);
    const [packet] = decodeV3(res.text);
    assert.equal(res.text, `${packet.length}:${packet}`);
    const open = JSON.parse(packet.slice(1));
    assert.equal(packet[0], "0");
    assert.deepEqual(open.upgrades, ["websocket"]);
    assert.equal(open.pingInterval, 300);
    assert.equal(open.pingTimeout, 200);
    assert.match(open.sid, SID_RE);
    if ("maxPayload" in open) assert.equal(open.maxPayload, 1000000);
  });
});

describe("raw refused requests", () => {
  describe("code 0 Transport unknown", () => {
    for (const q of [
      "EIO=4",
      "EIO=4&transport=",
      "EIO=4&transport=foo",
      "EIO=4&transport=POLLING",
      "EIO=4&transport=webtransport",
      "EIO=3&transport=flashsocket",
    ]) {
      it(`GET ?${q}`, T, async () => {
        assertError(assert, await get(q), 0, ERR[0]);
      });
    }
    it("transport checked before sid (unknown transport + unknown sid)", T, async () => {
      assertError(assert, await get("EIO=4&transport=foo&sid=nope"), 0, ERR[0]);
    });
    it("error responses carry CORS headers", T, async () => {
      const res = await get("EIO=4&transport=foo", { headers: { Origin: "http://example.com" } });
      assertError(assert, res, 0, ERR[0]);
      assertCorsOrigin(res, "http://example.com");
    });
  });

  describe("code 1 Session ID unknown", () => {
    it("GET with unknown sid", T, async () => {
      assertError(assert, await get("EIO=4&transport=polling&sid=unknown-sid-000000000"), 1, ERR[1]);
    });
    it("POST with unknown sid", T, async () => {
      const res = await request({
        method: "POST",
        path: target("EIO=4&transport=polling&sid=unknown-sid-000000000"),
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        body: "4hello",
      });
      assertError(assert, res, 1, ERR[1]);
    });
    it("EIO=3 GET with unknown sid", T, async () => {
      assertError(assert, await get("EIO=3&transport=polling&sid=abc"), 1, ERR[1]);
    });
    it("sid of a closed session", T, async () => {
      const s = await V4Session.open();
      await s.send("1");
      assertError(assert, await s.get(), 1, ERR[1]);
    });
    it("sid of /engine.io/ is unknown on /socket.io/", T, async () => {
      const { sid } = await handshake();
      assertError(assert, await get(`EIO=4&transport=polling&sid=${sid}`, { path: SIO_PATH }), 1, ERR[1]);
    });
  });

  describe("code 2 Bad handshake method", () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      it(`${method} without sid`, T, async () => {
        const res = await request({
          method,
          path: target("EIO=4&transport=polling"),
          headers: { "Content-Type": "text/plain;charset=UTF-8" },
          body: method === "DELETE" ? undefined : "4x",
        });
        assertError(assert, res, 2, ERR[2]);
      });
    }
    it("EIO=3 POST without sid", T, async () => {
      const res = await request({ method: "POST", path: target("EIO=3&transport=polling"), body: "2:4x" });
      assertError(assert, res, 2, ERR[2]);
    });
  });

  describe("code 3 Bad request", () => {
    it("transport=websocket on a plain GET (no Upgrade)", T, async () => {
      assertError(assert, await get("EIO=4&transport=websocket"), 3, ERR[3]);
    });
    it("transport=websocket on a plain GET with a polling sid (transport mismatch)", T, async () => {
      const { sid } = await handshake();
      assertError(assert, await get(`EIO=4&transport=websocket&sid=${sid}`), 3, ERR[3]);
    });
    it("polling GET/POST with the sid of a websocket session (transport mismatch)", T, async (t) => {
      const add = cleanup(t);
      const ws = add(await openWs("EIO=4&transport=websocket", { autoPong: true }));
      assert.ok(ws.opened);
      const open = JSON.parse((await ws.nextText()).slice(1));
      assertError(assert, await get(`EIO=4&transport=polling&sid=${open.sid}`), 3, ERR[3]);
      const post = await request({
        method: "POST",
        path: target(`EIO=4&transport=polling&sid=${open.sid}`),
        body: "4x",
      });
      assertError(assert, post, 3, ERR[3]);
      // the websocket session is untouched
      ws.send("4still");
      assert.equal(await ws.nextText(), "4still");
    });
    it("EIO=3 request with the sid of an EIO=4 session (protocol mismatch)", T, async () => {
      const { sid } = await handshake();
      assertError(assert, await get(`EIO=3&transport=polling&sid=${sid}`), 3, ERR[3]);
    });
  });

  describe("code 5 Unsupported protocol version", () => {
    for (const q of [
      "transport=polling",
      "EIO=&transport=polling",
      "EIO=abc&transport=polling",
      "EIO=5&transport=polling",
      "EIO=2&transport=polling",
      "transport=polling&EIO=04",
    ]) {
      it(`GET ?${q}`, { ...T, skip: CONFORMANCE_ONLY }, async () => {
        assertError(assert, await get(q), 5, ERR[5]);
      });
    }
    it("EIO=abc on a plain GET with transport=websocket: code 5 or 3 (both wrong)", T, async () => {
      const res = await get("EIO=abc&transport=websocket");
      assert.equal(res.status, 400);
      const { code } = JSON.parse(res.text);
      assert.ok(code === 5 || code === 3, res.text);
      assert.equal(res.text, JSON.stringify({ code, message: ERR[code] }));
    });
    it("WebSocket upgrade with EIO missing / abc / 5 is refused", { ...T, skip: CONFORMANCE_ONLY }, async (t) => {
      const add = cleanup(t);
      for (const q of ["transport=websocket", "EIO=abc&transport=websocket", "EIO=5&transport=websocket"]) {
        const ws = add(await openWs(q));
        await assertWsRefused(assert, ws, { expectStatus: 400 });
      }
    });
    it("EIO wrong AND transport wrong: code 5 or 0 (spec: suites never combine them)", T, async () => {
      const res = await get("EIO=5&transport=foo");
      assert.equal(res.status, 400);
      const body = JSON.parse(res.text);
      assert.ok(body.code === 5 || body.code === 0, res.text);
      assert.equal(res.text, JSON.stringify({ code: body.code, message: ERR[body.code] }));
    });
  });

  it("Origin header with invalid characters → 400 (HTTP parser or code 3)", T, async (t) => {
    const add = cleanup(t);
    for (const origin of ["http://a\x7fb", "http://a\x01b"]) {
      const c = add(await rawTcp());
      c.sock.write(
        `GET ${EIO_PATH}?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nConnection: close\r\n\r\n`,
      );
      await withTimeout(c.ended, 3000, "answer to a bad Origin");
      const text = c.received().toString("latin1");
      assert.match(text, /^HTTP\/1\.1 400 /);
      const body = text.split("\r\n\r\n").slice(1).join("\r\n\r\n");
      assert.ok(!body.includes('"sid"'), "no session opened");
    }
  });

  it("other methods with a sid → 500, empty body", T, async () => {
    const { sid } = await handshake();
    for (const method of ["PUT", "DELETE"]) {
      const res = await request({ method, path: target(`EIO=4&transport=polling&sid=${sid}`) });
      assert.equal(res.status, 500, method);
      assert.equal(res.text, "", method);
    }
  });
});

describe("raw CORS", () => {
  it("handshake with Origin: Access-Control-Allow-Origin * (or the origin)", T, async () => {
    const res = await get("EIO=4&transport=polling", { headers: { Origin: "http://example.com" } });
    assert.equal(res.status, 200);
    assertCorsOrigin(res, "http://example.com");
  });

  it("GET and POST of a session carry CORS headers", T, async () => {
    const s = await V4Session.open();
    const headers = { Origin: "http://a.example" };
    const post = await s.post("4cors", { headers });
    assert.equal(post.status, 200);
    assertCorsOrigin(post, "http://a.example");
    const res = await s.get({ headers });
    assert.equal(res.text, "4cors");
    assertCorsOrigin(res, "http://a.example");
  });

  for (const query of ["EIO=4&transport=polling", "EIO=4&transport=polling&sid=whatever", "EIO=3&transport=polling"]) {
    it(`preflight OPTIONS ?${query} → 204`, T, async () => {
      const res = await request({
        method: "OPTIONS",
        path: target(query),
        headers: {
          Origin: "http://example.com",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "X-Custom, content-type",
        },
      });
      assert.equal(res.status, 204);
      assert.equal(res.text, "");
      // Node sends Content-Length: 0; RFC 9110 §8.6 forbids the header on a 204, and hyper
      // (sockio) leaves it out. Either way the body must be empty.
      assert.ok([undefined, "0"].includes(res.headers["content-length"]));
      assert.equal(res.body.length, 0);
      assertCorsOrigin(res, "http://example.com");
      assert.equal(res.headers["access-control-allow-methods"], "GET,HEAD,PUT,PATCH,POST,DELETE");
      assert.equal(res.headers["access-control-allow-headers"], "X-Custom, content-type");
      assert.match(res.headers["vary"] ?? "", /Access-Control-Request-Headers/i);
    });
  }
});

describe("raw paths", () => {
  for (const p of [
    "/",
    "/foo/?EIO=4&transport=polling",
    "/engine.io?EIO=4&transport=polling",
    "/socket.io?EIO=4&transport=polling",
    "/ENGINE.IO/?EIO=4&transport=polling",
  ]) {
    it(`GET ${p} → 404`, T, async () => {
      const res = await request({ method: "GET", path: p });
      assert.equal(res.status, 404);
    });
  }

  it("WebSocket upgrade on another path is refused", T, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs("EIO=4&transport=websocket", { path: "/nope/" }));
    await assertWsRefused(assert, ws, { ms: 2500 });
  });

  it("/socket.io/ WebSocket handshake: open packet first, upgrades []", T, async (t) => {
    const add = cleanup(t);
    const ws = add(await openWs("EIO=4&transport=websocket", { path: SIO_PATH }));
    assert.ok(ws.opened);
    const text = await ws.nextText();
    const open = JSON.parse(text.slice(1));
    assert.equal(text, openPacket(open.sid, []));
  });
});
