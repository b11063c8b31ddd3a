// What someone shared with you, read-only: one bank's balances and
// transactions of another OpenTeller customer, while they allow it. Each
// opening is written in their access history.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { longDate } from '../format.js';
import { renderEvent } from './thread.js';
import { accountNames } from '../accounts.js';

export function delegatedView({ id }) {
  const title = h('h1', {}, 'Shared with you');
  const meta = h('p', { class: 'link-status' });
  const cards = h('ol', { class: 'cards', 'aria-label': 'Shared balances and transactions' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const el = h('section', { class: 'main-pane thread', testid: 'delegated', 'data-id': id },
    h('header', { class: 'pane-head thread-head' },
      h('a', { href: '#/', class: 'back', 'aria-label': 'Back to conversations' }, '‹'),
      h('div', { class: 'thread-title' }, title, meta)),
    h('div', { class: 'thread-scroll' }, problem, cards),
    h('p', { class: 'muted read-only-note' }, 'Read-only: you can look, not write. The owner sees each time you open this.'));

  api('GET', `/delegations/${encodeURIComponent(id)}/events`).then((res) => {
    const d = res.delegation || {};
    title.textContent = `${d.institution || 'A bank'} · shared by ${d.owner || 'its owner'}`;
    meta.textContent = `Read-only · until ${longDate(d.expires_at)}`;
    const names = accountNames(res.events || []);
    clear(cards, (res.events || []).map((e) => renderEvent(e, { names })));
  }, (err) => {
    problem.textContent = err.message;
    problem.hidden = false;
  });
  return { el };
}
