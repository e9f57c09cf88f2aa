// Shared helpers for the client-library interop tests (tests/js/engine/client-*.test.mjs).
//
// The server under test is given by env SOCKIO_URL, e.g. http://127.0.0.1:41234
// (no trailing path). Nothing here hard-codes a port.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Base URL of the server under test, without trailing slash. */
export function serverUrl() {
  const url = process.env.SOCKIO_URL;
  if (!url) {
    throw new Error(
      "SOCKIO_URL is not set (e.g. SOCKIO_URL=http://127.0.0.1:3000 node --test ...)",
    );
  }
  return url.replace(/\/+$/, "");
}

/** The v3 (EIO=3) client, engine.io-client 3.5.x (CommonJS). */
export function loadClientV3() {
  return require("engine.io-client-v3");
}

/** Rejects after `ms` with a message naming `what`; `clear()` the returned timer. */
export function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

/** Races `promise` against a timeout. */
export async function withTimeout(promise, ms, what) {
  const d = deadline(ms, what);
  try {
    return await Promise.race([promise, d.promise]);
  } finally {
    d.clear();
  }
}

/**
 * Resolves with the arguments array of the next `event` on an emitter (either
 * component-emitter style on/off or Node EventEmitter). Rejects after `ms`, or on
 * the first of the `failOn` events (default: "error" and "close" unless `event` is
 * one of them).
 */
export function once(emitter, event, ms = 2000, failOn) {
  const fails = (failOn ?? ["error", "close"]).filter((e) => e !== event);
  return new Promise((resolve, reject) => {
    const handlers = [];
    const off = () => {
      clearTimeout(timer);
      for (const [ev, fn] of handlers) (emitter.off ?? emitter.removeListener).call(emitter, ev, fn);
    };
    const on = (ev, fn) => {
      handlers.push([ev, fn]);
      emitter.on(ev, fn);
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timeout after ${ms} ms waiting for "${event}"`));
    }, ms);
    on(event, (...args) => {
      off();
      resolve(args);
    });
    for (const ev of fails) {
      on(ev, (...args) => {
        off();
        reject(new Error(`"${ev}" while waiting for "${event}": ${fmt(args)}`));
      });
    }
  });
}

/**
 * Collects the next `n` "message" events (their first argument) from `socket`.
 * Rejects after `ms` (reporting how many arrived) or if the socket closes / errors.
 */
export function collect(socket, n, ms = 3000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const off = () => {
      clearTimeout(timer);
      socket.off("message", onMessage);
      socket.off("close", onClose);
      socket.off("error", onError);
    };
    const onMessage = (data) => {
      got.push(data);
      if (got.length === n) {
        off();
        resolve(got);
      }
    };
    const onClose = (...args) => {
      off();
      reject(new Error(`closed after ${got.length}/${n} messages: ${fmt(args)}`));
    };
    const onError = (...args) => {
      off();
      reject(new Error(`error after ${got.length}/${n} messages: ${fmt(args)}`));
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timeout after ${ms} ms: got ${got.length}/${n} messages`));
    }, ms);
    if (n === 0) {
      off();
      resolve(got);
      return;
    }
    socket.on("message", onMessage);
    socket.on("close", onClose);
    socket.on("error", onError);
  });
}

/** Sends `msg` and resolves with the next message received. */
export async function echo(socket, msg, ms = 3000) {
  const p = collect(socket, 1, ms);
  socket.send(msg);
  return (await p)[0];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True for anything a client may hand out as binary data. */
export function isBinary(data) {
  return (
    Buffer.isBuffer(data) || data instanceof ArrayBuffer || ArrayBuffer.isView(data)
  );
}

/** Copies binary data (Buffer, ArrayBuffer, typed array / view) into a Buffer. */
export function toBuffer(data) {
  if (Buffer.isBuffer(data)) return Buffer.from(data);
  if (data instanceof ArrayBuffer) return Buffer.from(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) {
    return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  throw new TypeError(`not binary: ${typeof data} ${fmt([data])}`);
}

/** Deterministic pseudo-random bytes. */
export function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Short description of values for error messages. */
export function fmt(values) {
  return values
    .map((v) => {
      if (v instanceof Error) return v.stack ?? String(v);
      if (typeof v === "string") return JSON.stringify(v.length > 80 ? v.slice(0, 80) + "…" : v);
      if (isBinary(v)) return `<binary ${toBuffer(v).length} bytes>`;
      try {
        return JSON.stringify(v);
      } catch {
        return String(v);
      }
    })
    .join(", ");
}

/**
 * Asks the server, with a plain HTTP polling GET (`?EIO=<eio>&transport=polling&sid=<sid>`),
 * whether it has forgotten session `sid`. Meant to be called after the client closed.
 *
 * While a WebSocket session is alive the GET is refused with 400 code 3 (transport
 * mismatch), which has no side effect: we retry that for up to `ms`. Any other answer
 * is returned at once as `{ status, body }` (body parsed as JSON when possible); a
 * forgotten session gives `{ status: 400, body: { code: 1, message: "Session ID unknown" } }`.
 * A polling session that is still alive answers 200 (or holds the GET): reported as is,
 * no retry, since that GET already disturbed the session.
 */
export async function probeSession(path, eio, sid, ms = 1000) {
  const end = Date.now() + ms;
  const url = `${serverUrl()}${path}?EIO=${eio}&transport=polling&sid=${encodeURIComponent(sid)}`;
  for (;;) {
    let outcome;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      const text = await res.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {}
      outcome = { status: res.status, body };
    } catch (err) {
      return { status: "no answer", body: String(err) };
    }
    if (outcome.status === 400 && outcome.body?.code === 3 && Date.now() < end) {
      await sleep(25);
      continue;
    }
    return outcome;
  }
}
