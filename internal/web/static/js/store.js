// What the page knows: the signed-in customer, their conversations, and each
// conversation's events keyed by seq. Views subscribe and redraw what changed.

const conversations = new Map(); // id → conversation, as in /app/api/conversations
const events = new Map(); // conversation id → Map(seq → event)
const replaced = new Map(); // conversation id → Set of pending seqs replaced by a posted one
const answers = new Map(); // conversation id → Map(alert, rating request or card status seq → the customer's answer)
const known = new Map(); // conversation id → balance events the platform said were last known
const payments = new Map(); // conversation id → Map(payment id → its newest payment.status)
const listeners = new Set();
let readSeqs = {};

export const session = { customer: null, caughtUp: false };

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(change) {
  for (const fn of listeners) fn(change);
}

export function reset() {
  conversations.clear();
  events.clear();
  replaced.clear();
  answers.clear();
  known.clear();
  payments.clear();
  session.customer = null;
  session.caughtUp = false;
  readSeqs = {};
}

export function signIn(customer) {
  reset();
  session.customer = customer;
  try {
    readSeqs = JSON.parse(localStorage.getItem(readKey()) || '{}') || {};
  } catch {
    readSeqs = {};
  }
}

function readKey() {
  return `openteller.read.${session.customer?.id || ''}`;
}

export function setConversations(list) {
  for (const c of list || []) conversations.set(c.id, c);
  emit({ type: 'conversations' });
}

export function upsertConversation(c) {
  if (!c?.id) return;
  conversations.set(c.id, c);
  emit({ type: 'conversations', id: c.id });
}

export function conversation(id) {
  return conversations.get(id);
}

// conversationWith is the customer's conversation with an institution, if
// the device knows it.
export function conversationWith(institutionId) {
  for (const c of conversations.values()) if (institutionId && c.institution?.id === institutionId) return c;
  return null;
}

export function hasConversation(id) {
  return conversations.has(id);
}

// typing passes on that someone at the bank is typing in a conversation.
export function typing(conversationId, who) {
  emit({ type: 'typing', conversationId, who: String(who || '') });
}

export function setCaughtUp() {
  session.caughtUp = true;
  emit({ type: 'caught_up' });
}

// addEvent stores an event once; a seq already seen is dropped (delivery is
// at least once). A posted transaction hides the pending one it replaces,
// named by replaces_seq, or failing that found by reference_id.
export function addEvent(conversationId, event, { history = false } = {}) {
  const seq = Number(event?.seq);
  if (!conversationId || !Number.isSafeInteger(seq)) return false;
  if (!events.has(conversationId)) events.set(conversationId, new Map());
  const bySeq = events.get(conversationId);
  if (bySeq.has(seq)) return false;
  if (event.type === 'link.revoked' || event.type === 'link.expired' || event.type === 'history.cleared') {
    // The platform deleted what the link had brought in: so does this page.
    for (const old of [...bySeq.keys()]) if (old < seq) bySeq.delete(old);
    replaced.delete(conversationId);
    bySeq.set(seq, event);
    emit({ type: 'cleared', conversationId, event });
    return true;
  }
  if (event.type === 'link.narrowed') {
    // Events of the types the customer stopped sharing were deleted.
    const gone = new Set(event.data?.deleted_types || []);
    const removedSeqs = [];
    for (const [old, e] of bySeq) if (old < seq && gone.has(e.type)) { bySeq.delete(old); removedSeqs.push(old); }
    bySeq.set(seq, event);
    emit({ type: 'narrowed', conversationId, event, removedSeqs });
    return true;
  }
  bySeq.set(seq, event);

  const answered = event.type === 'fraud.response' ? event.data?.alert_seq
    : event.type === 'rating' ? event.data?.request_seq
      : event.type === 'card.action' ? event.data?.status_seq
        : event.type === 'payment.authorize' ? event.data?.request_seq : null;
  if (answered != null) {
    if (!answers.has(conversationId)) answers.set(conversationId, new Map());
    answers.get(conversationId).set(Number(answered), event);
  }
  if (event.type === 'payment.status' && event.data?.payment_id) {
    // A payment's card shows its newest status; one arriving late
    // (history) does not take a newer one's place.
    if (!payments.has(conversationId)) payments.set(conversationId, new Map());
    const newest = payments.get(conversationId).get(event.data.payment_id);
    if (!(newest?.seq > seq)) payments.get(conversationId).set(event.data.payment_id, event);
  }
  let replaces = null;
  const sameThing = event.type === 'shipment.updated' ? (e) => e.data?.shipment_id === event.data?.shipment_id
    : event.type === 'card.status' ? (e) => e.data?.card_id === event.data?.card_id : null;
  if (sameThing && (event.data?.shipment_id || event.data?.card_id)) {
    // One card per shipment, and per bank card, updated in place: the
    // newest hides the others.
    for (const [old, e] of bySeq) {
      if (old === seq || e.type !== event.type || !sameThing(e)) continue;
      if (!replaced.has(conversationId)) replaced.set(conversationId, new Set());
      if (old < seq) {
        replaced.get(conversationId).add(old);
        replaces = old;
      } else {
        replaced.get(conversationId).add(seq); // an older update arriving late (history)
      }
    }
  }
  if (event.type === 'transaction.posted' && event.data?.status === 'posted') {
    replaces = event.replaces_seq != null ? Number(event.replaces_seq) : pendingSeqFor(bySeq, event.data.reference_id);
    const target = replaces != null ? bySeq.get(replaces) : null;
    if (target && target.data?.status !== 'pending') replaces = null; // only a pending transaction is replaced
    if (replaces != null) {
      if (!replaced.has(conversationId)) replaced.set(conversationId, new Set());
      replaced.get(conversationId).add(replaces);
    }
  }
  emit({ type: 'event', conversationId, event, replaces, history });
  return true;
}

