package e2e

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"
)

// pushed is one request a push service received.
type pushed struct {
	header http.Header
	body   []byte
}

// pushService subscribes a device of the demo customer to the kinds of
// push, as the browser would with the subscription its push service gave,
// at a local push service; it returns what that service receives and the
// platform's VAPID public key.
func pushService(t *testing.T, info demoInfo, kinds ...string) (<-chan pushed, string) {
	t.Helper()
	got := make(chan pushed, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- pushed{r.Header.Clone(), body}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)

	device, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	var settings struct {
		PublicKey string `json:"public_key"`
	}
	if err := c.Call(ctxT(t), "GET", "/app/api/push", nil, &settings); err != nil || settings.PublicKey == "" {
		t.Fatalf("push settings: %v %+v", err, settings)
	}
	sub := map[string]any{
		"endpoint": srv.URL + "/send/device-1", "expirationTime": nil,
		"keys": map[string]string{
			"p256dh": base64.RawURLEncoding.EncodeToString(device.PublicKey().Bytes()),
			"auth":   base64.RawURLEncoding.EncodeToString(auth),
		},
		"kinds": kinds,
	}
	if err := c.Call(ctxT(t), "PUT", "/app/api/push/subscription", sub, nil); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return got, settings.PublicKey
}

// awaitPush waits for the push service's next request.
func awaitPush(t *testing.T, got <-chan pushed, what string) pushed {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(20 * time.Second):
		t.Fatalf("no push within 20 s of %s", what)
		return pushed{}
	}
}

// TestFraudAlertIsPushed: a customer turns notifications on for a device
// (as the browser would, with the subscription its push service gave),
// the bank raises a fraud alert, and the device's push service receives a
// push for it at once: urgent, encrypted to the device (aes128gcm), signed
// by the platform's VAPID key, and carrying nothing of the alert. The
// push package's tests decrypt such a push and read it.
func TestFraudAlertIsPushed(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	got, publicKey := pushService(t, info, "alerts")

	resp, err := http.Post(info.BankURL+"/sim/fraud-alert", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	alert, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("raise an alert: %d %s", resp.StatusCode, alert)
	}
	push := awaitPush(t, got, "the alert")
	if push.header.Get("Urgency") != "high" || push.header.Get("Content-Encoding") != "aes128gcm" {
		t.Errorf("push headers: %v", push.header)
	}
	if a := push.header.Get("Authorization"); !strings.HasPrefix(a, "vapid t=") || !strings.Contains(a, "k="+publicKey) {
		t.Errorf("push Authorization %q does not carry the platform's VAPID key %s", a, publicKey)
	}
	// What the bank said of the alert (merchant, amount) is nowhere in the
	// push, not even encrypted: the push is built without it.
	var raised struct {
		Merchant string `json:"merchant"`
		Amount   string `json:"amount"`
	}
	json.Unmarshal(alert, &raised)
	for _, leak := range []string{raised.Merchant, raised.Amount, "Cedar Bank"} {
		if leak != "" && strings.Contains(string(push.body), leak) {
			t.Errorf("the push body holds %q in the clear", leak)
		}
	}
}

