package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/i18n"
)

// The messenger's and the console's pages are the only HTML the platform
// serves. Each is drawn in the language the person reads
// (i18n.FromRequest: their saved choice, else Accept-Language), with that
// language's catalogue inlined as a JSON data block (not a script: the
// Content Security Policy still allows no inline script), so that the page
// opens in the person's language without a request of its own, and its
// first words (the title, "Loading…", the <noscript> note) are already
// theirs. Other languages' catalogues are at /i18n/<code>.json, for
// switching without a reload.

// pages are the messenger's and the console's pages, by path, each drawn
// once per language when the binary starts: what a page holds depends only
// on its language, so each has an ETag, and a browser that has it already
// gets a 304.
var pages = map[string]map[string]drawnPage{
	"/":             drawAll("static/index.html"),
	"/console.html": drawAll("static/console.html"),
}

// drawnPage is one page in one language.
type drawnPage struct {
	html []byte
	etag string
}

func drawAll(name string) map[string]drawnPage {
	t := template.Must(template.ParseFS(static, name))
	out := map[string]drawnPage{}
	for _, l := range i18n.Languages() {
		var b bytes.Buffer
		if err := t.Execute(&b, pageData{Lang: l.Code, Dir: l.Dir, Catalogue: template.JS(i18n.Envelope(l.Code))}); err != nil {
			panic(err) // the templates are embedded: TestPages finds this first
		}
		sum := sha256.Sum256(b.Bytes())
		out[l.Code] = drawnPage{html: b.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}

// pageData is what a page's template reads.
type pageData struct {
	Lang, Dir string
	// Catalogue is the language's catalogue (i18n.Envelope): JSON as
	// encoding/json writes it, with <, > and & escaped, so it cannot end
	// its <script> element.
	Catalogue template.JS
}

// T is the message key in the page's language.
func (p pageData) T(key string) string { return i18n.T(p.Lang, key, nil) }

// servePage serves the page in the request's language.
func servePage(w http.ResponseWriter, r *http.Request, drawn map[string]drawnPage) {
	lang := i18n.FromRequest(r)
	p := drawn[lang]
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("ETag", p.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.html))
}

// catalogueTags are the ETags of the catalogues served at /i18n/, by code.
var catalogueTags = map[string]string{}

func init() {
	for _, l := range i18n.Languages() {
		sum := sha256.Sum256(i18n.Envelope(l.Code))
		catalogueTags[l.Code] = `"` + hex.EncodeToString(sum[:8]) + `"`
	}
}

// serveCatalogue serves /i18n/<code>.json: one language's catalogue, for a
// page switching to it. It changes only with the binary: revalidated by
// its ETag.
func serveCatalogue(w http.ResponseWriter, r *http.Request, code string) {
	tag, ok := catalogueTags[code]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", tag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(i18n.Envelope(code)))
}

// servedByPages answers the paths this file owns, and says whether it did.
func servedByPages(w http.ResponseWriter, r *http.Request) bool {
	if drawn := pages[r.URL.Path]; drawn != nil {
		servePage(w, r, drawn)
		return true
	}
	if r.URL.Path == "/index.html" {
		http.Redirect(w, r, "./", http.StatusMovedPermanently)
		return true
	}
	if code, ok := strings.CutPrefix(r.URL.Path, "/i18n/"); ok {
		code, ok = strings.CutSuffix(code, ".json")
		if !ok {
			http.NotFound(w, r)
			return true
		}
		serveCatalogue(w, r, code)
		return true
	}
	return false
}
