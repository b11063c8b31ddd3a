package i18n

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCatalogues: every language has exactly English's keys, each message
// in the same shape (a string, or plural forms), with the same {variables}
// (none lost, none made up), and nothing empty. Whatever a person reads in
// one language, they can read in every other.
func TestCatalogues(t *testing.T) {
	en := Keys(Default)
	if len(en) < 500 {
		t.Fatalf("the English catalogue has %d messages: it did not load", len(en))
	}
	if got := Languages(); len(got) < 4 || got[0].Code != Default {
		t.Fatalf("languages %+v: want English first, then at least French, Portuguese and Italian", got)
	}
	for _, l := range Languages() {
		t.Run(l.Code, func(t *testing.T) {
			if l.Name == "" || (l.Dir != "ltr" && l.Dir != "rtl") {
				t.Errorf("%+v: needs a name and a direction", l)
			}
			keys := Keys(l.Code)
			for _, k := range en {
				if !slices.Contains(keys, k) {
					t.Errorf("missing %q", k)
				}
			}
			for _, k := range keys {
				if !slices.Contains(en, k) {
					t.Errorf("%q is not in the English catalogue", k)
				}
			}
			for _, k := range keys {
				want, _ := Raw(Default, k)
				got, _ := Raw(l.Code, k)
				if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
					t.Errorf("%q is %T in English but %T here", k, want, got)
					continue
				}
				if w, g := Variables(want), Variables(got); !slices.Equal(w, g) {
					t.Errorf("%q uses {%s}, English {%s}", k, strings.Join(g, "}, {"), strings.Join(w, "}, {"))
				}
				switch m := got.(type) {
				case string:
					if strings.TrimSpace(m) == "" {
						t.Errorf("%q is empty", k)
					}
				case map[string]string:
					for form, text := range m {
						if strings.TrimSpace(text) == "" {
							t.Errorf("%q: the %s form is empty", k, form)
						}
					}
					// French and Portuguese say "one" for 0 as for 1: there,
					// every form that counts must say how many.
					for form, text := range m {
						if (l.Code == "fr" || l.Code == "pt") && slices.Contains(Variables(want), "count") && !strings.Contains(text, "{count}") {
							t.Errorf("%q: the %s form does not say {count}", k, form)
						}
					}
				}
			}
		})
	}
}

// TestFrenchTypography: French puts a no-break space before : and » and
// after «, and a narrow one before ? ! ;, so that a line never starts with
// them: never an ordinary space there, and never none.
func TestFrenchTypography(t *testing.T) {
	spaced := regexp.MustCompile(`[ \p{L}\p{N}][:;?!»]|«[ \p{L}]`)
	for _, k := range Keys("fr") {
		m, _ := Raw("fr", k)
		var texts []string
		switch m := m.(type) {
		case string:
			texts = append(texts, m)
		case map[string]string:
			for _, s := range m {
				texts = append(texts, s)
			}
		}
		for _, s := range texts {
			if hit := spaced.FindString(s); hit != "" {
				t.Errorf("%s: %q: %q wants a no-break space", k, s, hit)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct{ saved, header, want string }{
		{"", "", "en"},
		{"", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"},
		{"", "de-DE,de;q=0.9,it;q=0.8", "it"},
		{"", "pt-BR", "pt"},
		{"", "en-US,fr;q=0.5", "en"},
		{"", "fr;q=0.2, it;q=0.9", "it"},
		{"", "*", "en"},
		{"", "fr;q=0", "en"},
		{"it", "fr-FR", "it"},           // the saved choice wins
		{"xx", "pt-PT", "pt"},           // a choice not spoken here is ignored
		{"", "zh-Hant-TW, FR_ca", "fr"}, // case and underscores
	} {
		if got := Match(c.saved, c.header); got != c.want {
			t.Errorf("Match(%q, %q) = %q, want %q", c.saved, c.header, got, c.want)
		}
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "fr")
	r.AddCookie(&http.Cookie{Name: CookieName, Value: "pt"})
	if got := FromRequest(r); got != "pt" {
		t.Errorf("FromRequest with the cookie pt and Accept-Language fr: %q", got)
	}
}

func TestT(t *testing.T) {
	if got := T("fr", "app.loading", nil); got != "Chargement…" {
		t.Errorf("fr app.loading: %q", got)
	}
	if got := T("en", "thread.composer.placeholder", Vars{"bank": "Cedar Bank"}); got != "Message Cedar Bank" {
		t.Errorf("a variable: %q", got)
	}
	if got := T("en", "thread.composer.placeholder", nil); got != "Message {bank}" {
		t.Errorf("a variable not given stays as it is: %q", got)
	}
	// Plurals: English says "one" for 1; French for 0 and 1.
	for _, c := range []struct {
		lang  string
		count any
		want  string
	}{
		{"en", 1, "1 day"}, {"en", 0, "0 days"}, {"en", 2, "2 days"}, {"en", int64(30), "30 days"},
		{"fr", 0, "0 jour"}, {"fr", 1, "1 jour"}, {"fr", 2, "2 jours"},
		{"it", 1, "1 giorno"}, {"it", 0, "0 giorni"}, {"pt", 90, "90 dias"},
	} {
		if got := T(c.lang, "common.days", Vars{"count": c.count}); got != c.want {
			t.Errorf("%s common.days %v: %q, want %q", c.lang, c.count, got, c.want)
		}
	}
	if got := T("xx", "app.loading", nil); got != "Loading…" {
		t.Errorf("a language not spoken here is English: %q", got)
	}
	if got := T("fr", "no.such.key", nil); got != "no.such.key" {
		t.Errorf("an unknown key: %q", got)
	}
}

// TestEnvelope: what the browser gets is complete in every language, and
// names every language it can switch to.
func TestEnvelope(t *testing.T) {
	for _, l := range Languages() {
		var env struct {
			Lang, Dir string
			Languages []Language
			Messages  map[string]any
		}
		if err := json.Unmarshal(Envelope(l.Code), &env); err != nil {
			t.Fatal(err)
		}
		if env.Lang != l.Code || env.Dir != l.Dir || len(env.Languages) != len(Languages()) || len(env.Messages) != len(Keys(Default)) {
			t.Errorf("%s: lang %q dir %q, %d languages, %d messages", l.Code, env.Lang, env.Dir, len(env.Languages), len(env.Messages))
		}
		if strings.Contains(string(Envelope(l.Code)), "</") {
			t.Errorf("%s: the envelope holds \"</\", which would end the page's <script> element", l.Code)
		}
	}
	if string(Envelope("xx")) != string(Envelope(Default)) {
		t.Error("an unknown language does not get English")
	}
}
