package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Export: everything OpenTeller holds about the signed-in customer, as
// JSON, and their card and account transactions as CSV. Only the customer
// themself can download it; it is opened with their key on the way out.

func (a *API) export(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	customerID, _ := a.Customer(r)
	c, err := a.Store.Customer(ctx, customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	links, err := a.Store.Links(ctx, customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	rs, err := a.Store.Receipts(ctx, customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	convs, err := a.Hub.Export(ctx, customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	hist, err := a.Access.History(ctx, customerID, 0)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	shown := map[string]string{}
	if a.SharedNames != nil {
		if shown, err = a.SharedNames(ctx, customerID); err != nil {
			httpx.WriteError(w, err)
			return
		}
	}
	names := a.institutionNames(r)
	type linkOut struct {
		ID          string    `json:"id"`
		Institution string    `json:"institution"`
		Scopes      []string  `json:"scopes"`
		Status      string    `json:"status"`
		CreatedAt   time.Time `json:"created_at"`
		ExpiresAt   time.Time `json:"expires_at"`
		RevokedAt   time.Time `json:"revoked_at,omitzero"`
		DisplayName string    `json:"display_name,omitempty"` // the name the bank's people see, if the customer shows one
	}
	lo := []linkOut{}
	for _, l := range links {
		lo = append(lo, linkOut{l.ID, names[l.InstitutionID], l.Scopes, l.Status, l.CreatedAt, l.ExpiresAt, l.RevokedAt, shown[l.ID]})
	}
	ro := []consent.KantaraReceipt{}
	for _, rc := range rs {
		ro = append(ro, consent.Kantara(rc, names[rc.InstitutionID], a.BaseURL))
	}
	ao := []json.RawMessage{}
	for _, e := range hist.Entries {
		ao = append(ao, e.Data)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="openteller-export.json"`)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"exported_at":   a.Now().UTC(),
		"profile":       map[string]any{"id": c.ID, "email": c.Email, "created_at": c.CreatedAt, "language": c.Language},
		"links":         lo,
		"receipts":      ro,
		"conversations": convs,
		"access_log":    map[string]any{"entries": ao, "checkpoint": hist.Checkpoint, "verifier_key": hist.VerifierKey},
	})
}

// transactionsCSV writes every transaction.posted event, in each
// conversation's order: pending ones too, marked, since the customer saw them.
func (a *API) transactionsCSV(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	convs, err := a.Hub.Export(r.Context(), customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="openteller-transactions.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"bank", "occurred_at", "status", "direction", "amount", "currency", "merchant", "category", "description", "card_last4", "account", "transaction_id"})
	for _, c := range convs {
		for _, e := range c.Events {
			if e.Type != bankapi.TypeTransactionPosted {
				continue
			}
			var t bankapi.TransactionPosted
			if json.Unmarshal(e.Data, &t) != nil {
				continue
			}
			var merchant, category string
			if t.Merchant != nil {
				merchant, category = t.Merchant.Name, t.Merchant.Category
			}
			cw.Write([]string{c.Institution, e.OccurredAt.Format(time.RFC3339), t.Status, t.Direction, t.Amount.Amount, t.Amount.Currency,
				csvSafe(merchant), csvSafe(category), csvSafe(t.Description), t.CardLast4, t.AccountID, t.TransactionID})
		}
	}
	cw.Flush()
}

// csvSafe keeps a bank's text from being read as a formula by spreadsheet
// programs (CSV injection): a leading = + - @ gets a quote mark.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
