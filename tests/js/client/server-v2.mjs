// A socket.io 2.5 server (Engine.IO 3) for the Rust client's tests.
// Listens on 127.0.0.1:$PORT (0: any free port) and prints "listening <port>".

import { createServer } from "node:http";
import ioV2 from "socket.io-v2";

const port = Number(process.env.PORT || 0);
const httpServer = createServer();
const io = ioV2(httpServer, { pingInterval: 300, pingTimeout: 200 });

function setup(socket) {
  socket.on("echo", (...args) => {
    const cb = args.pop();
    if (typeof cb === "function") cb(...args);
  });
  socket.on("bounce", (...args) => socket.emit("bounced", ...args));
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
  socket.on("ask-me", () => {
    socket.emit("question", "q", Buffer.from([9]), (...answer) => {
      socket.emit("answer-was", JSON.stringify(answer));
    });
  });
  socket.on("query-please", (cb) => cb(socket.handshake.query));
  socket.on("id-please", (cb) => cb(socket.id));
  socket.on("kick-me", () => socket.disconnect());
}

io.on("connection", setup);
io.of("/admin").on("connection", setup);
io.of("/private").use((socket, next) => {
  if (socket.handshake.query.token === "good") return next();
  next(new Error("not authorized"));
});
io.of("/private").on("connection", setup);

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
