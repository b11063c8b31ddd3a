// Notifications on this device: the customer chooses which kinds of push
// (package push) this browser gets. A push says only which bank wants them
// and why; it never carries amounts, merchants or messages. What waits for
// the customer's answer (fraud alerts, payment requests) is ticked until
// they choose.
import { h, clear } from './dom.js';
import { api } from './api.js';
import { t } from './i18n.js';

// The kinds of push, in the order the settings show them (push.Kinds),
// each said in words by the catalogue (notify.kind.<kind>).
const KINDS = ['alerts', 'payments', 'people', 'replies'];

// The kinds ticked on a device that has not chosen yet.
const ON_UNTIL_CHOSEN = ['alerts', 'payments'];

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
  const boxes = KINDS.map((kind) => {
    const input = h('input', { type: 'checkbox', name: 'push-kind', value: kind, testid: `push-${kind}`, checked: ON_UNTIL_CHOSEN.includes(kind) });
    return { kind, input, label: h('label', { class: 'check' }, input, ' ', t(`notify.kind.${kind}`)) };
  });
  const save = h('button', { type: 'button', class: 'primary', testid: 'push-save' }, t('security.turn_on'));
  const off = h('button', { type: 'button', testid: 'push-off', hidden: true }, t('notify.turn_off'));
  const el = h('div', { class: 'push-settings', testid: 'push-settings' },
    h('p', {}, t('notify.intro')),
    h('fieldset', {}, h('legend', {}, t('notify.tell_me')), boxes.map((b) => b.label)),
    h('p', { class: 'actions' }, save, ' ', off),
    said);

  if (!supported()) {
    clear(el, h('p', { class: 'muted', testid: 'push-unsupported' }, t('notify.unsupported')));
    return el;
  }

  let settings = null; // {public_key, kinds, subscription}
  let current = null; // this browser's PushSubscription, if any

  function show(message) {
    said.textContent = message;
  }

  function reflect() {
    const on = Boolean(settings?.subscription);
    save.textContent = t(on ? 'notify.save' : 'security.turn_on');
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
      show(t('notify.choose_one'));
      return;
    }
    save.disabled = true;
    try {
      if (Notification.permission !== 'granted' && (await Notification.requestPermission()) !== 'granted') {
        show(t('notify.blocked'));
        return;
      }
      const reg = await navigator.serviceWorker.ready;
      current = (await reg.pushManager.getSubscription())
        || (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(settings.public_key) }));
      const res = await api('PUT', '/push/subscription', { ...current.toJSON(), kinds });
      settings = { ...settings, subscription: res };
      reflect();
      show(t('notify.on'));
    } catch (err) {
      show(err.status ? err.message : t('notify.failed'));
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
      show(t('notify.off'));
    } catch (err) {
      show(err.message);
    } finally {
      off.disabled = false;
    }
  });

  load().catch((err) => show(err.message || t('notify.load_failed')));
  return el;
}
