// The thread's search: a field under the header that finds merchants,
// amounts and words in what the device holds, lists the matches newest
// first with what matched marked, and brings the card into view when one
// is chosen. It works offline; when older history is not on the device
// yet it says so, and offers to load it.
import { h, clear } from '../dom.js';
import { cardTime, formatMoney, longDate } from '../format.js';
import * as store from '../store.js';
import { search } from '../search.js';
import { canLoadEarlier, loadEarlier } from '../history.js';
import { t } from '../i18n.js';

// marked draws text with the ranges found in <mark>.
function marked(text, ranges) {
  const out = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) out.push(text.slice(at, start));
    out.push(h('mark', {}, text.slice(start, end)));
    at = end;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

// searchPanel returns the panel and the header button that opens it.
// jump(seq) brings a card of the thread into view and gives it focus.
export function searchPanel({ id, jump }) {
  const panelId = `search-${id}`;
  const button = h('button', {
    type: 'button', class: 'link-button thread-tool', testid: 'search-button', 'aria-expanded': 'false', 'aria-controls': panelId,
  }, t('search.button'));
  const input = h('input', {
    type: 'search', id: `${panelId}-input`, testid: 'search-input', autocomplete: 'off', enterkeyhint: 'search',
    placeholder: t('search.placeholder'),
  });
  const close = h('button', { type: 'button', class: 'link-button', testid: 'search-close' }, t('common.close'));
  const status = h('p', { class: 'search-status muted', role: 'status', testid: 'search-status' });
  const list = h('ol', { class: 'search-results', testid: 'search-results', 'aria-label': t('search.results') });
  const backToResults = h('button', { type: 'button', class: 'link-button', testid: 'search-back', hidden: true }, t('search.back'));
  const moreNote = h('p', { class: 'search-more-note muted', testid: 'search-older' });
  const more = h('button', { type: 'button', class: 'button search-more-button', testid: 'search-load-more' }, t('search.load_more'));
  const moreBox = h('div', { class: 'search-more', hidden: true }, moreNote, more);
  const form = h('form', { class: 'search-form', role: 'search', 'aria-label': t('search.form') },
    h('label', { for: input.id, class: 'sr-only' }, t('search.label')), input, close);
  const el = h('section', { class: 'thread-search', id: panelId, testid: 'search-panel', hidden: true },
    form, status, list, backToResults, moreBox);

  let hit = null; // the card last brought into view

  function open(show = el.hidden) {
    el.hidden = !show;
    button.setAttribute('aria-expanded', String(show));
    if (show) {
      input.focus();
      run();
    } else {
      unmark();
      button.focus();
    }
  }
  function unmark() {
    hit?.classList.remove('search-hit');
    hit = null;
  }

  function run() {
    if (el.hidden) return;
    const query = input.value.trim();
    const { results, total } = search(store.visibleEvents(id), query);
    list.hidden = false;
    backToResults.hidden = true;
    clear(list, results.map((r) => h('li', {},
      h('button', { type: 'button', class: 'search-result', testid: 'search-result', 'data-seq': r.seq },
        h('span', { class: 'search-result-main' },
          h('span', { class: 'search-result-title' }, marked(r.title, r.titleRanges)),
          r.text && h('span', { class: 'search-result-text muted' }, marked(r.text, r.textRanges)),
          h('time', { class: 'search-result-time muted', datetime: r.occurred_at }, cardTime(r.occurred_at))),
        r.money && h('span', { class: `search-result-amount amount ${r.direction === 'credit' ? 'credit' : ''}` },
          r.amountMatched ? h('mark', {}, formatMoney(r.money, r.direction)) : formatMoney(r.money, r.direction))))));
    if (!query) status.textContent = '';
    else if (!total) status.textContent = t('search.none', { query });
    else if (total > results.length) status.textContent = t('search.some', { count: total, shown: results.length });
    else status.textContent = t('search.all', { count: total });
    const older = Boolean(query) && canLoadEarlier(id);
    moreBox.hidden = !older;
    if (older) {
      const first = store.visibleEvents(id)[0];
      moreNote.textContent = t('search.back_to', { date: longDate(first?.occurred_at) || t('search.oldest') });
    }
  }

  // reveal brings the card of an event into view, marked, and says
  // whether it is in the thread.
  function reveal(seq) {
    const thread = el.closest('[data-testid="thread"]');
    const card = thread?.querySelector(`.cards [data-key="seq:${Number(seq)}"]`);
    if (!card) return false;
    unmark();
    hit = card;
    card.classList.add('search-hit');
    if (!card.hasAttribute('tabindex')) card.tabIndex = -1; // focus goes to it, for screen readers
    jump(Number(seq));
    return true;
  }

  button.addEventListener('click', () => open());
  close.addEventListener('click', () => open(false));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    list.querySelector('button')?.focus();
  });
  input.addEventListener('input', run);
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      open(false);
    }
  });
  list.addEventListener('click', (e) => {
    const result = e.target.closest?.('[data-seq]');
    if (!result || !reveal(result.dataset.seq)) return;
    // On a small screen the matches would hide the card: fold them away
    // until the customer wants them back.
    list.hidden = true;
    backToResults.hidden = false;
    status.textContent = t('search.showing');
  });
  backToResults.addEventListener('click', () => {
    list.hidden = false;
    backToResults.hidden = true;
    (list.querySelector(`[data-seq="${hit?.dataset.seq}"]`) || list.querySelector('button'))?.focus();
  });
  more.addEventListener('click', async () => {
    more.disabled = true;
    status.textContent = t('search.loading');
    try {
      await loadEarlier(id);
      run();
    } catch (err) {
      status.textContent = t('search.load_failed', { reason: err.message });
    } finally {
      more.disabled = false;
    }
  });

  // New events, or history loaded elsewhere, are searched as they come,
  // while the matches are on screen.
  let queued = false;
  const unsubscribe = store.subscribe((change) => {
    if (el.hidden || list.hidden || change.conversationId !== id || queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; if (!list.hidden) run(); });
  });

  return { el, button, reveal, destroy: unsubscribe };
}
