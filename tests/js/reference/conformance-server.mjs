// Reference conformance server: the real socket.io 4.8 / engine.io 6.6 on Node, exposing the
// surface of /work/shared/spec/conformance-server.md so that the suites under tests/js can be
// checked against the reference implementation before they are run against sockio.
//
//   /engine.io/  bare Engine.IO echo (§3): every message is sent straight back
//   /socket.io/  Socket.IO (§4 namespaces and handlers, §6.4 cluster handlers as a single node)
//   anything else → 404
//
// Settings (§1): pingInterval 300, pingTimeout 200, maxHttpBufferSize 1e6, connectTimeout 1000,
// allowEIO3, CORS origin "*". EIO values other than "3" / "4" are refused up front with
// 400 {"code":5,"message":"Unsupported protocol version"} (stock engine.io with allowEIO3 would
// treat them as v3).
//
// Env: PORT (default 0 = any free port), NODE_ID (answer of `node-id`, default "").
// Cluster mode (§6): REDIS_URL (redis://host:port), REDIS_ADAPTER (classic = createAdapter,
// sharded = createShardedAdapter in dynamic mode), REDIS_KEY (key / channelPrefix), with
// @socket.io/redis-adapter 8.3 over node-redis 4; subscribed before it listens.
// Listens on 127.0.0.1 and prints `listening <port>` on stdout once ready. Stop with SIGTERM.
//
//   node tests/js/reference/conformance-server.mjs

import { serveEngines } from "./http-front.mjs";
import { Server as EngineServer } from "engine.io";
import { Server } from "socket.io";

import { createClient } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";

const REDIS_KIND = process.env.REDIS_ADAPTER ?? "classic";
if (process.env.REDIS_URL && !["classic", "sharded"].includes(REDIS_KIND)) {
  console.error(`conformance-server.mjs: REDIS_ADAPTER=${REDIS_KIND}: classic or sharded`);
  process.exit(2);
}

const NODE_ID = process.env.NODE_ID ?? "";

const ENGINE_SETTINGS = {
  allowEIO3: true,
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
};

// ---------------------------------------------------------------------------------------------
// /engine.io/ — bare echo

const echo = new EngineServer({ ...ENGINE_SETTINGS, path: "/engine.io/" });
echo.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

// ---------------------------------------------------------------------------------------------
// /socket.io/ — Socket.IO bound to its own engine (we route HTTP ourselves)

const engine = new EngineServer({ ...ENGINE_SETTINGS, path: "/socket.io/" });
const io = new Server({ connectTimeout: 1000, serveClient: false });
io.bind(engine);

/** The subscriber connection of the Redis adapter, in cluster mode. */
let redisSub = null;
if (process.env.REDIS_URL) {
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => console.error("redis:", e.message));
  await Promise.all([pub.connect(), sub.connect()]);
  const key = process.env.REDIS_KEY ?? "socket.io";
  io.adapter(
    REDIS_KIND === "sharded"
      ? createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode: "dynamic" })
      : createAdapter(pub, sub, { key }),
  );
  redisSub = sub;
}

/** Last disconnect of each socket: key `${nsp}\0${id}` → {reason, rooms}. Oldest evicted first. */
const MAX_REASONS = 20000;
const reasons = new Map();
function rememberReason(nsp, id, value) {
  const key = `${nsp}\0${id}`;
  reasons.delete(key);
  reasons.set(key, value);
  while (reasons.size > MAX_REASONS) reasons.delete(reasons.keys().next().value);
}

/** `cluster-note` log per namespace name (stays empty on a single node). */
const MAX_NOTES = 20000;
const notes = new Map();

const sortedRooms = (socket) => [...socket.rooms].filter((r) => r !== socket.id).sort();
const byJson = (values) =>
  values
    .map((v) => [JSON.stringify(v), v])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, v]) => v);
const asList = (x) => (Array.isArray(x) ? x : x === undefined || x === null ? [] : [x]);

/** `io.of(nsp).in(rooms).except(except)` from a §6.4 selector. */
function select(nsp, selector) {
  const sel = selector && typeof selector === "object" ? selector : {};
  return nsp.in(asList(sel.rooms)).except(asList(sel.except));
}

/**
 * Splits a handler's arguments into (args, ack): the client asked for an ack iff the last
 * argument is a function. `done()` acks with no arguments (if asked).
 */
function split(args) {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  return { args, ack, done: () => ack?.() };
}

