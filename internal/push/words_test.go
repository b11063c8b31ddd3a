package push

import (
	"testing"

	"github.com/openteller/openteller/internal/i18n"
)

// TestWordsAreTheCatalogues: a push's words are the catalogue's
// (push.<kind>.title and .body): in English, naming no language, for a
// customer whose account keeps none (the device's service worker says them
// in the language chosen on it); in the account's language, naming it,
// for one whose account keeps one. One text, in each language, for both.
func TestWordsAreTheCatalogues(t *testing.T) {
	for _, lang := range []string{"", "fr", "pt", "it", "xx"} {
		said := i18n.Of(lang).Code
		named := ""
		if i18n.Supported(lang) {
			named = lang
		}
		for _, kind := range Kinds {
			m := message(lang, kind, "Cedar Bank", "cnv_1")
			vars := i18n.Vars{"bank": "Cedar Bank"}
			title, body := i18n.T(said, "push."+kind+".title", vars), i18n.T(said, "push."+kind+".body", nil)
			if m.Title != title || m.Body != body || m.Kind != kind || m.Institution != "Cedar Bank" || m.Lang != named {
				t.Errorf("%s in %q: %+v, the catalogue says %q, %q", kind, lang, m, title, body)
			}
		}
	}
	if m := message("fr", KindAlerts, "", "cnv_1"); m.Institution != "Votre banque" || m.Title != "Votre banque attend votre réponse" {
		t.Errorf("an institution whose name cannot be read, in French: %+v", m)
	}
}
