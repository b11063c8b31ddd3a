// Two-step sign-in, in the privacy center's "Your account": set up a TOTP
// authenticator app (the key as text and as an otpauth:// link, confirmed
// by a first code), see and renew the recovery codes, or turn it off.
// Each change asks for the password again when the last sign-in is not
// recent (reauth.js).
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { guarded } from '../reauth.js';
import { t } from '../i18n.js';

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
    clear(box, h('h3', { id: 'security-title' }, t('security.title')), ...children, slot, problem);
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
      h('p', { class: 'muted', testid: 'totp-state', 'data-state': 'off' }, t('security.off')),
      h('button', { type: 'button', class: 'button', testid: 'totp-setup', onclick: setup }, t('security.setup')));
  }

  function on(left) {
    draw(
      h('p', { class: 'muted', testid: 'totp-state', 'data-state': 'on' },
        t('security.on', { count: left })),
      h('div', { class: 'confirm-actions' },
        h('button', { type: 'button', class: 'button', testid: 'totp-new-codes', onclick: newCodes }, t('security.new_codes')),
        h('button', { type: 'button', class: 'link-button', testid: 'totp-off', onclick: turnOff }, t('security.turn_off'))));
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
      h('label', { for: code.id }, t('security.step2')), code,
      h('p', { class: 'hint', id: 'totp-code-hint' }, t('security.step2_hint')),
      error,
      h('div', { class: 'confirm-actions' },
        h('button', { type: 'submit', class: 'primary', testid: 'totp-confirm' }, t('security.turn_on')),
        h('button', { type: 'button', class: 'link-button', onclick: load }, t('common.cancel'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      try {
        const done = await api('POST', '/totp/confirm', { code: code.value.trim() });
        showCodes(done.recovery_codes, t('security.is_on'));
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        code.focus();
      }
    });
    draw(
      h('p', {}, t('security.step1')),
      h('p', { class: 'secret' }, h('code', { testid: 'totp-secret' }, res.secret)),
      h('p', { class: 'muted' }, `${t('security.uri_before')} `,
        h('a', { href: res.uri, testid: 'totp-uri-link' }, t('security.uri_link')),
        ` ${t('security.uri_after')}`),
      h('p', { class: 'secret' }, h('code', { testid: 'totp-uri' }, res.uri)),
      form);
    code.focus();
  }

  // The recovery codes are shown this once.
  function showCodes(codes, said) {
    draw(
      h('p', { role: 'status', testid: 'totp-said' }, said),
      h('p', {}, t('security.keep_codes')),
      h('ul', { class: 'recovery-codes', testid: 'recovery-codes' }, codes.map((c) => h('li', {}, h('code', {}, c)))),
      h('button', { type: 'button', class: 'button', testid: 'totp-saved', onclick: load }, t('security.saved')));
  }

  async function newCodes() {
    problem.hidden = true;
    try {
      const res = await guarded(() => api('POST', '/totp/recovery-codes'), slot);
      showCodes(res.recovery_codes, t('security.new_ready'));
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
