// The desk's live updates: one websocket, reconnecting with the last message
// id it saw so that the server replays whatever it missed.
(function () {
  "use strict";

  const status = document.getElementById("live-status");
  const thread = document.getElementById("thread");
  const list = document.getElementById("conversations");
  let lastId = JSON.parse(document.getElementById("last-message-id").textContent) || 0;
  let retryDelay = 500;

  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  function formatTime(iso) {
    return new Date(iso).toLocaleString([], {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  function showInThread(message) {
    if (!thread || String(message.conversation_id) !== thread.dataset.conversationId) return;
    let item = thread.querySelector(`[data-message-id="${message.id}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.messageId = message.id;
      item.className = `message ${message.direction}`;
      const body = document.createElement("p");
      body.className = "body";
      body.textContent = message.body;
      const meta = document.createElement("small");
      const time = document.createElement("time");
      time.textContent = formatTime(message.created_at);
      const state = document.createElement("span");
      state.className = "status";
      meta.append(time, " · ", state);
      item.append(body, meta);
      thread.append(item);
      item.scrollIntoView({block: "end"});
    }
    item.querySelector(".status").textContent = message.status;
  }

  function showInList(message) {
    if (!list) return;
    document.getElementById("no-conversations")?.remove();
    let item = list.querySelector(`[data-conversation-id="${message.conversation_id}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.conversationId = message.conversation_id;
      const link = document.createElement("a");
      link.href = `conversations/${message.conversation_id}/`;
      const name = document.createElement("strong");
      name.className = "name";
      const preview = document.createElement("span");
      preview.className = "preview";
      const time = document.createElement("time");
      link.append(name, preview, time);
      item.append(link);
    }
    item.querySelector(".name").textContent = message.contact.name;
    item.querySelector(".preview").textContent = message.body;
    item.querySelector("time").textContent = formatTime(message.created_at);
    if (message.direction === "inbound") item.classList.add("unread");
    list.prepend(item);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/desk/?after=${lastId}`);
    socket.addEventListener("open", () => {
      retryDelay = 500;
      setStatus("live", "live");
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type !== "message") return;
      lastId = Math.max(lastId, data.message.id);
      showInThread(data.message);
      showInList(data.message);
    });
    socket.addEventListener("close", () => {
      setStatus("offline", "reconnecting…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  connect();
})();
