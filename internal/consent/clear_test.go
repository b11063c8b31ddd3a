package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// TestClearHistoryIsIrreversible: clearing one bank deletes its events and
// the notices about them, and destroys the key that sealed them: copies of
// the ciphertext taken before (as a WAL or a backup would hold them) no
// longer open, on this node or a fresh one. The other bank's history, and
// every consent receipt, stay. Clearing everything then does the same for
// the rest, and unlinks the customer from their access-log pseudonym.
func TestClearHistoryIsIrreversible(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_1")
	r.must(r.st.CreateInstitution(ctx, store.Institution{ID: "ins_2", Name: "Birch Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: r.now}))
	cedar := r.link("cus_1", []string{"balances", "transactions"}, r.now.Add(time.Hour))
	birchLink := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: "ins_2", ConversationID: "cnv_birch",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: r.now, ExpiresAt: r.now.Add(time.Hour)}
	birch, err := r.st.CreateLink(ctx, birchLink, consent.GrantReceipt(birchLink, "digest"))
	r.must(err)
	r.post(cedar, "b1", "balance.updated", balanceData)
	r.post(cedar, "t1", "transaction.posted", transactionData)
	if _, err := r.in.PostCustomerMessage(ctx, "cus_1", cedar.ConversationID, ingest.CustomerMessage{Text: "is my card ok?"}); err != nil {
		t.Fatal(err)
	}
	raw := func(l store.Link, id, typ, data string) {
		res, err := r.in.Ingest(ctx, l.InstitutionID, []json.RawMessage{json.RawMessage(`{"id":"` + id + `","link_id":"` + l.ID + `","type":"` + typ + `","occurred_at":"` + r.now.Format(time.RFC3339) + `","data":` + data + `}`)})
		r.must(err)
		if res[0].Status != "accepted" {
			t.Fatalf("%s: %+v", id, res[0].Error)
		}
	}
	raw(birch, "bb1", "balance.updated", balanceData)
	subjectBefore, err := r.rec.Subject(ctx, "cus_1")
	r.must(err)

	type copyOf struct {
		owner, id string
		sealed    []byte
	}
	var cedarCopies, birchCopies []copyOf
	for _, l := range []store.Link{cedar, birch} {
		evs, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 100)
		for _, e := range evs {
			c := copyOf{vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, bytes.Clone(e.Sealed)}
			if _, err := r.kr.Open(ctx, c.owner, c.id, c.sealed); err != nil {
				t.Fatalf("before clearing, %s does not open: %v", e.Type, err)
			}
			if l.ID == cedar.ID {
				cedarCopies = append(cedarCopies, c)
			} else {
				birchCopies = append(birchCopies, c)
			}
		}
	}
	ns, _ := r.st.Notices(ctx, "ins_1")
	for _, n := range ns {
		if n.Sealed != nil {
			cedarCopies = append(cedarCopies, copyOf{vault.ConversationKey(n.CustomerID, n.InstitutionID), n.ID, bytes.Clone(n.Sealed)})
		}
	}
	if len(cedarCopies) < 4 || len(birchCopies) != 1 {
		t.Fatalf("copies: %d of Cedar, %d of Birch", len(cedarCopies), len(birchCopies))
	}
	receiptsBefore, _ := r.st.Receipts(ctx, "cus_1")

	cleared, err := r.svc.ClearHistory(ctx, "cus_1", "ins_1")
	r.must(err)
	if len(cleared) != 1 || cleared[0].Deleted != 3 {
		t.Fatalf("cleared %+v", cleared)
	}
	evs, _ := r.st.EventsAfter(ctx, cedar.ConversationID, 0, 100)
	if len(evs) != 1 || evs[0].Type != store.TypeHistoryCleared {
		t.Fatalf("Cedar's conversation after clearing: %+v", evs)
	}
	if plain, err := r.kr.Open(ctx, vault.ConversationKey("cus_1", "ins_1"), evs[0].ID, evs[0].Sealed); err != nil || !bytes.Contains(plain, []byte(`"everything":false`)) {
		t.Fatalf("the marker: %s %v", plain, err)
	}
	fresh, _ := vault.New(bytes.Repeat([]byte{5}, 32), r.st) // another node, or a restart
	if _, err := r.bus.SubscribeKeysDestroyed(fresh.Forget); err != nil {
		t.Fatal(err)
	}
	r.must(r.bus.Flush())
	for _, c := range cedarCopies {
		for _, kr := range []*vault.Keyring{r.kr, fresh} {
			if plain, err := kr.Open(ctx, c.owner, c.id, c.sealed); err == nil {
				t.Fatalf("a copy of cleared data still opens: %s", plain)
			}
		}
	}
	for _, c := range birchCopies {
		if _, err := fresh.Open(ctx, c.owner, c.id, c.sealed); err != nil {
			t.Fatalf("clearing Cedar broke Birch's history: %v", err)
		}
	}
	if ns, _ := r.st.Notices(ctx, "ins_1"); len(ns) == 0 {
		t.Fatal("the link notices went with the history")
	}
	if rs, _ := r.st.Receipts(ctx, "cus_1"); len(rs) != len(receiptsBefore) {
		t.Fatalf("receipts %d → %d", len(receiptsBefore), len(rs))
	}
	// The bank can post again, sealed under the new key.
	r.post(cedar, "b2", "balance.updated", balanceData)

	// Everything.
	cleared, err = r.svc.ClearHistory(ctx, "cus_1", "")
	r.must(err)
	if len(cleared) != 2 {
		t.Fatalf("cleared everything: %+v", cleared)
	}
	// The other node held Birch's key in memory; the bus tells it the key
	// is gone.
	for _, c := range birchCopies {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := fresh.Open(ctx, c.owner, c.id, c.sealed); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a copy of Birch's history still opens on another node after clearing everything")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if subjectAfter, _ := r.rec.Subject(ctx, "cus_1"); subjectAfter == subjectBefore {
		t.Fatal("the access-log pseudonym still leads to the customer")
	}
	if _, err := r.svc.ClearHistory(ctx, "cus_1", "ins_9"); err == nil {
		t.Fatal("cleared a bank the customer never connected")
	}
}

// TestNoticeOnAReplacedKeyIsSealedAgain: this node still holds the
// conversation's old data key when another node clears the history; then
// the customer disconnects here. The store refuses the notice sealed under
// the old key, this node seals it again under the new one, and the notice
// opens: nothing is kept that could never be read.
func TestNoticeOnAReplacedKeyIsSealedAgain(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_1")
	l := r.link("cus_1", []string{"balances"}, r.now.Add(time.Hour))
	r.post(l, "b1", "balance.updated", balanceData) // this node now holds the key
	otherKeys, err := vault.New(bytes.Repeat([]byte{5}, 32), r.st)
	r.must(err)
	other := consent.New(consent.Config{Store: r.st, Keyring: otherKeys, Bus: r.bus, Now: func() time.Time { return r.now }})
	if _, err := other.ClearHistory(ctx, "cus_1", "ins_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Revoke(ctx, store.Revocation{LinkID: l.ID, CustomerID: "cus_1"}); err != nil {
		t.Fatal(err)
	}
	evs, err := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
	r.must(err)
	last := evs[len(evs)-1]
	fresh, err := vault.New(bytes.Repeat([]byte{5}, 32), r.st)
	r.must(err)
	if last.Type != store.TypeLinkRevoked {
		t.Fatalf("the last event is %s", last.Type)
	}
	if _, err := fresh.Open(ctx, vault.ConversationKey("cus_1", "ins_1"), last.ID, last.Sealed); err != nil {
		t.Fatalf("the revocation notice does not open: %v", err)
	}
}
