// examples/broadcast_acks.rs: a poll asks every connected client at once
// (`io.timeout(1 s).emit_with_ack`) and counts the votes; when a client keeps quiet or
// leaves, the votes that came are still counted (`BroadcastAckError::responses`).
//
//   cargo run --example broadcast_acks &   # then
//   SOCKIO_URL=http://127.0.0.1:3000 node --test tests/js/examples/broadcast_acks.test.mjs
//
// A poll goes to every client of the server, so the cases run one after the other with
// the same voters (connected once, in `before`); each voter answers as `voter.answer`
// says.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { callAllWithin, once, exitWhenDone } from "../lib/sio.mjs";
import { client } from "../lib/example.mjs";

exitWhenDone(after, "examples/broadcast_acks");

const T = { timeout: 10_000 };

/**
 * A connected client that votes with `answer(question)` (`undefined`: no answer); its
 * closing goes to `closers`, run after the last case.
 */
async function voter(closers, answer) {
  const v = { ...client({ after: (close) => closers.push(close) }), answer, questions: [] };
  v.socket.on("vote", (question, reply) => {
    v.questions.push(question);
    const vote = v.answer(question);
    if (vote !== undefined) reply(vote);
  });
  await once(v.socket, "connect", 3000, ["connect_error"]);
  return v;
}

/** Asks for a poll from `v`; resolves with the tally and how long it took. */
async function poll(v, question) {
  const started = Date.now();
  const [tally] = await callAllWithin(5000, v.socket, "poll", question);
  return { tally, ms: Date.now() - started };
}

describe("a poll of every client", () => {
  const closers = [];
  let alice, bob, carol;

  before(async () => {
    [alice, bob, carol] = await Promise.all([
      voter(closers, () => "yes"),
      voter(closers, () => "yes"),
      voter(closers, () => "no"),
    ]);
  });
  after(() => closers.forEach((close) => close()));

  it("every client answers: every vote, complete, without waiting for the timeout", T, async () => {
    const { tally, ms } = await poll(alice, "Pizza tonight?");
    assert.deepEqual(tally, { votes: { no: 1, yes: 2 }, complete: true });
    assert.ok(ms < 900, `the poll took ${ms} ms though everyone answered`);
    for (const v of [alice, bob, carol]) assert.deepEqual(v.questions, ["Pizza tonight?"]);
  });

  it("a quiet client: after 1 s, the votes that came, not complete", T, async () => {
    carol.answer = () => undefined;
    const { tally, ms } = await poll(bob, "Sushi?");
    assert.deepEqual(tally, { votes: { yes: 2 }, complete: false });
    assert.ok(ms >= 950, `the poll ended after ${ms} ms, before its 1 s timeout`);
    assert.deepEqual(carol.questions, ["Pizza tonight?", "Sushi?"]);
  });

  it("answers that are not text are not votes", T, async () => {
    carol.answer = () => ({ maybe: true });
    bob.answer = () => "no";
    const { tally } = await poll(carol, "Tacos?");
    assert.deepEqual(tally, { votes: { no: 1, yes: 1 }, complete: true });
  });

  it("a poll without a question is refused, and nobody is asked", T, async () => {
    const [reply] = await callAllWithin(3000, alice.socket, "poll", { not: "a question" });
    assert.deepEqual(reply, { error: "expected a question" });
    const { tally } = await poll(alice, "Still there?");
    assert.equal(tally.complete, true);
    for (const v of [alice, bob, carol]) assert.equal(v.questions.at(-1), "Still there?");
    assert.equal(alice.questions.length, 4);
  });

  it("a client that leaves instead of voting: the others' votes, not complete", T, async () => {
    bob.answer = () => {
      bob.socket.disconnect();
      return undefined;
    };
    carol.answer = () => "no";
    const { tally } = await poll(alice, "Last one?");
    assert.deepEqual(tally, { votes: { no: 1, yes: 1 }, complete: false });
  });
});
