// One bank conversation: header, balance strip, the day's activity under a
// date separator, what waits for the customer's answer, the menu and the
// composer. Fraud alerts are answered, quick replies tapped and cards
// unlocked right in the thread.
//
// A calm thread: balances live in the strip at the top, and the thread
// keeps one balance card a day (timeline.js); what waits for an answer
// (the bank's question, an open alert, a locked card, a rating) stays in
// reach above the composer until it is answered or expires; and screen
// readers hear what the bank says, not every purchase or balance change.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import {
  actionLabel, ago, capital, cardName, cardTime, cardWords, dayKey, dayLabel, formatMoney, longDate, mask, requestWords, shipmentWords, summary, transactionTitle, yourCard,
} from '../format.js';
import { t } from '../i18n.js';
import { accountNames, NO_NAMES } from '../accounts.js';
import * as store from '../store.js';
import { timeline, waiting } from '../timeline.js';
import { brandMark, loadBrands, paintBrand } from '../brand.js';
import { scopeWords } from './connect.js';
import { categoryLabel } from '../categories.js';
import { searchPanel } from './search.js';
import { askPanel, canAsk, loadPayers, paymentVersion, renderPayment } from './payments.js';

const NEAR_BOTTOM_PX = 48;
const RENEW_WINDOW_MS = 14 * 24 * 3600 * 1000; // offer renewal in the last 14 days

// What a screen reader is told as it arrives: the bank speaking, and what
// asks for the customer. Purchases and balances are there to read, not
// announced one by one.
const ANNOUNCED = new Set(['message', 'fraud.alert', 'card.status', 'payment.request', 'payment.status', 'rating.request', 'agent.joined', 'agent.left', 'link.expiring', 'link.revoked', 'link.expired']);

// ratingQuestion: "How did Ada do?", or "How did our team do?".
function ratingQuestion(agent) {
  return agent ? t('event.rating.question', { agent }) : t('event.rating.question_team');
}

export function expiringSoon(c) {
  return c?.link?.status === 'active' && c.link.expires_at && new Date(c.link.expires_at) - Date.now() < RENEW_WINDOW_MS;
}

