package consent

import (
	"context"
	"fmt"
	"net/http"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// DisconnectAll revokes every link of the customer that is not revoked
// yet (active or expired), one by one as DELETE /app/api/links/{id} does,
// and returns them as they are now. A failure stops it: the links
// revoked before stay revoked, and asking again finishes the rest.
func (s *Service) DisconnectAll(ctx context.Context, customerID string) ([]store.Link, error) {
	ls, err := s.store.Links(ctx, customerID)
	if err != nil {
		return nil, fmt.Errorf("consent: disconnect all of %s: %w", customerID, err)
	}
	var out []store.Link
	for _, l := range ls {
		if l.Status == store.LinkRevoked {
			continue
		}
		got, err := s.Revoke(ctx, store.Revocation{LinkID: l.ID, CustomerID: customerID})
		if err != nil {
			return out, err
		}
		out = append(out, got)
	}
	return out, nil
}

// disconnectAllHandler serves POST /app/api/disconnect-all: 200
// {"links":[…]} with each link it revoked (none when nothing was
// connected). The node puts it behind a recent authentication.
func (s *Service) disconnectAllHandler(w http.ResponseWriter, r *http.Request, customerID string) {
	ls, err := s.DisconnectAll(r.Context(), customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	out := []linkJSON{}
	for _, l := range ls {
		out = append(out, linkJSON{ID: l.ID, Status: l.Status, Scopes: l.Scopes, ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"links": out})
}
