// Package messenger lets a bot written for the Messenger Platform talk to
// OpenTeller by changing its base URL: it speaks the Graph API's paths,
// bodies and errors, and translates each request into what the Bank API
// does, through the same services.
//
// Where a request goes:
//
//   - POST /{version}/me/messages (Send API): the message becomes Bank API
//     events (message or receipt) and goes through ingest, exactly as if
//     posted to /v1/events: the link's consent scope and expiry, the schema
//     and the card-number guard decide, and the store appends it. A
//     sender_action typing_on goes to the customer's devices over the bus.
//   - /me/messenger_profile: get_started and persistent_menu become the
//     bank's menu in its conversations (store.Menu), shown under ☰.
//   - /me/pass_thread_control and the other handover calls: the handover
//     state machine (package handover), as POST /v1/links/{id}/handover.
//   - Webhooks the other way: the outbox's notices, in Messenger's shape
//     and signatures (Format), for an endpoint registered with format
//     "messenger" after the hub.challenge handshake (Handshake).
//
// Ids: a customer's page-scoped id (recipient.id, sender.id) is the link id
// the Bank API uses; the page id and the bot's app id are the institution
// id; the bank's people are Messenger's Page Inbox (PageInboxAppID). The
// access token is the institution's API key; the app secret is its webhook
// endpoint's secret (whsec_…), as text: it signs the webhooks
// (X-Hub-Signature) and checks appsecret_proof.
//
// What must stay true: nothing reaches a conversation except through
// ingest (so no consent, schema or card-number check is skipped); what
// cannot be mapped onto OpenTeller is refused with a Graph-shaped error and
// changes nothing; one institution's token never reaches another's links.
package messenger

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/internal/webhook"
)

// storeRoles is what the Messenger layer needs of the store: the links its
// ids stand for, their conversations, institutions (menus), and webhook
// endpoints (app secrets).
type storeRoles interface {
	store.Conversations
	store.Institutions
	store.Links
	store.Outbox
}

// PageInboxAppID is the app id Messenger gives its Page Inbox: here, the
// bank's people (the agent console). A bot passes a conversation to them
// with pass_thread_control to this id, as it would on Messenger.
const PageInboxAppID = "263902037430900"

// maxBody is the largest request body the Graph routes read.
const maxBody = 1 << 20

// Service serves the Graph routes for institutions' bots.
type Service struct {
	Store    storeRoles
	Keyring  *vault.Keyring
	Ingest   *ingest.Ingester
	Handover *handover.Service
	// Typing shows the customer's devices that the bank is typing (the
	// bus); nothing is stored.
	Typing func(customerID, conversationID, who string) error
	Now    func() time.Time
	Log    *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// route is one Graph edge and method, and what serves it.
type route struct {
	method, edge string
	serve        func(s *Service, w http.ResponseWriter, r *request)
}

var routes = []route{
	{"POST", "messages", (*Service).send},
	{"GET", "messenger_profile", (*Service).getProfile},
	{"POST", "messenger_profile", (*Service).setProfile},
	{"DELETE", "messenger_profile", (*Service).deleteProfile},
	{"POST", "pass_thread_control", (*Service).passThread},
	{"POST", "take_thread_control", (*Service).takeThread},
	{"POST", "request_thread_control", (*Service).requestThread},
	{"POST", "release_thread_control", (*Service).releaseThread},
	{"GET", "thread_owner", (*Service).threadOwner},
}

// graphPattern is the path of every Graph route before its edge.
const graphPattern = "/{version}/{page_id}/"

// Patterns lists the Graph routes as "METHOD /path" patterns, as the Bank
// API's OpenAPI document names them. {version} is a Graph version such as
// v19.0, and may be left out; {page_id} is "me" or the institution id.
func Patterns() []string {
	var out []string
	for _, rt := range routes {
		out = append(out, rt.method+" "+graphPattern+rt.edge)
	}
	return out
}

// A Graph version always has a minor ("v19.0"), so it is never the Bank
// API's "v1".
var (
	versionPattern = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)
	pageIDPattern  = regexp.MustCompile(`^ins_[A-Za-z0-9_]{1,64}$`)
)

// graphPath reports whether path is the Graph API's, and its node and
// edge. Under a version prefix every path is (an unknown one gets a Graph
// error); without one only "me" or an institution id, then a known edge.
func graphPath(path string) (node, edge string, versioned, ok bool) {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(seg) > 0 && versionPattern.MatchString(seg[0]) {
		versioned, seg = true, seg[1:]
	}
	if len(seg) == 2 {
		node, edge = seg[0], seg[1]
	} else if len(seg) == 1 {
		node = seg[0]
	}
	if versioned {
		return node, edge, true, true
	}
	if len(seg) != 2 || (node != "me" && !pageIDPattern.MatchString(node)) {
		return "", "", false, false
	}
	for _, rt := range routes {
		if rt.edge == edge {
			return node, edge, false, true
		}
	}
	return "", "", false, false
}

