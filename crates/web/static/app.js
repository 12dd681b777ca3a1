// Progressive enhancement only: every page works without this file.
// Buttons, and forms, with data-confirm ask before submitting.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
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
