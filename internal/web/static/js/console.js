// The agent console: a bank's people sign in, see the conversations handed
// to people, take one, read it, reply, and hand it back to the bank's bot.
//
// Three panes at desk width — the queue, the conversation, the customer —
// each scrolling on its own; at phone width one at a time, with a way back.
// The queue holds no content: who (a pseudonym), why (what the customer
// last did), how long they wait, and the most urgent first (the server's
// order). Previews of what the customer wrote, opening a conversation, and
// each new message seen while it is open are reads: the customer sees each
// in their access history. So is a name the customer chose to show the
// bank's people: the queue says only that there is one (name_set_at), and
// the console asks for it as for previews, shown beside the pseudonym,
// never instead of it. While the console is open its presence stream
// tells the platform the member is there (console-presence.js).
import { h, clear } from './dom.js';
import { createLive } from './live.js';
import { passwordForm } from './password.js';
import { renderEvent } from './views/thread.js';
import { accountNames } from './accounts.js';
import { formatMoney, intl, mask, transactionTitle } from './format.js';
import { createPresence } from './console-presence.js';
import { cannedPicker } from './console-canned.js';
import { has, locale, ready as languageReady, t } from './i18n.js';
import { said } from './api.js';
import { languagePicker } from './language.js';

const root = document.getElementById('console');
const SESSION_ENDED = () => t('console.session_ended');
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
const shownNames = new Map(); // conversation → {at (its name_set_at), name}
const naming = new Set();
const found = new Map(); // conversations from the last searches, by id

// Words, never ids: each from the catalogue (console.scope.balances…),
// or, for an id this version does not know, the id made readable.
const PRIORITIES = [0, 1, 2];
const FILTERS = ['mine', 'unassigned', 'all'];
const priorityWords = (p) => t(`console.priority.${p}`);
const presenceWords = (p) => words(`console.presence.${p}`, p);
const filterWords = (f) => t(`console.filter.${f}`);

function words(key, id) {
  if (has(key)) return t(key);
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
    throw new Error(t('console.unreachable'));
  }
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.error?.message ? said(data.error.code, data.error.message) : t('error.http', { status: res.status }));
    err.status = res.status;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

// ---- Presence ----------------------------------------------------------

const presenceChoice = h('select', { id: 'c-presence', testid: 'console-presence',
  onchange: () => presence.choose(presenceChoice.value) },
h('option', { value: 'online' }, presenceWords('online')), h('option', { value: 'away' }, presenceWords('away')));
const presenceState = h('span', { class: 'presence-state', testid: 'console-presence-state', 'data-state': 'offline', role: 'status' }, presenceWords('offline'));
const presence = createPresence({
  onChange: ({ status, reason, choice }) => {
    presenceChoice.value = choice;
    presenceState.dataset.state = status;
    presenceState.textContent = status === 'offline' && me ? t('console.presence.reconnecting')
      : status === 'away' && (reason === 'hidden' || reason === 'idle') ? t(`console.presence.away_${reason}`) : presenceWords(status);
  },
  onSignedOut: () => signInView(SESSION_ENDED()),
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
    h('h1', {}, t('console.heading')),
    h('label', { for: email.id }, t('console.work_email')), email,
    h('label', { for: password.id }, t('auth.password')), password,
    error,
    h('button', { type: 'submit', class: 'primary', testid: 'console-signin' }, t('auth.signin')));
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
  clear(root, h('main', { class: 'auth' }, form, languagePicker({ id: 'c-signin-language', onChosen: () => location.reload() })));
}

const problem = h('p', { class: 'form-error console-problem', role: 'alert', hidden: true });