// Front serves the Graph API's paths and passes every other request to
// next. The Graph paths cannot be mux patterns: a version wildcard would
// overlap the Bank API's /v1/ routes.
func (s *Service) Front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, edge, _, ok := graphPath(r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		s.serve(w, r, node, edge)
	})
}

// request is a Graph request, authenticated: the institution, the body's
// fields, and the query.
type request struct {
	*http.Request
	institutionID string
	fields        map[string]json.RawMessage
	query         url.Values
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, node, edge string) {
	var rt *route
	allowed := false
	for i := range routes {
		if routes[i].edge == edge {
			allowed = true
			if routes[i].method == r.Method || (r.Method == http.MethodHead && routes[i].method == http.MethodGet) {
				rt = &routes[i]
			}
		}
	}
	if rt != nil {
		// The route, as a mux would name it, for the access log and the
		// node's metrics (never the path: it holds an institution id).
		r.Pattern = rt.method + " " + graphPattern + rt.edge
	}
	if rt == nil {
		what := "Unsupported " + strings.ToLower(r.Method) + " request."
		if !allowed {
			what = fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation: OpenTeller answers the Messenger Platform calls listed in its contracts (docs/contracts.md).", strings.ToLower(r.Method), strings.TrimPrefix(node+"/"+edge, "/"))
		}
		s.fail(w, &Error{Status: http.StatusBadRequest, Message: what, Code: 100, Subcode: 33})
		return
	}
	fields, err := readFields(w, r)
	if err != nil {
		s.fail(w, err)
		return
	}
	query := r.URL.Query()
	institutionID, err := s.authenticate(r.Context(), r, fields, query)
	if err != nil {
		s.fail(w, err)
		return
	}
	if node != "me" && node != institutionID {
		s.fail(w, &Error{Status: http.StatusBadRequest, Code: 100, Subcode: 33,
			Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation: use \"me\" or your own page id.", strings.ToLower(r.Method), node)})
		return
	}
	delete(fields, "access_token")
	delete(fields, "appsecret_proof")
	rt.serve(s, w, &request{Request: r, institutionID: institutionID, fields: fields, query: query})
}

// readFields reads a body as Graph clients send it: a JSON object, or a
// form whose values are JSON (or plain strings). Methods without a body
// have no fields.
func readFields(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return fields, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, invalidParam("The request body is larger than %d bytes.", maxBody)
	}
	if err != nil {
		return nil, invalidParam("The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fields, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, invalidParam("The form body could not be read.")
		}
		for k, v := range form {
			raw := json.RawMessage(v[0])
			if !json.Valid(raw) {
				raw, _ = json.Marshal(v[0])
			}
			fields[k] = raw
		}
		return fields, nil
	}
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, invalidParam("The request body is not a JSON object.")
	}
	return fields, nil
}

// authenticate finds the institution whose API key is the access token
// (in the query, the body or an Authorization header), and checks
// appsecret_proof when one is sent.
func (s *Service) authenticate(ctx context.Context, r *http.Request, fields map[string]json.RawMessage, query url.Values) (string, error) {
	token := query.Get("access_token")
	if token == "" {
		json.Unmarshal(fields["access_token"], &token)
	}
	if token == "" {
		h := r.Header.Get("Authorization")
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			token = t
		} else if t, ok := strings.CutPrefix(h, "OAuth "); ok {
			token = t
		}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", &Error{Status: http.StatusUnauthorized, Code: 190, Message: "An access token is required to request this resource: send the institution's API key as access_token."}
	}
	institutionID, err := ingest.Authenticate(ctx, s.Store, "Bearer "+token, s.now())
	var refused *httpx.Error
	if errors.As(err, &refused) && refused.Code == "unauthorized" {
		return "", &Error{Status: http.StatusUnauthorized, Code: 190, Message: "Invalid OAuth access token: it is not a current API key of an institution."}
	}
	if err != nil {
		return "", err
	}
	proof := query.Get("appsecret_proof")
	if proof == "" {
		json.Unmarshal(fields["appsecret_proof"], &proof)
	}
	if proof == "" {
		return institutionID, nil
	}
	secrets, err := s.AppSecrets(ctx, institutionID)
	if err != nil {
		return "", err
	}
	if len(secrets) == 0 {
		return "", &Error{Status: http.StatusBadRequest, Code: 100, Message: "Invalid appsecret_proof provided in the API argument: the app secret is the webhook endpoint's secret, and none is registered (POST /v1/webhook-endpoints)."}
	}
	got, err := hex.DecodeString(proof)
	if err == nil {
		for _, secret := range secrets {
			if secret.Equal(got, sha256.New, []byte(token)) {
				return institutionID, nil
			}
		}
	}
	return "", &Error{Status: http.StatusBadRequest, Code: 100, Message: "Invalid appsecret_proof provided in the API argument: it must be the hex HMAC-SHA256 of the access token, keyed with the app secret (the webhook endpoint's secret, whsec_…)."}
}

