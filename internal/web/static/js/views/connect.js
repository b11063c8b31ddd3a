// Connect a bank: pick an institution, choose scopes, go to the bank to approve.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { avatar } from './list.js';
import { has, language, t } from '../i18n.js';

// In the order bankapi.AllScopes shows them to a customer.
export const SCOPES = ['balances', 'transactions', 'fraud_alerts', 'receipts', 'shipments', 'payments', 'support_chat'];

// scopeWords says what a scope lets the bank send, in a few words
// ("Account balances"); a scope this version does not know, as it is named.
export function scopeWords(scope) {
  const key = `scope.${scope}`;
  return has(key) ? t(key) : String(scope);
}

// callbackErrorText says why coming back from the bank did not connect it,
// from the error the bank's sign-in gave (OAuth 2.0's codes, and ours).
export function callbackErrorText(code) {
  const key = `connect.callback.${code}`;
  return has(key) ? t(key) : t('connect.callback.other');
}

export function connectView({ params }) {
  const banner = h('p', { class: 'form-error', role: 'alert', testid: 'connect-error', hidden: true });
  const banks = h('div', { class: 'bank-options' }, h('p', { class: 'muted' }, t('connect.loading')));
  const boxes = SCOPES.map((name) =>
    h('input', { type: 'checkbox', id: `scope-${name}`, name: 'scope', value: name, checked: true, testid: `scope-${name}` }));
  const scopes = h('fieldset', { class: 'scopes', disabled: true },
    h('legend', {}, t('connect.scopes')),
    SCOPES.map((name, i) => h('div', { class: 'check' }, boxes[i], h('label', { for: boxes[i].id }, scopeWords(name)))),
  );
  const duration = h('select', { id: 'duration', testid: 'duration' },
    [30, 90, 180, 365].map((d) => h('option', { value: String(d), selected: d === 90 }, t('common.days', { count: d }))));
  const durationField = h('div', { class: 'field' }, h('label', { for: 'duration' }, t('connect.duration')), duration);
  // The disclosure is the platform's own text, fetched for exactly these
  // choices; its digest goes with the approval and into the receipt.
  const disclosure = h('div', { class: 'disclosure', testid: 'disclosure', 'aria-live': 'polite' });
  const cont = h('button', { type: 'submit', class: 'primary', testid: 'connect-continue', disabled: true }, t('connect.continue'));
  let chosen = null;
  let shown = null; // the disclosure on screen: { digest, key }
  let asked = 0;

  function choices() {
    return { scopes: boxes.filter((b) => b.checked).map((b) => b.value), days: Number(duration.value) };
  }

  async function loadDisclosure() {
    const { scopes: s, days } = choices();
    const key = `${chosen?.id}|${s.join(',')}|${days}`;
    if (!chosen || !s.length) { shown = null; clear(disclosure); return; }
    if (shown?.key === key) return;
    const mine = ++asked;
    shown = null;
    cont.disabled = true;
    try {
      const q = new URLSearchParams({ institution_id: chosen.id, scopes: s.join(','), duration_days: String(days), lang: language() });
      const res = await api('GET', `/disclosure?${q}`);
      if (mine !== asked) return; // a newer choice is on its way
      const d = res.disclosure;
      shown = { digest: d.digest, lang: d.lang, key };
      clear(disclosure,
        h('h2', {}, t('connect.agree')),
        d.text.trim().split('\n').map((line) => line.startsWith('- ')
          ? h('p', { class: 'disclosure-scope' }, line.slice(2))
          : h('p', {}, line)));
    } catch (err) {
      if (mine === asked) showError(err.message);
    }
    refresh();
  }

  function showError(message) {
    banner.textContent = message;
    banner.hidden = !message;
  }

  function refresh() {
    const any = boxes.some((b) => b.checked);
    scopes.disabled = !chosen;
    duration.disabled = !chosen;
    cont.disabled = !chosen || !any || !shown;
    cont.textContent = chosen ? t('connect.agree_continue', { bank: chosen.name }) : t('connect.continue');
  }

  function changed() {
    refresh();
    loadDisclosure();
  }

  async function onsubmit(e) {
    e.preventDefault();
    if (!chosen) return;
    showError('');
    cont.disabled = true;
    try {
      const { scopes: scopesChosen, days } = choices();
      const res = await api('POST', '/links', {
        institution_id: chosen.id, scopes: scopesChosen, duration_days: days, disclosure_digest: shown.digest, lang: shown.lang,
      });
      location.assign(res.authorize_url);
    } catch (err) {
      showError(err.message);
      refresh();
    }
  }

  const form = h('form', { class: 'connect', onsubmit, onchange: changed },
    h('fieldset', { class: 'banks' }, h('legend', {}, t('connect.choose')), banks),
    scopes,
    durationField,
    disclosure,
    h('p', { class: 'muted small' }, t('connect.note')),
    h('div', { class: 'actions' }, h('a', { href: '#/', class: 'button' }, t('common.cancel')), cont),
  );

  const el = h('section', { class: 'main-pane connect-pane', 'aria-labelledby': 'connect-title' },
    h('header', { class: 'pane-head' },
      h('a', { href: '#/', class: 'back', 'aria-label': t('common.back_to_conversations') }, '‹'),
      h('h1', { id: 'connect-title' }, t('list.connect')),
    ),
    h('div', { class: 'pane-body' }, banner, form),
  );

  if (params.get('error')) showError(callbackErrorText(params.get('error')));

  api('GET', '/institutions').then((res) => {
    const list = res?.institutions || [];
    if (!list.length) return clear(banks, h('p', { class: 'muted' }, t('connect.none')));
    clear(banks, list.map((inst) => {
      const radio = h('input', { type: 'radio', name: 'institution', id: `inst-${inst.id}`, value: inst.id });
      radio.addEventListener('change', () => { chosen = inst; changed(); });
      return h('div', { class: 'bank-option', testid: 'institution-option', 'data-id': inst.id },
        radio, h('label', { for: radio.id }, avatar(inst.name), inst.name));
    }));
    if (list.length === 1) {
      banks.querySelector('input').checked = true;
      chosen = list[0];
      changed();
    }
  }, (err) => clear(banks, h('p', { class: 'form-error', role: 'alert' }, err.message)));

  return { el };
}