function fail(err) {
  if (err.status === 401) return signInView(SESSION_ENDED());
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

const queueList = h('ul', { class: 'console-queue', testid: 'console-queue', 'aria-label': t('console.queue.label') });
const filterButtons = FILTERS.map((value) => h('button', {
  type: 'button', class: 'filter', testid: `console-filter-${value}`, 'data-filter': value, 'aria-pressed': String(value === filter),
  onclick: () => { filter = value; selected = null; renderQueue(); },
}, filterWords(value)));
const labelSelect = h('select', { id: 'c-label-filter', testid: 'console-label-filter',
  onchange: () => { labelFilter = labelSelect.value; selected = null; renderQueue(); } });
const searchInput = h('input', { type: 'search', id: 'c-search', placeholder: t('console.search.placeholder'), testid: 'console-search' });
const results = h('ul', { class: 'console-queue', testid: 'console-results' });
const searchForm = h('form', { class: 'console-search', role: 'search' },
  h('label', { for: searchInput.id, class: 'sr-only' }, t('console.search.label')), searchInput);
searchForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const res = await call('GET', `/search?q=${enc(searchInput.value)}`);
    for (const c of res.conversations || []) found.set(c.id, c);
    await loadNames(res.conversations || []);
    clear(results, (res.conversations || []).map((c) => h('li', {},
      h('button', { type: 'button', class: 'console-row', testid: 'console-result', onclick: () => open(c.id) },
        h('strong', {}, whoWords(c)), h('span', { class: 'muted' }, ` · ${ownerWords(c)}`)))));
    if (!(res.conversations || []).length) results.append(h('li', { class: 'muted' }, t('console.search.none')));
  } catch (err) { fail(err); }
});

function ownerWords(c) {
  if (c.owner === 'queue') return t('console.owner.queue');
  if (c.owner === 'bot' || !c.owner) return t('console.owner.bot');
  if (c.mine) return t('console.owner.mine');
  const who = c.agent_name ? t('console.owner.agent', { agent: c.agent_name }) : t('console.owner.another');
  return c.agent_presence && c.agent_presence !== 'online'
    ? t('console.owner.presence', { who, presence: presenceWords(c.agent_presence).toLocaleLowerCase(locale()) }) : who;
}

function workWords(c) {
  const parts = [];
  if (c.priority > 0) parts.push(priorityWords(c.priority));
  if (c.status === 'pending') parts.push(t('event.pending'));
  if (c.snoozed_until) parts.push(t('console.snoozed_until', { time: new Date(c.snoozed_until).toLocaleTimeString(locale(), { hour: 'numeric', minute: '2-digit' }) }));
  return parts.join(' · ');
}

