// The HTTP front shared by the reference servers: routes requests to engine.io servers by
// path prefix (engine.io's own check, on the raw URL), refuses EIO values other than
// "3" / "4" up front with 400 code 5 as the conformance server must (stock engine.io with
// allowEIO3 would treat them as v3), answers 404 elsewhere, listens on 127.0.0.1:$PORT
// (0 = any free port), prints `listening <port>`, and stops on SIGTERM / SIGINT.

import http from "node:http";

const UNSUPPORTED = JSON.stringify({ code: 5, message: "Unsupported protocol version" });

function badEio(req) {
  const eio = new URL(req.url, "http://x").searchParams.get("EIO");
  return eio !== "3" && eio !== "4";
}

/** Serves `routes` ([[prefix, engine.io Server], ...]); returns the http.Server. */
export function serveEngines(routes) {
  const route = (req) => {
    for (const [prefix, engine] of routes) {
      if (req.url.slice(0, prefix.length) === prefix) return engine;
    }
    return null;
  };
  const closeEngines = () => routes.forEach(([, engine]) => engine.close());

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

  server.on("close", closeEngines);

  const port = Number(process.env.PORT ?? 0);
  server.listen(port, "127.0.0.1", () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });

  const shutdown = () => {
    closeEngines();
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  return server;
}
