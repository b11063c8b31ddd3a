// The agent console: a bank's people sign in, see the conversations handed
// to people, take one, read it, reply, and hand it back to the bank's bot.
//
// Three panes at desk width — the queue, the conversation, the customer —
// each scrolling on its own; at phone width one at a time, with a way back.
// The queue holds no content: who (a pseudonym), why (what the customer
// last did), how long they wait, and the most urgent first (the server's
// order). Previews of what the customer wrote, opening a conversation, and
// each new message seen while it is open are reads: the customer sees each
// in their access history. While the console is open its presence stream
// tells the platform the member is there (console-presence.js).
import { h, clear } from './dom.js';
import { createLive } from './live.js';
import { passwordForm } from './password.js';
import { renderEvent } from './views/thread.js';
import { accountNames } from './accounts.js';
import { formatMoney, mask, transactionTitle } from './format.js';
import { createPresence } from './console-presence.js';
import { cannedPicker } from './console-canned.js';

const root = document.getElementById('console');
const SESSION_ENDED = 'Your console session ended. Sign in again.';
const PHONE = window.matchMedia('(max-width: 860px)');

let csrf = '';
let me = null;
let openId = null;
let stream = null; // the open conversation's live stream
let opening = 0; // counts open() calls: only the latest renders and streams
let typingTimer = null;
let queue = []; // the last queue the server sent, most urgent first
let filter = 'all'; // mine | unassigned | all
let labelFilter = '';
let selected = null; // the queue row j/k move to
let canned = [];
const seenSeq = new Map(); // conversation → last seq seen in the console
const previews = new Map(); // conversation → {seq, text}
const previewing = new Set();
const found = new Map(); // conversations from the last searches, by id

// Words, never ids.
const SCOPE_WORDS = {
  balances: 'Balances',
  transactions: 'Card transactions',
  fraud_alerts: 'Fraud alerts',
  receipts: 'Receipts',
  shipments: 'Shipping updates',
  payments: 'Payments',
  support_chat: 'Support chat',
};
const PRESENCE_WORDS = { online: 'Online', away: 'Away', offline: 'Offline' };
const AWAY_WHY = { chosen: '', hidden: ' (console hidden)', idle: ' (idle)' };
const PRIORITY = ['Normal', 'High', 'Urgent'];
const ROLE_WORDS = { agent: 'Agent', supervisor: 'Supervisor' };
const FILTERS = [['mine', 'Mine'], ['unassigned', 'Unassigned'], ['all', 'All']];

