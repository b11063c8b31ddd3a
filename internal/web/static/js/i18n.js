// The words of the interface, in the language the person reads. Every
// sentence the messenger and the console show comes from here, by key
// (internal/i18n/catalogues/*.json, one per language); what a bank sends
// is shown as it wrote it, never looked up.
//
// Which language: the person's own choice, kept in a cookie so that the
// server can answer in it too; else the browser's languages; else English.
// A customer's choice is kept with their account as well: signing in sets
// the cookie from it, and the page follows it (app.js), so it is theirs on
// every device. The server picks the same way (i18n.FromRequest) and
// inlines that language's catalogue in the page (<script
// type="application/json" id="i18n">), so the first screen is drawn in it
// at once, with no request of its own. Choosing another language fetches
// one catalogue (/i18n/<code>.json) and tells the page (onLanguage), which
// draws itself again.
//
// The catalogue the server sends is complete: where a translation lacks a
// message, English fills it in. Dates, numbers and money are formatted
// with Intl in the same language (locale()).

const COOKIE = 'openteller_lang';
const PUSH_CACHE = 'openteller-i18n'; // the words the service worker shows pushes in

let lang = 'en';
let dir = 'ltr';
let messages = {};
let languages = [{ code: 'en', name: 'English', dir: 'ltr' }];
let plurals = null;
const listeners = new Set();

function apply(catalogue) {
  lang = catalogue.lang;
  dir = catalogue.dir === 'rtl' ? 'rtl' : 'ltr';
  messages = catalogue.messages || {};
  languages = catalogue.languages?.length ? catalogue.languages : languages;
  plurals = null;
  document.documentElement.lang = lang;
  document.documentElement.dir = dir;
  rememberForPushes();
}

// saved is the language the person chose on this browser, if any.
function saved() {
  const m = /(?:^|;\s*)openteller_lang=([a-z]{2,3})(?:;|$)/.exec(document.cookie);
  return m ? m[1] : '';
}

function save(code) {
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${COOKIE}=${code}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
}

async function fetchCatalogue(code) {
  const res = await fetch(`/i18n/${encodeURIComponent(code)}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`i18n: ${code}: HTTP ${res.status}`);
  return res.json();
}

// The page normally carries its catalogue. Without one (a page not served
// by OpenTeller's server), it is fetched: the saved choice, else the
// browser's first language, else English.
function inlined() {
  try {
    return JSON.parse(document.getElementById('i18n')?.textContent || 'null');
  } catch {
    return null;
  }
}
const first = inlined();
if (first?.messages) apply(first);

// ready resolves once a catalogue is in use: at once when the page carried
// one, else after fetching it.
export const ready = first?.messages ? Promise.resolve() : (async () => {
  const wanted = [saved(), ...(navigator.languages || []).map((l) => l.split('-')[0].toLowerCase()), 'en'].filter(Boolean);
  for (const code of wanted) {
    try {
      apply(await fetchCatalogue(code));
      return;
    } catch { /* the next one */ }
  }
})();

// language is the code of the language in use: "en", "fr", …
export function language() {
  return lang;
}

// languages lists the languages one can choose: [{code, name, dir}], each
// name in its own language.
export function choices() {
  return languages;
}

// locale is the locale for Intl: the browser's own variant of the language
// in use when it has one ("en-GB", "fr-CA"), else the language.
export function locale() {
  const own = (navigator.languages || []).find((l) => l.split('-')[0].toLowerCase() === lang);
  return own || lang;
}

function pluralRules() {
  plurals ??= new Intl.PluralRules(locale());
  return plurals;
}

const numbers = new Map();
function formatNumber(n) {
  const key = locale();
  if (!numbers.has(key)) numbers.set(key, new Intl.NumberFormat(key));
  return numbers.get(key).format(n);
}

// t('thread.menu.balance') → "Balance"; t('privacy.log.checked', {count: 3})
// picks the plural form for 3. Variables fill {name}; numbers are
// formatted for the language. A key the catalogue lacks comes back as
// itself (TestCatalogueKeys keeps that from happening).
export function t(key, vars = {}) {
  let m = messages[key];
  if (m == null) return key;
  if (typeof m === 'object') m = m[pluralRules().select(Number(vars.count))] ?? m.other;
  return m.replace(/\{(\w+)\}/g, (all, name) => {
    const v = vars[name];
    if (v == null) return all;
    return typeof v === 'number' ? formatNumber(v) : String(v);
  });
}

// has says whether the catalogue has a message for key (for keys made from
// data, such as an error's code).
export function has(key) {
  return messages[key] != null;
}

// onLanguage(fn) calls fn after the language changes; it returns a
// function that stops that.
export function onLanguage(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// setLanguage switches to code: fetches its catalogue, remembers the
// choice in the cookie (so the server answers in it too), and tells the
// page, which draws itself again. remember(code), when given, keeps the
// choice elsewhere too (the customer's account) once the catalogue is
// here; if it fails, nothing changes and its error is thrown.
export async function setLanguage(code, { remember = null } = {}) {
  const catalogue = await fetchCatalogue(code);
  if (remember) await remember(catalogue.lang);
  save(catalogue.lang);
  apply(catalogue);
  for (const fn of [...listeners]) fn(lang);
}

// The service worker shows pushes while no page is open: it reads the
// words for them from the Cache API, where the page leaves them.
function rememberForPushes() {
  if (!('caches' in window)) return;
  const words = { lang };
  for (const [k, v] of Object.entries(messages)) if (k.startsWith('push.')) words[k] = v;
  caches.open(PUSH_CACHE)
    .then((cache) => cache.put('/i18n/push-words.json', new Response(JSON.stringify(words), { headers: { 'Content-Type': 'application/json' } })))
    .catch(() => {}); // without it, pushes are in the server's words
}
