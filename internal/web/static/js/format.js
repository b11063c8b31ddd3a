// Money, dates and one-line summaries. Pure functions: no DOM, no state.

const DECIMAL = /^-?\d+(\.\d+)?$/;
const MINUS = '\u2212';
const moneyFormats = new Map();

function moneyFormat(currency) {
  if (!moneyFormats.has(currency)) {
    moneyFormats.set(currency, new Intl.NumberFormat(undefined, { style: 'currency', currency }));
  }
  return moneyFormats.get(currency);
}

// formatMoney({amount: "12.50", currency: "USD"}, "debit") → "−$12.50".
// The amount stays a decimal string: engines with Intl.NumberFormat v3 format
// the string exactly; older ones convert it only here, for display. Amounts
// are not added up here; insights.js adds them as whole minor units.
export function formatMoney(money, direction) {
  const amount = String(money?.amount ?? '').trim();
  const currency = String(money?.currency ?? '').trim().toUpperCase();
  if (!DECIMAL.test(amount)) return [amount, currency].filter(Boolean).join(' ');
  const negative = amount.startsWith('-');
  const magnitude = negative ? amount.slice(1) : amount;
  let text;
  try {
    text = moneyFormat(currency).format(magnitude);
  } catch {
    text = `${magnitude} ${currency}`.trim(); // unknown currency code
  }
  let sign = negative ? MINUS : '';
  if (direction === 'debit') sign = MINUS;
  else if (direction === 'credit') sign = '+';
  return sign + text;
}

export function initials(name) {
  const words = String(name || '').split(/\s+/).filter((w) => /^\p{L}/u.test(w) && !/^(of|the|and|de|du)$/i.test(w));
  return words.slice(0, 2).map((w) => Array.from(w)[0].toUpperCase()).join('') || '?';
}

function toDate(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullDayFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

// shortTime is for lists: "2:05 PM" today, "Mon" this week, "Mar 3" this
// year, "Mar 3, 2024" before.
export function shortTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const days = (startOfDay(now) - startOfDay(d)) / 86400000;
  if (days <= 0) return timeFormat.format(d);
  if (days < 7) return weekdayFormat.format(d);
  if (d.getFullYear() === now.getFullYear()) return dayFormat.format(d);
  return fullDayFormat.format(d);
}

// cardTime is for cards in a thread: the time, with the day unless today.
export function cardTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const day = shortTime(d, now);
  const time = timeFormat.format(d);
  return day === time ? time : `${day}, ${time}`;
}

export function longDate(value) {
  const d = toDate(value);
  return d ? fullDayFormat.format(d) : '';
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

// dayKey is the local calendar day of a time, "2026-03-04", which sorts as
// text; '' for no time.
export function dayKey(value) {
  const d = toDate(value);
  if (!d) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const weekdayLongFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const dayLongFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const fullDayLongFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });

