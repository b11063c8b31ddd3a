// Insights worked out on the device, from the customer's own events as the
// messenger holds them: spending by month and by category, charges that
// look doubled, charges that come back every week or month (and when they
// went up), and whether a balance may run low in the next weeks. The
// server computes none of this and stores nothing of it.
//
// Money is exact: amounts arrive as decimal strings and are added up here
// as whole minor units (cents) in BigInt, one currency at a time, never as
// floating point numbers. Pure functions: no DOM, no state, and the time
// ("now") is a parameter.
import { dayKey } from './format.js';
import { GROUPS, groupOf } from './categories.js';

const DAY_MS = 86400000;

// Digits after the point, by ISO 4217; every other currency has two.
const MINOR_DIGITS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

export function minorDigits(currency) {
  return MINOR_DIGITS[String(currency || '').toUpperCase()] ?? 2;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

// toMinor("12.50", "USD") → 1250n; null for what is not a decimal amount
// of that currency (more digits after the point than it has, unless zeros).
export function toMinor(amount, currency) {
  const m = DECIMAL.exec(String(amount ?? '').trim());
  if (!m) return null;
  const digits = minorDigits(currency);
  const fraction = m[3] || '';
  if (/[^0]/.test(fraction.slice(digits))) return null;
  const units = BigInt(m[2] + fraction.slice(0, digits).padEnd(digits, '0'));
  return m[1] ? -units : units;
}

// fromMinor(1250n, "USD") → "12.50": the decimal string formatMoney takes.
export function fromMinor(minor, currency) {
  const digits = minorDigits(currency);
  const negative = minor < 0n;
  let s = (negative ? -minor : minor).toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, '0');
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return (negative ? '-' : '') + s;
}

// money(1250n, "USD") → {amount: "12.50", currency: "USD"}.
export function money(minor, currency) {
  return { amount: fromMinor(minor, currency), currency };
}

