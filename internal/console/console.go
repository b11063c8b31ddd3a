// Package console is the server side of the agent console: a bank's people
// (agents and supervisors) sign in separately from customers, say they are
// there (presence), see their institution's conversations that were handed
// to people, most urgent first, take one, read it, reply, label it, and
// hand it back to the bank's bot.
//
// What must stay true:
//   - A member sees only their own institution's conversations, and only
//     with customers whose link grants support_chat.
//   - Every read of a customer's conversation — a page, a live batch, a
//     queue preview, the side panel, notes — is in that customer's access
//     log (package access) before anything is returned. The queue itself
//     is built from metadata and opens nothing.
//   - Work is assigned only to agents who are present: a console open and
//     online (presence.go), never to one signed in with the tab closed.
//   - Customers are named to the bank by a pseudonym, never their email;
//     beside it, a name only when the customer chose to show one, opened
//     as a read (names.go).
//   - Only the agent who has a conversation replies in it; a reply with a
//     full card number is refused, like a customer's.
//   - Disabling a member ends their sessions at once (the store deletes
//     them in the same transaction).
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/auth"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// storeRoles is what the console needs of the store: a bank's people and
// their work, and the conversations they support.
type storeRoles interface {
	store.Console
	store.Conversations
	// DisplayNames are the names customers show the bank's people (names.go).
	DisplayNames(ctx context.Context, linkIDs []string) ([]store.DisplayName, error)
}

// Cookie is the console's session cookie, apart from the customers' one.
const Cookie = "__Host-ot_staff"

const sessionTTL = 12 * time.Hour // a working day, not a month

// Config configures New.
type Config struct {
	Store    storeRoles
	Ingest   *ingest.Ingester
	Handover *handover.Service
	Access   access.Recorder
	Keyring  *vault.Keyring // seals and opens private notes
	// AgentTyping passes "the agent is typing" to the customer's devices.
	AgentTyping func(customerID, conversationID, who string) error
	// Events opens the page of a conversation's events before a seq (the
	// newest page when before < 1), and Since those after one, up to
	// another; the console calls them only after the read is in the
	// access log.
	Events func(ctx context.Context, conversationID string, before int64) (delivery.HistoryPage, error)
	Since  func(ctx context.Context, conversationID string, after, upTo int64) (delivery.HistoryPage, error)
	// Watch calls wake whenever one of the customer's conversations may
	// have moved (the bus's wake-ups for that customer), until stop.
	Watch  func(customerID string, wake func(conversationID string)) (stop func(), err error)
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the console's API.
type Service struct {
	c Config

	watchMu  sync.Mutex
	watchers map[string]map[*watcher]struct{} // conversation → its live streams on this node

	throttle *auth.Throttle // failed sign-ins, by email and by client address
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Service{c: c, watchers: map[string]map[*watcher]struct{}{}, throttle: auth.NewThrottle(c.Now)}
}

// CustomerTyped passes "the customer is typing" to the live streams of the
// conversation open on this node; the server feeds it from the bus, so
// every node hears it.
func (s *Service) CustomerTyped(conversationID string) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for w := range s.watchers[conversationID] {
		w.signal(&w.typed)
	}
}

