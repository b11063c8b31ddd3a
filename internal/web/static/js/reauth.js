// Re-authentication. What cannot be undone (clearing history, disconnecting
// every bank) and changes to two-step sign-in need a recent sign-in; when
// the last one is older, the server answers 403 reauth_required. guarded()
// then asks for the password (and the code, with two-step sign-in on)
// right where the person is, re-authenticates and tries again.
import { h, clear } from './dom.js';
import { api } from './api.js';
import { t } from './i18n.js';

let seq = 0;

// guarded(run, slot) runs run() (a function returning the API call's
// promise). On reauth_required it shows the form in slot, and once the
// password (and code) are accepted, runs run() again and resolves with its
// result. Cancelling rejects with code 'cancelled'; other errors reject
// as they come.
export async function guarded(run, slot) {
  try {
    return await run();
  } catch (err) {
    if (err.code !== 'reauth_required') throw err;
  }
  await askAgain(slot);
  return run();
}

// askAgain shows the form in slot and resolves once re-authenticated.
function askAgain(slot) {
  return new Promise((resolve, reject) => {
    const id = `reauth-${++seq}`;
    const password = h('input', { type: 'password', id: `${id}-password`, autocomplete: 'current-password', required: true, testid: 'reauth-password' });
    const code = h('input', {
      type: 'text', id: `${id}-code`, inputmode: 'numeric', autocomplete: 'one-time-code', testid: 'reauth-code',
      'aria-describedby': `${id}-code-hint`,
    });
    const codeBox = h('div', { class: 'reauth-code', hidden: true },
      h('label', { for: code.id }, t('auth.code')), code,
      h('p', { class: 'hint', id: `${id}-code-hint` }, t('reauth.code_hint')));
    const error = h('p', { class: 'form-error', role: 'alert', testid: 'reauth-error', hidden: true });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'reauth-submit' }, t('reauth.continue'));
    const cancel = h('button', { type: 'button', class: 'link-button', testid: 'reauth-cancel' }, t('common.cancel'));
    // For password managers: whose password this is.
    const username = h('input', { type: 'email', autocomplete: 'username', hidden: true, tabindex: '-1', 'aria-hidden': 'true' });
    const form = h('form', { class: 'reauth', testid: 'reauth', 'aria-labelledby': `${id}-title`, novalidate: true },
      h('p', { id: `${id}-title` }, t('reauth.title')),
      username,
      h('label', { for: password.id }, t('auth.password')), password,
      codeBox,
      error,
      h('div', { class: 'confirm-actions' }, submit, cancel));

    // With two-step sign-in on, the code is asked for at once.
    api('GET', '/me').then((me) => {
      username.value = me?.customer?.email || '';
      if (me?.security?.totp) codeBox.hidden = false;
    }, () => {});

    cancel.addEventListener('click', () => {
      clear(slot);
      const err = new Error(t('reauth.cancelled'));
      err.code = 'cancelled';
      reject(err);
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (submit.disabled) return;
      error.hidden = true;
      if (!password.value) {
        error.textContent = t('reauth.missing');
        error.hidden = false;
        password.focus();
        return;
      }
      submit.disabled = true;
      try {
        await api('POST', '/reauth', { password: password.value, code: code.value.trim() });
        clear(slot);
        resolve();
      } catch (err) {
        if (err.code === 'code_required') {
          codeBox.hidden = false;
          code.focus();
        }
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    clear(slot, form);
    password.focus();
  });
}
