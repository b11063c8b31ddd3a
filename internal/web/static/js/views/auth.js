// Sign in and sign up: one form, two modes.
import { h } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { languagePicker } from '../language.js';
import * as passkeys from '../passkeys.js';

const MIN_PASSWORD = 10;

// authView({mode: 'signin'|'signup', note, onSignedIn(response)}); note,
// if any, says why the page was signed out.
export function authView({ mode, note = '', onSignedIn }) {
  const signup = mode === 'signup';
  const id = signup ? 'signup' : 'signin';

  const email = h('input', {
    id: `${id}-email`, type: 'email', name: 'email', autocomplete: 'email', required: true, testid: `${id}-email`,
  });
  const password = h('input', {
    id: `${id}-password`, type: 'password', name: 'password', required: true, testid: `${id}-password`,
    autocomplete: signup ? 'new-password' : 'current-password',
    minlength: signup ? MIN_PASSWORD : null,
    'aria-describedby': signup ? `${id}-hint` : null,
  });
  // Two-step sign-in: asked for once the password is right.
  const code = h('input', {
    id: `${id}-code`, type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', testid: `${id}-code`,
    'aria-describedby': `${id}-code-hint`,
  });
  const codeBox = h('div', { class: 'code-box', hidden: true },
    h('label', { for: code.id }, t('auth.code')), code,
    h('p', { id: `${id}-code-hint`, class: 'hint' }, t('auth.code_hint')));
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'auth-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide', testid: `${id}-submit` }, t(signup ? 'auth.create_account' : 'auth.signin'));

  // Sign-in with a passkey: usernameless, or for the address typed above.
  // The device verifies the person, so neither password nor code is asked.
  const passkey = !signup && passkeys.supported() && h('button', {
    type: 'button', class: 'button wide passkey-signin', testid: 'passkey-signin', onclick: withPasskey,
  }, t('passkey.signin'));

  async function withPasskey() {
    showError('');
    const address = email.value.trim();
    passkey.disabled = true;
    passkey.textContent = t('passkey.signing_in');
    try {
      onSignedIn(await passkeys.signIn(address.includes('@') ? address : ''));
    } catch (err) {
      showError(err.message);
      passkey.disabled = false;
      passkey.textContent = t('passkey.signin');
    }
  }

  // A note, not an error, when the password was right and the code is
  // what comes next.
  function showError(message, note = false) {
    error.className = note ? 'form-note' : 'form-error';
    error.textContent = message;
    error.hidden = !message;
  }

  async function onsubmit(e) {
    e.preventDefault();
    showError('');
    const body = { email: email.value.trim(), password: password.value };
    if (!codeBox.hidden) body.code = code.value.trim();
    if (!body.email || !body.password) return showError(t('auth.missing'));
    if (signup && body.password.length < MIN_PASSWORD) {
      password.focus();
      return showError(t('password.too_short', { count: MIN_PASSWORD }));
    }
    submit.disabled = true;
    submit.textContent = t(signup ? 'auth.creating' : 'auth.signing_in');
    try {
      onSignedIn(await api('POST', signup ? '/signup' : '/signin', body, { expect401: true }));
    } catch (err) {
      if (err.code === 'code_required' && codeBox.hidden) {
        codeBox.hidden = false;
        code.focus();
      }
      showError(err.message, err.code === 'code_required');
      submit.disabled = false;
      submit.textContent = t(signup ? 'auth.create_account' : 'auth.signin');
    }
  }

  if (note) showError(note, true);

  const el = h('main', { class: 'auth' },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'OT'), 'OpenTeller'),
    h('form', { class: 'auth-card', novalidate: true, onsubmit, 'aria-labelledby': `${id}-title` },
      h('h1', { id: `${id}-title` }, t(signup ? 'auth.create_title' : 'auth.signin')),
      h('p', { class: 'muted' }, t('auth.tagline')),
      h('label', { for: email.id }, t('auth.email')), email,
      h('label', { for: password.id }, t('auth.password')), password,
      signup && h('p', { id: `${id}-hint`, class: 'hint' }, t('password.hint', { count: MIN_PASSWORD })),
      !signup && codeBox,
      error,
      submit,
      passkey && h('p', { class: 'or', 'aria-hidden': 'true' }, t('passkey.or')),
      passkey,
      !signup && h('p', { class: 'switch' }, h('a', { href: '#/forgot', testid: 'forgot-link' }, t('auth.forgot'))),
      signup
        ? h('p', { class: 'switch' }, `${t('auth.have_account')} `, h('a', { href: '#/signin', testid: 'signin-link' }, t('auth.signin')))
        : h('p', { class: 'switch' }, `${t('auth.new_here')} `, h('a', { href: '#/signup', testid: 'signup-link' }, t('auth.create_link'))),
    ),
    languagePicker({ id: `${id}-language` }),
  );
  return { el, focus: () => email.focus() };
}
