// Helpers for tests/js/examples/*.test.mjs. Each of those files drives one of sockio's
// examples (examples/<name>.rs, started by tests/examples.rs) at $SOCKIO_URL with
// socket.io-client 4.8 and its default options (long-polling, then the upgrade to
// WebSocket), the way a user of the example would.

import { io } from "socket.io-client";
import { serverUrl, record, once } from "./sio.mjs";

/**
 * Opens a client on namespace `nsp` (its own connection), closed when test `t` ends.
 * Returns `{ socket, rec }` at once; `rec` records every event the client receives
 * (see `record` in sio.mjs), from the start, so events emitted on connection are kept.
 */
export function client(t, nsp = "/", opts = {}) {
  const socket = io(serverUrl() + nsp, {
    forceNew: true,
    reconnection: false,
    timeout: 3000,
    ...opts,
  });
  const rec = record(socket);
  t.after(() => socket.disconnect());
  return { socket, rec };
}

/** Opens a client and waits until it is connected (fails on `connect_error`). */
export async function connected(t, nsp = "/", opts = {}) {
  const c = client(t, nsp, opts);
  await once(c.socket, "connect", 3000, ["connect_error"]);
  return c;
}

/** Connects `n` clients to `nsp` at once. */
export function connectedMany(t, n, nsp = "/", opts = {}) {
  return Promise.all(Array.from({ length: n }, () => connected(t, nsp, opts)));
}
