// Prints what notepack.io writes for a set of values, one per line: `<version>\t<hex>\t<json>`,
// for tests/redis_interop.rs to compare with sockio's encoder byte for byte. Binary values are
// written in the JSON as {"$bin": "<hex>"}. Both notepack.io versions of the tree: 3.0.1 (what
// @socket.io/redis-adapter and @socket.io/redis-emitter use) and 2.2.0 (socket.io-msgpack-parser).

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const v3 = createRequire(require.resolve("@socket.io/redis-adapter"))("notepack.io");
const v2 = require("notepack.io");

const bin = (n, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
const str = (n) => "x".repeat(n);
const arr = (n) => Array.from({ length: n }, (_, i) => i);
const map = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

const values = [
  null, true, false,
  0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991,
  -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991,
  // (integral floats beyond 2^64, which notepack.io writes as a zero uint64, are left out)
  0.5, -0.25, 1.1, -1e-300, 3.141592653589793, 2 ** 52 + 0.5, -(2 ** 40) - 0.5,
  "", "a", str(31), str(32), str(255), str(256), str(65535), str(65536), "é漢字🎉",
  [], arr(15), arr(16), arr(65535), arr(65536),
  {}, map(15), map(16), map(65536),
  bin(0), bin(1), bin(255), bin(256), bin(65535), bin(65536),
  ["uid", { type: 2, data: ["ev", bin(3), { nested: [bin(2, 9), null, 1.5] }], nsp: "/chat" }, { rooms: ["a"], except: [], flags: { volatile: true } }],
  { type: 9, requestId: "abcdef", packet: { deep: { deeper: [[[]]] } } },
];

function toJson(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("hex") };
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

for (const [version, lib] of [["3", v3], ["2", v2]]) {
  for (const v of values) {
    process.stdout.write(`${version}\t${Buffer.from(lib.encode(v)).toString("hex")}\t${JSON.stringify(toJson(v))}\n`);
  }
}
