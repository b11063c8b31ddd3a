package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/openteller/openteller/internal/i18n"
)

// The interface's words live in internal/i18n's catalogues. These tests
// read the messenger's and the console's files (static/) as code and keep
// them honest about it: every key they name exists, every key the English
// catalogue has is named somewhere, and no module puts an English
// sentence on screen by itself.

// sources reads every .js and .html file under static/, by path.
func sources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".html")) {
			return err
		}
		b, err := fs.ReadFile(static, path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("only %d files under static/", len(out))
	}
	return out
}

// keyUse is what the files say about the catalogue's keys.
type keyUse struct {
	named    map[string][]string // key → where it is named in full
	prefixes map[string][]string // "format.card_status." → where a key is made from it
}

var (
	keyShape     = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)
	templateCall = regexp.MustCompile(`\.T\s+"([^"]+)"`) // {{.T "key"}} in a page
)

// namespaces are the first parts of the English keys ("thread", "event").
func namespaces() map[string]bool {
	out := map[string]bool{}
	for _, k := range i18n.Keys(i18n.Default) {
		ns, _, _ := strings.Cut(k, ".")
		out[ns] = true
	}
	return out
}

// usedKeys finds the keys the static files name: a string whose shape is
// a key and whose first part is one of the catalogue's namespaces (in
// t('…') or in a table), a page's {{.T "…"}}, and a template literal that
// starts with a namespace ("format.card_status.${status}"), which names
// every key under its static head.
func usedKeys(t *testing.T, files map[string]string) keyUse {
	t.Helper()
	ns := namespaces()
	use := keyUse{named: map[string][]string{}, prefixes: map[string][]string{}}
	for path, src := range files {
		if strings.HasSuffix(path, ".html") {
			for _, m := range templateCall.FindAllStringSubmatch(src, -1) {
				use.named[m[1]] = append(use.named[m[1]], path)
			}
			continue
		}
		toks, err := tokenize(src)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		walk(toks, func(toks []token, i int) {
			tok := toks[i]
			where := path + ":" + itoa(tok.line)
			switch tok.kind {
			case tokString:
				first, _, _ := strings.Cut(tok.value, ".")
				if keyShape.MatchString(tok.value) && ns[first] {
					use.named[tok.value] = append(use.named[tok.value], where)
				}
			case tokTemplate:
				head := tok.parts[0]
				first, _, _ := strings.Cut(head, ".")
				if len(tok.exprs) > 0 && ns[first] && strings.Contains(head, ".") && keyShape.MatchString(head+"x") {
					use.prefixes[head] = append(use.prefixes[head], where)
				}
			}
		})
	}
	return use
}

func itoa(n int) string { return strconv.Itoa(n) }

