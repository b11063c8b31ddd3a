// Package linking connects a customer's bank account to their OpenTeller
// conversation through the bank's own login: OAuth 2.0 authorization code
// with PKCE (S256) and state, the platform acting as the bank's client.
//
// The link it creates is the customer's consent: an opaque pairwise id that
// the platform mints and the bank binds to its customer at the token
// exchange, the scopes the customer approved (on our screen and again at the
// bank: the link gets the intersection), and an expiry. The bank never
// learns the platform's user id; the platform never learns the bank's
// customer number.
//
// What must stay true: a state is used once, by the customer who started
// it, before it expires; nothing the bank returns widens what the customer
// asked for.
package linking

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// storeRoles is what linking needs of the store: the institutions to link
// with, and the link attempts and links it makes.
type storeRoles interface {
	store.Institutions
	store.Links
}

// attemptTTL is how long the customer has at the bank's sign-in page.
const attemptTTL = 10 * time.Minute

// Service starts links and finishes them when the bank sends the customer
// back.
type Service struct {
	store    storeRoles
	bus      *bus.Bus
	baseURL  string // the platform's public URL; the redirect URI hangs off it
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	customer func(*http.Request) (string, bool)
}

// Config configures New.
type Config struct {
	Store   storeRoles
	Bus     *bus.Bus
	BaseURL string
	// Client makes the token request; it should refuse private addresses
	// and redirects as webhook.Client does. nil uses one with a 10 s
	// timeout that follows no redirect (tests).
	Client     *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	CustomerOf func(*http.Request) (string, bool)
}

// New returns a Service.
func New(c Config) *Service {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Service{store: c.Store, bus: c.Bus, baseURL: strings.TrimRight(c.BaseURL, "/"), client: c.Client, now: c.Now, log: c.Logger, customer: c.CustomerOf}
}

// RedirectURI is where banks send customers back.
func (s *Service) RedirectURI() string { return s.baseURL + "/oauth/callback" }

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashState(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}

// Request is what the customer approved on the disclosure screen.
type Request struct {
	InstitutionID string
	Scopes        []string
	DurationDays  int
	// DisclosureDigest names the disclosure text the customer read; it must
	// be the one the platform shows for these choices today, in Lang (the
	// language it was shown in; English when empty).
	DisclosureDigest string
	Lang             string
}

// Disclosure returns what the customer must read before linking, in
// English.
func (s *Service) Disclosure(ctx context.Context, institutionID string, scopes []string, days int) (consent.Disclosure, error) {
	return s.DisclosureIn(ctx, "", institutionID, scopes, days)
}

// DisclosureIn is Disclosure in lang, the customer's language (i18n).
func (s *Service) DisclosureIn(ctx context.Context, lang, institutionID string, scopes []string, days int) (consent.Disclosure, error) {
	if len(scopes) == 0 {
		return consent.Disclosure{}, httpx.Errorf(http.StatusBadRequest, "no_scopes", "Choose at least one kind of information to share.")
	}
	for _, sc := range scopes {
		if !slices.Contains(bankapi.AllScopes, sc) {
			return consent.Disclosure{}, httpx.Errorf(http.StatusBadRequest, "unknown_scope", "%q is not something a bank can share here.", sc)
		}
	}
	if !slices.Contains(consent.Durations, days) {
		return consent.Disclosure{}, httpx.Errorf(http.StatusBadRequest, "invalid_duration", "Choose 30, 90, 180 or 365 days.")
	}
	in, err := s.store.Institution(ctx, institutionID)
	if errors.Is(err, store.ErrNotFound) {
		return consent.Disclosure{}, httpx.Errorf(http.StatusNotFound, "unknown_institution", "That bank is not available.")
	}
	if err != nil {
		return consent.Disclosure{}, err
	}
	return consent.DiscloseIn(lang, in.Name, scopes, days)
}

// Start records a link attempt and returns the bank's authorize URL.
func (s *Service) Start(ctx context.Context, customerID string, req Request) (string, error) {
	d, err := s.DisclosureIn(ctx, req.Lang, req.InstitutionID, req.Scopes, req.DurationDays)
	if err != nil {
		return "", err
	}
	if req.DisclosureDigest != d.Digest {
		return "", httpx.Errorf(http.StatusConflict, "disclosure_changed", "What you are agreeing to has changed. Please read it again before you continue.")
	}
	scopes := slices.Compact(slices.Sorted(slices.Values(req.Scopes)))
	in, err := s.store.Institution(ctx, req.InstitutionID)
	if err != nil {
		return "", err
	}
	state, verifier := randomToken(), randomToken()
	a := store.LinkAttempt{
		StateHash: hashState(state), CustomerID: customerID, InstitutionID: in.ID, LinkID: ingest.NewID("lnk_"),
		CodeVerifier: verifier, Scopes: scopes, ExpiresAt: s.now().Add(attemptTTL),
		DurationDays: req.DurationDays, DisclosureDigest: d.Digest,
	}
	if err := s.store.CreateLinkAttempt(ctx, a); err != nil {
		return "", fmt.Errorf("linking: store attempt: %w", err)
	}
	challenge := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {in.ClientID},
		"redirect_uri":          {s.RedirectURI()},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	u, err := url.Parse(in.AuthorizeURL)
	if err != nil {
		return "", fmt.Errorf("linking: institution %s authorize url: %w", in.ID, err)
	}
	// The bank's own parameters stay, but never in place of ours: state,
	// redirect_uri and PKCE are the platform's to set.
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String(), nil
}

