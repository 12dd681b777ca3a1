// TicketFlower's service worker: shows Web Push notifications and opens them. A push
// carries no private content (RFC 8291 encrypts it anyway): its title says what happened
// and where, and the page reads the rest once it is opened.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let push = {};
  try {
    push = event.data ? event.data.json() : {};
  } catch {
    push = {};
  }
  const title = typeof push.title === "string" && push.title ? push.title : "TicketFlower";
  const url = sameOrigin(push.url) ? push.url : "/";
  const options = {
    body: "Open TicketFlower to read it",
    icon: "/static/favicon.svg",
    data: { url, notification_id: push.notification_id || null, kind: push.kind || "" },
  };
  // One entry per notification: a push told twice replaces itself.
  if (push.notification_id) options.tag = push.notification_id;
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(sameOrigin(event.notification.data && event.notification.data.url) ? event.notification.data.url : "/", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url === url) || windows.find((client) => new URL(client.url).origin === self.location.origin);
    if (open) {
      await open.focus();
      // Only a tab this worker controls can be sent elsewhere; another opens anew.
      if (open.url !== url) await open.navigate(url).catch(() => self.clients.openWindow(url));
      return;
    }
    await self.clients.openWindow(url);
  })());
});

// Only a path of this server is opened: a push names where to go, never another site.
function sameOrigin(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//");
}
