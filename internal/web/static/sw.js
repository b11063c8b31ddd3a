// OpenTeller's service worker: it shows the pushes the platform sends
// (package push) and opens the conversation when one is tapped. A push says
// only which bank wants the customer and why; the content stays in the app.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let m = { title: 'OpenTeller', body: 'Something new is waiting for you.', tag: 'openteller', url: '/' };
  try {
    m = { ...m, ...event.data.json() };
  } catch {
    // an empty or unreadable push still tells the customer to look
  }
  event.waitUntil(self.registration.showNotification(m.title, {
    body: m.body,
    tag: m.tag,
    renotify: true,
    data: { url: m.url },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/', self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      if (new URL(w.url).origin !== self.location.origin) continue;
      await w.focus();
      try {
        await w.navigate(url);
      } catch {
        // a window this worker does not control keeps its page
      }
      return;
    }
    await self.clients.openWindow(url);
  })());
});
