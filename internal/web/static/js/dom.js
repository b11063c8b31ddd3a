// Building DOM without innerHTML: bank data is untrusted, so every string
// reaches the page as a text node or an attribute value, never as markup.

// h('a', {class: 'x', href: '#/', testid: 'y', onclick: fn}, 'text', child)
// Props: "class", "testid" (data-testid), "on<event>" listeners; anything
// else is an attribute (true → present, null/false/undefined → absent).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'testid') el.dataset.testid = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// clear(el, ...children) replaces el's contents.
export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}
