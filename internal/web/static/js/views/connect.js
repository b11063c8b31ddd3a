// Connect a bank: pick an institution, choose scopes, go to the bank to approve.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { avatar } from './list.js';

// In the order bankapi.AllScopes shows them to a customer.
export const SCOPES = [
  ['balances', 'Account balances'],
  ['transactions', 'Card and account transactions'],
  ['fraud_alerts', 'Fraud alerts you can answer'],
  ['receipts', 'Receipts from merchants'],
  ['shipments', 'Shipping updates'],
  ['support_chat', 'Chat with the bank’s support team'],
];

const CALLBACK_ERRORS = {
  access_denied: 'You didn’t approve the connection at your bank, so nothing was shared.',
  invalid_state: 'That connection attempt expired or was already used. Please start again.',
  expired: 'That connection attempt took too long and expired. Please start again.',
  server_error: 'Your bank had a problem finishing the connection. Please try again in a moment.',
  temporarily_unavailable: 'Your bank is temporarily unavailable. Please try again in a moment.',
};

export function callbackErrorText(code) {
  return CALLBACK_ERRORS[code] || 'We couldn’t connect your bank. Please try again.';
}

export function connectView({ params }) {
  const banner = h('p', { class: 'form-error', role: 'alert', testid: 'connect-error', hidden: true });
  const banks = h('div', { class: 'bank-options' }, h('p', { class: 'muted' }, 'Loading banks…'));
  const boxes = SCOPES.map(([name, label]) =>
    h('input', { type: 'checkbox', id: `scope-${name}`, name: 'scope', value: name, checked: true, testid: `scope-${name}` }));
  const scopes = h('fieldset', { class: 'scopes', disabled: true },
    h('legend', {}, 'What your bank may send here'),
    SCOPES.map(([, label], i) => h('div', { class: 'check' }, boxes[i], h('label', { for: boxes[i].id }, label))),
  );
  const note = h('p', { class: 'note' },
    'Used only to show you this information and let the bank answer you. Never for advertising, never sold, never shared. Revoke any time.');
  const cont = h('button', { type: 'submit', class: 'primary', testid: 'connect-continue', disabled: true }, 'Continue to your bank');
  let chosen = null;

  function showError(message) {
    banner.textContent = message;
    banner.hidden = !message;
  }

  function refresh() {
    const any = boxes.some((b) => b.checked);
    scopes.disabled = !chosen;
    cont.disabled = !chosen || !any;
    cont.textContent = chosen ? `Continue to ${chosen.name}` : 'Continue to your bank';
  }

  async function onsubmit(e) {
    e.preventDefault();
    if (!chosen) return;
    showError('');
    cont.disabled = true;
    try {
      const scopesChosen = boxes.filter((b) => b.checked).map((b) => b.value);
      const res = await api('POST', '/links', { institution_id: chosen.id, scopes: scopesChosen });
      location.assign(res.authorize_url);
    } catch (err) {
      showError(err.message);
      refresh();
    }
  }

  const form = h('form', { class: 'connect', onsubmit, onchange: refresh },
    h('fieldset', { class: 'banks' }, h('legend', {}, 'Choose your bank'), banks),
    scopes,
    note,
    h('p', { class: 'muted small' }, 'You’ll sign in at your bank to approve. OpenTeller never sees your bank password.'),
    h('div', { class: 'actions' }, h('a', { href: '#/', class: 'button' }, 'Cancel'), cont),
  );

  const el = h('section', { class: 'main-pane connect-pane', 'aria-labelledby': 'connect-title' },
    h('header', { class: 'pane-head' },
      h('a', { href: '#/', class: 'back', 'aria-label': 'Back to conversations' }, '‹'),
      h('h1', { id: 'connect-title' }, 'Connect a bank'),
    ),
    h('div', { class: 'pane-body' }, banner, form),
  );

  if (params.get('error')) showError(callbackErrorText(params.get('error')));

  api('GET', '/institutions').then((res) => {
    const list = res?.institutions || [];
    if (!list.length) return clear(banks, h('p', { class: 'muted' }, 'No banks are available yet.'));
    clear(banks, list.map((inst) => {
      const radio = h('input', { type: 'radio', name: 'institution', id: `inst-${inst.id}`, value: inst.id });
      radio.addEventListener('change', () => { chosen = inst; refresh(); });
      return h('div', { class: 'bank-option', testid: 'institution-option', 'data-id': inst.id },
        radio, h('label', { for: radio.id }, avatar(inst.name), inst.name));
    }));
    if (list.length === 1) {
      banks.querySelector('input').checked = true;
      chosen = list[0];
      refresh();
    }
  }, (err) => clear(banks, h('p', { class: 'form-error', role: 'alert' }, err.message)));

  return { el };
}
