// The language picker: the languages OpenTeller speaks, each named in
// itself ("Français"), so that someone who cannot read the page's current
// language still finds their own. Choosing one switches the page at once
// (i18n.js setLanguage, then the page draws itself again) and is
// remembered on this browser, and, where the picker is given remember
// (the messenger's privacy center), on the customer's account.
import { h } from './dom.js';
import { choices, language, setLanguage, t } from './i18n.js';

// languagePicker({id, label}) → a labelled select (label: the label's
// words, "Language" unless given; note: words under it). onChosen(code)
// runs after the switch, for a page that draws itself again by other
// means. remember(code), a promise, keeps the choice beyond this browser
// before the page switches; when it fails the page stays as it was and
// says why.
export function languagePicker({ id = 'language', testid = 'language-picker', label = '', note = '', onChosen = null, remember = null } = {}) {
  const select = h('select', { id, testid, autocomplete: 'off', 'aria-describedby': note ? `${id}-note` : null },
    choices().map((l) => h('option', { value: l.code, lang: l.code, selected: l.code === language() }, l.name)));
  const error = h('p', { class: 'form-error', role: 'alert', testid: `${testid}-error`, hidden: true });
  // Not disabled while the catalogue loads: a disabled control loses focus,
  // and the page puts focus back on the picker it draws again.
  select.addEventListener('change', async () => {
    error.hidden = true;
    select.setAttribute('aria-busy', 'true');
    try {
      await setLanguage(select.value, { remember });
      onChosen?.(select.value);
    } catch (err) {
      select.value = language();
      // The server's refusal (api.js: said in this language), else the
      // catalogue's that could not be loaded.
      error.textContent = err?.code ? err.message : t('language.error');
      error.hidden = false;
    } finally {
      select.removeAttribute('aria-busy');
    }
  });
  return h('div', { class: 'language-picker' }, h('label', { for: id }, label || t('language.label')), select,
    note ? h('p', { id: `${id}-note`, class: 'hint' }, note) : null, error);
}
