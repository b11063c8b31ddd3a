// One bank conversation: header, balance strip, cards in seq order, the
// menu and the composer. Fraud alerts are answered and quick replies tapped
// right on their cards.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { ago, cardTime, formatMoney, longDate, mask, transactionTitle, REQUEST_WORDS, SHIPMENT_WORDS } from '../format.js';
import * as store from '../store.js';
import { avatar } from './list.js';
import { SCOPES } from './connect.js';

const SCOPE_WORDS = Object.fromEntries(SCOPES);

const NEAR_BOTTOM_PX = 48;
const RENEW_WINDOW_MS = 14 * 24 * 3600 * 1000; // offer renewal in the last 14 days

export function expiringSoon(c) {
  return c?.link?.status === 'active' && c.link.expires_at && new Date(c.link.expires_at) - Date.now() < RENEW_WINDOW_MS;
}

export function threadView({ id }) {
  const head = h('header', { class: 'pane-head thread-head' });
  const strip = h('section', { class: 'balance-strip', testid: 'balance-strip', 'aria-label': 'Balances', hidden: true });
  const cards = h('ol', { class: 'cards', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages and updates' });
  const earlier = h('button', { type: 'button', class: 'link-button earlier', testid: 'show-earlier', hidden: true }, 'Show earlier');
  const scroller = h('div', { class: 'thread-scroll', tabindex: '-1' }, strip, earlier, cards);
  const newActivity = h('button', { type: 'button', class: 'new-activity', hidden: true, testid: 'new-activity' }, 'New activity ↓');
  const input = h('textarea', {
    id: 'composer-input', rows: '1', testid: 'composer-input', placeholder: 'Write a message', autocomplete: 'off',
  });
  const send = h('button', { type: 'submit', class: 'primary', testid: 'composer-send', disabled: true }, 'Send');
  const sendError = h('p', { class: 'form-error composer-error', role: 'alert', hidden: true });
  const inputLabel = h('label', { for: input.id, class: 'sr-only' }, 'Message');
  // The persistent menu: what a customer most often wants from a bank.
  const menuButton = h('button', {
    type: 'button', class: 'menu-button', testid: 'menu-button', 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-controls': `menu-${id}`,
  }, h('span', { 'aria-hidden': 'true' }, '☰'), h('span', { class: 'sr-only' }, 'Menu'));
  const menuItem = (label, testid, onclick) => h('li', {}, h('button', { type: 'button', class: 'menu-item', testid, onclick }, label));
  const menu = h('ul', { class: 'menu', id: `menu-${id}`, testid: 'menu', hidden: true },
    menuItem('Balance', 'menu-balance', () => request('balance')),
    menuItem('Recent transactions', 'menu-transactions', () => request('recent_transactions')),
    menuItem('Talk to a person', 'menu-human', () => request('human')),
    menuItem('Privacy', 'menu-privacy', () => { location.hash = '#/privacy'; }));
  const requestStatus = h('p', { class: 'request-status muted', role: 'status', testid: 'request-status', hidden: true });
  const typingLine = h('p', { class: 'request-status muted', role: 'status', testid: 'typing', hidden: true });
  let typingTimer = 0;
  let sentTypingAt = 0;
  const composer = h('form', { class: 'composer' }, typingLine, requestStatus, sendError, menu, menuButton, inputLabel, input, send);
  const el = h('section', { class: 'main-pane thread', testid: 'thread', 'data-id': id }, head, scroller, newActivity, composer);

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

  // A menu request: the bank answers in the conversation. For a balance,
  // the last known one shows at once, with its age, until the fresh one
  // arrives.
  async function request(kind) {
    toggleMenu(false);
    showError('');
    const name = store.conversation(id)?.institution?.name || 'your bank';
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
            ? `Showing your last known balance. Asking ${name} for a fresh one…`
            : `Asking ${name} for your balance…`;
          requestStatus.hidden = false;
          setTimeout(() => {
            if (awaitingBalance === asked) requestStatus.textContent = `${name} hasn’t answered yet. The balance shown is the last one it sent.`;
          }, 20000);
        }
      }
      stuck = true;
    } catch (err) {
      showError(err.message);
    }
  }

  // Answers and replies, from buttons on the cards.
  async function answerAlert(card, seq, action) {
    const buttons = [...card.querySelectorAll('button[data-action="answer"]')];
    for (const b of buttons) b.disabled = true;
    card.querySelector('.card-error')?.remove();
    try {
      await api('POST', `/conversations/${encodeURIComponent(id)}/alerts/${seq}/answer`, { action });
      // The answer shows on the card when it comes back over the socket.
    } catch (err) {
      for (const b of buttons) b.disabled = false;
      card.append(h('p', { class: 'form-error card-error', role: 'alert' }, err.message));
      if (err.code === 'alert_expired' || err.code === 'already_answered') for (const b of buttons) b.disabled = true;
    }
  }
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

  // Quick replies belong to the newest message: once anything follows it,
  // they are no longer the question being asked.
  function refreshQuickReplies() {
    const all = [...cards.children];
    const last = all[all.length - 1];
    for (const card of all) {
      const chips = card.querySelector('.quick-replies');
      if (chips) chips.hidden = card !== last;
    }
  }

  function rerender(seq) {
    const old = cards.querySelector(`[data-seq="${seq}"]`);
    const e = store.visibleEvents(id).find((x) => x.seq === Number(seq));
    if (old && e) old.replaceWith(renderEvent(e, { conversationId: id }));
  }
  function refreshAlerts() {
    for (const card of cards.querySelectorAll('[data-testid="fraud-card"][data-state="open"]')) rerender(card.dataset.seq);
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
  // Buttons inside notices (renew) act on this conversation's link.
  cards.addEventListener('click', (e) => {
    const target = e.target.closest?.('[data-action]');
    if (!target || target.disabled) return;
    if (target.dataset.action === 'renew') renew();
    if (target.dataset.action === 'answer') answerAlert(target.closest('[data-seq]'), target.closest('[data-seq]').dataset.seq, target.dataset.choice);
    if (target.dataset.action === 'reply') reply(target);
    if (target.dataset.action === 'rate') rate(target.closest('[data-seq]'), Number(target.dataset.score));
  });

  function renderHead() {
    const c = store.conversation(id);
    const name = c?.institution?.name || 'Your bank';
    const status = c?.link?.status || '';
    const dead = status === 'revoked' || status === 'expired';
    let statusText = { active: 'Connected', revoked: 'Disconnected', expired: 'Access expired' }[status] || status;
    if (status === 'active' && c.link.expires_at) statusText += ` · until ${longDate(c.link.expires_at)}`;
    if (!c) statusText = store.session.caughtUp ? 'This conversation wasn’t found.' : 'Loading…';
    clear(head,
      h('a', { href: '#/', class: 'back', 'aria-label': 'Back to conversations' }, '‹'),
      avatar(name),
      h('div', { class: 'thread-title' },
        h('h1', {}, name),
        h('p', { class: `link-status ${dead ? 'dead' : ''}`, testid: 'link-status' }, statusText)),
      (status === 'expired' || expiringSoon(c)) &&
        h('button', { type: 'button', class: 'link-button', testid: 'renew', onclick: renew }, 'Renew for 90 days'),
      status === 'active' && !confirming &&
        h('button', { type: 'button', class: 'link-button', testid: 'disconnect', onclick: () => { confirming = true; renderHead(); } }, 'Disconnect'),
    );
    if (revokeError && !confirming) head.append(h('p', { class: 'form-error', role: 'alert' }, revokeError));
    if (status === 'active' && confirming) {
      head.append(h('div', { class: 'confirm', role: 'alertdialog', 'aria-label': `Disconnect ${name}` },
        h('p', {}, `Disconnect ${name}? Its balances and transactions will be deleted from OpenTeller, and it can no longer send you anything here.`),
        revokeError && h('p', { class: 'form-error', role: 'alert' }, revokeError),
        h('div', { class: 'confirm-actions' },
          h('button', { type: 'button', class: 'danger', testid: 'disconnect-confirm', onclick: revoke }, 'Disconnect'),
          h('button', { type: 'button', class: 'link-button', onclick: () => { confirming = false; revokeError = ''; renderHead(); } }, 'Cancel'))));
    }
    input.disabled = dead || !c;
    menuButton.disabled = dead || !c;
    if (menuButton.disabled) toggleMenu(false);
    input.placeholder = dead ? 'This bank is no longer connected' : `Message ${name}`;
    inputLabel.textContent = `Message ${name}`;
    updateSend();
  }

  function renderStrip() {
    const balances = store.latestBalances(id);
    strip.hidden = balances.length === 0;
    clear(strip, balances.map((e) => {
      const d = e.data;
      return h('div', { class: 'balance', 'data-account': d.account_id },
        h('p', { class: 'balance-name' }, d.account_name || 'Account', d.mask ? h('span', { class: 'mask' }, ` ${mask(d.mask)}`) : null),
        h('p', { class: 'balance-available' }, formatMoney(d.available), h('span', { class: 'muted' }, ' available')),
        h('p', { class: 'balance-meta muted' }, `Current ${formatMoney(d.current)} · updated ${ago(e.occurred_at)}`),
      );
    }));
  }

  function insert(event) {
    if (store.isReplaced(id, event.seq) || cards.querySelector(`[data-seq="${event.seq}"]`)) return;
    const card = renderEvent(event, { conversationId: id });
    const after = [...cards.children].find((c) => Number(c.dataset.seq) > event.seq);
    cards.insertBefore(card, after || null);
    refreshQuickReplies();
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
      scroller.scrollTop += scroller.scrollHeight - before;
      earlier.hidden = !res.more;
    } catch (err) {
      sendError.textContent = err.message;
      sendError.hidden = false;
    } finally {
      earlier.disabled = false;
    }
  });

  function onChange(change) {
    if (change.type === 'conversations' || change.type === 'caught_up') {
      offerEarlier();
      return renderHead();
    }
    if (change.type === 'cleared' && change.conversationId === id) {
      for (const card of [...cards.children]) if (Number(card.dataset.seq) < change.event.seq) card.remove();
      insert(change.event);
      offerEarlier();
      renderStrip();
      renderHead();
      return toBottom();
    }
    if (change.type === 'narrowed' && change.conversationId === id) {
      for (const seq of change.removedSeqs) cards.querySelector(`[data-seq="${seq}"]`)?.remove();
      insert(change.event);
      renderStrip();
      return toBottom();
    }
    if (change.type === 'balances' && change.conversationId === id) return renderStrip();
    if (change.type === 'typing' && change.conversationId === id) {
      typingLine.textContent = `${change.who || 'Your bank'} is typing…`;
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingLine.hidden = true; }, 6000);
      return;
    }
    if (change.type !== 'event' || change.conversationId !== id) return;
    if (change.event.author === 'agent') typingLine.hidden = true;
    if (change.event.type === 'fraud.response') rerender(change.event.data?.alert_seq);
    if (change.event.type === 'rating') rerender(change.event.data?.request_seq);
    if (change.event.type === 'balance.updated' && awaitingBalance) {
      awaitingBalance = null;
      requestStatus.hidden = true;
    }
    if (change.history) {
      insert(change.event);
      return;
    }
    const wasStuck = stuck;
    if (change.replaces != null) cards.querySelector(`[data-seq="${change.replaces}"]`)?.remove();
    insert(change.event);
    if (change.event.type === 'balance.updated' || change.replaces != null) renderStrip();
    if (wasStuck || change.event.author === 'customer') toBottom();
    else newActivity.hidden = false;
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
  for (const e of store.visibleEvents(id)) insert(e);
  renderStrip();
  offerEarlier();
  const unsubscribe = store.subscribe(onChange);
  // Keep "updated 2 min ago" true, and close alerts whose time is up.
  const ticker = setInterval(() => { renderStrip(); refreshAlerts(); }, 30000);
  requestAnimationFrame(toBottom);

  return {
    el,
    // On a phone, focusing the composer would open the keyboard over the thread.
    focus: () => (input.disabled || !matchMedia('(min-width: 900px)').matches ? scroller : input).focus({ preventScroll: true }),
    destroy() {
      unsubscribe();
      clearInterval(ticker);
    },
  };
}

