package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// AgentFigures is how one agent worked over a period.
type AgentFigures struct {
	AgentID         string  `json:"agent_id"`
	Name            string  `json:"name,omitempty"`
	Conversations   int     `json:"conversations"`     // taken
	FirstResponseMs int64   `json:"first_response_ms"` // median: from asking for a person to the agent's first reply
	ResolutionMs    int64   `json:"resolution_ms"`     // median: from asking for a person to the agent handing back
	Ratings         int     `json:"ratings"`
	Satisfaction    float64 `json:"satisfaction"` // mean score, 1 to 5; 0 without ratings
}

// Figures computes per-agent figures from changes of owner, the times
// agents wrote, and ratings. No content is read: only metadata.
func Figures(hs []store.HandoverRecord, writes []store.EventTime, rs []store.Rating) []AgentFigures {
	type acc struct {
		taken             int
		first, resolve    []int64
		ratings, scoreSum int
	}
	by := map[string]*acc{}
	get := func(id string) *acc {
		if by[id] == nil {
			by[id] = &acc{}
		}
		return by[id]
	}
	asked := map[string]time.Time{} // conversation → when it last went to people
	// until is when the owner set by record i changed again (zero: never).
	until := make([]time.Time, len(hs))
	next := map[string]int{} // conversation → the index of its next record
	for i := len(hs) - 1; i >= 0; i-- {
		if j, ok := next[hs[i].ConversationID]; ok {
			until[i] = hs[j].At
		}
		next[hs[i].ConversationID] = i
	}
	for i, h := range hs {
		switch {
		case h.From == "bot" && (h.To == "queue" || h.To == "agent"):
			asked[h.ConversationID] = h.At
		}
		if h.To == "agent" && h.AgentID != "" {
			a := get(h.AgentID)
			a.taken++
			start, ok := asked[h.ConversationID]
			if !ok {
				start = h.At
			}
			// The first write in the conversation while the agent had it.
			for _, w := range writes {
				if w.ConversationID == h.ConversationID && !w.At.Before(h.At) && (until[i].IsZero() || w.At.Before(until[i])) {
					a.first = append(a.first, w.At.Sub(start).Milliseconds())
					break
				}
			}
		}
		if h.From == "agent" && h.To == "bot" && h.AgentID != "" {
			if start, ok := asked[h.ConversationID]; ok {
				get(h.AgentID).resolve = append(get(h.AgentID).resolve, h.At.Sub(start).Milliseconds())
			}
		}
	}
	for _, r := range rs {
		a := get(r.StaffID)
		a.ratings++
		a.scoreSum += r.Score
	}
	median := func(xs []int64) int64 {
		if len(xs) == 0 {
			return 0
		}
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	out := []AgentFigures{} // an empty team is [], not null
	for id, a := range by {
		f := AgentFigures{AgentID: id, Conversations: a.taken, FirstResponseMs: median(a.first), ResolutionMs: median(a.resolve), Ratings: a.ratings}
		if a.ratings > 0 {
			f.Satisfaction = float64(a.scoreSum) / float64(a.ratings)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b AgentFigures) int {
		if a.AgentID < b.AgentID {
			return -1
		}
		return 1
	})
	return out
}

// metrics serves GET /console/api/metrics to supervisors: the last 7 days.
func (s *Service) metrics(w http.ResponseWriter, r *http.Request, m member) {
	if m.Role != store.RoleSupervisor {
		httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "supervisors_only", "Only a supervisor sees the team's figures."))
		return
	}
	since := s.c.Now().Add(-7 * 24 * time.Hour)
	ctx := r.Context()
	hs, err := s.c.Store.Handovers(ctx, m.InstitutionID, since)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	writes, err := s.c.Store.AgentMessageTimes(ctx, m.InstitutionID, since)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	rs, err := s.c.Store.Ratings(ctx, m.InstitutionID, since)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	figures := Figures(hs, writes, rs)
	for i := range figures {
		if st, err := s.c.Store.Staff(ctx, figures[i].AgentID); err == nil && st.InstitutionID == m.InstitutionID {
			figures[i].Name = st.Name
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"since": since.UTC(), "agents": figures})
}