// focusSeq, from #/c/{id}?seq=N (the insights link to a card), is the
// event to bring into view first.
export function threadView({ id, focusSeq = null }) {
  const head = h('header', { class: 'pane-head thread-head' });
  const strip = h('section', { class: 'balance-strip', testid: 'balance-strip', 'aria-label': t('thread.balances'), hidden: true });
  // Not a live region: the announcer below says what deserves saying.
  const cards = h('ol', { class: 'cards', 'aria-label': t('thread.cards') });
  const earlier = h('button', { type: 'button', class: 'link-button earlier', testid: 'show-earlier', hidden: true }, t('thread.show_earlier'));
  // In the tab order, so that a keyboard can scroll the thread.
  const scroller = h('div', { class: 'thread-scroll', tabindex: '0', role: 'region', 'aria-label': t('thread.conversation') }, strip, earlier, cards);
  const newActivity = h('button', { type: 'button', class: 'new-activity', hidden: true, testid: 'new-activity' }, t('thread.new_activity'));
  const body = h('div', { class: 'thread-body' }, scroller, newActivity);
  const tray = h('section', { class: 'waiting', testid: 'waiting', 'aria-label': t('thread.waiting'), hidden: true });
  const announcer = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite', testid: 'announcer' });
  const input = h('textarea', {
    id: 'composer-input', rows: '1', testid: 'composer-input', placeholder: t('thread.composer.placeholder_plain'), autocomplete: 'off',
  });
  const send = h('button', { type: 'submit', class: 'primary', testid: 'composer-send', disabled: true }, t('thread.composer.send'));
  const sendError = h('p', { class: 'form-error composer-error', role: 'alert', hidden: true });
  const inputLabel = h('label', { for: input.id, class: 'sr-only' }, t('thread.composer.label_plain'));
  // The persistent menu: what a customer most often wants from a bank.
  const menuButton = h('button', {
    type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-controls': `menu-${id}`,
  }, h('span', { 'aria-hidden': 'true' }, '☰'), h('span', { class: 'sr-only' }, t('thread.menu.button')));
  const menuItem = (label, testid, onclick) => h('li', {}, h('button', { type: 'button', class: 'menu-item', testid, onclick }, label));
  const menu = h('ul', { class: 'menu', id: `menu-${id}`, testid: 'menu', hidden: true },
    menuItem(t('thread.menu.balance'), 'menu-balance', () => request('balance')),
    menuItem(t('thread.menu.transactions'), 'menu-transactions', () => request('recent_transactions')),
    menuItem(t('thread.menu.human'), 'menu-human', () => request('human')),
    menuItem(t('thread.menu.ask_payment'), 'menu-ask-payment', () => { toggleMenu(false); ask.open(); }),
    menuItem(t('thread.menu.privacy'), 'menu-privacy', () => { location.hash = '#/privacy'; }));
  // Asking for money is offered where the bank can pass it on (payments.js).
  const askItem = menu.querySelector('[data-testid="menu-ask-payment"]').closest('li');
  askItem.hidden = true;
  const ask = askPanel(id, { onDone: () => menuButton.focus() });
  const requestStatus = h('p', { class: 'request-status muted', role: 'status', testid: 'request-status', hidden: true });
  const typingLine = h('p', { class: 'request-status muted', role: 'status', testid: 'typing', hidden: true });
  let typingTimer = 0;
  let sentTypingAt = 0;
  const composer = h('form', { class: 'composer' }, typingLine, requestStatus, sendError, menu, menuButton, inputLabel, input, send);
  const search = searchPanel({ id, jump: (seq) => jumpTo(seq) }); // views/search.js
  const el = h('section', { class: 'main-pane thread', testid: 'thread', 'data-id': id }, head, search.el, body, tray, ask.el, composer, announcer);

  let stuck = true; // follow the newest card unless the customer scrolled up
  let sending = false;
  let confirming = false; // the Disconnect confirmation is open
  let revokeError = '';
  let awaitingBalance = null; // what the strip showed when a balance was asked for

  function toggleMenu(open = menu.hidden) {
    menu.hidden = !open;
    menuButton.setAttribute('aria-expanded', String(open));
    if (open) menu.querySelector('button')?.focus();
  }
  menuButton.addEventListener('click', () => toggleMenu());
  menu.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { toggleMenu(false); menuButton.focus(); }
  });

  function showError(message) {
    sendError.textContent = message;
    sendError.hidden = !message;
  }

  // The bank's own menu items (its bot's Messenger profile) go above
  // Privacy: a payload goes back to the bank as the customer's tap, a URL
  // opens. "Get started" is offered until the customer has said anything.
  async function tapMenu(payload) {
    toggleMenu(false);
    showError('');
    try {
      await api('POST', `/conversations/${encodeURIComponent(id)}/messages`, { menu: true, payload });
      stuck = true;
    } catch (err) {
      showError(err.message);
    }
  }
  api('GET', `/conversations/${encodeURIComponent(id)}/menu`).then((bankMenu) => {
    const privacy = menu.querySelector('[data-testid="menu-privacy"]')?.closest('li') || null;
    const spoken = store.visibleEvents(id).some((e) => e.author === 'customer');
    const items = [];
    if (bankMenu.get_started && !spoken) items.push(menuItem(t('thread.menu.get_started'), 'menu-get-started', () => tapMenu(bankMenu.get_started)));
    for (const it of bankMenu.items || []) {
      items.push(it.url
        ? h('li', {}, h('a', { class: 'button menu-item', testid: 'menu-bank-link', href: it.url, target: '_blank', rel: 'noopener noreferrer' }, it.title))
        : menuItem(it.title, 'menu-bank-item', () => tapMenu(it.payload)));
    }
    for (const li of items) menu.insertBefore(li, privacy);
  }).catch(() => {}); // the built-in items stand without it

  // A menu request: the bank answers in the conversation. For a balance,
  // the last known one shows at once, with its age, until the fresh one
  // arrives.
  async function request(kind) {
    toggleMenu(false);
    showError('');
    const name = store.conversation(id)?.institution?.name || t('thread.your_bank');
    try {
      const res = await api('POST', `/conversations/${encodeURIComponent(id)}/requests`, { kind });
      if (kind === 'balance') {
        store.setKnownBalances(id, res.last_known);
        // The bank may have answered before this response came back.
        const answered = store.visibleEvents(id).some((e) => e.type === 'balance.updated' && e.seq > res.seq);
        if (!answered) {
          const asked = Date.now();
          awaitingBalance = asked;
          requestStatus.textContent = res.last_known?.length
            ? t('thread.balance.last_known', { bank: name })
            : t('thread.balance.asking', { bank: name });
          requestStatus.hidden = false;
          setTimeout(() => {
            if (awaitingBalance === asked) requestStatus.textContent = t('thread.balance.no_answer', { bank: name });
          }, 20000);
        }
      }
      stuck = true;
    } catch (err) {
      showError(err.message);
    }
  }

  // Answers and replies, from buttons on the cards and in the tray. Each
  // shows as answered when the answer comes back over the socket.
  async function answerCard(card, path, body, errorCodes) {
    const buttons = [...card.querySelectorAll('button[data-choice]')];
    for (const b of buttons) b.disabled = true;
    card.querySelector('.card-error')?.remove();
    try {
      await api('POST', `/conversations/${encodeURIComponent(id)}/${path}`, body);
    } catch (err) {
      for (const b of buttons) b.disabled = errorCodes.includes(err.code);
      card.append(h('p', { class: 'form-error card-error', role: 'alert' }, err.message));
    }
  }
  const answerAlert = (card, action) => answerCard(card, `alerts/${card.dataset.seq}/answer`, { action }, ['alert_expired', 'already_answered']);
  const actOnCard = (card, action) => answerCard(card, `cards/${card.dataset.seq}/action`, { action }, ['card_changed', 'already_answered']);
  const payRequest = (card, payer) => answerCard(card, `payments/${card.dataset.seq}/authorize`, { payer_institution_id: payer },
    ['already_authorized', 'payment_expired', 'payment_closed']);

  async function reply(button) {
    const replyTo = Number(button.dataset.replyTo);
    button.closest('.quick-replies, .message-buttons')?.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    showError('');
    try {
      await api('POST', `/conversations/${encodeURIComponent(id)}/messages`,
        { reply_to: replyTo, payload: button.dataset.payload || '', text: button.dataset.label });
      stuck = true;
    } catch (err) {
      button.closest('.quick-replies, .message-buttons')?.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      showError(err.message);
    }
  }

  async function rate(card, score) {
    const comment = card.querySelector('textarea')?.value || '';
    for (const b of card.querySelectorAll('button')) b.disabled = true;
    card.querySelector('.card-error')?.remove();
    try {
      await api('POST', `/conversations/${encodeURIComponent(id)}/rating`, { request_seq: Number(card.dataset.seq), score, comment });
    } catch (err) {
      for (const b of card.querySelectorAll('button')) b.disabled = false;
      card.append(h('p', { class: 'form-error card-error', role: 'alert' }, err.message));
    }
  }

  // Bring a card that waits for an answer into view, from its reminder.
  function jumpTo(seq) {
    const card = cards.querySelector(`[data-key="seq:${seq}"]`);
    if (!card) return;
    card.scrollIntoView({ block: 'center' });
    card.focus({ preventScroll: true });
    stuck = nearBottom();
  }

  // Disconnecting takes one tap and one confirmation: no harder than
  // connecting. The privacy center will offer the same.
  // Renewal: one tap, for the default 90 days; the privacy center offers
  // other durations.
  async function renew() {
    const c = store.conversation(id);
    if (!c?.link?.id) return;
    try {
      const res = await api('POST', `/links/${encodeURIComponent(c.link.id)}/renew`, { duration_days: 90 });
      store.upsertConversation({ ...c, link: { ...c.link, ...res.link } });
      revokeError = '';
    } catch (err) {
      revokeError = err.message;
    }
    renderHead();
  }

  async function revoke() {
    const c = store.conversation(id);
    if (!c?.link?.id) return;
    try {
      const res = await api('DELETE', `/links/${encodeURIComponent(c.link.id)}`);
      store.upsertConversation({ ...c, link: { ...c.link, ...res.link } });
      confirming = false;
      revokeError = '';
    } catch (err) {
      revokeError = err.message;
    }
    renderHead();
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
  }
  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    stuck = true;
    newActivity.hidden = true;
    if (document.visibilityState === 'visible') store.markRead(id);
  }
  scroller.addEventListener('scroll', () => {
    stuck = nearBottom();
    if (stuck) {
      newActivity.hidden = true;
      store.markRead(id);
    }
  });
  newActivity.addEventListener('click', toBottom);
  // Buttons on the cards and in the tray act on this conversation.
  el.addEventListener('click', (e) => {
    const target = e.target.closest?.('[data-action]');
    if (!target || target.disabled || !el.contains(target)) return;
    const card = target.closest('[data-seq]');
    switch (target.dataset.action) {
      case 'renew': return renew();
      case 'answer': return answerAlert(card, target.dataset.choice);
      case 'card': return actOnCard(card, target.dataset.choice);
      case 'pay': return payRequest(card, target.dataset.choice);
      case 'reply': return reply(target);
      case 'rate': return rate(card, Number(target.dataset.score));
      case 'jump': return jumpTo(target.dataset.seq);
    }
  });

  function renderHead() {
    const c = store.conversation(id);
    const name = c?.institution?.name || t('thread.your_bank_title');
    const status = c?.link?.status || '';
    const dead = status === 'revoked' || status === 'expired';
    let statusText = ['active', 'revoked', 'expired'].includes(status) ? t(`thread.link_status.${status}`) : status;
    if (status === 'active' && c.link.expires_at) statusText = t('thread.link_status.active_until', { date: longDate(c.link.expires_at) });
    if (!c) statusText = store.session.caughtUp ? t('thread.not_found') : t('app.loading');
    clear(head,
      h('a', { href: '#/', class: 'back', 'aria-label': t('common.back_to_conversations') }, '‹'),
      brandMark(c?.institution?.id, name),
      h('div', { class: 'thread-title' },
        h('h1', {}, name),
        h('p', { class: `link-status ${dead ? 'dead' : ''}`, testid: 'link-status' }, statusText)),
      c && h('a', { href: `#/c/${encodeURIComponent(id)}/insights`, class: 'link-button thread-tool', testid: 'insights-link' }, t('thread.insights')),
      c && search.button,
      (status === 'expired' || expiringSoon(c)) &&
        h('button', { type: 'button', class: 'link-button', testid: 'renew', onclick: renew }, t('thread.renew_90')),
      status === 'active' && !confirming &&
        h('button', { type: 'button', class: 'link-button', testid: 'disconnect', onclick: () => { confirming = true; renderHead(); } }, t('thread.disconnect')),
    );
    paintBrand(head, c?.institution?.id);
    if (revokeError && !confirming) head.append(h('p', { class: 'form-error', role: 'alert' }, revokeError));
    if (status === 'active' && confirming) {
      head.append(h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': t('thread.disconnect_bank', { bank: name }) },
        h('p', {}, t('thread.disconnect_confirm', { bank: name })),
        revokeError && h('p', { class: 'form-error', role: 'alert' }, revokeError),
        h('div', { class: 'confirm-actions' },
          h('button', { type: 'button', class: 'danger', testid: 'disconnect-confirm', onclick: revoke }, t('thread.disconnect')),
          h('button', { type: 'button', class: 'link-button', onclick: () => { confirming = false; revokeError = ''; renderHead(); } }, t('common.cancel')))));
    }
    input.disabled = dead || !c;
    menuButton.disabled = dead || !c;
    if (menuButton.disabled) toggleMenu(false);
    input.placeholder = dead ? t('thread.composer.dead') : t('thread.composer.placeholder', { bank: name });
    inputLabel.textContent = t('thread.composer.label', { bank: name });
    updateSend();
  }

  // The header holds the balances: the newest of each account, with its age.
  function renderStrip() {
    const balances = store.latestBalances(id);
    strip.hidden = balances.length === 0;
    clear(strip, balances.map((e) => {
      const d = e.data;
      return h('div', { class: 'balance', 'data-account': d.account_id },
        h('p', { class: 'balance-name' }, d.account_name || t('thread.account'), d.mask ? h('span', { class: 'mask' }, ` ${mask(d.mask)}`) : null),
        h('p', { class: 'balance-available' }, formatMoney(d.available), h('span', { class: 'muted' }, ` ${t('thread.available')}`)),
        h('p', { class: 'balance-meta muted' }, t('thread.balance_meta', { amount: formatMoney(d.current), ago: ago(e.occurred_at) })),
      );
    }));
  }

  // The thread is drawn from the store's events (timeline.js), keeping
  // every card that did not change: a focused button, a half-written
  // rating comment and the reader's place survive new arrivals.
  let names = NO_NAMES; // the accounts cards spend from, as the bank said (accounts.js)
  function versionOf(item, today) {
    if (item.kind === 'day') return dayLabel(item.day);
    if (item.kind === 'balances') return `${item.day === today}:${item.events.map((e) => e.seq).join(',')}`;
    const e = item.event;
    const answer = store.answerTo(id, e.seq) ? 'answered' : '';
    // A purchase or an alert is drawn again once its card's account is known.
    if (e.type === 'transaction.posted') return names.account(e.data?.account_id) || names.card(e.data?.card_last4);
    if (e.type === 'fraud.alert') return `${answer || (e.data?.expires_at && new Date(e.data.expires_at) <= new Date() ? 'expired' : 'open')}:${names.account(e.data?.transaction?.account_id) || names.card(e.data?.transaction?.card_last4)}`;
    if (e.type === 'rating.request' || e.type === 'card.status') return answer;
    if (e.type.startsWith('payment.')) return paymentVersion(id, e); // redrawn in place as its status changes
    return '';
  }
  function renderItem(item, today) {
    if (item.kind === 'day') {
      return h('li', { class: 'day', testid: 'day-separator', 'data-day': item.day }, h('h2', { class: 'day-label' }, dayLabel(item.day)));
    }
    if (item.kind === 'balances') return balancesCard(item, item.day === today);
    const card = renderEvent(item.event, { conversationId: id, names });
    if (['fraud.alert', 'rating.request', 'card.status', 'payment.request'].includes(item.event.type)) card.tabIndex = -1; // its reminder brings focus here
    return card;
  }
  function reconcile() {
    const today = dayKey(new Date());
    const items = timeline(store.visibleEvents(id));
    names = accountNames([...store.latestBalances(id), ...store.visibleEvents(id)]);
    const keys = new Set(items.map((i) => i.key));
    for (const node of [...cards.children]) if (!keys.has(node.dataset.key)) node.remove();
    const drawn = new Map([...cards.children].map((n) => [n.dataset.key, n]));
    let prev = null;
    for (const item of items) {
      const version = versionOf(item, today);
      let node = drawn.get(item.key);
      if (!node || node.dataset.version !== version) {
        const fresh = renderItem(item, today);
        fresh.dataset.key = item.key;
        fresh.dataset.version = version;
        node?.replaceWith(fresh);
        node = fresh;
      }
      const want = prev ? prev.nextSibling : cards.firstChild;
      if (node !== want) cards.insertBefore(node, want);
      prev = node;
    }
  }

  // What waits for the customer stays in reach above the composer: the
  // bank's question with its quick replies, and a reminder of each open
  // alert, locked card or rating, shown while its card is out of view.
  const inView = new Set(); // keys of waiting cards the reader can see
  // Keys of cards just drawn that the watcher has not reported on yet: they
  // count as seen. Were their reminders shown until then, the tray would
  // open and close under a card arriving in view, moving its buttons from
  // under the finger.
  const unreported = new Set();
  let watched = []; // the waiting cards observed, in the tray's order
  const watcher = new IntersectionObserver((entries) => {
    for (const en of entries) {
      if (!watched.includes(en.target)) continue; // a card since drawn afresh
      unreported.delete(en.target.dataset.key);
      if (en.isIntersecting) inView.add(en.target.dataset.key);
      else inView.delete(en.target.dataset.key);
    }
    showReminders();
  }, { root: scroller, threshold: 0.6 });

  function refreshWaiting() {
    const dead = ['revoked', 'expired'].includes(store.conversation(id)?.link?.status);
    const items = dead ? [] : waiting(store.visibleEvents(id), (seq) => store.answerTo(id, seq));
    const name = store.conversation(id)?.institution?.name || t('thread.your_bank');
    const key = JSON.stringify(items.map((i) => [i.kind, i.event.seq]));
    if (tray.dataset.items !== key) {
      tray.dataset.items = key;
      clear(tray, items.map((i) => {
        const e = i.event;
        const d = e.data || {};
        if (i.kind === 'question') {
          return h('div', { class: 'quick-replies', role: 'group', 'aria-label': t('thread.answer_bank', { bank: name }), testid: 'quick-replies', 'data-reply-to': e.seq },
            d.quick_replies.map((r) => replyButton(e.seq, r, 'chip')));
        }
        const text = i.kind === 'alert' ? summary(e)
          : i.kind === 'rating' ? ratingQuestion(d.agent)
            : i.kind === 'payment' ? summary(e)
            : capital(t('thread.card_is', { card: yourCard(d.card_last4, d.account_name), status: cardWords(d.status) }));
        return h('button', { type: 'button', class: `waiting-item waiting-${i.kind}`, testid: `waiting-${i.kind}`, 'data-action': 'jump', 'data-seq': e.seq, 'data-key': `seq:${e.seq}` },
          h('span', { class: 'waiting-text' }, text),
          h('span', { class: 'waiting-go' }, t(i.kind === 'rating' ? 'thread.waiting_go.rate' : i.kind === 'payment' ? 'thread.waiting_go.pay' : 'thread.waiting_go.answer')));
      }));
    }
    // Watch the cards themselves: a card drawn afresh (answered, expired)
    // is a new element.
    const wanted = items.map((i) => i.kind !== 'question' && cards.querySelector(`[data-key="seq:${i.event.seq}"]`)).filter(Boolean);
    if (wanted.length !== watched.length || wanted.some((c, n) => c !== watched[n])) {
      watcher.disconnect();
      const keys = new Set(wanted.map((c) => c.dataset.key));
      const before = new Set(watched.map((c) => c.dataset.key));
      for (const set of [inView, unreported]) for (const k of [...set]) if (!keys.has(k)) set.delete(k);
      for (const c of wanted) {
        if (!before.has(c.dataset.key)) unreported.add(c.dataset.key);
        watcher.observe(c);
      }
      watched = wanted;
    }
    showReminders();
  }
  function showReminders() {
    for (const row of tray.querySelectorAll('.waiting-item')) row.hidden = inView.has(row.dataset.key) || unreported.has(row.dataset.key);
    const shown = [...tray.children].some((c) => !c.hidden);
    if (tray.hidden === shown) {
      tray.hidden = !shown;
      if (stuck) scroller.scrollTop = scroller.scrollHeight; // the tray took or gave back room
    }
  }

  // Screen readers hear what arrives live, a few words at a time.
  let toAnnounce = [];
  function announce(text) {
    if (text) toAnnounce.push(text);
  }
  function flushAnnouncements() {
    if (!toAnnounce.length) return;
    const text = toAnnounce.join(' ');
    toAnnounce = [];
    announcer.textContent = '';
    requestAnimationFrame(() => { announcer.textContent = text; });
  }
  function announcement(e) {
    const name = store.conversation(id)?.institution?.name || t('thread.your_bank_title');
    if (e.type === 'message') return t('thread.announce.said', { who: e.author === 'agent' ? e.data?.agent || name : name, text: String(e.data?.text ?? '').slice(0, 200) });
    if (e.type === 'card.status') {
      return t('thread.announce.card', { bank: name, card: yourCard(e.data?.card_last4, e.data?.account_name), status: cardWords(e.data?.status) });
    }
    return e.author === 'platform' ? summary(e) : t('thread.announce.said', { who: name, text: summary(e) });
  }

  // History: older events a page at a time, kept where the reader is.
  function offerEarlier() {
    const low = store.lowestSeq(id);
    // Before a clearing or an ended link there is nothing left to show.
    const first = store.visibleEvents(id)[0];
    earlier.hidden = !(low > 1) || ['history.cleared', 'link.revoked', 'link.expired'].includes(first?.type);
  }
  earlier.addEventListener('click', async () => {
    earlier.disabled = true;
    try {
      const res = await api('GET', `/conversations/${encodeURIComponent(id)}/events?before=${store.lowestSeq(id) ?? ''}`);
      const before = scroller.scrollHeight;
      for (const e of res.events || []) store.addEvent(id, e, { history: true });
      render();
      scroller.scrollTop += scroller.scrollHeight - before;
      earlier.hidden = !res.more;
    } catch (err) {
      sendError.textContent = err.message;
      sendError.hidden = false;
    } finally {
      earlier.disabled = false;
    }
  });

  // Changes arrive an event at a time, a backlog in one go: the thread is
  // redrawn once for them all.
  let scheduled = false;
  let follow = false; // bring the newest into view after drawing
  let fresh = false; // something new arrived while the reader is further up
  let balanceAsked = false; // a balance the customer asked for arrived
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(render);
  }
  function render() {
    scheduled = false;
    reconcile();
    renderStrip();
    refreshWaiting();
    if (balanceAsked) {
      balanceAsked = false;
      announce(t('thread.announce.balance', { balances: store.latestBalances(id).map((e) => summary(e)).join('; ') }));
    }
    flushAnnouncements();
    if (follow) toBottom();
    else if (fresh) newActivity.hidden = false;
    follow = fresh = false;
  }

  function onChange(change) {
    if (change.type === 'conversations' || change.type === 'caught_up') {
      if (change.type === 'conversations') payersChanged();
      offerEarlier();
      schedule();
      return renderHead();
    }
    if ((change.type === 'cleared' || change.type === 'narrowed') && change.conversationId === id) {
      offerEarlier();
      renderHead();
      follow = true;
      if (store.session.caughtUp) announce(announcement(change.event));
      return schedule();
    }
    if (change.type === 'balances' && change.conversationId === id) return renderStrip();
    if (change.type === 'typing' && change.conversationId === id) {
      typingLine.textContent = t('thread.typing', { who: change.who || t('thread.your_bank_title') });
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingLine.hidden = true; }, 6000);
      return;
    }
    if (change.type !== 'event' || change.conversationId !== id) return;
    const e = change.event;
    if (e.author === 'agent') typingLine.hidden = true;
    if (e.type === 'balance.updated' && awaitingBalance) {
      awaitingBalance = null;
      requestStatus.hidden = true;
      balanceAsked = true;
    }
    if (!change.history) {
      if (stuck || e.author === 'customer') follow = true;
      else fresh = true;
      if (store.session.caughtUp && e.author !== 'customer' && ANNOUNCED.has(e.type)) announce(announcement(e));
    }
    schedule();
  }

  function updateSend() {
    send.disabled = sending || input.disabled || !input.value.trim();
  }
  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }
  input.addEventListener('input', () => {
    updateSend();
    autosize();
    // The bank's person sees "typing", at most every three seconds.
    if (input.value && Date.now() - sentTypingAt > 3000) {
      sentTypingAt = Date.now();
      api('POST', `/conversations/${encodeURIComponent(id)}/typing`, {}).catch(() => {});
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || sending || input.disabled) return;
    sending = true;
    sendError.hidden = true;
    updateSend();
    try {
      // The message shows when it comes back over the socket, with its seq.
      await api('POST', `/conversations/${encodeURIComponent(id)}/messages`, { text });
      input.value = '';
      autosize();
      stuck = true;
    } catch (err) {
      sendError.textContent = err.message;
      sendError.hidden = false;
    } finally {
      sending = false;
      updateSend();
      input.focus();
    }
  });

  renderHead();
  loadBrands().then(renderHead); // the bank's colour and logo, once known
  render();
  offerEarlier();
  // Which banks can pay decides the buttons on requests, and whether this
  // bank takes requests for money.
  function payersChanged() {
    loadPayers().then(() => {
      askItem.hidden = !canAsk(id);
      schedule();
    });
  }
  payersChanged();
  const unsubscribe = store.subscribe(onChange);
  // Keep "updated 2 min ago" and "Today" true, and close alerts whose time is up.
  const ticker = setInterval(render, 30000);
  requestAnimationFrame(() => { if (!(focusSeq && search.reveal(focusSeq))) toBottom(); });

  return {
    el,
    // On a phone, focusing the composer would open the keyboard over the thread.
    focus: () => (input.disabled || !matchMedia('(min-width: 900px)').matches ? scroller : input).focus({ preventScroll: true }),
    destroy() {
      unsubscribe();
      clearInterval(ticker);
      watcher.disconnect();
      search.destroy();
    },
  };
}

