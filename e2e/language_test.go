package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The messenger and the console in other languages, in a real Chromium:
// the words a person reads come from the catalogue of their language, dates
// and money are written the way it writes them, nothing gets wider than
// the screen for longer words, and a language chosen in the privacy center
// takes effect at once and stays.

// speaking makes the browser one set to lang: its Accept-Language and
// navigator.languages, as a person's browser in that language sends them.
func speaking(lang string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		ua, err := chromedp.Evaluate[string](`navigator.userAgent`)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		_, err = cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: lang})
		return chromedp.Void{}, err
	}
}

// textOf is the text of the first element sel matches, "" when none.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return evalJS[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').trim()`, sel))
}

// says fails the test unless the element sel shows want (a part of its
// text), waiting for it.
func says(do func(string, ...chromedp.Action[chromedp.Void]), sel, want string) {
	do(fmt.Sprintf("%s says %q", sel, want),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').includes(%q)`, sel, want)))
}

// notEnglish fails the test when the page says any of these English
// words, which each have a French one in the catalogue: in its text, for
// screen readers too, but not in what the bank wrote (its messages and
// quick replies, a card's note, an alert's reason: data, shown as sent).
func notEnglish(t *testing.T, ctx context.Context, where string, english ...string) {
	t.Helper()
	body := evalJS[string](t, ctx, `(() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('[data-author="institution"], [data-author="agent"], .quick-replies, .card-note, .fraud-reason').forEach((n) => n.remove());
  return copy.textContent;
})()`)
	for _, e := range english {
		if strings.Contains(body, e) {
			t.Errorf("%s shows %q in English", where, e)
		}
	}
}

// eventually waits until cond (JavaScript, true or a promise of it) holds
// in the page, asking afresh each time, so that it holds across a reload
// or a navigation (which end a poll running in the page).
func eventually(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			shot(t, ctx, what)
			t.Fatalf("%s: not after 20 s (%v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wentToBank waits until the page is the bank's own (its sign-in): the
// platform accepted the disclosure the customer agreed to. The page is
// asked afresh each time, as a navigation ends what runs in the old one.
func wentToBank(t *testing.T, ctx context.Context, bankURL string) {
	t.Helper()
	eventually(t, ctx, "agreeing leads to the bank's sign-in", fmt.Sprintf(`location.href.startsWith(%q)`, bankURL))
}

// TestBrowserFrench: a customer whose browser is in French, at a phone's
// size and a laptop's, gets the messenger in French from the first page:
// <html lang="fr">, the sign-in, the list, the thread's composer, a fraud
// alert with its answers, the day's heading, money in French (a decimal
// comma), the privacy center, and the consent disclosure the server writes
// (in French, and accepted as the one read); and a bank's agent whose
// browser is in French gets the console in French. Nothing is wider than
// the screen, French being longer than English.
func TestBrowserFrench(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			browser := newChrome(t)
			_, info := startDemo(t, t.TempDir(), "--activity", "1h")
			ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
			defer cancel()
			do := steps(t, ctx)
			do("a French browser", chromedp.EmulateViewport(vp.w, vp.h), speaking("fr-FR,fr;q=0.9"))

			do("the sign-in page", chromedp.Navigate(info.BaseURL+"/"), chromedp.WaitVisible(css(`[data-testid="signin-email"]`)))
			if lang := evalJS[string](t, ctx, `document.documentElement.lang + ' ' + document.documentElement.dir + ' ' + document.title`); lang != "fr ltr Connexion · OpenTeller" {
				t.Errorf("the page's language, direction and title: %q", lang)
			}
			if got := textOf(t, ctx, `[data-testid="signin-submit"]`); got != "Se connecter" {
				t.Errorf("the sign-in button says %q", got)
			}
			fits(t, ctx, "the sign-in page in French")

			openConversation(do, info)
			do("the opening balances", chromedp.WaitVisible(css(`[data-testid="balance-strip"] .balance`)))
			if got := evalJS[string](t, ctx, `document.querySelector('[data-testid="composer-input"]').placeholder`); !strings.HasPrefix(got, "Écrire à ") {
				t.Errorf("the composer's placeholder: %q", got)
			}
			says(do, `[data-testid="composer-send"]`, "Envoyer")
			do("today's heading", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="day-separator"]')].some((d) => d.textContent === 'Aujourd’hui')`))
			// Money in French: "1 234,56 $US", the amount exact.
			if got := textOf(t, ctx, `[data-testid="balance-strip"] .balance-available`); !strings.Contains(got, ",") || !strings.Contains(got, "$") || !strings.Contains(got, "disponible") {
				t.Errorf("a balance in French: %q", got)
			}

			raiseAlert(t, info)
			open := `[data-testid="fraud-card"][data-state="open"]`
			do("the fraud alert", chromedp.WaitVisible(css(open+` [data-testid="alert-action-deny"]`)))
			says(do, open+" .fraud-title", "Est-ce bien vous")
			if got := textOf(t, ctx, open+` [data-testid="alert-action-confirm"]`) + " | " + textOf(t, ctx, open+` [data-testid="alert-action-deny"]`); got != "C’était moi | Pas moi — bloquer la carte" {
				t.Errorf("the alert's answers: %q", got)
			}
			says(do, open+" .alert-expiry", "Répondre avant")
			do("the alert in view", chromedp.ScrollIntoView(css(open)))
			notEnglish(t, ctx, "the thread", "Is this you?", "It was me", "Answer by", "Send", "Balances", "Today", "available")
			fits(t, ctx, "the thread in French")

			do("the privacy center", chromedp.Navigate(info.BaseURL+"/#/privacy"), chromedp.WaitVisible(css(`[data-testid="privacy-link"]`)))
			says(do, `#privacy-title`, "Centre de confidentialité")
			if got := evalJS[string](t, ctx, `document.querySelector('[data-testid="language-picker"]').value`); got != "fr" {
				t.Errorf("the language picker shows %q", got)
			}
			do("the sharing box", click(css(`.delegation summary`)), chromedp.WaitVisible(css(`[data-testid="delegate-email"]`)))
			notEnglish(t, ctx, "the privacy center", "Connected banks", "Who read your data", "Disconnect", "Share")
			fits(t, ctx, "the privacy center in French")

			// The disclosure is the server's text: in French, and the one
			// the link is then made with.
			do("connect a bank",
				chromedp.Navigate(info.BaseURL+"/#/connect"),
				chromedp.WaitVisible(css(`[data-testid="institution-option"]`)),
				chromedp.WaitVisible(css(`[data-testid="disclosure"] h2`)))
			says(do, `[data-testid="disclosure"]`, "Jamais utilisé à des fins publicitaires")
			says(do, `[data-testid="connect-continue"]`, "Accepter et continuer")
			fits(t, ctx, "connecting a bank in French")
			if vp.w < 900 {
				do("agree", click(css(`[data-testid="connect-continue"]`)))
				wentToBank(t, ctx, info.BankURL)
			}

			// The console, for an agent whose browser is in French.
			_, password := addStaff(t, info, "lea@cedar.example", "Léa", "agent")
			me := newCustomer(t, info.BaseURL)
			me.signIn(info.CustomerEmail, info.CustomerPassword)
			if err := me.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
				t.Fatal(err)
			}
			consoleSignIn(do, info, "lea@cedar.example", password, 1)
			says(do, `.console-head h1`, "Console du service client")
			says(do, `[data-testid="console-filter-all"]`, "Toutes")
			says(do, `[data-testid="console-presence-state"]`, "Disponible")
			fits(t, ctx, "the console's queue in French")
			do("open the conversation",
				click(css(`[data-testid="console-row"]`)),
				chromedp.WaitVisible(css(`[data-testid="console-thread"]:not([aria-busy]) [data-testid="console-take"]`)))
			says(do, `[data-testid="console-take"]`, "Prendre")
			notEnglish(t, ctx, "the console", "Queue", "Take", "Refresh", "Customer reference", "Support console")
			fits(t, ctx, "the console's conversation in French")
		})
	}
}