function words(id, table) {
  if (table[id]) return table[id];
  const s = String(id || '').replace(/[_.]+/g, ' ').trim();
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(`/console/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new Error('The console could not reach OpenTeller. Check the connection and try again.');
  }
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.error?.message || `Something went wrong (${res.status}).`);
    err.status = res.status;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

// ---- Presence ----------------------------------------------------------

const presenceChoice = h('select', { id: 'c-presence', testid: 'console-presence',
  onchange: () => presence.choose(presenceChoice.value) },
h('option', { value: 'online' }, 'Online'), h('option', { value: 'away' }, 'Away'));
const presenceState = h('span', { class: 'presence-state', testid: 'console-presence-state', 'data-state': 'offline', role: 'status' }, 'Offline');
const presence = createPresence({
  onChange: ({ status, reason, choice }) => {
    presenceChoice.value = choice;
    presenceState.dataset.state = status;
    presenceState.textContent = status === 'offline' && me ? 'Offline — reconnecting' : `${PRESENCE_WORDS[status]}${status === 'away' ? AWAY_WHY[reason] || '' : ''}`;
  },
  onSignedOut: () => signInView(SESSION_ENDED),
});

// ---- Sign in -------------------------------------------------------------

function signInView(message = '') {
  me = null; // stops the queue's polling until someone signs in
  openId = null;
  if (stream) stream.stop();
  stream = null;
  presence.stop();
  const email = h('input', { type: 'email', id: 'c-email', autocomplete: 'username', required: true, testid: 'console-email' });
  const password = h('input', { type: 'password', id: 'c-password', autocomplete: 'current-password', required: true, testid: 'console-password' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: !message }, message);
  const form = h('form', { class: 'auth-form' },
    h('h1', {}, 'Support console'),
    h('label', { for: email.id }, 'Work email'), email,
    h('label', { for: password.id }, 'Password'), password,
    error,
    h('button', { type: 'submit', class: 'primary', testid: 'console-signin' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      start(await call('POST', '/signin', { email: email.value, password: password.value }));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  root.classList.remove('console-app');
  clear(root, h('main', { class: 'auth' }, form));
}

const problem = h('p', { class: 'form-error console-problem', role: 'alert', hidden: true });

function fail(err) {
  if (err.status === 401) return signInView(SESSION_ENDED);
  problem.textContent = err.message;
  problem.hidden = false;
}

// ---- Panes -----------------------------------------------------------------

const body = h('div', { class: 'console-body', testid: 'console-body', 'data-view': 'queue' });
const queuePane = h('nav', { class: 'console-pane queue-pane', testid: 'console-queue-pane', 'aria-labelledby': 'c-queue-title' });
const thread = h('section', { class: 'console-pane thread-pane console-thread', testid: 'console-thread', 'aria-labelledby': 'c-thread-title' });
const contextPane = h('aside', { class: 'console-pane context-pane', testid: 'console-context-pane', 'aria-labelledby': 'c-context-title' });

// setView shows one pane at phone width (all three at desk width) and
// takes focus to its heading, so a screen reader hears where it is.
function setView(view, { focus = true } = {}) {
  body.dataset.view = view;
  if (!focus || !PHONE.matches) return;
  const target = { queue: queuePane, thread, context: contextPane }[view].querySelector('h2');
  target?.focus({ preventScroll: true });
}

function heading(id, text, testid) {
  return h('h2', { id, tabindex: '-1', class: 'pane-title', testid }, text);
}

// ---- Queue ------------------------------------------------------------------

const queueList = h('ul', { class: 'console-queue', testid: 'console-queue', 'aria-label': 'Conversations for people' });
const filterButtons = FILTERS.map(([value, label]) => h('button', {
  type: 'button', class: 'filter', testid: `console-filter-${value}`, 'data-filter': value, 'aria-pressed': String(value === filter),
  onclick: () => { filter = value; selected = null; renderQueue(); },
}, label));
const labelSelect = h('select', { id: 'c-label-filter', testid: 'console-label-filter',
  onchange: () => { labelFilter = labelSelect.value; selected = null; renderQueue(); } });
const searchInput = h('input', { type: 'search', id: 'c-search', placeholder: 'Customer reference', testid: 'console-search' });
const results = h('ul', { class: 'console-queue', testid: 'console-results' });
const searchForm = h('form', { class: 'console-search', role: 'search' },
  h('label', { for: searchInput.id, class: 'sr-only' }, 'Search by customer reference'), searchInput);
searchForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const res = await call('GET', `/search?q=${enc(searchInput.value)}`);
    for (const c of res.conversations || []) found.set(c.id, c);
    clear(results, (res.conversations || []).map((c) => h('li', {},
      h('button', { type: 'button', class: 'console-row', testid: 'console-result', onclick: () => open(c.id) },
        h('strong', {}, c.who), h('span', { class: 'muted' }, ` · ${ownerWords(c)}`)))));
    if (!(res.conversations || []).length) results.append(h('li', { class: 'muted' }, 'No conversation matches.'));
  } catch (err) { fail(err); }
});

function ownerWords(c) {
  if (c.owner === 'queue') return 'Waiting for a person';
  if (c.owner === 'bot' || !c.owner) return 'With the bank’s assistant';
  if (c.mine) return 'With you';
  const who = c.agent_name ? `With ${c.agent_name}` : 'With another agent';
  return c.agent_presence && c.agent_presence !== 'online' ? `${who} (${PRESENCE_WORDS[c.agent_presence].toLowerCase()})` : who;
}

function workWords(c) {
  const parts = [];
  if (c.priority > 0) parts.push(PRIORITY[c.priority]);
  if (c.status === 'pending') parts.push('Pending');
  if (c.snoozed_until) parts.push(`Snoozed until ${new Date(c.snoozed_until).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' })}`);
  return parts.join(' · ');
}

// waited says how long, in words: "under a minute", "4 min", "1 h 5 min".
function waited(since, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - new Date(since)) / 60000);
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

function shownRows() {
  return queue.filter((c) => (filter === 'mine' ? c.mine : filter === 'unassigned' ? c.owner === 'queue' : true)
    && (!labelFilter || (c.labels || []).includes(labelFilter)));
}

function renderFilters() {
  const counts = { mine: queue.filter((c) => c.mine).length, unassigned: queue.filter((c) => c.owner === 'queue').length, all: queue.length };
  for (const b of filterButtons) {
    const value = b.dataset.filter;
    b.setAttribute('aria-pressed', String(value === filter));
    clear(b, FILTERS.find(([v]) => v === value)[1], h('span', { class: 'count' }, String(counts[value])));
  }
  const labels = [...new Set(queue.flatMap((c) => c.labels || []).concat(labelFilter ? [labelFilter] : []))].sort();
  if (labelSelect.dataset.labels !== JSON.stringify(labels)) { // an open list is left alone
    labelSelect.dataset.labels = JSON.stringify(labels);
    clear(labelSelect, h('option', { value: '' }, 'All labels'), labels.map((l) => h('option', { value: l }, l)));
  }
  labelSelect.value = labelFilter;
}

let drawn = ''; // what the queue list shows, so an unchanged poll leaves it be

function renderQueue() {
  renderFilters();
  const rows = shownRows();
  if (!rows.some((c) => c.id === selected)) selected = rows.find((c) => c.id === openId)?.id || rows[0]?.id || null;
  const now = Date.now();
  // Rebuilding the list under a screen reader's cursor every poll would
  // lose its place: only when something shown changed.
  const look = JSON.stringify([rows, rows.map((c) => [previews.get(c.id), seenSeq.get(c.id)]), openId, selected, filter, labelFilter, Math.floor(now / 60000)]);
  if (look === drawn) return;
  drawn = look;
  const focusedId = document.activeElement?.closest?.('[data-testid="console-row"]')?.dataset.id;
  clear(queueList, rows.length ? rows.map((c) => {
    const fresh = seenSeq.has(c.id) && c.last_seq > seenSeq.get(c.id);
    const p = previews.get(c.id);
    const why = (p && p.seq >= (c.last_customer_seq || 0) && p.text) || c.why || 'Handed over by the bank’s assistant';
    const wait = c.waiting_since ? `Waiting ${waited(c.waiting_since, now)}` : c.owner === 'agent' ? 'Answered' : '';
    return h('li', {},
      h('button', {
        type: 'button', class: 'console-row', testid: 'console-row', 'data-id': c.id, 'data-owner': c.owner,
        'data-fraud': String(!!c.fraud), 'aria-current': c.id === openId ? 'true' : null, tabindex: c.id === selected ? '0' : '-1',
        onclick: () => { selected = c.id; open(c.id); },
        onfocus: () => { selected = c.id; },
      },
      h('span', { class: 'row-top' },
        h('strong', { class: 'row-who' }, c.who),
        wait && h('span', { class: 'row-wait', testid: 'console-wait' }, wait)),
      h('span', { class: 'row-why', testid: 'console-why' }, why),
      h('span', { class: 'row-meta' },
        c.fraud && h('span', { class: 'pill pill-danger', testid: 'console-fraud' }, 'Fraud'),
        h('span', { class: 'muted' }, ownerWords(c)),
        workWords(c) && h('span', { class: 'muted', testid: 'console-work' }, ` · ${workWords(c)}`),
        (c.labels || []).map((l) => h('span', { class: 'tag', testid: 'console-row-label' }, l)),
        fresh && h('span', { class: 'pill', testid: 'console-new' }, 'New'))));
  }) : h('li', { class: 'muted empty' }, emptyWords()));
  if (focusedId) queueList.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus({ preventScroll: true });
  loadPreviews(rows);
}

function emptyWords() {
  if (labelFilter) return `No conversation here is labelled “${labelFilter}”.`;
  if (filter === 'mine') return 'You have no conversations right now.';
  if (filter === 'unassigned') return 'Nobody is waiting for a person.';
  return 'No conversations are with your bank’s people.';
}

// loadPreviews asks for what the customers wrote, for the rows shown and
// only when they wrote since: each preview is a read, logged.
async function loadPreviews(rows) {
  const ids = rows.filter((c) => c.last_customer_seq && (previews.get(c.id)?.seq || 0) < c.last_customer_seq && !previewing.has(c.id))
    .map((c) => c.id).slice(0, 50);
  if (!ids.length) return;
  ids.forEach((id) => previewing.add(id));
  try {
    const res = await call('GET', `/previews?ids=${ids.map(enc).join(',')}`);
    // Asked once per customer event: one with nothing to show keeps "why".
    for (const c of rows) if (ids.includes(c.id)) previews.set(c.id, { seq: c.last_customer_seq, text: '' });
    for (const p of res.previews || []) previews.set(p.id, { seq: p.seq, text: p.text });
    renderQueue();
  } catch (err) {
    if (err.status === 401) fail(err);
  } finally {
    ids.forEach((id) => previewing.delete(id));
  }
}

async function refreshQueue() {
  try {
    const res = await call('GET', '/queue');
    queue = res.conversations || [];
    renderQueue();
  } catch (err) { fail(err); }
}

// moveSelection moves the queue's selection by d rows (j/k) and focuses it.
function moveSelection(d) {
  const rows = [...queueList.querySelectorAll('[data-testid="console-row"]')];
  if (!rows.length) return;
  const at = rows.findIndex((r) => r.dataset.id === selected);
  // From outside the queue, the first j or k comes back to the selection.
  const inQueue = rows.includes(document.activeElement);
  const next = rows[Math.min(rows.length - 1, Math.max(0, at < 0 ? 0 : inQueue ? at + d : at))];
  rows.forEach((r) => r.setAttribute('tabindex', r === next ? '0' : '-1'));
  selected = next.dataset.id;
  if (body.dataset.view !== 'queue' && PHONE.matches) setView('queue', { focus: false });
  next.focus();
  next.scrollIntoView({ block: 'nearest' });
}

function focusSelected() {
  const row = queueList.querySelector(`[data-id="${CSS.escape(selected || '')}"]`) || queueList.querySelector('[data-testid="console-row"]');
  if (row) row.focus();
  else queuePane.querySelector('h2')?.focus();
}

// ---- The open conversation --------------------------------------------------

const typingLine = h('p', { class: 'muted typing-line', role: 'status', testid: 'console-typing', hidden: true }, 'The customer is typing…');
const arrivals = h('p', { class: 'sr-only', role: 'status' }); // tells screen readers the customer wrote
let replyBox = null; // the open conversation's reply, when the member has it
let takeButton = null;

function emptyThread() {
  clear(thread,
    h('header', { class: 'pane-head' }, heading('c-thread-title', 'Conversation')),
    h('div', { class: 'pane-empty' },
      h('p', {}, 'Choose a conversation from the queue.'),
      h('p', { class: 'muted' }, 'Press ? for keyboard shortcuts.')));
  clear(contextPane,
    h('header', { class: 'pane-head' }, heading('c-context-title', 'Customer')),
    h('div', { class: 'pane-empty' }, h('p', { class: 'muted' }, 'What the customer shares with your bank shows here.')));
}

async function open(id) {
  openId = id;
  selected = id;
  const turn = ++opening;
  problem.hidden = true;
  if (stream) stream.stop();
  stream = null;
  setView('thread', { focus: false });
  thread.setAttribute('aria-busy', 'true');
  contextPane.setAttribute('aria-busy', 'true');
  try {
    const [page, q, notes, context, cannedRes] = await Promise.all([
      call('GET', `/conversations/${enc(id)}/events`),
      call('GET', '/queue'),
      call('GET', `/conversations/${enc(id)}/notes`).catch(() => ({ notes: [] })),
      call('GET', `/conversations/${enc(id)}/context`).catch(() => ({})),
      call('GET', '/canned').catch(() => ({ canned: [] })),
    ]);
    if (turn !== opening) return; // another conversation was opened meanwhile
    queue = q.conversations || [];
    canned = cannedRes.canned || [];
    // The queue knows the ones with people; search results the others.
    const c = queue.find((x) => x.id === id) || found.get(id) || { id, who: 'Customer', labels: [] };
    typingLine.hidden = true;
    const events = page.events || [];
    seenSeq.set(id, events.length ? events[events.length - 1].seq : 0);
    renderThread(c, events);
    renderContext(c, context, notes.notes || []);
    thread.removeAttribute('aria-busy');
    contextPane.removeAttribute('aria-busy');
    renderQueue();
    if (PHONE.matches) thread.querySelector('h2')?.focus({ preventScroll: true });
  } catch (err) {
    if (turn === opening) { thread.removeAttribute('aria-busy'); contextPane.removeAttribute('aria-busy'); }
    fail(err);
  }
}

function renderThread(c, events) {
  const id = c.id;
  const act = (label, path, testid) => h('button', { type: 'button', class: 'button', testid, onclick: async () => {
    try { await call('POST', `/conversations/${enc(id)}/${path}`, {}); open(id); refreshQueue(); } catch (err) { fail(err); }
  } }, label);
  // How the conversation is worked: status, snooze, priority.
  const setWork = async (work) => {
    try { await call('POST', `/conversations/${enc(id)}/work`, { priority: c.priority || 0, ...work }); open(id); } catch (err) { fail(err); }
  };
  const priority = h('select', { id: 'c-priority', testid: 'console-priority',
    onchange: () => setWork({ status: c.status === 'snoozed' ? 'open' : c.status || 'open', priority: Number(priority.value) }) },
  PRIORITY.map((p, i) => h('option', { value: String(i), selected: i === (c.priority || 0) }, p)));
  const workBar = h('div', { class: 'work-bar' },
    h('label', { for: priority.id }, 'Priority'), priority,
    h('button', { type: 'button', class: 'button', testid: 'console-pending', onclick: () => setWork({ status: 'pending' }) }, 'Pending'),
    h('button', { type: 'button', class: 'button', testid: 'console-snooze', onclick: () => setWork({ status: 'snoozed', snoozed_until: new Date(Date.now() + 3600e3).toISOString() }) }, 'Snooze 1 h'),
    c.mine && h('button', { type: 'button', class: 'button', testid: 'console-resolve', onclick: () => setWork({ status: 'resolved' }) }, 'Resolve'));

  const names = accountNames(events);
  const cards = h('ol', { class: 'cards console-cards', testid: 'console-cards', tabindex: '0', 'aria-label': 'Messages' }, events.map((e) => renderEvent(e, { names })));
  const liveLine = h('p', { class: 'muted', role: 'status', testid: 'console-live', hidden: true });
  takeButton = !c.mine ? act('Take', 'take', 'console-take') : null;
  replyBox = null;
  let composer;
  if (c.mine) {
    const input = h('textarea', { rows: '2', id: 'c-reply', testid: 'console-reply', placeholder: 'Reply to the customer — / for canned responses', 'aria-keyshortcuts': 'R' });
    replyBox = input;
    let typedAt = 0;
    input.addEventListener('input', () => {
      if (!input.value.trim() || Date.now() - typedAt < 3000) return;
      typedAt = Date.now();
      call('POST', `/conversations/${enc(id)}/typing`, {}).catch(() => {});
    });
    const picker = cannedPicker(input, () => canned);
    composer = h('form', { class: 'composer console-composer' },
      picker.list,
      h('label', { for: input.id, class: 'sr-only' }, 'Reply'), input,
      h('div', { class: 'composer-actions' },
        h('button', { type: 'button', class: 'button', testid: 'console-canned-button', onclick: () => picker.openList() }, 'Canned'),
        h('button', { type: 'submit', class: 'primary', testid: 'console-send' }, 'Send')),
      picker.status);
    const send = async () => {
      if (!input.value.trim()) return;
      try {
        await call('POST', `/conversations/${enc(id)}/messages`, { text: input.value });
        input.value = ''; // the reply comes back on the live stream
        typedAt = 0; // the next keystroke says "typing" again at once
      } catch (err) { fail(err); }
    };
    composer.addEventListener('submit', (e) => { e.preventDefault(); send(); });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) { e.preventDefault(); send(); }
    });
  } else {
    composer = h('p', { class: 'muted composer-note' }, 'Take the conversation to reply.');
  }

  clear(thread,
    h('header', { class: 'pane-head thread-head' },
      h('button', { type: 'button', class: 'back-button', testid: 'console-back', onclick: () => goBack() }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Queue'),
      h('div', { class: 'thread-who' },
        heading('c-thread-title', c.who, 'console-who'),
        h('span', { class: 'muted', testid: 'console-owner' }, ownerWords(c))),
      h('div', { class: 'thread-actions' },
        takeButton,
        c.mine && act('Hand back to the bot', 'return', 'console-return'),
        h('button', { type: 'button', class: 'button details-button', testid: 'console-show-context', onclick: () => setView('context') }, 'Customer'),
        h('button', { type: 'button', class: 'button', testid: 'console-refresh', onclick: () => open(id) }, 'Refresh'))),
    workBar,
    h('p', { class: 'muted read-note' }, 'Opening this conversation, and each new message you see while it is open, is shown to the customer in their access history.'),
    cards,
    liveLine,
    typingLine,
    arrivals,
    composer);
  follow(id, cards, liveLine, names);
  cards.lastElementChild?.scrollIntoView({ block: 'end' });
}

