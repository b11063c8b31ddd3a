package consent

import (
	"strings"
	"testing"

	"github.com/openteller/openteller/internal/i18n"
)

// TestDiscloseIn: the disclosure is written in the customer's language,
// with its own digest, and English stays the platform's words: the
// purpose a receipt records is the catalogue's English one.
func TestDiscloseIn(t *testing.T) {
	if got := i18n.T(i18n.Default, "disclosure.purpose", nil); got != Purpose {
		t.Errorf("the catalogue's purpose %q is not the receipts' %q", got, Purpose)
	}
	en, err := DiscloseIn("en", "Cedar Bank", []string{"balances"}, 90)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := Disclose("Cedar Bank", []string{"balances"}, 90)
	if en.Digest != same.Digest || en.Lang != "en" {
		t.Errorf("Disclose is not DiscloseIn English: %+v", en)
	}
	fr, err := DiscloseIn("fr", "Cedar Bank", []string{"balances"}, 90)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Cedar Bank", "Soldes des comptes", "90 jours", "Jamais utilisé à des fins publicitaires", "\n- "} {
		if !strings.Contains(fr.Text, want) {
			t.Errorf("the French disclosure lacks %q:\n%s", want, fr.Text)
		}
	}
	if fr.Lang != "fr" || fr.Digest == en.Digest || fr.Scopes[0].Words != "Soldes des comptes" || fr.Purpose == Purpose {
		t.Errorf("French: lang %q, digest %s (English %s), scope %+v, purpose %q", fr.Lang, fr.Digest, en.Digest, fr.Scopes, fr.Purpose)
	}
	if xx, _ := DiscloseIn("xx", "Cedar Bank", []string{"balances"}, 90); xx.Digest != en.Digest || xx.Lang != "en" {
		t.Errorf("a language not spoken here is not English: %+v", xx)
	}
}