// renderEvent draws one event. With conversationId, cards that can be acted
// on (fraud alerts, quick replies) are live; without, they are read-only.
export function renderEvent(e, { conversationId = null } = {}) {
  const d = e.data || {};
  const when = h('time', { class: 'card-time', datetime: e.occurred_at }, cardTime(e.occurred_at));
  switch (e.type) {
    case 'transaction.posted': {
      const pending = d.status === 'pending';
      const credit = d.direction === 'credit';
      const meta = [d.merchant?.category, d.merchant?.city, d.card_last4 && `Card ${mask(d.card_last4)}`].filter(Boolean).join(' · ');
      return h('li', { class: 'card txn', testid: 'txn-card', 'data-seq': e.seq, 'data-status': pending ? 'pending' : 'posted' },
        h('div', { class: 'txn-main' },
          h('p', { class: 'txn-title' }, transactionTitle(d)),
          meta && h('p', { class: 'txn-meta muted' }, meta),
          when),
        h('div', { class: 'txn-side' },
          h('p', { class: `amount ${credit ? 'credit' : 'debit'}` },
            h('span', { class: 'sr-only' }, credit ? 'Money in: ' : 'Money out: '),
            formatMoney(d.amount, credit ? 'credit' : 'debit')),
          pending && h('span', { class: 'pill', testid: 'pending-pill' }, 'Pending')),
      );
    }
    case 'balance.updated':
      return h('li', { class: 'card balance-card', testid: 'balance-card', 'data-seq': e.seq },
        h('p', {}, h('strong', {}, 'Balance updated'), ` · ${d.account_name || 'Account'}`, d.mask ? ` ${mask(d.mask)}` : ''),
        h('p', { class: 'muted' }, `${formatMoney(d.available)} available · ${formatMoney(d.current)} current`),
        when);
    case 'message':
    case 'customer.message': {
      const mine = e.author === 'customer' || e.type === 'customer.message';
      const live = conversationId && !mine;
      const replyButton = (r, cls) => h('button', {
        type: 'button', class: cls, 'data-action': 'reply', 'data-reply-to': e.seq, 'data-payload': r.payload || '', 'data-label': r.label,
      }, r.label);
      const buttons = (d.buttons || []).map((b) => (b.url
        ? h('a', { class: 'button message-button', href: b.url, target: '_blank', rel: 'noopener noreferrer' }, b.label)
        : live && replyButton(b, 'button message-button')));
      return h('li', { class: `bubble ${mine ? 'mine' : 'bank'}`, testid: 'message-bubble', 'data-seq': e.seq, 'data-author': mine ? 'customer' : e.author === 'agent' ? 'agent' : 'institution' },
        e.author === 'agent' && d.agent && h('p', { class: 'bubble-from' }, d.agent),
        h('p', { class: 'bubble-text' }, String(d.text ?? '')),
        buttons.some(Boolean) && h('div', { class: 'message-buttons' }, buttons),
        live && d.quick_replies?.length > 0 &&
          h('div', { class: 'quick-replies', role: 'group', 'aria-label': 'Quick replies', testid: 'quick-replies' },
            d.quick_replies.map((r) => replyButton(r, 'chip'))),
        when);
    }
    case 'customer.request':
      return h('li', { class: 'bubble mine request', testid: 'request-bubble', 'data-seq': e.seq, 'data-author': 'customer', 'data-kind': d.kind },
        h('p', { class: 'bubble-text' }, REQUEST_WORDS[d.kind] || 'A request'),
        when);
    case 'fraud.response':
      return h('li', { class: 'bubble mine', testid: 'answer-bubble', 'data-seq': e.seq, 'data-author': 'customer' },
        h('p', { class: 'bubble-text' }, d.label || d.action),
        when);
    case 'fraud.alert':
      return fraudCard(e, conversationId ? store.answerTo(conversationId, e.seq) : null, Boolean(conversationId), when);
    case 'rating.request': {
      const answer = conversationId ? store.answerTo(conversationId, e.seq) : null;
      const who = d.agent || 'our team';
      return h('li', { class: 'card rating', testid: 'rating-card', 'data-seq': e.seq, 'data-state': answer ? 'rated' : 'open' },
        h('p', { class: 'txn-title' }, `How did ${who} do?`),
        answer
          ? h('p', { testid: 'rating-thanks' }, `You rated ${answer.data?.score}/5. Thank you.`)
          : conversationId && [
            h('label', { class: 'sr-only', for: `rating-comment-${e.seq}` }, 'A comment, if you like'),
            h('textarea', { id: `rating-comment-${e.seq}`, rows: '2', placeholder: 'A comment, if you like', testid: 'rating-comment' }),
            h('div', { class: 'alert-actions', role: 'group', 'aria-label': 'Your rating, 1 to 5' },
              [1, 2, 3, 4, 5].map((n) => h('button', { type: 'button', class: 'button', 'data-action': 'rate', 'data-score': n, testid: `rate-${n}`, 'aria-label': `${n} of 5` }, '★'.repeat(n)))),
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
        h('p', { class: 'txn-title' }, d.merchant?.name || 'Receipt'),
        h('p', { class: 'muted' }, `Order ${d.order_number}`),
        h('ul', { class: 'receipt-items' }, (d.items || []).map((it) =>
          h('li', { class: 'receipt-row' }, h('span', {}, `${it.quantity} × ${it.name}`), h('span', {}, formatMoney(it.total))))),
        row('Subtotal', d.subtotal), row('Shipping', d.shipping), row('Tax', d.tax), row('Total', d.total, 'receipt-total'),
        h('p', { class: 'muted' }, `Paid with ${d.payment?.brand || 'card'} ${mask(d.payment?.last4 || '')}`, d.address ? ` · Ships to ${d.address}` : ''),
        when);
    }
    case 'shipment.updated': {
      const steps = (d.timeline || []).slice().sort((a, b) => String(b.at).localeCompare(String(a.at)));
      return h('li', { class: 'card shipment', testid: 'shipment-card', 'data-seq': e.seq, 'data-shipment': d.shipment_id, 'data-status': d.status },
        h('p', { class: 'txn-title' }, `${d.carrier} · ${d.tracking_number}`),
        h('p', {}, h('span', { class: `pill shipment-${d.status}` }, SHIPMENT_WORDS[d.status] || d.status),
          d.estimated_delivery && d.status !== 'delivered' ? ` Expected ${longDate(d.estimated_delivery)}` : ''),
        steps.length > 0 && h('ol', { class: 'shipment-timeline' }, steps.map((s) =>
          h('li', {}, h('span', {}, s.description), h('span', { class: 'muted' }, [cardTime(s.at), s.location].filter(Boolean).join(' · '))))),
        when);
    }
    case 'agent.joined':
      return h('li', { class: 'notice', testid: 'agent-joined', 'data-seq': e.seq, role: 'status' },
        h('p', {}, `${d.agent || 'Someone from your bank'} joined the conversation.`), when);
    case 'agent.left':
      return h('li', { class: 'notice', testid: 'agent-left', 'data-seq': e.seq, role: 'status' },
        h('p', {}, `${d.agent || 'Your bank’s person'} handed you back to the bank’s assistant.`), when);
    case 'history.cleared':
      return h('li', { class: 'notice', testid: 'cleared-notice', 'data-seq': e.seq, role: 'status' },
        h('p', {}, d.everything ? 'You cleared all your history on OpenTeller.' : 'You cleared this conversation’s history.'),
        h('p', { class: 'muted' }, 'Everything before this was deleted for good, with the key that protected it.'),
        when);
    case 'link.narrowed':
      return h('li', { class: 'notice', testid: 'narrowed-notice', 'data-seq': e.seq, role: 'status' },
        h('p', {}, `You stopped sharing: ${(d.removed || []).map((s) => SCOPE_WORDS[s] || s).join(', ')}.`),
        h('p', { class: 'muted' }, 'What the bank had sent under it was deleted from OpenTeller.'),
        when);
    case 'link.expiring':
      return h('li', { class: 'notice', testid: 'expiring-notice', 'data-seq': e.seq, role: 'status' },
        h('p', {}, `This connection ends on ${longDate(d.expires_at)}, as you chose.`),
        h('p', { class: 'muted' }, 'Renew it to keep getting updates here without a gap, or let it end: what the bank sent is then deleted.'),
        h('button', { type: 'button', class: 'button', testid: 'notice-renew', 'data-action': 'renew' }, 'Renew for 90 days'),
        when);
    case 'link.expired':
      return h('li', { class: 'notice', testid: 'expired-notice', 'data-seq': e.seq, role: 'status' },
        h('p', {}, 'This connection ended, as you chose when you made it.'),
        h('p', { class: 'muted' }, 'What the bank had sent was deleted from OpenTeller. Renew to let it send you updates again.'),
        when);
    case 'link.revoked': {
      const byBank = d.ended_by === 'institution';
      return h('li', { class: 'notice', testid: 'revoked-notice', 'data-seq': e.seq, role: 'status' },
        h('p', {}, byBank ? 'The bank ended this connection.' : 'You disconnected this bank.'),
        h('p', { class: 'muted' }, 'Its balances and transactions were deleted from OpenTeller. Nothing more will arrive here unless you connect again.'),
        when);
    }
    default:
      return h('li', { class: 'card unknown muted', 'data-seq': e.seq }, 'An update this version of OpenTeller can’t show yet.', when);
  }
}

// fraudCard asks "Is this you?" about one payment, with the bank's answers
// as buttons until the customer answers or the alert expires; then it says
// what was answered, by whom and when.
function fraudCard(e, answer, live, when) {
  const d = e.data || {};
  const t = d.transaction || {};
  const expired = !answer && d.expires_at && new Date(d.expires_at) <= new Date();
  const state = answer ? 'answered' : expired ? 'expired' : 'open';
  const where = [t.merchant?.city, t.merchant?.country].filter(Boolean).join(', ');
  let footer;
  if (answer) {
    footer = h('p', { class: 'alert-answer', testid: 'alert-answer' },
      `You answered “${answer.data?.label || answer.data?.action}” · ${cardTime(answer.data?.answered_at || answer.occurred_at)}`);
  } else if (expired) {
    footer = h('p', { class: 'muted', testid: 'alert-expired' },
      `This alert expired at ${cardTime(d.expires_at)}. If you don’t recognise the payment, call the number on the back of your card.`);
  } else {
    footer = [
      live && h('div', { class: 'alert-actions' }, (d.actions || []).map((a) => h('button', {
        type: 'button', class: `button ${a.style === 'danger' ? 'danger' : a.style === 'primary' ? 'primary' : ''}`,
        'data-action': 'answer', 'data-choice': a.id, testid: `alert-action-${a.id}`,
      }, a.label))),
      d.expires_at && h('p', { class: 'muted alert-expiry' }, `Answer by ${cardTime(d.expires_at)}`),
    ];
  }
  return h('li', { class: `card fraud fraud-${state}`, testid: 'fraud-card', 'data-seq': e.seq, 'data-state': state, role: 'group', 'aria-label': 'Fraud alert' },
    h('p', { class: 'fraud-title' }, 'Is this you?'),
    h('div', { class: 'txn' },
      h('div', { class: 'txn-main' },
        h('p', { class: 'txn-title' }, t.merchant?.name || 'Card payment'),
        h('p', { class: 'txn-meta muted' }, [where, t.card_last4 && `Card ${mask(t.card_last4)}`, t.at && cardTime(t.at)].filter(Boolean).join(' · '))),
      h('p', { class: 'amount debit' }, formatMoney(t.amount, 'debit'))),
    d.reason && h('p', { class: 'fraud-reason' }, d.reason),
    footer,
    when);
}
