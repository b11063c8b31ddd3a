// The agent console: a bank's people sign in, see the conversations handed
// to people, take one, read it, reply, and hand it back to the bank's bot.
// Opening a conversation is a read that the customer sees in their access
// history. While it stays open, what happens next arrives on a live stream
// (each batch is logged as a read too) with "the customer is typing"; the
// queue, which holds no content, is polled.
import { h, clear } from './dom.js';
import { createLive } from './live.js';
import { passwordForm } from './password.js';
import { renderEvent } from './views/thread.js';
import { formatMoney, mask, transactionTitle } from './format.js';

const root = document.getElementById('console');
let csrf = '';
let me = null;
let openId = null;
let seenSeq = new Map(); // conversation → last seq when it was loaded
let stream = null; // the open conversation's live stream
let opening = 0; // counts open() calls: only the latest renders and streams
const found = new Map(); // conversations from the last searches, by id
let typingTimer = null;
const typingLine = h('p', { class: 'muted', role: 'status', testid: 'console-typing', hidden: true }, 'The customer is typing…');

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

const SESSION_ENDED = 'Your console session ended. Sign in again.';

function signInView(message = '') {
  me = null; // stops the queue's polling until someone signs in
  openId = null;
  if (stream) stream.stop();
  stream = null;
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
      const res = await call('POST', '/signin', { email: email.value, password: password.value });
      start(res);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  clear(root, h('main', { class: 'auth' }, form));
}

const queueList = h('ul', { class: 'console-queue', testid: 'console-queue', 'aria-label': 'Conversations for people' });
const thread = h('section', { class: 'console-thread', testid: 'console-thread', 'aria-live': 'polite' });
const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });

function fail(err) {
  if (err.status === 401) return signInView(SESSION_ENDED);
  problem.textContent = err.message;
  problem.hidden = false;
}

function ownerWords(c) {
  if (c.owner === 'queue') return 'Waiting for a person';
  if (c.owner === 'bot' || !c.owner) return 'With the bank’s assistant';
  return c.mine ? 'With you' : 'With another agent';
}

const PRIORITY = ['Normal', 'High', 'Urgent'];
function workWords(c) {
  const parts = [];
  if (c.priority > 0) parts.push(PRIORITY[c.priority]);
  if (c.status === 'pending') parts.push('Pending');
  if (c.snoozed_until) parts.push(`Snoozed until ${new Date(c.snoozed_until).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' })}`);
  return parts.join(' · ');
}

async function refreshQueue() {
  try {
    const res = await call('GET', '/queue');
    const list = res.conversations || [];
    clear(queueList, list.length ? list.map((c) => {
      const fresh = seenSeq.has(c.id) && c.last_seq > seenSeq.get(c.id);
      return h('li', {},
        h('button', { type: 'button', class: `console-row ${c.id === openId ? 'open' : ''}`, testid: 'console-row', 'data-id': c.id, 'data-owner': c.owner, onclick: () => open(c.id) },
          h('strong', {}, `Customer ${c.link_id.slice(-6)}`),
          h('span', { class: 'muted' }, ` · ${ownerWords(c)}`),
          workWords(c) && h('span', { class: 'muted', testid: 'console-work' }, ` · ${workWords(c)}`),
          fresh && h('span', { class: 'pill', testid: 'console-new' }, 'New')));
    }) : h('li', { class: 'muted' }, 'Nobody is waiting for a person.'));
  } catch (err) { fail(err); }
}