// TestPaymentRequestIsPushed: a device that asked for payment requests
// (and only for them) hears of the bank's request to pay at once: a push
// of its own kind (Topic payments), not urgent, encrypted and signed like
// every push. Its words are checked, decrypted, in the push package's
// TestPaymentRequestIsPushed: the bank's name, no amount, no merchant.
func TestPaymentRequestIsPushed(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	got, publicKey := pushService(t, info, "payments")

	// A fraud alert first, not asked for: pushes go out in commit order,
	// so had it been pushed, its push would come first.
	if resp, err := http.Post(info.BankURL+"/sim/fraud-alert", "", nil); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("raise an alert: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	requestPayment(t, info)
	push := awaitPush(t, got, "the payment request")
	if push.header.Get("Topic") != "payments" || push.header.Get("Urgency") != "normal" || push.header.Get("Content-Encoding") != "aes128gcm" {
		t.Errorf("push headers: %v", push.header)
	}
	if a := push.header.Get("Authorization"); !strings.HasPrefix(a, "vapid t=") || !strings.Contains(a, "k="+publicKey) {
		t.Errorf("push Authorization %q does not carry the platform's VAPID key %s", a, publicKey)
	}
	if strings.Contains(string(push.body), "Cedar Bank") {
		t.Error("the push body holds the bank's name in the clear")
	}
}

// TestBrowserShowsAPush: the messenger installs its service worker, the
// privacy center offers notifications for this device, and a push the
// browser receives is shown as a notification naming the bank, which the
// customer can tap to open the conversation; after the customer chooses
// French, a push is shown in French; a push written in the account's
// language (naming it) is shown as written.
func TestBrowserShowsAPush(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	origin := info.BaseURL
	do("open notification settings",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(`[data-testid="push-settings"]`)),
		chromedp.WaitVisible(css(`[data-testid="push-alerts"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="push-save"]').textContent === 'Turn on'`),
	)
	// Until the customer chooses, what waits for their answer is ticked:
	// fraud alerts and requests to approve a payment.
	if ticked := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[name="push-kind"]')].filter((b) => b.checked).map((b) => b.value)`); strings.Join(ticked, " ") != "alerts payments" {
		t.Errorf("ticked until chosen: %v, want alerts and payments", ticked)
	}

	// Chromium reaches no push service here, so the push is handed to the
	// service worker through DevTools, as the push service would.
	var registration serviceworker.RegistrationID
	do("find the service worker and allow notifications", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: origin}); err != nil {
			return err
		}
		updates := cdp.Events(ctx, tg, serviceworker.WorkerRegistrationUpdated)
		if _, err := cdp.Call(ctx, tg, serviceworker.Enable, cdp.Empty{}); err != nil {
			return err
		}
		for ev, err := range updates {
			if err != nil {
				return err
			}
			for _, r := range ev.Registrations {
				if !r.IsDeleted && strings.HasPrefix(r.ScopeURL, origin) {
					registration = r.RegistrationID
				}
			}
			if registration != "" {
				break
			}
		}
		return nil
	}))
	if state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.serviceWorker.ready.then(r => r.active.state)`, chromedp.EvalAwaitPromise)); err != nil || state != "activated" {
		t.Fatalf("the service worker: %q %v", state, err)
	}
	data := `{"title":"Cedar Bank needs your answer","body":"Open OpenTeller to answer.","tag":"alerts:` + info.ConversationID + `","url":"/#/c/` + info.ConversationID + `"}`
	// Hand the push over, then ask the page what is shown until it is. A
	// push handed over while Chromium still settles the worker is sometimes
	// dropped (DevTools gives no acknowledgement), so it is handed over
	// again every 2 s, as a push service would retry an undelivered push,
	// for up to 20 s. (A poll run in the page, chromedp.Poll, keeps the
	// notification from showing in headless Chromium; one question at a
	// time does not.)
	deliver := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{Origin: origin, RegistrationID: registration, Data: data})
		return err
	})
	delivered := time.Time{}
	want := [3]string{"Cedar Bank needs your answer", "alerts:" + info.ConversationID, "/#/c/" + info.ConversationID}
	shown := `navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => [n.title, n.tag, n.data && n.data.url]))`
	showing := func() {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if time.Since(delivered) > 2*time.Second {
				do("a push arrives", deliver)
				delivered = time.Now()
			}
			list, err := chromedp.Run(ctx, chromedp.Evaluate[[][3]string](shown, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("notifications: %v", err)
			}
			if slices.Contains(list, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("shown %q, want %q", list, want)
			}
		}
	}
	showing()

	// In the customer's language: once they choose French, the page leaves
	// the service worker the French words, and a push that names its kind
	// and bank is shown in them.
	do("choose French",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('[data-testid="language-picker"]'); s.value = 'fr'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.Poll[chromedp.Void](`document.documentElement.lang === 'fr'`))
	eventually(t, ctx, "the service worker has the French words",
		`caches.open('openteller-i18n').then((c) => c.match('/i18n/push-words.json')).then((r) => (r ? r.json() : null)).then((w) => w?.lang === 'fr')`)
	data = `{"title":"Cedar Bank needs your answer","body":"Open OpenTeller to answer.","tag":"alerts-fr:` + info.ConversationID + `","url":"/#/c/` + info.ConversationID + `","kind":"alerts","institution":"Cedar Bank"}`
	want = [3]string{"Cedar Bank attend votre réponse", "alerts-fr:" + info.ConversationID, "/#/c/" + info.ConversationID}
	delivered = time.Time{}
	showing()

	// A push the server wrote in the language kept with the customer's
	// account names it ({lang}), and is shown as it came, whatever words
	// this device keeps: the account's choice follows the customer.
	data = `{"title":"Cedar Bank attende la Sua risposta","body":"Apra OpenTeller per rispondere.","tag":"alerts-it:` + info.ConversationID + `","url":"/#/c/` + info.ConversationID + `","kind":"alerts","institution":"Cedar Bank","lang":"it"}`
	want = [3]string{"Cedar Bank attende la Sua risposta", "alerts-it:" + info.ConversationID, "/#/c/" + info.ConversationID}
	delivered = time.Time{}
	showing()

	// It can be installed: its manifest names it, standalone, from /.
	manifest, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json()).then(m => m.name + '|' + m.display + '|' + m.start_url)`, chromedp.EvalAwaitPromise))
	if err != nil || manifest != "OpenTeller|standalone|/" {
		t.Fatalf("manifest: %q %v", manifest, err)
	}
}