// waited says how long, in words: "under a minute", "4 min", "1 h 5 min".
function waited(since, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - new Date(since)) / 60000);
  if (minutes < 1) return t('console.waited.under_minute');
  if (minutes < 60) return t('console.waited.minutes', { count: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? t('console.waited.hours_minutes', { hours, minutes: minutes % 60 }) : t('console.waited.hours', { count: hours });
  return t('common.days', { count: Math.floor(hours / 24) });
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
    clear(b, filterWords(value), h('span', { class: 'count' }, String(counts[value])));
  }
  const labels = [...new Set(queue.flatMap((c) => c.labels || []).concat(labelFilter ? [labelFilter] : []))].sort();
  if (labelSelect.dataset.labels !== JSON.stringify(labels)) { // an open list is left alone
    labelSelect.dataset.labels = JSON.stringify(labels);
    clear(labelSelect, h('option', { value: '' }, t('console.labels.all')), labels.map((l) => h('option', { value: l }, l)));
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
  const look = JSON.stringify([rows, rows.map((c) => [previews.get(c.id), seenSeq.get(c.id), whoWords(c)]), openId, selected, filter, labelFilter, Math.floor(now / 60000)]);
  if (look === drawn) return;
  drawn = look;
  const focusedId = document.activeElement?.closest?.('[data-testid="console-row"]')?.dataset.id;
  clear(queueList, rows.length ? rows.map((c) => {
    const fresh = seenSeq.has(c.id) && c.last_seq > seenSeq.get(c.id);
    const p = previews.get(c.id);
    const why = (p && p.seq >= (c.last_customer_seq || 0) && p.text) || c.why || t('console.why.handed');
    const wait = c.waiting_since ? t('console.waiting', { time: waited(c.waiting_since, now) }) : c.owner === 'agent' ? t('console.answered') : '';
    return h('li', {},
      h('button', {
        type: 'button', class: 'console-row', testid: 'console-row', 'data-id': c.id, 'data-owner': c.owner,
        'data-fraud': String(!!c.fraud), 'aria-current': c.id === openId ? 'true' : null, tabindex: c.id === selected ? '0' : '-1',
        onclick: () => { selected = c.id; open(c.id); },
        onfocus: () => { selected = c.id; },
      },
      h('span', { class: 'row-top' },
        h('strong', { class: 'row-who' }, whoWords(c)),
        wait && h('span', { class: 'row-wait', testid: 'console-wait' }, wait)),
      h('span', { class: 'row-why', testid: 'console-why' }, why),
      h('span', { class: 'row-meta' },
        c.fraud && h('span', { class: 'pill pill-danger', testid: 'console-fraud' }, t('console.fraud')),
        h('span', { class: 'muted' }, ownerWords(c)),
        workWords(c) && h('span', { class: 'muted', testid: 'console-work' }, ` · ${workWords(c)}`),
        (c.labels || []).map((l) => h('span', { class: 'tag', testid: 'console-row-label' }, l)),
        fresh && h('span', { class: 'pill', testid: 'console-new' }, t('console.new')))));
  }) : h('li', { class: 'muted empty' }, emptyWords()));
  if (focusedId) queueList.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus({ preventScroll: true });
  loadPreviews(rows);
  // The open conversation's too, filtered out or not: its headings name it.
  const named = rows.concat(queue.filter((c) => c.id === openId && !rows.includes(c)));
  loadNames(named).then((changed) => { if (changed) renderQueue(); });
}

// whoWords names the customer: the name they chose to show, beside the
// pseudonym ("Sam (Quiet Heron)"), or the pseudonym alone.
function whoWords(c) {
  const shown = c.name_set_at && shownNames.get(c.id);
  return shown?.name ? t('console.who_named', { name: shown.name, pseudonym: c.who }) : c.who;
}

// loadNames asks for the names the customers of these conversations show,
// only where the queue says one was set since it was last asked: each is
// a read, logged. It says whether any name shown changed, and puts the
// open conversation's in its headings.
async function loadNames(rows) {
  let changed = false;
  for (const c of rows) {
    if (!c.name_set_at && shownNames.delete(c.id)) changed = true; // removed: the pseudonym alone, at once
  }
  const ids = rows.filter((c) => c.name_set_at && shownNames.get(c.id)?.at !== c.name_set_at && !naming.has(c.id))
    .map((c) => c.id).slice(0, 50);
  if (ids.length) {
    ids.forEach((id) => naming.add(id));
    try {
      const res = await call('GET', `/names?ids=${ids.map(enc).join(',')}`);
      const got = new Map((res.names || []).map((n) => [n.id, n.name]));
      for (const c of rows) if (ids.includes(c.id)) shownNames.set(c.id, { at: c.name_set_at, name: got.get(c.id) || '' });
      changed = true;
    } catch (err) {
      if (err.status === 401) fail(err);
    } finally {
      ids.forEach((id) => naming.delete(id));
    }
  }
  if (changed) showOpenWho();
  return changed;
}

// showOpenWho names the open conversation's customer in its headings
// again, as the names now known say.
function showOpenWho() {
  const c = queue.find((x) => x.id === openId) || found.get(openId);
  if (!c) return;
  for (const el of [thread.querySelector('[data-testid="console-who"]'), contextPane.querySelector('[data-testid="console-context-who"]')]) {
    if (el && el.textContent !== whoWords(c)) el.textContent = whoWords(c);
  }
}

function emptyWords() {
  if (labelFilter) return t('console.empty.label', { label: labelFilter });
  if (filter === 'mine') return t('console.empty.mine');
  if (filter === 'unassigned') return t('console.empty.unassigned');
  return t('console.empty.all');
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

const typingLine = h('p', { class: 'muted typing-line', role: 'status', testid: 'console-typing', hidden: true }, t('console.typing'));
const arrivals = h('p', { class: 'sr-only', role: 'status' }); // tells screen readers the customer wrote
let replyBox = null; // the open conversation's reply, when the member has it
let takeButton = null;

function emptyThread() {
  clear(thread,
    h('header', { class: 'pane-head' }, heading('c-thread-title', t('thread.conversation'))),
    h('div', { class: 'pane-empty' },
      h('p', {}, t('console.choose')),
      h('p', { class: 'muted' }, t('console.press_help'))));
  clear(contextPane,
    h('header', { class: 'pane-head' }, heading('c-context-title', t('console.customer'))),
    h('div', { class: 'pane-empty' }, h('p', { class: 'muted' }, t('console.context.empty'))));
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
    const c = queue.find((x) => x.id === id) || found.get(id) || { id, who: t('console.customer'), labels: [] };
    await loadNames([c]);
    if (turn !== opening) return;
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
  PRIORITIES.map((p) => h('option', { value: String(p), selected: p === (c.priority || 0) }, priorityWords(p))));
  const workBar = h('div', { class: 'work-bar' },
    h('label', { for: priority.id }, t('console.priority')), priority,
    h('button', { type: 'button', class: 'button', testid: 'console-pending', onclick: () => setWork({ status: 'pending' }) }, t('event.pending')),
    h('button', { type: 'button', class: 'button', testid: 'console-snooze', onclick: () => setWork({ status: 'snoozed', snoozed_until: new Date(Date.now() + 3600e3).toISOString() }) },
      t('console.snooze')),
    c.mine && h('button', { type: 'button', class: 'button', testid: 'console-resolve', onclick: () => setWork({ status: 'resolved' }) }, t('console.resolve')));

  const names = accountNames(events);
  const cards = h('ol', { class: 'cards console-cards', testid: 'console-cards', tabindex: '0', 'aria-label': t('console.messages') }, events.map((e) => renderEvent(e, { names })));
  const liveLine = h('p', { class: 'muted', role: 'status', testid: 'console-live', hidden: true });
  takeButton = !c.mine ? act(t('console.take'), 'take', 'console-take') : null;
  replyBox = null;
  let composer;
  if (c.mine) {
    const input = h('textarea', { rows: '2', id: 'c-reply', testid: 'console-reply', placeholder: t('console.reply.placeholder'), 'aria-keyshortcuts': 'R' });
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
      h('label', { for: input.id, class: 'sr-only' }, t('console.reply')), input,
      h('div', { class: 'composer-actions' },
        h('button', { type: 'button', class: 'button', testid: 'console-canned-button', onclick: () => picker.openList() }, t('console.canned')),
        h('button', { type: 'submit', class: 'primary', testid: 'console-send' }, t('thread.composer.send'))),
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
    composer = h('p', { class: 'muted composer-note' }, t('console.take_to_reply'));
  }

  clear(thread,
    h('header', { class: 'pane-head thread-head' },
      h('button', { type: 'button', class: 'back-button', testid: 'console-back', onclick: () => goBack() }, h('span', { 'aria-hidden': 'true' }, '‹ '), t('console.queue')),
      h('div', { class: 'thread-who' },
        heading('c-thread-title', whoWords(c), 'console-who'),
        h('span', { class: 'muted', testid: 'console-owner' }, ownerWords(c))),
      h('div', { class: 'thread-actions' },
        takeButton,
        c.mine && act(t('console.hand_back'), 'return', 'console-return'),
        h('button', { type: 'button', class: 'button details-button', testid: 'console-show-context', onclick: () => setView('context') }, t('console.customer')),
        h('button', { type: 'button', class: 'button', testid: 'console-refresh', onclick: () => open(id) }, t('console.refresh')))),
    workBar,
    h('p', { class: 'muted read-note' }, t('console.read_note')),
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
  const labelList = h('ul', { class: 'labels', testid: 'console-labels', 'aria-label': t('console.labels') });
  const showLabels = (labels) => {
    c.labels = labels;
    clear(labelList, labels.length ? labels.map((l) => h('li', { class: 'tag', testid: 'console-label' }, l,
      h('button', { type: 'button', class: 'tag-remove', 'aria-label': t('console.labels.remove', { label: l }), testid: 'console-label-remove',
        onclick: async () => {
          try { showLabels((await call('DELETE', `/conversations/${enc(id)}/labels/${enc(l)}`)).labels || []); refreshQueue(); } catch (err) { fail(err); }
        } }, '×'))) : h('li', { class: 'muted' }, t('console.labels.none')));
  };
  showLabels(c.labels || []);
  const labelInput = h('input', { type: 'text', id: 'c-label', testid: 'console-label-input', maxlength: '32', autocomplete: 'off', list: 'c-label-options' });
  const labelOptions = h('datalist', { id: 'c-label-options' }, [...new Set(queue.flatMap((x) => x.labels || []))].sort().map((l) => h('option', { value: l })));
  const labelError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const labelForm = h('form', { class: 'label-form' },
    h('label', { for: labelInput.id }, t('console.labels.add')),
    h('div', { class: 'inline-field' }, labelInput, h('button', { type: 'submit', class: 'button', testid: 'console-label-add' }, t('console.labels.add_button'))),
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
  const noteInput = h('textarea', { rows: '2', id: 'c-note', testid: 'console-note', placeholder: t('console.note.placeholder') });
  const noteForm = h('form', { class: 'note-form' },
    h('label', { for: noteInput.id }, t('console.note')), noteInput,
    h('button', { type: 'submit', class: 'button', testid: 'console-add-note' }, t('console.note.add')));
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
      h('button', { type: 'button', class: 'back-button', testid: 'console-context-back', onclick: () => goBack() }, h('span', { 'aria-hidden': 'true' }, '‹ '), t('thread.conversation')),
      heading('c-context-title', whoWords(c), 'console-context-who')),
    h('div', { class: 'context-body console-context', testid: 'console-context' },
      c.link_id && h('p', { class: 'muted' }, t('console.reference', { reference: c.link_id })),
      h('section', {},
        h('h3', {}, t('console.shared')),
        h('ul', { class: 'scope-list', testid: 'console-scopes' }, scopes.map((s) => h('li', {}, words(`console.scope.${s}`, s))))),
      (context.balances || []).length > 0 && h('section', {},
        h('h3', {}, t('thread.balances')),
        context.balances.map((b) => h('p', { testid: 'context-balance' },
          t('console.balance', { account: b.account_name || t('thread.account'), mask: mask(b.mask), amount: formatMoney(b.available) })))),
      (context.transactions || []).length > 0 && h('section', {},
        h('h3', {}, t('thread.menu.transactions')),
        h('ul', { class: 'context-transactions' }, context.transactions.map((txn) => h('li', { testid: 'context-transaction' },
          h('span', {}, transactionTitle(txn)),
          h('span', { class: 'muted' }, [txn.merchant?.category, txn.status === 'pending' ? t('event.pending') : ''].filter(Boolean).join(' · ')),
          h('span', { class: 'amount' }, formatMoney(txn.amount, txn.direction)))))),
      h('section', {}, h('h3', {}, t('console.labels')), labelList, labelForm),
      h('section', {},
        h('h3', {}, t('console.notes')),
        h('p', { class: 'muted' }, t('console.notes.note')),
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
          arrivals.textContent = t('console.arrived');
        }
        cards.append(renderEvent(e, { names }));
      }
      if (atEnd) cards.lastElementChild?.scrollIntoView({ block: 'nearest' });
    },
    onState: (state) => {
      liveLine.hidden = state === 'connected';
      liveLine.textContent = t('console.live.reconnecting');
    },
    onSignedOut: () => signInView(SESSION_ENDED()),
    onClosed: {
      4404: () => {
        liveLine.hidden = false;
        liveLine.textContent = t('console.live.closed');
        refreshQueue();
      },
    },
    beforeRetry: () => call('GET', '/me').then(() => true, (err) => {
      if (err.status === 401) { signInView(SESSION_ENDED()); return false; }
      return true;
    }),
  });
  stream = s;
  s.start();
}