// balancesCard is a day's one balance card: each account's newest balance
// that day, where the day's last one arrived.
function balancesCard(item, today) {
  const last = item.events.reduce((a, b) => (b.seq > a.seq ? b : a));
  return h('li', { class: 'card balance-card', testid: 'balance-card', 'data-seq': item.seq, 'data-day': item.day },
    h('p', {}, h('strong', {}, t(today ? 'event.balances.today' : 'event.balances.end_of_day'))),
    h('ul', { class: 'balance-lines' }, item.events.map((e) => {
      const d = e.data || {};
      return h('li', { class: 'balance-line' },
        h('span', {}, d.account_name || t('thread.account'), d.mask ? ` ${mask(d.mask)}` : ''),
        h('span', { class: 'balance-line-amount' }, t('event.balance.available', { amount: formatMoney(d.available) })));
    })),
    h('time', { class: 'card-time', datetime: last.occurred_at }, t('event.updated', { time: cardTime(last.occurred_at) })));
}

// replyButton is a quick reply or a button that answers the bank's
// message at seq.
function replyButton(seq, r, cls) {
  return h('button', {
    type: 'button', class: cls, 'data-action': 'reply', 'data-reply-to': seq, 'data-payload': r.payload || '', 'data-label': r.label,
  }, r.label);
}