// merchantKey is how two charges are known to come from the same merchant:
// its name (or the bank's description), in lower case, without punctuation.
export function merchantKey(name) {
  return String(name || '').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

function monthOf(ms) {
  return dayKey(ms).slice(0, 7);
}

// transactions turns a conversation's events into the transactions the
// insights count, oldest first: each transaction.posted with a readable
// amount and time, once. A pending one that a posted one replaced (by
// replaces_seq or reference_id) is left out, as is an earlier copy of the
// same transaction (same account and transaction_id).
//
// Each: {seq, id, account, at (ms), day, month, direction, status,
// currency, minor, title, key, group, hasMerchant, event}.
export function transactions(events) {
  const posted = (events || []).filter((e) => e?.type === 'transaction.posted' && e.data);
  const replacedSeqs = new Set();
  const replacedIds = new Set();
  for (const e of posted) {
    if (e.data.status !== 'posted') continue;
    if (e.replaces_seq != null) replacedSeqs.add(Number(e.replaces_seq));
    if (e.data.reference_id) replacedIds.add(`${e.data.account_id ?? ''}\u0000${e.data.reference_id}`);
  }
  const byTransaction = new Map();
  const out = [];
  for (const e of [...posted].sort((a, b) => a.seq - b.seq)) {
    const d = e.data;
    const account = String(d.account_id ?? '');
    const pending = d.status === 'pending';
    if (pending && (replacedSeqs.has(Number(e.seq)) || replacedIds.has(`${account}\u0000${d.transaction_id}`))) continue;
    const currency = String(d.amount?.currency ?? '').trim().toUpperCase();
    const minor = toMinor(d.amount?.amount, currency);
    const at = Date.parse(e.occurred_at);
    if (!currency || minor == null || minor < 0n || Number.isNaN(at)) continue;
    const title = String(d.merchant?.name || d.description || '');
    const t = {
      seq: Number(e.seq), id: String(d.transaction_id ?? ''), account, at, day: dayKey(at), month: monthOf(at),
      direction: d.direction === 'credit' ? 'credit' : 'debit', status: pending ? 'pending' : 'posted',
      currency, minor, title, key: merchantKey(title), group: groupOf(d.merchant).id, hasMerchant: Boolean(d.merchant?.name), event: e,
    };
    const same = t.id ? `${account}\u0000${t.id}` : null;
    if (same && byTransaction.has(same)) out[byTransaction.get(same)] = null; // a later copy wins
    if (same) byTransaction.set(same, out.length);
    out.push(t);
  }
  return out.filter(Boolean).sort((a, b) => a.at - b.at || a.seq - b.seq);
}

const SPENDING = new Set(GROUPS.filter((g) => g.spending).map((g) => g.id));

// spent is what a transaction adds to spending: a purchase adds its
// amount, a refund from a merchant takes it off; money moved between
// accounts, and money in that is not a refund, count for nothing.
function spent(t) {
  if (!SPENDING.has(t.group)) return 0n;
  if (t.direction === 'debit') return t.minor;
  return t.hasMerchant ? -t.minor : 0n;
}

// currencies lists the currencies of the transactions, the most used first.
export function currencies(txns) {
  const count = new Map();
  for (const t of txns) count.set(t.currency, (count.get(t.currency) || 0) + 1);
  return [...count.keys()].sort((a, b) => count.get(b) - count.get(a) || a.localeCompare(b));
}

function nextMonth(month) {
  const [y, m] = month.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

// spendingByMonth: for each currency (most used first), every month from
// the first transaction's to the last's, with what was spent in it.
// → [{currency, months: [{month, spent, count}], total}]
export function spendingByMonth(txns) {
  return currencies(txns).map((currency) => {
    const mine = txns.filter((t) => t.currency === currency);
    const byMonth = new Map();
    for (const t of mine) {
      const amount = spent(t);
      if (!byMonth.has(t.month)) byMonth.set(t.month, { month: t.month, spent: 0n, count: 0 });
      const row = byMonth.get(t.month);
      row.spent += amount;
      if (amount !== 0n) row.count += 1;
    }
    const keys = [...byMonth.keys()].sort();
    const months = [];
    if (keys.length) {
      for (let m = keys[0]; m <= keys[keys.length - 1]; m = nextMonth(m)) {
        months.push(byMonth.get(m) || { month: m, spent: 0n, count: 0 });
      }
    }
    return { currency, months, total: months.reduce((sum, m) => sum + m.spent, 0n) };
  });
}

// spendingByCategory: what was spent in each group in one month ('YYYY-MM'),
// per currency, the largest first; transfers and payments beside it, not
// counted as spending.
// → [{currency, month, total, groups: [{id, name, spent, count}], transfers}]
export function spendingByCategory(txns, month) {
  return currencies(txns).map((currency) => {
    const by = new Map();
    let transfers = 0n;
    for (const t of txns) {
      if (t.currency !== currency || t.month !== month) continue;
      if (t.group === 'transfers') {
        if (t.direction === 'debit') transfers += t.minor;
        continue;
      }
      const amount = spent(t);
      if (amount === 0n) continue;
      if (!by.has(t.group)) by.set(t.group, { spent: 0n, count: 0 });
      by.get(t.group).spent += amount;
      by.get(t.group).count += 1;
    }
    const order = GROUPS.map((g) => g.id);
    const groups = GROUPS.filter((g) => by.has(g.id) && by.get(g.id).spent !== 0n)
      .map((g) => ({ id: g.id, name: g.name, spent: by.get(g.id).spent, count: by.get(g.id).count }))
      .sort((a, b) => (a.spent === b.spent ? order.indexOf(a.id) - order.indexOf(b.id) : a.spent > b.spent ? -1 : 1));
    return { currency, month, total: groups.reduce((sum, g) => sum + g.spent, 0n), groups, transfers };
  }).filter((c) => c.groups.length || c.transfers);
}

// duplicates: posted purchases at the same merchant, for the same amount
// in the same currency, within a day of the first of them. Pending ones
// wait until they post: a hold and its posting are one payment. Newest
// first. → [{merchant, currency, minor, items: [txn, …]}]
export function duplicates(txns, { withinMs = DAY_MS } = {}) {
  const groups = new Map();
  for (const t of txns) {
    if (t.direction !== 'debit' || t.status !== 'posted' || !t.hasMerchant || !t.key) continue;
    const k = `${t.key}\u0000${t.currency}\u0000${t.minor}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(t);
  }
  const out = [];
  for (const list of groups.values()) {
    let cluster = [];
    const close = () => {
      if (cluster.length > 1) out.push({ merchant: cluster[cluster.length - 1].title, currency: cluster[0].currency, minor: cluster[0].minor, items: cluster });
    };
    for (const t of list) {
      if (cluster.length && t.at - cluster[0].at <= withinMs) {
        cluster.push(t);
      } else {
        close();
        cluster = [t];
      }
    }
    close();
  }
  return out.sort((a, b) => b.items[b.items.length - 1].at - a.items[a.items.length - 1].at);
}

// Local calendar arithmetic: whole days between two times, and a date a
// number of days or months on (the 31st a month on is the month's last).
function startOfDay(ms) {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}
export function daysBetween(a, b) {
  return Math.round((startOfDay(b) - startOfDay(a)) / DAY_MS);
}
function addDays(ms, n) {
  const d = new Date(ms);
  d.setDate(d.getDate() + n);
  return d.getTime();
}
function addMonths(ms, n) {
  const d = new Date(ms);
  const day = d.getDate();
  d.setDate(1);
  d.setMonth(d.getMonth() + n);
  const last = new Date(d.getFullYear(), d.getMonth() + 1, 0).getDate();
  d.setDate(Math.min(day, last));
  return d.getTime();
}

// CADENCES a recurring charge may keep, with the gaps in days between two
// charges that still count as keeping it (banks post late, months differ).
// The view says each in words (insights.cadence.<id>).
export const CADENCES = [
  { id: 'weekly', min: 5, max: 9, next: (ms) => addDays(ms, 7) },
  { id: 'fortnightly', min: 12, max: 16, next: (ms) => addDays(ms, 14) },
  { id: 'monthly', min: 26, max: 35, next: (ms) => addMonths(ms, 1) },
];

const MIN_CHARGES = 3;

// similar: the amounts stay within half again of the smallest (a price
// change from 9.99 to 12.99 is still the same subscription).
function similar(amounts) {
  let lo = amounts[0];
  let hi = amounts[0];
  for (const a of amounts) {
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  return hi * 2n <= lo * 3n;
}

// runFor is the newest run of charges that keeps a cadence, oldest first:
// from the newest charge back, each one the cadence's gap before the
// next, with similar amounts. A second charge of the same amount within a
// day (a duplicate) does not break the run and is not part of it.
function runFor(list, cadence) {
  const run = [list[list.length - 1]];
  for (let i = list.length - 2; i >= 0; i--) {
    const t = list[i];
    const gap = daysBetween(t.at, run[0].at);
    if (gap <= 1 && t.minor === run[0].minor) continue;
    if (gap < cadence.min || gap > cadence.max || !similar([...run.map((r) => r.minor), t.minor])) break;
    run.unshift(t);
  }
  return run;
}

// recurring finds what comes back on a schedule: for each merchant (or,
// without one, the bank's description), currency and direction, the
// newest run of at least three charges a week, two weeks or a month
// apart, still going (the last one not overdue by more than half a
// period). Money in works the same way (a salary). When the amount went
// up, `increase` says from what, to what, and since when.
// → [{key, title, currency, direction, account, group, cadence, items,
//     minor (the newest amount), last (ms), next (ms), increase}]
export function recurring(txns, now = Date.now()) {
  const series = new Map();
  for (const t of txns) {
    if (!t.key) continue;
    const k = `${t.key}\u0000${t.currency}\u0000${t.direction}`;
    if (!series.has(k)) series.set(k, []);
    series.get(k).push(t);
  }
  const out = [];
  for (const [key, list] of series) {
    if (list.length < MIN_CHARGES) continue;
    let best = null;
    for (const cadence of CADENCES) {
      const run = runFor(list, cadence);
      if (run.length >= MIN_CHARGES && (!best || run.length > best.run.length)) best = { cadence, run };
    }
    if (!best) continue;
    const { cadence, run } = best;
    const last = run[run.length - 1];
    if (daysBetween(last.at, now) > cadence.max + Math.ceil(cadence.max / 2)) continue; // it stopped
    // The price now, and the one before it.
    let i = run.length - 1;
    while (i > 0 && run[i - 1].minor === last.minor) i--;
    const before = i > 0 ? run[i - 1] : null;
    const increase = before && before.minor < last.minor ? { from: before.minor, to: last.minor, since: run[i].at } : null;
    out.push({
      key, title: last.title, currency: last.currency, direction: last.direction, account: last.account, group: last.group,
      cadence: cadence.id, items: run, minor: last.minor, last: last.at, next: cadence.next(last.at), increase,
    });
  }
  return out.sort((a, b) => a.next - b.next || a.title.localeCompare(b.title));
}

// expected lists the times a recurring charge is due from now to the end
// of the horizon. One that was due in the last week and has not come yet
// is counted as due now.
function expected(series, cadence, now, end) {
  const step = CADENCES.find((c) => c.id === cadence).next;
  const out = [];
  for (let at = series.next; at <= end; at = step(at)) {
    if (at < now) {
      if (now - at <= 7 * DAY_MS) out.push(now);
      continue;
    }
    out.push(at);
  }
  return out;
}

// defaultLowMark is where a balance counts as low unless the customer
// says otherwise: 100 of the currency's units.
export function defaultLowMark(currency) {
  return 100n * 10n ** BigInt(minorDigits(currency));
}

// forecast looks ahead `horizonDays` for each account whose balance the
// device knows, Balance-Watch style: from the available balance, take off
// the everyday spending rate of the last `windowDays` (what went out of
// the account, without the recurring charges), spread evenly day by day,
// and the recurring charges on their expected days, and add recurring
// money in on its days. It says whether, and when, the balance may go
// under the low mark, and shows everything it assumed.
//
// balances: balance.updated events (the newest per account); since: the
// time of the oldest event the device holds (the rate needs a week of
// it); lowMarks: Map account id → minor units.
// → [{account, name, mask, currency, start, asOf, low, status
//     ('ok' | 'runs-low' | 'low-now' | 'short'), windowDays, spent,
//     dailyRate, scheduled: [{title, at, minor, direction}],
//     lowest: {minor, at}, runsLow: {minor, at, inDays} | null}]
export function forecast(txns, balances, series, { now = Date.now(), since = now, horizonDays = 28, windowDays = 30, lowMarks = new Map() } = {}) {
  const inSeries = new Set(series.flatMap((s) => s.items.map((t) => t.seq)));
  const end = now + horizonDays * DAY_MS;
  const out = [];
  for (const b of balances || []) {
    const d = b?.data || {};
    const currency = String(d.available?.currency ?? '').trim().toUpperCase();
    const start = toMinor(d.available?.amount, currency);
    if (start == null || !currency) continue;
    const account = String(d.account_id ?? '');
    const low = lowMarks.get(account) ?? defaultLowMark(currency);
    // An account the bank did not name is named by the view, in its words.
    const base = { account, name: d.account_name || '', mask: d.mask || '', currency, start, asOf: b.occurred_at, low, horizonDays };
    const from = Math.max(now - windowDays * DAY_MS, since);
    const days = Math.floor((now - from) / DAY_MS);
    if (days < 7) {
      out.push({ ...base, status: start < low ? 'low-now' : 'short', windowDays: days, spent: 0n, dailyRate: 0n, scheduled: [], lowest: { minor: start, at: now }, runsLow: null });
      continue;
    }
    let outgoing = 0n;
    for (const t of txns) {
      if (t.account === account && t.currency === currency && t.direction === 'debit' && t.at > from && t.at <= now && !inSeries.has(t.seq)) outgoing += t.minor;
    }
    const scheduled = [];
    for (const s of series) {
      if (s.account !== account || s.currency !== currency) continue;
      for (const at of expected(s, s.cadence, now, end)) scheduled.push({ title: s.title, at, minor: s.minor, direction: s.direction });
    }
    scheduled.sort((a, b2) => a.at - b2.at);
    const span = BigInt(days);
    let lowest = { minor: start, at: now };
    let runsLow = start < low ? { minor: start, at: now, inDays: 0 } : null;
    for (let day = 0; day <= horizonDays; day++) {
      const at = now + day * DAY_MS;
      // The everyday rate, rounded up: an estimate should not flatter.
      let balance = start - (outgoing * BigInt(day) + span - 1n) / span;
      for (const s of scheduled) if (s.at <= at) balance += s.direction === 'credit' ? s.minor : -s.minor;
      if (balance < lowest.minor) lowest = { minor: balance, at };
      if (!runsLow && balance < low) runsLow = { minor: balance, at, inDays: day };
    }
    const status = start < low ? 'low-now' : runsLow ? 'runs-low' : 'ok';
    out.push({ ...base, status, windowDays: days, spent: outgoing, dailyRate: outgoing / span, scheduled, lowest, runsLow });
  }
  return out;
}

// coverage is the time of the oldest event held, or null.
export function coverage(events) {
  let first = null;
  for (const e of events || []) {
    const at = Date.parse(e?.occurred_at);
    if (!Number.isNaN(at) && (first == null || at < first)) first = at;
  }
  return first;
}