// lowestSeq is the oldest seq the page holds for a conversation, or null.
export function lowestSeq(conversationId) {
  const bySeq = events.get(conversationId);
  return bySeq?.size ? Math.min(...bySeq.keys()) : null;
}

function pendingSeqFor(bySeq, referenceId) {
  if (!referenceId) return null;
  for (const [seq, e] of bySeq) {
    if (e.type === 'transaction.posted' && e.data?.status === 'pending' && e.data.transaction_id === referenceId) return seq;
  }
  return null;
}

export function isReplaced(conversationId, seq) {
  return replaced.get(conversationId)?.has(Number(seq)) || false;
}

// cursors is the highest seq seen per conversation, for "resume".
export function cursors() {
  const out = {};
  for (const [id, bySeq] of events) {
    if (bySeq.size) out[id] = Math.max(...bySeq.keys());
  }
  return out;
}

// visibleEvents is a conversation's events in seq order, without the
// pending transactions that a posted one has replaced.
export function visibleEvents(conversationId) {
  const bySeq = events.get(conversationId);
  if (!bySeq) return [];
  return [...bySeq.values()]
    .filter((e) => !isReplaced(conversationId, e.seq))
    .sort((a, b) => a.seq - b.seq);
}

export function lastEvent(conversationId) {
  const list = visibleEvents(conversationId);
  return list[list.length - 1] || null;
}

// answerTo is the customer's answer to the fraud alert, rating request or
// card status at seq, if any.
export function answerTo(conversationId, seq) {
  return answers.get(conversationId)?.get(Number(seq)) || null;
}

// paymentStatus is the newest payment.status of the payment the
// conversation knows by paymentId, if any.
export function paymentStatus(conversationId, paymentId) {
  const e = paymentId ? payments.get(conversationId)?.get(paymentId) : null;
  return e && events.get(conversationId)?.has(e.seq) ? e : null;
}

// setKnownBalances keeps the balances the platform last stored, which may
// be older than the events this page holds.
export function setKnownBalances(conversationId, list) {
  known.set(conversationId, (list || []).filter((e) => e?.type === 'balance.updated'));
  emit({ type: 'balances', conversationId });
}

// latestBalances is the newest balance.updated per account, by seq.
export function latestBalances(conversationId) {
  const byAccount = new Map();
  const all = [...(known.get(conversationId) || []), ...visibleEvents(conversationId)];
  for (const e of all) {
    const id = e.type === 'balance.updated' && e.data?.account_id;
    if (id && !(byAccount.get(id)?.seq > e.seq)) byAccount.set(id, e);
  }
  return [...byAccount.values()];
}

// Unread: the bank said something after the last seq the customer saw here.
function lastBankSeq(conversationId) {
  const bySeq = events.get(conversationId);
  if (!bySeq || !bySeq.size) return Number(conversations.get(conversationId)?.last_seq) || 0;
  let last = 0;
  for (const [seq, e] of bySeq) if (e.author !== 'customer' && seq > last) last = seq;
  return last;
}

export function isUnread(conversationId) {
  return lastBankSeq(conversationId) > (readSeqs[conversationId] || 0);
}

export function markRead(conversationId) {
  const bySeq = events.get(conversationId);
  const seq = bySeq && bySeq.size ? Math.max(...bySeq.keys()) : 0;
  if (seq <= (readSeqs[conversationId] || 0)) return;
  readSeqs[conversationId] = seq;
  try {
    localStorage.setItem(readKey(), JSON.stringify(readSeqs));
  } catch {
    // private mode or full storage: unread dots just won't survive a reload
  }
  emit({ type: 'read', conversationId });
}

// conversationList is newest activity first.
export function conversationList() {
  const when = (c) => {
    const e = lastEvent(c.id);
    return e ? Date.parse(e.received_at || e.occurred_at) || 0 : 0;
  };
  return [...conversations.values()].sort(
    (a, b) => when(b) - when(a) || String(a.institution?.name).localeCompare(String(b.institution?.name)),
  );
}