// Callback serves GET /oauth/callback: the bank's redirect back. It always
// answers with a redirect into the messenger, carrying an error code when the
// link was not made.
func (s *Service) Callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		convID, code := s.finish(r)
		if code != "" {
			http.Redirect(w, r, "/#/connect?error="+url.QueryEscape(code), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/#/c/"+url.PathEscape(convID), http.StatusSeeOther)
	})
}

func (s *Service) finish(r *http.Request) (conversationID, errCode string) {
	ctx := r.Context()
	q := r.URL.Query()
	customerID, ok := s.customer(r)
	if !ok {
		return "", "signed_out"
	}
	state := q.Get("state")
	if state == "" {
		return "", "invalid_state"
	}
	a, err := s.store.TakeLinkAttempt(ctx, hashState(state))
	if errors.Is(err, store.ErrNotFound) {
		return "", "invalid_state"
	}
	if err != nil {
		s.log.Error("linking: take attempt", "err", err)
		return "", "server_error"
	}
	if a.CustomerID != customerID {
		// A link started by someone else must not land in this account.
		return "", "invalid_state"
	}
	if e := q.Get("error"); e != "" {
		if e != "access_denied" && e != "temporarily_unavailable" {
			e = "server_error"
		}
		return "", e
	}
	code := q.Get("code")
	if code == "" {
		return "", "invalid_request"
	}
	in, err := s.store.Institution(ctx, a.InstitutionID)
	if err != nil {
		s.log.Error("linking: read institution", "err", err)
		return "", "server_error"
	}
	granted, err := s.exchange(ctx, in, a, code)
	if err != nil {
		s.log.Warn("linking: token exchange failed", "institution", in.ID, "err", err)
		return "", "exchange_failed"
	}
	scopes := make([]string, 0, len(a.Scopes))
	for _, sc := range a.Scopes {
		if slices.Contains(granted, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return "", "access_denied"
	}
	now := s.now().UTC()
	days := a.DurationDays
	if !slices.Contains(consent.Durations, days) {
		days = consent.DefaultDays
	}
	l := store.Link{
		ID: a.LinkID, CustomerID: a.CustomerID, InstitutionID: a.InstitutionID, ConversationID: ingest.NewID("cnv_"),
		Scopes: scopes, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour),
	}
	l, err = s.store.CreateLink(ctx, l, consent.GrantReceipt(l, a.DisclosureDigest))
	if err != nil {
		s.log.Error("linking: create link", "err", err)
		return "", "server_error"
	}
	// Tell the customer's other open devices about the conversation.
	if err := s.bus.WakeCustomer(l.CustomerID, bus.Wake{ConversationID: l.ConversationID}); err != nil {
		s.log.Warn("linking: wake", "err", err)
	}
	s.log.Info("link created", "link", l.ID, "institution", l.InstitutionID, "scopes", len(scopes))
	return l.ConversationID, ""
}

// exchange trades the code for the bank's confirmation and returns the
// scopes the bank says the customer approved.
func (s *Service) exchange(ctx context.Context, in store.Institution, a store.LinkAttempt, code string) ([]string, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {s.RedirectURI()},
		"client_id":     {in.ClientID},
		"code_verifier": {a.CodeVerifier},
		"link_id":       {a.LinkID},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(in.ClientID), url.QueryEscape(in.ClientSecret))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
		LinkID      string `json:"link_id"`
		Error       string `json:"error"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, fmt.Errorf("token response (%d) is not JSON", resp.StatusCode)
	}
	// The bank confirms the link only with a real token answer (RFC 6749
	// §5.1) naming the link it was asked to bind.
	switch {
	case resp.StatusCode != http.StatusOK || tok.Error != "":
		return nil, fmt.Errorf("token endpoint answered %d %s", resp.StatusCode, tok.Error)
	case tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer"):
		return nil, fmt.Errorf("token response has no bearer access token (token_type %q)", tok.TokenType)
	case tok.LinkID != a.LinkID:
		return nil, fmt.Errorf("token response names link %q, asked for %q", tok.LinkID, a.LinkID)
	}
	if tok.Scope == "" {
		// RFC 6749 §5.1: an omitted scope means the scope requested.
		return a.Scopes, nil
	}
	return strings.Fields(tok.Scope), nil
}
