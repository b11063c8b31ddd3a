// Older events of a conversation, a page at a time, from the existing
// history endpoint (GET /app/api/conversations/{id}/events?before=), for
// the insights and the search. What comes back joins the store like any
// history the thread loads; nothing else is asked of the server.
import { api } from './api.js';
import * as store from './store.js';

const ENDED = ['history.cleared', 'link.revoked', 'link.expired'];
const exhausted = new Map(); // conversation id → the lowest seq when the server said there was no more
const loading = new Map(); // conversation id → the page being fetched

// canLoadEarlier says whether older events may exist that the device does
// not hold: not when it holds the first, nor when history starts at a
// clearing or an ended link, nor when the server said that was all.
export function canLoadEarlier(id) {
  const low = store.lowestSeq(id);
  if (low == null || low <= 1 || exhausted.get(id) === low) return false;
  const first = store.visibleEvents(id)[0];
  return !ENDED.includes(first?.type);
}

// loadEarlier fetches the page before the oldest event held and adds it to
// the store; it resolves to whether more may remain. One page at a time
// per conversation: a second call while one is on its way shares it.
export function loadEarlier(id) {
  if (loading.has(id)) return loading.get(id);
  const low = store.lowestSeq(id);
  const page = api('GET', `/conversations/${encodeURIComponent(id)}/events?before=${low ?? ''}`)
    .then((res) => {
      for (const e of res?.events || []) store.addEvent(id, e, { history: true });
      if (!res?.more || !res?.events?.length) exhausted.set(id, store.lowestSeq(id));
      return canLoadEarlier(id);
    })
    .finally(() => loading.delete(id));
  loading.set(id, page);
  return page;
}
