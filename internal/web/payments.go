package web

import (
	"net/http"
	"strconv"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/pkg/bankapi"
)

// The customer's payments: which of their banks can pay, a tap on "Pay
// with <bank>", and asking someone to pay them (ingest/payments.go).

func (a *API) registerPayments(mux interface{ Handle(string, http.Handler) }, require func(http.Handler) http.Handler) {
	mux.Handle("GET /app/api/payers", require(http.HandlerFunc(a.payers)))
	mux.Handle("POST /app/api/conversations/{id}/payments/{seq}/authorize", require(http.HandlerFunc(a.authorizePayment)))
	mux.Handle("POST /app/api/conversations/{id}/payments/ask", require(http.HandlerFunc(a.askPayment)))
}

// payers lists the customer's banks that can pay a merchant's request.
func (a *API) payers(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	ps, err := a.Ingest.Payers(r.Context(), customerID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"payers": ps})
}

// authorizePayment hands the payment request at {seq} to a bank:
// {"payer_institution_id": …}, empty when the requesting bank pays.
func (a *API) authorizePayment(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	var req struct {
		PayerInstitutionID string `json:"payer_institution_id"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "That request is not in this conversation."))
		return
	}
	res, err := a.Ingest.AuthorizePayment(r.Context(), customerID, r.PathValue("id"), seq, req.PayerInstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"seq": res.Seq, "payer_conversation_id": res.PayerConversationID})
}

// askPayment asks, through the conversation's bank, someone to pay the
// customer: {"amount":{"amount","currency"},"payer","reference"}.
func (a *API) askPayment(w http.ResponseWriter, r *http.Request) {
	customerID, _ := a.Customer(r)
	var req struct {
		Amount    bankapi.Money `json:"amount"`
		Payer     string        `json:"payer"`
		Reference string        `json:"reference"`
	}
	if err := httpx.DecodeJSON(w, r, 4<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	res, err := a.Ingest.AskPayment(r.Context(), customerID, r.PathValue("id"), ingest.PaymentAsk{Amount: req.Amount, Payer: req.Payer, Reference: req.Reference})
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"seq": res.Seq, "payment_id": res.PaymentID})
}
