// Reference Engine.IO server (npm engine.io 6.6) with the conformance settings of
// /work/shared/spec/conformance-server.md §1–§3:
//
//   /engine.io/  bare Engine.IO echo: every message is sent straight back
//                (text as text, binary as binary)
//   /socket.io/  plain Engine.IO with the same settings and no handler
//   anything else → 404
//
// Listens on 127.0.0.1:$PORT (default 0 = any free port) and prints
// `listening <port>` on stdout once ready. Stop it with SIGTERM / SIGINT.
//
//   node tests/js/reference/engine-server.mjs
//
// Like the conformance server, EIO values other than "3" / "4" are refused up front
// with 400 {"code":5,"message":"Unsupported protocol version"} (stock engine.io with
// allowEIO3 would treat them as v3).

import { Server } from "engine.io";
import { serveEngines } from "./http-front.mjs";

const SETTINGS = {
  allowEIO3: true,
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
};

const echo = new Server({ ...SETTINGS, path: "/engine.io/" });
const plain = new Server({ ...SETTINGS, path: "/socket.io/" });

echo.on("connection", (socket) => {
  socket.on("message", (data) => {
    socket.send(data);
  });
});

serveEngines([
  ["/engine.io/", echo],
  ["/socket.io/", plain],
]);
