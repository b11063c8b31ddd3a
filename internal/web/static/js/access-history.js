// The access history in plain words: who read the customer's data, what
// and when, one line for each sitting rather than one for each request
// (an agent with a conversation open reads it again with every message).
// Grouping is for reading only: each entry is still checked on its own
// against the log (views/privacy.js, tlog.js), and a line is verified only
// when every entry in it is.
import { h } from './dom.js';
import { intl } from './format.js';
import { t } from './i18n.js';

// SITTING_GAP_MS: reads by the same person further apart than this are
// two sittings, two lines.
export const SITTING_GAP_MS = 30 * 60 * 1000;


// groupReads takes the customer's reads, oldest first, each
// {entry (the log entry, decoded), actor (its name, from the server, or
// none), ok (its proof checked)}, and returns the sittings, newest first:
// each a run of reads by one actor, none more than gap after the one
// before, as {kind, actor, records, from, to, count, ok}.
export function groupReads(reads, gap = SITTING_GAP_MS) {
  const sittings = [];
  let s = null;
  for (const { entry: e = {}, actor, ok } of reads) {
    const at = Date.parse(e.at);
    // An entry with no readable time or actor is a line of its own.
    const same = s && e.actor_kind && s.kind === e.actor_kind && s.id === e.actor_id && at - s.last <= gap;
    if (!same) {
      s = { kind: e.actor_kind, id: e.actor_id, actor, records: [], from: e.at, to: e.at, last: at, count: 0, ok: true };
      sittings.push(s);
    }
    s.to = e.at;
    s.last = at;
    s.count++;
    s.ok = s.ok && Boolean(ok);
    if (!s.records.includes(e.record_kind)) s.records.push(e.record_kind);
  }
  return sittings.reverse();
}

// who names the reader: "Ada at Cedar Bank", "sam@example.com, who you
// shared with", or the kind of reader when the name is not known.
export function who(kind, actor) {
  if (kind === 'agent' && actor?.name) return t('access.agent_at', { name: actor.name, bank: actor.institution || t('thread.your_bank') });
  if (kind === 'delegate' && actor?.name) return t('access.delegate_named', { name: actor.name });
  if (kind === 'agent' || kind === 'delegate') return t(`access.actor.${kind}`);
  return t('access.someone');
}

// records says what was read: "your balances and transactions and your
// conversation".
function records(kinds) {
  const words = kinds.map((r) => t(['events', 'conversation', 'notes', 'accounts', 'display_name'].includes(r) ? `access.record.${r}` : 'access.record.other'));
  return intl(Intl.ListFormat, { type: 'conjunction' }).format(words);
}

// span says when a sitting was: "Mar 4, 2026, 2:05 PM", or
// "Mar 4, 2026, 2:05 – 2:40 PM" when it lasted minutes.
function span(from, to) {
  const when = intl(Intl.DateTimeFormat, { dateStyle: 'medium', timeStyle: 'short' });
  const a = new Date(from);
  const b = new Date(to);
  if (Number.isNaN(a.getTime())) return '';
  if (Number.isNaN(b.getTime()) || when.format(a) === when.format(b)) return when.format(a);
  try {
    return when.formatRange(a, b);
  } catch {
    return `${when.format(a)} – ${when.format(b)}`;
  }
}

// sittingRow is one line of the history.
export function sittingRow(s) {

  return h('li', { class: 'privacy-receipt', testid: 'access', 'data-verified': s.ok ? 'true' : 'false', 'data-entries': s.count, 'data-actor': s.kind || '' },
    h('p', {}, h('strong', { testid: 'access-who' }, who(s.kind, s.actor)), ` ${t('access.read', { what: records(s.records) })}`),
    h('p', { class: 'muted' }, h('time', { datetime: s.from, testid: 'access-when' }, span(s.from, s.to)),
      s.count > 1 ? ` · ${t('insights.times.n', { count: s.count })}` : ''),
    h('p', { class: s.ok ? 'verified' : 'unverified' }, t(s.ok ? 'access.verified' : 'access.not_verified')));
}

// explainVerified says what the ticks mean, in a disclosure.
export function explainVerified() {
  return h('details', { class: 'log-explain', testid: 'verified-explain' },
    h('summary', {}, t('access.explain.summary')),
    h('p', {}, t('access.explain')));
}
