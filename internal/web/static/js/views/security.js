// Two-step sign-in, in the privacy center's "Your account": set up a TOTP
// authenticator app (the key as text and as an otpauth:// link, confirmed
// by a first code), see and renew the recovery codes, or turn it off.
// Each change asks for the password again when the last sign-in is not
// recent (reauth.js).
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { guarded } from '../reauth.js';

export function securityBox() {
  const box = h('section', { class: 'security', testid: 'security', 'aria-labelledby': 'security-title' });
  const problem = h('p', { class: 'form-error', role: 'alert', testid: 'security-error', hidden: true });
  const slot = h('div', { class: 'reauth-slot' }); // where the password is asked for again

  function fail(err) {
    if (err.code === 'cancelled') return;
    problem.textContent = err.message;
    problem.hidden = false;
  }

  function draw(...children) {
    problem.hidden = true;
    clear(box, h('h3', { id: 'security-title' }, 'Two-step sign-in'), ...children, slot, problem);
  }

  async function load() {
    try {
      const me = await api('GET', '/me');
      if (me?.security?.totp) on(me.security.recovery_codes_left);
      else off();
    } catch (err) {
      draw();
      fail(err);
    }
  }

  function off() {
    draw(
      h('p', { class: 'muted', testid: 'totp-state', 'data-state': 'off' }, 'Off. With it on, signing in also needs a 6-digit code from an authenticator app on your phone, so your password alone is not enough.'),
      h('button', { type: 'button', class: 'button', testid: 'totp-setup', onclick: setup }, 'Set up two-step sign-in'));
  }

  function on(left) {
    draw(
      h('p', { class: 'muted', testid: 'totp-state', 'data-state': 'on' },
        `On. Signing in asks for a code from your authenticator app. ${left} recovery ${left === 1 ? 'code' : 'codes'} left.`),
      h('div', { class: 'confirm-actions' },
        h('button', { type: 'button', class: 'button', testid: 'totp-new-codes', onclick: newCodes }, 'New recovery codes'),
        h('button', { type: 'button', class: 'link-button', testid: 'totp-off', onclick: turnOff }, 'Turn off two-step sign-in')));
  }

  async function setup() {
    problem.hidden = true;
    let res;
    try {
      res = await guarded(() => api('POST', '/totp/setup'), slot);
    } catch (err) { fail(err); return; }
    const code = h('input', {
      type: 'text', id: 'totp-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '7',
      testid: 'totp-code', 'aria-describedby': 'totp-code-hint',
    });
    const error = h('p', { class: 'form-error', role: 'alert', testid: 'totp-error', hidden: true });
    const form = h('form', { class: 'totp-confirm', novalidate: true },
      h('label', { for: code.id }, '2. Enter the 6-digit code the app shows'), code,
      h('p', { class: 'hint', id: 'totp-code-hint' }, 'Two-step sign-in is on once this code is accepted.'),
      error,
      h('div', { class: 'confirm-actions' },
        h('button', { type: 'submit', class: 'primary', testid: 'totp-confirm' }, 'Turn on'),
        h('button', { type: 'button', class: 'link-button', onclick: load }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      try {
        const done = await api('POST', '/totp/confirm', { code: code.value.trim() });
        showCodes(done.recovery_codes, 'Two-step sign-in is on.');
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        code.focus();
      }
    });
    draw(
      h('p', {}, '1. In your authenticator app, add an account with this key:'),
      h('p', { class: 'secret' }, h('code', { testid: 'totp-secret' }, res.secret)),
      h('p', { class: 'muted' }, 'If the app is on this device, you can ',
        h('a', { href: res.uri, testid: 'totp-uri-link' }, 'open it in your authenticator app'),
        ' instead. The same key as a link:'),
      h('p', { class: 'secret' }, h('code', { testid: 'totp-uri' }, res.uri)),
      form);
    code.focus();
  }

  // The recovery codes are shown this once.
  function showCodes(codes, said) {
    draw(
      h('p', { role: 'status', testid: 'totp-said' }, said),
      h('p', {}, 'Keep these recovery codes somewhere safe, apart from your phone. Each signs you in once if you lose your phone. They are shown only now.'),
      h('ul', { class: 'recovery-codes', testid: 'recovery-codes' }, codes.map((c) => h('li', {}, h('code', {}, c)))),
      h('button', { type: 'button', class: 'button', testid: 'totp-saved', onclick: load }, 'I’ve saved them'));
  }

  async function newCodes() {
    problem.hidden = true;
    try {
      const res = await guarded(() => api('POST', '/totp/recovery-codes'), slot);
      showCodes(res.recovery_codes, 'Your new recovery codes are ready; the old ones no longer work.');
    } catch (err) { fail(err); }
  }

  async function turnOff() {
    problem.hidden = true;
    try {
      await guarded(() => api('DELETE', '/totp'), slot);
      await load();
    } catch (err) { fail(err); }
  }

  load();
  return box;
}
