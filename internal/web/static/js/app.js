// OpenTeller customer messenger: session, routing and the live connection.
import { h, clear } from './dom.js';
import { api, setCsrfToken, whenSignedOut } from './api.js';
import { createLive } from './live.js';
import * as store from './store.js';
import { authView } from './views/auth.js';
import { listView } from './views/list.js';
import { connectView } from './views/connect.js';
import { threadView } from './views/thread.js';
import { insightsView } from './views/insights.js';
import { privacyView } from './views/privacy.js';
import { delegatedView } from './views/delegated.js';
import { forgotView, resetView } from './views/reset.js';
import { registerWorker, turnOffHere } from './notifications.js';
import { language, onLanguage, ready as languageReady, setLanguage, t } from './i18n.js';

const root = document.getElementById('app');
const banner = document.querySelector('[data-testid="reconnecting"]');

let shell = null; // {el, list, main, mainView, key} while signed in
let returnTo = null; // the route a signed-out visit wanted
let signInNote = ''; // why this page was signed out, when the customer's own change did it

const live = createLive({
  cursors: store.cursors,
  onMessage,
  onState: (state) => {
    banner.hidden = state === 'connected';
    if (state === 'connected') loadConversations();
  },
  onSignedOut: signedOut,
  // While down, ask /me: a 401 there means the session ended (the socket's
  // own upgrade failure can't say why), and whenSignedOut takes over.
  beforeRetry: () => api('GET', '/me').then(() => true, (err) => err.status !== 401),
});

function onMessage(msg) {
  switch (msg.type) {
    case 'events':
      if (!store.hasConversation(msg.conversation_id)) loadConversations();
      for (const event of msg.events ?? []) store.addEvent(msg.conversation_id, event);
      break;
    case 'conversation':
      store.upsertConversation(msg.conversation);
      break;
    case 'caught_up':
      store.setCaughtUp();
      break;
    case 'typing':
      store.typing(msg.conversation_id, msg.who);
      break;
  }
}

let loadingConversations = null;
function loadConversations() {
  loadingConversations ??= api('GET', '/conversations')
    .then((res) => store.setConversations(res?.conversations), () => {})
    .finally(() => { loadingConversations = null; });
  return loadingConversations;
}

function parseRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const thread = path.match(/^\/c\/(.+)$/);
  const shared = path.match(/^\/d\/(.+)$/);
  const insights = path.match(/^\/c\/([^/]+)\/insights$/);
  if (insights) return { name: 'insights', id: decodeURIComponent(insights[1]), params };
  if (shared) return { name: 'delegated', id: decodeURIComponent(shared[1]), params };
  if (thread) return { name: 'thread', id: decodeURIComponent(thread[1]), params };
  if (path === '/signin' || path === '/signup' || path === '/connect' || path === '/privacy' || path === '/forgot' || path === '/reset') return { name: path.slice(1), params };
  return { name: 'list', params };
}

function startSession(res) {
  setCsrfToken(res.csrf_token);
  store.signIn(res.customer);
  followAccount(res.customer?.language);
  loadConversations();
  live.start();
}

// The language kept with the account wins over this browser's: at
// sign-in (the server has set the cookie from it) and when the app opens
// signed in (it may have been chosen on another device since). The page
// switches to it; if its catalogue cannot be loaded, it stays as it is.
function followAccount(code) {
  if (code && code !== language()) setLanguage(code).catch(() => {});
}

// signedOut leaves the session; reason is the request's error, or {note}
// from signedOutHere (api.js), said on the sign-in page until the next
// sign-in.
function signedOut(reason) {
  if (reason?.note) signInNote = reason.note;
  live.stop();
  store.reset();
  setCsrfToken('');
  banner.hidden = true;
  const route = parseRoute();
  if (!signedOutRoute(route)) {
    returnTo = location.hash;
    location.hash = '#/signin'; // hashchange renders
  } else {
    render();
  }
}
whenSignedOut(signedOut);

async function signOut() {
  await turnOffHere().catch(() => {}); // the next person here must not hear of this customer
  await api('POST', '/signout').catch(() => {});
  signedOut();
  returnTo = null; // a deliberate sign-out starts fresh next time
}

// Routes that need no session: signing in or up, and a forgotten password.
function signedOutRoute(route) {
  return ['signin', 'signup', 'forgot', 'reset'].includes(route.name);
}

