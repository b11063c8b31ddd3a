// Package web serves the customer messenger: its embedded ES modules and
// CSS, and the customer JSON API it calls (institutions, conversations,
// starting a link, sending a message). Accounts and sessions are the auth
// package's; live events are the delivery package's.
//
// What must stay true: every API route here answers only for the signed-in
// customer's own conversations; pages are served with a strict Content
// Security Policy (no inline script, no third-party origin).
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/i18n"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/linking"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

//go:embed static
var static embed.FS

// CSP is the Content Security Policy of every response.
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// SecurityHeaders sets the headers every response carries.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// Static serves the messenger's files, and its pages and catalogues in
// the reader's language (pages.go).
func Static() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if servedByPages(w, r) { // the pages, in the reader's language (pages.go)
			return
		}
		// Files are small and change with the binary: revalidate each time.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// StoreReader is all the web layer may do with the store: read what a
// page shows. Every change goes through a service (ingest, consent,
// linking, handover), which checks it; TestWebOnlyReads keeps it so.
type StoreReader interface {
	Customer(ctx context.Context, id string) (store.Customer, error)
	Institutions(ctx context.Context) ([]store.Institution, error)
	Brand(ctx context.Context, institutionID string) (store.Brand, error)
	Brands(ctx context.Context) ([]store.Brand, error)
	Menu(ctx context.Context, institutionID string) (store.Menu, error)
	Conversations(ctx context.Context, customerID string) ([]store.Conversation, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	Links(ctx context.Context, customerID string) ([]store.Link, error)
	Receipts(ctx context.Context, customerID string) ([]store.Receipt, error)
}

// API is the customer JSON API beyond accounts.
type API struct {
	Store    StoreReader
	Ingest   *ingest.Ingester
	Linking  *linking.Service
	Now      func() time.Time
	Customer func(*http.Request) (string, bool)
	BaseURL  string
	Hub      *delivery.Hub // opens the customer's own data, for export
	Access   *access.Log
	Handover *handover.Service
	// Typing tells the bank's people the customer is typing (bus).
	Typing func(conversationID string) error
	// SharedNames opens the names the customer shows banks' people, by
	// link id (consent), for export.
	SharedNames func(ctx context.Context, customerID string) (map[string]string, error)
}

// Register adds the API's routes to mux; require wraps each in the
// signed-in-customer check (with CSRF on writes).
func (a *API) Register(mux interface{ Handle(string, http.Handler) }, require func(http.Handler) http.Handler) {
	mux.Handle("GET /app/api/institutions", require(http.HandlerFunc(a.institutions)))
	mux.Handle("GET /app/api/institutions/{id}/logo", require(http.HandlerFunc(a.logo)))
	mux.Handle("GET /app/api/conversations", require(http.HandlerFunc(a.conversations)))
	mux.Handle("GET /app/api/disclosure", require(http.HandlerFunc(a.disclosure)))
	mux.Handle("POST /app/api/links", require(http.HandlerFunc(a.startLink)))
	mux.Handle("GET /app/api/receipts", require(http.HandlerFunc(a.receipts)))
	mux.Handle("GET /app/api/receipts/{id}", require(http.HandlerFunc(a.receipt)))
	mux.Handle("POST /app/api/conversations/{id}/messages", require(http.HandlerFunc(a.postMessage)))
	mux.Handle("POST /app/api/conversations/{id}/requests", require(http.HandlerFunc(a.request)))
	mux.Handle("POST /app/api/conversations/{id}/alerts/{seq}/answer", require(http.HandlerFunc(a.answerAlert)))
	mux.Handle("POST /app/api/conversations/{id}/cards/{seq}/action", require(http.HandlerFunc(a.actOnCard)))
	mux.Handle("POST /app/api/conversations/{id}/rating", require(http.HandlerFunc(a.rate)))
	mux.Handle("POST /app/api/conversations/{id}/typing", require(http.HandlerFunc(a.typing)))
	mux.Handle("GET /app/api/conversations/{id}/menu", require(http.HandlerFunc(a.menu)))
	mux.Handle("GET /app/api/export", require(http.HandlerFunc(a.export)))
	mux.Handle("GET /app/api/export/transactions.csv", require(http.HandlerFunc(a.transactionsCSV)))
	a.registerPayments(mux, require)
}

func (a *API) institutions(w http.ResponseWriter, r *http.Request) {
	ins, err := a.Store.Institutions(r.Context())
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	brands, err := a.brands(r.Context())
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	type institution struct {
		delivery.InstitutionView
		Brand *brandJSON `json:"brand,omitempty"` // brand.go
	}
	out := make([]institution, 0, len(ins))
	for _, in := range ins {
		out = append(out, institution{delivery.InstitutionView{ID: in.ID, Name: in.Name}, brands[in.ID]})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"institutions": out})
}

