// Progressive enhancement only: every page works without this file.
// Buttons, and forms, with data-confirm ask before submitting.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
// A form's question is its data-confirm, or the message of the first of its data-ending
// choices ([{name, value, message}]) that is chosen. Once agreed, the form's `confirmed`
// field (if any) tells the server it was asked.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm], form[data-ending]");
  const question = form && (form.dataset.confirm || endingQuestion(form));
  if (!question) return;
  if (!window.confirm(question)) {
    event.preventDefault();
  } else if (form.elements.confirmed) {
    form.elements.confirmed.value = "1";
  }
});
function endingQuestion(form) {
  const chosen = (name, value) => Array.from(form.elements).some((e) => {
    if (e.name !== name) return false;
    // An optional yes-or-no is one check box: unticked is "false".
    if (e.type === "checkbox") return value === "false" ? !e.checked : e.checked && e.value === value;
    if (e.type === "radio") return e.checked && e.value === value;
    return e.value === value;
  });
  const hit = JSON.parse(form.dataset.ending).find((c) => chosen(c.name, c.value));
  return hit ? hit.message : "";
}
// A file input with data-fill="<name>" loads the chosen file into that textarea.
document.addEventListener("change", (event) => {
  const input = event.target.closest("input[type=file][data-fill]");
  if (!input || !input.files.length) return;
  const target = input.form.querySelector(`textarea[name="${input.dataset.fill}"]`);
  input.files[0].text().then((text) => { target.value = text; });
});
// An open menu (the user menu) closes on a click elsewhere or on Escape.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.user-menu[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.user-menu[open]")) {
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  }
});
// Times are written relative ("3 h ago") with the exact time in UTC on hover; the hover
// shows it in the reader's own time zone instead.
function localTimes(root) {
  for (const time of root.querySelectorAll("time[datetime]")) {
    const at = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      time.title = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    }
  }
}
localTimes(document);
// Live pages: a page whose <main> names streams (data-live) keeps its regions
// (data-live-region) and the navigation's counts up to date. One WebSocket, opened with the
// page's own session; each event has the page fetched again and its regions swapped,
// except one that holds the focus (someone is typing there). After a drop it reconnects,
// waiting longer each time, resumes each stream from the last event seen and refreshes
// once, so nothing that happened meanwhile is missed.
(() => {
  const main = document.querySelector("main[data-live]");
  if (!main || !("WebSocket" in window)) return;
  const streams = main.dataset.live.split(" ").filter(Boolean);
  const status = document.getElementById("live-status");
  const show = (state, text) => {
    if (!status) return;
    status.hidden = false;
    status.dataset.state = state;
    status.textContent = text;
    status.title = text;
  };
  let pause = 500;
  let pending = null;
  let epoch = null;
  let last = 0;
  let dropped = false;
  const refresh = (window.tfRefresh = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const busy = (element) => element.contains(document.activeElement) && document.activeElement !== document.body;
      for (const region of document.querySelectorAll("[data-live-region], #nav")) {
        const next = fresh.getElementById(region.id);
        if (next && !busy(region)) {
          // A chat's messages follow the newest only when the reader was at the end.
          const atEnd = region.scrollHeight - region.scrollTop - region.clientHeight < 48;
          const top = region.scrollTop;
          const copy = document.importNode(next, true);
          region.replaceWith(copy);
          localTimes(copy);
          if ("stick" in copy.dataset) copy.scrollTop = atEnd ? copy.scrollHeight : top;
        }
      }
      document.dispatchEvent(new CustomEvent("tf:refreshed"));
    }, 150);
  });
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/stream`);
    let answered = 0;
    socket.onopen = () => {
      for (const stream of streams) {
        const message = { type: "subscribe", stream };
        if (last && epoch) Object.assign(message, { since: last, epoch });
        socket.send(JSON.stringify(message));
      }
    };
    window.tfSignal = (stream, name, ttl_ms, data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "signal", stream, name, ttl_ms, data: data || {} }));
    };
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "signal") {
        document.dispatchEvent(new CustomEvent("tf:signal", { detail: data }));
      } else if (data.type === "event") {
        last = Math.max(last, data.id);
        document.dispatchEvent(new CustomEvent("tf:event", { detail: data }));
        refresh();
      } else if (data.type === "subscribed" || data.type === "error" || data.type === "resync_required") {
        if (data.epoch) epoch = data.epoch;
        if (data.type === "resync_required") last = 0;
        if (++answered === streams.length) {
          show("live", "Live");
          document.dispatchEvent(new CustomEvent("tf:live"));
          pause = 500;
          if (dropped) refresh();
        }
      }
    };
    socket.onclose = () => {
      dropped = true;
      show("reconnecting", "Reconnecting…");
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 15000);
    };
  };
  show("connecting", "Connecting…");
  connect();
})();

// The support chat: open at the newest message; Enter sends (Shift+Enter adds a line);
// typing tells the other side (a signal that expires by itself), and their typing shows
// under the messages until it stops.
(() => {
  const chat = document.querySelector("[data-chat]");
  if (!chat) return;
  const messages = document.getElementById("messages");
  // Opened at a message (a search hit: `#m12`), the list shows that one; else the newest.
  const target = /^#m\d+$/.test(location.hash) && document.getElementById(location.hash.slice(1));
  if (messages && target && messages.contains(target)) {
    messages.scrollTop = target.offsetTop - messages.offsetTop - messages.clientHeight / 3;
  } else if (messages) {
    messages.scrollTop = messages.scrollHeight;
  }
  // Scrolled up to read earlier messages, the reader gets a way back to the newest.
  const jump = document.getElementById("jump-latest");
  if (jump) {
    const list = () => document.getElementById("messages");
    const update = () => {
      const m = list();
      if (m) jump.hidden = m.scrollHeight - m.scrollTop - m.clientHeight < 48;
    };
    document.addEventListener("scroll", (event) => { if (event.target && event.target.id === "messages") update(); }, true);
    document.addEventListener("tf:refreshed", update);
    jump.addEventListener("click", () => {
      const m = list();
      if (m) m.scrollTop = m.scrollHeight;
      update();
    });
  }
  const people = JSON.parse(chat.dataset.people || "{}");
  const composer = document.getElementById("composer-body");
  if (composer) {
    let told = 0;
    composer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const files = document.getElementById("composer-files");
        if (composer.value.trim() || (files && files.files.length)) composer.form.requestSubmit();
      }
    });
    // Sent without leaving the page; a refusal (422) is shown by posting the form the
    // ordinary way, which renders it with the message kept.
    composer.form.addEventListener("submit", async (event) => {
      if (!window.fetch) return;
      event.preventDefault();
      const form = composer.form;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
        });
        if (response.ok && response.redirected) {
          form.reset();
          if (names) names.textContent = "";
          composer.focus();
          if (window.tfRefresh) window.tfRefresh();
        } else {
          form.submit();
        }
      } catch {
        form.submit();
      } finally {
        button.disabled = false;
      }
    });
    composer.addEventListener("input", () => {
      const now = Date.now();
      if (now - told > 2000 && window.tfSignal) {
        told = now;
        window.tfSignal(chat.dataset.stream, "typing", 6000);
      }
    });
  }
  const files = document.getElementById("composer-files");
  const names = document.getElementById("composer-file-names");
  if (files && names) {
    files.addEventListener("change", () => {
      names.textContent = [...files.files].map((file) => file.name).join(", ");
    });
  }
  // Presence: while the page is open it says so every 10 s (online, or away when hidden or
  // idle for two minutes); the other side shows the person offline once that lapses (30 s).
  let lastInput = Date.now();
  for (const name of ["keydown", "pointerdown", "pointermove"]) document.addEventListener(name, () => (lastInput = Date.now()), { passive: true });
  const presence = () => {
    const away = document.hidden || Date.now() - lastInput > 120000;
    if (window.tfSignal) window.tfSignal(chat.dataset.stream, "presence", 30000, { status: away ? "away" : "online" });
  };
  setInterval(presence, 10000);
  document.addEventListener("visibilitychange", presence);
  document.addEventListener("tf:live", presence);
  const seen = new Map();
  for (const dot of chat.querySelectorAll("[data-presence]")) {
    if (dot.dataset.state === "online") seen.set(dot.dataset.presence, { status: "online", until: Date.now() + 30000 });
  }
  const dots = () => {
    const now = Date.now();
    for (const dot of chat.querySelectorAll("[data-presence]")) {
      const entry = seen.get(dot.dataset.presence);
      const state = !entry || entry.until <= now ? "offline" : entry.status;
      dot.dataset.state = state;
      dot.title = state === "online" ? "Online" : state === "away" ? "Away" : "Offline";
      const label = dot.querySelector(".visually-hidden");
      if (label) label.textContent = dot.title;
    }
  };
  setInterval(dots, 5000);
  document.addEventListener("tf:signal", (event) => {
    const signal = event.detail;
    if (signal.stream !== chat.dataset.stream || signal.name !== "presence") return;
    seen.set(signal.user_id, { status: signal.data && signal.data.status === "away" ? "away" : "online", until: Date.parse(signal.expires_at) });
    dots();
  });
  // A refreshed header brings its dots back unknown: draw them again.
  document.addEventListener("tf:refreshed", dots);
  const typing = document.getElementById("typing");
  const typists = new Map();
  const show = () => {
    const now = Date.now();
    for (const [id, until] of typists) if (until <= now) typists.delete(id);
    const names = [...typists.keys()].map((id) => people[id] || "Someone");
    typing.hidden = names.length === 0;
    typing.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
  };
  document.addEventListener("tf:signal", (event) => {
    const signal = event.detail;
    if (signal.stream !== chat.dataset.stream || signal.name !== "typing" || signal.user_id === chat.dataset.me) return;
    typists.set(signal.user_id, Math.min(Date.parse(signal.expires_at), Date.now() + 6000));
    show();
    setTimeout(show, 6100);
  });
  // A new message ends its author's typing.
  document.addEventListener("tf:event", (event) => {
    if (event.detail.kind === "message.posted" && typists.delete(event.detail.actor_id)) show();
  });
})();

// A transcript's print button (scripts are never inline here).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
