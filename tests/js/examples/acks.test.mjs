// examples/acks.rs: the server answers a client's acknowledgement (`sum`), and asks the
// client with a 1 s timeout (`quiz` → `question`), telling an answer from a timeout.
//
//   cargo run --example acks &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/acks.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { call, callAllWithin, exitWhenDone } from "../lib/sio.mjs";
import { connected } from "../lib/example.mjs";

exitWhenDone(after, "examples/acks");

const T = { timeout: 10_000 };

test("the server answers the client's acknowledgement", T, async (t) => {
  const { socket } = await connected(t);
  assert.deepEqual(await call(socket, "sum", [1, 2, 3]), { sum: 6 });
  assert.deepEqual(await call(socket, "sum", []), { sum: 0 });
  assert.deepEqual(await call(socket, "sum", [-5, 5, 40]), { sum: 40 });
  // socket.io-client's own promise form, with a callback and with emitWithAck.
  assert.deepEqual(await socket.emitWithAck("sum", [20, 22]), { sum: 42 });
  const viaCallback = await new Promise((resolve) => socket.emit("sum", [7], resolve));
  assert.deepEqual(viaCallback, { sum: 7 });
});

test("bad input gets an error in the acknowledgement", T, async (t) => {
  const { socket } = await connected(t);
  for (const bad of ["1, 2", [1, "2"], [1.5], { a: 1 }]) {
    assert.match((await call(socket, "sum", bad)).error, /expected a list of integers/, JSON.stringify(bad));
  }
  assert.deepEqual(await call(socket, "sum", [2 ** 62, 2 ** 62]), {
    error: "overflow",
  });
});

test("the server asks, the client answers in time", T, async (t) => {
  const { socket } = await connected(t);
  const questions = [];
  socket.on("question", (question, answer) => {
    questions.push(question);
    answer(42);
  });
  assert.deepEqual(await call(socket, "quiz"), { answer: 42 });
  assert.deepEqual(questions, ["What is 6 × 7?"]);
});

test("an answer that is not a number", T, async (t) => {
  const { socket } = await connected(t);
  socket.on("question", (_question, answer) => answer("forty-two"));
  assert.deepEqual(await call(socket, "quiz"), { error: "expected a number" });
});

test("the client doesn't answer: the server's wait times out after 1 s", T, async (t) => {
  const { socket } = await connected(t);
  let asked = 0;
  socket.on("question", () => {
    asked += 1; // and no answer
  });
  const started = Date.now();
  const [reply] = await callAllWithin(5000, socket, "quiz");
  const waited = Date.now() - started;
  assert.deepEqual(reply, { error: "operation has timed out" });
  assert.equal(asked, 1);
  assert.ok(waited >= 950, `timed out after ${waited} ms, before the 1 s timeout`);
  assert.ok(waited < 4000, `timed out after ${waited} ms`);
});

test("an answer after the timeout is ignored, and the socket goes on", T, async (t) => {
  const { socket } = await connected(t);
  let late;
  socket.once("question", (_question, answer) => {
    late = answer; // answered only once the server gave up
  });
  const [reply] = await callAllWithin(5000, socket, "quiz");
  assert.deepEqual(reply, { error: "operation has timed out" });
  late(42);
  socket.on("question", (_question, answer) => answer(42));
  assert.deepEqual(await call(socket, "quiz"), { answer: 42 });
});
