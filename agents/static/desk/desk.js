// The desk's live updates: one websocket, reconnecting with the last message
// id and change time it saw so that the server replays whatever it missed.
(function () {
  "use strict";

  // Agreed with agents/consumers.py.
  const CLOSE_NOT_SIGNED_IN = 4401;
  const MAX_RETRY_DELAY_MS = 15000;

  const status = document.getElementById("live-status");
  const thread = document.getElementById("thread");
  const list = document.getElementById("conversations");
  const reply = document.getElementById("reply");
  const watermark = JSON.parse(document.getElementById("desk-watermark").textContent);
  // Both come from the server, as do the messages' updated_at: no clock here.
  let lastId = watermark.after;
  let since = watermark.since;
  let retryDelay = 500;

  const timeFormat = new Intl.DateTimeFormat([], {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });

  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  // Times arrive in UTC; agents read them in their own time zone.
  function setTime(time, iso) {
    if (!iso) return;
    time.setAttribute("datetime", iso);
    time.textContent = timeFormat.format(new Date(iso));
  }

  function messageItem(message) {
    const item = document.createElement("li");
    item.dataset.messageId = message.id;
    item.className = `message ${message.direction}`;
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = message.body;
    const meta = document.createElement("small");
    const time = document.createElement("time");
    setTime(time, message.created_at);
    const state = document.createElement("span");
    state.className = "status";
    meta.append(time, " · ", state);
    item.append(body, meta);
    return item;
  }

  function showInThread(message) {
    if (!thread || String(message.conversation_id) !== thread.dataset.conversationId) return;
    let item = thread.querySelector(`[data-message-id="${message.id}"]`);
    // Broadcasts from several processes, and replays, can arrive out of order.
    if (item && message.updated_at < item.dataset.updatedAt) return;
    if (!item) {
      document.getElementById("no-messages")?.remove();
      item = messageItem(message);
      const later = Array.from(thread.querySelectorAll("[data-message-id]"))
        .find((other) => Number(other.dataset.messageId) > message.id);
      thread.insertBefore(item, later || null);
      item.scrollIntoView({block: "nearest"});
    }
    item.dataset.updatedAt = message.updated_at;
    const state = item.querySelector(".status");
    state.dataset.status = message.status;
    state.textContent = message.status_label;
  }

  function conversationItem(message) {
    const item = document.createElement("li");
    item.dataset.conversationId = message.conversation_id;
    const link = document.createElement("a");
    link.href = list.dataset.threadUrl.replace(/0\/$/, `${message.conversation_id}/`);
    const name = document.createElement("strong");
    name.className = "name";
    const preview = document.createElement("span");
    preview.className = "preview";
    link.append(name, preview, document.createElement("time"));
    item.append(link);
    return item;
  }

  function showInList(message) {
    if (!list) return;
    let item = list.querySelector(`[data-conversation-id="${message.conversation_id}"]`);
    // A status change of an older message leaves the preview and order alone.
    if (item && message.id <= Number(item.dataset.lastMessageId)) return;
    document.getElementById("no-conversations")?.remove();
    item = item || conversationItem(message);
    item.dataset.lastMessageId = message.id;
    item.querySelector(".name").textContent = message.contact.name;
    const prefix = message.direction === "outbound" ? "You: " : "";
    item.querySelector(".preview").textContent = prefix + message.body;
    setTime(item.querySelector("time"), message.created_at);
    item.classList.toggle("unread", message.direction === "inbound");
    list.prepend(item);
  }

  function newToken() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Posts replies in the background, so that the thread and its websocket
  // stay open: the reply and its status arrive like any other message.
  function setUpReply() {
    const body = reply.querySelector("textarea");
    const token = reply.querySelector("input[name=token]");
    const button = reply.querySelector("button");
    const note = document.createElement("p");
    note.className = "error";
    note.id = "reply-error";
    note.hidden = true;
    body.before(note);

    function showNote(text) {
      note.textContent = text;
      note.hidden = false;
    }

    reply.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      note.hidden = true;
      reply.querySelectorAll(".error:not(#reply-error)").forEach((old) => old.remove());
      try {
        const response = await fetch(reply.action, {
          method: "POST",
          body: new FormData(reply),
          headers: {"X-Requested-With": "fetch"},
          redirect: "manual",
        });
        if (response.status === 204) {
          body.value = "";
          token.value = newToken();
        } else if (response.status === 400) {
          const page = new DOMParser().parseFromString(await response.text(), "text/html");
          showNote(page.querySelector("#reply .error")?.textContent || "Not sent: check the reply.");
        } else {
          showNote("Not sent: you may be signed out. Reload the page and send again.");
        }
      } catch (error) {
        // The token is unchanged, so sending again cannot text the contact twice.
        showNote("No answer from Regal. Send again: it will not go out twice.");
      } finally {
        button.disabled = false;
        body.focus();
      }
    });
    body.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) reply.requestSubmit();
    });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let query = `after=${lastId}`;
    if (thread) {
      query += `&conversation=${thread.dataset.conversationId}`;
      query += `&since=${encodeURIComponent(since)}`;
    }
    const socket = new WebSocket(`${scheme}://${location.host}/ws/desk/?${query}`);
    socket.addEventListener("open", () => {
      retryDelay = 500;
      setStatus("live", "Live");
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "reload") {
        location.reload();
      } else if (data.type === "message") {
        lastId = Math.max(lastId, data.message.id);
        if (data.message.updated_at > since) since = data.message.updated_at;
        showInThread(data.message);
        showInList(data.message);
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === CLOSE_NOT_SIGNED_IN) {
        // The session ended: reloading leads to the sign-in page.
        setStatus("offline", "Signed out");
        location.reload();
        return;
      }
      setStatus("offline", "Reconnecting…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY_MS);
    });
  }

  document.querySelectorAll("time[datetime]").forEach((time) => {
    setTime(time, time.getAttribute("datetime"));
  });
  if (thread) thread.lastElementChild?.scrollIntoView({block: "nearest"});
  if (reply) setUpReply();
  connect();
})();
