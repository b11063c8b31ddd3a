package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/internal/store"
)

// maxLabels is how many labels one conversation carries at most.
const maxLabels = 10

// normalLabel is a label as kept: lower case, single spaces, 1 to 32
// letters, digits, spaces and hyphens. ok is false for anything else, and
// for what could be a card number.
func normalLabel(raw string) (string, bool) {
	l := strings.ToLower(strings.Join(strings.Fields(raw), " "))
	if n := utf8.RuneCountInString(l); n == 0 || n > 32 || pan.Contains(l) {
		return "", false
	}
	for _, r := range l {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && r != '-' {
			return "", false
		}
	}
	return l, true
}

var errInvalidLabel = httpx.Errorf(http.StatusBadRequest, "invalid_label", "A label is 1 to 32 letters, digits, spaces or hyphens.")

// addLabel puts a label on a conversation the member may see:
// {"label"} → 201 {"labels":[…]}, the conversation's labels after.
func (s *Service) addLabel(w http.ResponseWriter, r *http.Request, m member) {
	var req struct {
		Label string `json:"label"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	label, ok := normalLabel(req.Label)
	if !ok {
		httpx.WriteError(w, errInvalidLabel)
		return
	}
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	labels, err := s.c.Store.ConversationLabels(r.Context(), m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	have := labels[c.ID]
	if !slices.Contains(have, label) && len(have) >= maxLabels {
		httpx.WriteError(w, httpx.Errorf(http.StatusConflict, "too_many_labels", "A conversation carries at most %d labels. Take one off first.", maxLabels))
		return
	}
	if err := s.c.Store.AddLabel(r.Context(), store.Label{ConversationID: c.ID, Label: label, StaffID: m.ID, CreatedAt: s.c.Now().UTC()}); err != nil {
		httpx.WriteError(w, err)
		return
	}
	s.writeLabels(w, r, m, c.ID, http.StatusCreated)
}

// removeLabel takes a label off: DELETE …/labels/{label} → 200
// {"labels":[…]}; 404 label_not_found when it is not on.
func (s *Service) removeLabel(w http.ResponseWriter, r *http.Request, m member) {
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	label, ok := normalLabel(r.PathValue("label"))
	if !ok {
		httpx.WriteError(w, errInvalidLabel)
		return
	}
	if err := s.c.Store.RemoveLabel(r.Context(), c.ID, label); errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "label_not_found", "This conversation has no such label."))
		return
	} else if err != nil {
		httpx.WriteError(w, err)
		return
	}
	s.writeLabels(w, r, m, c.ID, http.StatusOK)
}

func (s *Service) writeLabels(w http.ResponseWriter, r *http.Request, m member, conversationID string, status int) {
	labels, err := s.c.Store.ConversationLabels(r.Context(), m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	out := labels[conversationID]
	if out == nil {
		out = []string{}
	}
	httpx.WriteJSON(w, status, map[string]any{"labels": out})
}

// deleteCanned deletes one of the institution's canned responses;
// supervisors keep the list. Another institution's is not found.
func (s *Service) deleteCanned(w http.ResponseWriter, r *http.Request, m member) {
	if m.Role != store.RoleSupervisor {
		httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "supervisors_only", "Only a supervisor changes the canned responses."))
		return
	}
	err := s.c.Store.DeleteCanned(r.Context(), m.InstitutionID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "No such canned response in your bank's console."))
		return
	}
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
