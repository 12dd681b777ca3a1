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
for (const time of document.querySelectorAll("time[datetime]")) {
  const at = new Date(time.getAttribute("datetime"));
  if (!Number.isNaN(at.getTime())) {
    time.title = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
}
