// The conversation list: one row per bank, newest activity first.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { initials, shortTime, summary } from '../format.js';
import * as store from '../store.js';
import { t } from '../i18n.js';

export function avatar(name) {
  // A stable colour per bank from a small palette defined in CSS.
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: `avatar tone-${hash % 6}`, 'aria-hidden': 'true' }, initials(name));
}

export function listView({ onSignOut }) {
  const rows = h('ul', { class: 'conv-list' });
  const loading = h('p', { class: 'list-status muted', testid: 'loading', role: 'status' }, t('list.loading'));
  const empty = h('p', { class: 'list-status muted', hidden: true }, t('list.empty'));
  // What other customers shared with this one, read-only.
  const shared = h('div', { class: 'shared-with-me', testid: 'shared-with-me' });
  api('GET', '/delegations').then((res) => {
    const live = (res.delegations || []).filter((d) => d.live);
    if (live.length) {
      clear(shared, h('h2', { class: 'list-status' }, t('list.shared')),
        h('ul', { class: 'conv-list' }, live.map((d) => h('li', {},
          h('a', { class: 'conv-row', href: `#/d/${encodeURIComponent(d.id)}`, testid: 'shared-row' },
            avatar(d.institution || '?'),
            h('span', { class: 'conv-text' }, h('span', { class: 'conv-name' }, d.institution), h('span', { class: 'conv-summary' }, t('list.shared_by', { owner: d.owner }))))))));
    }
  }, () => {});

  const el = h('nav', { class: 'list-pane', 'aria-label': t('list.label') },
    h('header', { class: 'pane-head' },
      h('div', { class: 'brand small' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'OT'), 'OpenTeller'),
      h('button', { type: 'button', class: 'link-button', onclick: onSignOut, testid: 'signout' }, t('list.signout')),
    ),
    h('div', { class: 'list-actions' },
      h('a', { href: '#/connect', class: 'button primary wide', testid: 'connect-button' }, t('list.connect')),
      h('a', { href: '#/privacy', class: 'button wide', testid: 'privacy-button' }, t('list.privacy')),
    ),
    loading,
    empty,
    rows,
    shared,
  );

  let activeId = null;
  // Rows are kept and updated in place: rebuilding them on every event
  // would swap the element under a finger mid-tap and lose the tap.
  const rowsById = new Map();

  function makeRow(id) {
    const r = {
      name: h('span', { class: 'conv-name' }),
      summary: h('span', { class: 'conv-summary' }),
      time: h('time', { class: 'conv-time' }),
      dot: h('span', { class: 'unread-dot' }, h('span', { class: 'sr-only' }, t('list.unread'))),
      avatarName: null,
    };
    r.avatar = h('span');
    r.link = h('a', { class: 'conv-row', href: `#/c/${encodeURIComponent(id)}`, testid: 'conversation-row', 'data-id': id },
      r.avatar,
      h('span', { class: 'conv-text' }, r.name, r.summary),
      h('span', { class: 'conv-side' }, r.time, r.dot),
    );
    r.el = h('li', {}, r.link);
    return r;
  }

  function fillRow(r, c) {
    const name = c.institution?.name || t('thread.your_bank_title');
    const last = store.lastEvent(c.id);
    const unread = store.isUnread(c.id) && c.id !== activeId;
    if (r.avatarName !== name) {
      const a = avatar(name);
      r.avatar.replaceWith(a);
      r.avatar = a;
      r.avatarName = name;
    }
    r.name.textContent = name;
    r.summary.textContent = last ? summary(last) : linkNote(c);
    r.time.textContent = last ? shortTime(last.received_at || last.occurred_at) : '';
    if (last?.occurred_at) r.time.setAttribute('datetime', last.occurred_at);
    r.dot.hidden = !unread;
    r.link.dataset.unread = unread ? 'true' : 'false';
    if (c.id === activeId) r.link.setAttribute('aria-current', 'page');
    else r.link.removeAttribute('aria-current');
  }

  function update(selected = activeId) {
    activeId = selected;
    const list = store.conversationList();
    const wanted = new Set(list.map((c) => c.id));
    for (const [id, r] of rowsById) {
      if (!wanted.has(id)) { r.el.remove(); rowsById.delete(id); }
    }
    const order = list.map((c) => {
      let r = rowsById.get(c.id);
      if (!r) { r = makeRow(c.id); rowsById.set(c.id, r); }
      fillRow(r, c);
      return r.el;
    });
    // Move rows only when the order changed (newest activity first).
    if (order.some((el, i) => rows.children[i] !== el) || rows.children.length !== order.length) {
      rows.replaceChildren(...order);
    }
    loading.hidden = store.session.caughtUp;
    empty.hidden = !store.session.caughtUp || list.length > 0;
  }

  return { el, update };
}

function linkNote(c) {
  const status = c.link?.status;
  if (!status || status === 'active') return t('list.connected');
  return ['revoked', 'expired'].includes(status) ? t(`list.link.${status}`) : status;
}
