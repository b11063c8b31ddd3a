// A forgotten password: ask for a link by email (#/forgot), then choose a
// new password from the link (#/reset?token=…). The answer to the ask is
// the same whether or not the address has an account.
import { h, clear } from '../dom.js';
import { api } from '../api.js';

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
  const submit = h('button', { type: 'submit', class: 'primary wide', testid: 'forgot-submit' }, 'Send me a link');
  const form = h('form', { novalidate: true },
    h('label', { for: email.id }, 'Email address'), email, error, submit);
  const slot = h('div', {}, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!email.value.trim()) {
      error.textContent = 'Enter the email address you sign in with.';
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const res = await api('POST', '/password-reset', { email: email.value.trim() }, { expect401: true });
      clear(slot,
        h('p', { role: 'status', testid: 'reset-sent' }, res?.message || 'If an account uses that address, a link is on its way.'),
        h('p', { class: 'muted' }, 'Didn’t get it? Check your spam folder, or ask again in a few minutes.'));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  const el = page('Forgot your password?',
    h('p', { class: 'muted' }, 'We’ll email you a link to choose a new one.'),
    slot,
    h('p', { class: 'switch' }, h('a', { href: '#/signin', testid: 'back-to-signin' }, 'Back to sign in')));
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
  const submit = h('button', { type: 'submit', class: 'primary wide', testid: 'reset-submit' }, 'Save new password');
  const form = h('form', { novalidate: true },
    h('label', { for: password.id }, 'New password'), password,
    h('p', { id: 'reset-hint', class: 'hint' }, `At least ${MIN_PASSWORD} characters. A few words you’ll remember work well.`),
    error, submit);
  const slot = h('div', {}, heldToken ? form : h('p', { class: 'form-error', role: 'alert', testid: 'reset-error' },
    'This link is incomplete. ', h('a', { href: '#/forgot' }, 'Ask for a new one'), '.'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (password.value.length < MIN_PASSWORD) {
      error.textContent = `Your password needs at least ${MIN_PASSWORD} characters.`;
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
        h('p', { role: 'status', testid: 'reset-done' }, 'Your password is changed, and every device that was signed in is signed out.'),
        h('a', { href: '#/signin', class: 'button primary wide', testid: 'reset-signin' }, 'Sign in'));
    } catch (err) {
      clear(error, err.message);
      if (err.code === 'reset_link_invalid') error.append(' ', h('a', { href: '#/forgot' }, 'Ask for a new link'), '.');
      error.hidden = false;
      submit.disabled = false;
    }
  });
  const el = page('Choose a new password', slot);
  return { el, focus: () => password.focus() };
}
