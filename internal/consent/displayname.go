package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Display names. A bank's people see a customer by a pseudonym
// (console.Pseudonym) unless the customer chooses to show them a name:
// one per link, so a name shown to one bank tells no other, set, changed
// or removed here, and never their email. It is sealed under the
// conversation's key like the conversation itself; the store deletes it
// when the link ends, loses support_chat (without which the bank's people
// never see the conversation), or its history is cleared. Each decision
// leaves a consent receipt, which never holds the name: a receipt outlives
// what it is about.

// MaxDisplayName is the longest name, in characters.
const MaxDisplayName = 40

// NamePurpose is the purpose of a display name's receipts.
const NamePurpose = "Show the bank's people a name you chose, beside your conversation, instead of a made-up one. Nothing else."

// CheckDisplayName returns name as it is kept, trimmed, or a typed error:
// 400 invalid_name unless it has 1 to MaxDisplayName characters with no
// control character, line or paragraph separator, or bidirectional
// control (which could make the console show it, or the pseudonym beside
// it, as something else); 400 pan_detected for what looks like a full
// card number.
func CheckDisplayName(name string) (string, error) {
	name = strings.TrimSpace(name)
	invalid := httpx.Errorf(http.StatusBadRequest, "invalid_name", "Choose a name of 1 to %d characters, on one line, without control characters.", MaxDisplayName)
	if n := utf8.RuneCountInString(name); n == 0 || n > MaxDisplayName || !utf8.ValidString(name) {
		return "", invalid
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return "", invalid
		}
	}
	if pan.Contains(name) {
		return "", httpx.Errorf(http.StatusBadRequest, "pan_detected", "This name seems to contain a full card number, so it was not kept.")
	}
	return name, nil
}

// SharedName is a display name as the customer sees it.
type SharedName struct {
	LinkID string `json:"link_id"`
	Name   string `json:"display_name"`
}

// SetDisplayName shows name to the people of the customer's link's
// institution from now on, in place of any name before, and keeps a
// share_name receipt. The same name again changes nothing. Errors for the
// client: CheckDisplayName's; 404 unknown_link; 409 link_ended;
// 409 no_support_chat.
func (s *Service) SetDisplayName(ctx context.Context, customerID, linkID, name string) (SharedName, error) {
	name, err := CheckDisplayName(name)
	if err != nil {
		return SharedName{}, err
	}
	l, err := store.CustomerLink(ctx, s.store, customerID, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return SharedName{}, notFound()
	}
	if err != nil {
		return SharedName{}, err
	}
	shared, err := s.sharedNames(ctx, []store.Link{l})
	if err != nil {
		return SharedName{}, err
	}
	if shared[l.ID] == name {
		return SharedName{LinkID: l.ID, Name: name}, nil
	}
	now := s.now().UTC()
	n := store.DisplayName{LinkID: l.ID, CustomerID: customerID, SetAt: now}
	r := store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptShareName, Purpose: NamePurpose, CollectedAt: now, ExpiresAt: l.ExpiresAt,
		Method: "Shared by the customer in the OpenTeller privacy center"}
	owner := vault.ConversationKey(l.CustomerID, l.InstitutionID)
	for try := 0; ; try++ {
		if n.Sealed, err = s.keyring.Seal(ctx, owner, n.Record(), []byte(name)); err != nil {
			return SharedName{}, fmt.Errorf("consent: seal display name: %w", err)
		}
		err = s.store.PutDisplayName(ctx, n, r)
		if errors.Is(err, store.ErrStaleKey) && try == 0 {
			s.keyring.Forget(owner) // the history was cleared on another node: seal under the new key
			continue
		}
		break
	}
	if err := s.nameError(ctx, l, err); err != nil {
		return SharedName{}, err
	}
	s.log.Info("display name shared", "link", l.ID) // never the name
	return SharedName{LinkID: l.ID, Name: name}, nil
}

// nameError says why a link cannot carry a name, in words for the
// customer; nil for nil.
func (s *Service) nameError(ctx context.Context, l store.Link, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound()
	case errors.Is(err, store.ErrConsentRevoked), errors.Is(err, store.ErrConsentExpired):
		return httpx.Errorf(http.StatusConflict, "link_ended", "This connection has ended, so nobody there sees a name.")
	case errors.Is(err, store.ErrConsentScope):
		bank := "The bank"
		if in, err := s.store.Institution(ctx, l.InstitutionID); err == nil {
			bank = in.Name
		}
		return httpx.Errorf(http.StatusConflict, "no_support_chat", "%s’s people see your conversation only when you share support chat with them, and this connection does not.", bank)
	}
	return fmt.Errorf("consent: display name of %s: %w", l.ID, err)
}

// RemoveDisplayName stops showing a name to the people of the customer's
// link's institution, with an unshare_name receipt: they see the
// pseudonym again. Removing none changes nothing. 404 unknown_link for a
// link that is not the customer's.
func (s *Service) RemoveDisplayName(ctx context.Context, customerID, linkID string) error {
	l, err := store.CustomerLink(ctx, s.store, customerID, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound()
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.store.DeleteDisplayName(ctx, customerID, l.ID, store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptUnshareName,
		Purpose: NamePurpose, CollectedAt: now, ExpiresAt: now, Method: "Removed by the customer in the OpenTeller privacy center"})
	if errors.Is(err, store.ErrNotFound) {
		return nil // none was shown
	}
	if err != nil {
		return fmt.Errorf("consent: remove display name of %s: %w", l.ID, err)
	}
	s.log.Info("display name removed", "link", l.ID)
	return nil
}

// SharedNames lists the names the customer shows, by link id: their own
// data, opened for them (not a read by anyone else, so not logged).
func (s *Service) SharedNames(ctx context.Context, customerID string) (map[string]string, error) {
	ls, err := s.store.Links(ctx, customerID)
	if err != nil {
		return nil, fmt.Errorf("consent: links of %s: %w", customerID, err)
	}
	return s.sharedNames(ctx, ls)
}

// sharedNames opens the names of these links, by link id. A name whose key
// was destroyed meanwhile (a clearing) is left out.
func (s *Service) sharedNames(ctx context.Context, ls []store.Link) (map[string]string, error) {
	ids := make([]string, 0, len(ls))
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	ns, err := s.store.DisplayNames(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("consent: display names: %w", err)
	}
	out := map[string]string{}
	for _, n := range ns {
		plain, err := s.keyring.Open(ctx, vault.ConversationKey(n.CustomerID, n.InstitutionID), n.Record(), n.Sealed)
		if err == nil {
			out[n.LinkID] = string(plain)
		}
	}
	return out, nil
}

// displayNameHandler serves PUT /app/api/links/{id}/display-name
// {"name"} → 200 {"link_id","display_name"}.
func (s *Service) displayNameHandler(w http.ResponseWriter, r *http.Request, customerID string) {
	var req struct {
		Name string `json:"name"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	n, err := s.SetDisplayName(r.Context(), customerID, r.PathValue("id"), req.Name)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, n)
}

// removeDisplayNameHandler serves DELETE /app/api/links/{id}/display-name → 204.
func (s *Service) removeDisplayNameHandler(w http.ResponseWriter, r *http.Request, customerID string) {
	if err := s.RemoveDisplayName(r.Context(), customerID, r.PathValue("id")); err != nil {
		httpx.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
