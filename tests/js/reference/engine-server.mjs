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

import http from "node:http";
import { Server } from "engine.io";

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

const routes = [
  ["/engine.io/", echo],
  ["/socket.io/", plain],
];

function route(req) {
  for (const [prefix, engine] of routes) {
    // engine.io's own check: prefix match on the raw URL
    if (req.url.slice(0, prefix.length) === prefix) return engine;
  }
  return null;
}

function badEio(req) {
  const q = new URL(req.url, "http://x").searchParams;
  const eio = q.get("EIO");
  return eio !== "3" && eio !== "4";
}

const UNSUPPORTED = JSON.stringify({ code: 5, message: "Unsupported protocol version" });

const server = http.createServer((req, res) => {
  const engine = route(req);
  if (!engine) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not Found");
    return;
  }
  if (badEio(req) && req.method !== "OPTIONS") {
    res.writeHead(400, {
      "Content-Type": "application/json",
      "Access-Control-Allow-Origin": "*",
    });
    res.end(UNSUPPORTED);
    return;
  }
  engine.handleRequest(req, res);
});

server.on("upgrade", (req, socket, head) => {
  const engine = route(req);
  if (!engine || badEio(req)) {
    socket.on("error", () => {});
    const body = engine ? "Unsupported protocol version" : "Not Found";
    socket.end(
      `HTTP/1.1 ${engine ? "400 Bad Request" : "404 Not Found"}\r\n` +
        "Connection: close\r\nContent-type: text/html\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    return;
  }
  engine.handleUpgrade(req, socket, head);
});

server.on("close", () => {
  echo.close();
  plain.close();
});

const port = Number(process.env.PORT ?? 0);
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

function shutdown() {
  echo.close();
  plain.close();
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