function renderContext(c, context, notes) {
  const id = c.id;
  const scopes = context.scopes || [];
  const labelList = h('ul', { class: 'labels', testid: 'console-labels', 'aria-label': 'Labels' });
  const showLabels = (labels) => {
    c.labels = labels;
    clear(labelList, labels.length ? labels.map((l) => h('li', { class: 'tag', testid: 'console-label' }, l,
      h('button', { type: 'button', class: 'tag-remove', 'aria-label': `Remove label ${l}`, testid: 'console-label-remove',
        onclick: async () => {
          try { showLabels((await call('DELETE', `/conversations/${enc(id)}/labels/${enc(l)}`)).labels || []); refreshQueue(); } catch (err) { fail(err); }
        } }, '×'))) : h('li', { class: 'muted' }, 'No labels yet.'));
  };
  showLabels(c.labels || []);
  const labelInput = h('input', { type: 'text', id: 'c-label', testid: 'console-label-input', maxlength: '32', autocomplete: 'off', list: 'c-label-options' });
  const labelOptions = h('datalist', { id: 'c-label-options' }, [...new Set(queue.flatMap((x) => x.labels || []))].sort().map((l) => h('option', { value: l })));
  const labelError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const labelForm = h('form', { class: 'label-form' },
    h('label', { for: labelInput.id }, 'Add a label'),
    h('div', { class: 'inline-field' }, labelInput, h('button', { type: 'submit', class: 'button', testid: 'console-label-add' }, 'Add')),
    labelOptions, labelError);
  labelForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!labelInput.value.trim()) return;
    try {
      showLabels((await call('POST', `/conversations/${enc(id)}/labels`, { label: labelInput.value })).labels || []);
      labelInput.value = '';
      labelError.hidden = true;
      refreshQueue();
    } catch (err) {
      if (err.status === 401) return fail(err);
      labelError.textContent = err.message;
      labelError.hidden = false;
    }
  });

  const notesList = h('ul', { class: 'console-notes', testid: 'console-notes' }, notes.map((n) => h('li', { class: 'note' }, n.text)));
  const noteInput = h('textarea', { rows: '2', id: 'c-note', testid: 'console-note', placeholder: 'A private note for your team' });
  const noteForm = h('form', { class: 'note-form' },
    h('label', { for: noteInput.id }, 'Private note'), noteInput,
    h('button', { type: 'submit', class: 'button', testid: 'console-add-note' }, 'Add note'));
  noteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!noteInput.value.trim()) return;
    try {
      const n = await call('POST', `/conversations/${enc(id)}/notes`, { text: noteInput.value });
      noteInput.value = '';
      notesList.append(h('li', { class: 'note' }, n.text));
    } catch (err) { fail(err); }
  });

  clear(contextPane,
    h('header', { class: 'pane-head' },
      h('button', { type: 'button', class: 'back-button', testid: 'console-context-back', onclick: () => goBack() }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Conversation'),
      heading('c-context-title', c.who, 'console-context-who')),
    h('div', { class: 'context-body console-context', testid: 'console-context' },
      c.link_id && h('p', { class: 'muted' }, `Customer reference ${c.link_id}`),
      h('section', {},
        h('h3', {}, 'Shared with your bank'),
        h('ul', { class: 'scope-list', testid: 'console-scopes' }, scopes.map((s) => h('li', {}, words(s, SCOPE_WORDS))))),
      (context.balances || []).length > 0 && h('section', {},
        h('h3', {}, 'Balances'),
        context.balances.map((b) => h('p', { testid: 'context-balance' }, `${b.account_name || 'Account'} ${mask(b.mask)} · ${formatMoney(b.available)} available`))),
      (context.transactions || []).length > 0 && h('section', {},
        h('h3', {}, 'Recent transactions'),
        h('ul', { class: 'context-transactions' }, context.transactions.map((t) => h('li', { testid: 'context-transaction' },
          h('span', {}, transactionTitle(t)),
          h('span', { class: 'muted' }, [t.merchant?.category, t.status === 'pending' ? 'Pending' : ''].filter(Boolean).join(' · ')),
          h('span', { class: 'amount' }, formatMoney(t.amount, t.direction)))))),
      h('section', {}, h('h3', {}, 'Labels'), labelList, labelForm),
      h('section', {},
        h('h3', {}, 'Private notes'),
        h('p', { class: 'muted' }, 'Only your bank’s people see these.'),
        notesList, noteForm)));
}