// TestBrowserLanguageSwitch: in an English browser the messenger is in
// English; choosing Français in the privacy center switches what is on
// screen at once, without reloading the page, keeps focus on the picker,
// and holds after a reload, on another device the customer signs in on
// (the choice is kept with the account), and in a thread. Italian and Portuguese then
// work the same way (the smoke test of the other catalogues), and the
// console's picker switches the console (with a reload: its panes are
// drawn once).
func TestBrowserLanguageSwitch(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	do := steps(t, ctx)
	do("an English browser", chromedp.EmulateViewport(390, 844), speaking("en-US,en;q=0.9"))
	openConversation(do, info)
	if got := evalJS[string](t, ctx, `document.documentElement.lang + ' ' + document.querySelector('[data-testid="composer-send"]').textContent`); got != "en Send" {
		t.Fatalf("an English browser: %q", got)
	}

	choose := func(code string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector('[data-testid="language-picker"]'); s.focus(); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, code))
	}
	do("the privacy center, in English",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(`[data-testid="privacy-link"]`)))
	says(do, `#privacy-title`, "Privacy center")
	do("choose Français",
		chromedp.Evaluate[chromedp.Void](`window.__samePage = true`),
		choose("fr"))
	says(do, `#privacy-title`, "Centre de confidentialité")
	says(do, `[data-testid="privacy-link"] [data-testid="privacy-status"]`, "jusqu’au")
	if got := evalJS[string](t, ctx, `[window.__samePage === true, document.documentElement.lang, document.activeElement?.dataset.testid, document.querySelector('[data-testid="privacy-link"] [data-testid="privacy-status"]').textContent].join('|')`); !strings.HasPrefix(got, "true|fr|language-picker|Active · jusqu’au ") {
		t.Errorf("after choosing French (same page, lang, focus, a link's status): %q", got)
	}
	notEnglish(t, ctx, "the privacy center after the switch", "Connected banks", "Privacy center", "Your account")
	fits(t, ctx, "the privacy center after the switch")

	do("reload", chromedp.Reload(), chromedp.WaitVisible(css(`[data-testid="privacy-link"]`)))
	says(do, `#privacy-title`, "Centre de confidentialité")
	if got := evalJS[string](t, ctx, `document.documentElement.lang + ' ' + (window.__samePage === undefined)`); got != "fr true" {
		t.Errorf("after a reload: %q", got)
	}

	// The choice is kept with the account, so it follows the customer:
	// another device (a browser context with cookies of its own, in
	// English, where Italiano was chosen before signing in) is in French
	// once they sign in there, and stays so; the export says it too.
	other, cancelOther := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelOther()
	odo := steps(t, other)
	odo("another device, in English", chromedp.EmulateViewport(390, 844), speaking("en-US,en;q=0.9"),
		chromedp.Navigate(info.BaseURL+"/"), chromedp.WaitVisible(css(`[data-testid="signin-email"]`)))
	if got := textOf(t, other, `[data-testid="signin-submit"]`); got != "Sign in" {
		t.Fatalf("the other device's sign-in, before: %q", got)
	}
	odo("Italiano, chosen on its sign-in page", choose("it"))
	says(odo, `[data-testid="signin-submit"]`, "Accedi")
	odo("sign in there",
		chromedp.SendKeys(css(`[data-testid="signin-email"]`), info.CustomerEmail),
		chromedp.SendKeys(css(`[data-testid="signin-password"]`), info.CustomerPassword),
		click(css(`[data-testid="signin-submit"]`)))
	eventually(t, other, "the other device follows the account into French",
		`document.documentElement.lang === 'fr' && !!document.querySelector('[data-testid="conversation-row"]')`)
	odo("a thread there", chromedp.Navigate(info.BaseURL+"/#/c/"+info.ConversationID), chromedp.WaitVisible(css(`[data-testid="composer-send"]`)))
	says(odo, `[data-testid="composer-send"]`, "Envoyer")
	odo("reload there", chromedp.Reload(), chromedp.WaitVisible(css(`[data-testid="composer-send"]`)))
	if got := evalJS[string](t, other, `document.documentElement.lang + ' ' + document.cookie.includes('openteller_lang=fr')`); got != "fr true" {
		t.Errorf("the other device after a reload (lang, cookie): %q", got)
	}
	exporter := newCustomer(t, info.BaseURL)
	exporter.signIn(info.CustomerEmail, info.CustomerPassword)
	var export struct {
		Profile struct{ Language string }
	}
	if err := exporter.Call(ctxT(t), "GET", "/app/api/export", nil, &export); err != nil || export.Profile.Language != "fr" {
		t.Errorf("the export's profile: language %q (%v)", export.Profile.Language, err)
	}
	cancelOther()
	do("a thread", chromedp.Navigate(info.BaseURL+"/#/c/"+info.ConversationID), chromedp.WaitVisible(css(`[data-testid="composer-send"]`)))
	says(do, `[data-testid="composer-send"]`, "Envoyer")
	says(do, `[data-testid="menu-button"]`, "Menu")
	do("its menu", click(css(`[data-testid="menu-button"]`)), chromedp.WaitVisible(css(`[data-testid="menu-balance"]`)))
	says(do, `[data-testid="menu-human"]`, "Parler à un conseiller")

	// Italian, then Portuguese.
	for _, c := range []struct{ code, heading, send, balance string }{
		{"it", "Centro privacy", "Invia", "Saldo"},
		{"pt", "Central de privacidade", "Enviar", "Saldo"},
	} {
		do("the privacy center", chromedp.Navigate(info.BaseURL+"/#/privacy"), chromedp.WaitVisible(css(`[data-testid="language-picker"]`)), choose(c.code))
		says(do, `#privacy-title`, c.heading)
		fits(t, ctx, "the privacy center in "+c.code)
		do("a thread", chromedp.Navigate(info.BaseURL+"/#/c/"+info.ConversationID), chromedp.WaitVisible(css(`[data-testid="composer-send"]`)))
		says(do, `[data-testid="composer-send"]`, c.send)
		says(do, `[data-testid="menu-balance"]`, c.balance)
		if got := evalJS[string](t, ctx, `document.documentElement.lang`); got != c.code {
			t.Errorf("html lang %q, want %q", got, c.code)
		}
		fits(t, ctx, "the thread in "+c.code)
	}

	// The console's own picker.
	_, password := addStaff(t, info, "rui@cedar.example", "Rui", "agent")
	me := newCustomer(t, info.BaseURL)
	me.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := me.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
		t.Fatal(err)
	}
	consoleSignIn(do, info, "rui@cedar.example", password, 1)
	says(do, `.console-head h1`, "Console de atendimento") // the choice made in the messenger holds here too
	do("choose English in the console",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('[data-testid="console-language"]'); s.value = 'en'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	eventually(t, ctx, "the console reloaded in English", `document.querySelector('.console-head h1')?.textContent === 'Support console' && document.querySelectorAll('[data-testid="console-row"]').length > 0`)
	if got := evalJS[string](t, ctx, `document.documentElement.lang`); got != "en" {
		t.Errorf("the console after choosing English: lang %q", got)
	}
	fits(t, ctx, "the console after switching")
}
