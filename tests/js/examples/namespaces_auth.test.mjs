// examples/namespaces_auth.rs: `/` open to all, `/admin` behind a connection middleware
// that refuses with `err.message` and `err.data`, and namespaces sharing one connection.
//
//   cargo run --example namespaces_auth &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/namespaces_auth.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { call, once, record, serverUrl, exitWhenDone } from "../lib/sio.mjs";
import { client, connected } from "../lib/example.mjs";

exitWhenDone(after, "examples/namespaces_auth");

const T = { timeout: 10_000 };

/** The `connect_error` a client of `/admin` gets with `opts`; fails if it connects. */
async function refusal(t, opts) {
  const { socket, rec } = client(t, "/admin", opts);
  const [err] = await once(socket, "connect_error", 3000, ["connect"]);
  assert.equal(socket.connected, false);
  assert.equal(rec.count("welcome"), 0);
  return err;
}

test("anyone connects to /", T, async (t) => {
  const { rec } = await connected(t, "/");
  assert.deepEqual(await rec.next("welcome", 3000), ["welcome to /"]);
});

test("/admin without a token: connect_error with message and data", T, async (t) => {
  for (const opts of [{}, { auth: { name: "alice" } }, { auth: { token: 42 } }]) {
    const err = await refusal(t, opts);
    assert.equal(err.message, "not authorized", JSON.stringify(opts));
    assert.deepEqual(err.data, { code: 4001, hint: "send auth.token" }, JSON.stringify(opts));
  }
});

test("/admin with an unknown token: another code in err.data", T, async (t) => {
  const err = await refusal(t, { auth: { token: "mallory-token" } });
  assert.equal(err.message, "not authorized");
  assert.deepEqual(err.data, { code: 4003, hint: "unknown token" });
});

test("/admin with a known token: the user the middleware found", T, async (t) => {
  const alice = await connected(t, "/admin", { auth: { token: "alice-token" } });
  assert.deepEqual(await alice.rec.next("welcome", 3000), ["welcome, alice"]);
  const bob = await connected(t, "/admin", { auth: { token: "bob-token" } });
  assert.deepEqual(await bob.rec.next("welcome", 3000), ["welcome, bob"]);
  const stats = await call(alice.socket, "stats");
  assert.equal(stats.admins, 2);
});

test("a refused client fixes its auth and retries; its other namespace keeps working", T, async (t) => {
  // One Manager: both namespaces share one connection.
  const manager = new Manager(serverUrl(), { reconnection: false, timeout: 3000 });
  const main = manager.socket("/");
  const admin = manager.socket("/admin", { auth: { token: "wrong" } });
  t.after(() => {
    admin.disconnect();
    main.disconnect(); // the last socket of the Manager closes the connection
  });
  const mainRec = record(main);
  const adminRec = record(admin);

  await once(main, "connect", 3000, ["connect_error"]);
  const [err] = await once(admin, "connect_error", 3000, ["connect"]);
  assert.deepEqual(err.data, { code: 4003, hint: "unknown token" });
  assert.deepEqual(await mainRec.next("welcome", 3000), ["welcome to /"]);

  admin.auth = { token: "alice-token" };
  admin.connect();
  await once(admin, "connect", 3000, ["connect_error"]);
  assert.deepEqual(await adminRec.next("welcome", 3000), ["welcome, alice"]);
  assert.equal(main.io, admin.io);
  assert.equal(main.connected, true);

  // `/admin` counts the clients of `/` too.
  const stats = await call(admin, "stats");
  assert.ok(stats.public >= 1 && stats.admins >= 1, JSON.stringify(stats));
});
