// Insights on one conversation (#/c/{id}/insights): whether a balance may
// run low in the next weeks, spending by month and by category (each
// chart drawn here in SVG, with a table of the same figures), charges that
// look doubled, and charges that come back, with their price rises. All of
// it is worked out in this page from the events the device holds
// (insights.js); when that is not enough history, older pages come from
// the conversation's history endpoint, and nothing else is asked of the
// server or left with it.
import { h, clear } from '../dom.js';
import { ago, cardTime, formatMoney, intl, longDate, mask } from '../format.js';
import { locale, t } from '../i18n.js';
import * as store from '../store.js';
import { group } from '../categories.js';
import {
  coverage, daysBetween, duplicates, forecast, money, recurring, spendingByCategory, spendingByMonth, toMinor, transactions,
} from '../insights.js';
import { canLoadEarlier, loadEarlier } from '../history.js';

const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86400000;
// Without being asked, the view fetches older history until it covers
// about three months, a few pages at most.
const WANTED_DAYS = 92;
const AUTO_PAGES = 10;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const monthLong = () => intl(Intl.DateTimeFormat, { month: 'long' });
const monthLongYear = () => intl(Intl.DateTimeFormat, { month: 'long', year: 'numeric' });
const monthShort = () => intl(Intl.DateTimeFormat, { month: 'short' });

function monthDate(key) {
  const [y, m] = key.split('-').map(Number);
  return new Date(y, m - 1, 15);
}
// monthName('2025-11') → "November" this year, "November 2025" before.
function monthName(key, now = new Date()) {
  const d = monthDate(key);
  return d.getFullYear() === now.getFullYear() ? monthLong().format(d) : monthLongYear().format(d);
}

const fmt = (minor, currency, direction) => formatMoney(money(minor, currency), direction);
const share = (part, whole) => (whole > 0n ? intl(Intl.NumberFormat, { style: 'percent' }).format(Number((part * 100n + whole / 2n) / whole) / 100) : '');
const lowerFirst = (s) => s.charAt(0).toLocaleLowerCase(locale()) + s.slice(1);

// timesWords: "twice", "three times", "4 times"… (English and other
// languages say the first few in words).
function timesWords(n) {
  return n >= 2 && n <= 4 ? t(`insights.times.${n}`) : t('insights.times.n', { count: n });
}

// inDays: "today", "tomorrow", "in 9 days".
function inDays(n) {
  return n <= 0 ? t('insights.today') : n === 1 ? t('insights.tomorrow') : t('insights.in_days', { count: n });
}

function lowMarkKey(account) {
  return `openteller.lowmark.${store.session.customer?.id || ''}.${account}`;
}

