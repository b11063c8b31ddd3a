package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Passkeys (issue 12), in a real Chromium at a phone's size and a
// laptop's, with the DevTools protocol's virtual authenticator standing in
// for the phone's fingerprint reader: a platform authenticator (CTAP2,
// internal transport) that keeps discoverable credentials and verifies
// its user. The demo's node is at 127.0.0.1, which browsers refuse as a
// passkey's domain; its passkeys are made for localhost, so the browser
// opens the messenger there, as the configuration's help says.

// virtualAuthenticator turns on the WebAuthn domain of the page's target
// and adds a phone-like authenticator whose passkeys are synced (backup
// eligible and backed up), as a platform's password manager keeps them.
func virtualAuthenticator() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
			DefaultBackupEligibility:    true,
			DefaultBackupState:          true,
		}})
		return chromedp.Void{}, err
	}
}

// TestBrowserPasskey: signed in with the password, the customer adds a
// passkey named "My phone" in the privacy center and sees it listed (when
// added, never used yet, synced); signs out; signs in with "Sign in with
// a passkey" alone (no email, no password) and opens the bank's
// conversation; removes the passkey, marked as the one this device signed
// in with, after a confirmation that says this device will be signed out
// too; lands on the sign-in page, which says why; and a sign-in with the
// removed passkey fails with a plain sentence saying so. The node's log
// has the passkey added and removed, with the session it ended.
func TestBrowserPasskey(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			browser := newChrome(t)
			p, info := startDemo(t, t.TempDir(), "--activity", "1h")
			base := strings.Replace(info.BaseURL, "://127.0.0.1:", "://localhost:", 1)
			if base == info.BaseURL {
				t.Fatalf("the demo is not at 127.0.0.1: %s", info.BaseURL)
			}
			ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
			defer cancel()
			do := steps(t, ctx)
			// With axe-core at hand, the passkey's states are checked for
			// accessibility too (TestBrowserAccessible sees the others).
			check := func(context.Context, string) {}
			if os.Getenv("OPENTELLER_TEST_AXE") != "" {
				check = axeChecker(t, axeSource(t))
			}
			do("set the viewport", chromedp.EmulateViewport(vp.w, vp.h))
			do("add a virtual authenticator", chromedp.Navigate("about:blank"), virtualAuthenticator())

			do("sign in with the password",
				chromedp.Navigate(base+"/"),
				chromedp.WaitVisible(css(`[data-testid="signin-email"]`)),
				chromedp.SendKeys(css(`[data-testid="signin-email"]`), info.CustomerEmail),
				chromedp.SendKeys(css(`[data-testid="signin-password"]`), info.CustomerPassword),
				click(css(`[data-testid="signin-submit"]`)),
				chromedp.WaitVisible(css(`[data-testid="conversation-row"]`)),
			)
			do("add a passkey",
				chromedp.Navigate(base+"/#/privacy"),
				chromedp.WaitVisible(css(`[data-testid="passkey-none"]`)),
				chromedp.ScrollIntoView(css(`[data-testid="passkey-name"]`)),
				chromedp.SendKeys(css(`[data-testid="passkey-name"]`), "My phone"),
				click(css(`[data-testid="passkey-add"]`)),
				chromedp.WaitVisible(css(`[data-testid="passkey"]`)),
				chromedp.WaitVisible(css(`[data-testid="passkey-said"]`)),
			)
			row := evalJS[string](t, ctx, `document.querySelector('[data-testid="passkey"]').textContent`)
			if !strings.Contains(row, "My phone") || !strings.Contains(row, "never used") || !strings.Contains(row, "Synced") {
				t.Fatalf("the passkey's row says %q", row)
			}
			if said := evalJS[string](t, ctx, `document.querySelector('[data-testid="passkey-said"]').textContent`); !strings.Contains(said, "My phone") {
				t.Fatalf("after adding, the page says %q", said)
			}
			shot(t, ctx, "the passkey added")
			fits(t, ctx, "the passkey added")
			check(ctx, "the passkey added")

			do("sign out",
				chromedp.Navigate(base+"/#/"),
				chromedp.WaitVisible(css(`[data-testid="signout"]`)),
				click(css(`[data-testid="signout"]`)),
				chromedp.WaitVisible(css(`[data-testid="passkey-signin"]`)),
			)
			shot(t, ctx, "sign in, with a passkey offered")
			fits(t, ctx, "sign in, with a passkey offered")
			do("sign in with the passkey alone, and open the conversation",
				click(css(`[data-testid="passkey-signin"]`)),
				chromedp.WaitVisible(css(`[data-testid="conversation-row"]`)),
				chromedp.WaitNotVisible(css(`[data-testid="loading"]`)),
				click(css(`[data-testid="conversation-row"]`)),
				chromedp.WaitVisible(css(`[data-testid="thread"]`)),
			)
			if filled := evalJS[string](t, ctx, `document.querySelector('[data-testid="signin-password"]')?.value ?? ''`); filled != "" {
				t.Fatal("the password field was filled")
			}

			do("remove the passkey",
				chromedp.Navigate(base+"/#/privacy"),
				chromedp.WaitVisible(css(`[data-testid="passkey-remove"]`)),
			)
			if used := evalJS[string](t, ctx, `document.querySelector('[data-testid="passkey"]').textContent`); strings.Contains(used, "never used") || !strings.Contains(used, "You signed in here with it") {
				t.Fatalf("after signing in with it, the passkey's row says %q", used)
			}
			do("confirm the removal",
				chromedp.ScrollIntoView(css(`[data-testid="passkey-remove"]`)),
				click(css(`[data-testid="passkey-remove"]`)),
				chromedp.WaitVisible(css(`[data-testid="passkey-remove-confirm"]`)),
			)
			if said := evalJS[string](t, ctx, `document.querySelector('[data-testid="passkey-remove-said"]').textContent`); !strings.Contains(said, "this device will be signed out too") {
				t.Fatalf("the confirmation says %q", said)
			}
			shot(t, ctx, "removing the passkey")
			fits(t, ctx, "removing the passkey")
			check(ctx, "removing the passkey")
			do("removed, and this device signed out",
				click(css(`[data-testid="passkey-remove-confirm"]`)),
				chromedp.WaitVisible(css(`[data-testid="passkey-signin"]`)),
				chromedp.WaitVisible(css(`[data-testid="auth-error"]`)),
			)
			if said := evalJS[string](t, ctx, `document.querySelector('[data-testid="auth-error"]').textContent`); !strings.Contains(said, "“My phone” is removed") || !strings.Contains(said, "this one included, are signed out") {
				t.Fatalf("after the removal, the sign-in page says %q", said)
			}
			shot(t, ctx, "signed out by the removal")
			fits(t, ctx, "signed out by the removal")
			check(ctx, "signed out by the removal")
			if code, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/app/api/me').then((r) => r.status)`, chromedp.EvalAwaitPromise)); err != nil || code != 401 {
				t.Fatalf("after the removal, /app/api/me answers %d (%v)", code, err)
			}

			do("try the removed passkey",
				click(css(`[data-testid="passkey-signin"]`)),
				chromedp.Poll[chromedp.Void](`(document.querySelector('[data-testid="auth-error"]')?.textContent || '').includes('not on any account here')`),
			)
			said := evalJS[string](t, ctx, `document.querySelector('[data-testid="auth-error"]').textContent`)
			if !strings.Contains(said, "not on any account here") || !strings.Contains(said, "removed") {
				t.Fatalf("a sign-in with the removed passkey says %q", said)
			}
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="conversation-row"]').length`); n != 0 {
				t.Fatal("the removed passkey signed in")
			}
			shot(t, ctx, "the removed passkey refused")
			fits(t, ctx, "the removed passkey refused")
			check(ctx, "the removed passkey refused")

			out := p.out.String()
			for _, event := range []string{"auth: passkey added", "auth: signed in with a passkey", "auth: passkey removed", "sessions_ended=1 signed_out_here=true"} {
				if !strings.Contains(out, event) {
					t.Errorf("the node's log lacks %q", event)
				}
			}
		})
	}
}
