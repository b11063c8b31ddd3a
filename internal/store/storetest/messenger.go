package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// testMenuAndEndpointFormat: an institution's menu is kept whole and
// replaced whole, per institution; an endpoint's format is kept, survives
// a change of secret, and is replaced with the endpoint.
func testMenuAndEndpointFormat(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	if _, err := s.Menu(ctx, f.inst.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("menu before any: %v", err)
	}
	m := store.Menu{InstitutionID: f.inst.ID, GetStarted: "START", UpdatedAt: t0,
		Items: []store.MenuItem{{Title: "Block my card", Payload: "BLOCK"}, {Title: "Branches", URL: "https://bank.example/branches"}}}
	must(t, s.PutMenu(ctx, m))
	got, err := s.Menu(ctx, f.inst.ID)
	if err != nil || got.GetStarted != "START" || !slices.Equal(got.Items, m.Items) || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("menu %+v, %v", got, err)
	}
	if _, err := s.Menu(ctx, f.other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another institution's menu: %v", err)
	}
	m.GetStarted, m.Items, m.UpdatedAt = "", nil, t0.Add(time.Minute)
	must(t, s.PutMenu(ctx, m))
	if got, err = s.Menu(ctx, f.inst.ID); err != nil || got.GetStarted != "" || len(got.Items) != 0 {
		t.Fatalf("menu after clearing %+v, %v", got, err)
	}

	ep := store.WebhookEndpoint{InstitutionID: f.inst.ID, URL: "https://bank.example/messenger", Secret: []byte("sealed"), CreatedAt: t0, Format: store.FormatMessenger}
	must(t, s.PutWebhookEndpoint(ctx, ep))
	must(t, s.SetWebhookSecrets(ctx, f.inst.ID, []byte("sealed2"), []byte("sealed")))
	if e, err := s.WebhookEndpoint(ctx, f.inst.ID); err != nil || e.Format != store.FormatMessenger {
		t.Fatalf("endpoint %+v, %v", e, err)
	}
	ep.Format = ""
	must(t, s.PutWebhookEndpoint(ctx, ep))
	if e, err := s.WebhookEndpoint(ctx, f.inst.ID); err != nil || e.Format != "" {
		t.Fatalf("endpoint registered again as standard: %+v, %v", e, err)
	}
}