export function insightsView({ id }) {
  const title = h('h1', { id: `insights-title-${id}`, tabindex: '-1' }, t('thread.insights'));
  const bank = h('p', { class: 'link-status muted' });
  const head = h('header', { class: 'pane-head insights-head' },
    h('a', { href: `#/c/${encodeURIComponent(id)}`, class: 'back insights-back', 'aria-label': t('insights.back') }, '‹'),
    h('div', { class: 'thread-title' }, title, bank),
    h('a', { href: `#/c/${encodeURIComponent(id)}`, class: 'link-button insights-to-thread' }, t('thread.conversation')));
  const status = h('p', { class: 'insights-status muted', role: 'status', testid: 'insights-status' });
  const about = h('p', { class: 'insights-about', testid: 'insights-coverage' });
  const loadMore = h('button', { type: 'button', class: 'button', testid: 'insights-load-more', hidden: true }, t('insights.load_more'));
  const content = h('div', { class: 'insights-content' });
  const body = h('div', { class: 'pane-body insights-body' },
    h('div', { class: 'insights-intro' }, about, loadMore, status), content);
  const el = h('section', { class: 'main-pane insights', testid: 'insights', 'data-id': id, 'data-state': 'loading', 'aria-labelledby': title.id }, head, body);

  const chosenMonth = new Map(); // currency → the month its categories show
  let lastKey = '';

  function lowMarks() {
    const marks = new Map();
    for (const b of store.latestBalances(id)) {
      const account = b.data?.account_id;
      let saved = null;
      try { saved = localStorage.getItem(lowMarkKey(account)); } catch { /* private mode */ }
      const minor = saved == null ? null : toMinor(saved, b.data?.available?.currency);
      if (minor != null && minor >= 0n) marks.set(String(account), minor);
    }
    return marks;
  }

  function render(force = false) {
    const events = store.visibleEvents(id);
    const balances = store.latestBalances(id);
    const key = `${new Date().toDateString()}:${events.length}:${events[0]?.seq}:${events[events.length - 1]?.seq}:${balances.map((b) => b.seq).join(',')}:${canLoadEarlier(id)}`;
    if (!force && key === lastKey) return;
    lastKey = key;
    const c = store.conversation(id);
    const name = c?.institution?.name || t('thread.your_bank');
    bank.textContent = c?.institution?.name || '';

    const now = Date.now();
    const txns = transactions(events);
    const since = coverage(events);
    const series = recurring(txns, now);
    about.textContent = txns.length
      ? t('insights.about', { count: txns.length, bank: name, date: longDate(since) })
      : t('insights.about_none', { bank: name });
    loadMore.hidden = !canLoadEarlier(id);

    // Redrawn whole: focus goes back to the control that had it.
    const focused = el.contains(document.activeElement) && document.activeElement.id ? document.activeElement.id : null;
    clear(content,
      forecastSection(forecast(txns, balances, series, { now, since: since ?? now, lowMarks: lowMarks() }), name),
      spendingSections(txns, now),
      duplicatesSection(duplicates(txns), name),
      recurringSection(series, now));
    if (focused) document.getElementById(focused)?.focus();
  }

  // Low balance watch, one account at a time.
  function forecastSection(list, name) {
    // What needs attention first: low now, then soonest low.
    const rank = { 'low-now': 0, 'runs-low': 1, short: 2, ok: 3 };
    const ordered = [...list].sort((a, b) => rank[a.status] - rank[b.status] || (a.runsLow?.at ?? 0) - (b.runsLow?.at ?? 0));
    const items = ordered.map((f) => {
      const low = fmt(f.low, f.currency);
      let line;
      if (f.status === 'low-now') line = t('insights.forecast.low_now', { low, amount: fmt(f.start, f.currency) });
      else if (f.status === 'short') line = t('insights.forecast.short');
      else if (f.status === 'runs-low') {
        line = t('insights.forecast.runs_low', { low, date: longDate(f.runsLow.at), when: inDays(f.runsLow.inDays), amount: fmt(f.runsLow.minor, f.currency) });
      } else if (f.lowest.minor < f.start) {
        line = t('insights.forecast.stays_lowest', { low, count: f.horizonDays / 7, amount: fmt(f.lowest.minor, f.currency), date: longDate(f.lowest.at) });
      } else line = t('insights.forecast.stays', { low, count: f.horizonDays / 7 });
      const assumptions = f.status === 'short' ? [] : [
        t('insights.assume.start', { amount: fmt(f.start, f.currency), bank: name, ago: ago(f.asOf) }),
        f.spent > 0n
          ? t('insights.assume.spending', { count: f.windowDays, amount: fmt(f.spent, f.currency), daily: fmt(f.dailyRate, f.currency) })
          : t('insights.assume.no_spending', { count: f.windowDays }),
        ...(f.scheduled.length
          ? f.scheduled.map((s) => t(s.direction === 'credit' ? 'insights.assume.coming_in' : 'insights.assume.going_out',
            { what: s.title, amount: fmt(s.minor, f.currency, s.direction === 'credit' ? 'credit' : undefined), date: longDate(s.at) }))
          : [t('insights.assume.none_due')]),
        t('insights.assume.pending'),
        t('insights.assume.estimate'),
      ];
      const input = h('input', {
        type: 'text', inputmode: 'decimal', id: `low-${id}-${f.account}`, testid: 'low-mark-input', value: money(f.low, f.currency).amount,
        autocomplete: 'off', size: '8',
      });
      const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
      const form = h('form', { class: 'low-mark' },
        h('label', { for: input.id }, t('insights.low_mark', { currency: f.currency })), h('div', { class: 'inline-field' }, input, h('button', { type: 'submit', class: 'button' }, t('insights.update'))), error);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const minor = toMinor(input.value.trim().replace(/^[^\d]+/, ''), f.currency);
        if (minor == null || minor < 0n) {
          error.textContent = t('insights.amount_example', { example: money(f.low, f.currency).amount });
          error.hidden = false;
          return;
        }
        try { localStorage.setItem(lowMarkKey(f.account), money(minor, f.currency).amount); } catch { /* kept for this visit only */ }
        render(true);
        el.querySelector(`[data-testid="forecast"][data-account="${CSS.escape(f.account)}"] .forecast-line`)?.focus();
      });
      return h('li', { class: `insight-card forecast forecast-${f.status}`, testid: 'forecast', 'data-account': f.account, 'data-status': f.status },
        h('h3', {}, f.name || t('thread.account'), f.mask ? h('span', { class: 'mask' }, ` ${mask(f.mask)}`) : null),
        h('p', { class: 'forecast-line', tabindex: '-1' }, line),
        assumptions.length > 0 && h('details', { class: 'assumptions', open: true },
          h('summary', {}, t('insights.assumes')),
          h('ul', { testid: 'forecast-assumptions' }, assumptions.map((a) => h('li', {}, a)))),
        form);
    });
    return h('section', { class: 'insights-section', 'aria-labelledby': `forecast-${id}` },
      h('h2', { id: `forecast-${id}` }, t('insights.forecast')),
      items.length
        ? h('ul', { class: 'insight-list' }, items)
        : h('p', { class: 'muted' }, t('insights.forecast.none')));
  }

  // Spending by month and by category, one block per currency.
  function spendingSections(txns, now) {
    const byMonth = spendingByMonth(txns);
    const nowDate = new Date(now);
    return h('section', { class: 'insights-section', 'aria-labelledby': `spending-${id}` },
      h('h2', { id: `spending-${id}` }, t('insights.spending')),
      byMonth.length === 0 && h('p', { class: 'muted' }, t('insights.spending.none')),
      byMonth.map(({ currency, months, total }) => {
        const spentMonths = months.filter((m) => m.spent !== 0n);
        if (!spentMonths.length) return null;
        const fallback = spentMonths[spentMonths.length - 1].month;
        const month = months.some((m) => m.month === chosenMonth.get(currency)) ? chosenMonth.get(currency) : fallback;
        const cat = spendingByCategory(txns, month).find((x) => x.currency === currency);
        return h('div', { class: 'spending-currency', testid: 'spending', 'data-currency': currency },
          byMonth.length > 1 && h('h3', {}, t('insights.in_currency', { currency })),
          monthFigure(currency, months, total, nowDate),
          categoryFigure(currency, months, month, cat, nowDate));
      }));
  }

  function monthFigure(currency, months, total, now) {
    const shown = months.slice(-12);
    const max = shown.reduce((m, r) => (r.spent > m ? r.spent : m), 0n);
    const width = 320;
    const height = 150;
    const slot = width / shown.length;
    const barWidth = Math.min(36, slot * 0.6);
    const top = 10;
    const base = 124;
    const bars = shown.map((r, i) => {
      const tall = max > 0n && r.spent > 0n ? Math.max(1, Number((r.spent * 1000n) / max) * (base - top) / 1000) : 0;
      const x = slot * i + (slot - barWidth) / 2;
      return svg('g', {},
        svg('rect', { class: 'chart-bar', 'data-month': r.month, x: x.toFixed(1), y: (base - tall).toFixed(1), width: barWidth.toFixed(1), height: tall.toFixed(1), rx: 3 }),
        svg('text', { class: 'chart-label', x: (slot * i + slot / 2).toFixed(1), y: base + 16, 'text-anchor': 'middle' }, monthShort().format(monthDate(r.month))));
    });
    const tableId = `months-${id}-${currency}`;
    return h('figure', { class: 'chart-figure', testid: 'month-chart', 'data-currency': currency },
      h('figcaption', {}, t('insights.by_month', { currency })),
      svg('svg', {
        class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'data-table': tableId,
        'aria-label': t('insights.by_month.chart', { currency, count: shown.length }),
      }, svg('line', { class: 'chart-axis', x1: 0, x2: width, y1: base, y2: base }), bars),
      h('table', { class: 'insights-table', id: tableId, testid: 'month-table', 'data-currency': currency },
        h('caption', { class: 'sr-only' }, t('insights.by_month.caption', { currency })),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('insights.month')), h('th', { scope: 'col', class: 'num' }, t('insights.spent')))),
        h('tbody', {}, shown.map((r) => h('tr', { 'data-month': r.month },
          h('th', { scope: 'row' }, monthName(r.month, now)), h('td', { class: 'num' }, fmt(r.spent, currency))))),
        h('tfoot', {}, h('tr', {},
          h('th', { scope: 'row' }, shown.length === months.length ? t('insights.in_all') : t('insights.in_all_months', { count: months.length })),
          h('td', { class: 'num', testid: 'month-total' }, fmt(total, currency))))));
  }

  function categoryFigure(currency, months, month, cat, now) {
    const choices = months.filter((m) => m.spent !== 0n).map((m) => m.month).reverse();
    const select = h('select', { id: `month-${id}-${currency}`, testid: 'category-month' },
      choices.map((m) => h('option', { value: m, selected: m === month }, monthName(m, now))));
    select.addEventListener('change', () => {
      chosenMonth.set(currency, select.value);
      render(true);
    });
    const groups = cat?.groups || [];
    const top = groups[0];
    const when = monthName(month, now);
    const rowHeight = 34;
    const width = 320;
    const max = groups.reduce((m, g) => (g.spent > m ? g.spent : m), 0n);
    const tableId = `categories-${id}-${currency}`;
    return h('figure', { class: 'chart-figure', testid: 'category-chart', 'data-currency': currency, 'data-month': month },
      h('figcaption', {}, t('insights.by_category', { month: when })),
      choices.length > 1 && h('p', { class: 'month-choice' }, h('label', { for: select.id }, `${t('insights.month')} `), select),
      top && h('p', { class: 'insights-headline', testid: 'category-headline' },
        groups.length > 1
          ? t('insights.headline_of', { amount: fmt(top.spent, currency), category: lowerFirst(top.name), month: when, total: fmt(cat.total, currency) })
          : t('insights.headline', { amount: fmt(top.spent, currency), category: lowerFirst(top.name), month: when })),
      groups.length > 0 && svg('svg', {
        class: 'chart', viewBox: `0 0 ${width} ${groups.length * rowHeight + 4}`, role: 'img', 'data-table': tableId,
        'aria-label': t('insights.by_category.chart', { month: when, currency }),
      }, groups.map((g, i) => {
        const y = i * rowHeight;
        const long = max > 0n && g.spent > 0n ? Math.max(1, Number((g.spent * 1000n) / max) * width / 1000) : 0;
        return svg('g', {},
          svg('text', { class: 'chart-label', x: 0, y: y + 13 }, g.name),
          svg('text', { class: 'chart-label', x: width, y: y + 13, 'text-anchor': 'end' }, fmt(g.spent, currency)),
          svg('rect', { class: `chart-bar group-${g.id}`, x: 0, y: y + 18, width: long.toFixed(1), height: 10, rx: 3 }));
      })),
      groups.length > 0 && h('table', { class: 'insights-table', id: tableId, testid: 'category-table', 'data-currency': currency },
        h('caption', { class: 'sr-only' }, t('insights.by_category.caption', { month: when, currency })),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('insights.category')), h('th', { scope: 'col', class: 'num' }, t('insights.spent')),
          h('th', { scope: 'col', class: 'num' }, t('insights.share')))),
        h('tbody', {}, groups.map((g) => h('tr', { 'data-group': g.id },
          h('th', { scope: 'row' }, g.name), h('td', { class: 'num' }, fmt(g.spent, currency)), h('td', { class: 'num' }, share(g.spent, cat.total))))),
        h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, t('insights.in_all')), h('td', { class: 'num', testid: 'category-total' }, fmt(cat.total, currency)), h('td', {})))),
      cat?.transfers > 0n && h('p', { class: 'muted', testid: 'transfers-note' },
        t('insights.transfers', { amount: fmt(cat.transfers, currency), category: lowerFirst(group('transfers').name) })));
  }

  function seeLinks(items) {
    return h('p', { class: 'see-links' }, items.map((item, i) => [i > 0 && ' · ',
      h('a', { href: `#/c/${encodeURIComponent(id)}?seq=${item.seq}`, testid: 'see-in-thread' }, t('insights.see_charge', { time: cardTime(item.at) }))]));
  }

  function duplicatesSection(list, name) {
    return h('section', { class: 'insights-section', 'aria-labelledby': `duplicates-${id}` },
      h('h2', { id: `duplicates-${id}` }, t('insights.duplicates')),
      list.length === 0
        ? h('p', { class: 'muted', testid: 'no-duplicates' }, t('insights.duplicates.none'))
        : h('ul', { class: 'insight-list' }, list.map((d) => {
          const first = d.items[0];
          const last = d.items[d.items.length - 1];
          const apart = last.at - first.at;
          const gap = apart < 3600000
            ? t('insights.duplicates.min_apart', { count: Math.max(1, Math.round(apart / 60000)) })
            : t('insights.duplicates.hr_apart', { count: Math.round(apart / 3600000) });
          return h('li', { class: 'insight-card', testid: 'duplicate', 'data-merchant': d.merchant },
            h('p', {}, h('strong', {}, d.merchant),
              ` ${t('insights.duplicates.charged', { amount: fmt(d.minor, d.currency), times: timesWords(d.items.length), date: longDate(first.at), gap })}`),
            h('p', { class: 'muted' }, t('insights.duplicates.ask', { bank: name })),
            seeLinks(d.items));
        })));
  }

  function recurringSection(list, now) {
    const rises = list.filter((s) => s.increase && s.direction === 'debit');
    return h('section', { class: 'insights-section', 'aria-labelledby': `recurring-${id}` },
      h('h2', { id: `recurring-${id}` }, t('insights.recurring')),
      rises.length > 0 && h('ul', { class: 'insight-list rises' }, rises.map((s) => h('li', { class: 'insight-card rise', testid: 'increase', 'data-merchant': s.title },
        h('p', {}, h('strong', {}, s.title),
          ` ${t('insights.rise', { from: fmt(s.increase.from, s.currency), to: fmt(s.increase.to, s.currency), date: longDate(s.increase.since) })}`)))),
      list.length === 0
        ? h('p', { class: 'muted', testid: 'no-recurring' }, t('insights.recurring.none'))
        : h('ul', { class: 'insight-list' }, list.map((s) => {
          const due = daysBetween(now, s.next);
          const next = t(due < 0 ? 'insights.recurring.was_due' : 'insights.recurring.next', { date: longDate(s.next) });
          return h('li', { class: 'insight-card', testid: 'recurring', 'data-merchant': s.title, 'data-cadence': s.cadence },
            h('p', {}, h('strong', {}, s.title), ` · ${t(s.direction === 'credit' ? 'insights.recurring.line_in' : 'insights.recurring.line',
              { amount: fmt(s.minor, s.currency, s.direction === 'credit' ? 'credit' : undefined), cadence: t(`insights.cadence.${s.cadence}`) })}`),
            h('p', { class: 'muted' }, t('insights.recurring.seen', { count: s.items.length, date: longDate(s.last), next })));
        })));
  }

  // Enough history: fetch older pages until about three months are held.
  let autoLoaded = false;
  async function fill() {
    if (autoLoaded) return;
    autoLoaded = true;
    let pages = 0;
    try {
      while (pages < AUTO_PAGES && canLoadEarlier(id)) {
        const since = coverage(store.visibleEvents(id));
        if (since != null && since <= Date.now() - WANTED_DAYS * DAY_MS) break;
        status.textContent = t('insights.loading');
        pages++;
        await loadEarlier(id);
      }
      status.textContent = '';
    } catch (err) {
      status.textContent = t('insights.load_failed_shown', { reason: err.message });
    }
    el.dataset.state = 'ready';
    render();
  }
  loadMore.addEventListener('click', async () => {
    loadMore.disabled = true;
    status.textContent = t('insights.loading');
    try {
      await loadEarlier(id);
      status.textContent = '';
    } catch (err) {
      status.textContent = t('insights.load_failed', { reason: err.message });
    } finally {
      loadMore.disabled = false;
      render();
    }
  });

  let queued = false;
  const unsubscribe = store.subscribe((change) => {
    if (change.type === 'caught_up') fill();
    const mine = change.conversationId === id || change.type === 'conversations' || change.type === 'caught_up';
    if (!mine || queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; render(); });
  });
  render(true);
  if (store.session.caughtUp) fill();
  const ticker = setInterval(render, 60000); // a new day: "today", "in 3 days" stay true

  return {
    el,
    focus: () => title.focus({ preventScroll: true }),
    destroy() {
      unsubscribe();
      clearInterval(ticker);
    },
  };
}