async function open(id) {
  openId = id;
  const turn = ++opening;
  problem.hidden = true;
  if (stream) stream.stop();
  stream = null;
  try {
    const [page, queue] = await Promise.all([call('GET', `/conversations/${encodeURIComponent(id)}/events`), call('GET', '/queue')]);
    // The queue knows the ones with people; search results the others.
    const c = (queue.conversations || []).find((x) => x.id === id) || found.get(id) || {};
    typingLine.hidden = true;
    const events = page.events || [];
    seenSeq.set(id, events.length ? events[events.length - 1].seq : 0);
    const input = h('textarea', { rows: '2', id: 'c-reply', testid: 'console-reply', placeholder: 'Reply to the customer' });
    let typedAt = 0;
    input.addEventListener('input', () => {
      if (Date.now() - typedAt < 3000) return;
      typedAt = Date.now();
      call('POST', `/conversations/${encodeURIComponent(id)}/typing`, {}).catch(() => {});
    });
    const reply = h('form', { class: 'composer' },
      h('label', { for: input.id, class: 'sr-only' }, 'Reply'), input,
      h('button', { type: 'submit', class: 'primary', testid: 'console-send' }, 'Send'));
    reply.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      try {
        await call('POST', `/conversations/${encodeURIComponent(id)}/messages`, { text: input.value });
        input.value = ''; // the reply comes back on the live stream
        typedAt = 0; // the next keystroke says "typing" again at once
      } catch (err) { fail(err); }
    });
    const act = (label, path, testid) => h('button', { type: 'button', class: 'button', testid, onclick: async () => {
      try { await call('POST', `/conversations/${encodeURIComponent(id)}/${path}`, {}); open(id); refreshQueue(); } catch (err) { fail(err); }
    } }, label);
    // How the conversation is worked: status, snooze, priority.
    const setWork = async (body) => {
      try { await call('POST', `/conversations/${encodeURIComponent(id)}/work`, { priority: c.priority || 0, ...body }); open(id); } catch (err) { fail(err); }
    };
    const priority = h('select', { 'aria-label': 'Priority', testid: 'console-priority',
      onchange: () => setWork({ status: c.status === 'snoozed' ? 'open' : c.status || 'open', priority: Number(priority.value) }) },
    PRIORITY.map((p, i) => h('option', { value: String(i), selected: i === (c.priority || 0) }, p)));
    const workBar = h('div', { class: 'confirm-actions' },
      priority,
      h('button', { type: 'button', class: 'button', testid: 'console-pending', onclick: () => setWork({ status: 'pending' }) }, 'Pending'),
      h('button', { type: 'button', class: 'button', testid: 'console-snooze', onclick: () => setWork({ status: 'snoozed', snoozed_until: new Date(Date.now() + 3600e3).toISOString() }) }, 'Snooze 1 h'),
      c.mine && h('button', { type: 'button', class: 'button', testid: 'console-resolve', onclick: () => setWork({ status: 'resolved' }) }, 'Resolve'));

    // Canned responses fill the reply; private notes stay with the bank.
    const canned = await call('GET', '/canned').catch(() => ({ canned: [] }));
    const picker = (canned.canned || []).length > 0 && h('select', { 'aria-label': 'Insert a canned response', testid: 'console-canned',
      onchange: () => { const r = canned.canned.find((x) => x.id === picker.value); if (r) input.value = r.text; picker.value = ''; input.focus(); } },
    h('option', { value: '' }, 'Canned responses…'), canned.canned.map((r) => h('option', { value: r.id }, r.title)));
    const notesList = h('ul', { class: 'console-notes', testid: 'console-notes' });
    const noteInput = h('textarea', { rows: '2', id: 'c-note', testid: 'console-note', placeholder: 'A private note for your team' });
    const noteForm = h('form', { class: 'composer' },
      h('label', { for: noteInput.id, class: 'sr-only' }, 'Private note'), noteInput,
      h('button', { type: 'submit', class: 'button', testid: 'console-add-note' }, 'Add note'));
    noteForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!noteInput.value.trim()) return;
      try {
        const n = await call('POST', `/conversations/${encodeURIComponent(id)}/notes`, { text: noteInput.value });
        noteInput.value = '';
        notesList.append(h('li', { class: 'note' }, n.text));
      } catch (err) { fail(err); }
    });
    const notes = await call('GET', `/conversations/${encodeURIComponent(id)}/notes`).catch(() => ({ notes: [] }));
    // The side panel: what the customer's consent lets the bank's people see.
    const context = await call('GET', `/conversations/${encodeURIComponent(id)}/context`).catch(() => ({}));
    const panel = h('aside', { class: 'console-context', testid: 'console-context', 'aria-label': 'Customer context' },
      h('h3', {}, 'Shared with you'),
      h('p', { class: 'muted' }, (context.scopes || []).join(' · ')),
      (context.balances || []).map((b) => h('p', { testid: 'context-balance' }, `${b.account_name} ${mask(b.mask)} · ${formatMoney(b.available)} available`)),
      (context.transactions || []).length > 0 && h('ul', {}, context.transactions.map((t) =>
        h('li', {}, `${transactionTitle(t)} · ${formatMoney(t.amount, t.direction)}${t.status === 'pending' ? ' · pending' : ''}`))));
    if (turn !== opening) return; // another conversation was opened meanwhile
    for (const n of notes.notes || []) notesList.append(h('li', { class: 'note' }, n.text));
    const cards = h('ol', { class: 'cards' }, events.map((e) => renderEvent(e)));
    const liveLine = h('p', { class: 'muted', role: 'status', testid: 'console-live', hidden: true });

    clear(thread,
      h('header', { class: 'pane-head' },
        h('h2', {}, `Customer ${(c.link_id || '').slice(-6)}`),
        h('span', { class: 'muted', testid: 'console-owner' }, ownerWords(c)),
        !c.mine && act('Take', 'take', 'console-take'),
        c.mine && act('Hand back to the bot', 'return', 'console-return'),
        h('button', { type: 'button', class: 'button', testid: 'console-refresh', onclick: () => open(id) }, 'Refresh')),
      h('p', { class: 'muted' }, 'Opening this conversation, and each new message you see while it is open, is shown to the customer in their access history.'),
      workBar,
      panel,
      cards,
      liveLine,
      typingLine,
      c.mine ? [picker, reply] : h('p', { class: 'muted' }, 'Take the conversation to reply.'),
      h('h3', {}, 'Private notes'),
      h('p', { class: 'muted' }, 'Only your bank’s people see these.'),
      notesList, noteForm);
    follow(id, cards, liveLine);
    refreshQueue();
  } catch (err) { fail(err); }
}

