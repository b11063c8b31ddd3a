// Notifications on this device: the customer chooses which kinds of push
// (package push) this browser gets. A push says only which bank wants them
// and why; it never carries amounts, merchants or messages.
import { h, clear } from './dom.js';
import { api } from './api.js';

const KIND_WORDS = {
  alerts: 'Fraud alerts that need your answer',
  people: 'Messages from your bank’s people',
  replies: 'Replies from your bank',
};

function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

// applicationServerKey wants the key's bytes; the server gives base64url.
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// registerWorker installs the service worker that shows pushes; the app
// works without it.
export function registerWorker() {
  if (!('serviceWorker' in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => null);
}

// turnOffHere stops this device's notifications, before the customer
// signs out: the next person to use this browser must not hear of them.
export async function turnOffHere() {
  if (!('serviceWorker' in navigator)) return;
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = await reg?.pushManager.getSubscription();
  if (!sub) return;
  await api('DELETE', `/push/subscription?endpoint=${encodeURIComponent(sub.endpoint)}`).catch(() => {});
  await sub.unsubscribe().catch(() => {});
}

export function notificationSettings() {
  const said = h('p', { class: 'muted', testid: 'push-said', role: 'status' });
  const boxes = Object.entries(KIND_WORDS).map(([kind, words]) => {
    const input = h('input', { type: 'checkbox', name: 'push-kind', value: kind, testid: `push-${kind}`, checked: kind === 'alerts' });
    return { kind, input, label: h('label', { class: 'check' }, input, ' ', words) };
  });
  const save = h('button', { type: 'button', class: 'primary', testid: 'push-save' }, 'Turn on');
  const off = h('button', { type: 'button', testid: 'push-off', hidden: true }, 'Turn off');
  const el = h('div', { class: 'push-settings', testid: 'push-settings' },
    h('p', {}, 'Get told when something waits for you, even with OpenTeller closed. Notifications say only which bank wants you and why, never amounts or messages.'),
    h('fieldset', {}, h('legend', {}, 'Tell me about'), boxes.map((b) => b.label)),
    h('p', { class: 'actions' }, save, ' ', off),
    said);

  if (!supported()) {
    clear(el, h('p', { class: 'muted', testid: 'push-unsupported' }, 'This browser can’t show notifications from OpenTeller. On a phone, add OpenTeller to your home screen first.'));
    return el;
  }

  let settings = null; // {public_key, kinds, subscription}
  let current = null; // this browser's PushSubscription, if any

  function show(message) {
    said.textContent = message;
  }

  function reflect() {
    const on = Boolean(settings?.subscription);
    save.textContent = on ? 'Save' : 'Turn on';
    off.hidden = !on;
    if (on) for (const b of boxes) b.input.checked = settings.subscription.kinds.includes(b.kind);
  }

  async function load() {
    const reg = await registerWorker();
    current = reg ? await reg.pushManager.getSubscription() : null;
    const query = current ? `?endpoint=${encodeURIComponent(current.endpoint)}` : '';
    settings = await api('GET', `/push${query}`);
    reflect();
  }

  save.addEventListener('click', async () => {
    const kinds = boxes.filter((b) => b.input.checked).map((b) => b.kind);
    if (kinds.length === 0) {
      show('Choose at least one, or turn notifications off.');
      return;
    }
    save.disabled = true;
    try {
      if (Notification.permission !== 'granted' && (await Notification.requestPermission()) !== 'granted') {
        show('Notifications are blocked for OpenTeller in this browser’s settings.');
        return;
      }
      const reg = await navigator.serviceWorker.ready;
      current = (await reg.pushManager.getSubscription())
        || (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(settings.public_key) }));
      const res = await api('PUT', '/push/subscription', { ...current.toJSON(), kinds });
      settings = { ...settings, subscription: res };
      reflect();
      show('Notifications are on for this device.');
    } catch (err) {
      show(err.status ? err.message : 'This browser could not turn notifications on. Try again later.');
    } finally {
      save.disabled = false;
    }
  });

  off.addEventListener('click', async () => {
    off.disabled = true;
    try {
      if (current) {
        await api('DELETE', `/push/subscription?endpoint=${encodeURIComponent(current.endpoint)}`).catch((err) => {
          if (err.status !== 404) throw err;
        });
        await current.unsubscribe();
      }
      current = null;
      settings = { ...settings, subscription: null };
      reflect();
      show('Notifications are off for this device.');
    } catch (err) {
      show(err.message);
    } finally {
      off.disabled = false;
    }
  });

  load().catch((err) => show(err.message || 'Notification settings could not be loaded.'));
  return el;
}
