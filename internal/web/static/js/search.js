// Search within a conversation, on what the device holds: merchants,
// descriptions, messages, receipts and amounts. Nothing is sent anywhere.
// Pure functions: no DOM, no state.
import { categoryLabel } from './categories.js';
import { transactionTitle } from './format.js';
import { t } from './i18n.js';

// An amount as a person types it: "12.99", "$12.99", "12,99", "1,234.50",
// "€ 40". Thousands separators are commas followed by three digits.
const AMOUNT = /^(?:[^\p{L}\p{N}\s-]\s?)?(\d{1,3}(?:,\d{3})+|\d+)(?:[.,](\d{1,4}))?$/u;

// parseAmount reads a search term as an amount: {whole: "12", fraction:
// "99" | null}, or null when it is not one.
export function parseAmount(term) {
  const m = AMOUNT.exec(String(term).trim());
  if (!m) return null;
  return { whole: m[1].replaceAll(',', ''), fraction: m[2] ?? null };
}

// amountMatches: "12" finds 12.00 and 12.99; "12.9" and "12.90" find
// 12.90, exactly (compared in minor units, never as floats).
export function amountMatches(wanted, money) {
  const m = /^-?(\d+)(?:\.(\d+))?$/.exec(String(money?.amount ?? '').trim());
  if (!m || !wanted) return false;
  if (BigInt(m[1]) !== BigInt(wanted.whole)) return false;
  if (wanted.fraction == null) return true;
  const digits = Math.max(wanted.fraction.length, (m[2] || '').length);
  return BigInt((m[2] || '').padEnd(digits, '0')) === BigInt(wanted.fraction.padEnd(digits, '0'));
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ranges finds where terms occur in text, case-insensitively, as
// [start, end) pairs in the text's own indices, merged and in order.
function ranges(text, terms) {
  const found = [];
  for (const term of terms) {
    const re = new RegExp(escapeRegExp(term), 'giu');
    for (const m of String(text).matchAll(re)) if (m[0]) found.push([m.index, m.index + m[0].length]);
  }
  found.sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const r of found) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([...r]);
  }
  return merged;
}

// fields is what of an event can be found: texts (with a name for each)
// and amounts. The first text is the result's title.
function fields(e) {
  const d = e.data || {};
  switch (e.type) {
    case 'transaction.posted':
      return {
        texts: [transactionTitle(d),
          d.merchant?.name && d.description, categoryLabel(d.merchant), d.merchant?.category, d.merchant?.city].filter(Boolean),
        amounts: [d.amount],
        money: d.amount,
        direction: d.direction === 'credit' ? 'credit' : 'debit',
      };
    case 'message':
    case 'customer.message':
      return { texts: [String(d.text ?? '')], amounts: [] };
    case 'receipt':
      return {
        texts: [d.merchant?.name || t('event.receipt.title'), d.order_number && t('event.order', { number: d.order_number }), ...(d.items || []).map((it) => it.name)].filter(Boolean),
        amounts: [d.total, ...(d.items || []).map((it) => it.total)].filter(Boolean),
        money: d.total,
      };
    case 'fraud.alert':
      return { texts: [d.transaction?.merchant?.name || transactionTitle({}), d.reason].filter(Boolean), amounts: [d.transaction?.amount].filter(Boolean), money: d.transaction?.amount, direction: 'debit' };
    case 'shipment.updated':
      return { texts: [[d.carrier, d.tracking_number].filter(Boolean).join(' · '), d.order_number && t('event.order', { number: d.order_number })].filter(Boolean), amounts: [] };
    default:
      return null;
  }
}

// search finds the events (seq order in, newest first out) where every
// word of the query occurs: in a text, or, for a word that reads as an
// amount, as an amount. Each result: {seq, type, title, titleRanges,
// text (the first other text that matched, if the title did not say it
// all), textRanges, money, direction, amountMatched, occurred_at}.
export function search(events, query, { limit = 50 } = {}) {
  const terms = String(query || '').trim().split(/\s+/).filter(Boolean);
  if (!terms.length) return { results: [], total: 0 };
  const results = [];
  for (let i = (events || []).length - 1; i >= 0; i--) {
    const e = events[i];
    const f = e && fields(e);
    if (!f) continue;
    let amountMatched = false;
    let ok = true;
    const textTerms = [];
    for (const term of terms) {
      const wanted = parseAmount(term);
      const inAmount = wanted && f.amounts.some((a) => amountMatches(wanted, a));
      const inText = f.texts.some((t) => ranges(t, [term]).length > 0);
      if (inAmount) amountMatched = true;
      if (inText) textTerms.push(term);
      if (!inAmount && !inText) { ok = false; break; }
    }
    if (!ok) continue;
    const [title, ...rest] = f.texts;
    const other = textTerms.length ? rest.find((t) => ranges(t, textTerms).length) : null;
    results.push({
      seq: e.seq, type: e.type, title, titleRanges: ranges(title, textTerms),
      text: other || null, textRanges: other ? ranges(other, textTerms) : [],
      money: f.money || null, direction: f.direction || null, amountMatched, occurred_at: e.occurred_at,
    });
  }
  return { results: results.slice(0, limit), total: results.length };
}
