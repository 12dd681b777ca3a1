// Canned replies in a conversation's composer (agents only; progressive enhancement).
// "/" at the start of the reply or after a space, then the first letters of a shortcut,
// lists the company's canned replies whose shortcut or title matches. The arrow keys and
// Enter (or Tab), or a click, put the reply's text in place of "/shortcut"; Escape closes
// the list. The replies are fetched from the API once per page load.
(() => {
  const composer = document.getElementById("composer-body");
  if (!composer || !window.fetch) return;
  let replies = [];
  fetch("/api/v1/canned-replies", { credentials: "same-origin", headers: { accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : { items: [] }))
    .then((body) => {
      replies = Array.isArray(body.items) ? body.items : [];
      update();
    })
    .catch(() => {});

  const menu = document.createElement("ul");
  menu.id = "canned-menu";
  menu.className = "canned-menu";
  menu.setAttribute("role", "listbox");
  menu.setAttribute("aria-label", "Canned replies");
  menu.hidden = true;
  composer.insertAdjacentElement("beforebegin", menu);
  composer.setAttribute("aria-autocomplete", "list");
  composer.setAttribute("aria-controls", menu.id);
  composer.setAttribute("aria-expanded", "false");

  let shown = [];
  let active = 0;
  // Where the "/shortcut" being typed starts, and the one Escape closed (not reopened
  // until another one is typed).
  let token = null;
  let dismissed = null;

  // The "/word" just before the caret, if it starts the reply or follows a space.
  const typed = () => {
    const caret = composer.selectionStart;
    if (caret !== composer.selectionEnd) return null;
    const match = /(^|\s)\/([\w-]*)$/.exec(composer.value.slice(0, caret));
    if (!match) return null;
    return { start: caret - match[2].length - 1, end: caret, query: match[2].toLowerCase() };
  };

  // Shortcuts that start with the query first, then those holding it in the shortcut or
  // the title, each in the company's order.
  const matching = (query) => {
    const starts = replies.filter((r) => r.shortcut.startsWith(query));
    const holds = replies.filter((r) => !r.shortcut.startsWith(query)
      && (r.shortcut.includes(query) || r.title.toLowerCase().includes(query)));
    return starts.concat(holds).slice(0, 20);
  };

  const close = () => {
    menu.hidden = true;
    shown = [];
    composer.setAttribute("aria-expanded", "false");
    composer.removeAttribute("aria-activedescendant");
  };

  const draw = () => {
    menu.replaceChildren(...shown.map((reply, index) => {
      const option = document.createElement("li");
      option.id = `canned-option-${index}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(index === active));
      option.dataset.index = String(index);
      const shortcut = document.createElement("strong");
      shortcut.textContent = `/${reply.shortcut}`;
      const title = document.createElement("span");
      title.textContent = reply.title;
      option.append(shortcut, " ", title);
      return option;
    }));
    menu.hidden = false;
    composer.setAttribute("aria-expanded", "true");
    composer.setAttribute("aria-activedescendant", `canned-option-${active}`);
    const current = menu.children[active];
    if (current) current.scrollIntoView({ block: "nearest" });
  };

  function update() {
    token = typed();
    if (!token || token.start === dismissed) {
      if (!token) dismissed = null;
      close();
      return;
    }
    const found = matching(token.query);
    if (!found.length) {
      close();
      return;
    }
    const same = found.length === shown.length && found.every((r, i) => r.id === shown[i].id);
    shown = found;
    if (!same) active = 0;
    draw();
  }

  const pick = (index) => {
    const reply = shown[index];
    if (!reply || !token) return;
    const { value } = composer;
    composer.value = value.slice(0, token.start) + reply.body + value.slice(token.end);
    const caret = token.start + reply.body.length;
    composer.setSelectionRange(caret, caret);
    close();
    composer.focus();
    composer.dispatchEvent(new Event("input", { bubbles: true }));
  };

  composer.addEventListener("input", update);
  composer.addEventListener("click", update);
  composer.addEventListener("keyup", (event) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) update();
  });
  composer.addEventListener("blur", () => setTimeout(() => {
    if (document.activeElement !== composer) close();
  }, 200));
  // Caught on the way down (capture), so that Enter picks a reply instead of sending.
  composer.form.addEventListener("keydown", (event) => {
    if (event.target !== composer || menu.hidden || event.isComposing) return;
    const keys = {
      ArrowDown: () => { active = (active + 1) % shown.length; draw(); },
      ArrowUp: () => { active = (active - 1 + shown.length) % shown.length; draw(); },
      Enter: () => pick(active),
      Tab: () => pick(active),
      Escape: () => { dismissed = token && token.start; close(); },
    };
    const act = keys[event.key];
    if (!act || (event.key === "Enter" && event.shiftKey)) return;
    event.preventDefault();
    event.stopPropagation();
    act();
  }, true);
  // The textarea keeps the focus while the list is clicked or touched.
  menu.addEventListener("mousedown", (event) => event.preventDefault());
  menu.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) pick(Number(option.dataset.index));
  });
})();