// goKeys are the keys the server names itself (the consent disclosure, a
// push's English words): string literals of the Go files outside tests.
func goKeys(t *testing.T) map[string]bool {
	t.Helper()
	root := filepath.Join("..", "..")
	literal := regexp.MustCompile(`"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"`)
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && len(d.Name()) > 2 || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// goCodes are the error codes the server can send: the string literals
// of the Go files outside tests that look like one ("link_revoked").
func goCodes(t *testing.T) map[string]bool {
	t.Helper()
	literal := regexp.MustCompile(`"([a-z][a-z0-9_]*)"`)
	out := map[string]bool{}
	err := filepath.WalkDir(filepath.Join("..", ".."), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (strings.HasPrefix(d.Name(), ".") && len(d.Name()) > 2 || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCatalogueKeys: every key the messenger and the console name in full
// is in the English catalogue (so no screen shows a key), and every key
// of the English catalogue is named somewhere — by the static files in
// full or by a template literal's head, or by the server's Go code — so
// that no message is kept, and translated, for nothing.
func TestCatalogueKeys(t *testing.T) {
	files := sources(t)
	use := usedKeys(t, files)
	en := i18n.Keys(i18n.Default)
	have := map[string]bool{}
	for _, k := range en {
		have[k] = true
	}
	var missing []string
	for k, where := range use.named {
		if !have[k] {
			missing = append(missing, k+" (named at "+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no message for key %s", m)
	}
	for p, where := range use.prefixes {
		if !slices.ContainsFunc(en, func(k string) bool { return strings.HasPrefix(k, p) }) {
			t.Errorf("keys are made from %q at %s, but the catalogue has none under it", p, strings.Join(where, ", "))
		}
	}
	server := goKeys(t)
	for _, k := range en {
		if len(use.named[k]) > 0 || server[k] {
			continue
		}
		if slices.ContainsFunc(slices.Collect(mapKeys(use.prefixes)), func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		t.Errorf("the English catalogue's %q is named nowhere: remove it, or use it", k)
	}
	// A server error is said by its code (api.js): each error.<code> the
	// catalogue has must be a code the server can send, or a key named in
	// full by the pages (error.network).
	codes := goCodes(t)
	for _, k := range en {
		code, ok := strings.CutPrefix(k, "error.")
		if ok && len(use.named[k]) == 0 && !codes[code] {
			t.Errorf("%q: no Go code sends the error code %q", k, code)
		}
	}
	if len(use.named) < 200 {
		t.Errorf("only %d keys found in the static files: the scan is broken", len(use.named))
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Words that may stand in the code as they are: the platform's name and
// its logo's letters, the same in every language.
var brandWords = map[string]bool{"OpenTeller": true, "OT": true}

// shownProps are the attributes whose value a person reads or hears.
var shownProps = map[string]bool{"aria-label": true, "placeholder": true, "title": true, "alt": true,
	"aria-description": true, "aria-roledescription": true, "aria-valuetext": true, "label": true}

// shownProperties are the DOM properties that put text on the page.
var shownProperties = map[string]bool{"textContent": true, "innerText": true, "placeholder": true, "title": true,
	"ariaLabel": true, "alt": true}

// hardCoded lists what in one module's tokens puts words on the page
// without the catalogue, each as "line: text". The rule, on the code
// rather than on its text:
//
//   - a string or template literal with a letter in it, passed as a child
//     to h(…) or svg(…) (any argument after the props), to clear(el, …) or
//     append(el, …), or to an element's .append/.prepend/.before/.after/
//     .replaceChildren(…);
//   - the same as the value of a props key a person reads or hears
//     (aria-label, placeholder, title, alt, label, …), of an assignment to
//     .textContent, .innerText, .placeholder, .title, .ariaLabel, .alt or
//     document.title, or of setAttribute('aria-label' | 'placeholder' |
//     'title' | 'alt', …);
//   - a literal starting with a capital letter given to new Error(…) or
//     new ApiError(…): a sentence for a person (lowercase messages are
//     diagnostics, as Go's are).
//
// "May reach the page" means the literal is the expression's value or one
// of its branches (a ternary, && or ||, an array): a literal inside a call's
// arguments (t('key'), a helper) or a function is not the expression's
// value. Literals that are only the platform's name (brandWords), or that
// have no letter at all ('‹', '★', ' · '), pass.
func hardCoded(toks []token) []string {
	var out []string
	flag := func(lits []token, startsCapital bool) {
		for _, l := range lits {
			s := l.text()
			if brandWords[strings.TrimSpace(s)] || !strings.ContainsFunc(s, unicode.IsLetter) {
				continue
			}
			if startsCapital {
				r := []rune(strings.TrimSpace(s))
				if len(r) == 0 || !unicode.IsUpper(r[0]) {
					continue
				}
			}
			out = append(out, itoa(l.line)+": "+strings.TrimSpace(s))
		}
	}
	valueUntilEnd := func(toks []token, from int) []token {
		depth := 0
		for i := from; i < len(toks); i++ {
			v := toks[i].value
			if toks[i].kind != tokPunct {
				continue
			}
			switch v {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return toks[from:i]
				}
				depth--
			case ";", ",":
				if depth == 0 {
					return toks[from:i]
				}
			}
		}
		return toks[from:]
	}
	walk(toks, func(toks []token, i int) {
		tok := toks[i]
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{}
		}
		prev := token{}
		if i > 0 {
			prev = toks[i-1]
		}
		isMethod := prev.kind == tokPunct && (prev.value == "." || prev.value == "?.")
		switch {
		case tok.kind == tokIdent && next(1).value == "(" && !isMethod && (tok.value == "h" || tok.value == "svg"):
			args, _ := callArgs(toks, i+1)
			if len(args) > 1 {
				flagProps(args[1], flag)
			}
			for _, a := range args[min(2, len(args)):] {
				flag(shownLiterals(a), false)
			}
		case tok.kind == tokIdent && next(1).value == "(" && !isMethod && (tok.value == "clear" || tok.value == "append"):
			args, _ := callArgs(toks, i+1)
			for _, a := range args[min(1, len(args)):] {
				flag(shownLiterals(a), false)
			}
		case tok.kind == tokIdent && next(1).value == "(" && isMethod &&
			slices.Contains([]string{"append", "prepend", "before", "after", "replaceChildren"}, tok.value):
			args, _ := callArgs(toks, i+1)
			for _, a := range args {
				flag(shownLiterals(a), false)
			}
		case tok.kind == tokIdent && next(1).value == "(" && isMethod && tok.value == "setAttribute":
			args, _ := callArgs(toks, i+1)
			if len(args) == 2 && len(args[0]) == 1 && args[0][0].kind == tokString && shownProps[args[0][0].value] {
				flag(shownLiterals(args[1]), false)
			}
		case tok.kind == tokIdent && isMethod && shownProperties[tok.value] && next(1).value == "=":
			flag(shownLiterals(valueUntilEnd(toks, i+2)), false)
		case tok.kind == tokIdent && tok.value == "new" && next(1).kind == tokIdent && (next(1).value == "Error" || next(1).value == "ApiError") && next(2).value == "(":
			args, _ := callArgs(toks, i+2)
			for _, a := range args {
				flag(shownLiterals(a), true)
			}
		}
	})
	return out
}

// flagProps flags the shown attributes of an h(…) props object.
func flagProps(obj []token, flag func([]token, bool)) {
	if len(obj) < 2 || obj[0].value != "{" {
		return
	}
	inner := obj[1 : len(obj)-1]
	depth := 0
	start := 0
	entry := func(e []token) {
		if len(e) < 3 || e[1].value != ":" {
			return
		}
		name := e[0].value
		if e[0].kind == tokString || e[0].kind == tokIdent {
			if shownProps[name] {
				flag(shownLiterals(e[2:]), false)
			}
		}
	}
	for i, t := range inner {
		if t.kind != tokPunct {
			continue
		}
		switch t.value {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ",":
			if depth == 0 {
				entry(inner[start:i])
				start = i + 1
			}
		}
	}
	entry(inner[start:])
}

// TestNoHardCodedText: no module of the messenger or the console puts
// words on the page itself (see hardCoded for the rule); they come from
// the catalogue, with t('key'). A page's own text is only its template's
// {{.T "key"}}.
func TestNoHardCodedText(t *testing.T) {
	files := sources(t)
	checked := 0
	for path, src := range files {
		if strings.HasSuffix(path, ".html") {
			for _, line := range pageText(src) {
				t.Errorf("%s: words in the page itself, not from the catalogue: %q", path, line)
			}
			continue
		}
		toks, err := tokenize(src)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		checked++
		for _, f := range hardCoded(toks) {
			t.Errorf("%s:%s — use t('key') and the catalogue", path, f)
		}
	}
	if checked < 20 {
		t.Errorf("only %d modules checked", checked)
	}
}

var (
	htmlTag     = regexp.MustCompile(`(?s)<!--.*?-->|<[^>]*>`)
	htmlAction  = regexp.MustCompile(`\{\{.*?\}\}`)
	htmlScripts = regexp.MustCompile(`(?s)<script\b[^>]*>.*?</script>`)
	htmlShown   = regexp.MustCompile(`\b(?:alt|title|aria-label|placeholder)="([^"]*)"`)
)

// pageText returns the words of an HTML page that do not come from its
// template's actions: text between tags, and shown attributes.
func pageText(src string) []string {
	var out []string
	for _, m := range htmlShown.FindAllStringSubmatch(src, -1) {
		if v := htmlAction.ReplaceAllString(m[1], ""); strings.ContainsFunc(v, unicode.IsLetter) {
			out = append(out, v)
		}
	}
	body := htmlScripts.ReplaceAllString(src, "")
	body = htmlTag.ReplaceAllString(body, "\n")
	body = htmlAction.ReplaceAllString(body, "")
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && strings.ContainsFunc(line, unicode.IsLetter) && !brandWords[line] {
			out = append(out, line)
		}
	}
	return out
}

// TestHardCodedRule: the rule catches what it is for, and lets pass what
// is not words on a page.
func TestHardCodedRule(t *testing.T) {
	for _, c := range []struct {
		src  string
		want int
	}{
		{`h('p', {}, 'Hello there')`, 1},
		{"h('p', {}, `${n} days`)", 1},
		{`h('button', { type: 'button', class: 'link-button wide' }, t('list.signout'))`, 0},
		{`h('p', {}, cond ? 'Yes' : t('no'))`, 1},
		{`h('input', { placeholder: 'Write here', 'aria-label': t('x.y'), testid: 'composer-input' })`, 1},
		{`h('a', { href: '#/', 'aria-label': 'Back' }, '‹')`, 1},
		{`h('span', { 'aria-hidden': 'true' }, '☰')`, 0},
		{`h('p', {}, items.map((x) => h('li', {}, x.name)))`, 0},
		{`el.textContent = 'Loading…';`, 1},
		{`el.textContent = t('app.loading');`, 0},
		{"status.textContent = total === 1 ? '1 match.' : `${total} matches.`;", 2},
		{`clear(list, h('li', {}, 'None'), 'and more')`, 2},
		{`error.append(' ', h('a', {}, t('k.a')), '.')`, 0},
		{`throw new Error('not a checkpoint')`, 0},
		{`throw new Error('The console could not reach OpenTeller.')`, 1},
		{`h('div', { class: 'brand' }, h('span', { class: 'logo' }, 'OT'), 'OpenTeller')`, 0},
		{`input.setAttribute('aria-label', 'Search')`, 1},
		{`const re = /^(of|the|and)$/i; h('p', {}, s.split(/\s+/).join(' '))`, 0},
		{"h('p', {}, `${a} · ${b}`)", 0},
	} {
		toks, err := tokenize(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := hardCoded(toks); len(got) != c.want {
			t.Errorf("%s: found %q, want %d", c.src, got, c.want)
		}
	}
}
