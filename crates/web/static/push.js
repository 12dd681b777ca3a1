// The profile's "Browser notifications": subscribes this browser to Web Push with the
// server's VAPID key (registering /sw.js, which shows the pushes) and posts the
// subscription with the page's form, CSRF token included. Removing this browser from the
// list also unsubscribes it here. Without this file the section only lists and removes.
(() => {
  const section = document.getElementById("browser-notifications");
  if (!section) return;
  const form = document.getElementById("push-subscribe-form");
  const status = document.getElementById("push-status");
  const say = (text) => {
    if (!status) return;
    status.hidden = !text;
    status.textContent = text;
  };
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window && window.isSecureContext;
  if (!form) return;
  if (!supported) {
    say("This browser cannot receive notifications from this page (it needs HTTPS and a browser with Web Push).");
    return;
  }
  form.hidden = false;
  const key = section.dataset.vapidKey;
  const registration = () => navigator.serviceWorker.register("/sw.js", { scope: "/" });
  const current = async () => {
    const ready = await navigator.serviceWorker.getRegistration("/");
    return ready ? ready.pushManager.getSubscription() : null;
  };
  // Marks the row of this browser, if it is subscribed.
  current().then((subscription) => {
    if (!subscription) return;
    for (const row of section.querySelectorAll("li[data-endpoint]")) {
      const name = row.querySelector(".push-browser");
      if (row.dataset.endpoint === subscription.endpoint && name) {
        const mark = document.createElement("span");
        mark.className = "badge";
        mark.textContent = "this browser";
        name.after(" ", mark);
      }
    }
  }).catch(() => {});
  form.addEventListener("submit", async (event) => {
    if (form.elements.endpoint.value) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        say("Notifications are blocked for this site; allow them in the browser's site settings and try again.");
        return;
      }
      const worker = await registration();
      await navigator.serviceWorker.ready;
      const subscription = await worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(key) });
      const json = subscription.toJSON();
      form.elements.endpoint.value = json.endpoint;
      form.elements.p256dh.value = json.keys.p256dh;
      form.elements.auth.value = json.keys.auth;
      form.elements.name.value = browserName();
      form.submit();
    } catch (error) {
      say(`This browser could not subscribe: ${error && error.message ? error.message : error}`);
    } finally {
      button.disabled = false;
    }
  });
  for (const remove of section.querySelectorAll("form[data-push-remove]")) {
    remove.addEventListener("submit", async (event) => {
      if (remove.dataset.done) return;
      event.preventDefault();
      try {
        const subscription = await current();
        if (subscription && subscription.endpoint === remove.dataset.endpoint) await subscription.unsubscribe();
      } catch {
        // The server's record goes anyway; the browser's own lapses unused.
      }
      remove.dataset.done = "1";
      remove.submit();
    });
  }
  function fromBase64Url(text) {
    const base64 = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }
  function browserName() {
    const agent = navigator.userAgent;
    const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox" : /Chrome\//.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : "A browser";
    const system = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Windows/.test(agent) ? "Windows" : /Mac OS X/.test(agent) ? "macOS" : /Linux/.test(agent) ? "Linux" : "";
    return system ? `${browser} on ${system}` : browser;
  }
})();