// ---- Keyboard -----------------------------------------------------------------

// The keys, and what each does (console.shortcut.<name>). Letters are
// the same in every language; Enter and Esc are named as keyboards in the
// language name them ("Entrée", "Échap").
const SHORTCUTS = [
  ['j', 'next'],
  ['k', 'previous'],
  [t('console.key.enter'), 'open'],
  ['r', 'reply'],
  ['/', 'canned'],
  [t('console.key.ctrl_enter'), 'send'],
  [t('console.key.esc'), 'back'],
  ['?', 'help'],
];
const helpDialog = h('dialog', { class: 'help-dialog', testid: 'console-help-dialog', 'aria-labelledby': 'c-help-title' },
  h('h2', { id: 'c-help-title' }, t('console.shortcuts')),
  h('dl', { class: 'shortcuts' }, SHORTCUTS.map(([key, what]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, t(`console.shortcut.${what}`))])),
  h('form', { method: 'dialog' }, h('button', { type: 'submit', class: 'primary', testid: 'console-help-close' }, t('common.close'))));

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
      else if (takeButton) { takeButton.focus(); fail(new Error(t('console.take_to_reply'))); }
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
    const decimal = intl(Intl.NumberFormat, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    const min = (ms) => (ms ? t('console.figures.minutes', { minutes: decimal.format(ms / 60000) }) : '–');
    clear(figures, h('h2', {}, t('console.figures')),
      // Focusable, so that a keyboard can scroll a table wider than the pane.
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': t('console.figures.label') }, h('table', {},
        h('thead', {}, h('tr', {}, ['agent', 'taken', 'first_reply', 'resolution', 'satisfaction'].map((col) => h('th', { scope: 'col' }, t(`console.figures.${col}`))))),
        h('tbody', {}, (res.agents || []).map((a) => h('tr', {},
          h('td', {}, a.name || t('console.figures.an_agent')), h('td', {}, String(a.conversations)), h('td', {}, min(a.first_response_ms)), h('td', {}, min(a.resolution_ms)),
          h('td', {}, a.ratings ? t('console.figures.rating', { score: decimal.format(a.satisfaction), count: a.ratings }) : '–')))))));
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
    h('label', { for: title.id }, t('console.canned.title')), title,
    h('label', { for: text.id }, t('console.canned.text')), text, error,
    h('button', { type: 'submit', class: 'button', testid: 'console-canned-add' }, t('console.canned.add')));
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
    h('summary', {}, t('console.canned.summary', { count: canned.length })),
    h('ul', { class: 'canned-admin' }, canned.map((r) => h('li', { testid: 'console-canned-item' },
      h('div', {}, h('strong', {}, r.title), h('p', { class: 'muted' }, r.text)),
      h('button', { type: 'button', class: 'link-button', testid: 'console-canned-delete', 'aria-label': t('console.canned.delete_named', { title: r.title }),
        onclick: async () => { try { await call('DELETE', `/canned/${enc(r.id)}`); loadCannedManager(); } catch (err) { fail(err); } } }, t('console.canned.delete'))))),
    form);
  cannedManager.open = wasOpen;
}

