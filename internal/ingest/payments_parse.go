package ingest

import (
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// Checks of the payment events a bank posts (parse.go calls them); the
// customer's side of payments is in payments.go.

var reasonCodePattern = newShape("", "A-Z0-9", 4, 4)

// maxPaymentLifetime bounds a request's expiry: a request to pay that
// stays open for more than a year is a standing order, which this is not.
const maxPaymentLifetime = 366 * 24 * time.Hour

func checkPaymentRequest(d bankapi.PaymentRequest, now time.Time) error {
	if !refPattern.MatchString(d.PaymentID) {
		return invalid("Field \"data.payment_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if err := checkPositiveMoney("data.amount", d.Amount); err != nil {
		return err
	}
	if err := checkText("data.reference", d.Reference, 1, 140); err != nil {
		return err
	}
	if d.Payee != nil {
		if err := checkText("data.payee.name", d.Payee.Name, 1, 100); err != nil {
			return err
		}
	}
	if err := checkText("data.note", d.Note, 0, 300); err != nil {
		return err
	}
	if o := d.Order; o != nil {
		if err := checkText("data.order.order_number", o.OrderNumber, 1, 64); err != nil {
			return err
		}
		if err := checkItems("data.order.items", o.Items, func(field string, it bankapi.ReceiptItem) error {
			if it.Total.Currency != d.Amount.Currency {
				return invalid("Field %q must be in the request's currency, %s.", field+".total.currency", d.Amount.Currency)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	switch {
	case d.ExpiresAt.IsZero():
		return invalid("Field \"data.expires_at\" is required.")
	case !d.ExpiresAt.After(now):
		return invalid("Field \"data.expires_at\" must be in the future: a request nobody can pay helps no one.")
	case d.ExpiresAt.After(now.Add(maxPaymentLifetime)):
		return invalid("Field \"data.expires_at\" must be within a year.")
	}
	return nil
}

func checkPaymentStatus(d bankapi.PaymentStatus) error {
	if !refPattern.MatchString(d.PaymentID) {
		return invalid("Field \"data.payment_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if !slices.Contains(bankapi.PaymentStatuses, d.Status) {
		return invalid("Field \"data.status\" must be one of %s.", strings.Join(bankapi.PaymentStatuses, ", "))
	}
	if d.ReasonCode != "" && !reasonCodePattern.MatchString(d.ReasonCode) {
		return invalid("Field \"data.reason_code\" must be an ISO 20022 status reason code: four capital letters or digits, such as AM04.")
	}
	return checkText("data.note", d.Note, 0, 300)
}

// checkPositiveMoney is money that can be paid: well formed, and more
// than nothing.
func checkPositiveMoney(field string, m bankapi.Money) error {
	if err := checkMoney(field, m, false); err != nil {
		return err
	}
	if strings.Trim(m.Amount, "0.") == "" {
		return invalid("Field %q must be more than zero.", field)
	}
	return nil
}
