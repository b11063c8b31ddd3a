// Package i18n holds the words OpenTeller shows people, in each language it
// speaks: one catalogue per language (catalogues/<code>.json). The same
// files serve the browser — the messenger, the console and the service
// worker read them (web serves them as /i18n/<code>.json and inlines the
// chosen one in each page) — and the server, for the few things it writes
// itself: the pages' first words, the consent disclosure, a push's text.
//
// Which language: a person's choice is kept on their browser (CookieName),
// and a customer's also on their account (store.Customer.Language, set
// through package auth), so that it follows them: signing in on a new
// browser sets the cookie from the account, and what the server writes a
// customer with no browser at hand (a push, a reset mail) is in the
// account's language. Without a choice, Accept-Language decides (Match).
//
// A catalogue is one flat JSON object. "@name" (the language's name in
// itself) and "@dir" ("ltr" or "rtl") describe the language; every other
// key ("thread.composer.send") names a message. A message is a string with
// {variables}, or, when it depends on a number, an object of CLDR plural
// forms ({"one": …, "other": …}) picked by the variable "count".
//
// What must stay true: English is the source, and every other catalogue
// has exactly its keys and variables (TestCatalogues); a message missing
// at run time falls back to English, never to nothing. What a bank sends
// (merchant names, its messages, its buttons' labels) is data, and never
// goes through here.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Default is the language of a person who asked for none this platform
// speaks, and the source every catalogue is checked against.
const Default = "en"

// CookieName is the cookie that holds the language a person chose
// (the messenger's privacy center, the console's header). The browser
// sets it, and so does the server when a customer signs in with a
// language kept on their account (Cookie); the server reads it before
// Accept-Language.
const CookieName = "openteller_lang"

// Cookie is the cookie that remembers lang on a browser, as the page's
// own script writes it (i18n.js): for the whole site, a year, readable by
// that script (not HttpOnly), Secure on an https site.
func Cookie(lang string, secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: lang, Path: "/", MaxAge: 365 * 24 * 60 * 60,
		SameSite: http.SameSiteLaxMode, Secure: secure}
}

// order lists the languages, in the order a picker shows them.
var order = []string{"en", "fr", "pt", "it"}

//go:embed catalogues/*.json
var files embed.FS

// Language is one language the platform speaks.
type Language struct {
	Code string `json:"code"` // "fr"
	Name string `json:"name"` // "Français": its own name, as a picker shows it
	Dir  string `json:"dir"`  // "ltr" or "rtl"
}

// catalogue is one language's messages: a string, or a map of plural
// forms.
type catalogue struct {
	Language
	raw      map[string]any // as written
	messages map[string]any // complete: English fills what this one lacks
	envelope []byte         // what the browser gets (Envelope)
}

var catalogues = map[string]*catalogue{}

func init() {
	for _, code := range order {
		c, err := parse(code)
		if err != nil {
			panic(err) // the catalogues are embedded: TestCatalogues finds this first
		}
		catalogues[code] = c
	}
	en := catalogues[Default]
	for _, code := range order {
		c := catalogues[code]
		c.messages = make(map[string]any, len(en.raw))
		for k, v := range en.raw {
			c.messages[k] = v
		}
		for k, v := range c.raw {
			c.messages[k] = v
		}
	}
	for _, code := range order {
		c := catalogues[code]
		b, err := json.Marshal(struct {
			Lang      string         `json:"lang"`
			Dir       string         `json:"dir"`
			Languages []Language     `json:"languages"`
			Messages  map[string]any `json:"messages"`
		}{c.Code, c.Dir, Languages(), c.messages})
		if err != nil {
			panic(err)
		}
		c.envelope = b
	}
}

// parse reads one catalogue file.
func parse(code string) (*catalogue, error) {
	b, err := files.ReadFile("catalogues/" + code + ".json")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("i18n: catalogues/%s.json: %w", code, err)
	}
	c := &catalogue{Language: Language{Code: code}, raw: map[string]any{}}
	for k, v := range raw {
		switch {
		case k == "@name":
			c.Name, _ = v.(string)
		case k == "@dir":
			c.Dir, _ = v.(string)
		case strings.HasPrefix(k, "@"):
			return nil, fmt.Errorf("i18n: catalogues/%s.json: unknown %s", code, k)
		default:
			m, err := message(v)
			if err != nil {
				return nil, fmt.Errorf("i18n: catalogues/%s.json: %s: %w", code, k, err)
			}
			c.raw[k] = m
		}
	}
	if c.Name == "" || (c.Dir != "ltr" && c.Dir != "rtl") {
		return nil, fmt.Errorf("i18n: catalogues/%s.json: needs @name, and @dir ltr or rtl", code)
	}
	return c, nil
}

// PluralForms are the CLDR plural categories a message may have.
var PluralForms = []string{"zero", "one", "two", "few", "many", "other"}

