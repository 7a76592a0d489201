// The desk's live updates: one websocket, reconnecting with the last message
// id and change time it saw so that the server replays whatever it missed.
// Messages fill the conversation list and threads; call tasks, the task list.
(function () {
  "use strict";

  // Agreed with agents/consumers.py.
  const CLOSE_NOT_SIGNED_IN = 4401;
  const MAX_RETRY_DELAY_MS = 15000;

  const status = document.getElementById("live-status");
  const thread = document.getElementById("thread");
  const list = document.getElementById("conversations");
  const reply = document.getElementById("reply");
  const tasks = document.getElementById("tasks");
  const taskTemplate = document.getElementById("task-template");
  const watermark = JSON.parse(document.getElementById("desk-watermark").textContent);
  // Both come from the server, as do the messages' updated_at: no clock here.
  let lastId = watermark.after;
  let since = watermark.since;
  let retryDelay = 500;
  // Closed tasks by id, with their last change: a late "open" is stale.
  const closedTasks = new Map();

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

  // The order of queries.list_open_tasks: priority, due time (none last), id.
  function taskSortKey(item) {
    const due = item.dataset.dueAt ? Date.parse(item.dataset.dueAt) : Infinity;
    return [Number(item.dataset.rank), due, Number(item.dataset.taskId)];
  }

  function sortsBefore(a, b) {
    const [keyA, keyB] = [taskSortKey(a), taskSortKey(b)];
    const index = keyA.findIndex((value, i) => value !== keyB[i]);
    return index !== -1 && keyA[index] < keyB[index];
  }

  function fillTask(item, task) {
    item.dataset.taskId = task.id;
    item.dataset.rank = task.priority_rank;
    item.dataset.dueAt = task.due_at || "";
    item.dataset.updatedAt = task.updated_at;
    const priority = item.querySelector(".priority");
    priority.dataset.priority = task.priority;
    priority.textContent = task.priority_label;
    const name = item.querySelector(".name");
    name.replaceChildren(task.contact.name);
    if (task.conversation_id) {
      const link = document.createElement("a");
      link.href = tasks.dataset.threadUrl.replace(/0\/$/, `${task.conversation_id}/`);
      link.append(name.firstChild);
      name.append(link);
    }
    setTime(item.querySelector(".due-at"), task.due_at);
    item.querySelector(".when-free").hidden = Boolean(task.due_at);
    setTime(item.querySelector(".due-by"), task.due_by);
    item.querySelector(".deadline").hidden = !task.due_by;
    item.querySelector(".notes").textContent = task.notes;
    item.querySelector(".script").hidden = !task.script;
    item.querySelector(".script p").textContent = task.script;
    item.querySelector(".opened-by").textContent = `Opened by ${task.opened_by}`;
    const form = item.querySelector("form");
    form.action = form.getAttribute("action").replace(/\/0\/complete\/$/, `/${task.id}/complete/`);
  }

  function showTask(task) {
    if (!tasks) return;
    let item = tasks.querySelector(`[data-task-id="${task.id}"]`);
    // Broadcasts from several processes, and replays, can arrive out of order.
    if (item && task.updated_at < item.dataset.updatedAt) return;
    if (closedTasks.get(task.id) >= task.updated_at) return;
    if (task.status !== "open") {
      closedTasks.set(task.id, task.updated_at);
      if (!item) return;
      item.remove();
      if (!tasks.querySelector("[data-task-id]")) {
        const empty = document.createElement("li");
        empty.className = "empty";
        empty.id = "no-tasks";
        empty.textContent = "No calls to make. New tasks appear here as they are opened.";
        tasks.append(empty);
      }
      return;
    }
    document.getElementById("no-tasks")?.remove();
    item = item || taskTemplate.content.firstElementChild.cloneNode(true);
    fillTask(item, task);
    const later = Array.from(tasks.querySelectorAll("[data-task-id]"))
      .find((other) => other !== item && sortsBefore(item, other));
    tasks.insertBefore(item, later || null);
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
    if (thread) query += `&conversation=${thread.dataset.conversationId}`;
    if (tasks) query += "&tasks=1";
    if (thread || tasks) query += `&since=${encodeURIComponent(since)}`;
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
      } else if (data.type === "task") {
        if (data.task.updated_at > since) since = data.task.updated_at;
        showTask(data.task);
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
