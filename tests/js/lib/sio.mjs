// Shared helpers for the Socket.IO suites (tests/js/socketio/*.test.mjs), which drive the
// `/socket.io/` endpoint of the conformance server (conformance-server.md §4, §6.4) with the
// real clients (socket.io-client 4.8 and 2.x) and with raw Engine.IO packets.
//
// Env: SOCKIO_URL  server under test, e.g. http://127.0.0.1:3000 (scheme, host, port; no path)
//
// Nothing here hard-codes a port. Every helper that waits has a timeout.

import { createRequire } from "node:module";
import { io as ioV4, Manager as ManagerV4 } from "socket.io-client";

const require = createRequire(import.meta.url);

export const SIO_PATH = "/socket.io/";

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

/** socket.io-client 2.x (EIO=3, Socket.IO protocol v4), CommonJS. */
export function loadClientV2() {
  return require("socket.io-client-v2");
}

export { ioV4, ManagerV4 };

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

let counter = 0;
/**
 * A name unique to this process and call, lowercase `[a-z0-9-]` only (so that `/dyn-${uniq()}`
 * is a valid dynamic namespace and rooms never collide between tests running in parallel).
 */
export function uniq(prefix = "t") {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}-${Math.random()
    .toString(36)
    .slice(2, 7)}`;
}

/** A fresh dynamic namespace name `/dyn-…`. */
export const dynNsp = (prefix = "n") => `/dyn-${uniq(prefix)}`;

/** True for anything a client may hand out as binary data. */
export function isBinary(data) {
  return Buffer.isBuffer(data) || data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

/** Copies binary data (Buffer, ArrayBuffer, typed array / view) into a Buffer. */
export function toBuffer(data) {
  if (Buffer.isBuffer(data)) return Buffer.from(data);
  if (data instanceof ArrayBuffer) return Buffer.from(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) {
    return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  throw new TypeError(`not binary: ${typeof data}`);
}

/**
 * Replaces every binary value (at any depth) by `{ bin: "<hex>" }` so that received data can be
 * compared with `deepEqual` whatever binary type the client produced (Buffer / ArrayBuffer).
 * Plain objects keep their key order.
 */
export function normalize(value) {
  if (isBinary(value)) return { bin: toBuffer(value).toString("hex") };
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}

/** Short description of values for error messages. */
export function fmt(value) {
  try {
    return JSON.stringify(normalize(value));
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Event recording

/**
 * Records every event a client socket receives (`onAny`), in order, from the moment it is
 * called. Works for socket.io-client 4.x (onAny) and 2.x (wraps `onevent`).
 *
 *   rec.events            [{ event, args }] (args without a trailing ack callback)
 *   rec.next(ev, ms)      resolves with the args of the next not-yet-consumed `ev`
 *   rec.count(ev)         how many `ev` were received so far
 *   rec.of(ev)            the args lists of every `ev` received so far
 */
export function record(socket) {
  const events = [];
  const consumed = new Map(); // event → index of the next unconsumed occurrence
  const waiters = [];
  const push = (event, args) => {
    const clean = typeof args[args.length - 1] === "function" ? args.slice(0, -1) : args;
    events.push({ event, args: clean, ack: typeof args[args.length - 1] === "function" ? args[args.length - 1] : null });
    for (const w of waiters.slice()) w.check();
  };
  if (typeof socket.onAny === "function") {
    socket.onAny((event, ...args) => push(event, args));
  } else {
    // socket.io-client 2.x: every incoming event goes through onevent(packet)
    const orig = socket.onevent.bind(socket);
    socket.onevent = (packet) => {
      const args = packet.data || [];
      push(args[0], args.slice(1));
      orig(packet);
    };
  }
  const list = (ev) => events.filter((e) => e.event === ev);
  const rec = {
    events,
    count: (ev) => list(ev).length,
    of: (ev) => list(ev).map((e) => e.args),
    names: () => events.map((e) => e.event),
    next(ev, ms = 2000) {
      return new Promise((resolve, reject) => {
        const w = {
          check() {
            const i = consumed.get(ev) ?? 0;
            const all = list(ev);
            if (all.length > i) {
              consumed.set(ev, i + 1);
              cleanup();
              resolve(all[i].args);
              return true;
            }
            return false;
          },
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timeout after ${ms} ms waiting for event "${ev}" (got: ${rec.names().join(", ") || "nothing"})`));
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          const k = waiters.indexOf(w);
          if (k >= 0) waiters.splice(k, 1);
        };
        if (!w.check()) waiters.push(w);
      });
    },
  };
  return rec;
}

/**
 * Resolves with the argument list of the next `event` on `emitter` (component-emitter or Node
 * EventEmitter). Rejects after `ms`, or on the first of `failOn`.
 */
export function once(emitter, event, ms = 2000, failOn = []) {
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
    for (const ev of failOn.filter((e) => e !== event)) {
      on(ev, (...args) => {
        off();
        reject(new Error(`"${ev}" while waiting for "${event}": ${args.map((a) => (a instanceof Error ? a.message : fmt(a))).join(", ")}`));
      });
    }
  });
}

/** Resolves true if `event` fires on `emitter` within `ms`, false otherwise. */
export function firesWithin(emitter, event, ms) {
  return new Promise((resolve) => {
    const fn = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      (emitter.off ?? emitter.removeListener).call(emitter, event, fn);
      resolve(false);
    }, ms);
    emitter.once(event, fn);
  });
}