// message checks one message: a string, or plural forms that include
// "other".
func message(v any) (any, error) {
	switch m := v.(type) {
	case string:
		return m, nil
	case map[string]any:
		forms := map[string]string{}
		for form, text := range m {
			s, ok := text.(string)
			if !ok || !slices.Contains(PluralForms, form) {
				return nil, fmt.Errorf("plural form %q is not a CLDR category with a string", form)
			}
			forms[form] = s
		}
		if _, ok := forms["other"]; !ok {
			return nil, fmt.Errorf("plural forms without \"other\"")
		}
		return forms, nil
	}
	return nil, fmt.Errorf("a message is a string or plural forms, not %T", v)
}

// Languages lists every language the platform speaks, in a picker's order.
func Languages() []Language {
	out := make([]Language, 0, len(order))
	for _, code := range order {
		if c := catalogues[code]; c != nil {
			out = append(out, c.Language)
		}
	}
	return out
}

// Supported says whether code names a language the platform speaks.
func Supported(code string) bool {
	return catalogues[code] != nil
}

// Match picks the language to speak: the one saved (the person's own
// choice), else the first of Accept-Language's that the platform speaks
// (by primary subtag: "fr-CA" is French), else Default.
func Match(saved, acceptLanguage string) string {
	if Supported(saved) {
		return saved
	}
	type wanted struct {
		code string
		q    float64
	}
	var ws []wanted
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"), "-")
		if primary != "" && primary != "*" && q > 0 {
			ws = append(ws, wanted{strings.ToLower(primary), q})
		}
	}
	slices.SortStableFunc(ws, func(a, b wanted) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	for _, w := range ws {
		if Supported(w.code) {
			return w.code
		}
	}
	return Default
}

// FromRequest is the language to answer r in: the cookie the browser keeps
// for the person's choice, else Accept-Language.
func FromRequest(r *http.Request) string {
	saved := ""
	if c, err := r.Cookie(CookieName); err == nil {
		saved = c.Value
	}
	return Match(saved, r.Header.Get("Accept-Language"))
}

// Of returns the language code names, or Default's when it is not one the
// platform speaks.
func Of(code string) Language {
	if c := catalogues[code]; c != nil {
		return c.Language
	}
	return catalogues[Default].Language
}

// Envelope is what the browser reads for lang (JSON): {"lang", "dir",
// "languages": [{code, name, dir}], "messages": {key: message}}, every key
// present, English filling any gap.
func Envelope(lang string) []byte {
	if c := catalogues[lang]; c != nil {
		return c.envelope
	}
	return catalogues[Default].envelope
}

// Vars are a message's variables: {"bank": "Cedar Bank", "count": 3}.
type Vars map[string]any

var variable = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// T returns the message key in lang with vars filled in: in English when
// lang lacks it, the key itself when English does too (TestCatalogues
// keeps that from happening). A message with plural forms is picked by
// vars["count"].
func T(lang, key string, vars Vars) string {
	c := catalogues[lang]
	if c == nil {
		c = catalogues[Default]
	}
	m, ok := c.messages[key]
	if !ok {
		return key
	}
	var text string
	switch m := m.(type) {
	case string:
		text = m
	case map[string]string:
		text = m[pluralForm(c.Code, vars["count"])]
		if text == "" {
			text = m["other"]
		}
	}
	return variable.ReplaceAllStringFunc(text, func(v string) string {
		if val, ok := vars[v[1:len(v)-1]]; ok {
			return fmt.Sprint(val)
		}
		return v
	})
}

// pluralForm is the CLDR category of a whole number in lang, for the
// languages here: French and Portuguese say "one" for 0 and 1, English
// and Italian for 1 alone. (The browser uses Intl.PluralRules; the server
// only counts whole things.)
func pluralForm(lang string, count any) string {
	var n int64
	switch c := count.(type) {
	case int:
		n = int64(c)
	case int64:
		n = c
	case float64:
		if c != float64(int64(c)) {
			return "other"
		}
		n = int64(c)
	default:
		return "other"
	}
	switch lang {
	case "fr", "pt":
		if n == 0 || n == 1 {
			return "one"
		}
	default:
		if n == 1 {
			return "one"
		}
	}
	return "other"
}

// Keys returns the keys of lang's own catalogue (without English's
// filling), sorted; nil when lang is not spoken here.
func Keys(lang string) []string {
	c := catalogues[lang]
	if c == nil {
		return nil
	}
	keys := make([]string, 0, len(c.raw))
	for k := range c.raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Raw returns lang's own message for key as written (a string, or a
// map of plural forms), and whether it has one.
func Raw(lang, key string) (any, bool) {
	c := catalogues[lang]
	if c == nil {
		return nil, false
	}
	m, ok := c.raw[key]
	return m, ok
}

// Variables lists the {variables} a message uses, in any of its forms.
func Variables(m any) []string {
	var texts []string
	switch m := m.(type) {
	case string:
		texts = []string{m}
	case map[string]string:
		for _, s := range m {
			texts = append(texts, s)
		}
	}
	var out []string
	for _, s := range texts {
		for _, v := range variable.FindAllStringSubmatch(s, -1) {
			if !slices.Contains(out, v[1]) {
				out = append(out, v[1])
			}
		}
	}
	slices.Sort(out)
	return out
}
