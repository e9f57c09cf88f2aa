// Helpers for the raw protocol tests (tests/js/engine/raw-*.test.mjs): plain HTTP requests
// through node:http (we choose the method, headers and body bytes, may abort, and see the exact
// status / headers / body) and plain WebSockets through the `ws` package.
//
// Env: SOCKIO_URL       server under test, e.g. http://127.0.0.1:41234 (no path)
//      SOCKIO_REFERENCE "1" when the server is the stock Node engine.io (some checks are skipped)
//
// Every request uses its own TCP connection (`agent: false`, `Connection: close`) so that no
// keep-alive socket survives a test and the test process exits on its own.

import http from "node:http";
import net from "node:net";
import WebSocket from "ws";

export const BASE = (process.env.SOCKIO_URL ?? "").replace(/\/+$/, "");
if (!BASE) {
  throw new Error("SOCKIO_URL is not set (e.g. SOCKIO_URL=http://127.0.0.1:3000 node --test ...)");
}
export const REFERENCE = process.env.SOCKIO_REFERENCE === "1";
const base = new URL(BASE);
export const HOST = base.hostname;
export const PORT = Number(base.port || 80);

export const EIO_PATH = "/engine.io/";
export const SIO_PATH = "/socket.io/";
export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1_000_000;
export const SID_RE = /^[A-Za-z0-9_\-.~]+$/;
export const RS = "\x1e";

/** Skip option for checks where the conformance server deliberately differs from stock engine.io. */
export const CONFORMANCE_ONLY = REFERENCE
  ? "conformance server differs from stock engine.io here (SOCKIO_REFERENCE=1)"
  : false;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Races `promise` against a timeout (rejects with a message naming `what`). */
export async function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Builds `<path>?<query>`; `query` is a raw string (order kept) or an object. */
export function target(query, path = EIO_PATH) {
  if (query === undefined || query === null) return path;
  const qs = typeof query === "string" ? query : new URLSearchParams(query).toString();
  return qs === "" ? path : `${path}?${qs}`;
}

/**
 * One raw HTTP request. Returns `{ promise, abort, req }`; the promise resolves with
 * `{ status, headers, rawHeaders, body: Buffer, text, elapsed }` or rejects on a socket error
 * (unless the response head has already arrived).
 *
 * opts: method, path (with query), headers, body (string | Buffer), timeout (ms, default 3000).
 */
export function rawRequest({ method = "GET", path, headers = {}, body, timeout = 3000 } = {}) {
  const start = Date.now();
  const hdrs = { Connection: "close", ...headers };
  const has = (name) => Object.keys(hdrs).some((k) => k.toLowerCase() === name);
  if (body !== undefined && !has("content-length") && !has("transfer-encoding")) {
    hdrs["Content-Length"] = Buffer.byteLength(body);
  }
  let req;
  const promise = new Promise((resolve, reject) => {
    req = http.request({ host: HOST, port: PORT, method, path, headers: hdrs, agent: false });
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      req.destroy();
      reject(new Error(`timeout after ${timeout} ms: ${method} ${path}`));
    }, timeout);
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: buf,
          text: buf.toString("utf8"),
          elapsed: Date.now() - start,
        });
      });
      res.on("error", (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on("error", (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(err);
    });
    // a server may answer (e.g. 413) and close before the body is written: ignore EPIPE then
    if (body !== undefined) req.end(body);
    else req.end();
  });
  promise.catch(() => {}); // callers that abort never await
  return { promise, req, abort: () => req.destroy() };
}

/** Shorthand: `await request({...})`. */
export function request(opts) {
  return rawRequest(opts).promise;
}

/** GET `<path>?<query>`. */
export function get(query, { path = EIO_PATH, headers, timeout } = {}) {
  return request({ method: "GET", path: target(query, path), headers, timeout });
}

/** Asserts a JSON error answer: status, `Content-Type: application/json`, exact body. */
export function assertError(assert, res, code, message, status = 400) {
  assert.equal(res.status, status, `status (body ${JSON.stringify(res.text)})`);
  assert.equal(res.headers["content-type"], "application/json");
  assert.equal(res.text, JSON.stringify({ code, message }));
}

export const ERR = {
  0: "Transport unknown",
  1: "Session ID unknown",
  2: "Bad handshake method",
  3: "Bad request",
  5: "Unsupported protocol version",
};

/** The exact open packet body (without length prefix). */
export function openPacket(sid, upgrades) {
  return (
    "0" +
    JSON.stringify({
      sid,
      upgrades,
      pingInterval: PING_INTERVAL,
      pingTimeout: PING_TIMEOUT,
      maxPayload: MAX_PAYLOAD,
    })
  );
}

