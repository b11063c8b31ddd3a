package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBottenderEchoBot runs an existing Messenger bot, written on the
// third-party framework bottender (e2e/bottender/bot.js), against the
// binary: its Graph base URL (origin) is the platform's, its access token
// the institution's API key. The platform verifies the bot's endpoint with
// the hub.challenge handshake that bottender answers, delivers the
// customer's words in Messenger's shape, signed, which bottender verifies
// with the app secret (the endpoint's secret), and the bot's Send API calls
// (typing_on, then text with a quick reply, each with bottender's
// appsecret_proof) reach the customer through ingest.
//
// OPENTELLER_TEST_BOTTENDER names the directory where bottender is
// installed (`npm install --ignore-scripts --no-package-lock` in
// e2e/bottender; .ci/run does it). Unset, the test is skipped; set, a
// missing node or bottender fails it.
func TestBottenderEchoBot(t *testing.T) {
	dir := os.Getenv("OPENTELLER_TEST_BOTTENDER")
	if dir == "" {
		t.Skip("OPENTELLER_TEST_BOTTENDER is not set: the bottender acceptance test needs bottender installed (see .ci/run)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("OPENTELLER_TEST_BOTTENDER is set but node is not on PATH: %v", err)
	}
	for _, pkg := range []string{"bottender", "@bottender/express"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("OPENTELLER_TEST_BOTTENDER=%s but %s is not installed there: %v", dir, pkg, err)
		}
	}
	script, err := filepath.Abs("bottender/bot.js")
	if err != nil {
		t.Fatal(err)
	}

	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	waitSimulatedBankEndpoint(t, info)

	// The bot, as a bank would run it.
	botAddr := freeAddr(t)
	_, port, _ := strings.Cut(botAddr, ":")
	const verifyToken = "cedar-bank-verify-token"
	cmd := exec.Command(node, script)
	cmd.Dir = dir // node resolves bottender from the installation
	cmd.Env = append(os.Environ(), "PORT="+port, "ORIGIN="+info.BaseURL, "ACCESS_TOKEN="+info.InstitutionAPIKey, "VERIFY_TOKEN="+verifyToken, "NODE_PATH="+filepath.Join(dir, "node_modules"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-exited
		t.Logf("bot output:\n%s", out.String())
	})
	botURL := "http://" + botAddr + "/webhooks/messenger"
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get(botURL + "?hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=ping")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) == "ping" {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the bot exited:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not answer within 60 s:\n%s", out.String())
		}
	}

	// Register it as a Messenger endpoint: the platform's handshake, which
	// bottender answers, comes first.
	register := func(verify string) (int, map[string]any) {
		body, _ := json.Marshal(map[string]string{"url": botURL, "format": "messenger", "verify_token": verify})
		req, _ := http.NewRequest("POST", info.BaseURL+"/v1/webhook-endpoints", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		json.NewDecoder(resp.Body).Decode(&got)
		return resp.StatusCode, got
	}
	if status, got := register("a-wrong-token"); status != http.StatusBadRequest {
		t.Fatalf("bottender refused the wrong verify token, yet registering answered %d %v", status, got)
	}
	status, got := register(verifyToken)
	secret, _ := got["secret"].(string)
	if status != http.StatusCreated || secret == "" || got["format"] != "messenger" {
		t.Fatalf("register: %d %v", status, got)
	}
	if _, err := io.WriteString(stdin, secret+"\n"); err != nil {
		t.Fatal(err)
	}

	// bottender checks signatures: a delivery signed with another secret
	// is refused, so the answers below mean ours verified.
	forged := []byte(`{"object":"page","entry":[{"id":"x","time":1,"messaging":[{"sender":{"id":"` + info.LinkID + `"},"recipient":{"id":"x"},"timestamp":1,"message":{"mid":"m","text":"forged"}}]}]}`)
	req, _ := http.NewRequest("POST", botURL, bytes.NewReader(forged))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", "sha1=0000000000000000000000000000000000000000")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bottender took a forged delivery: %v %v", resp, err)
	}

	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	sock := c.dial(info.BaseURL, nil)
	sent("hello bottender")
	var posted struct{ Seq int64 }
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/messages", map[string]string{"text": "hello bottender"}, &posted); err != nil {
		t.Fatal(err)
	}
	type message struct {
		Text         string `json:"text"`
		QuickReplies []struct {
			Label   string `json:"label"`
			Payload string `json:"payload"`
		} `json:"quick_replies"`
	}
	answer := func(want string) (int64, message) {
		t.Helper()
		var m message
		f := sock.await(60*time.Second, func(f frame) bool {
			if f.Event.Type != "message" || f.Event.Author != "institution" {
				return false
			}
			json.Unmarshal(f.Event.Data, &m)
			return m.Text == want
		})
		return f.Event.Seq, m
	}
	seq, m := answer("echo: hello bottender")
	if len(m.QuickReplies) != 1 || m.QuickReplies[0].Label != "Again" || m.QuickReplies[0].Payload != "AGAIN" {
		t.Fatalf("the echo's quick replies: %+v", m.QuickReplies)
	}
	// The customer taps the quick reply; the bot hears its payload.
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/messages", map[string]any{"reply_to": seq, "payload": "AGAIN", "text": "Again"}, nil); err != nil {
		t.Fatal(err)
	}
	answer("you tapped AGAIN")
	if s := out.String(); !strings.Contains(s, "bot: event text=\"hello bottender\"") {
		t.Fatalf("the bot did not log the customer's message:\n%s", s)
	}
}

// waitSimulatedBankEndpoint waits until the demo's simulated bank has
// registered its own webhook endpoint, so that it does not replace the
// test's later.
func waitSimulatedBankEndpoint(t *testing.T, info demoInfo) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		req, _ := http.NewRequest("GET", info.BaseURL+"/v1/webhook-endpoints", nil)
		req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ep struct{ URL string }
		json.NewDecoder(resp.Body).Decode(&ep)
		resp.Body.Close()
		if ep.URL == info.BankURL+"/webhooks" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulated bank did not register its endpoint (now %q)", ep.URL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrowserBankMenu: a bank's bot sets its Messenger profile (Get
// started and a persistent menu) through the Graph API; the customer finds
// both under ☰ in a real Chromium, and tapping the bank's item sends it to
// the bank as the customer's words, in the conversation.
func TestBrowserBankMenu(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	body := `{"get_started":{"payload":"START"},"persistent_menu":[{"locale":"default","call_to_actions":[` +
		`{"type":"postback","title":"Block my card","payload":"BLOCK"},{"type":"web_url","title":"Branches","url":"https://bank.example/branches"}]}]}`
	resp, err := http.Post(info.BaseURL+"/v19.0/me/messenger_profile?access_token="+info.InstitutionAPIKey, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("messenger_profile: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	t.Cleanup(cancel)
	do := steps(t, ctx)
	openConversation(do, info)
	do("open the menu",
		click(css(`[data-testid="menu-button"]`)),
		chromedp.WaitVisible(css(`[data-testid="menu-bank-item"]`)),
		chromedp.WaitVisible(css(`[data-testid="menu-get-started"]`)),
		chromedp.WaitVisible(css(`[data-testid="menu-bank-link"][href="https://bank.example/branches"]`)),
	)
	do("tap the bank's item",
		click(css(`[data-testid="menu-bank-item"]`)),
		chromedp.WaitVisible(css(`[data-testid="message-bubble"][data-author="customer"]`)),
	)
	text, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="message-bubble"][data-author="customer"]`)))
	if err != nil || !strings.Contains(text, "Block my card") {
		t.Fatalf("the customer's bubble says %q (%v)", text, err)
	}
}