// Register adds the console's routes.
func (s *Service) Register(mux interface{ Handle(string, http.Handler) }) {
	mux.Handle("POST /console/api/signin", http.HandlerFunc(s.signIn))
	mux.Handle("POST /console/api/signout", s.require(s.signOut))
	mux.Handle("GET /console/api/me", s.require(s.me))
	mux.Handle("POST /console/api/password", s.require(s.changePassword))
	mux.Handle("GET /console/api/queue", s.require(s.queue))
	mux.Handle("GET /console/api/conversations/{id}/events", s.require(s.events))
	mux.Handle("GET /console/api/conversations/{id}/live", s.require(s.live))
	mux.Handle("POST /console/api/conversations/{id}/take", s.require(s.take))
	mux.Handle("POST /console/api/conversations/{id}/return", s.require(s.giveBack))
	mux.Handle("POST /console/api/conversations/{id}/messages", s.require(s.reply))
	mux.Handle("POST /console/api/conversations/{id}/work", s.require(s.work))
	mux.Handle("GET /console/api/conversations/{id}/notes", s.require(s.notes))
	mux.Handle("POST /console/api/conversations/{id}/notes", s.require(s.addNote))
	mux.Handle("GET /console/api/canned", s.require(s.canned))
	mux.Handle("GET /console/api/metrics", s.require(s.metrics))
	mux.Handle("GET /console/api/conversations/{id}/context", s.require(s.context))
	mux.Handle("GET /console/api/search", s.require(s.search))
	mux.Handle("POST /console/api/conversations/{id}/typing", s.require(s.agentTyping))
	mux.Handle("POST /console/api/canned", s.require(s.addCanned))
	mux.Handle("DELETE /console/api/canned/{id}", s.require(s.deleteCanned))
	mux.Handle("GET /console/api/previews", s.require(s.previews))
	mux.Handle("GET /console/api/names", s.require(s.names))
	mux.Handle("POST /console/api/conversations/{id}/labels", s.require(s.addLabel))
	mux.Handle("DELETE /console/api/conversations/{id}/labels/{label}", s.require(s.removeLabel))
	mux.Handle("GET /console/api/presence", s.require(s.presence))
}

// member is the signed-in member of a request.
type member struct {
	store.Staff
	session store.StaffSession
}

func tokenHash(raw []byte) []byte {
	h := sha256.Sum256(raw)
	return h[:]
}

var b64 = base64.RawURLEncoding.Strict()

// require lets a request through with a live session of an enabled member
// (401 otherwise), and CSRF-checked for writes (403).
func (s *Service) require(fn func(w http.ResponseWriter, r *http.Request, m member)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		signedOut := httpx.Errorf(http.StatusUnauthorized, "signed_out", "Sign in to the console.")
		ck, err := r.Cookie(Cookie)
		if err != nil {
			httpx.WriteError(w, signedOut)
			return
		}
		raw, err := b64.DecodeString(ck.Value)
		if err != nil || len(raw) != 32 {
			httpx.WriteError(w, signedOut)
			return
		}
		se, err := s.c.Store.StaffSession(r.Context(), tokenHash(raw))
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, signedOut)
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		if r.Method != http.MethodGet && subtle.ConstantTimeCompare([]byte(r.Header.Get(auth.CSRFHeader)), []byte(se.CSRFToken)) != 1 {
			httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "csrf", "This request did not come from the console."))
			return
		}
		m, err := s.c.Store.Staff(r.Context(), se.StaffID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !m.DisabledAt.IsZero()) {
			httpx.WriteError(w, signedOut)
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		fn(w, r, member{Staff: m, session: se})
	})
}

// dummyHash is verified against for unknown emails, so timing does not
// tell which emails belong to staff.
var dummyHash, _ = auth.HashPassword("no such member, but the same work")

func (s *Service) signIn(w http.ResponseWriter, r *http.Request) {
	var req struct{ Email, Password string }
	if err := httpx.DecodeJSON(w, r, 4<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if wait, ok := s.throttle.Attempt(email, r); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		httpx.WriteError(w, httpx.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many failed sign-ins. Try again in %d minutes.", int(wait.Minutes())+1))
		return
	}
	m, err := s.c.Store.StaffByEmail(r.Context(), email)
	hash := m.PasswordHash
	if err != nil {
		hash = dummyHash
	}
	ok, verr := auth.VerifyPassword(hash, req.Password)
	if err != nil || verr != nil || !ok || !m.DisabledAt.IsZero() {
		httpx.WriteError(w, httpx.Errorf(http.StatusUnauthorized, "invalid_credentials", "That email and password don't match a console account."))
		return
	}
	s.throttle.Succeeded(email, r)
	raw := make([]byte, 32)
	rand.Read(raw)
	csrf := make([]byte, 32)
	rand.Read(csrf)
	now := s.c.Now().UTC()
	se := store.StaffSession{IDHash: tokenHash(raw), StaffID: m.ID, CSRFToken: b64.EncodeToString(csrf), CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := s.c.Store.CreateStaffSession(r.Context(), se, m.PasswordHash); errors.Is(err, store.ErrPasswordChanged) {
		httpx.WriteError(w, httpx.Errorf(http.StatusUnauthorized, "invalid_credentials", "That email and password don't match a console account."))
		return
	} else if err != nil {
		httpx.WriteError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: b64.EncodeToString(raw), Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Expires: se.ExpiresAt})
	s.c.Logger.Info("console: signed in", "staff", m.ID, "institution", m.InstitutionID)
	writeMe(w, member{Staff: m, session: se})
}

func writeMe(w http.ResponseWriter, m member) {
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"staff":      map[string]string{"id": m.ID, "name": m.Name, "role": m.Role, "institution_id": m.InstitutionID},
		"csrf_token": m.session.CSRFToken,
	})
}

