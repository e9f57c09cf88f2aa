// The client benchmark on Node: N socket.io-client 4.8 clients in one process against a
// bench server (docs/benchmark-contract.md), each with its own WebSocket connection, each
// emitting `echo` with an acknowledgement in a loop for DURATION seconds. Prints one JSON
// object like bench/clients (RSS per client measured idle; acks per CPU-second).
//   PORT=3900 CLIENTS=1000 DURATION=5 node clients.mjs
import { io } from "socket.io-client";

const port = Number(process.env.PORT || 3900);
const clients = Number(process.env.CLIENTS || 1000);
const duration = Number(process.env.DURATION || 5) * 1000;
const url = `http://127.0.0.1:${port}/`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rssBefore = process.memoryUsage().rss;
const sockets = [];
let errors = 0;
for (let i = 0; i < clients; i += 128) {
  const batch = [];
  for (let j = i; j < Math.min(clients, i + 128); j++) {
    batch.push(
      new Promise((resolve) => {
        const s = io(url, { forceNew: true, transports: ["websocket"], reconnection: false });
        s.once("connect", () => resolve(s));
        s.once("connect_error", () => {
          errors++;
          resolve(null);
        });
      }),
    );
  }
  for (const s of await Promise.all(batch)) if (s) sockets.push(s);
}
await sleep(1000);
const rssIdle = process.memoryUsage().rss;
let acks = 0;
const cpu0 = process.cpuUsage();
const start = Date.now();
const end = start + duration;
await Promise.all(
  sockets.map(async (s) => {
    while (Date.now() < end) {
      try {
        await s.timeout(10000).emitWithAck("echo", { p: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" });
        acks++;
      } catch {}
    }
  }),
);
const wall = (Date.now() - start) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSecs = (cpu.user + cpu.system) / 1e6;
for (const s of sockets) s.disconnect();
console.log(
  JSON.stringify({
    client: "node-client",
    clients,
    connected: sockets.length,
    connect_errors: errors,
    rss_kib_per_client: sockets.length ? (rssIdle - rssBefore) / 1024 / sockets.length : 0,
    acks,
    duration_secs: wall,
    cpu_secs: cpuSecs,
    acks_per_cpu_sec: cpuSecs > 0 ? acks / cpuSecs : 0,
  }),
);
process.exit(0);
