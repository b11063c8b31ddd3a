// Passkeys, in the privacy center's "Your account": the account's
// passkeys (name, when added, when last used, whether it signed this
// device in), a named new one added through the device's own prompt, and
// one removed after a confirmation. Removing a passkey signs out every
// device it signed in, this one too if it did: the confirmation says so
// first, and then the sign-in page says why. Adding and removing ask for
// the password again when the last sign-in is not recent (reauth.js).
import { h, clear } from '../dom.js';
import { api, signedOutHere } from '../api.js';
import { guarded } from '../reauth.js';
import { longDate } from '../format.js';
import { t } from '../i18n.js';
import * as passkeys from '../passkeys.js';

export function passkeysBox() {
  const list = h('ul', { class: 'passkey-list', testid: 'passkey-list' });
  const said = h('p', { role: 'status', class: 'muted', testid: 'passkey-said', hidden: true });
  const problem = h('p', { class: 'form-error', role: 'alert', testid: 'passkey-error', hidden: true });
  const slot = h('div', { class: 'reauth-slot' }); // where the password is asked for again
  const name = h('input', {
    type: 'text', id: 'passkey-name', maxlength: '60', autocomplete: 'off', testid: 'passkey-name',
    'aria-describedby': 'passkey-name-hint',
  });
  const add = h('button', { type: 'submit', class: 'button', testid: 'passkey-add' }, t('passkey.add'));
  const form = h('form', { class: 'passkey-add', novalidate: true, onsubmit: onAdd },
    h('label', { for: name.id }, t('passkey.name_label')), name,
    h('p', { class: 'hint', id: 'passkey-name-hint' }, t('passkey.name_hint')),
    add);

  function tell(message) {
    problem.hidden = true;
    said.textContent = message;
    said.hidden = !message;
  }

  function fail(err) {
    if (err.code === 'cancelled' && !err.message) return;
    said.hidden = true;
    problem.textContent = err.message;
    problem.hidden = false;
  }

  async function load() {
    try {
      const res = await api('GET', '/passkeys');
      draw(res?.passkeys || []);
    } catch (err) {
      fail(err);
    }
  }

  function draw(keys) {
    if (!keys.length) {
      clear(list, h('li', { class: 'muted', testid: 'passkey-none' }, t('passkey.none')));
      return;
    }
    clear(list, keys.map(row));
  }

  function row(k) {
    const used = k.last_used_at ? t('passkey.used_on', { date: longDate(k.last_used_at) }) : t('passkey.never_used');
    const actions = h('div', { class: 'passkey-actions' });
    const li = h('li', { class: 'passkey', testid: 'passkey', 'data-id': k.id },
      h('div', { class: 'passkey-text' },
        h('strong', { testid: 'passkey-item-name' }, k.name),
        h('span', { class: 'muted small' }, `${t('passkey.added_on', { date: longDate(k.created_at) })} · ${used}`),
        k.synced && h('span', { class: 'tag' }, t('passkey.synced')),
        k.signed_in_here && h('span', { class: 'tag', testid: 'passkey-here' }, t('passkey.signed_in_here'))),
      actions);
    function ask() {
      clear(actions,
        h('p', { class: 'small', testid: 'passkey-remove-said' }, t(k.signed_in_here ? 'passkey.remove_confirm_here' : 'passkey.remove_confirm', { name: k.name })),
        h('div', { class: 'confirm-actions' },
          h('button', { type: 'button', class: 'danger', testid: 'passkey-remove-confirm', onclick: remove }, t('passkey.remove_yes')),
          h('button', { type: 'button', class: 'link-button', onclick: idle }, t('passkey.cancel'))));
      actions.querySelector('button').focus();
    }
    function idle() {
      clear(actions, h('button', {
        type: 'button', class: 'link-button', testid: 'passkey-remove', onclick: ask,
        'aria-label': t('passkey.remove_label', { name: k.name }),
      }, t('passkey.remove')));
    }
    async function remove() {
      try {
        const res = await guarded(() => api('DELETE', `/passkeys/${encodeURIComponent(k.id)}`), slot);
        if (res?.signed_out) {
          signedOutHere(t('passkey.removed_signed_out', { name: k.name }));
          return;
        }
        await load();
        tell(t(res?.sessions_ended ? 'passkey.removed_devices' : 'passkey.removed', { name: k.name }));
      } catch (err) {
        idle();
        fail(err);
      }
    }
    idle();
    return li;
  }

  async function onAdd(e) {
    e.preventDefault();
    if (add.disabled) return;
    tell('');
    problem.hidden = true;
    const label = name.value.trim();
    if (!label) {
      fail({ message: t('passkey.name_missing') });
      name.focus();
      return;
    }
    add.disabled = true;
    try {
      const options = await guarded(() => api('POST', '/passkeys/register/begin'), slot);
      add.textContent = t('passkey.adding');
      const credential = await passkeys.create(options);
      await api('POST', '/passkeys/register/finish', { name: label, credential });
      name.value = '';
      await load();
      tell(t('passkey.added', { name: label }));
    } catch (err) {
      fail(err);
    } finally {
      add.disabled = false;
      add.textContent = t('passkey.add');
    }
  }

  const box = h('section', { class: 'security passkeys', testid: 'passkeys', 'aria-labelledby': 'passkeys-title' },
    h('h3', { id: 'passkeys-title' }, t('passkey.title')),
    h('p', { class: 'muted' }, t('passkey.intro')),
    list,
    passkeys.supported() ? form : h('p', { class: 'muted', testid: 'passkey-unsupported' }, t('passkey.unsupported')),
    slot, said, problem);
  load();
  return box;
}
