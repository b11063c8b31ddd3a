// Payments in a thread: a request to pay, answered with one tap on "Pay
// with <bank>" (the bank that asked, or, when a merchant asks, one of the
// customer's banks that let them pay here); the payment handed to a bank;
// the customer's own request for money from someone else; and the form
// that makes one. Each is one card per payment, showing its newest status
// (payment.status events fold into it, timeline.js). The platform moves no
// money: these cards say what the banks said.
import { h } from '../dom.js';
import { api } from '../api.js';
import { cardTime, formatMoney, intl, paymentWords } from '../format.js';
import { t } from '../i18n.js';
import * as store from '../store.js';

// The customer's banks that can pay, from /app/api/payers; null until
// loaded. Shared by every thread: it changes when a bank is connected,
// disconnected or narrowed.
let payers = null;
let loading = null;

export function loadPayers() {
  if (!loading) {
    loading = api('GET', '/payers')
      .then((res) => { payers = res.payers || []; })
      .catch(() => { payers = payers || []; })
      .finally(() => { loading = null; });
  }
  return loading;
}

// payerKey changes when the payers do, so cards offering them redraw.
export function payerKey() {
  return payers ? payers.map((p) => p.institution_id).join(',') : 'loading';
}

// canAsk says whether the customer can ask someone to pay them through
// the bank of this conversation: a bank that lets them pay here.
export function canAsk(conversationId) {
  return Boolean(payers?.some((p) => p.conversation_id === conversationId));
}

// payersFor are the banks that can pay a request in the conversation of
// institution: that bank itself when it is one of them, else every bank
// that can pay (a merchant asked).
function payersFor(institutionId) {
  if (!payers) return null;
  const own = payers.filter((p) => p.institution_id === institutionId);
  return own.length ? own : payers;
}

// paymentState is where a payment stands: a status the bank posted, else
// the customer's tap, else open or expired.
function paymentState(status, answered, expiresAt) {
  if (status) return status.data?.status;
  if (answered) return 'authorized';
  if (expiresAt && new Date(expiresAt) <= new Date()) return 'expired';
  return 'open';
}

// paymentVersion changes whenever the card of e must be drawn again.
export function paymentVersion(conversationId, e) {
  const status = store.paymentStatus(conversationId, e.data?.payment_id);
  const answer = store.answerTo(conversationId, e.seq);
  const expired = e.data?.expires_at && new Date(e.data.expires_at) <= new Date();
  return [status?.seq || '', answer?.seq || '', expired ? 'x' : '', e.type === 'payment.request' && !answer && !status ? payerKey() : ''].join(':');
}

// payLabel is what the customer tapped on a request to pay: the platform
// makes those buttons ("Pay with Cedar Bank"), so they are said again in the
// language in use; a label of any other kind is shown as it was recorded.
function payLabel(d) {
  const bank = d?.payer?.name;
  if (bank) return t('payments.pay_with', { bank });
  return d?.label || t('summary.pay');
}

function pill(state, words) {
  return h('span', { class: `pill payment-pill payment-pill-${state}`, testid: 'payment-status-words' }, words);
}

function statusLines(status) {
  const d = status?.data || {};
  return [
    d.note && h('p', { class: 'card-note', testid: 'payment-note' }, d.note),
    status && h('p', { class: 'muted small' }, t('event.updated', { time: cardTime(status.occurred_at) })),
  ];
}

