// The language picker: the languages OpenTeller speaks, each named in
// itself ("Français"), so that someone who cannot read the page's current
// language still finds their own. Choosing one switches the page at once
// (i18n.js setLanguage, then the page draws itself again) and is
// remembered on this browser.
import { h } from './dom.js';
import { choices, language, setLanguage, t } from './i18n.js';

// languagePicker({id, label}) → a labelled select (label: the label's
// words, "Language" unless given). onChosen(code) runs after the switch,
// for a page that draws itself again by other means.
export function languagePicker({ id = 'language', testid = 'language-picker', label = '', onChosen = null } = {}) {
  const select = h('select', { id, testid, autocomplete: 'off' },
    choices().map((l) => h('option', { value: l.code, lang: l.code, selected: l.code === language() }, l.name)));
  const error = h('p', { class: 'form-error', role: 'alert', testid: `${testid}-error`, hidden: true });
  // Not disabled while the catalogue loads: a disabled control loses focus,
  // and the page puts focus back on the picker it draws again.
  select.addEventListener('change', async () => {
    error.hidden = true;
    select.setAttribute('aria-busy', 'true');
    try {
      await setLanguage(select.value);
      onChosen?.(select.value);
    } catch {
      select.value = language();
      error.textContent = t('language.error');
      error.hidden = false;
    } finally {
      select.removeAttribute('aria-busy');
    }
  });
  return h('div', { class: 'language-picker' }, h('label', { for: id }, label || t('language.label')), select, error);
}