// dayLabel names a dayKey for a date separator: "Today", "Yesterday",
// "Monday" this week, "Monday, March 3" this year, "March 3, 2024" before.
export function dayLabel(key, now = new Date()) {
  const [y, m, d] = String(key).split('-').map(Number);
  if (!y || !m || !d) return '';
  const day = new Date(y, m - 1, d);
  const days = Math.round((startOfDay(now) - day.getTime()) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return weekdayLongFormat.format(day);
  if (y === now.getFullYear()) return dayLongFormat.format(day);
  return fullDayLongFormat.format(day);
}

// ago(value) → "just now", "2 min ago", "3 hr ago", "yesterday", "4 days ago".
export function ago(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const seconds = Math.max(0, (now - d) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hr ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

export function mask(digits) {
  return digits ? `••${digits}` : '';
}

// cardName names a card by the account it spends from, as the balances
// name that account: "Everyday Checking card ••4821", "Travel Card ••4821"
// (an account that is a card), or "Card ••4821" when no name is known.
export function cardName(last4, accountName) {
  const name = String(accountName || '').trim();
  if (!name) return `Card ${mask(last4)}`;
  return /\bcard$/i.test(name) ? `${name} ${mask(last4)}` : `${name} card ${mask(last4)}`;
}

// yourCard is cardName within a sentence: "your Everyday Checking card
// ••4821", "your card ••4821".
export function yourCard(last4, accountName) {
  return accountName ? `your ${cardName(last4, accountName)}` : `your card ${mask(last4)}`;
}

export function transactionTitle(data) {
  return data?.merchant?.name || data?.description || (data?.direction === 'credit' ? 'Money in' : 'Card payment');
}

// summary is the one line a conversation row shows for its last event.
export function summary(event) {
  const data = event?.data || {};
  switch (event?.type) {
    case 'transaction.posted': {
      const line = `${formatMoney(data.amount, data.direction)} ${data.direction === 'credit' ? 'from' : 'at'} ${transactionTitle(data)}`;
      return data.status === 'pending' ? `Pending: ${line}` : line;
    }
    case 'balance.updated':
      return `${data.account_name || 'Balance'}: ${formatMoney(data.available)} available`;
    case 'message':
      return String(data.text ?? '');
    case 'customer.message':
      return `You: ${data.text ?? ''}`;
    case 'customer.request':
      return `You: ${REQUEST_WORDS[data.kind] || 'a request'}`;
    case 'fraud.alert':
      return `Is this you? ${formatMoney(data.transaction?.amount)} at ${data.transaction?.merchant?.name || 'a merchant'}`;
    case 'fraud.response':
    case 'card.action':
      return `You: ${data.label || data.action}`;
    case 'card.status':
      return `${cardName(data.card_last4, data.account_name)}: ${CARD_WORDS[data.status] || data.status}`;
    case 'payment.request':
      return data.payee?.name
        ? `${data.payee.name} asks you for ${formatMoney(data.amount)}: ${data.reference ?? ''}`
        : `Request to pay ${formatMoney(data.amount)}: ${data.reference ?? ''}`;
    case 'payment.authorize':
      return data.request_seq ? `You: ${data.label || 'Pay'}` : `Payment of ${formatMoney(data.amount)} to ${data.payee || 'a merchant'}`;
    case 'payment.ask':
      return `You asked ${data.payer} for ${formatMoney(data.amount)}`;
    case 'payment.status':
      return data.note || `Payment ${PAYMENT_WORDS[data.status] || data.status}`;
    case 'receipt':
      return `Receipt from ${data.merchant?.name || 'a merchant'}: ${formatMoney(data.total)}`;
    case 'shipment.updated':
      return `Shipment ${SHIPMENT_WORDS[data.status] || data.status}`;
    case 'rating.request':
      return `How did ${data.agent || 'we'} do?`;
    case 'rating':
      return `You rated ${data.score}/5`;
    case 'history.cleared':
      return 'You cleared the history';
    case 'agent.joined':
      return `${data.agent || 'A person'} joined`;
    case 'agent.left':
      return 'Back with the assistant';
    case 'link.narrowed':
      return 'You now share less with this bank';
    case 'link.expiring':
      return 'This connection ends soon: renew?';
    case 'link.expired':
      return 'The connection ended, as agreed';
    case 'link.revoked':
      return data.ended_by === 'institution' ? 'The bank ended this connection' : 'You disconnected this bank';
    default:
      return 'New update';
  }
}

export const REQUEST_WORDS = {
  balance: 'What’s my balance?',
  recent_transactions: 'Show my recent transactions',
  human: 'I’d like to talk to a person',
};

export const CARD_WORDS = {
  active: 'ready to use',
  locked: 'locked',
  ordered: 'on its way',
  closed: 'closed',
};

// How a payment stands, in words: the statuses banks post (ISO 20022's
// ACCP, ACSC, RJCT), and the customer's tap before any.
export const PAYMENT_WORDS = {
  open: 'Waiting for you',
  authorized: 'Sent to the bank',
  accepted: 'Accepted',
  settled: 'Paid',
  rejected: 'Declined',
  expired: 'Expired',
};

export const SHIPMENT_WORDS = {
  label_created: 'label created',
  in_transit: 'on its way',
  out_for_delivery: 'out for delivery',
  delivered: 'delivered',
  exception: 'has a problem',
};