// AppSecrets returns the institution's live app secrets, newest first: its
// webhook endpoint's secret and, while a rotation overlaps, the previous
// one. None when it has no endpoint. The vault keeps them: they give MACs.
func (s *Service) AppSecrets(ctx context.Context, institutionID string) ([]*vault.MACKey, error) {
	ep, err := s.Store.WebhookEndpoint(ctx, institutionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("messenger: read endpoint: %w", err)
	}
	sealed := [][]byte{ep.Secret}
	if len(ep.PreviousSecret) > 0 && s.now().Before(ep.PreviousUntil) {
		sealed = append(sealed, ep.PreviousSecret)
	}
	var out []*vault.MACKey
	for _, b := range sealed {
		secret, err := s.Keyring.PlatformMACKey(webhook.SecretRecord(institutionID), b)
		if err != nil {
			return nil, fmt.Errorf("messenger: open app secret: %w", err)
		}
		out = append(out, secret)
	}
	return out, nil
}

// Error is a Graph API error: {"error":{"message","type","code",
// "error_subcode","fbtrace_id"}}, with the codes Messenger uses for the
// same fault.
type Error struct {
	Status  int
	Message string
	Code    int
	Subcode int
}

func (e *Error) Error() string { return fmt.Sprintf("(#%d) %s", e.Code, e.Message) }

// ErrorBody is an Error as it is written.
type ErrorBody struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode,omitempty"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

func invalidParam(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: 100, Message: fmt.Sprintf(format, args...)}
}

// fail writes err as a Graph error; one that is not an *Error is an
// internal failure, logged here and never shown.
func (s *Service) fail(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log := s.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.Error("messenger: internal error", "err", err)
	}
	writeError(w, err)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: 2, Message: "An unexpected error has occurred. Please retry your request later."}
	}
	var body ErrorBody
	body.Error.Message = e.Message
	if e.Code != 190 && !strings.HasPrefix(e.Message, "(#") {
		body.Error.Message = fmt.Sprintf("(#%d) %s", e.Code, e.Message)
	}
	body.Error.Type = "OAuthException"
	body.Error.Code, body.Error.Subcode = e.Code, e.Subcode
	trace := make([]byte, 8)
	rand.Read(trace)
	body.Error.FBTraceID = base64.RawURLEncoding.EncodeToString(trace)
	if e.Code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "OpenTeller" "invalid_token"`)
	}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// field decodes the body's field name into v, strictly; a missing field
// leaves v as it is and returns false.
func (r *request) field(name string, v any) (bool, error) {
	raw, ok := r.fields[name]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	if err := strictJSON(raw, v); err != nil {
		return true, invalidParam("Param %s is not valid: %v.", name, err)
	}
	return true, nil
}

// strictJSON decodes raw into v, refusing unknown fields.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// onlyFields refuses a body with fields other than those named.
func (r *request) onlyFields(names ...string) error {
	for k := range r.fields {
		if !slices.Contains(names, k) {
			return invalidParam("Param %s is not one OpenTeller accepts here; it accepts %s.", k, strings.Join(names, ", "))
		}
	}
	return nil
}

// recipientLink finds the link a recipient id names, if it is the
// institution's: any other is "no matching user", as one that does not
// exist.
func (s *Service) recipientLink(ctx context.Context, institutionID, id string) (store.Link, error) {
	noUser := &Error{Status: http.StatusBadRequest, Code: 100, Subcode: 2018001, Message: "No matching user found: recipient.id must be the link id (lnk_…) of one of your customers."}
	if !strings.HasPrefix(id, "lnk_") {
		return store.Link{}, noUser
	}
	l, err := s.Store.Link(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && l.InstitutionID != institutionID) {
		return store.Link{}, noUser
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("messenger: read link: %w", err)
	}
	return l, nil
}

// liveLink refuses a link whose consent has ended, as the Send API refuses
// a person who cannot be reached.
func (s *Service) liveLink(l store.Link) error {
	switch {
	case l.Status == store.LinkRevoked:
		return consentError("consent_revoked", "")
	case l.Status != store.LinkActive || !s.now().Before(l.ExpiresAt):
		return consentError("consent_expired", "")
	}
	return nil
}

// consentError is the Graph error for a Bank API refusal code.
func consentError(code, message string) *Error {
	switch code {
	case "unknown_link":
		return &Error{Status: http.StatusBadRequest, Code: 100, Subcode: 2018001, Message: "No matching user found: recipient.id must be the link id (lnk_…) of one of your customers."}
	case "consent_revoked":
		return &Error{Status: http.StatusBadRequest, Code: 551, Subcode: 1545041, Message: "This person isn't available right now: the customer revoked this link, so nothing more can be sent to it."}
	case "consent_expired":
		return &Error{Status: http.StatusBadRequest, Code: 10, Subcode: 2018278, Message: "This message is sent outside of allowed window: the customer's consent for this link has expired."}
	case "consent_scope":
		return &Error{Status: http.StatusBadRequest, Code: 10, Subcode: 2018278, Message: "This message is sent outside of allowed window: " + message}
	case "unavailable":
		return &Error{Status: http.StatusServiceUnavailable, Code: 2, Message: "Temporary send message failure. Please try again later."}
	}
	return invalidParam("%s", message)
}