func (s *Service) me(w http.ResponseWriter, r *http.Request, m member) { writeMe(w, m) }

func (s *Service) signOut(w http.ResponseWriter, r *http.Request, m member) {
	if err := s.c.Store.DeleteStaffSession(r.Context(), m.session.IDHash); err != nil {
		httpx.WriteError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: "", Path: "/", Secure: true, HttpOnly: true, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// changePassword gives the member a new password, {"current","new"} → 204,
// once they give the current one; wrong guesses count toward the sign-in
// lockout, and every other console session of theirs ends.
func (s *Service) changePassword(w http.ResponseWriter, r *http.Request, m member) {
	var req struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := httpx.DecodeJSON(w, r, 4<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if err := auth.CheckPassword(req.New); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if wait, ok := s.throttle.Attempt(m.Email, r); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		httpx.WriteError(w, httpx.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many wrong passwords. Try again in %d minutes.", int(wait.Minutes())+1))
		return
	}
	if ok, err := auth.VerifyPassword(m.PasswordHash, req.Current); err != nil || !ok {
		httpx.WriteError(w, auth.ErrWrongPassword())
		return
	}
	s.throttle.Succeeded(m.Email, r)
	hash, err := auth.HashPassword(req.New)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if err := s.c.Store.SetStaffPassword(r.Context(), m.ID, hash, m.session.IDHash); err != nil {
		httpx.WriteError(w, err)
		return
	}
	s.c.Logger.Info("console: password changed; other sessions ended", "staff", m.ID)
	w.WriteHeader(http.StatusNoContent)
}

// conversation returns the conversation if the member may see it: their
// institution's, with support_chat granted. Anything else is not found.
func (s *Service) conversation(ctx context.Context, m member, id string) (store.Conversation, error) {
	c, err := s.c.Store.Conversation(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.visible(m, c)) {
		return c, errNotVisible
	}
	return c, err
}

var errNotVisible = httpx.Errorf(http.StatusNotFound, "not_found", "No such conversation in your bank's console.")

// visible says whether the member may see the conversation: their
// institution's, with support_chat granted on a link still in force. A
// revoked or lapsed consent closes it to the bank's people.
func (s *Service) visible(m member, c store.Conversation) bool {
	return c.InstitutionID == m.InstitutionID && s.shared(c)
}

// shared says whether the customer shares the conversation with their
// bank's people: support_chat granted on a link in force.
func (s *Service) shared(c store.Conversation) bool {
	return c.Link.HasScope(bankapi.ScopeSupportChat) && c.Link.Status == store.LinkActive && s.c.Now().Before(c.Link.ExpiresAt)
}

// events shows the conversation to the member, after writing the read into
// the customer's access log.
func (s *Service) events(w http.ResponseWriter, r *http.Request, m member) {
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if err := s.c.Access.Record(r.Context(), access.ActorAgent, m.ID, "read", "conversation", c.CustomerID); err != nil {
		httpx.WriteError(w, fmt.Errorf("console: record access: %w", err))
		return
	}
	var before int64
	fmt.Sscan(r.URL.Query().Get("before"), &before)
	if before < 1 || before > c.LastSeq+1 {
		before = c.LastSeq + 1 // no further than the head seen when the right to read was checked
	}
	page, err := s.c.Events(r.Context(), c.ID, before)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) move(w http.ResponseWriter, r *http.Request, m member, trigger handover.Trigger) {
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	st, changed, err := s.c.Handover.Apply(r.Context(), c.ID, handover.Request{Trigger: trigger, AgentID: m.ID, Supervisor: m.Role == store.RoleSupervisor})
	if err != nil {
		httpx.WriteError(w, handoverError(err))
		return
	}
	if changed {
		s.tellCustomer(r.Context(), c, trigger, m.Name)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"owner": st.Owner, "agent_id": st.AgentID})
}

// handoverError answers a refused or contended move as 409 not_allowed, in
// words for the agent.
func handoverError(err error) error {
	switch {
	case errors.Is(err, handover.ErrRefused):
		return httpx.Errorf(http.StatusConflict, "not_allowed", "%s", strings.TrimPrefix(err.Error(), handover.ErrRefused.Error()+": "))
	case errors.Is(err, store.ErrOwnerChanged):
		return httpx.Errorf(http.StatusConflict, "not_allowed", "Someone else moved this conversation just now. Refresh and try again.")
	}
	return err
}

func (s *Service) take(w http.ResponseWriter, r *http.Request, m member) {
	s.move(w, r, m, handover.AgentTakes)
}

func (s *Service) giveBack(w http.ResponseWriter, r *http.Request, m member) {
	s.move(w, r, m, handover.AgentReturns)
}

// reply sends the agent's message to the customer's devices.
func (s *Service) reply(w http.ResponseWriter, r *http.Request, m member) {
	var req struct{ Text string }
	if err := httpx.DecodeJSON(w, r, 32<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if c.Owner != string(handover.Agent) || c.AgentID != m.ID {
		httpx.WriteError(w, httpx.Errorf(http.StatusConflict, "not_yours", "Take this conversation before replying in it."))
		return
	}
	seq, err := s.c.Ingest.PostAgentMessage(r.Context(), c, m.ID, m.Name, req.Text)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]int64{"seq": seq})
}

// NewStaff makes a member of the institution with a fresh password, which
// is returned to show once; only its hash is kept.
func NewStaff(ctx context.Context, st store.Console, institutionID, email, name, role string, now time.Time) (store.Staff, string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	name = strings.TrimSpace(name)
	if !strings.Contains(email, "@") || len(email) > 254 {
		return store.Staff{}, "", httpx.Errorf(http.StatusBadRequest, "invalid_email", "Give the member's email address.")
	}
	if name == "" || len(name) > 100 {
		return store.Staff{}, "", httpx.Errorf(http.StatusBadRequest, "invalid_name", "Give the member's name, up to 100 characters.")
	}
	if role != store.RoleAgent && role != store.RoleSupervisor {
		return store.Staff{}, "", httpx.Errorf(http.StatusBadRequest, "invalid_role", "A member is an agent or a supervisor.")
	}
	raw := make([]byte, 15)
	rand.Read(raw)
	password := base64.RawURLEncoding.EncodeToString(raw)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return store.Staff{}, "", err
	}
	m := store.Staff{ID: ingest.NewID("stf_"), InstitutionID: institutionID, Email: email, Name: name, Role: role, PasswordHash: hash, CreatedAt: now.UTC()}
	if err := st.CreateStaff(ctx, m); errors.Is(err, store.ErrExists) {
		return store.Staff{}, "", httpx.Errorf(http.StatusConflict, "email_taken", "A console account with this email exists.")
	} else if err != nil {
		return store.Staff{}, "", err
	}
	return m, password, nil
}

