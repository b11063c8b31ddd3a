// What a thread shows, in order, worked out from its events: each day's
// activity under its date, and at most one balance card a day. Balances
// change with nearly every purchase; the header shows the newest, so the
// thread keeps only each day's last word on them, where it was said (for
// today, that is the latest). Pure functions: no DOM, no state.
import { dayKey } from './format.js';

// byDay puts events (seq order) under the local day they happened, days
// in order and each day's events in seq order, so that what a bank sends
// late (last week's transactions, right after linking) joins its own day
// rather than today's. An event with no readable time joins the day of
// the one before it.
function byDay(events) {
  let day = '';
  const dated = events.map((e) => {
    day = dayKey(e.occurred_at) || day;
    return { e, day };
  });
  // Array.prototype.sort is stable: seq order holds within a day.
  dated.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  return { events: dated.map((x) => x.e), days: dated.map((x) => x.day) };
}

// timeline returns the items to draw for visible events (seq order):
// {key, kind: 'day', day} | {key, kind: 'balances', day, seq, events} |
// {key, kind: 'event', event}. Keys are stable, so a view can keep what it
// drew and redraw only what changed.
export function timeline(visible) {
  const { events, days } = byDay(visible);
  // A payment's statuses fold into its card (one card per payment, at its
  // newest status); a status shows alone only when its card is not here.
  const paymentCards = new Set(events.filter((e) => e.type === 'payment.request' || e.type === 'payment.ask' ||
    (e.type === 'payment.authorize' && !e.data?.request_seq)).map((e) => e.data?.payment_id));
  const lastBalance = new Map(); // day → index of its last balance.updated
  const balances = new Map(); // day → Map(account → newest balance.updated)
  events.forEach((e, i) => {
    if (e.type !== 'balance.updated') return;
    lastBalance.set(days[i], i);
    if (!balances.has(days[i])) balances.set(days[i], new Map());
    balances.get(days[i]).set(e.data?.account_id ?? '', e);
  });
  const items = [];
  let current = null;
  events.forEach((e, i) => {
    const day = days[i];
    if (e.type === 'balance.updated' && lastBalance.get(day) !== i) return;
    if (e.type === 'payment.status' && paymentCards.has(e.data?.payment_id)) return;
    if (day !== current) {
      current = day;
      items.push({ key: `day:${day}`, kind: 'day', day });
    }
    if (e.type === 'balance.updated') {
      items.push({ key: `balances:${day}`, kind: 'balances', day, seq: e.seq, events: [...balances.get(day).values()] });
    } else {
      items.push({ key: `seq:${e.seq}`, kind: 'event', event: e });
    }
  });
  return items;
}

// waiting lists what waits for the customer in a thread, oldest first: the
// quick replies of the bank's newest question, until the customer says
// anything after it (a newer question takes its place); fraud alerts not
// answered and not expired; rating requests not answered; and cards whose
// status offers actions not yet taken; and requests to pay not yet paid,
// closed by a status or expired. answerTo(seq) is the customer's answer to
// the item at seq.
export function waiting(events, answerTo, now = new Date()) {
  const out = [];
  const closed = new Set(events.filter((e) => e.type === 'payment.status').map((e) => e.data?.payment_id));
  let question = null;
  for (const e of events) {
    if (e.author === 'customer') question = null;
    else if (e.type === 'message' && e.data?.quick_replies?.length) question = e;
  }
  for (const e of events) {
    const d = e.data || {};
    if (e.type === 'fraud.alert' && !answerTo(e.seq) && !(d.expires_at && new Date(d.expires_at) <= now)) out.push({ kind: 'alert', event: e });
    if (e.type === 'rating.request' && !answerTo(e.seq)) out.push({ kind: 'rating', event: e });
    if (e.type === 'card.status' && d.actions?.length && !answerTo(e.seq)) out.push({ kind: 'card', event: e });
    if (e.type === 'payment.request' && !answerTo(e.seq) && !closed.has(d.payment_id) && !(d.expires_at && new Date(d.expires_at) <= now)) {
      out.push({ kind: 'payment', event: e });
    }
  }
  if (question) out.push({ kind: 'question', event: question });
  return out;
}