func (a *API) conversations(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	convs, err := a.Store.Conversations(r.Context(), customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	now := a.Now()
	out := make([]delivery.ConversationView, 0, len(convs))
	for _, c := range convs {
		out = append(out, delivery.ViewOf(c, now))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"conversations": out})
}

// disclosure serves what the customer reads before the bank's sign-in:
// ?institution_id=…&scopes=balances,transactions&duration_days=90&lang=fr,
// in lang (the page's language), else the request's (i18n.FromRequest).
func (a *API) disclosure(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	days, err := strconv.Atoi(q.Get("duration_days"))
	if err != nil {
		days = consent.DefaultDays
	}
	var scopes []string
	if s := q.Get("scopes"); s != "" {
		scopes = strings.Split(s, ",")
	}
	d, err := a.Linking.DisclosureIn(r.Context(), requestLang(r, q.Get("lang")), q.Get("institution_id"), scopes, days)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"disclosure": d, "durations": consent.Durations})
}

// requestLang is the language to write in for r: the one the page asked
// for, when the platform speaks it, else the person's (i18n.FromRequest).
func requestLang(r *http.Request, asked string) string {
	if i18n.Supported(asked) {
		return asked
	}
	return i18n.FromRequest(r)
}

func (a *API) startLink(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	var req struct {
		InstitutionID    string   `json:"institution_id"`
		Scopes           []string `json:"scopes"`
		DurationDays     int      `json:"duration_days"`
		DisclosureDigest string   `json:"disclosure_digest"`
		Lang             string   `json:"lang"` // the disclosure's, as it was served
	}
	if err := httpx.DecodeJSON(w, r, 8<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	u, err := a.Linking.Start(r.Context(), customerID, linking.Request{InstitutionID: req.InstitutionID, Scopes: req.Scopes,
		DurationDays: req.DurationDays, DisclosureDigest: req.DisclosureDigest, Lang: requestLang(r, req.Lang)})
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"authorize_url": u})
}

// postMessage sends {"text": …}, or a tap on a quick reply or button:
// {"reply_to": seq, "payload": …, "text": label}, or on an item of the
// bank's menu: {"menu": true, "payload": …}.
func (a *API) postMessage(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	var req struct {
		Text    string `json:"text"`
		ReplyTo int64  `json:"reply_to"`
		Payload string `json:"payload"`
		Menu    bool   `json:"menu"`
	}
	if err := httpx.DecodeJSON(w, r, 32<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	seq, err := a.Ingest.PostCustomerMessage(r.Context(), customerID, r.PathValue("id"),
		ingest.CustomerMessage{Text: req.Text, ReplyTo: req.ReplyTo, Payload: req.Payload, Menu: req.Menu})
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]int64{"seq": seq})
}

