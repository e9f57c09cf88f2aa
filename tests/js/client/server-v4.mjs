// A socket.io 4.8 server for the Rust client's tests (crates/sockio-client/tests).
// Listens on 127.0.0.1:$PORT (0: any free port) and prints "listening <port>".
// Heartbeat 300 ms / 200 ms so that the tests see heartbeats and timeouts quickly.

import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 0);
const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 300, pingTimeout: 200 });

const records = [];
const attempts = new Map();

function setup(socket) {
  // Acks with whatever was sent.
  socket.on("echo", (...args) => {
    const cb = args.pop();
    if (typeof cb === "function") cb(...args);
  });
  socket.on("bounce", (...args) => socket.emit("bounced", ...args));
  // Nested binary arrives as Buffers: answer with the paths that hold one.
  socket.on("binary-paths", (arg, cb) => {
    const paths = [];
    const walk = (v, path) => {
      if (Buffer.isBuffer(v)) paths.push(path);
      else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else if (v && typeof v === "object") for (const k of Object.keys(v)) walk(v[k], `${path}.${k}`);
    };
    walk(arg, "$");
    cb(paths);
  });
  // The server asks the client and reports what came back.
  socket.on("ask-me", () => {
    socket.timeout(2000).emit("question", "q", Buffer.from([9]), (err, ...answer) => {
      socket.emit("answer-was", err ? `error: ${err.message}` : JSON.stringify(answer));
    });
  });
  socket.on("auth-please", (cb) => cb(socket.handshake.auth));
  socket.on("handshake-please", (cb) =>
    cb({ query: socket.handshake.query, headers: socket.handshake.headers }),
  );
  socket.on("engine-id", (cb) => cb(socket.conn.id));
  socket.on("transport-please", (cb) => cb(socket.conn.transport.name));
  socket.on("kick-me", () => socket.disconnect());
  socket.on("send-me", () => socket.send("a message"));
  socket.on("slow", () => {});
  socket.on("record", (s) => records.push(s));
  socket.on("records", (cb) => cb(records.splice(0)));
  // Acknowledged from the second delivery of each key on: the client must retry.
  socket.on("flaky", (key, cb) => {
    const n = (attempts.get(key) || 0) + 1;
    attempts.set(key, n);
    if (n >= 2) cb("ok", n);
  });
  // Volatile emits from the server while the client may be unable to take them.
  socket.on("volatile-please", () => socket.volatile.emit("volatile", 1));
}

io.on("connection", setup);
io.of("/admin").on("connection", setup);
io.of("/private").use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "good") return next();
  const err = new Error("not authorized");
  err.data = { code: 42, auth: socket.handshake.auth };
  next(err);
});
io.of("/private").on("connection", setup);

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
