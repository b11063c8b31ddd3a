package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// testDisplayNames: a customer's name for one link is kept sealed with the
// receipt of the decision, replaced, listed by link and deleted with
// another receipt; refused writes (another customer's or an unknown link,
// no support_chat, an ended link, a replaced key, no receipt) keep
// nothing. Whatever ends the link (revocation, expiry), takes
// support_chat away from it, or clears its conversation's history deletes
// its name in the same transaction; a renewal and another link's changes
// do not.
func testDisplayNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, store.DisplayNameScope, "balances")
	owner := vault.ConversationKey(f.cust.ID, f.inst.ID)
	for _, k := range []string{owner, vault.ConversationKey("cus_2", f.inst.ID), vault.ConversationKey(f.cust.ID, f.other.ID)} {
		_, err := s.PutDataKey(ctx, vault.WrappedKey{CustomerID: k, Version: 1, RootKeyVersion: 1, Wrapped: []byte("key")})
		must(t, err)
	}
	must(t, s.CreateCustomer(ctx, store.Customer{ID: "cus_2", Email: "bo@example.com", PasswordHash: "x", CreatedAt: t0}))
	newLink := func(id, customerID, institutionID, conversationID string, scopes ...string) store.Link {
		t.Helper()
		l, err := s.CreateLink(ctx, store.Link{ID: id, CustomerID: customerID, InstitutionID: institutionID, ConversationID: conversationID,
			Scopes: scopes, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
		must(t, err)
		return l
	}
	noChat := newLink("lnk_nochat", f.cust.ID, f.other.ID, "cnv_nochat", "balances")
	theirs := newLink("lnk_theirs", "cus_2", f.inst.ID, "cnv_theirs", store.DisplayNameScope)
	elsewhere := newLink("lnk_elsewhere", f.cust.ID, f.other.ID, "cnv_nochat", store.DisplayNameScope)

	at := time.Now().UTC().Truncate(time.Microsecond)
	name := func(l store.Link, body string) store.DisplayName {
		return store.DisplayName{LinkID: l.ID, CustomerID: l.CustomerID, Sealed: sealedV(1, body), SetAt: at}
	}
	receipt := func(action string) store.Receipt {
		r := grant()
		r.Action, r.Scopes, r.CollectedAt, r.ExpiresAt = action, nil, at, time.Time{}
		return r
	}
	names := func(ids ...string) []store.DisplayName {
		t.Helper()
		got, err := s.DisplayNames(ctx, ids)
		must(t, err)
		return got
	}
	receipts := func(customerID string) []store.Receipt {
		t.Helper()
		rs, err := s.Receipts(ctx, customerID)
		must(t, err)
		return rs
	}
	before := len(receipts(f.cust.ID))

	stranger := name(f.link, "sam")
	stranger.CustomerID = "cus_2"
	missing := name(f.link, "sam")
	missing.LinkID = "lnk_missing"
	late := name(f.link, "sam")
	late.SetAt = f.link.ExpiresAt.Add(time.Second)
	stale := name(f.link, "sam")
	stale.Sealed = sealedV(2, "sam")
	for _, bad := range []struct {
		what string
		n    store.DisplayName
		r    store.Receipt
		want error
	}{
		{"another customer's link", stranger, receipt(store.ReceiptShareName), store.ErrNotFound},
		{"an unknown link", missing, receipt(store.ReceiptShareName), store.ErrNotFound},
		{"a link without support_chat", name(noChat, "sam"), receipt(store.ReceiptShareName), store.ErrConsentScope},
		{"a link past its expiry", late, receipt(store.ReceiptShareName), store.ErrConsentExpired},
		{"a name sealed under another key", stale, receipt(store.ReceiptShareName), store.ErrStaleKey},
		{"no receipt", name(f.link, "sam"), store.Receipt{}, nil},
	} {
		err := s.PutDisplayName(ctx, bad.n, bad.r)
		if err == nil || (bad.want != nil && !errors.Is(err, bad.want)) {
			t.Errorf("%s: %v, want %v", bad.what, err, bad.want)
		}
	}
	if got := names(f.link.ID, noChat.ID, "lnk_missing"); len(got) != 0 {
		t.Fatalf("refused names were kept: %+v", got)
	}
	if n := len(receipts(f.cust.ID)); n != before {
		t.Fatalf("refused names left %d receipts", n-before)
	}

	// Kept, filled from the link, with its receipt; then replaced.
	must(t, s.PutDisplayName(ctx, name(f.link, "sam"), receipt(store.ReceiptShareName)))
	want := store.DisplayName{LinkID: f.link.ID, CustomerID: f.cust.ID, InstitutionID: f.inst.ID, Sealed: sealedV(1, "sam"), SetAt: at}
	if got := names(f.link.ID); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("kept %+v, want %+v", got, want)
	}
	// One receipt each (receipts of one moment come in no set order).
	decisions := func(action string) []store.Receipt {
		var out []store.Receipt
		for _, r := range receipts(f.cust.ID) {
			if r.Action == action {
				out = append(out, r)
			}
		}
		return out
	}
	if rs := decisions(store.ReceiptShareName); len(receipts(f.cust.ID)) != before+1 || len(rs) != 1 || rs[0].LinkID != f.link.ID ||
		rs[0].InstitutionID != f.inst.ID || rs[0].CustomerID != f.cust.ID {
		t.Fatalf("receipts after sharing a name: %+v", receipts(f.cust.ID))
	}
	changed := name(f.link, "samantha")
	changed.SetAt = at.Add(time.Minute)
	must(t, s.PutDisplayName(ctx, changed, receipt(store.ReceiptShareName)))
	want.Sealed, want.SetAt = changed.Sealed, changed.SetAt
	if got := names(f.link.ID); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("after a change %+v, want %+v", got, want)
	}
	must(t, s.PutDisplayName(ctx, name(theirs, "bo"), receipt(store.ReceiptShareName)))
	must(t, s.PutDisplayName(ctx, name(elsewhere, "sam at beta"), receipt(store.ReceiptShareName)))
	if got := names(theirs.ID, f.link.ID, "lnk_missing"); len(got) != 2 || got[0].LinkID != f.link.ID || got[1].LinkID != theirs.ID {
		t.Fatalf("two links' names: %+v", got)
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("no links: %+v", got)
	}

	// Deleted by its own customer only, once, with a receipt.
	if err := s.DeleteDisplayName(ctx, "cus_2", f.link.ID, receipt(store.ReceiptUnshareName)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another customer's delete: %v", err)
	}
	if err := s.DeleteDisplayName(ctx, f.cust.ID, f.link.ID, store.Receipt{}); err == nil {
		t.Fatal("a delete without a receipt")
	}
	before = len(receipts(f.cust.ID))
	must(t, s.DeleteDisplayName(ctx, f.cust.ID, f.link.ID, receipt(store.ReceiptUnshareName)))
	if err := s.DeleteDisplayName(ctx, f.cust.ID, f.link.ID, receipt(store.ReceiptUnshareName)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a second delete: %v", err)
	}
	if err := s.DeleteDisplayName(ctx, f.cust.ID, "lnk_missing", receipt(store.ReceiptUnshareName)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown link's delete: %v", err)
	}
	if rs := decisions(store.ReceiptUnshareName); len(receipts(f.cust.ID)) != before+1 || len(rs) != 1 || rs[0].LinkID != f.link.ID || rs[0].InstitutionID != f.inst.ID {
		t.Fatalf("receipts after deleting: %+v", receipts(f.cust.ID))
	}
	if got := names(f.link.ID, theirs.ID); len(got) != 1 || got[0].LinkID != theirs.ID {
		t.Fatalf("after deleting: %+v", got)
	}

	// A renewal keeps it; taking support_chat away deletes it.
	must(t, s.PutDisplayName(ctx, name(f.link, "sam"), receipt(store.ReceiptShareName)))
	renew := store.Renewal{LinkID: f.link.ID, CustomerID: f.cust.ID, At: at, ExpiresAt: at.Add(48 * time.Hour), Receipt: receipt(store.ReceiptRenew)}
	if _, err := s.RenewLink(ctx, renew); err != nil {
		t.Fatal(err)
	}
	if got := names(f.link.ID); len(got) != 1 {
		t.Fatalf("a renewal deleted the name: %+v", got)
	}
	r := receipt(store.ReceiptNarrow)
	_, err := s.NarrowLink(ctx, store.Narrowing{LinkID: f.link.ID, CustomerID: f.cust.ID, Scopes: []string{"balances"}, At: at,
		Marker: store.NewEvent{Event: store.Event{ID: "rec_narrowed_name", Type: store.TypeLinkNarrowed, Author: store.AuthorPlatform,
			OccurredAt: at, ReceivedAt: at, Sealed: sealedV(1, "narrowed")}}, Receipt: r})
	must(t, err)
	if got := names(f.link.ID, theirs.ID, elsewhere.ID); len(got) != 2 || got[0].LinkID == f.link.ID {
		t.Fatalf("after support_chat was taken away: %+v", got)
	}

	// Clearing the history destroys the key that sealed it: the name goes.
	// The same customer's name at another bank stays.
	chat := newLink("lnk_chat2", f.cust.ID, f.inst.ID, f.link.ConversationID, store.DisplayNameScope)
	must(t, s.PutDisplayName(ctx, name(chat, "sam again"), receipt(store.ReceiptShareName)))
	_, err = s.ClearHistory(ctx, store.Clearing{CustomerID: f.cust.ID, InstitutionID: f.inst.ID, At: at, OldKeyVersion: 1,
		NewKey: vault.WrappedKey{CustomerID: owner, Version: 2, RootKeyVersion: 1, Wrapped: []byte("new key")},
		Marker: store.NewEvent{Event: store.Event{ID: "rec_cleared_name", Type: store.TypeHistoryCleared, Author: store.AuthorPlatform,
			OccurredAt: at, ReceivedAt: at, Sealed: sealedV(2, "cleared")}}})
	must(t, err)
	if got := names(chat.ID, theirs.ID, elsewhere.ID); len(got) != 2 || got[0].LinkID != elsewhere.ID || got[1].LinkID != theirs.ID {
		t.Fatalf("after clearing the history: %+v", got)
	}
	// Under the new key it may be shared again.
	again := name(chat, "sam anew")
	again.Sealed = sealedV(2, "sam anew")
	must(t, s.PutDisplayName(ctx, again, receipt(store.ReceiptShareName)))

	// Revoking ends it, and so does the expiry.
	revoke := store.Revocation{LinkID: chat.ID, CustomerID: f.cust.ID, At: at,
		Marker: store.NewEvent{Event: store.Event{ID: "rec_revoked_name", Type: store.TypeLinkRevoked, Author: store.AuthorPlatform,
			OccurredAt: at, ReceivedAt: at, Sealed: sealedV(2, "revoked")}},
		Receipt: revokeReceipt(at)}
	_, err = s.RevokeLink(ctx, revoke)
	must(t, err)
	if got := names(chat.ID); len(got) != 0 {
		t.Fatalf("a revoked link's name: %+v", got)
	}
	if err := s.PutDisplayName(ctx, again, receipt(store.ReceiptShareName)); !errors.Is(err, store.ErrConsentRevoked) {
		t.Fatalf("a name for a revoked link: %v", err)
	}
	later := theirs.ExpiresAt.Add(time.Minute)
	expire := store.Revocation{LinkID: theirs.ID, Expire: true, At: later,
		Marker: store.NewEvent{Event: store.Event{ID: "rec_expired_name", Type: store.TypeLinkExpired, Author: store.AuthorPlatform,
			OccurredAt: later, ReceivedAt: later, Sealed: []byte("sealed:expired")}},
		Receipt: revokeReceipt(later)}
	expire.Receipt.Action = store.ReceiptExpire
	_, err = s.RevokeLink(ctx, expire)
	must(t, err)
	if got := names(theirs.ID, elsewhere.ID); len(got) != 1 || got[0].LinkID != elsewhere.ID {
		t.Fatalf("after the expiry of another customer's link: %+v", got)
	}
}
