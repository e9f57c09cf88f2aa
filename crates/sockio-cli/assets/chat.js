// The chat page of `sockio serve`: plain JavaScript over the official socket.io-client
// (the global `io`, loaded from the server by index.html). The events it uses are
// described in crates/sockio-cli/src/serve/chat.rs.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  // This page's own id: reconnecting with it takes the nickname back at once.
  const token = Math.random().toString(36).slice(2) + Date.now().toString(36);

  let socket = null;
  let me = null; // { id, nickname }
  let users = []; // [{ id, nickname }]
  let myRooms = []; // room names, as the server last said
  const typers = new Map(); // "room\u0000nickname" -> timer hiding it
  let typingIn = null; // the room this page says it is typing in
  let typingTimer = null;

  function setState(text, state) {
    $("state").textContent = text;
    $("state").dataset.state = state;
  }

  function showError(text) {
    $("error").textContent = text;
    $("error").hidden = !text;
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function scrollDown() {
    const log = $("log");
    log.scrollTop = log.scrollHeight;
  }

  function addNotice(text) {
    $("log").append(el("li", "notice", text));
    scrollDown();
  }

  function nicknameOf(id) {
    const u = users.find((u) => u.id === id);
    return u ? u.nickname : id;
  }

  // One line of the conversation; returns its tick (for our own messages).
  function addMessage({ kind, room, from, text, to }, own) {
    const li = el("li", own ? "msg own" : "msg");
    li.dataset.kind = kind;
    if (room) li.dataset.room = room;
    let meta;
    if (kind === "room") meta = `#${room}`;
    else if (kind === "all") meta = "to everybody";
    else meta = own ? `private to ${nicknameOf(to)}` : "private";
    li.append(el("span", "meta", `[${meta}]`), el("span", "from", `${from}:`), el("span", "text", text));
    let tick = null;
    if (own) {
      tick = el("span", "tick", "…");
      tick.title = "sending";
      li.append(tick);
    }
    $("log").append(li);
    scrollDown();
    return { li, tick };
  }

  function renderUsers() {
    const list = $("users");
    list.replaceChildren();
    for (const u of users) {
      const li = el("li", me && u.id === me.id ? "me" : "", u.nickname + (me && u.id === me.id ? " (you)" : ""));
      li.dataset.id = u.id;
      li.title = me && u.id === me.id ? "you" : `send a private message to ${u.nickname}`;
      li.addEventListener("click", () => {
        if (me && u.id === me.id) return;
        $("target").value = `user:${u.id}`;
        $("text").focus();
      });
      list.append(li);
    }
  }

  function renderRooms() {
    const list = $("my-rooms");
    list.replaceChildren(...myRooms.map((r) => el("li", "", r)));
  }

  // The choices of whom to write to: the rooms joined, everybody, each other person.
  function renderTargets() {
    const select = $("target");
    const previous = select.value;
    const options = myRooms.map((r) => [`room:${r}`, `#${r}`]);
    options.push(["all", "everybody"]);
    for (const u of users) {
      if (!me || u.id !== me.id) options.push([`user:${u.id}`, `@${u.nickname} (private)`]);
    }
    select.replaceChildren(
      ...options.map(([value, label]) => {
        const o = el("option", "", label);
        o.value = value;
        return o;
      })
    );
    if (options.some(([value]) => value === previous)) select.value = previous;
  }

  function renderTyping() {
    const byRoom = new Map();
    for (const key of typers.keys()) {
      const [room, nickname] = key.split("\u0000");
      if (!byRoom.has(room)) byRoom.set(room, []);
      byRoom.get(room).push(nickname);
    }
    const parts = [];
    for (const [room, names] of byRoom) {
      parts.push(`${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing in #${room}`);
    }
    $("typing").textContent = parts.join(" · ");
  }

  function setTyper(room, nickname, typing) {
    const key = `${room}\u0000${nickname}`;
    clearTimeout(typers.get(key));
    if (typing) {
      // Volatile: a lost "stopped typing" must not stay forever.
      typers.set(key, setTimeout(() => setTyper(room, nickname, false), 5000));
    } else {
      typers.delete(key);
    }
    renderTyping();
  }

  function applyRooms(reply) {
    if (reply && reply.error) {
      showError(reply.error);
      return;
    }
    if (reply && Array.isArray(reply.rooms)) {
      myRooms = reply.rooms;
      renderRooms();
      renderTargets();
    }
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingIn && socket && socket.connected) {
      socket.volatile.emit("typing", { room: typingIn, typing: false });
    }
    typingIn = null;
  }

  function onInput() {
    const target = $("target").value;
    if (!socket || !socket.connected || !target.startsWith("room:")) return;
    const room = target.slice(5);
    if (typingIn !== room) {
      stopTyping();
      typingIn = room;
      socket.volatile.emit("typing", { room, typing: true });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 2000);
  }

  function connect(nickname) {
    if (socket) {
      socket.disconnect();
      socket = null;
    }
    showError("");
    setState("connecting", "connecting");
    const s = io({ path: window.SOCKET_IO_PATH, auth: { nickname, token } });
    socket = s;

    s.on("connect", () => {
      setState("connected", "connected");
      showError("");
      $("login").hidden = true;
      $("chat").hidden = false;
      // After a reconnection (a new server, say), join the rooms again.
      if (myRooms.length) s.emit("join", myRooms, applyRooms);
    });
    s.on("connect_error", (err) => {
      if (!s.active) {
        // Refused by the server (the nickname): no retry.
        showError(err.message);
        setState("disconnected", "disconnected");
        $("login").hidden = false;
        $("chat").hidden = true;
      }
      // Otherwise the server is unreachable: the client retries ("reconnecting n").
    });
    s.on("disconnect", (reason) => {
      setState("disconnected", "disconnected");
      addNotice(`disconnected (${reason})`);
      stopTyping();
      typers.forEach((timer) => clearTimeout(timer));
      typers.clear();
      renderTyping();
    });
    s.io.on("reconnect_attempt", (n) => setState(`reconnecting ${n}`, "reconnecting"));

    s.on("welcome", (user) => {
      me = user;
      $("me").textContent = `you are ${user.nickname}`;
      renderUsers();
      renderTargets();
    });
    s.on("users", (list) => {
      users = list;
      renderUsers();
      renderTargets();
    });
    s.on("message", (message, ack) => {
      addMessage(message, false);
      if (message.room) setTyper(message.room, message.from, false);
      // Private messages are acknowledged: the sender's tick means "arrived here".
      if (typeof ack === "function") ack("received");
    });
    s.on("typing", ({ room, from, typing }) => setTyper(room, from, typing));
    s.on("notice", addNotice);
  }

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    connect($("nickname").value.trim());
  });

  function roomsInput() {
    return $("rooms-input")
      .value.split(",")
      .map((r) => r.trim())
      .filter((r) => r);
  }

  $("rooms-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const rooms = roomsInput();
    if (!rooms.length || !socket) return;
    showError("");
    socket.emit("join", rooms, (reply) => {
      applyRooms(reply);
      if (!reply.error) $("target").value = `room:${rooms[rooms.length - 1]}`;
    });
    $("rooms-input").value = "";
  });

  $("leave").addEventListener("click", () => {
    const rooms = roomsInput();
    if (!rooms.length || !socket) return;
    showError("");
    socket.emit("leave", rooms, applyRooms);
    $("rooms-input").value = "";
  });

  $("text").addEventListener("input", onInput);

  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    const target = $("target").value;
    if (!text.trim() || !target || !socket || !me) return;
    let event, payload, shown;
    if (target === "all") {
      [event, payload] = ["announce", { text }];
      shown = { kind: "all", from: me.nickname, text };
    } else if (target.startsWith("room:")) {
      const room = target.slice(5);
      [event, payload] = ["room message", { room, text }];
      shown = { kind: "room", room, from: me.nickname, text };
    } else {
      const to = target.slice(5);
      [event, payload] = ["private message", { to, text }];
      shown = { kind: "private", to, from: me.nickname, text };
    }
    stopTyping();
    const { li, tick } = addMessage(shown, true);
    // The tick: the server's acknowledgement (for a private message, once the
    // recipient's page acknowledged it to the server).
    socket.timeout(10000).emit(event, payload, (err, reply) => {
      if (err || (reply && reply.error)) {
        tick.textContent = "✗";
        tick.title = err ? "no answer from the server" : reply.error;
        li.classList.add("failed");
      } else {
        tick.textContent = "✓";
        tick.title = "delivered";
        li.classList.add("delivered");
      }
    });
    $("text").value = "";
  });
})();