// follow keeps the open conversation current: new events are appended
// (once each, in seq order) and "the customer is typing" shows for a few
// seconds. The stream ends for good when the member is signed out or the
// conversation is no longer shared with the bank's people.
function follow(id, cards, liveLine, names) {
  if (stream) stream.stop();
  const s = createLive({
    path: () => `/console/api/conversations/${enc(id)}/live?after=${seenSeq.get(id) || 0}`,
    onMessage: (msg) => {
      if (openId !== id) return;
      if (msg.type === 'typing') {
        typingLine.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { typingLine.hidden = true; }, 5000);
        return;
      }
      if (msg.type !== 'events') return;
      const atEnd = cards.scrollHeight - cards.scrollTop - cards.clientHeight < 40;
      for (const e of msg.events || []) {
        if (e.seq <= (seenSeq.get(id) || 0)) continue;
        seenSeq.set(id, e.seq);
        if (e.author === 'customer') {
          typingLine.hidden = true;
          arrivals.textContent = 'The customer wrote a new message.';
        }
        cards.append(renderEvent(e, { names }));
      }
      if (atEnd) cards.lastElementChild?.scrollIntoView({ block: 'nearest' });
    },
    onState: (state) => {
      liveLine.hidden = state === 'connected';
      liveLine.textContent = 'Reconnecting… new messages will appear when the console is back online.';
    },
    onSignedOut: () => signInView(SESSION_ENDED),
    onClosed: {
      4404: () => {
        liveLine.hidden = false;
        liveLine.textContent = 'This conversation is no longer shared with your bank’s people.';
        refreshQueue();
      },
    },
    beforeRetry: () => call('GET', '/me').then(() => true, (err) => {
      if (err.status === 401) { signInView(SESSION_ENDED); return false; }
      return true;
    }),
  });
  stream = s;
  s.start();
}

