// Sign in and sign up: one form, two modes.
import { h } from '../dom.js';
import { api } from '../api.js';

const MIN_PASSWORD = 10;

// authView({mode: 'signin'|'signup', onSignedIn(response)})
export function authView({ mode, onSignedIn }) {
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
    h('label', { for: code.id }, 'Code from your authenticator app'), code,
    h('p', { id: `${id}-code-hint`, class: 'hint' }, 'Lost your phone? Enter one of your recovery codes instead.'));
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'auth-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide', testid: `${id}-submit` }, signup ? 'Create account' : 'Sign in');

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
    if (!body.email || !body.password) return showError('Enter your email address and password.');
    if (signup && body.password.length < MIN_PASSWORD) {
      password.focus();
      return showError(`Your password needs at least ${MIN_PASSWORD} characters.`);
    }
    submit.disabled = true;
    submit.textContent = signup ? 'Creating account…' : 'Signing in…';
    try {
      onSignedIn(await api('POST', signup ? '/signup' : '/signin', body, { expect401: true }));
    } catch (err) {
      if (err.code === 'code_required' && codeBox.hidden) {
        codeBox.hidden = false;
        code.focus();
      }
      showError(err.message, err.code === 'code_required');
      submit.disabled = false;
      submit.textContent = signup ? 'Create account' : 'Sign in';
    }
  }

  const el = h('main', { class: 'auth' },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'OT'), 'OpenTeller'),
    h('form', { class: 'auth-card', novalidate: true, onsubmit, 'aria-labelledby': `${id}-title` },
      h('h1', { id: `${id}-title` }, signup ? 'Create your account' : 'Sign in'),
      h('p', { class: 'muted' }, 'Your bank, in a conversation. Private by design.'),
      h('label', { for: email.id }, 'Email address'), email,
      h('label', { for: password.id }, 'Password'), password,
      signup && h('p', { id: `${id}-hint`, class: 'hint' }, `At least ${MIN_PASSWORD} characters. A few words you’ll remember work well.`),
      !signup && codeBox,
      error,
      submit,
      !signup && h('p', { class: 'switch' }, h('a', { href: '#/forgot', testid: 'forgot-link' }, 'Forgot your password?')),
      signup
        ? h('p', { class: 'switch' }, 'Already have an account? ', h('a', { href: '#/signin', testid: 'signin-link' }, 'Sign in'))
        : h('p', { class: 'switch' }, 'New to OpenTeller? ', h('a', { href: '#/signup', testid: 'signup-link' }, 'Create an account')),
    ),
  );
  return { el, focus: () => email.focus() };
}