function render() {
  const route = parseRoute();
  if (route.name === 'forgot' || route.name === 'reset') {
    // Open signed in or out: a reset ends every session, this one too.
    shell?.mainView?.destroy?.();
    shell?.unsubscribe();
    shell = null;
    const view = route.name === 'forgot' ? forgotView() : resetView({
      token: route.params.get('token') || '',
      onReset: () => {
        if (!store.session.customer) return;
        live.stop();
        store.reset();
        setCsrfToken('');
      },
    });
    clear(root, view.el);
    view.focus();
    document.title = t(route.name === 'forgot' ? 'app.title.forgot' : 'app.title.reset');
    return;
  }
  if (!store.session.customer) {
    if (route.name !== 'signin' && route.name !== 'signup') {
      location.hash = '#/signin';
      return;
    }
    shell?.mainView?.destroy?.();
    shell?.unsubscribe();
    shell = null;
    const view = authView({
      mode: route.name,
      note: route.name === 'signin' ? signInNote : '',
      onSignedIn: (res) => {
        signInNote = '';
        startSession(res);
        location.hash = returnTo || '#/';
        returnTo = null;
      },
    });
    clear(root, view.el);
    view.focus();
    document.title = t(route.name === 'signup' ? 'app.title.signup' : 'app.title.signin');
    return;
  }
  if (route.name === 'signin' || route.name === 'signup') {
    location.hash = '#/';
    return;
  }
  renderShell(route);
}

function renderShell(route) {
  if (!shell) {
    const list = listView({ onSignOut: signOut });
    const main = h('div', { class: 'main-slot' });
    shell = { el: h('div', { class: 'shell' }, list.el, main), list, main, mainView: null, key: null };
    // A backlog is many events at once: redraw the list once per frame.
    let queued = false;
    shell.unsubscribe = store.subscribe(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; list.update(); });
    });
    clear(root, shell.el);
  }
  const key = route.name === 'insights' ? `insights:${route.id}` : route.name === 'thread' ? `thread:${route.id}` : route.name === 'connect' ? `connect:${route.params}` : route.name === 'privacy' ? 'privacy' : route.name === 'delegated' ? `delegated:${route.id}` : 'list';
  shell.el.dataset.view = route.name;
  shell.activeId = route.name === 'thread' || route.name === 'insights' ? route.id : null;
  shell.list.update(shell.activeId);
  if (key === shell.key) return;

  shell.mainView?.destroy?.();
  shell.key = key;
  if (route.name === 'thread') shell.mainView = threadView({ id: route.id, focusSeq: route.params.get('seq') });
  else if (route.name === 'insights') shell.mainView = insightsView({ id: route.id });
  else if (route.name === 'connect') shell.mainView = connectView({ params: route.params });
  else if (route.name === 'privacy') shell.mainView = privacyView();
  else if (route.name === 'delegated') shell.mainView = delegatedView({ id: route.id });
  else shell.mainView = { el: h('section', { class: 'main-pane placeholder' }, h('p', { class: 'muted' }, t('app.choose_conversation'))) };
  clear(shell.main, shell.mainView.el);
  shell.mainView.focus?.();
  document.title = t('app.title');
}

// Another language: what is on screen is drawn again in it, where the
// person is, and focus goes back to the control that had it (the picker).
onLanguage(() => {
  banner.textContent = t('app.reconnecting');
  const focused = document.activeElement?.id;
  shell?.mainView?.destroy?.();
  shell?.unsubscribe();
  shell = null;
  render();
  if (focused) document.getElementById(focused)?.focus();
});

async function boot() {
  await languageReady;
  try {
    startSession(await api('GET', '/me', undefined, { expect401: true }));
  } catch (err) {
    if (err.status !== 401) {
      clear(root, h('main', { class: 'auth' }, h('div', { class: 'auth-card' },
        h('h1', {}, t('app.unavailable')),
        h('p', { role: 'alert' }, err.message),
        h('button', { type: 'button', class: 'primary', onclick: () => location.reload() }, t('app.try_again')))));
      return;
    }
    const route = parseRoute();
    if (!signedOutRoute(route)) returnTo = location.hash || null;
  }
  window.addEventListener('hashchange', render);
  registerWorker(); // shows pushes, and makes the app installable
  window.addEventListener('online', () => live.retryNow());
  setInterval(() => shell?.list.update(), 60000); // keep list times fresh
  render();
}

boot();
