// socket.io 4.8 on Node: the benchmark peer of docs/benchmark-contract.md.
// Default options (no compression, default heartbeat), path /socket.io/, namespace "/" only.
// With REDIS_URL (the cluster benchmark): one node of a cluster through
// @socket.io/redis-adapter (REDIS_ADAPTER=classic|sharded, REDIS_KEY), node-redis clients.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { Server } from "socket.io";

function socketIoVersion() {
  try {
    const url = new URL("./node_modules/socket.io/package.json", import.meta.url);
    return JSON.parse(readFileSync(url, "utf8")).version;
  } catch {
    return "?";
  }
}

const port = Number.parseInt(process.env.PORT ?? "3900", 10);
const host = "127.0.0.1";

const httpServer = createServer();
const io = new Server(httpServer);

if (process.env.REDIS_URL) {
  const { createClient } = await import("redis");
  const { createAdapter, createShardedAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => process.stderr.write(`redis: ${e}\n`));
  await Promise.all([pub.connect(), sub.connect()]);
  const key = process.env.REDIS_KEY ?? "socket.io";
  io.adapter(
    process.env.REDIS_ADAPTER === "sharded"
      ? createShardedAdapter(pub, sub, { channelPrefix: key })
      : createAdapter(pub, sub, { key }),
  );
}

io.on("connection", (socket) => {
  socket.on("join", (...args) => {
    socket.join("bench");
    const ack = args[args.length - 1];
    if (typeof ack === "function") ack("ok");
  });
  socket.on("broadcast", (payload) => {
    io.to("bench").emit("msg", payload);
  });
  socket.on("echo", (payload, ack) => {
    if (typeof ack === "function") ack(payload);
  });
});

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));

httpServer.listen(port, host, () => {
  process.stderr.write(
    `bench-server (socket.io ${socketIoVersion()} on node ${process.version}) listening on ${host}:${port}\n`,
  );
});