// dueTime says when something is due: the time today, else the day too
// ("tomorrow, 5:53 PM", "Mar 6, 5:53 PM").
const timeOnly = () => intl(Intl.DateTimeFormat, { hour: 'numeric', minute: '2-digit' });
const dayAndTime = () => intl(Intl.DateTimeFormat, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
function dueTime(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((day(d) - day(new Date())) / 86400000);
  if (days === 0) return timeOnly().format(d);
  if (days === 1) return t('payments.tomorrow_at', { time: timeOnly().format(d) });
  return dayAndTime().format(d);
}

function orderLines(order, reference) {
  if (!order?.items?.length) return null;
  return [
    !String(reference || '').includes(order.order_number) && h('p', { class: 'muted small' }, t('event.order', { number: order.order_number })),
    h('ul', { class: 'receipt-items' }, order.items.map((it) =>
      h('li', { class: 'receipt-row' }, h('span', {}, `${it.quantity} × ${it.name}`), h('span', {}, formatMoney(it.total))))),
  ];
}

// requestCard is a request to pay: who asks, how much, for what; the
// banks that can pay as buttons while it is open; then where it stands.
function requestCard(e, { conversationId, live, when }) {
  const d = e.data || {};
  const c = conversationId ? store.conversation(conversationId) : null;
  const name = c?.institution?.name || t('thread.your_bank_title');
  const status = conversationId ? store.paymentStatus(conversationId, d.payment_id) : null;
  const answer = conversationId ? store.answerTo(conversationId, e.seq) : null;
  const state = paymentState(status, answer, d.expires_at);
  const asker = d.payee?.name || name;
  let footer;
  if (state === 'open' && live) {
    const options = payersFor(c?.institution?.id);
    footer = [
      options === null && h('p', { class: 'muted' }, t('payments.finding')),
      options?.length === 0 && h('p', { class: 'muted', testid: 'payment-no-payer' },
        `${t('payments.no_payer')} `, h('a', { href: '#/connect' }, t('list.connect'))),
      options?.length > 0 && h('div', { class: 'alert-actions' }, options.map((p, i) => h('button', {
        type: 'button', class: `button ${i === 0 ? 'primary' : ''}`, 'data-action': 'pay', 'data-choice': p.institution_id, testid: 'pay-with',
      }, t('payments.pay_with', { bank: p.name })))),
      d.expires_at && h('p', { class: 'muted alert-expiry' }, t('payments.pay_by', { time: dueTime(d.expires_at) })),
    ];
  } else if (state === 'open') {
    footer = pill('open', paymentWords('open'));
  } else {
    const payer = answer?.data?.payer;
    const payerConversation = store.conversationWith(payer?.institution_id)?.id;
    const elsewhere = payerConversation && payerConversation !== conversationId;
    footer = [
      h('p', { class: 'payment-state' }, pill(state, state === 'authorized' ? t('payments.sent_to', { bank: payer?.name || t('thread.your_bank') }) : paymentWords(state))),
      answer && h('p', { class: 'alert-answer', testid: 'payment-answer' },
        t('event.card.chose', { answer: payLabel(answer.data), time: cardTime(answer.data?.authorized_at || answer.occurred_at) })),
      elsewhere && h('p', {}, h('a', { href: `#/c/${encodeURIComponent(payerConversation)}`, testid: 'payment-follow' }, t('payments.follow', { bank: payer.name }))),
      state === 'expired' && !status && h('p', { class: 'muted' }, t('payments.expired', { time: cardTime(d.expires_at) })),
      statusLines(status),
    ];
  }
  return h('li', {
    class: `card payment payment-${state}`, testid: 'payment-card', 'data-kind': 'request', 'data-seq': e.seq, 'data-payment': d.payment_id, 'data-state': state,
    'aria-label': t('payments.request_label', { amount: formatMoney(d.amount) }),
  },
  h('p', { class: 'payment-title' }, t(d.payee?.name ? 'payments.asks_for' : 'payments.asks_to_pay', { who: asker })),
  h('div', { class: 'txn' },
    h('div', { class: 'txn-main' }, h('p', { class: 'txn-title' }, d.reference)),
    h('p', { class: 'amount payment-amount' }, formatMoney(d.amount))),
  d.note && h('p', { class: 'card-note' }, d.note),
  orderLines(d.order, d.reference),
  footer,
  when);
}

// handedCard is a payment the customer handed this bank for a request
// another institution (a merchant) made; the bank's statuses update it.
function handedCard(e, { conversationId, when }) {
  const d = e.data || {};
  const status = conversationId ? store.paymentStatus(conversationId, d.payment_id) : null;
  const state = status?.data?.status || 'authorized';
  return h('li', {
    class: `card payment payment-${state}`, testid: 'payment-card', 'data-kind': 'payment', 'data-seq': e.seq, 'data-payment': d.payment_id, 'data-state': state,
    'aria-label': t('summary.payment_to', { amount: formatMoney(d.amount), payee: d.payee }),
  },
  h('p', { class: 'payment-title' }, t('payments.payment_to', { payee: d.payee })),
  h('div', { class: 'txn' },
    h('div', { class: 'txn-main' }, h('p', { class: 'txn-title' }, d.reference)),
    h('p', { class: 'amount payment-amount' }, formatMoney(d.amount))),
  h('p', { class: 'payment-state' }, pill(state, state === 'authorized' ? t('payments.waiting_bank') : paymentWords(state))),
  h('p', { class: 'muted small' }, t('payments.chose_to_pay', { who: d.requested_by?.name || d.payee, bank: d.payer?.name || t('payments.this_bank'), time: cardTime(d.authorized_at) })),
  statusLines(status),
  when);
}

// askCard is the customer's request for money from someone else.
function askCard(e, { conversationId, when }) {
  const d = e.data || {};
  const c = conversationId ? store.conversation(conversationId) : null;
  const status = conversationId ? store.paymentStatus(conversationId, d.payment_id) : null;
  const state = status?.data?.status || 'asked';
  const words = state === 'asked' ? t('payments.sent_to', { bank: c?.institution?.name || t('thread.your_bank') })
    : state === 'settled' ? t('payments.paid_to_you') : paymentWords(state);
  return h('li', {
    class: `card payment payment-${state}`, testid: 'payment-card', 'data-kind': 'ask', 'data-seq': e.seq, 'data-payment': d.payment_id, 'data-state': state,
    'aria-label': t('payments.your_request', { amount: formatMoney(d.amount) }),
  },
  h('p', { class: 'payment-title' }, t('payments.you_asked', { payer: d.payer })),
  h('div', { class: 'txn' },
    h('div', { class: 'txn-main' }, h('p', { class: 'txn-title' }, d.reference)),
    h('p', { class: 'amount payment-amount' }, formatMoney(d.amount))),
  h('p', { class: 'payment-state' }, pill(state, words)),
  statusLines(status),
  when);
}

// renderPayment draws one payment event (thread.js renderEvent).
export function renderPayment(e, { conversationId = null, when } = {}) {
  const d = e.data || {};
  const live = Boolean(conversationId);
  switch (e.type) {
    case 'payment.request':
      return requestCard(e, { conversationId, live, when });
    case 'payment.authorize':
      if (d.request_seq) {
        return h('li', { class: 'bubble mine', testid: 'payment-answer-bubble', 'data-seq': e.seq, 'data-author': 'customer' },
          h('p', { class: 'bubble-text' }, payLabel(d)), when);
      }
      return handedCard(e, { conversationId, when });
    case 'payment.ask':
      return askCard(e, { conversationId, when });
    case 'payment.status':
      // A status whose card is not on this page (history not loaded).
      return h('li', { class: 'card payment', testid: 'payment-status-card', 'data-seq': e.seq, 'data-payment': d.payment_id, 'data-state': d.status },
        h('p', {}, pill(d.status, paymentWords(d.status))),
        d.note && h('p', { class: 'card-note' }, d.note),
        when);
    default:
      return null;
  }
}

// askPanel is the form that asks someone to pay the customer through the
// conversation's bank: how much, who (as the bank knows them), what for.
export function askPanel(conversationId, { onDone }) {
  const name = () => store.conversation(conversationId)?.institution?.name || t('thread.your_bank');
  const currency = () => store.latestBalances(conversationId)[0]?.data?.available?.currency || 'USD';
  const field = (id, label, input, hint) => h('div', { class: 'ask-field' },
    h('label', { for: id }, label), input, hint && h('p', { class: 'muted small', id: `${id}-hint` }, hint));
  const amount = h('input', { id: `ask-amount-${conversationId}`, type: 'text', inputmode: 'decimal', autocomplete: 'off', testid: 'ask-amount', required: true });
  const payer = h('input', {
    id: `ask-payer-${conversationId}`, type: 'text', autocomplete: 'off', testid: 'ask-payer', required: true, 'aria-describedby': `ask-payer-${conversationId}-hint`,
  });
  const reference = h('input', { id: `ask-reference-${conversationId}`, type: 'text', maxlength: '140', autocomplete: 'off', testid: 'ask-reference', required: true });
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'ask-error', hidden: true });
  const currencyLabel = h('span', { class: 'ask-currency' });
  const heading = h('h2', { class: 'ask-heading' });
  const hint = h('p', { class: 'muted small' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'ask-submit' }, t('payments.ask.submit'));
  const form = h('form', { class: 'ask-form', testid: 'ask-form', 'aria-label': t('thread.menu.ask_payment'), hidden: true, novalidate: true },
    heading, hint,
    field(amount.id, h('span', {}, `${t('payments.ask.amount')} `, currencyLabel), amount),
    field(payer.id, t('payments.ask.who'), payer, h('span', { class: 'ask-payer-hint' })),
    field(reference.id, t('payments.ask.what_for'), reference),
    error,
    h('div', { class: 'ask-actions' },
      submit,
      h('button', { type: 'button', class: 'link-button', testid: 'ask-cancel', onclick: () => close() }, t('common.cancel'))));
  function open() {
    heading.textContent = t('thread.menu.ask_payment');
    hint.textContent = t('payments.ask.hint', { bank: name() });
    currencyLabel.textContent = `(${currency()})`;
    form.querySelector('.ask-payer-hint').textContent = t('payments.ask.payer_hint', { bank: name() });
    error.hidden = true;
    form.hidden = false;
    amount.focus();
  }
  function close() {
    form.hidden = true;
    onDone?.();
  }
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await api('POST', `/conversations/${encodeURIComponent(conversationId)}/payments/ask`, {
        amount: { amount: amount.value.trim(), currency: currency() }, payer: payer.value.trim(), reference: reference.value.trim(),
      });
      amount.value = payer.value = reference.value = '';
      close();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return { el: form, open, close };
}
