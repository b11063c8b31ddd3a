// Package demo runs OpenTeller on a laptop in one command: a node on
// embedded storage, a simulated bank beside it on its own port, and a demo
// customer whose account at that bank is linked through the real OAuth flow,
// so activity starts flowing at once.
//
// It writes <data>/demo.json with what an integration engineer needs to call
// the Bank API by hand. Password reset links, which serve would mail, are
// written to its log. A second run on the same data directory carries on
// with the same bank, customer and link.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/openteller/openteller/internal/auth"
	"github.com/openteller/openteller/internal/banksim"
	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Info is <data>/demo.json.
type Info struct {
	BaseURL           string `json:"base_url"`
	InstitutionID     string `json:"institution_id"`
	InstitutionAPIKey string `json:"institution_api_key"`
	LinkID            string `json:"link_id"`
	ConversationID    string `json:"conversation_id"`
	CustomerEmail     string `json:"customer_email"`
	CustomerPassword  string `json:"customer_password"`
	BankURL           string `json:"bank_url"`
	// One of Cedar Bank's people, for the agent console (/console.html).
	AgentEmail    string `json:"agent_email"`
	AgentPassword string `json:"agent_password"`
}

// Options configure Run.
type Options struct {
	Config   config.Config // resolved
	BankAddr string        // empty: the port after the platform's if free, else any free port
	Activity time.Duration // mean time between the demo customer's card transactions
	// FirstAlert is when, after start, the bank raises a fraud alert; zero
	// leaves alerts to chance (about one in a hundred activities).
	FirstAlert time.Duration
	// SettleDelay is how long the simulated bank takes to settle a payment
	// it accepted; zero is its default.
	SettleDelay time.Duration
	Stdout      io.Writer
	Logger      *slog.Logger
}

const bankName = "Cedar Bank"

// Run runs the demo until ctx ends.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	bankLn, err := listenBank(cfg.Addr, o.BankAddr)
	if err != nil {
		return err
	}
	defer bankLn.Close()
	// The port the bank really got: it is what the institution's OAuth
	// endpoints, the banner and demo.json name.
	bankURL := listenerURL(bankLn)

	// The simulated bank listens on loopback, so its webhooks must be allowed there.
	cfg.WebhookAllowPrivate = "true"
	srv, err := server.Open(ctx, cfg, o.Logger)
	if err != nil {
		return err
	}
	// A demo has no mail to send: reset links are written to its log,
	// where the person trying it reads them. serve never does this.
	srv.Auth.SetMailer(auth.LogMailer{Logger: o.Logger})
	// Shut down once: on an early return here, else gracefully at the end.
	shutDown := false
	defer func() {
		if !shutDown {
			srv.Shutdown(context.Background())
		}
	}()

	infoPath := filepath.Join(cfg.DataDir, "demo.json")
	info, inst, err := institution(ctx, srv.Store, infoPath, bankURL)
	if err != nil {
		return err
	}
	bank, err := banksim.New(banksim.Config{
		Name: inst.Name, PlatformURL: cfg.BaseURL, APIKey: info.InstitutionAPIKey,
		ClientID: inst.ClientID, ClientSecret: inst.ClientSecret, RedirectURI: cfg.BaseURL + "/oauth/callback",
		StatePath: filepath.Join(cfg.DataDir, "banksim.json"), Interval: o.Activity, SettleDelay: o.SettleDelay, Logger: o.Logger.With("component", "banksim"),
		WebhookURL: bankURL + "/webhooks",
	})
	if err != nil {
		return err
	}
	bankSrv := &http.Server{Handler: bank.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ln) }()
	go func() {
		if err := bankSrv.Serve(bankLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	defer bankSrv.Close()
	runCtx, stopBank := context.WithCancel(ctx)
	defer stopBank()
	go func() {
		if err := bank.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("simulated bank: %w", err)
		}
	}()

	if err := seed(ctx, cfg.BaseURL, &info, inst); err != nil {
		return fmt.Errorf("demo: link the demo customer: %w", err)
	}
	info.BaseURL, info.BankURL = cfg.BaseURL, bankURL
	if info.AgentEmail == "" {
		_, password, err := console.NewStaff(ctx, srv.Store, inst.ID, "sam@cedar.example", "Sam", store.RoleAgent, time.Now())
		switch {
		case err == nil:
			info.AgentEmail, info.AgentPassword = "sam@cedar.example", password
		default:
			// demo.json was lost but the data kept: the agent exists, with a
			// password nobody has any more. The demo runs without it.
			o.Logger.Warn("demo: no console agent this time", "err", err)
		}
	}
	if err := writeInfo(infoPath, info); err != nil {
		return err
	}
	banner(o.Stdout, info, infoPath)
	if o.FirstAlert > 0 {
		go func() {
			select {
			case <-runCtx.Done():
			case <-time.After(o.FirstAlert):
				if _, err := bank.RaiseFraudAlert(runCtx); err != nil && runCtx.Err() == nil {
					o.Logger.Warn("demo: fraud alert not posted yet; the bank retries", "err", err)
				}
			}
		}()
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	stopBank()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	bankSrv.Shutdown(shutdownCtx)
	shutDown = true
	return srv.Shutdown(shutdownCtx)
}

// listenBank listens for the simulated bank. An address that was asked for
// must be had; otherwise the bank takes the port after the platform's, and
// when that one is taken (as it often is by some other program's outgoing
// connection) any free port on the same host.
func listenBank(platformAddr, bankAddr string) (net.Listener, error) {
	if bankAddr != "" {
		ln, err := net.Listen("tcp", bankAddr)
		if err != nil {
			return nil, fmt.Errorf("demo: simulated bank on --bank-addr %s: %w", bankAddr, err)
		}
		return ln, nil
	}
	host, port, err := net.SplitHostPort(platformAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: simulated bank: %w", err)
	}
	if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65535 {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+1))); err == nil {
			return ln, nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("demo: simulated bank: %w", err)
	}
	return ln, nil
}

