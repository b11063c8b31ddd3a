// The conversation list: one row per bank, newest activity first.
import { h, clear } from '../dom.js';
import { initials, shortTime, summary } from '../format.js';
import * as store from '../store.js';

export function avatar(name) {
  // A stable colour per bank from a small palette defined in CSS.
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: `avatar tone-${hash % 6}`, 'aria-hidden': 'true' }, initials(name));
}

export function listView({ onSignOut }) {
  const rows = h('ul', { class: 'conv-list' });
  const loading = h('p', { class: 'list-status muted', testid: 'loading', role: 'status' }, 'Loading your conversations…');
  const empty = h('p', { class: 'list-status muted', hidden: true },
    'No banks connected yet. Connect one to see your balances and transactions here.');
  const el = h('nav', { class: 'list-pane', 'aria-label': 'Conversations' },
    h('header', { class: 'pane-head' },
      h('div', { class: 'brand small' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'OT'), 'OpenTeller'),
      h('button', { type: 'button', class: 'link-button', onclick: onSignOut, testid: 'signout' }, 'Sign out'),
    ),
    h('div', { class: 'list-actions' },
      h('a', { href: '#/connect', class: 'button primary wide', testid: 'connect-button' }, 'Connect a bank'),
    ),
    loading,
    empty,
    rows,
  );

  let activeId = null;

  function row(c) {
    const name = c.institution?.name || 'Your bank';
    const last = store.lastEvent(c.id);
    const unread = store.isUnread(c.id) && c.id !== activeId;
    return h('li', {},
      h('a', {
        class: 'conv-row', href: `#/c/${encodeURIComponent(c.id)}`, testid: 'conversation-row',
        'data-id': c.id, 'data-unread': unread ? 'true' : 'false', 'aria-current': c.id === activeId ? 'page' : null,
      },
        avatar(name),
        h('span', { class: 'conv-text' },
          h('span', { class: 'conv-name' }, name),
          h('span', { class: 'conv-summary' }, last ? summary(last) : linkNote(c)),
        ),
        h('span', { class: 'conv-side' },
          h('time', { class: 'conv-time', datetime: last?.occurred_at }, last ? shortTime(last.received_at || last.occurred_at) : ''),
          unread && h('span', { class: 'unread-dot' }, h('span', { class: 'sr-only' }, 'Unread')),
        ),
      ),
    );
  }

  function update(selected = activeId) {
    activeId = selected;
    const focusedId = document.activeElement?.closest?.('.conv-row')?.dataset.id;
    const list = store.conversationList();
    clear(rows, list.map(row));
    if (focusedId) rows.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
    loading.hidden = store.session.caughtUp;
    empty.hidden = !store.session.caughtUp || list.length > 0;
  }

  return { el, update };
}

function linkNote(c) {
  return c.link?.status && c.link.status !== 'active' ? `Link ${c.link.status}` : 'Connected. Updates will appear here.';
}
