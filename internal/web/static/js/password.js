// A form to change one's own password, for the messenger and the console.
// The platform asks for the current password and signs out every other
// session of the account; the form says so, or says what was wrong.
import { h } from './dom.js';
import { t } from './i18n.js';

// passwordForm({ prefix, change, done, onSignedOut }): change(current, next)
// returns a promise (rejected with {status, message}); done is the sentence
// shown after a change; onSignedOut runs on a 401.
export function passwordForm({ prefix, change, done, onSignedOut = () => {} }) {
  const current = h('input', { type: 'password', id: `${prefix}-pw-current`, autocomplete: 'current-password', required: true, testid: `${prefix}-pw-current` });
  const next = h('input', { type: 'password', id: `${prefix}-pw-new`, autocomplete: 'new-password', required: true, minlength: '10', testid: `${prefix}-pw-new` });
  const said = h('p', { role: 'status', hidden: true, testid: `${prefix}-pw-said` });
  const form = h('form', { class: 'auth-form password-form' },
    h('label', { for: current.id }, t('password.current')), current,
    h('label', { for: next.id }, t('password.new', { count: 10 })), next,
    said,
    h('button', { type: 'submit', class: 'button', testid: `${prefix}-pw-change` }, t('password.change')));
  const button = form.querySelector('button');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (button.disabled) return; // one change at a time: a second would send the old password
    button.disabled = true;
    try {
      await change(current.value, next.value);
      current.value = next.value = '';
      said.className = 'muted';
      said.textContent = done;
    } catch (err) {
      if (err.status === 401) { onSignedOut(err); return; }
      said.className = 'form-error';
      said.textContent = err.message;
    } finally {
      button.disabled = false;
    }
    said.hidden = false;
  });
  return form;
}