// follow keeps the open conversation current: new events are appended
// (once each, in seq order) and "the customer is typing" shows for a few
// seconds. The stream ends for good when the member is signed out or the
// conversation is no longer shared with the bank's people.
function follow(id, cards, liveLine) {
  if (stream) stream.stop();
  const s = createLive({
    path: () => `/console/api/conversations/${encodeURIComponent(id)}/live?after=${seenSeq.get(id) || 0}`,
    onMessage: (msg) => {
      if (openId !== id) return;
      if (msg.type === 'typing') {
        typingLine.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { typingLine.hidden = true; }, 5000);
        return;
      }
      if (msg.type !== 'events') return;
      for (const e of msg.events || []) {
        if (e.seq <= (seenSeq.get(id) || 0)) continue;
        seenSeq.set(id, e.seq);
        if (e.author === 'customer') typingLine.hidden = true;
        cards.append(renderEvent(e));
      }
      cards.lastElementChild?.scrollIntoView({ block: 'nearest' });
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

// Search the bank's conversations by the customer's reference.
const searchInput = h('input', { type: 'search', id: 'c-search', placeholder: 'Customer reference', testid: 'console-search', 'aria-label': 'Search by customer reference' });
const results = h('ul', { class: 'console-queue', testid: 'console-results' });
const searchForm = h('form', { class: 'console-search', role: 'search' }, searchInput);
searchForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const res = await call('GET', `/search?q=${encodeURIComponent(searchInput.value)}`);
    for (const c of res.conversations || []) found.set(c.id, c);
    clear(results, (res.conversations || []).map((c) => h('li', {},
      h('button', { type: 'button', class: 'console-row', testid: 'console-result', onclick: () => open(c.id) }, `Customer ${c.link_id.slice(-6)} · ${ownerWords(c)}`))));
    if (!(res.conversations || []).length) results.append(h('li', { class: 'muted' }, 'No conversation matches.'));
  } catch (err) { fail(err); }
});

function start(res) {
  csrf = res.csrf_token;
  me = res.staff;
  clear(root,
    h('header', { class: 'pane-head console-head' },
      h('h1', {}, 'Support console'),
      h('span', { class: 'muted', testid: 'console-me' }, `${me.name} · ${me.role}`),
      passwordChanger(),
      h('button', { type: 'button', class: 'link-button', onclick: async () => { try { await call('POST', '/signout', {}); } catch { /* signed out anyway */ } signInView(); } }, 'Sign out')),
    problem,
    h('div', { class: 'console-body' }, h('nav', {}, searchForm, results, h('h2', {}, 'Queue'), queueList, me.role === 'supervisor' && figures), thread));
  refreshQueue();
  if (me.role === 'supervisor') loadFigures();
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

// Supervisors see each agent's figures for the last seven days.
const figures = h('section', { class: 'console-figures', testid: 'console-figures' });
async function loadFigures() {
  try {
    const res = await call('GET', '/metrics');
    const min = (ms) => (ms ? `${(ms / 60000).toFixed(1)} min` : '–');
    clear(figures, h('h2', {}, 'Team, last 7 days'),
      h('table', {},
        h('thead', {}, h('tr', {}, ['Agent', 'Taken', 'First reply', 'Resolution', 'Satisfaction'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, (res.agents || []).map((a) => h('tr', {},
          h('td', {}, a.name || a.agent_id), h('td', {}, String(a.conversations)), h('td', {}, min(a.first_response_ms)), h('td', {}, min(a.resolution_ms)),
          h('td', {}, a.ratings ? `${a.satisfaction.toFixed(1)} of 5 (${a.ratings})` : '–'))))));
  } catch (err) { fail(err); }
}

setInterval(() => { if (me) refreshQueue(); }, 2000);
call('GET', '/me').then(start).catch(() => signInView());