// renderEvent draws one event. With conversationId, cards that can be acted
// on (fraud alerts, cards, buttons) are live; without, they are read-only.
// A message's quick replies are not drawn here: while they wait for an
// answer, the thread keeps them above the composer.
// names (accounts.js) names each card by its account, as the balances do.
export function renderEvent(e, { conversationId = null, names = NO_NAMES } = {}) {
  const d = e.data || {};
  const when = h('time', { class: 'card-time', datetime: e.occurred_at }, cardTime(e.occurred_at));
  switch (e.type) {
    case 'transaction.posted': {
      const pending = d.status === 'pending';
      const credit = d.direction === 'credit';
      const meta = [categoryLabel(d.merchant), d.merchant?.city, d.card_last4 && cardName(d.card_last4, names.account(d.account_id) || names.card(d.card_last4))].filter(Boolean).join(' · ');
      return h('li', { class: 'card txn', testid: 'txn-card', 'data-seq': e.seq, 'data-status': pending ? 'pending' : 'posted' },
        h('div', { class: 'txn-main' },
          h('p', { class: 'txn-title' }, transactionTitle(d)),
          meta && h('p', { class: 'txn-meta muted' }, meta),
          when),
        h('div', { class: 'txn-side' },
          h('p', { class: `amount ${credit ? 'credit' : 'debit'}` },
            h('span', { class: 'sr-only' }, `${t(credit ? 'event.money_in' : 'event.money_out')} `),
            formatMoney(d.amount, credit ? 'credit' : 'debit')),
          pending && h('span', { class: 'pill', testid: 'pending-pill' }, t('event.pending'))),
      );
    }
    case 'balance.updated':
      return h('li', { class: 'card balance-card', testid: 'balance-card', 'data-seq': e.seq },
        h('p', {}, h('strong', {}, t('event.balance.updated')), ` · ${d.account_name || t('thread.account')}`, d.mask ? ` ${mask(d.mask)}` : ''),
        h('p', { class: 'muted' }, t('event.balance.line', { available: formatMoney(d.available), current: formatMoney(d.current) })),
        when);
    case 'message':
    case 'customer.message': {
      const mine = e.author === 'customer' || e.type === 'customer.message';
      const live = conversationId && !mine;
      const buttons = (d.buttons || []).map((b) => (b.url
        ? h('a', { class: 'button message-button', href: b.url, target: '_blank', rel: 'noopener noreferrer' }, b.label)
        : live && replyButton(e.seq, b, 'button message-button')));
      return h('li', { class: `bubble ${mine ? 'mine' : 'bank'}`, testid: 'message-bubble', 'data-seq': e.seq, 'data-author': mine ? 'customer' : e.author === 'agent' ? 'agent' : 'institution' },
        e.author === 'agent' && d.agent && h('p', { class: 'bubble-from' }, d.agent),
        h('p', { class: 'bubble-text' }, String(d.text ?? '')),
        buttons.some(Boolean) && h('div', { class: 'message-buttons' }, buttons),
        when);
    }
    case 'customer.request':
      return h('li', { class: 'bubble mine request', testid: 'request-bubble', 'data-seq': e.seq, 'data-author': 'customer', 'data-kind': d.kind },
        h('p', { class: 'bubble-text' }, requestWords(d.kind) || t('event.a_request')),
        when);
    case 'fraud.response':
      return h('li', { class: 'bubble mine', testid: 'answer-bubble', 'data-seq': e.seq, 'data-author': 'customer' },
        h('p', { class: 'bubble-text' }, actionLabel(d.action, d.label)),
        when);
    case 'card.action':
      return h('li', { class: 'bubble mine', testid: 'card-action-bubble', 'data-seq': e.seq, 'data-author': 'customer' },
        h('p', { class: 'bubble-text' }, actionLabel(d.action, d.label)),
        when);
    case 'payment.request':
    case 'payment.authorize':
    case 'payment.ask':
    case 'payment.status':
      return renderPayment(e, { conversationId, when });
    case 'card.status':
      return cardStatusCard(e, conversationId ? store.answerTo(conversationId, e.seq) : null, Boolean(conversationId), when);
    case 'fraud.alert':
      return fraudCard(e, conversationId ? store.answerTo(conversationId, e.seq) : null, Boolean(conversationId), when, names);
    case 'rating.request': {
      const answer = conversationId ? store.answerTo(conversationId, e.seq) : null;
      return h('li', { class: 'card rating', testid: 'rating-card', 'data-seq': e.seq, 'data-state': answer ? 'rated' : 'open' },
        h('p', { class: 'txn-title' }, ratingQuestion(d.agent)),
        answer
          ? h('p', { testid: 'rating-thanks' }, t('event.rating.thanks', { score: answer.data?.score }))
          : conversationId && [
            h('label', { class: 'sr-only', for: `rating-comment-${e.seq}` }, t('event.rating.comment')),
            h('textarea', { id: `rating-comment-${e.seq}`, rows: '2', placeholder: t('event.rating.comment'), testid: 'rating-comment' }),
            h('div', { class: 'alert-actions', role: 'group', 'aria-label': t('event.rating.group') },
              [1, 2, 3, 4, 5].map((n) => h('button', { type: 'button', class: 'button', 'data-action': 'rate', 'data-score': n, testid: `rate-${n}`, 'aria-label': t('event.rating.stars', { score: n }) }, '★'.repeat(n)))),
          ],
        when);
    }
    case 'rating':
      return h('li', { class: 'bubble mine', testid: 'rating-bubble', 'data-seq': e.seq, 'data-author': 'customer' },
        h('p', { class: 'bubble-text' }, `${'★'.repeat(d.score || 0)}${d.comment ? ` ${d.comment}` : ''}`),
        when);
    case 'receipt': {
      const row = (label, money, cls) => money && h('div', { class: `receipt-row ${cls || ''}` }, h('span', {}, label), h('span', {}, formatMoney(money)));
      return h('li', { class: 'card receipt', testid: 'receipt-card', 'data-seq': e.seq },
        h('p', { class: 'txn-title' }, d.merchant?.name || t('event.receipt.title')),
        h('p', { class: 'muted' }, t('event.order', { number: d.order_number })),
        h('ul', { class: 'receipt-items' }, (d.items || []).map((it) =>
          h('li', { class: 'receipt-row' }, h('span', {}, `${it.quantity} × ${it.name}`), h('span', {}, formatMoney(it.total))))),
        row(t('event.receipt.subtotal'), d.subtotal), row(t('event.receipt.shipping'), d.shipping), row(t('event.receipt.tax'), d.tax),
        row(t('event.receipt.total'), d.total, 'receipt-total'),
        h('p', { class: 'muted' }, t('event.receipt.paid_with', { brand: d.payment?.brand || t('event.receipt.card'), mask: mask(d.payment?.last4 || '') }),
          d.address ? ` · ${t('event.receipt.ships_to', { address: d.address })}` : ''),
        when);
    }
    case 'shipment.updated': {
      const steps = (d.timeline || []).slice().sort((a, b) => String(b.at).localeCompare(String(a.at)));
      return h('li', { class: 'card shipment', testid: 'shipment-card', 'data-seq': e.seq, 'data-shipment': d.shipment_id, 'data-status': d.status },
        h('p', { class: 'txn-title' }, `${d.carrier} · ${d.tracking_number}`),
        h('p', {}, h('span', { class: `pill shipment-${d.status}` }, shipmentWords(d.status)),
          d.estimated_delivery && d.status !== 'delivered' ? ` ${t('event.shipment.expected', { date: longDate(d.estimated_delivery) })}` : ''),
        steps.length > 0 && h('ol', { class: 'shipment-timeline' }, steps.map((s) =>
          h('li', {}, h('span', {}, s.description), h('span', { class: 'muted' }, [cardTime(s.at), s.location].filter(Boolean).join(' · '))))),
        when);
    }
    case 'agent.joined':
      return h('li', { class: 'notice', testid: 'agent-joined', 'data-seq': e.seq },
        h('p', {}, t('event.agent_joined', { agent: d.agent || t('event.someone_from_bank') })), when);
    case 'agent.left':
      return h('li', { class: 'notice', testid: 'agent-left', 'data-seq': e.seq },
        h('p', {}, t('event.agent_left', { agent: d.agent || t('event.bank_person') })), when);
    case 'history.cleared':
      return h('li', { class: 'notice', testid: 'cleared-notice', 'data-seq': e.seq },
        h('p', {}, t(d.everything ? 'event.cleared.everything' : 'event.cleared.conversation')),
        h('p', { class: 'muted' }, t('event.cleared.note')),
        when);
    case 'link.narrowed':
      return h('li', { class: 'notice', testid: 'narrowed-notice', 'data-seq': e.seq },
        h('p', {}, t('event.narrowed', { scopes: (d.removed || []).map(scopeWords).join(', ') })),
        h('p', { class: 'muted' }, t('event.narrowed.note')),
        when);
    case 'link.expiring':
      return h('li', { class: 'notice', testid: 'expiring-notice', 'data-seq': e.seq },
        h('p', {}, t('event.expiring', { date: longDate(d.expires_at) })),
        h('p', { class: 'muted' }, t('event.expiring.note')),
        h('button', { type: 'button', class: 'button', testid: 'notice-renew', 'data-action': 'renew' }, t('thread.renew_90')),
        when);
    case 'link.expired':
      return h('li', { class: 'notice', testid: 'expired-notice', 'data-seq': e.seq },
        h('p', {}, t('event.expired')),
        h('p', { class: 'muted' }, t('event.expired.note')),
        when);
    case 'link.revoked': {
      const byBank = d.ended_by === 'institution';
      return h('li', { class: 'notice', testid: 'revoked-notice', 'data-seq': e.seq },
        h('p', {}, t(byBank ? 'event.revoked.by_bank' : 'event.revoked')),
        h('p', { class: 'muted' }, t('event.revoked.note')),
        when);
    }
    default:
      return h('li', { class: 'card unknown muted', 'data-seq': e.seq }, t('event.unknown'), when);
  }
}