// passwordChanger lets a member replace the password their bank gave them.
function passwordChanger() {
  return h('details', { class: 'console-password' }, h('summary', { testid: 'console-pw' }, t('auth.password')),
    passwordForm({
      prefix: 'console',
      change: (current, next) => call('POST', '/password', { current, new: next }),
      done: t('console.password_changed'),
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
    h('header', { class: 'pane-head' }, heading('c-queue-title', t('console.queue'))),
    h('div', { class: 'queue-tools' },
      h('div', { class: 'filters', role: 'group', 'aria-label': t('console.filters') }, filterButtons),
      h('label', { for: labelSelect.id, class: 'sr-only' }, t('console.labels.filter')), labelSelect,
      searchForm, results,
      h('p', { class: 'muted small' }, t('console.preview_note'))),
    queueList,
    me.role === 'supervisor' && [cannedManager, figures]);
  emptyThread();
  clear(root,
    h('header', { class: 'pane-head console-head' },
      h('h1', {}, t('console.heading')),
      h('div', { class: 'presence' },
        h('label', { for: presenceChoice.id }, t('console.status')), presenceChoice, presenceState),
      h('span', { class: 'muted', testid: 'console-me' }, `${me.name} · ${words(`console.role.${me.role}`, me.role)}`),
      h('button', { type: 'button', class: 'link-button', testid: 'console-help', 'aria-keyshortcuts': 'Shift+?', onclick: showHelp }, t('console.shortcuts_button')),
      passwordChanger(),
      languagePicker({ id: 'c-language', testid: 'console-language', onChosen: () => location.reload() }),
      h('button', { type: 'button', class: 'link-button', onclick: async () => { try { await call('POST', '/signout', {}); } catch { /* signed out anyway */ } signInView(); } }, t('list.signout'))),
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
languageReady.then(() => call('GET', '/me')).then(start).catch(() => signInView());
