// The chat page of `sockio serve` in a real browser: Debian's chromium, headless, driven
// by playwright-core, for crates/sockio-cli/tests/serve.rs (which owns the server and
// stops and restarts it when asked with `@@stop` / `@@start`).
//
// Three pages: alice and bob in room "general", carol in "random". Checked: a refused
// nickname shows the server's message; joining several rooms at once; a room message
// reaches the room and not carol; its sender gets the tick (the server's ack); "typing"
// shows on the room's other page and hides again; a private message reaches only its
// target (and its tick means the target's page acknowledged it); an announcement reaches
// everybody; the server stopping shows "reconnecting n", its return "connected", and the
// conversation goes on. Screenshots go to SCREENSHOT_DIR.

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ask, run } from "./control.mjs";

const url = process.env.SOCKIO_URL;
const shots = process.env.SCREENSHOT_DIR;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const WAIT = { timeout: 15_000 };

run(async () => {
  if (shots) mkdirSync(shots, { recursive: true });
  const userDataDir = mkdtempSync(path.join(tmpdir(), "sockio-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    await scenario(context);
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});

async function screenshot(page, name) {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function open(context, nickname) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${nickname} page error] ${e.message}`));
  await page.goto(url);
  await page.fill("#nickname", nickname);
  await page.click("#connect");
  return page;
}

async function login(context, nickname) {
  const page = await open(context, nickname);
  await page.waitForSelector('#state[data-state="connected"]', WAIT);
  await page.waitForSelector("#chat:not([hidden])", WAIT);
  assert.equal(await page.textContent("#me"), `you are ${nickname}`);
  return page;
}

async function joinRooms(page, rooms) {
  await page.fill("#rooms-input", rooms);
  await page.click("#join");
  const expected = rooms.split(",").map((r) => r.trim()).sort();
  await page.waitForFunction(
    (want) => [...document.querySelectorAll("#my-rooms li")].map((li) => li.textContent).join() === want.join(),
    expected,
    WAIT
  );
}

/** Sends `text` to `target` (an option value of #target) and waits for its tick. */
async function send(page, target, text) {
  await page.selectOption("#target", target);
  await page.fill("#text", text);
  await page.click("#send");
  const own = page.locator("#log li.msg.own", { hasText: text }).last();
  await own.locator(".tick", { hasText: "✓" }).waitFor(WAIT);
}

/** Waits for a message holding `text` in `page`'s conversation. */
async function receives(page, text) {
  await page.locator("#log li.msg:not(.own)", { hasText: text }).first().waitFor(WAIT);
}

async function texts(page) {
  return page.$$eval("#log li.msg .text", (els) => els.map((e) => e.textContent));
}

async function idOf(page, nickname) {
  const li = page.locator("#users li", { hasText: nickname }).first();
  await li.waitFor(WAIT);
  return li.getAttribute("data-id");
}

async function scenario(context) {
  const alice = await login(context, "alice");
  const bob = await login(context, "bob");
  const carol = await login(context, "carol");

  // Everybody online, on every page.
  for (const page of [alice, bob, carol]) {
    await page.waitForFunction(
      () => [...document.querySelectorAll("#users li")].map((li) => li.textContent.replace(" (you)", "")).join() === "alice,bob,carol",
      null,
      WAIT
    );
  }

  // A refused nickname: the server's own message, and no connection.
  const taken = await open(context, "Alice");
  await taken.waitForSelector("#error:not([hidden])", WAIT);
  assert.equal(await taken.textContent("#error"), 'nickname "alice" is taken');
  assert.equal(await taken.textContent("#state"), "disconnected");
  assert.ok(await taken.isHidden("#chat"));
  await screenshot(taken, "01-nickname-taken");
  await taken.fill("#nickname", "   ");
  await taken.click("#connect");
  await taken.waitForFunction(() => document.getElementById("error").textContent === "a nickname is required", null, WAIT);
  await taken.close();

  // Rooms, several at once.
  await joinRooms(alice, "general, rust");
  await joinRooms(bob, "general");
  await joinRooms(carol, "random");

  // To a room: bob gets it, carol does not.
  await send(alice, "room:general", "hello general");
  await receives(bob, "hello general");
  const fromAlice = bob.locator("#log li.msg", { hasText: "hello general" });
  assert.equal(await fromAlice.getAttribute("data-room"), "general");
  assert.match(await fromAlice.textContent(), /\[#general\]alice:hello general/);
  await send(bob, "room:general", "hi alice");
  await receives(alice, "hi alice");
  await screenshot(alice, "02-room-message");

  // Typing: shown on alice's page (same room), not on carol's; hidden when bob stops.
  await bob.selectOption("#target", "room:general");
  await bob.locator("#text").pressSequentially("I am wri", { delay: 30 });
  await alice.waitForFunction(() => document.getElementById("typing").textContent === "bob is typing in #general", null, WAIT);
  await screenshot(alice, "03-typing");
  assert.equal(await carol.textContent("#typing"), "");
  await alice.waitForFunction(() => document.getElementById("typing").textContent === "", null, WAIT);
  await bob.fill("#text", "");

  // Private: only carol gets it; alice's tick means carol's page acknowledged it.
  const carolId = await idOf(alice, "carol");
  await send(alice, `user:${carolId}`, "psst carol");
  await receives(carol, "psst carol");
  const whisper = carol.locator("#log li.msg", { hasText: "psst carol" });
  assert.equal(await whisper.getAttribute("data-kind"), "private");
  await screenshot(carol, "04-private-message");

  // To everybody: bob and carol. Packets keep their order on a connection, so once it
  // is there, whatever was sent to them before is there too.
  await send(alice, "all", "hello everybody");
  await receives(bob, "hello everybody");
  await receives(carol, "hello everybody");
  assert.ok(!(await texts(carol)).includes("hello general"), "carol is not in general");
  assert.ok(!(await texts(carol)).includes("hi alice"), "carol is not in general");
  assert.ok(!(await texts(bob)).includes("psst carol"), "the private message went to carol only");

  // The server stops: the pages are told, then try to reconnect.
  await ask("stop");
  for (const page of [alice, bob, carol]) {
    await page.locator("#log li.notice", { hasText: "server shutting down" }).waitFor(WAIT);
    await page.waitForFunction(() => /^reconnecting \d+$/.test(document.getElementById("state").textContent), null, WAIT);
  }
  await screenshot(alice, "05-reconnecting");

  // It is back: connected again, rooms joined again, the conversation goes on.
  await ask("start");
  for (const page of [alice, bob, carol]) {
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 30_000 });
  }
  await alice.waitForFunction(
    () => [...document.querySelectorAll("#users li")].length === 3,
    null,
    WAIT
  );
  await send(bob, "room:general", "still here?");
  await receives(alice, "still here?");
  await send(alice, "room:general", "yes!");
  await receives(bob, "yes!");
  assert.ok(!(await texts(carol)).includes("still here?"));
  await screenshot(alice, "06-after-restart");
  await screenshot(bob, "06-after-restart-bob");
}