// request asks the bank from the menu: {"kind": "balance"}. A balance
// request answers with the last known balances, to show while the bank
// sends fresh ones.
func (a *API) request(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	var req struct {
		Kind string `json:"kind"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	res, err := a.Ingest.Request(r.Context(), customerID, r.PathValue("id"), req.Kind)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if req.Kind == bankapi.RequestHuman {
		// The conversation goes to the bank's people; the bank hears both
		// the request and the handover.
		if _, _, err := a.Handover.Apply(r.Context(), r.PathValue("id"), handover.Request{Trigger: handover.CustomerAsks}); err != nil {
			httpx.WriteError(w, err)
			return
		}
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"seq": res.Seq, "last_known": res.LastKnown})
}

// answerAlert answers the fraud alert at {seq}: {"action": "deny"}. The
// same answer again is 200 with the first answer's seq; 201 otherwise.
func (a *API) answerAlert(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, "That alert is not in this conversation.", a.Ingest.AnswerFraudAlert)
}

// actOnCard takes one of the actions the card status at {seq} offers:
// {"action": "unlock"}. The bank acts on the card; the same action again is
// 200 with the first one's seq; 201 otherwise.
func (a *API) actOnCard(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, "That card is not in this conversation.", a.Ingest.ActOnCard)
}

// act serves a tap on one of the actions a card at {seq} of conversation
// {id} offers ({"action"}), through answer.
func (a *API) act(w http.ResponseWriter, r *http.Request, notFound string,
	answer func(ctx context.Context, customerID, conversationID string, seq int64, action string) (ingest.Answer, error)) {
	customerID, _ := a.Customer(r)
	var req struct {
		Action string `json:"action"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "%s", notFound))
		return
	}
	res, err := answer(r.Context(), customerID, r.PathValue("id"), seq, req.Action)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	httpx.WriteJSON(w, status, map[string]any{"seq": res.Seq, "duplicate": res.Duplicate})
}

// receipts lists the customer's consent receipts, newest first.
func (a *API) receipts(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	rs, err := a.Store.Receipts(r.Context(), customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	names := a.institutionNames(r)
	out := make([]consent.KantaraReceipt, 0, len(rs))
	for i := len(rs) - 1; i >= 0; i-- {
		out = append(out, consent.Kantara(rs[i], names[rs[i].InstitutionID], a.BaseURL))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"receipts": out})
}

// receipt serves one receipt as a JSON download.
func (a *API) receipt(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	rs, err := a.Store.Receipts(r.Context(), customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	for _, rc := range rs {
		if rc.ID == r.PathValue("id") {
			w.Header().Set("Content-Disposition", `attachment; filename="openteller-consent-`+rc.ID+`.json"`)
			httpx.WriteJSON(w, http.StatusOK, consent.Kantara(rc, a.institutionNames(r)[rc.InstitutionID], a.BaseURL))
			return
		}
	}
	httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "No such receipt."))
}

func (a *API) institutionNames(r *http.Request) map[string]string {
	names := map[string]string{}
	if ins, err := a.Store.Institutions(r.Context()); err == nil {
		for _, in := range ins {
			names[in.ID] = in.Name
		}
	}
	return names
}

// rate answers a satisfaction request: {"request_seq","score","comment"}.
// The score also goes to the bank's supervisors' figures; the comment stays
// in the conversation, sealed.
func (a *API) rate(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	var req struct {
		RequestSeq int64  `json:"request_seq"`
		Score      int    `json:"score"`
		Comment    string `json:"comment"`
	}
	if err := httpx.DecodeJSON(w, r, 4<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	res, err := a.Ingest.Rate(r.Context(), customerID, r.PathValue("id"), req.RequestSeq, req.Score, req.Comment)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"seq": res.Seq})
}

// typing: the customer is typing; the bank's person with the conversation
// sees it. Nothing is stored.
func (a *API) typing(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	c, err := store.CustomerConversation(r.Context(), a.Store, customerID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "That conversation does not exist."))
		return
	}
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	if c.Owner == "agent" {
		if err := a.Typing(c.ID); err != nil {
			httpx.WriteError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// menu serves the bank's menu in a conversation of the customer's (set by
// its bot through the Messenger profile): {"get_started": payload or "",
// "items":[{"title","payload"|"url"}]}; empty when it set none.
func (a *API) menu(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	c, err := store.CustomerConversation(r.Context(), a.Store, customerID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "That conversation does not exist."))
		return
	}
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	m, err := a.Store.Menu(r.Context(), c.InstitutionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, err)
		return
	}
	items := m.Items
	if items == nil {
		items = []store.MenuItem{}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"get_started": m.GetStarted, "items": items})
}
