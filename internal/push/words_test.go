package push

import (
	"testing"

	"github.com/openteller/openteller/internal/i18n"
)

// TestWordsAreTheCatalogues: a push's English words are the catalogue's
// (push.<kind>.title and .body), which the device's service worker says in
// the customer's language instead: one text, in each language, for both.
func TestWordsAreTheCatalogues(t *testing.T) {
	for _, kind := range Kinds {
		m := message(kind, "Cedar Bank", "cnv_1")
		vars := i18n.Vars{"bank": "Cedar Bank"}
		title, body := i18n.T(i18n.Default, "push."+kind+".title", vars), i18n.T(i18n.Default, "push."+kind+".body", nil)
		if m.Title != title || m.Body != body || m.Kind != kind || m.Institution != "Cedar Bank" {
			t.Errorf("%s: %+v, the catalogue says %q, %q", kind, m, title, body)
		}
	}
}