// ---- Keyboard -----------------------------------------------------------------

const SHORTCUTS = [
  ['j', 'Next conversation in the queue'],
  ['k', 'Previous conversation in the queue'],
  ['Enter', 'Open the chosen conversation'],
  ['r', 'Write a reply'],
  ['/', 'In the reply: canned responses'],
  ['Ctrl + Enter', 'In the reply: send'],
  ['Esc', 'Back: out of the reply, or to the previous pane'],
  ['?', 'Show these shortcuts'],
];
const helpDialog = h('dialog', { class: 'help-dialog', testid: 'console-help-dialog', 'aria-labelledby': 'c-help-title' },
  h('h2', { id: 'c-help-title' }, 'Keyboard shortcuts'),
  h('dl', { class: 'shortcuts' }, SHORTCUTS.map(([key, what]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, what)])),
  h('form', { method: 'dialog' }, h('button', { type: 'submit', class: 'primary', testid: 'console-help-close' }, 'Close')));

function showHelp() {
  if (!helpDialog.open) helpDialog.showModal();
}

// goBack: from the customer to the conversation, from the conversation to
// the queue (one pane at a time), or out of a field to the queue.
function goBack() {
  if (PHONE.matches && body.dataset.view === 'context') return setView('thread');
  if (PHONE.matches && body.dataset.view === 'thread') {
    setView('queue', { focus: false });
    return focusSelected();
  }
  focusSelected();
}

