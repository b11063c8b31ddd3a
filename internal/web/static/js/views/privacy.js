// The privacy center: every link with its status, scopes and expiry; renew
// or disconnect each; and the receipt of every consent decision, to read or
// download. Disconnecting is one tap and one confirmation, like connecting.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { longDate } from '../format.js';
import { passwordForm } from '../password.js';
import { guarded } from '../reauth.js';
import { securityBox } from './security.js';
import { passkeysBox } from './passkeys.js';
import { notificationSettings } from '../notifications.js';
import * as store from '../store.js';
import { scopeWords } from './connect.js';
import { expiringSoon } from './thread.js';
import { fromBase64, leafHash, openNote, parseCheckpoint, toBase64, verifyConsistency, verifyInclusion } from '../tlog.js';
import { explainVerified, groupReads, sittingRow } from '../access-history.js';
import { has, t } from '../i18n.js';
import { languagePicker } from '../language.js';

// actionWords names a consent decision on its receipt ("Connected").
function actionWords(action) {
  const key = `privacy.action.${action}`;
  return has(key) ? t(key) : String(action || '');
}

function statusWords(c) {
  const s = c.link?.status;
  if (s === 'active') return t(expiringSoon(c) ? 'privacy.status.expiring' : 'privacy.status.active', { date: longDate(c.link.expires_at) });
  if (s === 'revoked' || s === 'expired') return t(`privacy.status.${s}`);
  return s || t('privacy.status.unknown');
}

