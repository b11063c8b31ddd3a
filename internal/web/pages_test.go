package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/openteller/openteller/internal/i18n"
)

func get(t *testing.T, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	Static().ServeHTTP(w, r)
	return w
}

var inlined = regexp.MustCompile(`<script type="application/json" id="i18n">(.*?)</script>`)

// TestPages: the messenger's and the console's pages come in the reader's
// language — the saved choice (cookie), else Accept-Language, else English
// — with <html lang dir>, their first words, and that language's whole
// catalogue inlined as data; a page the browser has already is a 304.
func TestPages(t *testing.T) {
	for _, c := range []struct {
		path, cookie, accept, lang, title string
	}{
		{"/", "", "", "en", "<title>OpenTeller</title>"},
		{"/", "", "fr-CA,fr;q=0.9,en;q=0.5", "fr", `<p class="boot">Chargement…</p>`},
		{"/", "it", "fr-FR", "it", `<noscript><p class="boot">OpenTeller richiede che JavaScript sia attivo.</p></noscript>`},
		{"/", "xx", "pt-BR", "pt", `<p class="boot">Carregando…</p>`},
		{"/console.html", "", "fr", "fr", "<title>Console OpenTeller</title>"},
		{"/console.html", "", "de", "en", "<title>OpenTeller console</title>"},
	} {
		h := http.Header{}
		if c.accept != "" {
			h.Set("Accept-Language", c.accept)
		}
		if c.cookie != "" {
			h.Set("Cookie", i18n.CookieName+"="+c.cookie)
		}
		w := get(t, c.path, h)
		body := w.Body.String()
		if w.Code != http.StatusOK || w.Header().Get("Content-Language") != c.lang || !strings.Contains(w.Header().Get("Vary"), "Cookie") {
			t.Errorf("%s %+v: %d, Content-Language %q, Vary %q", c.path, c, w.Code, w.Header().Get("Content-Language"), w.Header().Get("Vary"))
		}
		if !strings.Contains(body, `<html lang="`+c.lang+`" dir="ltr">`) || !strings.Contains(body, c.title) {
			t.Errorf("%s in %s: %s", c.path, c.lang, body)
		}
		m := inlined.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s: no catalogue inlined", c.path)
		}
		var env struct {
			Lang     string
			Messages map[string]any
		}
		if err := json.Unmarshal([]byte(m[1]), &env); err != nil || env.Lang != c.lang || len(env.Messages) != len(i18n.Keys(i18n.Default)) {
			t.Errorf("%s: the inlined catalogue: lang %q, %d messages, %v", c.path, env.Lang, len(env.Messages), err)
		}
		if strings.Contains(body, "{{") {
			t.Errorf("%s: a template action left in the page", c.path)
		}
		h.Set("If-None-Match", w.Header().Get("ETag"))
		if again := get(t, c.path, h); again.Code != http.StatusNotModified {
			t.Errorf("%s again, with its ETag: %d", c.path, again.Code)
		}
	}
	if w := get(t, "/index.html", nil); w.Code != http.StatusMovedPermanently {
		t.Errorf("/index.html: %d, want a redirect to /", w.Code)
	}
}

// TestCatalogueFiles: /i18n/<code>.json serves each language's catalogue,
// revalidated by its ETag; an unknown language is 404.
func TestCatalogueFiles(t *testing.T) {
	for _, l := range i18n.Languages() {
		w := get(t, "/i18n/"+l.Code+".json", nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(i18n.Envelope(l.Code)) {
			t.Errorf("%s: %d %q", l.Code, w.Code, w.Header().Get("Content-Type"))
		}
		if again := get(t, "/i18n/"+l.Code+".json", http.Header{"If-None-Match": {w.Header().Get("ETag")}}); again.Code != http.StatusNotModified {
			t.Errorf("%s again, with its ETag: %d", l.Code, again.Code)
		}
	}
	for _, path := range []string{"/i18n/xx.json", "/i18n/en", "/i18n/../index.html"} {
		if w := get(t, path, nil); w.Code != http.StatusNotFound && w.Code != http.StatusMovedPermanently {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
}
