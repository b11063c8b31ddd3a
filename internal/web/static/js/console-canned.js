// The reply box's canned responses: "/" at the start of the box or of a
// word lists the bank's canned responses; what follows narrows them by
// title ("/card" finds "Card lost"); ↑ and ↓ choose, Enter or Tab puts the
// chosen text in place of "/card", Esc closes the list. A button does the
// same for those who prefer to click.
import { h, clear } from './dom.js';
import { t } from './i18n.js';

let nextId = 0;

// cannedPicker(input, responses) → {list, status, openList}
// input: the reply's textarea; responses(): [{id, title, text}].
export function cannedPicker(input, responses) {
  const listId = `canned-${++nextId}`;
  const list = h('ul', { role: 'listbox', id: listId, class: 'canned-list', testid: 'console-canned-list', 'aria-label': t('console.canned.list'), hidden: true });
  const status = h('p', { class: 'sr-only', role: 'status' });
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-autocomplete', 'list');
  let shown = []; // the responses listed
  let active = 0;

  // token is the "/word" before the caret, if any.
  function token() {
    const caret = input.selectionStart ?? input.value.length;
    const before = input.value.slice(0, caret);
    const m = /(^|\s)\/([^\s/]*)$/.exec(before);
    return m ? { start: caret - m[2].length - 1, end: caret, query: m[2].toLowerCase() } : null;
  }

  const squash = (s) => s.toLowerCase().replace(/\s+/g, '');

  function matches(query) {
    const all = responses();
    if (!query) return all;
    return all.filter((r) => squash(r.title).includes(query) || r.title.toLowerCase().split(/\s+/).some((w) => w.startsWith(query)));
  }

  function isOpen() { return !list.hidden; }

  function close() {
    list.hidden = true;
    input.removeAttribute('aria-activedescendant');
    shown = [];
  }

  function render(tok) {
    shown = matches(tok.query);
    active = Math.min(active, Math.max(0, shown.length - 1));
    if (!responses().length) {
      clear(list, h('li', { class: 'canned-empty', role: 'option', 'aria-disabled': 'true' }, t('console.canned.none_yet')));
    } else if (!shown.length) {
      clear(list, h('li', { class: 'canned-empty', role: 'option', 'aria-disabled': 'true' }, t('console.canned.no_match', { query: tok.query })));
    } else {
      clear(list, shown.map((r, i) => h('li', {
        role: 'option', id: `${listId}-${i}`, class: 'canned-option', testid: 'console-canned-option', 'aria-selected': String(i === active),
        onmousedown: (e) => e.preventDefault(), // keep the caret in the reply
        onclick: () => { active = i; insert(); },
      }, h('strong', {}, r.title), h('span', { class: 'muted' }, r.text))));
    }
    list.hidden = false;
    if (shown.length) {
      input.setAttribute('aria-activedescendant', `${listId}-${active}`);
      list.children[active]?.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
    status.textContent = shown.length ? t('console.canned.status', { count: shown.length }) : t('console.canned.no_match_short');
  }

  function update() {
    const tok = token();
    if (tok) render(tok);
    else close();
  }

  function insert() {
    const tok = token();
    const r = shown[active];
    if (!tok || !r) return close();
    input.setRangeText(r.text, tok.start, tok.end, 'end');
    close();
    status.textContent = t('console.canned.inserted', { title: r.title });
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.focus();
  }

  input.addEventListener('input', () => { active = 0; update(); });
  input.addEventListener('click', update);
  input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) close(); }, 0));
  input.addEventListener('keydown', (e) => {
    if (!isOpen()) return;
    const move = (d) => { e.preventDefault(); if (shown.length) { active = (active + d + shown.length) % shown.length; update(); } };
    switch (e.key) {
      case 'ArrowDown': move(1); break;
      case 'ArrowUp': move(-1); break;
      case 'Enter':
      case 'Tab':
        if (shown.length) { e.preventDefault(); insert(); }
        break;
      case 'Escape':
        e.preventDefault();
        e.stopPropagation(); // closes the list, not the conversation
        close();
        break;
      default:
    }
  });

  // openList starts a "/" at the caret (or reopens one there) and lists.
  function openList() {
    input.focus();
    if (!token()) {
      const caret = input.selectionStart ?? input.value.length;
      const needsSpace = caret > 0 && !/\s/.test(input.value[caret - 1]);
      input.setRangeText(needsSpace ? ' /' : '/', caret, input.selectionEnd ?? caret, 'end');
    }
    active = 0;
    update();
  }

  return { list, status, openList };
}
