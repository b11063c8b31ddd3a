// An institution's own colour and logo on its conversation. The platform
// serves both (GET /app/api/institutions): the logo from its own origin,
// never the bank's, and the text colour computed from the brand colour so
// that the header's text contrasts at least 4.5:1.
import { h } from './dom.js';
import { api } from './api.js';
import { avatar } from './views/list.js';

let brands = new Map(); // institution id → {color, text_color, logo}
let loading = null;

// loadBrands fetches the brands once per page; it resolves when they are
// known (or could not be fetched: then there are none, and the next call
// tries again).
export function loadBrands() {
  loading ??= api('GET', '/institutions').then((res) => {
    brands = new Map((res?.institutions || []).filter((i) => i.brand).map((i) => [i.id, i.brand]));
  }, () => { loading = null; });
  return loading;
}

export function brandOf(institutionId) {
  return brands.get(institutionId);
}

// brandMark is the institution's logo, or its initials when it has none.
export function brandMark(institutionId, name) {
  const b = brandOf(institutionId);
  if (!b?.logo) return avatar(name);
  // Decorative: the name is next to it.
  return h('img', { class: 'brand-logo', src: b.logo, alt: '', testid: 'brand-logo' });
}

// paintBrand gives el (a conversation's header) the institution's colour,
// with the text colour that reads on it, or takes them away.
export function paintBrand(el, institutionId) {
  const b = brandOf(institutionId);
  const on = Boolean(b?.color && b?.text_color);
  el.classList.toggle('branded', on);
  if (on) {
    el.style.setProperty('--brand', b.color);
    el.style.setProperty('--brand-text', b.text_color);
    el.dataset.brand = b.color;
  } else {
    el.style.removeProperty('--brand');
    el.style.removeProperty('--brand-text');
    delete el.dataset.brand;
  }
}
