// OpenTeller's service worker: it shows the pushes the platform sends
// (package push) and opens the conversation when one is tapped. A push says
// only which bank wants the customer and why; the content stays in the app.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// The words a push is shown in are the customer's. A push that names a
// language ({lang}) is written in the one kept with their account, which
// follows them to every device: it is shown as it came. Otherwise the page
// leaves words in the Cache API (i18n.js), in the language chosen on this
// device, and a push that names its kind and bank ({kind, institution}) is
// said in them. A push without them, or a device that kept no words, shows
// the server's own title and body (English).
async function pushWords() {
  try {
    const res = await (await caches.open('openteller-i18n')).match('/i18n/push-words.json');
    return res ? await res.json() : null;
  } catch {
    return null;
  }
}

function fill(text, vars) {
  return String(text).replace(/\{(\w+)\}/g, (all, name) => (vars[name] ?? all));
}

async function show(data) {
  let m = { title: 'OpenTeller', body: '', tag: 'openteller', url: '/' };
  try {
    m = { ...m, ...data.json() };
  } catch {
    // an empty or unreadable push still tells the customer to look
  }
  const words = m.lang ? null : await pushWords();
  if (words) {
    const said = (key) => (typeof words[key] === 'string' ? fill(words[key], { bank: m.institution || '' }) : '');
    if (m.kind && m.institution && said(`push.${m.kind}.title`)) {
      m.title = said(`push.${m.kind}.title`);
      m.body = said(`push.${m.kind}.body`) || m.body;
    }
    if (!m.body) m.body = said('push.default.body');
  }
  if (!m.body) m.body = 'Something new is waiting for you.'; // no words kept: the server's language
  return self.registration.showNotification(m.title, {
    body: m.body,
    tag: m.tag,
    renotify: true,
    data: { url: m.url },
    lang: m.lang || words?.lang || undefined,
  });
}

self.addEventListener('push', (event) => event.waitUntil(show(event.data)));

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
