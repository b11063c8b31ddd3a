// What someone shared with you, read-only: one bank's balances and
// transactions of another OpenTeller customer, while they allow it. Each
// opening is written in their access history.
import { h, clear } from '../dom.js';
import { api } from '../api.js';
import { longDate } from '../format.js';
import { renderEvent } from './thread.js';
import { accountNames } from '../accounts.js';
import { t } from '../i18n.js';

export function delegatedView({ id }) {
  const title = h('h1', {}, t('list.shared'));
  const meta = h('p', { class: 'link-status' });
  const cards = h('ol', { class: 'cards', 'aria-label': t('delegated.cards') });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const el = h('section', { class: 'main-pane thread', testid: 'delegated', 'data-id': id },
    h('header', { class: 'pane-head thread-head' },
      h('a', { href: '#/', class: 'back', 'aria-label': t('common.back_to_conversations') }, '‹'),
      h('div', { class: 'thread-title' }, title, meta)),
    // Focusable, as the thread's is, so a keyboard can scroll it whatever
    // the cards hold (axe: scrollable-region-focusable).
    h('div', { class: 'thread-scroll', tabindex: '0', role: 'region', 'aria-label': t('thread.conversation') }, problem, cards),
    h('p', { class: 'muted read-only-note' }, t('delegated.note')));

  api('GET', `/delegations/${encodeURIComponent(id)}/events`).then((res) => {
    const d = res.delegation || {};
    title.textContent = t('delegated.title', { bank: d.institution || t('privacy.a_bank'), owner: d.owner || t('delegated.its_owner') });
    meta.textContent = t('delegated.until', { date: longDate(d.expires_at) });
    const names = accountNames(res.events || []);
    clear(cards, (res.events || []).map((e) => renderEvent(e, { names })));
  }, (err) => {
    problem.textContent = err.message;
    problem.hidden = false;
  });
  return { el };
}