// fraudCard asks "Is this you?" about one payment, with the bank's answers
// as buttons until the customer answers or the alert expires; then it says
// what was answered, by whom and when.
function fraudCard(e, answer, live, when, names) {
  const d = e.data || {};
  const txn = d.transaction || {};
  const expired = !answer && d.expires_at && new Date(d.expires_at) <= new Date();
  const state = answer ? 'answered' : expired ? 'expired' : 'open';
  const where = [txn.merchant?.city, txn.merchant?.country].filter(Boolean).join(', ');
  let footer;
  if (answer) {
    footer = h('p', { class: 'alert-answer', testid: 'alert-answer' },
      t('event.fraud.answered', { answer: actionLabel(answer.data?.action, answer.data?.label), time: cardTime(answer.data?.answered_at || answer.occurred_at) }));
  } else if (expired) {
    footer = h('p', { class: 'muted', testid: 'alert-expired' },
      t('event.fraud.expired', { time: cardTime(d.expires_at) }));
  } else {
    footer = [
      live && h('div', { class: 'alert-actions' }, (d.actions || []).map((a) => h('button', {
        type: 'button', class: `button ${a.style === 'danger' ? 'danger' : a.style === 'primary' ? 'primary' : ''}`,
        'data-action': 'answer', 'data-choice': a.id, testid: `alert-action-${a.id}`,
      }, actionLabel(a.id, a.label)))),
      d.expires_at && h('p', { class: 'muted alert-expiry' }, t('event.fraud.answer_by', { time: cardTime(d.expires_at) })),
    ];
  }
  return h('li', { class: `card fraud fraud-${state}`, testid: 'fraud-card', 'data-seq': e.seq, 'data-state': state, 'aria-label': t('event.fraud.label') },
    h('p', { class: 'fraud-title' }, t('event.fraud.title')),
    h('div', { class: 'txn' },
      h('div', { class: 'txn-main' },
        h('p', { class: 'txn-title' }, txn.merchant?.name || transactionTitle({})),
        h('p', { class: 'txn-meta muted' }, [where, txn.card_last4 && cardName(txn.card_last4, names.account(txn.account_id) || names.card(txn.card_last4)), txn.at && cardTime(txn.at)].filter(Boolean).join(' · '))),
      h('p', { class: 'amount debit' }, formatMoney(txn.amount, 'debit'))),
    d.reason && h('p', { class: 'fraud-reason' }, d.reason),
    footer,
    when);
}

