// The privacy center: every link with its status, scopes and expiry; renew
// or disconnect each; and the receipt of every consent decision, to read or
// download. Disconnecting is one tap and one confirmation, like connecting.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { longDate } from '../format.js';
import { passwordForm } from '../password.js';
import { guarded } from '../reauth.js';
import { securityBox } from './security.js';
import { notificationSettings } from '../notifications.js';
import * as store from '../store.js';
import { SCOPES } from './connect.js';
import { expiringSoon } from './thread.js';
import { fromBase64, leafHash, openNote, parseCheckpoint, toBase64, verifyConsistency, verifyInclusion } from '../tlog.js';
import { explainVerified, groupReads, sittingRow } from '../access-history.js';

const SCOPE_WORDS = Object.fromEntries(SCOPES);
const ACTION_WORDS = { grant: 'Connected', renew: 'Renewed', narrow: 'Shared less', delegate: 'Shared read-only', undelegate: 'Stopped sharing', revoke: 'Disconnected', expire: 'Ended at expiry' };

function statusWords(c) {
  const s = c.link?.status;
  if (s === 'active') return expiringSoon(c) ? `Expiring soon · until ${longDate(c.link.expires_at)}` : `Active · until ${longDate(c.link.expires_at)}`;
  return { revoked: 'Disconnected', expired: 'Expired' }[s] || s || 'Unknown';
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
      } }, 'Clear for good'),
      h('button', { type: 'button', class: 'link-button', onclick: () => { closeConfirm(key); renderLinks(); renderClearAll(); } }, 'Cancel'));
    const el = h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': `Clear ${what}`, testid: 'clear-confirm' },
      h('p', {}, `Clear ${what}? Every message and update is deleted and the key that protected it is destroyed: nobody, not even OpenTeller, can bring it back. Your consent receipts are kept.`),
      slot,
      actions);
    confirms.set(key, el);
    return el;
  }
  const clearAll = h('div', { class: 'clear-all' });
  function renderClearAll() {
    clear(clearAll, clearing.has('all')
      ? clearConfirm('all your history, with every bank', { everything: true }, 'all')
      : h('button', { type: 'button', class: 'link-button', testid: 'privacy-clear-all', onclick: () => { clearing.add('all'); renderClearAll(); } }, 'Clear all history'));
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
      clear(disconnectAll, h('button', { type: 'button', class: 'link-button', testid: 'privacy-disconnect-all', onclick: () => { confirmingAll = true; renderDisconnectAll(); } }, 'Disconnect every bank'));
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
      } }, 'Disconnect all'),
      h('button', { type: 'button', class: 'link-button', onclick: () => { confirmingAll = false; clear(disconnectAll); renderDisconnectAll(); } }, 'Cancel'));
    clear(disconnectAll, h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': 'Disconnect every bank', testid: 'disconnect-all-dialog' },
      h('p', {}, `Disconnect all ${live.length} ${live.length === 1 ? 'bank' : 'banks'}? What each sent is deleted from OpenTeller, and none of them can send you anything here until you connect it again.`),
      slot,
      actions));
  }

  function linkRow(c) {
    const name = c.institution?.name || 'Your bank';
    const id = encodeURIComponent(c.link.id);
    const days = h('select', { 'aria-label': `Renew ${name} for`, testid: 'renew-days' },
      [30, 90, 180, 365].map((d) => h('option', { value: String(d), selected: d === 90 }, `${d} days`)));
    const ended = c.link.status === 'revoked';
    const active = c.link.status === 'active';
    // Only what is shared can be unticked here; sharing more goes through
    // the bank's own sign-in (connect again).
    const boxes = (c.link.scopes || []).map((s) =>
      h('input', { type: 'checkbox', id: `keep-${c.link.id}-${s}`, value: s, checked: true, disabled: !active, testid: `keep-${s}` }));
    const save = h('button', { type: 'button', class: 'button', testid: 'privacy-narrow', hidden: true,
      onclick: () => act(c, 'PUT', `/links/${id}/scopes`, { scopes: boxes.filter((b) => b.checked).map((b) => b.value) }) }, 'Stop sharing the unticked');
    const onchange = () => { save.hidden = boxes.every((b) => b.checked) || !boxes.some((b) => b.checked); };
    return h('li', { class: 'privacy-link', testid: 'privacy-link', 'data-id': c.link.id, 'data-status': c.link.status },
      h('h3', {}, name),
      h('p', { class: 'muted', testid: 'privacy-status' }, statusWords(c)),
      h('fieldset', { class: 'scopes', onchange },
        h('legend', { class: 'sr-only' }, `What ${name} may send`),
        boxes.map((b) => h('div', { class: 'check' }, b, h('label', { for: b.id }, SCOPE_WORDS[b.value] || b.value)))),
      save,
      active && delegationBox(c),
      !ended && h('div', { class: 'confirm-actions' },
        days,
        h('button', { type: 'button', class: 'button', testid: 'privacy-renew', onclick: () => act(c, 'POST', `/links/${id}/renew`, { duration_days: Number(days.value) }) }, 'Renew'),
        c.link.status === 'active' && !confirming.has(c.id) &&
          h('button', { type: 'button', class: 'link-button', testid: 'privacy-disconnect', onclick: () => { confirming.add(c.id); renderLinks(); } }, 'Disconnect')),
      !clearing.has(c.institution?.id) &&
        h('button', { type: 'button', class: 'link-button', testid: 'privacy-clear', onclick: () => { clearing.add(c.institution?.id); renderLinks(); } }, 'Clear history'),
      clearing.has(c.institution?.id) && clearConfirm(`${name}’s history`, { institution_id: c.institution?.id }, c.institution?.id),
      confirming.has(c.id) && h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': `Disconnect ${name}` },
        h('p', {}, `Disconnect ${name}? Its balances and transactions will be deleted from OpenTeller.`),
        h('div', { class: 'confirm-actions' },
          h('button', { type: 'button', class: 'danger', testid: 'privacy-disconnect-confirm', onclick: () => act(c, 'DELETE', `/links/${id}`) }, 'Disconnect'),
          h('button', { type: 'button', class: 'link-button', onclick: () => { confirming.delete(c.id); renderLinks(); } }, 'Cancel'))),
    );
  }

  // Read-only access for someone the customer trusts, such as an
  // accountant: balances and transactions of this one link, for a bounded
  // time, revocable at any time.
  function delegationBox(c) {
    const id = encodeURIComponent(c.link.id);
    const key = c.link.id;
    const draft = drafts.get(key) || { email: '', days: '30' };
    const keep = () => drafts.set(key, { email: email.value, days: days.value });
    const email = h('input', { type: 'email', placeholder: 'Their OpenTeller email', 'aria-label': 'Their OpenTeller email', testid: 'delegate-email', value: draft.email, oninput: keep });
    const days = h('select', { 'aria-label': 'For how long', testid: 'delegate-days', onchange: keep },
      [30, 90, 180, 365].map((d) => h('option', { value: String(d), selected: String(d) === draft.days }, `${d} days`)));
    const share = async () => {
      problem.hidden = true;
      try {
        await api('POST', `/links/${id}/delegates`, { email: email.value, duration_days: Number(days.value) });
        drafts.delete(key);
        await loadDelegations(c);
        loadReceipts();
      } catch (err) { fail(err); }
    };
    const list = (delegationsByLink.get(c.link.id) || []).filter((d) => d.live);
    return h('details', { class: 'delegation', open: openBoxes.has(key) },
      // The click, not the later toggle event: a redraw may come between.
      h('summary', { onclick: (e) => { if (e.currentTarget.parentElement.open) openBoxes.delete(key); else openBoxes.add(key); } },
        'Let someone you trust read this (read-only)'),
      h('p', { class: 'muted' }, 'They see the balances and transactions of this bank only, nothing you write, until the end date or until you stop it. Every time they look is listed below.'),
      h('div', { class: 'confirm-actions' }, email, days, h('button', { type: 'button', class: 'button', testid: 'delegate-share', onclick: share }, 'Share')),
      list.map((d) => h('p', { testid: 'delegation' }, `${d.delegate} · until ${longDate(d.expires_at)} `,
        h('button', { type: 'button', class: 'link-button', testid: 'delegation-revoke', onclick: async () => {
          try { await api('DELETE', `/delegations/${encodeURIComponent(d.id)}`); await loadDelegations(c); } catch (err) { fail(err); }
        } }, 'Stop'))));
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
      if (seen && seen.verifier_key !== log.verifier_key) problems.push('The log’s signing key changed since you last looked.');
      cp = parseCheckpoint(await openNote(log.checkpoint, log.verifier_key));
      if (cp.origin !== log.origin) problems.push('The log’s checkpoint names another log.');
      if (seen?.size) {
        const before = fromBase64(seen.root);
        if (cp.size < seen.size) problems.push(`The log is shorter than when you last looked (${cp.size} entries, was ${seen.size}).`);
        else if (!await verifyConsistency(seen.size, cp.size, (log.consistency || []).map(fromBase64), before, cp.root)) {
          problems.push('The log does not extend the one this browser saw before: past entries may have been changed or removed.');
        }
      }
    } catch (err) {
      problems.push(`The log’s checkpoint could not be checked: ${err.message}.`);
    }
    // Each entry is checked on its own; the page then shows one line per
    // sitting (access-history.js), verified when all of its entries are.
    const reads = [];
    for (const a of res.accesses || []) {
      let e = {};
      try { e = JSON.parse(a.data); } catch { /* shown as unverified */ }
      const ok = Boolean(cp) && await verifyInclusion(await leafHash(a.data), a.index, cp.size, (a.proof || []).map(fromBase64), cp.root);
      if (!ok) problems.push('An entry in your access history could not be verified.');
      reads.push({ entry: e, actor: a.actor, ok });
    }
    const rows = groupReads(reads).map(sittingRow);
    clear(accesses, rows.length ? rows : h('li', { class: 'muted' }, 'Nobody but you has read your data.'));
    logWarning.textContent = problems.length ? `Warning: ${[...new Set(problems)].join(' ')} Tell OpenTeller’s operator and your bank.` : '';
    logWarning.hidden = problems.length === 0;
    if (cp && problems.length === 0) {
      logStatus.textContent = `Checked against the log’s signed checkpoint of ${cp.size} ${cp.size === 1 ? 'entry' : 'entries'}.`;
      try {
        localStorage.setItem(seenKey(), JSON.stringify({ size: cp.size, root: toBase64(cp.root), verifier_key: log.verifier_key }));
      } catch { /* private mode: the next visit checks from scratch */ }
    } else {
      logStatus.textContent = '';
    }
  }

  function renderLinks() {
    const list = allLinks;
    clear(links, list.length ? list.map(linkRow) : h('li', { class: 'muted' }, 'No banks connected.'));
    renderDisconnectAll();
  }

  async function loadReceipts() {
    try {
      const res = await api('GET', '/receipts');
      const names = Object.fromEntries(allLinks.map((c) => [c.institution?.id, c.institution?.name]));
      clear(receipts, (res.receipts || []).map((r) => {
        const o = r.openteller || {};
        return h('li', { class: 'privacy-receipt', testid: 'receipt', 'data-action': o.action },
          h('p', {}, h('strong', {}, ACTION_WORDS[o.action] || o.action), ` · ${names[o.institution_id] || 'A bank'} · ${longDate(o.collected_at)}`),
          h('p', { class: 'muted' }, (o.scopes || []).map((s) => SCOPE_WORDS[s] || s).join(' · ')),
          h('a', { href: `/app/api/receipts/${encodeURIComponent(r.consentReceiptID)}`, download: '', testid: 'receipt-download' }, 'Download receipt (JSON)'));
      }));
    } catch (err) {
      fail(err);
    }
  }

  const el = h('section', { class: 'main-pane privacy-pane', testid: 'privacy', 'aria-labelledby': 'privacy-title' },
    h('header', { class: 'pane-head' },
      h('a', { href: '#/', class: 'back', 'aria-label': 'Back to conversations' }, '‹'),
      h('h1', { id: 'privacy-title' }, 'Privacy center')),
    h('div', { class: 'pane-body' },
      problem,
      h('p', { class: 'muted' }, 'Each bank sends you only what you chose, for as long as you chose. Nothing here is used for advertising, sold or shared.'),
      h('h2', {}, 'Connected banks'), links, disconnectAll,
      h('h2', {}, 'Who read your data'), logWarning, accesses, logStatus, explainVerified(),
      h('h2', {}, 'Your consent receipts'), receipts,
      h('h2', {}, 'Your data'),
      clearAll,
      h('p', {}, 'Download everything OpenTeller holds about you: your profile, connections and consent receipts, every message and update, and who read your data.'),
      h('p', { class: 'download-links' },
        h('a', { href: '/app/api/export', download: '', testid: 'export-json' }, 'Everything (JSON)'),
        ' · ',
        h('a', { href: '/app/api/export/transactions.csv', download: '', testid: 'export-csv' }, 'Transactions (CSV)')),
      h('h2', {}, 'Notifications on this device'),
      notificationSettings(),
      h('h2', {}, 'Your account'),
      passwordForm({
        prefix: 'account',
        change: (current, next) => api('POST', '/password', { current, new: next }),
        done: 'Your password is changed. Every other device was signed out.',
      }),
      securityBox()),
  );
  loadLinks().then(() => { for (const c of allLinks) if (c.link.status === 'active') loadDelegations(c); });
  loadReceipts();
  loadAccesses();
  return { el };
}