function setupNamespace(nsp) {
  // server-side events of §6.5 (only ever delivered by a cluster adapter)
  nsp.on("cluster-note", (...args) => {
    let log = notes.get(nsp.name);
    if (!log) notes.set(nsp.name, (log = []));
    log.push(args);
    if (log.length > MAX_NOTES) log.shift();
  });
  nsp.on("cluster-ask", (...args) => {
    const cb = args.pop();
    if (typeof cb === "function") cb([NODE_ID, ...args]);
  });

  nsp.on("connection", (socket) => {
    // first event of every socket
    socket.emit("auth", socket.handshake.auth);

    let roomsAtDisconnect = [];
    socket.on("disconnecting", () => {
      roomsAtDisconnect = sortedRooms(socket);
    });
    socket.on("disconnect", (reason) => {
      rememberReason(socket.nsp.name, socket.id, { reason, rooms: roomsAtDisconnect });
    });

    const ns = socket.nsp; // the child namespace for dynamic ones
    const handlers = {
      message(...raw) {
        const { args } = split(raw);
        socket.emit("message-back", ...args);
      },
      "message-with-ack"(...raw) {
        const { args, ack } = split(raw);
        ack?.(...args);
      },
      "server-ack"(...raw) {
        const { args, done } = split(raw);
        socket.emit("server-ack-request", ...args, (...r) => {
          socket.emit("server-ack-response", ...r);
          done();
        });
      },
      "server-ack-timeout"(...raw) {
        const { args, done } = split(raw);
        const ms = Number(args[0]);
        socket.timeout(ms).emit("server-ack-request", args[0], (err, ...r) => {
          if (err) socket.emit("server-ack-timeout-result", "timeout");
          else socket.emit("server-ack-timeout-result", "ok", ...r);
          done();
        });
      },
      join(...raw) {
        const { args, ack } = split(raw);
        socket.join(args[0]);
        ack?.(sortedRooms(socket));
      },
      leave(...raw) {
        const { args, ack } = split(raw);
        socket.leave(args[0]);
        ack?.(sortedRooms(socket));
      },
      "get-rooms"(...raw) {
        const { ack } = split(raw);
        ack?.(sortedRooms(socket));
      },
      async "room-members"(...raw) {
        const { args, ack } = split(raw);
        const sockets = await ns.in(args[0]).fetchSockets();
        ack?.(sockets.map((s) => s.id).sort());
      },
      async "namespace-sockets"(...raw) {
        const { ack } = split(raw);
        const sockets = await ns.fetchSockets();
        ack?.(sockets.map((s) => s.id).sort());
      },
      "to-rooms"(...raw) {
        const { args, done } = split(raw);
        const [rooms, event, ...rest] = args;
        socket.to(rooms).emit(event, ...rest);
        done();
      },
      "io-to-rooms"(...raw) {
        const { args, done } = split(raw);
        const [rooms, event, ...rest] = args;
        ns.to(rooms).emit(event, ...rest);
        done();
      },
      "to-rooms-except"(...raw) {
        const { args, done } = split(raw);
        const [rooms, except, event, ...rest] = args;
        ns.to(rooms).except(except).emit(event, ...rest);
        done();
      },
      broadcast(...raw) {
        const { args, done } = split(raw);
        socket.broadcast.emit(...args);
        done();
      },
      "emit-all"(...raw) {
        const { args, done } = split(raw);
        ns.emit(...args);
        done();
      },
      "to-socket"(...raw) {
        const { args, done } = split(raw);
        const [id, event, ...rest] = args;
        ns.to(id).emit(event, ...rest);
        done();
      },
      volatile(...raw) {
        const { args, done } = split(raw);
        socket.volatile.emit(...args);
        done();
      },
      "request-binary"(...raw) {
        const { done } = split(raw);
        socket.emit("binary-data", {
          a: Buffer.from([1, 2, 3]),
          nested: { list: [Buffer.from([4, 5]), "text", { deep: Buffer.from([6]) }], n: 42 },
          last: Buffer.from([0xff, 0x00, 0x80]),
        });
        done();
      },
      "get-handshake"(...raw) {
        const { ack } = split(raw);
        ack?.({ auth: socket.handshake.auth, query: socket.handshake.query });
      },
      "disconnect-me"(...raw) {
        const { args } = split(raw);
        socket.disconnect(args[0] === true);
      },
      "close-transport"() {
        socket.conn.close();
      },
      "last-disconnect-reason"(...raw) {
        const { args, ack } = split(raw);
        const [name, id] = args;
        ack?.(reasons.get(`${name}\0${id}`) ?? null);
      },

      // §6.4 cluster handlers, answered as the only node of a cluster
      "node-id"(...raw) {
        split(raw).ack?.(NODE_ID);
      },
      async "server-count"(...raw) {
        const { ack } = split(raw);
        ack?.(await ns.adapter.serverCount());
      },
      "set-data"(...raw) {
        const { args, done } = split(raw);
        socket.data = args[0];
        done();
      },
      async "fetch-sockets"(...raw) {
        const { args, ack } = split(raw);
        try {
          const sockets = await select(ns, args[0]).fetchSockets();
          const list = sockets
            .map((s) => ({
              id: s.id,
              rooms: [...s.rooms].filter((r) => r !== s.id).sort(),
              data: s.data,
              auth: s.handshake.auth,
            }))
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          ack?.(list);
        } catch (err) {
          ack?.({ error: err.message });
        }
      },
      "sockets-join"(...raw) {
        const { args, done } = split(raw);
        select(ns, args[0]).socketsJoin(args[1]);
        done();
      },
      "sockets-leave"(...raw) {
        const { args, done } = split(raw);
        select(ns, args[0]).socketsLeave(args[1]);
        done();
      },
      "disconnect-sockets"(...raw) {
        const { args, done } = split(raw);
        select(ns, args[0]).disconnectSockets(args[1] === true);
        done();
      },
      "emit-local"(...raw) {
        const { args, done } = split(raw);
        ns.local.emit(...args);
        done();
      },
      "server-side-emit"(...raw) {
        const { args, done } = split(raw);
        // single node: there is no other node to reach (the in-memory adapter would only warn)
        if (redisSub) ns.serverSideEmit("cluster-note", ...args);
        done();
      },
      "server-side-log"(...raw) {
        const { args, ack } = split(raw);
        const log = notes.get(ns.name) ?? [];
        ack?.(log.filter((a) => a[0] === args[0]));
      },
      "server-side-emit-with-ack"(...raw) {
        const { args, ack } = split(raw);
        // single node: no other node answers, so the list of answers is empty at once
        if (!redisSub) return ack?.([]);
        ns.serverSideEmit("cluster-ask", ...args, (err, responses) => {
          const sorted = byJson(responses ?? []);
          if (err) ack?.({ error: err.message, responses: sorted });
          else ack?.(sorted);
        });
      },
      "broadcast-with-ack"(...raw) {
        const { args, ack } = split(raw);
        const [selector, ms, event, ...rest] = args;
        select(ns, selector)
          .timeout(Number(ms))
          .emit(event, ...rest, (err, responses) => {
            const sorted = byJson(responses ?? []);
            if (err) ack?.({ error: err.message, responses: sorted });
            else ack?.(sorted);
          });
      },
    };

    for (const [event, fn] of Object.entries(handlers)) {
      socket.on(event, (...args) => {
        try {
          const r = fn(...args);
          if (r && typeof r.catch === "function") r.catch((e) => console.error(event, e));
        } catch (e) {
          console.error(`handler ${event}:`, e);
        }
      });
    }
  });
}

setupNamespace(io.of("/"));
setupNamespace(io.of("/custom"));
setupNamespace(io.of(/^\/dyn-[a-z0-9-]+$/));
const restricted = io.of("/restricted");
restricted.use((socket, next) => {
  if (socket.handshake.auth?.token === "let-me-in") return next();
  const err = new Error("not authorized");
  err.data = { code: 4001, hint: "send auth.token" };
  next(err);
});
setupNamespace(restricted);

// ---------------------------------------------------------------------------------------------
// HTTP routing, shared with tests/js/reference/engine-server.mjs

// Cluster mode: the adapters' subscriptions went out first on the subscriber connection;
// one more subscription, answered after them, tells they are all in place.
if (redisSub) {
  const marker = `conformance-ready-${process.pid}`;
  if (REDIS_KIND === "sharded") {
    await redisSub.sSubscribe(marker, () => {});
    await redisSub.sUnsubscribe(marker);
  } else {
    await redisSub.subscribe(marker, () => {});
    await redisSub.unsubscribe(marker);
  }
}

serveEngines([
  ["/engine.io/", echo],
  ["/socket.io/", engine],
]);