// BankRoutes adds the institution's management of its people to the Bank
// API: POST /v1/staff {"email","name","role"} → 201 with the password,
// shown once; POST /v1/staff/{id}/disable → 204, ending their sessions.
func (s *Service) BankRoutes(mux interface{ Handle(string, http.Handler) }, authenticate func(*http.Request) (string, error)) {
	withInstitution := func(fn func(w http.ResponseWriter, r *http.Request, institutionID string)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			institutionID, err := authenticate(r)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="openteller"`)
				httpx.WriteError(w, err)
				return
			}
			fn(w, r, institutionID)
		})
	}
	mux.Handle("POST /v1/staff", withInstitution(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		var req struct{ Email, Name, Role string }
		if err := httpx.DecodeJSON(w, r, 4<<10, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		m, password, err := NewStaff(r.Context(), s.c.Store, institutionID, req.Email, req.Name, req.Role, s.c.Now())
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, map[string]string{"id": m.ID, "email": m.Email, "role": m.Role, "password": password})
	}))
	mux.Handle("POST /v1/staff/{id}/disable", withInstitution(func(w http.ResponseWriter, r *http.Request, institutionID string) {
		err := s.c.Store.DisableStaff(r.Context(), institutionID, r.PathValue("id"), s.c.Now())
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "No such member of your institution."))
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// work sets how a conversation is worked: {"status","snoozed_until","priority"}.
// Resolving hands it back to the bank's bot; only the agent who has it, or
// a supervisor, resolves.
func (s *Service) work(w http.ResponseWriter, r *http.Request, m member) {
	var req struct {
		Status       string    `json:"status"`
		SnoozedUntil time.Time `json:"snoozed_until"`
		Priority     int       `json:"priority"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	switch {
	case !slices.Contains([]string{store.StatusOpen, store.StatusPending, store.StatusSnoozed, store.StatusResolved}, req.Status):
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_status", "A status is open, pending, snoozed or resolved."))
		return
	case req.Priority < 0 || req.Priority > 2:
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_priority", "Priority is 0 (normal), 1 (high) or 2 (urgent)."))
		return
	case req.Status == store.StatusSnoozed && !req.SnoozedUntil.After(s.c.Now()):
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_snooze", "Snooze until a time in the future."))
		return
	case req.Status == store.StatusResolved && !(c.Owner == string(handover.Agent) && c.AgentID == m.ID) && m.Role != store.RoleSupervisor:
		httpx.WriteError(w, httpx.Errorf(http.StatusConflict, "not_yours", "Only the agent who has this conversation, or a supervisor, resolves it."))
		return
	}
	if req.Status != store.StatusSnoozed {
		req.SnoozedUntil = time.Time{}
	}
	resolving := req.Status == store.StatusResolved && c.Owner == string(handover.Agent)
	if resolving {
		// Hand it back first: if someone moved it meanwhile, nothing is
		// marked resolved.
		if _, _, err := s.c.Handover.Apply(r.Context(), c.ID, handover.Request{Trigger: handover.AgentReturns, AgentID: m.ID, Supervisor: m.Role == store.RoleSupervisor}); err != nil {
			httpx.WriteError(w, handoverError(err))
			return
		}
	}
	if err := s.c.Store.SetWork(r.Context(), c.ID, req.Status, req.SnoozedUntil, req.Priority); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if resolving {
		s.tellCustomer(r.Context(), c, handover.AgentReturns, m.Name)
		// The customer is asked how the agent who had it did.
		agent := member{Staff: m.Staff}
		if c.AgentID != m.ID {
			if other, err := s.c.Store.Staff(r.Context(), c.AgentID); err == nil {
				agent.Staff = other
			}
		}
		if _, err := s.c.Ingest.AskRating(r.Context(), c, agent.ID, agent.Name); err != nil {
			s.c.Logger.Warn("console: could not ask for a rating", "conversation", c.ID, "err", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

type noteView struct {
	ID        string    `json:"id"`
	StaffID   string    `json:"staff_id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// notes lists the private notes on a conversation; reading them is a read
// of the customer's data, logged first.
func (s *Service) notes(w http.ResponseWriter, r *http.Request, m member) {
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if err := s.c.Access.Record(r.Context(), access.ActorAgent, m.ID, "read", "notes", c.CustomerID); err != nil {
		httpx.WriteError(w, fmt.Errorf("console: record access: %w", err))
		return
	}
	ns, err := s.c.Store.Notes(r.Context(), c.ID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	out := []noteView{}
	for _, n := range ns {
		text, err := s.c.Keyring.Open(r.Context(), vault.ConversationKey(c.CustomerID, c.InstitutionID), n.ID, n.Sealed)
		if err != nil {
			continue // its history was cleared: the note went with the key
		}
		out = append(out, noteView{ID: n.ID, StaffID: n.StaffID, Text: string(text), CreatedAt: n.CreatedAt})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"notes": out})
}

// addNote writes a private note, sealed under the conversation's key: the
// customer never sees it, and clearing their history destroys it.
func (s *Service) addNote(w http.ResponseWriter, r *http.Request, m member) {
	var req struct{ Text string }
	if err := httpx.DecodeJSON(w, r, 16<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	req.Text = strings.TrimSpace(req.Text)
	if req.Text == "" || len(req.Text) > 4000 {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_note", "Write a note of 1 to 4,000 characters."))
		return
	}
	if pan.Contains(req.Text) {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "pan_detected", "This note seems to contain a full card number, so it was not kept."))
		return
	}
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	id := ingest.NewID("nte_")
	owner := vault.ConversationKey(c.CustomerID, c.InstitutionID)
	n := store.Note{ID: id, ConversationID: c.ID, StaffID: m.ID, CreatedAt: s.c.Now().UTC()}
	for try := 0; ; try++ {
		if n.Sealed, err = s.c.Keyring.Seal(r.Context(), owner, id, []byte(req.Text)); err != nil {
			httpx.WriteError(w, err)
			return
		}
		err = s.c.Store.AddNote(r.Context(), n)
		if errors.Is(err, store.ErrStaleKey) && try == 0 {
			s.c.Keyring.Forget(owner) // the history was cleared on another node: seal under the new key
			continue
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		break
	}
	httpx.WriteJSON(w, http.StatusCreated, noteView{ID: n.ID, StaffID: n.StaffID, Text: req.Text, CreatedAt: n.CreatedAt})
}

// canned lists the institution's canned responses.
func (s *Service) canned(w http.ResponseWriter, r *http.Request, m member) {
	cs, err := s.c.Store.CannedResponses(r.Context(), m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	type view struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Text  string `json:"text"`
	}
	out := []view{}
	for _, c := range cs {
		out = append(out, view{c.ID, c.Title, c.Text})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"canned": out})
}

// addCanned adds a canned response; supervisors keep the list.
func (s *Service) addCanned(w http.ResponseWriter, r *http.Request, m member) {
	if m.Role != store.RoleSupervisor {
		httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "supervisors_only", "Only a supervisor changes the canned responses."))
		return
	}
	var req struct{ Title, Text string }
	if err := httpx.DecodeJSON(w, r, 8<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	req.Title, req.Text = strings.TrimSpace(req.Title), strings.TrimSpace(req.Text)
	if req.Title == "" || len(req.Title) > 80 || req.Text == "" || len(req.Text) > 4000 {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_canned", "Give a title of up to 80 characters and a text of up to 4,000."))
		return
	}
	if pan.Contains(req.Text) {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "pan_detected", "This text seems to contain a full card number."))
		return
	}
	c := store.Canned{ID: ingest.NewID("cnd_"), InstitutionID: m.InstitutionID, Title: req.Title, Text: req.Text, CreatedAt: s.c.Now().UTC()}
	if err := s.c.Store.AddCanned(r.Context(), c); err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"id": c.ID})
}

// contextView is the side panel: what the customer's consent lets the
// bank's people see beside the conversation.
type contextView struct {
	Scopes       []string          `json:"scopes"`
	Balances     []json.RawMessage `json:"balances,omitempty"`     // newest per account, with balances granted
	Transactions []json.RawMessage `json:"transactions,omitempty"` // the five newest, with transactions granted
}

// context serves the side panel, after writing the read into the
// customer's access log.
func (s *Service) context(w http.ResponseWriter, r *http.Request, m member) {
	ctx := r.Context()
	c, err := s.conversation(ctx, m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if err := s.c.Access.Record(ctx, access.ActorAgent, m.ID, "read", "accounts", c.CustomerID); err != nil {
		httpx.WriteError(w, fmt.Errorf("console: record access: %w", err))
		return
	}
	out := contextView{Scopes: c.Link.Scopes}
	open := func(typ string, limit int, keep func(json.RawMessage) bool) ([]json.RawMessage, error) {
		evs, err := s.c.Store.LatestEvents(ctx, c.ID, typ, limit)
		if err != nil {
			return nil, err
		}
		var out []json.RawMessage
		for _, e := range evs {
			data, err := s.c.Keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
			if err != nil {
				continue
			}
			if keep(data) {
				out = append(out, data)
			}
		}
		return out, nil
	}
	if c.Link.HasScope(bankapi.ScopeBalances) {
		seen := map[string]bool{}
		if out.Balances, err = open(bankapi.TypeBalanceUpdated, 50, func(d json.RawMessage) bool {
			var b bankapi.BalanceUpdated
			if json.Unmarshal(d, &b) != nil || seen[b.AccountID] {
				return false
			}
			seen[b.AccountID] = true
			return true
		}); err != nil {
			httpx.WriteError(w, err)
			return
		}
	}
	if c.Link.HasScope(bankapi.ScopeTransactions) {
		if out.Transactions, err = open(bankapi.TypeTransactionPosted, 5, func(json.RawMessage) bool { return true }); err != nil {
			httpx.WriteError(w, err)
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// search finds the institution's conversations by the customer's
// reference: the link id the bank knows them by, or part of it. It reads
// no content; opening a result is a read like any other.
func (s *Service) search(w http.ResponseWriter, r *http.Request, m member) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	// Four characters of the reference itself: "lnk_" alone is in every one.
	if own := strings.TrimPrefix(q, "lnk_"); len(own) < 4 || len(q) > 64 {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_query", "Search for a customer reference of 4 to 64 characters."))
		return
	}
	cs, err := s.c.Store.SearchConversations(r.Context(), m.InstitutionID, q, 50)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	named, err := s.nameTimes(r.Context(), cs)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	labels, err := s.c.Store.ConversationLabels(r.Context(), m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	out := []queued{}
	for _, c := range cs {
		if !s.visible(m, c) {
			continue
		}
		out = append(out, s.row(m, c, labels[c.ID], named))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"conversations": out})
}

// AutoAssign gives a conversation that just entered the queue to an
// available agent of its institution, round robin: the one whose last
// assignment is oldest (or who has none). With nobody signed in it stays in
// the queue for whoever signs in and takes it.
func (s *Service) AutoAssign(ctx context.Context, conversationID string) {
	c, err := s.c.Store.Conversation(ctx, conversationID)
	if err != nil || !s.shared(c) {
		return
	}
	agents, err := s.c.Store.AvailableAgents(ctx, c.InstitutionID, s.c.Now())
	if err != nil || len(agents) == 0 {
		return
	}
	hs, err := s.c.Store.Handovers(ctx, c.InstitutionID, s.c.Now().Add(-30*24*time.Hour))
	if err != nil {
		return
	}
	last := map[string]time.Time{}
	for _, h := range hs {
		if h.To == string(handover.Agent) {
			last[h.AgentID] = h.At
		}
	}
	next := agents[0]
	for _, a := range agents[1:] {
		if last[a].Before(last[next]) {
			next = a
		}
	}
	if _, changed, err := s.c.Handover.Apply(ctx, conversationID, handover.Request{Trigger: handover.Assigned, AgentID: next}); err != nil {
		s.c.Logger.Warn("console: automatic assignment", "conversation", conversationID, "err", err)
	} else if changed {
		if m, err := s.c.Store.Staff(ctx, next); err == nil {
			s.tellCustomer(ctx, c, handover.AgentTakes, m.Name)
		}
	}
}

// tellCustomer puts who they are talking to in the customer's
// conversation: a person joined, or the bank's assistant is back.
func (s *Service) tellCustomer(ctx context.Context, c store.Conversation, trigger handover.Trigger, name string) {
	typ := ingest.AgentJoinedType
	if trigger == handover.AgentReturns {
		typ = ingest.AgentLeftType
	}
	if err := s.c.Ingest.PostAgentNotice(ctx, c, typ, name); err != nil {
		s.c.Logger.Warn("console: could not tell the customer", "conversation", c.ID, "err", err)
	}
}

// agentTyping shows the customer that the agent who has the conversation
// is typing.
func (s *Service) agentTyping(w http.ResponseWriter, r *http.Request, m member) {
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if c.Owner != string(handover.Agent) || c.AgentID != m.ID {
		httpx.WriteError(w, httpx.Errorf(http.StatusConflict, "not_yours", "Take this conversation before replying in it."))
		return
	}
	if err := s.c.AgentTyping(c.CustomerID, c.ID, m.Name); err != nil {
		httpx.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
