// A forgotten password: ask for a link by email (#/forgot), then choose a
// new password from the link (#/reset?token=…). The answer to the ask is
// the same whether or not the address has an account.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { language, t } from '../i18n.js';

const MIN_PASSWORD = 10;

function page(title, ...children) {
  return h('main', { class: 'auth' },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'OT'), 'OpenTeller'),
    h('section', { class: 'auth-card', 'aria-labelledby': 'reset-title' },
      h('h1', { id: 'reset-title' }, title),
      ...children));
}

export function forgotView() {
  const email = h('input', { id: 'forgot-email', type: 'email', autocomplete: 'email', required: true, testid: 'forgot-email' });
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'forgot-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide', testid: 'forgot-submit' }, t('reset.send_link'));
  const form = h('form', { novalidate: true },
    h('label', { for: email.id }, t('auth.email')), email, error, submit);
  const slot = h('div', {}, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!email.value.trim()) {
      error.textContent = t('reset.missing_email');
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const res = await api('POST', '/password-reset', { email: email.value.trim() }, { expect401: true });
      clear(slot,
        h('p', { role: 'status', testid: 'reset-sent' }, language() === 'en' && res?.message ? res.message : t('reset.sent')),
        h('p', { class: 'muted' }, t('reset.sent_note')));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  const el = page(t('auth.forgot'),
    h('p', { class: 'muted' }, t('reset.intro')),
    slot,
    h('p', { class: 'switch' }, h('a', { href: '#/signin', testid: 'back-to-signin' }, t('reset.back'))));
  return { el, focus: () => email.focus() };
}

// The token leaves the address bar once read (it stays in memory), so it
// is not left in the history for the next person at this computer.
let heldToken = '';

export function resetView({ token, onReset }) {
  if (token) {
    heldToken = token;
    history.replaceState(null, '', '#/reset');
  }
  const password = h('input', {
    id: 'reset-password', type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD,
    testid: 'reset-password', 'aria-describedby': 'reset-hint',
  });
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'reset-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide', testid: 'reset-submit' }, t('reset.save'));
  const form = h('form', { novalidate: true },
    h('label', { for: password.id }, t('reset.new_password')), password,
    h('p', { id: 'reset-hint', class: 'hint' }, t('password.hint', { count: MIN_PASSWORD })),
    error, submit);
  const slot = h('div', {}, heldToken ? form : h('p', { class: 'form-error', role: 'alert', testid: 'reset-error' },
    `${t('reset.incomplete')} `, h('a', { href: '#/forgot' }, t('reset.ask_new')), t('reset.end')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (password.value.length < MIN_PASSWORD) {
      error.textContent = t('password.too_short', { count: MIN_PASSWORD });
      error.hidden = false;
      password.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api('POST', '/password-reset/complete', { token: heldToken, new: password.value }, { expect401: true });
      heldToken = '';
      onReset?.();
      clear(slot,
        h('p', { role: 'status', testid: 'reset-done' }, t('reset.done')),
        h('a', { href: '#/signin', class: 'button primary wide', testid: 'reset-signin' }, t('auth.signin')));
    } catch (err) {
      clear(error, err.message);
      if (err.code === 'reset_link_invalid') error.append(' ', h('a', { href: '#/forgot' }, t('reset.ask_new_link')), t('reset.end'));
      error.hidden = false;
      submit.disabled = false;
    }
  });
  const el = page(t('reset.choose'), slot);
  return { el, focus: () => password.focus() };
}