function typingInField(el) {
  return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

// A key whose keydown was handled (a shortcut that moved focus into the
// reply, Enter choosing a canned response) must not also type itself:
// some keyboards and drivers send the character after a keydown whose
// default was prevented.
let swallow = false;
window.addEventListener('keydown', (e) => { swallow = e.defaultPrevented; });
document.addEventListener('beforeinput', (e) => {
  if (swallow) e.preventDefault();
  swallow = false;
}, true);
document.addEventListener('keyup', () => { swallow = false; });

document.addEventListener('keydown', (e) => {
  if (!me || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || helpDialog.open) return;
  const el = document.activeElement;
  if (e.key === 'Escape') {
    if (el?.closest?.('.console-password')) return; // its own form
    e.preventDefault();
    if (typingInField(el)) el.blur();
    goBack();
    return;
  }
  if (typingInField(el)) return;
  switch (e.key) {
    case 'j': e.preventDefault(); moveSelection(1); break;
    case 'k': e.preventDefault(); moveSelection(-1); break;
    case '?': e.preventDefault(); showHelp(); break;
    case 'r':
      e.preventDefault();
      if (PHONE.matches && openId) setView('thread', { focus: false });
      if (replyBox) replyBox.focus();
      else if (takeButton) { takeButton.focus(); fail(new Error('Take the conversation to reply.')); }
      break;
    case 'Enter':
      if (el?.closest?.('button, a, summary, dialog')) return; // it does its own thing
      if (selected) { e.preventDefault(); open(selected); }
      break;
    default:
  }
});

// ---- Supervisors ----------------------------------------------------------------

// Supervisors see each agent's figures for the last seven days, and keep
// the canned responses.
const figures = h('section', { class: 'console-figures', testid: 'console-figures' });
async function loadFigures() {
  try {
    const res = await call('GET', '/metrics');
    const min = (ms) => (ms ? `${(ms / 60000).toFixed(1)} min` : '–');
    clear(figures, h('h2', {}, 'Team, last 7 days'),
      // Focusable, so that a keyboard can scroll a table wider than the pane.
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Team figures' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Agent', 'Taken', 'First reply', 'Resolution', 'Satisfaction'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, (res.agents || []).map((a) => h('tr', {},
          h('td', {}, a.name || 'An agent'), h('td', {}, String(a.conversations)), h('td', {}, min(a.first_response_ms)), h('td', {}, min(a.resolution_ms)),
          h('td', {}, a.ratings ? `${a.satisfaction.toFixed(1)} of 5 (${a.ratings})` : '–')))))));
  } catch (err) { fail(err); }
}