// listenerURL is the http URL a browser on this machine reaches ln at: a
// wildcard listener is reached on loopback, as config does for the platform.
func listenerURL(ln net.Listener) string {
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return "http://" + ln.Addr().String()
	}
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// institution finds the demo bank from an earlier run, or registers it.
func institution(ctx context.Context, st store.Store, infoPath, bankURL string) (Info, store.Institution, error) {
	var info Info
	if b, err := os.ReadFile(infoPath); err == nil {
		if err := json.Unmarshal(b, &info); err != nil {
			return info, store.Institution{}, fmt.Errorf("demo: %s: %w", infoPath, err)
		}
		inst, err := st.Institution(ctx, info.InstitutionID)
		if err == nil {
			// The simulated bank may listen elsewhere this time.
			inst.AuthorizeURL, inst.TokenURL = bankURL+"/authorize", bankURL+"/token"
			return info, inst, st.SetInstitutionEndpoints(ctx, inst.ID, inst.AuthorizeURL, inst.TokenURL)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return info, inst, err
		}
		info = Info{} // the data directory was reset under it: start over
	}
	inst, key, err := server.CreateInstitution(ctx, st, store.Institution{
		Name: bankName, AuthorizeURL: bankURL + "/authorize", TokenURL: bankURL + "/token",
		ClientID: "openteller-demo", ClientSecret: randomWords(),
	})
	if err != nil {
		return info, inst, err
	}
	info.InstitutionID, info.InstitutionAPIKey = inst.ID, key
	return info, inst, nil
}

// seed signs the demo customer up and links Cedar Bank, unless an earlier
// run did.
func seed(ctx context.Context, base string, info *Info, inst store.Institution) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c := NewCustomer(base)
	if info.CustomerEmail != "" {
		if err := c.SignIn(ctx, info.CustomerEmail, info.CustomerPassword); err != nil {
			return err
		}
	} else {
		info.CustomerEmail, info.CustomerPassword = "demo@example.com", randomWords()
		if err := c.SignUp(ctx, info.CustomerEmail, info.CustomerPassword); err != nil {
			return err
		}
	}
	convs, err := c.Conversations(ctx)
	if err != nil {
		return err
	}
	for _, cv := range convs {
		if cv.Institution.ID == inst.ID && cv.Link.Status == "active" {
			info.LinkID, info.ConversationID = cv.Link.ID, cv.ID
			return nil
		}
	}
	conv, err := c.Link(ctx, inst.ID, bankapi.AllScopes, banksim.DemoUsername(), banksim.DemoPassword())
	if err != nil {
		return err
	}
	convs, err = c.Conversations(ctx)
	if err != nil {
		return err
	}
	for _, cv := range convs {
		if cv.ID == conv {
			info.LinkID, info.ConversationID = cv.Link.ID, cv.ID
			return nil
		}
	}
	return errors.New("the new link's conversation is not listed")
}

// writeInfo replaces demo.json atomically; it holds an API key and a
// password, so only its owner may read it.
func writeInfo(path string, info Info) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func banner(w io.Writer, info Info, infoPath string) {
	fmt.Fprintf(w, `
OpenTeller demo is running.

  Messenger  %s
  Sign in    %s  /  %s
  Bank API   %s/v1/events  (API key and link id in %s)
  Demo bank  %s  (%s; its own sign-in: %s / %s)

  Console    %s/console.html  (Cedar Bank's agent: %s / %s)

Make the bank ask about a suspicious payment (it also does so by itself):

  curl -X POST %s/sim/fraud-alert

After "Not me", the new card is ready in two minutes; to have it now:

  curl -X POST %s/sim/replace-cards

Make the bank ask you to pay your card, then tap "Pay with %s":

  curl -X POST %s/sim/payment-request

Ask someone to pay you (☰, "Ask someone to pay you"): %s banks here
too. Sign up a second account, connect %s as %s (same password),
and ask %s.

Post a message to the demo customer:

  curl -s %s/v1/events \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"events":[{"id":"hello-'$(date +%%s)'","link_id":"%s","type":"message","occurred_at":"'$(date -u +%%FT%%TZ)'","data":{"text":"Hello from curl"}}]}'

Press Ctrl+C to stop.
`, info.BaseURL, info.CustomerEmail, info.CustomerPassword, info.BaseURL, infoPath, info.BankURL, bankName,
		banksim.DemoUsername(), banksim.DemoPassword(), info.BaseURL, info.AgentEmail, info.AgentPassword, info.BankURL, info.BankURL,
		bankName, info.BankURL, "Jordan", bankName, banksim.FriendUsername(), banksim.FriendHandle(),
		info.BaseURL, info.InstitutionAPIKey, info.LinkID)
}

var wordEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// randomWords returns a random secret that is easy to type: four groups of
// four characters (80 bits).
func randomWords() string {
	b := make([]byte, 10)
	rand.Read(b)
	s := wordEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}
