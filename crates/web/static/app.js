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
