package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Names customers chose to show the bank's people (consent, "display
// names"). The queue says only that a customer shows one, and since when
// (name_set_at), from metadata: it opens nothing. The name itself is the
// customer's data, sealed under their conversation's key, so reading it is
// a read like a preview: written into their access log (record
// display_name) before it is opened, and the console asks for it only for
// the rows it shows and again only when name_set_at moved. The console
// shows it beside the pseudonym, never instead of it: "Sam (Quiet Heron)".

// nameTimes says, for those of these conversations whose current link
// carries a name, since when, by conversation id.
func (s *Service) nameTimes(ctx context.Context, cs []store.Conversation) (map[string]time.Time, error) {
	byLink := map[string]string{}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Link.ID != "" {
			byLink[c.Link.ID] = c.ID
			ids = append(ids, c.Link.ID)
		}
	}
	ns, err := s.c.Store.DisplayNames(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("console: display names: %w", err)
	}
	out := map[string]time.Time{}
	for _, n := range ns {
		out[byLink[n.LinkID]] = n.SetAt
	}
	return out, nil
}

// sharedName is a customer's name as the console gets it.
type sharedName struct {
	ID    string    `json:"id"` // the conversation's
	Name  string    `json:"name"`
	SetAt time.Time `json:"set_at"`
}

// names serves GET /console/api/names?ids=a,b,c: the names the customers
// of these conversations show the bank's people. Conversations the member
// may not see, and those with no name, are left out, unlogged; each name
// is in its customer's access log before it is opened.
func (s *Service) names(w http.ResponseWriter, r *http.Request, m member) {
	ctx := r.Context()
	ids, err := idsParam(r)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	var cs []store.Conversation
	for _, id := range ids {
		c, err := s.conversation(ctx, m, id)
		if errors.Is(err, errNotVisible) {
			continue
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		cs = append(cs, c)
	}
	linkIDs := make([]string, 0, len(cs))
	for _, c := range cs {
		linkIDs = append(linkIDs, c.Link.ID)
	}
	ns, err := s.c.Store.DisplayNames(ctx, linkIDs)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	byLink := map[string]store.DisplayName{}
	for _, n := range ns {
		byLink[n.LinkID] = n
	}
	out := []sharedName{}
	for _, c := range cs {
		n, ok := byLink[c.Link.ID]
		if !ok || n.CustomerID != c.CustomerID || n.InstitutionID != m.InstitutionID {
			continue // none shown: nothing opened, not a read
		}
		if err := s.c.Access.Record(ctx, access.ActorAgent, m.ID, "read", "display_name", c.CustomerID); err != nil {
			httpx.WriteError(w, fmt.Errorf("console: record access: %w", err))
			return
		}
		plain, err := s.c.Keyring.Open(ctx, vault.ConversationKey(n.CustomerID, n.InstitutionID), n.Record(), n.Sealed)
		if err != nil {
			continue // its history was cleared meanwhile: the name went with the key
		}
		out = append(out, sharedName{ID: c.ID, Name: string(plain), SetAt: n.SetAt})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"names": out})
}