const cannedManager = h('details', { class: 'canned-manager', testid: 'console-canned-manage' });
async function loadCannedManager() {
  try {
    canned = (await call('GET', '/canned')).canned || [];
  } catch (err) { return fail(err); }
  const title = h('input', { type: 'text', id: 'c-canned-title', maxlength: '80', required: true, testid: 'console-canned-title' });
  const text = h('textarea', { id: 'c-canned-text', rows: '3', required: true, testid: 'console-canned-text' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'canned-form' },
    h('label', { for: title.id }, 'Title (what agents type after /)'), title,
    h('label', { for: text.id }, 'Text'), text, error,
    h('button', { type: 'submit', class: 'button', testid: 'console-canned-add' }, 'Add canned response'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await call('POST', '/canned', { title: title.value, text: text.value });
      loadCannedManager();
    } catch (err) {
      if (err.status === 401) return fail(err);
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  const wasOpen = cannedManager.open;
  clear(cannedManager,
    h('summary', {}, `Canned responses (${canned.length})`),
    h('ul', { class: 'canned-admin' }, canned.map((r) => h('li', { testid: 'console-canned-item' },
      h('div', {}, h('strong', {}, r.title), h('p', { class: 'muted' }, r.text)),
      h('button', { type: 'button', class: 'link-button', testid: 'console-canned-delete', 'aria-label': `Delete ${r.title}`,
        onclick: async () => { try { await call('DELETE', `/canned/${enc(r.id)}`); loadCannedManager(); } catch (err) { fail(err); } } }, 'Delete')))),
    form);
  cannedManager.open = wasOpen;
}

// passwordChanger lets a member replace the password their bank gave them.
function passwordChanger() {
  return h('details', { class: 'console-password' }, h('summary', { testid: 'console-pw' }, 'Password'),
    passwordForm({
      prefix: 'console',
      change: (current, next) => call('POST', '/password', { current, new: next }),
      done: 'Your password is changed. Your other consoles were signed out.',
      onSignedOut: fail,
    }));
}

// ---- Start ------------------------------------------------------------------------

function start(res) {
  csrf = res.csrf_token;
  me = res.staff;
  openId = null;
  drawn = '';
  root.classList.add('console-app');
  clear(queuePane,
    h('header', { class: 'pane-head' }, heading('c-queue-title', 'Queue')),
    h('div', { class: 'queue-tools' },
      h('div', { class: 'filters', role: 'group', 'aria-label': 'Show' }, filterButtons),
      h('label', { for: labelSelect.id, class: 'sr-only' }, 'Show conversations with the label'), labelSelect,
      searchForm, results,
      h('p', { class: 'muted small' }, 'A preview of what a customer wrote is a read: it shows in their access history.')),
    queueList,
    me.role === 'supervisor' && [cannedManager, figures]);
  emptyThread();
  clear(root,
    h('header', { class: 'pane-head console-head' },
      h('h1', {}, 'Support console'),
      h('div', { class: 'presence' },
        h('label', { for: presenceChoice.id }, 'Status'), presenceChoice, presenceState),
      h('span', { class: 'muted', testid: 'console-me' }, `${me.name} · ${words(me.role, ROLE_WORDS)}`),
      h('button', { type: 'button', class: 'link-button', testid: 'console-help', 'aria-keyshortcuts': 'Shift+?', onclick: showHelp }, 'Shortcuts (?)'),
      passwordChanger(),
      h('button', { type: 'button', class: 'link-button', onclick: async () => { try { await call('POST', '/signout', {}); } catch { /* signed out anyway */ } signInView(); } }, 'Sign out')),
    problem,
    body,
    helpDialog);
  clear(body, queuePane, thread, contextPane);
  setView('queue', { focus: false });
  presence.start();
  refreshQueue();
  if (me.role === 'supervisor') { loadFigures(); loadCannedManager(); }
}

// The queue holds no content, so it is polled; waiting times move with it.
setInterval(() => { if (me) refreshQueue(); }, 2000);
call('GET', '/me').then(start).catch(() => signInView());
