// The scripts of this folder are driven by crates/sockio-cli/tests/serve.rs, which owns
// the `sockio serve` process. A script asks it for something (scrape /metrics and check
// it, stop the server, start it again) with a line `@@<command>` on stdout, and waits for
// the answer on stdin: `ok`, or the reason it failed.

import readline from "node:readline";

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();

/** Asks the Rust test for `command`; throws with its answer unless it is `ok`. */
export async function ask(command) {
  process.stdout.write(`@@${command}\n`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`no answer to ${command}`);
  if (value !== "ok") throw new Error(`${command}: ${value}`);
}

/** Runs `main`, then exits: 0 when it resolved, 1 (with the error) when it threw. */
export function run(main) {
  const timer = setTimeout(() => {
    console.error("timed out after 120 s");
    process.exit(1);
  }, 120_000);
  main().then(
    () => {
      clearTimeout(timer);
      rl.close();
      console.log("1 passed, 0 failed");
      process.exit(0);
    },
    (e) => {
      console.error(e && e.stack ? e.stack : e);
      process.exit(1);
    }
  );
}

/** Waits until `f()` is true (polling every 20 ms), at most `ms`. */
export async function until(f, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
