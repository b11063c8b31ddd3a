package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// RotationOverlap is how long the previous secret keeps signing after a
// rotation, so the bank can switch without missing a delivery.
const RotationOverlap = 24 * time.Hour

// Endpoints registers institutions' webhook endpoints over the Bank API.
type Endpoints struct {
	Store        store.Store
	Keyring      *vault.Keyring
	AllowPrivate bool // plain http allowed too (demo, tests)
	Now          func() time.Time
	// Handshakes, by format, prove that a URL answers for the bank before
	// an endpoint of that format is registered (Messenger's hub.challenge:
	// messenger.Handshake). A format without one cannot be registered.
	Handshakes map[string]Handshake
}

// Handshake asks the endpoint at url to show it is the bank's, with the
// token the bank gave; client reaches only the addresses webhooks may.
type Handshake func(ctx context.Context, client *http.Client, url, verifyToken string) error

func (e *Endpoints) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Register sets the institution's endpoint to rawURL with a fresh secret,
// which it returns: the only time the secret is shown.
func (e *Endpoints) Register(ctx context.Context, institutionID, rawURL string) (string, error) {
	return e.RegisterFormat(ctx, institutionID, rawURL, "", "")
}

// RegisterFormat registers an endpoint that expects format ("" for
// Standard Webhooks). A format with a handshake is registered only once
// the URL has answered it with verifyToken; until then nothing changes.
func (e *Endpoints) RegisterFormat(ctx context.Context, institutionID, rawURL, format, verifyToken string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && !(e.AllowPrivate && u.Scheme == "http")) || u.User != nil {
		return "", httpx.Errorf(http.StatusBadRequest, "invalid_url", "Give an absolute https URL without credentials in it.")
	}
	if format == "standard" {
		format = ""
	}
	if format != "" {
		handshake := e.Handshakes[format]
		if handshake == nil {
			return "", httpx.Errorf(http.StatusBadRequest, "invalid_format", "Field \"format\" must be \"standard\" (Standard Webhooks) or \"messenger\" (the Messenger Platform's shape).")
		}
		if verifyToken == "" || len(verifyToken) > 256 {
			return "", httpx.Errorf(http.StatusBadRequest, "invalid_verify_token", "A %s endpoint needs \"verify_token\" (1 to 256 characters): the platform sends it in the hub.verify_token handshake before registering the URL.", format)
		}
		if err := handshake(ctx, Client(e.AllowPrivate), u.String(), verifyToken); err != nil {
			return "", httpx.Errorf(http.StatusBadRequest, "verification_failed", "The endpoint did not pass the verification handshake, so nothing was registered: %v.", err)
		}
	} else if verifyToken != "" {
		return "", httpx.Errorf(http.StatusBadRequest, "invalid_verify_token", "Field \"verify_token\" is for a messenger endpoint only.")
	}
	secret := bankapi.NewWebhookSecret()
	return secret, e.Store.PutWebhookEndpoint(ctx, store.WebhookEndpoint{InstitutionID: institutionID, URL: u.String(),
		Secret: e.Keyring.SealPlatform(SecretRecord(institutionID), []byte(secret)), CreatedAt: e.now().UTC(), Format: format})
}

// Rotate gives the endpoint a new secret and returns it; the previous one
// keeps signing for RotationOverlap.
func (e *Endpoints) Rotate(ctx context.Context, institutionID string) (string, time.Time, error) {
	ep, err := e.Store.WebhookEndpoint(ctx, institutionID)
	if errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, httpx.Errorf(http.StatusNotFound, "no_endpoint", "Register a webhook endpoint first.")
	}
	if err != nil {
		return "", time.Time{}, err
	}
	secret := bankapi.NewWebhookSecret()
	until := e.now().Add(RotationOverlap).UTC()
	ep.PreviousSecret, ep.PreviousUntil = ep.Secret, until
	ep.Secret = e.Keyring.SealPlatform(SecretRecord(institutionID), []byte(secret))
	return secret, until, e.Store.PutWebhookEndpoint(ctx, ep)
}

// RegisterRoutes adds the Bank API routes for endpoints and notices to mux.
func (e *Endpoints) RegisterRoutes(mux interface{ Handle(string, http.Handler) }) {
	auth := func(fn func(w http.ResponseWriter, r *http.Request, institutionID string)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			institutionID, err := ingest.Authenticate(r.Context(), e.Store, r.Header.Get("Authorization"), e.now())
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="openteller"`)
				httpx.WriteError(w, err)
				return
			}
			fn(w, r, institutionID)
		})
	}
	mux.Handle("POST /v1/webhook-endpoints", auth(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		var req struct {
			URL         string `json:"url"`
			Format      string `json:"format"`
			VerifyToken string `json:"verify_token"`
		}
		if err := httpx.DecodeJSON(w, r, 4<<10, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		secret, err := e.RegisterFormat(r.Context(), institutionID, req.URL, req.Format, req.VerifyToken)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, map[string]string{"url": req.URL, "secret": secret, "format": formatName(req.Format)})
	}))
	mux.Handle("POST /v1/webhook-endpoints/rotate-secret", auth(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		secret, until, err := e.Rotate(r.Context(), institutionID)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"secret": secret, "previous_secret_valid_until": until})
	}))
	mux.Handle("GET /v1/notices", auth(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		ns, err := DeadLetters(r.Context(), e.Store, institutionID)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"dead": ns})
	}))
	mux.Handle("POST /v1/notices/{id}/redeliver", auth(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		err := e.Store.Redeliver(r.Context(), institutionID, r.PathValue("id"), e.now())
		if errors.Is(err, store.ErrNotFound) {
			err = httpx.Errorf(http.StatusNotFound, "not_found", "No dead-lettered notice with that id.")
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("GET /v1/webhook-endpoints", auth(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		ep, err := e.Store.WebhookEndpoint(r.Context(), institutionID)
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "no_endpoint", "No webhook endpoint is registered."))
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"url": ep.URL, "format": formatName(ep.Format), "disabled_at": ep.DisabledAt, "disabled_reason": ep.DisabledReason})
	}))
}

// DeadLetter is a notice that was not delivered after the last try.
type DeadLetter struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	LinkID    string    `json:"link_id"`
	CreatedAt time.Time `json:"created_at"`
	DeadAt    time.Time `json:"dead_at"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
}

// DeadLetters lists the institution's dead-lettered notices.
func DeadLetters(ctx context.Context, st store.Outbox, institutionID string) ([]DeadLetter, error) {
	all, err := st.Notices(ctx, institutionID)
	if err != nil {
		return nil, err
	}
	out := []DeadLetter{}
	for _, n := range all {
		if !n.DeadAt.IsZero() {
			out = append(out, DeadLetter{ID: n.ID, Type: n.Type, LinkID: n.LinkID, CreatedAt: n.CreatedAt, DeadAt: n.DeadAt, Attempts: n.Attempts, LastError: n.LastError})
		}
	}
	return out, nil
}

// formatName is how the Bank API names an endpoint's format.
func formatName(format string) string {
	if format == "" {
		return "standard"
	}
	return format
}
