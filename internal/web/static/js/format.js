// Money, dates and one-line summaries, in the language in use (i18n.js).
// Pure functions: no DOM, no state but the formatters kept for reuse.
import { has, locale, t } from './i18n.js';

const DECIMAL = /^-?\d+(\.\d+)?$/;
const MINUS = '\u2212';
const formats = new Map();

// intl(Kind, options) is an Intl formatter for the language in use, made
// once per language and options.
export function intl(Kind, options) {
  const key = `${Kind.name}|${locale()}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Kind(locale(), options));
  return formats.get(key);
}

function moneyFormat(currency) {
  return intl(Intl.NumberFormat, { style: 'currency', currency });
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

const timeFormat = () => intl(Intl.DateTimeFormat, { hour: 'numeric', minute: '2-digit' });
const weekdayFormat = () => intl(Intl.DateTimeFormat, { weekday: 'short' });
const dayFormat = () => intl(Intl.DateTimeFormat, { month: 'short', day: 'numeric' });
const fullDayFormat = () => intl(Intl.DateTimeFormat, { year: 'numeric', month: 'short', day: 'numeric' });

// shortTime is for lists: "2:05 PM" today, "Mon" this week, "Mar 3" this
// year, "Mar 3, 2024" before.
export function shortTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const days = (startOfDay(now) - startOfDay(d)) / 86400000;
  if (days <= 0) return timeFormat().format(d);
  if (days < 7) return weekdayFormat().format(d);
  if (d.getFullYear() === now.getFullYear()) return dayFormat().format(d);
  return fullDayFormat().format(d);
}

// cardTime is for cards in a thread: the time, with the day unless today.
export function cardTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const day = shortTime(d, now);
  const time = timeFormat().format(d);
  return day === time ? time : t('format.day_time', { day, time });
}

export function longDate(value) {
  const d = toDate(value);
  return d ? fullDayFormat().format(d) : '';
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

const weekdayLongFormat = () => intl(Intl.DateTimeFormat, { weekday: 'long' });
const dayLongFormat = () => intl(Intl.DateTimeFormat, { weekday: 'long', month: 'long', day: 'numeric' });
const fullDayLongFormat = () => intl(Intl.DateTimeFormat, { year: 'numeric', month: 'long', day: 'numeric' });

// dayLabel names a dayKey for a date separator: "Today", "Yesterday",
// "Monday" this week, "Monday, March 3" this year, "March 3, 2024" before.
export function dayLabel(key, now = new Date()) {
  const [y, m, d] = String(key).split('-').map(Number);
  if (!y || !m || !d) return '';
  const day = new Date(y, m - 1, d);
  const days = Math.round((startOfDay(now) - day.getTime()) / 86400000);
  if (days === 0) return t('format.today');
  if (days === 1) return t('format.yesterday');
  if (days > 1 && days < 7) return capital(weekdayLongFormat().format(day));
  if (y === now.getFullYear()) return capital(dayLongFormat().format(day));
  return fullDayLongFormat().format(day);
}

// ago(value) → "just now", "2 min ago", "3 hr ago", "yesterday", "4 days ago".
export function ago(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const seconds = Math.max(0, (now - d) / 1000);
  if (seconds < 45) return t('format.ago.now');
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return t('format.ago.minutes', { count: minutes });
  const hours = Math.round(minutes / 60);
  if (hours < 24) return t('format.ago.hours', { count: hours });
  const days = Math.round(hours / 24);
  return days === 1 ? t('format.ago.yesterday') : t('format.ago.days', { count: days });
}

export function mask(digits) {
  return digits ? `••${digits}` : '';
}

// cardName names a card by the account it spends from, as the balances
// name that account: "Everyday Checking card ••4821", "Travel Card ••4821"
// (an account that is a card), or "Card ••4821" when no name is known.
export function cardName(last4, accountName) {
  const name = String(accountName || '').trim();
  if (!name) return t('format.card.unnamed', { mask: mask(last4) });
  return t(isCard(name) ? 'format.card.is_account' : 'format.card.of_account', { name, mask: mask(last4) });
}

// isCard says whether an account's name already says it is a card ("Travel
// Card", "Carte Voyage"): then "card" is not said twice.
function isCard(name) {
  return /\bcard$|^(carte|cartão|carta)\b/iu.test(name);
}

// yourCard is cardName within a sentence: "your Everyday Checking card
// ••4821", "your card ••4821".
export function yourCard(last4, accountName) {
  const name = String(accountName || '').trim();
  if (!name) return t('format.your_card.unnamed', { mask: mask(last4) });
  return t(isCard(name) ? 'format.your_card.is_account' : 'format.your_card.of_account', { name, mask: mask(last4) });
}

// capital starts a sentence made of parts, or a heading in a language
// whose weekdays are lowercase ("lundi 3 mars"), with a capital letter.
export function capital(s) {
  return s.charAt(0).toLocaleUpperCase(locale()) + s.slice(1);
}

export function transactionTitle(data) {
  return data?.merchant?.name || data?.description || t(data?.direction === 'credit' ? 'format.money_in' : 'format.card_payment');
}

// summary is the one line a conversation row shows for its last event.
export function summary(event) {
  const data = event?.data || {};
  switch (event?.type) {
    case 'transaction.posted': {
      const line = t(data.direction === 'credit' ? 'summary.money_from' : 'summary.money_at',
        { amount: formatMoney(data.amount, data.direction), who: transactionTitle(data) });
      return data.status === 'pending' ? t('summary.pending', { line }) : line;
    }
    case 'balance.updated':
      return t('summary.balance', { account: data.account_name || t('summary.balance_account'), amount: formatMoney(data.available) });
    case 'message':
      return String(data.text ?? '');
    case 'customer.message':
      return t('summary.you', { text: data.text ?? '' });
    case 'customer.request':
      return t('summary.you', { text: requestWords(data.kind) || t('summary.a_request') });
    case 'fraud.alert':
      return t('summary.fraud_alert', { amount: formatMoney(data.transaction?.amount), merchant: data.transaction?.merchant?.name || t('summary.a_merchant') });
    case 'fraud.response':
    case 'card.action':
      return t('summary.you', { text: actionLabel(data.action, data.label) });
    case 'card.status':
      return t('summary.card_status', { card: cardName(data.card_last4, data.account_name), status: cardWords(data.status) });
    case 'payment.request':
      return data.payee?.name
        ? t('summary.payment_asked', { who: data.payee.name, amount: formatMoney(data.amount), reference: data.reference ?? '' })
        : t('summary.payment_request', { amount: formatMoney(data.amount), reference: data.reference ?? '' });
    case 'payment.authorize':
      return data.request_seq
        ? t('summary.you', { text: data.label || t('summary.pay') })
        : t('summary.payment_to', { amount: formatMoney(data.amount), payee: data.payee || t('summary.a_merchant') });
    case 'payment.ask':
      return t('summary.you_asked', { payer: data.payer, amount: formatMoney(data.amount) });
    case 'payment.status':
      return data.note || t('summary.payment_status', { status: paymentWords(data.status) });
    case 'receipt':
      return t('summary.receipt', { merchant: data.merchant?.name || t('summary.a_merchant'), amount: formatMoney(data.total) });
    case 'shipment.updated':
      return t('summary.shipment', { status: shipmentWords(data.status) });
    case 'rating.request':
      return data.agent ? t('summary.rating_request', { agent: data.agent }) : t('summary.rating_request_team');
    case 'rating':
      return t('summary.rated', { score: data.score });
    case 'history.cleared':
      return t('summary.cleared');
    case 'agent.joined':
      return t('summary.agent_joined', { agent: data.agent || t('summary.a_person') });
    case 'agent.left':
      return t('summary.agent_left');
    case 'link.narrowed':
      return t('summary.narrowed');
    case 'link.expiring':
      return t('summary.expiring');
    case 'link.expired':
      return t('summary.expired');
    case 'link.revoked':
      return t(data.ended_by === 'institution' ? 'summary.revoked_by_bank' : 'summary.revoked');
    default:
      return t('summary.new_update');
  }
}

// known says a code in words from the catalogue (key is made from it:
// "format.card_status.locked"), or gives the code back as it came when the
// catalogue does not know it (a status a newer bank sends).
function known(key, code) {
  if (code == null || code === '') return '';
  return has(key) ? t(key) : String(code);
}

// requestWords: what the customer asked for from the menu, as a bubble says
// it ("What’s my balance?").
export function requestWords(kind) {
  return known(`format.request.${kind}`, kind);
}

// cardWords: where a card stands, within a sentence ("ready to use").
export function cardWords(status) {
  return known(`format.card_status.${status}`, status);
}

// paymentWords: how a payment stands, in words: the statuses banks post
// (ISO 20022's ACCP, ACSC, RJCT), and the customer's tap before any.
export function paymentWords(status) {
  return known(`format.payment_status.${status}`, status);
}

// shipmentWords: where a parcel is, within a sentence ("on its way").
export function shipmentWords(status) {
  return known(`format.shipment_status.${status}`, status);
}

// actionLabel is what a button of a fraud alert or a card status says. The
// actions whose meaning the Bank API fixes (bankapi.ActionConfirm, Deny,
// Unlock, WasMe) are said in the customer's language, so that an answer to
// a fraud alert is never in words the customer may not read; any other
// action is the bank's own, shown as it wrote it.
export function actionLabel(id, bankLabel) {
  const key = `format.action.${id}`;
  return has(key) ? t(key) : String(bankLabel || id || '');
}