// cardStatusCard shows where one of the customer's cards stands: locked,
// on its way, ready, closed. A status that offers actions (unlock, "it was
// me after all") has them as buttons until one is taken; then it says what
// was asked, until the bank answers with the card's new status.
function cardStatusCard(e, answer, live, when) {
  const d = e.data || {};
  const words = cardWords(d.status);
  const actions = !answer && live && d.actions?.length > 0;
  return h('li', { class: `card card-status card-${d.status}`, testid: 'card-status', 'data-seq': e.seq, 'data-card': d.card_id, 'data-status': d.status, 'data-last4': d.card_last4, 'aria-label': cardName(d.card_last4, d.account_name) },
    h('div', { class: 'txn' },
      h('div', { class: 'txn-main' },
        h('p', { class: 'txn-title' }, cardName(d.card_last4, d.account_name)),
        d.replaces_last4 && h('p', { class: 'txn-meta muted' }, t('event.card.replaces', { mask: mask(d.replaces_last4) }))),
      h('span', { class: `pill card-pill card-pill-${d.status}`, testid: 'card-status-words' }, capital(words))),
    d.status === 'ordered' && d.expected_by && h('p', { class: 'muted' }, t('event.card.expected_by', { date: longDate(`${d.expected_by}T12:00:00`) })),
    d.note && h('p', { class: 'card-note' }, d.note),
    actions && h('div', { class: 'alert-actions' }, d.actions.map((a) => h('button', {
      type: 'button', class: `button ${a.style === 'danger' ? 'danger' : a.style === 'primary' ? 'primary' : ''}`,
      'data-action': 'card', 'data-choice': a.id, testid: `card-action-${a.id}`,
    }, actionLabel(a.id, a.label)))),
    answer && h('p', { class: 'alert-answer', testid: 'card-answer' },
      t('event.card.chose', { answer: actionLabel(answer.data?.action, answer.data?.label), time: cardTime(answer.data?.answered_at || answer.occurred_at) })),
    when);
}