export function privacyView() {
  const links = h('ul', { class: 'privacy-links' });
  const accesses = h('ul', { class: 'privacy-receipts', testid: 'access-history' });
  const delegationsByLink = new Map();
  // A sharing box the customer opened, and what they typed in it, survive
  // the list being redrawn (as when the delegations arrive).
  const openBoxes = new Set();
  const drafts = new Map(); // link → {email, days}
  const receipts = h('ul', { class: 'privacy-receipts' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const confirming = new Set();

  function fail(err) {
    problem.textContent = err.message;
    problem.hidden = false;
  }

  // Every link the customer ever made, newest first; each row is shaped
  // like a conversation ({id, institution, link}) for the helpers above.
  let allLinks = [];

  async function loadLinks() {
    try {
      const res = await api('GET', '/links');
      allLinks = (res.links || []).map((l) => ({ id: l.id, institution: l.institution, link: l }));
    } catch (err) {
      fail(err);
    }
    renderLinks();
  }

  async function act(c, method, path, body) {
    problem.hidden = true;
    try {
      const res = await api(method, path, body);
      // Keep the messenger's own view of the conversation current too.
      const conv = store.conversation(c.link.conversation_id);
      if (conv?.link?.id === c.link.id) store.upsertConversation({ ...conv, link: { ...conv.link, ...res.link } });
      confirming.delete(c.id);
      loadReceipts();
      await loadLinks();
    } catch (err) {
      fail(err);
      renderLinks();
    }
  }

  // Clearing history is irreversible, so it asks once more, in plain words,
  // and, when the last sign-in is not recent, for the password again
  // (reauth.js), right in the confirmation.
  const clearing = new Set(); // institution ids, or 'all', being confirmed
  // An open confirmation is kept as it is when the list is drawn again, so
  // a password being typed into it survives.
  const confirms = new Map(); // key → element
  const closeConfirm = (key) => { clearing.delete(key); confirms.delete(key); };
  function clearConfirm(what, body, key) {
    if (confirms.has(key)) return confirms.get(key);
    const slot = h('div', { class: 'reauth-slot' });
    const actions = h('div', { class: 'confirm-actions' },
      h('button', { type: 'button', class: 'danger', testid: 'clear-confirm-button', onclick: async () => {
        actions.hidden = true;
        try {
          await guarded(() => api('POST', '/history/clear', body), slot);
          closeConfirm(key);
          problem.hidden = true;
          renderLinks();
          renderClearAll();
        } catch (err) {
          actions.hidden = false;
          if (err.code !== 'cancelled') fail(err);
        }
      } }, t('privacy.clear.confirm')),
      h('button', { type: 'button', class: 'link-button', onclick: () => { closeConfirm(key); renderLinks(); renderClearAll(); } }, t('common.cancel')));
    const el = h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': t('privacy.clear.label', { what }), testid: 'clear-confirm' },
      h('p', {}, t('privacy.clear.question', { what })),
      slot,
      actions);
    confirms.set(key, el);
    return el;
  }
  const clearAll = h('div', { class: 'clear-all' });
  function renderClearAll() {
    clear(clearAll, clearing.has('all')
      ? clearConfirm(t('privacy.clear.everything'), { everything: true }, 'all')
      : h('button', { type: 'button', class: 'link-button', testid: 'privacy-clear-all', onclick: () => { clearing.add('all'); renderClearAll(); } }, t('privacy.clear.all')));
  }
  renderClearAll();

  // Disconnecting every bank at once: one confirmation, and the password
  // again when the last sign-in is not recent. (One bank at a time stays
  // one tap and one confirmation, as easy as connecting it.)
  const disconnectAll = h('div', { class: 'clear-all' });
  let confirmingAll = false;
  function renderDisconnectAll() {
    const live = allLinks.filter((c) => c.link.status !== 'revoked');
    if (confirmingAll && disconnectAll.querySelector('[data-testid="disconnect-all-dialog"]')) return; // kept while open
    if (!live.length) { clear(disconnectAll); return; }
    if (!confirmingAll) {
      clear(disconnectAll, h('button', { type: 'button', class: 'link-button', testid: 'privacy-disconnect-all', onclick: () => { confirmingAll = true; renderDisconnectAll(); } }, t('privacy.disconnect_all')));
      return;
    }
    const slot = h('div', { class: 'reauth-slot' });
    const actions = h('div', { class: 'confirm-actions' },
      h('button', { type: 'button', class: 'danger', testid: 'disconnect-all-confirm', onclick: async () => {
        actions.hidden = true;
        try {
          await guarded(() => api('POST', '/disconnect-all'), slot);
          confirmingAll = false;
          clear(disconnectAll);
          problem.hidden = true;
          loadReceipts();
          await loadLinks();
        } catch (err) {
          actions.hidden = false;
          if (err.code !== 'cancelled') fail(err);
        }
      } }, t('privacy.disconnect_all.confirm')),
      h('button', { type: 'button', class: 'link-button', onclick: () => { confirmingAll = false; clear(disconnectAll); renderDisconnectAll(); } }, t('common.cancel')));
    clear(disconnectAll, h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': t('privacy.disconnect_all'), testid: 'disconnect-all-dialog' },
      h('p', {}, t('privacy.disconnect_all.question', { count: live.length })),
      slot,
      actions));
  }

  function linkRow(c) {
    const name = c.institution?.name || t('thread.your_bank_title');
    const id = encodeURIComponent(c.link.id);
    const days = h('select', { 'aria-label': t('privacy.renew_for', { bank: name }), testid: 'renew-days' },
      [30, 90, 180, 365].map((d) => h('option', { value: String(d), selected: d === 90 }, t('common.days', { count: d }))));
    const ended = c.link.status === 'revoked';
    const active = c.link.status === 'active';
    // Only what is shared can be unticked here; sharing more goes through
    // the bank's own sign-in (connect again).
    const boxes = (c.link.scopes || []).map((s) =>
      h('input', { type: 'checkbox', id: `keep-${c.link.id}-${s}`, value: s, checked: true, disabled: !active, testid: `keep-${s}` }));
    const save = h('button', { type: 'button', class: 'button', testid: 'privacy-narrow', hidden: true,
      onclick: () => act(c, 'PUT', `/links/${id}/scopes`, { scopes: boxes.filter((b) => b.checked).map((b) => b.value) }) }, t('privacy.narrow'));
    const onchange = () => { save.hidden = boxes.every((b) => b.checked) || !boxes.some((b) => b.checked); };
    return h('li', { class: 'privacy-link', testid: 'privacy-link', 'data-id': c.link.id, 'data-status': c.link.status },
      h('h3', {}, name),
      h('p', { class: 'muted', testid: 'privacy-status' }, statusWords(c)),
      h('fieldset', { class: 'scopes', onchange },
        h('legend', { class: 'sr-only' }, t('privacy.may_send', { bank: name })),
        boxes.map((b) => h('div', { class: 'check' }, b, h('label', { for: b.id }, scopeWords(b.value))))),
      save,
      active && (c.link.scopes || []).includes('support_chat') && nameBox(c, name),
      active && delegationBox(c),
      !ended && h('div', { class: 'confirm-actions' },
        days,
        h('button', { type: 'button', class: 'button', testid: 'privacy-renew', onclick: () => act(c, 'POST', `/links/${id}/renew`, { duration_days: Number(days.value) }) }, t('privacy.renew')),
        c.link.status === 'active' && !confirming.has(c.id) &&
          h('button', { type: 'button', class: 'link-button', testid: 'privacy-disconnect', onclick: () => { confirming.add(c.id); renderLinks(); } }, t('thread.disconnect'))),
      !clearing.has(c.institution?.id) &&
        h('button', { type: 'button', class: 'link-button', testid: 'privacy-clear', onclick: () => { clearing.add(c.institution?.id); renderLinks(); } }, t('privacy.clear.history')),
      clearing.has(c.institution?.id) && clearConfirm(t('privacy.clear.bank', { bank: name }), { institution_id: c.institution?.id }, c.institution?.id),
      confirming.has(c.id) && h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': t('thread.disconnect_bank', { bank: name }) },
        h('p', {}, t('privacy.disconnect_confirm', { bank: name })),
        h('div', { class: 'confirm-actions' },
          h('button', { type: 'button', class: 'danger', testid: 'privacy-disconnect-confirm', onclick: () => act(c, 'DELETE', `/links/${id}`) }, t('thread.disconnect')),
          h('button', { type: 'button', class: 'link-button', onclick: () => { confirming.delete(c.id); renderLinks(); } }, t('common.cancel')))),
    );
  }

  // The name this bank's people see. Left empty, they see a made-up one
  // (the console's pseudonym); the customer may show one of their own, to
  // this bank alone (it is the link's), change it or remove it. Each box is
  // kept across redraws of the list, so what is being typed stays.
  const nameBoxes = new Map(); // link id → {el, show}
  function nameBox(c, bank) {
    let box = nameBoxes.get(c.link.id);
    if (!box) {
      box = makeNameBox(c, bank);
      nameBoxes.set(c.link.id, box);
    }
    box.show(c.link.display_name || '');
    return box.el;
  }

  function makeNameBox(c, bank) {
    const path = `/links/${encodeURIComponent(c.link.id)}/display-name`;
    const inputId = `shared-name-${c.link.id}`;
    const input = h('input', { type: 'text', id: inputId, maxlength: '40', autocomplete: 'nickname', spellcheck: 'false', testid: 'shared-name-input', 'aria-describedby': `${inputId}-hint` });
    const save = h('button', { type: 'submit', class: 'button', testid: 'shared-name-save' }, t('privacy.name.save'));
    const remove = h('button', { type: 'button', class: 'link-button', testid: 'shared-name-remove', hidden: true }, t('privacy.name.remove'));
    const said = h('p', { class: 'muted', role: 'status', testid: 'shared-name-said' });
    const error = h('p', { class: 'form-error', role: 'alert', testid: 'shared-name-error', hidden: true });
    let shown = ''; // what the bank's people see now
    let dirty = false; // typed into since; a redraw leaves it be
    input.addEventListener('input', () => { dirty = true; });
    const form = h('form', { class: 'shared-name', testid: 'shared-name', novalidate: true },
      h('label', { for: inputId }, t('privacy.name.label', { bank })),
      h('p', { class: 'hint', id: `${inputId}-hint` }, t('privacy.name.hint', { bank })),
      h('div', { class: 'inline-field' }, input, save),
      remove, error, said);
    async function send(method, body) {
      error.hidden = true;
      save.disabled = true;
      remove.disabled = true;
      try {
        const res = await api(method, path, body);
        dirty = false;
        said.textContent = res?.display_name ? t('privacy.name.saved', { bank, name: res.display_name }) : t('privacy.name.removed', { bank });
        loadReceipts();
        await loadLinks();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        save.disabled = false;
        remove.disabled = false;
      }
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      // Saving an empty name removes the one shown.
      if (input.value.trim()) send('PUT', { name: input.value });
      else if (shown) send('DELETE');
    });
    remove.addEventListener('click', () => {
      input.value = '';
      send('DELETE');
    });
    return {
      el: form,
      show(current) {
        shown = current;
        if (!dirty) input.value = current;
        remove.hidden = !current;
      },
    };
  }

  // Read-only access for someone the customer trusts, such as an
  // accountant: balances and transactions of this one link, for a bounded
  // time, revocable at any time. Sharing asks for the password again when
  // the last sign-in is not recent (reauth.js), in the box: a device left
  // signed in must not hand someone else the customer's money data.
  const shareSlots = new Map(); // link id → where the password is asked for, kept across redraws
  function delegationBox(c) {
    const id = encodeURIComponent(c.link.id);
    const key = c.link.id;
    if (!shareSlots.has(key)) shareSlots.set(key, h('div', { class: 'reauth-slot' }));
    const slot = shareSlots.get(key);
    const draft = drafts.get(key) || { email: '', days: '30' };
    const keep = () => drafts.set(key, { email: email.value, days: days.value });
    const email = h('input', { type: 'email', placeholder: t('privacy.delegate.email'), 'aria-label': t('privacy.delegate.email'), testid: 'delegate-email', value: draft.email, oninput: keep });
    const days = h('select', { 'aria-label': t('connect.duration'), testid: 'delegate-days', onchange: keep },
      [30, 90, 180, 365].map((d) => h('option', { value: String(d), selected: String(d) === draft.days }, t('common.days', { count: d }))));
    const share = async () => {
      problem.hidden = true;
      const asked = { email: email.value, duration_days: Number(days.value) };
      try {
        await guarded(() => api('POST', `/links/${id}/delegates`, asked), slot);
        drafts.delete(key);
        await loadDelegations(c);
        loadReceipts();
      } catch (err) {
        if (err.code !== 'cancelled') fail(err);
      }
    };
    const list = (delegationsByLink.get(c.link.id) || []).filter((d) => d.live);
    return h('details', { class: 'delegation', open: openBoxes.has(key) },
      // The click, not the later toggle event: a redraw may come between.
      h('summary', { onclick: (e) => { if (e.currentTarget.parentElement.open) openBoxes.delete(key); else openBoxes.add(key); } },
        t('privacy.delegate.summary')),
      h('p', { class: 'muted' }, t('privacy.delegate.note')),
      h('div', { class: 'confirm-actions' }, email, days, h('button', { type: 'button', class: 'button', testid: 'delegate-share', onclick: share }, t('privacy.delegate.share'))),
      slot,
      list.map((d) => h('p', { testid: 'delegation' }, `${t('privacy.delegate.until', { who: d.delegate, date: longDate(d.expires_at) })} `,
        h('button', { type: 'button', class: 'link-button', testid: 'delegation-revoke', onclick: async () => {
          try { await api('DELETE', `/delegations/${encodeURIComponent(d.id)}`); await loadDelegations(c); } catch (err) { fail(err); }
        } }, t('privacy.delegate.stop')))));
  }

  async function loadDelegations(c) {
    try {
      const res = await api('GET', `/links/${encodeURIComponent(c.link.id)}/delegates`);
      delegationsByLink.set(c.link.id, res.delegations || []);
    } catch { /* shown as none */ }
    renderLinks();
  }

  // The access history is checked here, in the browser: each entry's proof
  // of inclusion in a checkpoint signed by the log's key, and that the
  // checkpoint extends the last one this browser saw. A failure is shown,
  // never hidden; a checked checkpoint is remembered for next time.
  const logWarning = h('p', { class: 'form-error', role: 'alert', testid: 'log-warning', hidden: true });
  const logStatus = h('p', { class: 'muted log-status', testid: 'log-status' });
  const seenKey = () => `openteller.access-log.${store.session.customer?.id || ''}`;

  async function loadAccesses() {
    let seen = null;
    try { seen = JSON.parse(localStorage.getItem(seenKey()) || 'null'); } catch { seen = null; }
    let res;
    try {
      res = await api('GET', `/access${seen?.size ? `?since=${seen.size}` : ''}`);
    } catch (err) { fail(err); return; }
    const log = res.log || {};
    const problems = [];
    let cp = null;
    try {
      if (seen && seen.verifier_key !== log.verifier_key) problems.push(t('privacy.log.key_changed'));
      cp = parseCheckpoint(await openNote(log.checkpoint, log.verifier_key));
      if (cp.origin !== log.origin) problems.push(t('privacy.log.other_log'));
      if (seen?.size) {
        const before = fromBase64(seen.root);
        if (cp.size < seen.size) problems.push(t('privacy.log.shorter', { count: cp.size, was: seen.size }));
        else if (!await verifyConsistency(seen.size, cp.size, (log.consistency || []).map(fromBase64), before, cp.root)) {
          problems.push(t('privacy.log.not_extended'));
        }
      }
    } catch (err) {
      problems.push(t('privacy.log.unchecked', { reason: err.message }));
    }
    // Each entry is checked on its own; the page then shows one line per
    // sitting (access-history.js), verified when all of its entries are.
    const reads = [];
    for (const a of res.accesses || []) {
      let e = {};
      try { e = JSON.parse(a.data); } catch { /* shown as unverified */ }
      const ok = Boolean(cp) && await verifyInclusion(await leafHash(a.data), a.index, cp.size, (a.proof || []).map(fromBase64), cp.root);
      if (!ok) problems.push(t('privacy.log.entry_unverified'));
      reads.push({ entry: e, actor: a.actor, ok });
    }
    const rows = groupReads(reads).map(sittingRow);
    clear(accesses, rows.length ? rows : h('li', { class: 'muted' }, t('privacy.log.nobody')));
    logWarning.textContent = problems.length ? t('privacy.log.warning', { problems: [...new Set(problems)].join(' ') }) : '';
    logWarning.hidden = problems.length === 0;
    if (cp && problems.length === 0) {
      logStatus.textContent = t('privacy.log.checked', { count: cp.size });
      try {
        localStorage.setItem(seenKey(), JSON.stringify({ size: cp.size, root: toBase64(cp.root), verifier_key: log.verifier_key }));
      } catch { /* private mode: the next visit checks from scratch */ }
    } else {
      logStatus.textContent = '';
    }
  }

  function renderLinks() {
    const list = allLinks;
    clear(links, list.length ? list.map(linkRow) : h('li', { class: 'muted' }, t('privacy.no_banks')));
    renderDisconnectAll();
  }

  async function loadReceipts() {
    try {
      const res = await api('GET', '/receipts');
      const names = Object.fromEntries(allLinks.map((c) => [c.institution?.id, c.institution?.name]));
      clear(receipts, (res.receipts || []).map((r) => {
        const o = r.openteller || {};
        return h('li', { class: 'privacy-receipt', testid: 'receipt', 'data-action': o.action },
          h('p', {}, h('strong', {}, actionWords(o.action)), ` · ${names[o.institution_id] || t('privacy.a_bank')} · ${longDate(o.collected_at)}`),
          h('p', { class: 'muted' }, (o.scopes || []).map(scopeWords).join(' · ')),
          h('a', { href: `/app/api/receipts/${encodeURIComponent(r.consentReceiptID)}`, download: '', testid: 'receipt-download' }, t('privacy.receipt.download')));
      }));
    } catch (err) {
      fail(err);
    }
  }

  const el = h('section', { class: 'main-pane privacy-pane', testid: 'privacy', 'aria-labelledby': 'privacy-title' },
    h('header', { class: 'pane-head' },
      h('a', { href: '#/', class: 'back', 'aria-label': t('common.back_to_conversations') }, '‹'),
      h('h1', { id: 'privacy-title' }, t('list.privacy'))),
    h('div', { class: 'pane-body' },
      problem,
      h('p', { class: 'muted' }, t('privacy.intro')),
      h('h2', {}, t('privacy.connected')), links, disconnectAll,
      h('h2', {}, t('privacy.who_read')), logWarning, accesses, logStatus, explainVerified(),
      h('h2', {}, t('privacy.receipts')), receipts,
      h('h2', {}, t('privacy.your_data')),
      clearAll,
      h('p', {}, t('privacy.export.intro')),
      h('p', { class: 'download-links' },
        h('a', { href: '/app/api/export', download: '', testid: 'export-json' }, t('privacy.export.json')),
        ' · ',
        h('a', { href: '/app/api/export/transactions.csv', download: '', testid: 'export-csv' }, t('privacy.export.csv'))),
      h('h2', {}, t('privacy.notifications')),
      notificationSettings(),
      h('h2', {}, t('language.label')),
      languagePicker({
        id: 'privacy-language',
        label: t('language.everywhere'),
        note: t('language.everywhere_note'),
        remember: (code) => api('PUT', '/language', { language: code }),
      }),
      h('h2', {}, t('privacy.account')),
      passwordForm({
        prefix: 'account',
        change: (current, next) => api('POST', '/password', { current, new: next }),
        done: t('privacy.password_changed'),
      }),
      securityBox(),
      passkeysBox()),
  );
  loadLinks().then(() => { for (const c of allLinks) if (c.link.status === 'active') loadDelegations(c); });
  loadReceipts();
  loadAccesses();
  return { el };
}
