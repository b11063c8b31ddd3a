package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/banksim"
	"github.com/openteller/openteller/internal/demo"
	"github.com/openteller/openteller/pkg/bankapi"
)

type receipt struct {
	Version          string `json:"version"`
	ConsentTimestamp int64  `json:"consentTimestamp"`
	CollectionMethod string `json:"collectionMethod"`
	ConsentReceiptID string `json:"consentReceiptID"`
	PiiControllers   []struct {
		PiiController string `json:"piiController"`
	} `json:"piiControllers"`
	Services []struct {
		Purposes []struct {
			Purpose              string   `json:"purpose"`
			PiiCategory          []string `json:"piiCategory"`
			ThirdPartyDisclosure bool     `json:"thirdPartyDisclosure"`
		} `json:"purposes"`
	} `json:"services"`
	OpenTeller struct {
		Action           string    `json:"action"`
		LinkID           string    `json:"link_id"`
		Scopes           []string  `json:"scopes"`
		ExpiresAt        time.Time `json:"expires_at"`
		DisclosureSHA256 string    `json:"disclosure_sha256"`
	} `json:"openteller"`
}

// TestConsentReceipts: a link lasts the days the customer chose, binds the
// disclosure they read, and leaves a receipt for its grant and its
// revocation, downloadable as a Kantara-shaped JSON document.
func TestConsentReceipts(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signUp("receipts@example.com", "a receipt for everything")
	ctx := ctxT(t)

	d, err := c.Disclosure(ctx, info.InstitutionID, []string{"balances"}, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Cedar Bank", "Account balances", "30 days", "never sold"} {
		if !strings.Contains(d.Text, want) {
			t.Fatalf("disclosure lacks %q:\n%s", want, d.Text)
		}
	}
	// Approving other terms than those read is refused and stores nothing.
	var apiErr *demo.APIError
	err = c.Call(ctx, "POST", "/app/api/links", map[string]any{"institution_id": info.InstitutionID, "scopes": []string{"balances", "transactions"},
		"duration_days": 30, "disclosure_digest": d.Digest}, nil)
	if !errors.As(err, &apiErr) || apiErr.Code != "disclosure_changed" {
		t.Fatalf("mismatched disclosure: %v", err)
	}
	if _, err := c.Disclosure(ctx, info.InstitutionID, []string{"balances"}, 400); !errors.As(err, &apiErr) || apiErr.Code != "invalid_duration" {
		t.Fatalf("400 days: %v", err)
	}

	convID, err := c.LinkFor(ctx, info.InstitutionID, []string{"balances"}, 30, banksim.DemoUsername(), banksim.DemoPassword())
	if err != nil {
		t.Fatal(err)
	}
	var conv demo.Conversation
	for _, cv := range c.conversations() {
		if cv.ID == convID {
			conv = cv
		}
	}
	var receipts struct {
		Receipts []receipt `json:"receipts"`
	}
	if err := c.Call(ctx, "GET", "/app/api/receipts", nil, &receipts); err != nil {
		t.Fatal(err)
	}
	if len(receipts.Receipts) != 1 {
		t.Fatalf("%d receipts after one grant", len(receipts.Receipts))
	}
	g := receipts.Receipts[0]
	until := time.Until(g.OpenTeller.ExpiresAt)
	if g.Version != "KI-CR-v1.1.0" || g.OpenTeller.Action != "grant" || g.OpenTeller.LinkID != conv.Link.ID ||
		!slices.Equal(g.OpenTeller.Scopes, []string{"balances"}) || g.OpenTeller.DisclosureSHA256 != d.Digest ||
		until < 29*24*time.Hour || until > 30*24*time.Hour || g.PiiControllers[0].PiiController != "Cedar Bank" ||
		g.Services[0].Purposes[0].ThirdPartyDisclosure || !slices.Equal(g.Services[0].Purposes[0].PiiCategory, []string{"Account balances"}) ||
		!strings.Contains(g.CollectionMethod, "PKCE") {
		t.Fatalf("grant receipt = %+v (expires in %s)", g, until)
	}

	if err := c.Call(ctx, "DELETE", "/app/api/links/"+conv.Link.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	receipts.Receipts = nil
	if err := c.Call(ctx, "GET", "/app/api/receipts", nil, &receipts); err != nil {
		t.Fatal(err)
	}
	if len(receipts.Receipts) != 2 || receipts.Receipts[0].OpenTeller.Action != "revoke" || receipts.Receipts[0].OpenTeller.LinkID != conv.Link.ID {
		t.Fatalf("after revoking: %+v", receipts.Receipts)
	}

	// The privacy center lists every link, ended ones too.
	var links struct {
		Links []struct {
			ID, Status  string
			Institution struct{ Name string }
		} `json:"links"`
	}
	if err := c.Call(ctx, "GET", "/app/api/links", nil, &links); err != nil || len(links.Links) != 1 ||
		links.Links[0].ID != conv.Link.ID || links.Links[0].Status != "revoked" || links.Links[0].Institution.Name != "Cedar Bank" {
		t.Fatalf("links: %+v %v", links, err)
	}

	// One receipt downloads as a file.
	req, _ := http.NewRequest("GET", info.BaseURL+"/app/api/receipts/"+g.ConsentReceiptID, nil)
	resp, err := c.Customer.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(string(body), g.ConsentReceiptID) {
		t.Fatalf("download: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	// Nobody else's receipts are reachable.
	other := newCustomer(t, info.BaseURL)
	other.signUp("nosy@example.com", "not my receipts at all")
	if err := other.Call(ctx, "GET", "/app/api/receipts/"+g.ConsentReceiptID, nil, nil); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("another customer's receipt: %v", err)
	}
}

// TestBrowserDisclosure: on the connect screen the customer unticks a
// scope and picks 30 days, reads the matching disclosure, approves at the
// bank, and gets a link with only the chosen scopes, for 30 days.
func TestBrowserDisclosure(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	do("open the connect screen",
		chromedp.Navigate(info.BaseURL+"/#/connect"),
		chromedp.WaitVisible(css(`[data-testid="disclosure"] h2`)),
	)
	do("untick transactions and choose 30 days",
		click(css(`[data-testid="scope-transactions"]`)),
		chromedp.SetValue(css(`[data-testid="duration"]`), "30"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="duration"]').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.Poll[chromedp.Void](`(() => { const t = document.querySelector('[data-testid="disclosure"]').textContent; return t.includes('30 days') && !t.includes('Card and account transactions'); })()`),
	)
	shot(t, ctx, "disclosure")
	text, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="disclosure"]`)))
	if err != nil || !strings.Contains(text, "Never used for advertising, never sold, never shared") {
		t.Fatalf("disclosure %q (%v)", text, err)
	}
	do("agree, and approve at the bank",
		click(css(`[data-testid="connect-continue"]`)),
		chromedp.WaitVisible(css(`button[value="approve"]`)),
		click(css(`button[value="approve"]`)),
		chromedp.WaitVisible(css(`[data-testid="thread"]`)),
	)
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	conv := c.conversations()[0]
	if slices.Contains(conv.Link.Scopes, "transactions") || !slices.Contains(conv.Link.Scopes, "balances") || conv.Link.ID == info.LinkID {
		t.Fatalf("new link %+v", conv.Link)
	}
	var receipts struct {
		Receipts []receipt `json:"receipts"`
	}
	if err := c.Call(ctxT(t), "GET", "/app/api/receipts", nil, &receipts); err != nil {
		t.Fatal(err)
	}
	latest := receipts.Receipts[0]
	if until := time.Until(latest.OpenTeller.ExpiresAt); latest.OpenTeller.LinkID != conv.Link.ID || until > 30*24*time.Hour || until < 29*24*time.Hour {
		t.Fatalf("receipt of the new link: %+v", latest.OpenTeller)
	}
	shot(t, ctx, fmt.Sprintf("linked-%d-scopes", len(conv.Link.Scopes)))
}

// TestBrowserPrivacyCenter: from the privacy center the customer renews a
// link for 180 days and then disconnects it with one tap and one
// confirmation; each decision leaves a receipt listed on the page.
func TestBrowserPrivacyCenter(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	row := fmt.Sprintf(`[data-testid="privacy-link"][data-id="%s"]`, info.LinkID)
	do("open the privacy center",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(row)),
		chromedp.WaitVisible(css(`[data-testid="receipt"][data-action="grant"]`)),
	)
	do("stop sharing transactions",
		click(css(row+` [data-testid="keep-transactions"]`)),
		click(css(row+` [data-testid="privacy-narrow"]`)),
		chromedp.WaitVisible(css(`[data-testid="receipt"][data-action="narrow"]`)),
		chromedp.WaitNotPresent(css(row+` [data-testid="keep-transactions"]`)),
	)
	if res := newBank(t, info.BaseURL, info.InstitutionAPIKey).post(bankapi.Event{ID: "after-narrow", LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted,
		OccurredAt: time.Now().UTC(), Data: bankapi.TransactionPosted{AccountID: "a", TransactionID: "t", Status: "posted", Direction: "debit",
			Amount: bankapi.Money{Amount: "2.00", Currency: "USD"}, Description: "Tea"}}); res[0].Error == nil || res[0].Error.Code != "consent_scope" {
		t.Fatalf("transaction after narrowing: %+v", res[0])
	}
	do("renew for 180 days",
		chromedp.SetValue(css(row+` [data-testid="renew-days"]`), "180"),
		click(css(row+` [data-testid="privacy-renew"]`)),
		chromedp.WaitVisible(css(`[data-testid="receipt"][data-action="renew"]`)),
	)
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	var receipts struct {
		Receipts []receipt `json:"receipts"`
	}
	if err := c.Call(ctxT(t), "GET", "/app/api/receipts", nil, &receipts); err != nil {
		t.Fatal(err)
	}
	if r := receipts.Receipts[0].OpenTeller; r.Action != "renew" || time.Until(r.ExpiresAt) < 179*24*time.Hour {
		t.Fatalf("renewal receipt %+v", r)
	}
	do("disconnect with one confirmation",
		click(css(row+` [data-testid="privacy-disconnect"]`)),
		click(css(row+` [data-testid="privacy-disconnect-confirm"]`)),
		chromedp.WaitVisible(css(row+`[data-status="revoked"]`)),
		chromedp.WaitVisible(css(`[data-testid="receipt"][data-action="revoke"]`)),
	)
	shot(t, ctx, "privacy")
	res := newBank(t, info.BaseURL, info.InstitutionAPIKey).post(message("after-privacy", info.LinkID, "still?"))
	if res[0].Error == nil || res[0].Error.Code != "consent_revoked" {
		t.Fatalf("bank post after disconnecting: %+v", res[0])
	}

	// A new password, from the privacy center: the current one is asked
	// for, and the other device (c) is signed out.
	const newPassword = "a brand new passphrase"
	do("a wrong current password is refused in words",
		chromedp.SendKeys(css(`[data-testid="account-pw-current"]`), "not my password"),
		chromedp.SendKeys(css(`[data-testid="account-pw-new"]`), newPassword),
		click(css(`[data-testid="account-pw-change"]`)),
		chromedp.Poll[chromedp.Void](`(document.querySelector('[data-testid="account-pw-said"]')?.textContent || '').includes('not your current password')`),
	)
	do("the password changes",
		chromedp.SetValue(css(`[data-testid="account-pw-current"]`), info.CustomerPassword),
		click(css(`[data-testid="account-pw-change"]`)),
		chromedp.Poll[chromedp.Void](`(document.querySelector('[data-testid="account-pw-said"]')?.textContent || '').includes('Every other device was signed out')`),
	)
	shot(t, ctx, "password-changed")
	if err := c.Call(ctxT(t), "GET", "/app/api/me", nil, nil); err == nil {
		t.Fatal("the other device is still signed in after a new password")
	}
	again := newCustomer(t, info.BaseURL)
	again.signIn(info.CustomerEmail, newPassword)
	do("this device stays signed in", chromedp.Navigate(info.BaseURL+"/#/"), chromedp.WaitVisible(css(`[data-testid="signout"]`)))
}

// TestBrowserDelegation: the owner shares one bank read-only with their
// accountant from the privacy center; the accountant reads balances and
// transactions (never messages); the owner sees that read in "Who read
// your data", stops the access, and the accountant is refused.
func TestBrowserDelegation(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	// The bank's opening balances arrive a moment after the link: wait for
	// them, so the accountant has something to read.
	do("see the opening balances", chromedp.WaitVisible(css(`[data-testid="balance-strip"]`)))
	acct := newCustomer(t, info.BaseURL)
	acct.signUp("accountant@example.com", "ledgers and receipts")
	newBank(t, info.BaseURL, info.InstitutionAPIKey).post(message("for-owner-only", info.LinkID, "a private word from the bank"))
	row := fmt.Sprintf(`[data-testid="privacy-link"][data-id="%s"]`, info.LinkID)
	do("share with the accountant",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(row+` details.delegation summary`)),
		click(css(row+` details.delegation summary`)),
		chromedp.SendKeys(css(row+` [data-testid="delegate-email"]`), "accountant@example.com"),
		click(css(row+` [data-testid="delegate-share"]`)),
		chromedp.WaitVisible(css(row+` [data-testid="delegation"]`)),
	)

	var shared struct {
		Delegations []struct {
			ID, Institution, Owner string
			Live                   bool
		} `json:"delegations"`
	}
	if err := acct.Call(ctxT(t), "GET", "/app/api/delegations", nil, &shared); err != nil || len(shared.Delegations) != 1 || !shared.Delegations[0].Live {
		t.Fatalf("shared with the accountant: %+v %v", shared, err)
	}
	if d := shared.Delegations[0]; d.Institution != "Cedar Bank" || d.Owner != info.CustomerEmail {
		t.Fatalf("delegation as the accountant sees it: %+v", d)
	}
	var read struct {
		Events []struct{ Type string } `json:"events"`
	}
	if err := acct.Call(ctxT(t), "GET", "/app/api/delegations/"+shared.Delegations[0].ID+"/events", nil, &read); err != nil {
		t.Fatal(err)
	}
	if len(read.Events) == 0 {
		t.Fatal("the accountant sees nothing")
	}
	for _, e := range read.Events {
		if e.Type != "balance.updated" && e.Type != "transaction.posted" {
			t.Fatalf("the accountant sees a %s", e.Type)
		}
	}

	do("see the read in the access history, and stop sharing",
		chromedp.Navigate(info.BaseURL+"/#/"),
		chromedp.WaitVisible(css(`[data-testid="connect-button"]`)), // the list, before the privacy view loads afresh
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(`[data-testid="access"]`)),
		click(css(row+` details.delegation summary`)),
		click(css(row+` [data-testid="delegation-revoke"]`)),
		chromedp.WaitNotPresent(css(row+` [data-testid="delegation"]`)),
	)
	shot(t, ctx, "privacy-delegation")
	var apiErr *demo.APIError
	if err := acct.Call(ctxT(t), "GET", "/app/api/delegations/"+shared.Delegations[0].ID+"/events", nil, nil); !errors.As(err, &apiErr) || apiErr.Code != "delegation_ended" {
		t.Fatalf("read after the owner stopped it: %v", err)
	}
}

// TestBrowserClearHistory: from the privacy center, the customer clears
// the bank's history with one tap and one confirmation; the conversation
// then holds only the notice that it was cleared, and the bank can go on
// posting.
func TestBrowserClearHistory(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	bank.post(message("before-clear", info.LinkID, "this will be cleared"))
	do("see the message", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"]')].some((b) => b.textContent.includes('this will be cleared'))`))
	row := fmt.Sprintf(`[data-testid="privacy-link"][data-id="%s"]`, info.LinkID)
	do("clear the bank's history",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(row+` [data-testid="privacy-clear"]`)),
		click(css(row+` [data-testid="privacy-clear"]`)),
		chromedp.WaitVisible(css(row+` [data-testid="clear-confirm-button"]`)),
		click(css(row+` [data-testid="clear-confirm-button"]`)),
		chromedp.WaitNotPresent(css(row+` [data-testid="clear-confirm"]`)),
	)
	do("the conversation holds only the notice",
		chromedp.Navigate(info.BaseURL+"/#/c/"+info.ConversationID),
		chromedp.WaitVisible(css(`[data-testid="cleared-notice"]`)),
		chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('[data-testid="message-bubble"]')].some((b) => b.textContent.includes('this will be cleared'))`),
	)
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('[data-testid="show-earlier"]').hidden`)); shown {
		t.Fatal("\"Show earlier\" is offered where nothing earlier is left")
	}
	shot(t, ctx, "history-cleared")
	if r := bank.post(message("after-clear", info.LinkID, "hello again"))[0]; r.Status != "accepted" {
		t.Fatalf("the bank after clearing: %+v", r.Error)
	}
	do("the bank's next message arrives", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"]')].some((b) => b.textContent.includes('hello again'))`))
}