// ---------------------------------------------------------------------------------------------
// socket.io-client 4.8

export const V4_VARIANTS = [
  { name: "websocket", transports: ["websocket"], first: "websocket", final: "websocket" },
  { name: "polling", transports: ["polling"], first: "polling", final: "polling" },
  {
    name: "polling → websocket",
    transports: ["polling", "websocket"],
    first: "polling",
    final: "websocket",
    upgrade: true,
  },
];

/** Fast reconnection so that "does (not) reconnect" checks need little time. */
export const FAST_RECONNECT = { reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0 };

/**
 * Opens a socket.io-client 4.8 socket on namespace `nsp` with `variant`'s transports, a fresh
 * Manager (unless `opts.manager` is given) and closes it when test `t` ends.
 * Returns `{ socket, rec }` right away, without waiting (see `connectV4`).
 */
export function createV4(t, nsp = "/", variant = V4_VARIANTS[0], opts = {}) {
  const { manager, ...rest } = opts;
  let socket;
  if (manager) {
    socket = manager.socket(nsp, rest);
  } else {
    socket = ioV4(serverUrl() + nsp, {
      path: SIO_PATH,
      transports: variant.transports,
      forceNew: true,
      timeout: 3000,
      ...FAST_RECONNECT,
      ...rest,
    });
  }
  const rec = record(socket);
  t.after(() => {
    socket.disconnect();
    if (!manager) socket.io.engine?.close();
  });
  return { socket, rec };
}

/**
 * Creates a v4 socket and waits for `connect`, the first event (which must be `auth`) and, for
 * the upgrade variant, the end of the upgrade to WebSocket. Returns `{ socket, rec, auth }`.
 */
export async function connectV4(t, nsp = "/", variant = V4_VARIANTS[0], opts = {}) {
  const { socket, rec } = createV4(t, nsp, variant, opts);
  await once(socket, "connect", 3000, ["connect_error"]);
  const [auth] = await rec.next("auth", 2000);
  if (variant.upgrade && !opts.manager) await waitUpgrade(socket);
  return { socket, rec, auth };
}

/** Waits until the socket's Engine.IO connection runs on WebSocket. */
export async function waitUpgrade(socket, ms = 3000) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return;
  await once(engine, "upgrade", ms, ["upgradeError", "close"]);
}

/**
 * Emits `ev` ...args with an ack (client-side timeout `ms`) and resolves with **every** ack
 * argument (an array). Rejects with "operation has timed out" if no ack comes.
 */
export function callAll(socket, ev, ...args) {
  return callAllWithin(2500, socket, ev, ...args);
}

export function callAllWithin(ms, socket, ev, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(ev, ...args, (err, ...r) => {
      if (err) reject(new Error(`no ack for "${ev}" within ${ms} ms: ${err.message}`));
      else resolve(r);
    });
  });
}

/** Emits with an ack and resolves with the first ack argument. */
export async function call(socket, ev, ...args) {
  return (await callAll(socket, ev, ...args))[0];
}

// ---------------------------------------------------------------------------------------------
// socket.io-client 2.x

export const V2_VARIANTS = [
  { name: "websocket", transports: ["websocket"], final: "websocket" },
  { name: "polling", transports: ["polling"], final: "polling" },
  { name: "polling → websocket", transports: ["polling", "websocket"], final: "websocket", upgrade: true },
];

/**
 * Opens a socket.io-client 2.x socket on `url + nsp` (nsp may carry a query: `/custom?x=1`).
 * Returns `{ socket, rec }` right away; closed when `t` ends.
 */
export function createV2(t, nsp = "/", variant = V2_VARIANTS[0], opts = {}) {
  const io = loadClientV2();
  const socket = io(serverUrl() + nsp, {
    path: SIO_PATH.replace(/\/$/, ""),
    transports: variant.transports,
    forceNew: true,
    timeout: 3000,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
    ...opts,
  });
  const rec = record(socket);
  t.after(() => {
    socket.close();
    socket.io.engine?.close();
  });
  return { socket, rec };
}

/** Creates a 2.x socket and waits for `connect` and the `auth` event (and the upgrade). */
export async function connectV2(t, nsp = "/", variant = V2_VARIANTS[0], opts = {}) {
  const { socket, rec } = createV2(t, nsp, variant, opts);
  await once(socket, "connect", 3000, ["error", "connect_error"]);
  const [auth] = await rec.next("auth", 2000);
  if (variant.upgrade) {
    const engine = socket.io.engine;
    if (engine.transport.name !== "websocket") await once(engine, "upgrade", 3000, ["upgradeError", "close"]);
  }
  return { socket, rec, auth };
}

/** 2.x emit with ack: resolves with every ack argument. */
export function callV2(socket, ev, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(ev, ...args, (...r) => resolve(r))),
    2500,
    `ack for "${ev}" (2.x client)`,
  );
}

// ---------------------------------------------------------------------------------------------

/** Sorted copy. */
export const sorted = (list) => [...list].sort();

/**
 * Installs a safety net: if handles are still open `ms` after the last test of the file, print
 * a message and exit (a hanging server request must not hang the run).
 */
export function exitWhenDone(after, name, ms = 2000) {
  after(() => {
    setTimeout(() => {
      console.error(`${name}: handles still open ${ms} ms after the last test; forcing exit`);
      process.exit();
    }, ms).unref();
  });
}