/**
 * Polling handshake. Returns `{ sid, res, open }` (open = the parsed JSON).
 * eio 4: body `0{...}`; eio 3: `<len>:0{...}` (or JSONP with `extra.j`).
 */
export async function handshake({ eio = 4, path = EIO_PATH, extra = "" } = {}) {
  const res = await get(`EIO=${eio}&transport=polling${extra}`, { path });
  if (res.status !== 200) throw new Error(`handshake failed: ${res.status} ${res.text}`);
  let text = res.text;
  if (/[?&]j=/.test(`&${extra}`)) {
    const m = /^___eio\[\d*\]\((.*)\);$/s.exec(text);
    if (!m) throw new Error(`bad JSONP handshake ${text}`);
    text = JSON.parse(m[1]);
  }
  if (eio === 3) {
    const packets = decodeV3(text);
    if (packets.length !== 1) throw new Error(`bad v3 handshake ${text}`);
    text = packets[0];
  }
  if (text[0] !== "0") throw new Error(`not an open packet: ${text}`);
  const open = JSON.parse(text.slice(1));
  return { sid: open.sid, res, open, body: text };
}

/** v4 polling session helper bound to one sid. */
export class V4Session {
  constructor(sid, { path = EIO_PATH, eio = 4, extra = "" } = {}) {
    this.sid = sid;
    this.path = path;
    this.eio = eio;
    this.extra = extra;
  }
  static async open(opts = {}) {
    const hs = await handshake({ ...opts, eio: opts.eio ?? 4 });
    const s = new V4Session(hs.sid, opts);
    s.handshake = hs;
    return s;
  }
  query(transport = "polling") {
    return `EIO=${this.eio}&transport=${transport}&sid=${encodeURIComponent(this.sid)}${this.extra}`;
  }
  /** Starts a GET; returns `{ promise, abort }`. */
  startGet({ timeout = 3000, headers } = {}) {
    return rawRequest({ method: "GET", path: target(this.query(), this.path), timeout, headers });
  }
  get(opts) {
    return this.startGet(opts).promise;
  }
  post(body, { contentType = "text/plain;charset=UTF-8", headers = {}, timeout = 5000 } = {}) {
    const h = { ...headers };
    if (contentType !== null) h["Content-Type"] = contentType;
    return request({ method: "POST", path: target(this.query(), this.path), headers: h, body, timeout });
  }
  /** POSTs and asserts `200 ok`. */
  async send(body, opts) {
    const res = await this.post(body, opts);
    if (res.status !== 200 || res.text !== "ok") {
      throw new Error(`POST ${JSON.stringify(body).slice(0, 80)} → ${res.status} ${res.text}`);
    }
    return res;
  }
  /**
   * GETs until a non-ping packet arrives; answers every ping `2` with a pong `3` and drops it.
   * Returns the remaining packets (v4 only).
   */
  async recv({ timeout = 3000 } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) throw new Error("recv: nothing but pings");
      const res = await this.get({ timeout: left });
      if (res.status !== 200) throw new Error(`GET → ${res.status} ${res.text}`);
      const packets = res.text.split(RS);
      const rest = packets.filter((p) => p !== "2");
      if (rest.length !== packets.length) await this.send("3");
      if (rest.length) return rest;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// EIO=3 payloads

/** `<utf16 length>:<packet>` for each packet. */
export function encodeV3(packets) {
  return packets.map((p) => `${p.length}:${p}`).join("");
}

/** Inverse of encodeV3 (throws on malformed input). */
export function decodeV3(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) throw new Error(`bad v3 payload ${JSON.stringify(text)}`);
    const n = Number(text.slice(i, colon));
    if (!Number.isInteger(n)) throw new Error(`bad v3 length in ${JSON.stringify(text)}`);
    out.push(text.slice(colon + 1, colon + 1 + n));
    i = colon + 1 + n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/**
 * Opens a raw WebSocket to `<path>?<query>`. Resolves once the connection is open, or with
 * `{ refused: true, status }` when the server does not answer 101 / the socket dies before open.
 *
 * The returned object queues every frame: `next(ms)` → `{ data: string | Buffer, binary }`.
 * `autoPong` answers every `2` text frame with `3` without queueing it.
 * `closed` resolves with `{ code, reason, at }` when the socket closes.
 */
export function openWs(query, { path = EIO_PATH, autoPong = false, timeout = 3000, headers } = {}) {
  const url = `ws://${HOST}:${PORT}${target(query, path)}`;
  const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeout });
  const queue = [];
  const waiters = [];
  let closeInfo = null;
  let resolveClosed;
  const closed = new Promise((r) => (resolveClosed = r));
  const conn = {
    ws,
    closed,
    opened: false,
    refused: false,
    status: undefined,
    frames: [], // everything received, in order (pings included)
    send(data) {
      ws.send(data);
    },
    close() {
      try {
        ws.terminate();
      } catch {}
    },
    get isClosed() {
      return closeInfo !== null;
    },
    /** Next queued frame. Rejects on timeout or if the socket closes first. */
    next(ms = 2000) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closeInfo) return Promise.reject(new Error(`socket closed (${closeInfo.code})`));
      return new Promise((resolve, reject) => {
        const w = {
          resolve: (f) => {
            clearTimeout(timer);
            resolve(f);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no frame within ${ms} ms`));
        }, ms);
        waiters.push(w);
      });
    },
    /** Next frame, which must be text; returns the string. */
    async nextText(ms) {
      const f = await conn.next(ms);
      if (f.binary) throw new Error(`expected text frame, got binary ${f.data.toString("hex")}`);
      return f.data;
    },
    /** Waits for the close; resolves `{code, reason, at}` or rejects after ms. */
    waitClose(ms = 2000) {
      return withTimeout(closed, ms, "websocket close");
    },
  };
  ws.on("message", (data, isBinary) => {
    const frame = isBinary
      ? { data: Buffer.isBuffer(data) ? data : Buffer.concat(data), binary: true }
      : { data: data.toString("utf8"), binary: false };
    conn.frames.push(frame);
    if (autoPong && !frame.binary && frame.data === "2") {
      ws.send("3");
      return;
    }
    const w = waiters.shift();
    if (w) w.resolve(frame);
    else queue.push(frame);
  });
  ws.on("close", (code, reason) => {
    closeInfo = { code, reason: reason.toString(), at: Date.now() };
    for (const w of waiters.splice(0)) w.reject(new Error(`socket closed (${code})`));
    resolveClosed(closeInfo);
  });
  ws.on("error", () => {});
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      conn.refused = true;
      conn.close();
      resolve(conn);
    }, timeout);
    ws.on("open", () => {
      clearTimeout(timer);
      conn.opened = true;
      resolve(conn);
    });
    ws.on("unexpected-response", (req, res) => {
      clearTimeout(timer);
      conn.refused = true;
      conn.status = res.statusCode;
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        conn.body = Buffer.concat(chunks).toString("utf8");
        req.destroy();
        resolve(conn);
      });
      res.on("error", () => resolve(conn));
    });
    closed.then(() => {
      if (!conn.opened) {
        clearTimeout(timer);
        conn.refused = true;
        resolve(conn);
      }
    });
  });
}

/**
 * Asserts that a WebSocket request was refused: either the upgrade was answered with a
 * non-101 status (`expectStatus` if given), or the socket was accepted and closed without any
 * frame (no open packet).
 */
export async function assertWsRefused(assert, conn, { expectStatus, ms = 1500 } = {}) {
  if (conn.refused) {
    if (expectStatus !== undefined && conn.status !== undefined) {
      assert.equal(conn.status, expectStatus);
    }
    return;
  }
  await conn.waitClose(ms);
  assert.deepEqual(conn.frames, [], "no frame (in particular no open packet) before the close");
}

/** Raw TCP socket; resolves once connected. `received()` → all bytes so far; `ended` promise. */
export function rawTcp() {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port: PORT });
    const chunks = [];
    let resolveEnded;
    const ended = new Promise((r) => (resolveEnded = r));
    sock.on("data", (c) => chunks.push(c));
    sock.on("close", () => resolveEnded());
    sock.on("error", () => {});
    sock.once("connect", () =>
      resolve({ sock, ended, received: () => Buffer.concat(chunks) }),
    );
    sock.once("error", reject);
  });
}

/** Collects sockets / requests / websockets of a test and destroys them when it ends. */
export function cleanup(t) {
  const items = [];
  t.after(() => {
    for (const it of items) {
      try {
        if (it.terminate) it.terminate();
        else if (it.ws) it.ws.terminate();
        else if (it.sock) it.sock.destroy();
        else if (it.abort) it.abort();
        else if (it.destroy) it.destroy();
      } catch {}
    }
  });
  return (x) => {
    items.push(x);
    return x;
  };
}
