package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// testPayments: an institution is a bank unless created a merchant; and a
// bundle of events in two conversations (a payment request marked paid in
// the merchant's, the payment handed to the bank in the bank's, with the
// bank's notice) is stored all or none: a second tap on the same request,
// a payer's link that does not grant payments, or two taps racing in one
// batch leave nothing of the loser, and queue no notice.
func testPayments(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "payments")
	shop := store.Institution{ID: "ins_shop", Name: "Alder Outfitters", Kind: store.InstitutionMerchant, AuthorizeURL: "https://shop.example/authorize",
		TokenURL: "https://shop.example/token", ClientID: "ot", CreatedAt: t0}
	must(t, s.CreateInstitution(ctx, shop))
	for id, want := range map[string]string{shop.ID: store.InstitutionMerchant, f.inst.ID: store.InstitutionBank, f.other.ID: store.InstitutionBank} {
		got, err := s.Institution(ctx, id)
		must(t, err)
		if got.Kind != want {
			t.Fatalf("%s is a %q, want %q", id, got.Kind, want)
		}
	}
	all, err := s.Institutions(ctx)
	must(t, err)
	if len(all) != 3 || all[0].ID != shop.ID || all[0].Kind != store.InstitutionMerchant {
		t.Fatalf("institutions = %+v", all)
	}
	link := func(id, institutionID, conv string, scopes ...string) store.Link {
		l, err := s.CreateLink(ctx, store.Link{ID: id, CustomerID: f.cust.ID, InstitutionID: institutionID, ConversationID: conv,
			Scopes: scopes, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
		must(t, err)
		return l
	}
	shopLink := link("lnk_shop", shop.ID, "cnv_shop", "payments")
	otherLink := link("lnk_other", f.other.ID, "cnv_other", "balances") // Beta Bank: no payments
	bank := f.link                                                      // Alpha Bank: payments

	// pay is a tap on "Pay with" a bank: the request marked in the
	// merchant's conversation (once: its key), the payment handed to the
	// bank in the bank's, with the notice.
	pay := func(bundle, how string, payer store.Link) []store.NewEvent {
		marked := store.NewEvent{Event: store.Event{ID: "rec_mark_" + bundle, CustomerID: f.cust.ID, InstitutionID: shop.ID, LinkID: shopLink.ID,
			BankEventID: "payment/req-1", Type: "payment.authorize", Author: store.AuthorCustomer, OccurredAt: t0, ReceivedAt: t0,
			Sealed: []byte("sealed:" + how)}, Scope: "payments", Fingerprint: []byte("fp:" + how), Bundle: bundle}
		handed := store.NewEvent{Event: store.Event{ID: "rec_hand_" + bundle, CustomerID: f.cust.ID, InstitutionID: payer.InstitutionID, LinkID: payer.ID,
			Type: "payment.authorize", Author: store.AuthorCustomer, OccurredAt: t0, ReceivedAt: t0, Sealed: []byte("sealed:" + how)},
			Scope: "payments", Bundle: bundle,
			Notice: &store.Notice{ID: "ntc_" + bundle, Type: "payment.authorize", CustomerID: f.cust.ID, Sealed: []byte("sealed notice"), CreatedAt: t0}}
		return []store.NewEvent{marked, handed}
	}
	heads := func() map[string]int64 {
		t.Helper()
		out := map[string]int64{}
		for _, id := range []string{shopLink.ConversationID, bank.ConversationID, otherLink.ConversationID} {
			c, err := s.Conversation(ctx, id)
			must(t, err)
			out[id] = c.LastSeq
		}
		return out
	}
	unchanged := func(what string, before map[string]int64) {
		t.Helper()
		after := heads()
		for id, seq := range before {
			if after[id] != seq {
				t.Fatalf("%s: conversation %s went from seq %d to %d", what, id, seq, after[id])
			}
		}
	}
	notices := func() int {
		t.Helper()
		n := 0
		for _, ins := range []string{shop.ID, f.inst.ID, f.other.ID} {
			ns, err := s.Notices(ctx, ins)
			must(t, err)
			n += len(ns)
		}
		return n
	}

	// A payer whose link does not grant payments: neither is stored.
	before, queued := heads(), notices()
	res, err := s.AppendEvents(ctx, pay("b0", "beta", otherLink))
	must(t, err)
	if !errors.Is(res[0].Err, store.ErrBundle) || !errors.Is(res[1].Err, store.ErrConsentScope) {
		t.Fatalf("paying with a bank that may not = %+v", res)
	}
	unchanged("a payer out of scope", before)
	if notices() != queued {
		t.Fatal("a notice was queued for a payment that was not stored")
	}

	// Paid with Alpha Bank: both stored, the notice for Alpha Bank alone.
	res, err = s.AppendEvents(ctx, pay("b1", "alpha", bank))
	must(t, err)
	if res[0].Err != nil || res[1].Err != nil || res[0].ConversationID != shopLink.ConversationID || res[1].ConversationID != bank.ConversationID {
		t.Fatalf("paying = %+v", res)
	}
	ns, err := noticesOf(ctx, s, f.inst.ID, "payment.authorize")
	must(t, err)
	if len(ns) != 1 || ns[0].ID != "ntc_b1" || ns[0].LinkID != bank.ID || ns[0].CustomerID != f.cust.ID {
		t.Fatalf("Alpha Bank's notices = %+v", ns)
	}
	if ns, _ := noticesOf(ctx, s, shop.ID, "payment.authorize"); len(ns) != 0 {
		t.Fatalf("the merchant was told of the payment: %+v", ns)
	}

	// A second tap, the same or another: the request is taken, and the
	// new payment is not handed over.
	for _, how := range []string{"alpha", "again"} {
		before, queued = heads(), notices()
		res, err = s.AppendEvents(ctx, pay("b2"+how, how, bank))
		must(t, err)
		if how == "alpha" && (!res[0].Duplicate || !errors.Is(res[1].Err, store.ErrBundle)) {
			t.Fatalf("the same tap again = %+v", res)
		}
		if how == "again" && (!errors.Is(res[0].Err, store.ErrIdempotencyConflict) || !errors.Is(res[1].Err, store.ErrBundle)) {
			t.Fatalf("another tap = %+v", res)
		}
		unchanged("a second tap", before)
		if notices() != queued {
			t.Fatal("a second tap queued a notice")
		}
	}

	// Two taps on a new request racing in one batch: the first wins whole,
	// the second leaves nothing.
	race := func(bundle string) []store.NewEvent {
		evs := pay(bundle, bundle, bank)
		evs[0].BankEventID = "payment/req-2"
		return evs
	}
	before, queued = heads(), notices()
	res, err = s.AppendEvents(ctx, append(race("r1"), race("r2")...))
	must(t, err)
	if res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, store.ErrIdempotencyConflict) || !errors.Is(res[3].Err, store.ErrBundle) {
		t.Fatalf("racing taps = %+v", res)
	}
	after := heads()
	if after[shopLink.ConversationID] != before[shopLink.ConversationID]+1 || after[bank.ConversationID] != before[bank.ConversationID]+1 {
		t.Fatalf("racing taps stored %v, from %v", after, before)
	}
	if notices() != queued+1 {
		t.Fatal("racing taps queued more than one notice")
	}
}
