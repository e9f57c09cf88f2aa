// examples/binary.rs: `bytes::Bytes` fields of serde structs travel as binary both ways —
// a file sent on connection, an upload answered with bytes in the acknowledgement.
//
//   cargo run --example binary &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/binary.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { call, isBinary, toBuffer, exitWhenDone } from "../lib/sio.mjs";
import { connected } from "../lib/example.mjs";

exitWhenDone(after, "examples/binary");

const T = { timeout: 10_000 };

/** Checks that `data` arrived as binary (not text, not an array of numbers) with `bytes`. */
function assertBytes(data, bytes) {
  assert.ok(isBinary(data), `not binary: ${typeof data} ${JSON.stringify(data)}`);
  assert.deepEqual([...toBuffer(data)], bytes);
}

test("the server sends a file with binary data on connection", T, async (t) => {
  const { rec } = await connected(t);
  const [file] = await rec.next("file", 3000);
  assert.deepEqual(Object.keys(file), ["name", "data"]);
  assert.equal(file.name, "greeting.bin");
  assertBytes(file.data, [0xde, 0xad, 0xbe, 0xef]);
});

test("an upload is answered with binary data in the acknowledgement", T, async (t) => {
  const { socket } = await connected(t);
  const data = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a]);
  const receipt = await call(socket, "upload", { name: "a.bin", data });
  assert.equal(receipt.name, "a.bin");
  assert.equal(receipt.size, 6);
  assertBytes(receipt.reversed, [0x0a, 0xff, 0x80, 0x7f, 0x01, 0x00]);
});

test("any binary type the client has is bytes on the server, whatever its size", T, async (t) => {
  const { socket } = await connected(t);
  const big = Buffer.alloc(100_000);
  for (let i = 0; i < big.length; i += 1) big[i] = (i * 7) % 256;
  const cases = [
    ["empty", Buffer.alloc(0)],
    ["array-buffer", new Uint8Array([1, 2, 3]).buffer],
    ["typed-array", new Uint8Array([9, 8])],
    ["big", big],
  ];
  for (const [name, data] of cases) {
    const bytes = [...toBuffer(data)];
    const receipt = await call(socket, "upload", { name, data });
    assert.equal(receipt.size, bytes.length, name);
    assertBytes(receipt.reversed, bytes.reverse());
  }
});

test("an upload without its fields is refused", T, async (t) => {
  const { socket } = await connected(t);
  for (const bad of [{ name: "no-data.bin" }, { data: Buffer.from([1]) }, "a string", 42]) {
    const reply = await call(socket, "upload", bad);
    assert.match(reply.error, /expected \{ name, data \}/, JSON.stringify(bad));
  }
});
