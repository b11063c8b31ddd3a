// Package storetest is the conformance suite every store.Store must pass.
// The sqlite and postgres packages run it against a real database each.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Clocked is implemented by stores whose notion of now can be set.
type Clocked interface {
	SetClock(now func() time.Time)
}

// Open returns a fresh, empty store for one test; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Institutions", testInstitutions},
		{"APIKeyRotation", testAPIKeyRotation},
		{"Customers", testCustomers},
		{"CustomerLanguage", testCustomerLanguage},
		{"Sessions", testSessions},
		{"PasswordResets", testPasswordResets},
		{"Reauth", testReauth},
		{"TOTP", testTOTP},
		{"Passkeys", testPasskeys},
		{"PasskeyCeremonies", testPasskeyCeremonies},
		{"PasskeySessions", testPasskeySessions},
		{"Brands", testBrands},
		{"DataKeys", testDataKeys},
		{"LinkAttempts", testLinkAttempts},
		{"LinksAndConversations", testLinksAndConversations},
		{"ConversationHeads", testConversationHeads},
		{"AppendSequence", testAppendSequence},
		{"WriterStat", testWriterStat},
		{"AppendIdempotency", testAppendIdempotency},
		{"AppendConsent", testAppendConsent},
		{"AppendPendingReplaced", testAppendPendingReplaced},
		{"AppendConcurrentGapless", testAppendConcurrentGapless},
		{"AppendCallersApart", testAppendCallersApart},
		{"CloseAnswersEveryWrite", testCloseAnswersEveryWrite},
		{"RevokeThenAppend", testRevokeThenAppend},
		{"RevokeDeletesAndMarks", testRevokeDeletesAndMarks},
		{"ExpireAndRenew", testExpireAndRenew},
		{"RenewalReminders", testRenewalReminders},
		{"Delegations", testDelegations},
		{"AccessLog", testAccessLog},
		{"ClearHistory", testClearHistory},
		{"ConversationOwner", testConversationOwner},
		{"Staff", testStaff},
		{"ConsoleWork", testConsoleWork},
		{"OutboxDelivery", testOutboxDelivery},
		{"EventNotices", testEventNotices},
		{"NoticeLeasedAtCommit", testNoticeLeasedAtCommit},
		{"LatestEvents", testLatestEvents},
		{"ConversationEvent", testConversationEvent},
		{"OnCommit", testOnCommit},
		{"NarrowLink", testNarrowLink},
		{"SearchConversations", testSearchConversations},
		{"AvailableAgents", testAvailableAgents},
		{"Presence", testPresence},
		{"Labels", testLabels},
		{"HandedOverActivity", testHandedOverActivity},
		{"AgentMessageTimes", testAgentMessageTimes},
		{"RootKeyRotation", testRootKeyRotation},
		{"PlatformSecrets", testPlatformSecrets},
		{"WebhookSecrets", testWebhookSecrets},
		{"MenuAndEndpointFormat", testMenuAndEndpointFormat},
		{"Ping", testPing},
		{"PushSubscriptions", testPushSubscriptions},
		{"CustomerOwnership", testCustomerOwnership},
		{"Payments", testPayments},
		{"DisplayNames", testDisplayNames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				s.Close()
				// A closed store cannot serve, and health checks must hear so.
				if err := s.Ping(context.Background()); err == nil {
					t.Error("Ping after Close reports that the store can serve")
				}
			})
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	inst, other store.Institution
	cust        store.Customer
	link        store.Link
}

func setup(t *testing.T, s store.Store, scopes ...string) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{
		inst:  store.Institution{ID: "ins_a", Name: "Alpha Bank", Kind: store.InstitutionBank, AuthorizeURL: "https://a.example/authorize", TokenURL: "https://a.example/token", ClientID: "ot", CreatedAt: t0},
		other: store.Institution{ID: "ins_b", Name: "Beta Bank", Kind: store.InstitutionBank, AuthorizeURL: "https://b.example/authorize", TokenURL: "https://b.example/token", ClientID: "ot", CreatedAt: t0},
		cust:  store.Customer{ID: "cus_1", Email: "ana@example.com", PasswordHash: "$argon2id$x", CreatedAt: t0},
	}
	must(t, s.CreateInstitution(ctx, f.inst))
	must(t, s.CreateInstitution(ctx, f.other))
	must(t, s.CreateCustomer(ctx, f.cust))
	if len(scopes) == 0 {
		scopes = []string{"balances", "transactions"}
	}
	var err error
	f.link, err = s.CreateLink(ctx, store.Link{ID: "lnk_1", CustomerID: f.cust.ID, InstitutionID: f.inst.ID, ConversationID: "cnv_1",
		Scopes: scopes, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(90 * 24 * time.Hour)}, grant())
	must(t, err)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func event(f fixture, bankID, typ, scope string, body string) store.NewEvent {
	return store.NewEvent{
		Event: store.Event{ID: "rec_" + bankID, InstitutionID: f.inst.ID, LinkID: f.link.ID, BankEventID: bankID, Type: typ,
			Author: store.AuthorInstitution, OccurredAt: t0, ReceivedAt: t0, Sealed: []byte("sealed:" + body)},
		Scope:       scope,
		Fingerprint: []byte("fp:" + body),
	}
}

func testInstitutions(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	got, err := s.Institution(ctx, f.inst.ID)
	must(t, err)
	if got != f.inst {
		t.Fatalf("got %+v, want %+v", got, f.inst)
	}
	if err := s.CreateInstitution(ctx, f.inst); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate institution: err = %v", err)
	}
	all, err := s.Institutions(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Name != "Alpha Bank" || all[1].Name != "Beta Bank" {
		t.Fatalf("institutions = %+v", all)
	}
	if _, err := s.Institution(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing institution: err = %v", err)
	}
	must(t, s.SetInstitutionEndpoints(ctx, f.inst.ID, "https://a.example/v2/authorize", "https://a.example/v2/token"))
	got, _ = s.Institution(ctx, f.inst.ID)
	if got.AuthorizeURL != "https://a.example/v2/authorize" || got.TokenURL != "https://a.example/v2/token" {
		t.Fatalf("endpoints not moved: %+v", got)
	}
	if err := s.SetInstitutionEndpoints(ctx, "nope", "x", "y"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("moving a missing institution: %v", err)
	}
}

func testAPIKeyRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	k1 := store.APIKey{ID: "key1", InstitutionID: f.inst.ID, Hash: []byte("h1"), CreatedAt: t0}
	must(t, s.RotateAPIKey(ctx, k1, time.Time{}))
	got, err := s.APIKey(ctx, "key1")
	must(t, err)
	if !got.ExpiresAt.IsZero() || !bytes.Equal(got.Hash, []byte("h1")) || got.InstitutionID != f.inst.ID {
		t.Fatalf("key1 = %+v", got)
	}
	grace := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	must(t, s.RotateAPIKey(ctx, store.APIKey{ID: "key2", InstitutionID: f.inst.ID, Hash: []byte("h2"), CreatedAt: t0}, grace))
	got, err = s.APIKey(ctx, "key1")
	must(t, err)
	if !got.ExpiresAt.Equal(grace) {
		t.Fatalf("old key expires %v, want %v", got.ExpiresAt, grace)
	}
	got2, err := s.APIKey(ctx, "key2")
	must(t, err)
	if !got2.ExpiresAt.IsZero() {
		t.Fatalf("new key expires %v", got2.ExpiresAt)
	}
	// Rotating with no grace expires the others at once.
	must(t, s.RotateAPIKey(ctx, store.APIKey{ID: "key3", InstitutionID: f.inst.ID, Hash: []byte("h3"), CreatedAt: t0}, time.Time{}))
	got2, _ = s.APIKey(ctx, "key2")
	if got2.ExpiresAt.IsZero() || got2.ExpiresAt.After(time.Now()) {
		t.Fatalf("key2 still valid after rotation without grace: %v", got2.ExpiresAt)
	}
	if _, err := s.APIKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing key: err = %v", err)
	}
}

func testCustomers(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	got, err := s.CustomerByEmail(ctx, f.cust.Email)
	must(t, err)
	if got != f.cust {
		t.Fatalf("got %+v", got)
	}
	got, err = s.Customer(ctx, f.cust.ID)
	must(t, err)
	if got != f.cust {
		t.Fatalf("got %+v", got)
	}
	dup := f.cust
	dup.ID = "cus_2"
	if err := s.CreateCustomer(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Fatalf("email taken: err = %v", err)
	}
	if _, err := s.CustomerByEmail(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: err = %v", err)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	live := store.Session{IDHash: []byte("live"), CustomerID: f.cust.ID, CSRFToken: "tok", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateSession(ctx, live, f.cust.PasswordHash))
	must(t, s.CreateSession(ctx, store.Session{IDHash: []byte("old"), CustomerID: f.cust.ID, CSRFToken: "x", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}, f.cust.PasswordHash))
	// A sign-in that checked a password hash that is no longer the
	// customer's (it changed meanwhile) makes no session.
	if err := s.CreateSession(ctx, store.Session{IDHash: []byte("late"), CustomerID: f.cust.ID, CSRFToken: "z", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, "$argon2id$before"); !errors.Is(err, store.ErrPasswordChanged) {
		t.Fatalf("a session on a changed password: %v", err)
	}
	if _, err := s.Session(ctx, []byte("late")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused session was kept: %v", err)
	}
	got, err := s.Session(ctx, []byte("live"))
	must(t, err)
	if got.CustomerID != f.cust.ID || got.CSRFToken != "tok" || !got.ExpiresAt.Equal(live.ExpiresAt) {
		t.Fatalf("got %+v", got)
	}
	if _, err := s.Session(ctx, []byte("old")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: err = %v", err)
	}
	// Delivery's sweep asks about many at once: the live one lives; the
	// expired, the refused and the unknown do not.
	livesNow, err := s.LiveSessions(ctx, [][]byte{[]byte("live"), []byte("old"), []byte("late"), {0xff, 0x00, 0x10}}, now)
	must(t, err)
	if len(livesNow) != 1 || !livesNow["live"] {
		t.Fatalf("live sessions = %v, want only live", livesNow)
	}
	if later, _ := s.LiveSessions(ctx, [][]byte{[]byte("live")}, now.Add(2*time.Hour)); later["live"] {
		t.Fatal("a session counted live after its expiry")
	}
	if none, err := s.LiveSessions(ctx, nil, now); err != nil || len(none) != 0 {
		t.Fatalf("no sessions asked about: %v %v", none, err)
	}
	n, err := s.SweepExpired(ctx, now)
	must(t, err)
	if n != 1 {
		t.Fatalf("swept %d rows, want the one expired session", n)
	}
	if _, err := s.Session(ctx, []byte("live")); err != nil {
		t.Fatalf("the live session was swept: %v", err)
	}
	// A new password ends every session but the device's that set it.
	must(t, s.CreateSession(ctx, store.Session{IDHash: []byte("other"), CustomerID: f.cust.ID, CSRFToken: "y", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, f.cust.PasswordHash))
	must(t, s.SetPassword(ctx, f.cust.ID, "$argon2id$new", []byte("live")))
	if _, err := s.Session(ctx, []byte("other")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another device's session after a new password: %v", err)
	}
	if _, err := s.Session(ctx, []byte("live")); err != nil {
		t.Fatalf("the session that set the password: %v", err)
	}
	if c, _ := s.CustomerByEmail(ctx, f.cust.Email); c.PasswordHash != "$argon2id$new" {
		t.Fatalf("password hash = %q", c.PasswordHash)
	}
	if err := s.SetPassword(ctx, "cus_none", "x", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no such customer: %v", err)
	}
	must(t, s.DeleteSession(ctx, []byte("live")))
	if _, err := s.Session(ctx, []byte("live")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: err = %v", err)
	}
}

func testDataKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	if _, err := s.DataKey(ctx, f.cust.ID); !errors.Is(err, vault.ErrNoKey) {
		t.Fatalf("no key yet: err = %v", err)
	}
	k1 := vault.WrappedKey{CustomerID: f.cust.ID, Version: 1, RootKeyVersion: 1, Wrapped: []byte("first")}
	got, err := s.PutDataKey(ctx, k1)
	must(t, err)
	if !bytes.Equal(got.Wrapped, k1.Wrapped) {
		t.Fatalf("got %+v", got)
	}
	// A second writer loses and is told the winner.
	got, err = s.PutDataKey(ctx, vault.WrappedKey{CustomerID: f.cust.ID, Version: 1, RootKeyVersion: 1, Wrapped: []byte("second")})
	must(t, err)
	if !bytes.Equal(got.Wrapped, []byte("first")) {
		t.Fatalf("second put replaced the key: %q", got.Wrapped)
	}
	// Many owners' keys in one read: those that have one, whatever else
	// the list holds (unknown owners, repeats, more than one IN list).
	owners := []string{f.cust.ID, "cus_none", f.cust.ID}
	for i := range 600 {
		owners = append(owners, fmt.Sprintf("cus_absent_%d", i))
	}
	_, err = s.PutDataKey(ctx, vault.WrappedKey{CustomerID: "cus_1/ins_a", Version: 2, RootKeyVersion: 1, Wrapped: []byte("conversation")})
	must(t, err)
	owners = append(owners, "cus_1/ins_a")
	keys, err := s.DataKeys(ctx, owners)
	must(t, err)
	slices.SortFunc(keys, func(a, b vault.WrappedKey) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	if len(keys) != 2 || keys[0].CustomerID != f.cust.ID || !bytes.Equal(keys[0].Wrapped, []byte("first")) ||
		keys[1].CustomerID != "cus_1/ins_a" || keys[1].Version != 2 || keys[1].RootKeyVersion != 1 || !bytes.Equal(keys[1].Wrapped, []byte("conversation")) {
		t.Fatalf("keys of %d owners = %+v, want cus_1's and its conversation's", len(owners), keys)
	}
	if keys, err := s.DataKeys(ctx, []string{"cus_none"}); err != nil || len(keys) != 0 {
		t.Fatalf("keys of an owner with none = %+v, %v", keys, err)
	}
}

func testLinkAttempts(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	a := store.LinkAttempt{StateHash: []byte("state1"), CustomerID: f.cust.ID, InstitutionID: f.inst.ID, LinkID: "lnk_x",
		CodeVerifier: "verifier", Scopes: []string{"balances", "transactions"}, ExpiresAt: time.Now().Add(10 * time.Minute).Truncate(time.Microsecond)}
	must(t, s.CreateLinkAttempt(ctx, a))
	got, err := s.TakeLinkAttempt(ctx, a.StateHash)
	must(t, err)
	if got.LinkID != "lnk_x" || got.CodeVerifier != "verifier" || !slices.Equal(got.Scopes, a.Scopes) || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("got %+v", got)
	}
	if _, err := s.TakeLinkAttempt(ctx, a.StateHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: err = %v", err)
	}
	stale := a
	stale.StateHash, stale.ExpiresAt = []byte("state2"), time.Now().Add(-time.Second)
	must(t, s.CreateLinkAttempt(ctx, stale))
	if _, err := s.TakeLinkAttempt(ctx, stale.StateHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired attempt: err = %v", err)
	}
}

// testConversationHeads: delivery's sweep learns where each of its
// customers' conversations is, in one query for many customers.
func testConversationHeads(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	other := store.Customer{ID: "cus_2", Email: "bo@example.com", PasswordHash: "x", CreatedAt: t0}
	must(t, s.CreateCustomer(ctx, other))
	l2, err := s.CreateLink(ctx, store.Link{ID: "lnk_b", CustomerID: f.cust.ID, InstitutionID: f.other.ID, ConversationID: "cnv_b",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	_, err = s.AppendEvents(ctx, []store.NewEvent{event(f, "h1", "message", "", "one"), event(f, "h2", "message", "", "two")})
	must(t, err)
	heads, err := s.ConversationHeads(ctx, []string{f.cust.ID, other.ID, "cus_nobody"})
	must(t, err)
	got := map[string]int64{}
	for _, h := range heads {
		if h.CustomerID != f.cust.ID {
			t.Fatalf("a head of %s, who has no conversation: %+v", h.CustomerID, h)
		}
		got[h.ConversationID] = h.LastSeq
	}
	if len(got) != 2 || got[f.link.ConversationID] != 2 || got[l2.ConversationID] != 0 {
		t.Fatalf("heads = %v, want %s at 2 and %s at 0", got, f.link.ConversationID, l2.ConversationID)
	}
	if heads, err := s.ConversationHeads(ctx, nil); err != nil || len(heads) != 0 {
		t.Fatalf("no customers asked about: %v %v", heads, err)
	}
}

func testLinksAndConversations(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	if f.link.ConversationID != "cnv_1" {
		t.Fatalf("conversation = %q", f.link.ConversationID)
	}
	got, err := s.Link(ctx, f.link.ID)
	must(t, err)
	if got.CustomerID != f.cust.ID || got.Status != store.LinkActive || !slices.Equal(got.Scopes, []string{"balances", "transactions"}) {
		t.Fatalf("link = %+v", got)
	}
	byID, err := s.LinksByID(ctx, []string{"lnk_none", f.link.ID, f.link.ID})
	must(t, err)
	if len(byID) != 1 || byID[0].ID != f.link.ID || byID[0].CustomerID != f.cust.ID || byID[0].ConversationID != "cnv_1" ||
		!slices.Equal(byID[0].Scopes, got.Scopes) || !byID[0].ExpiresAt.Equal(got.ExpiresAt) {
		t.Fatalf("links by id = %+v, want %+v", byID, got)
	}
	// A second link to the same institution joins the same conversation.
	l2, err := s.CreateLink(ctx, store.Link{ID: "lnk_2", CustomerID: f.cust.ID, InstitutionID: f.inst.ID, ConversationID: "cnv_other",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now().Add(time.Second), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	if l2.ConversationID != "cnv_1" {
		t.Fatalf("second link's conversation = %q, want cnv_1", l2.ConversationID)
	}
	if _, err := s.CreateLink(ctx, l2, grant()); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate link id: err = %v", err)
	}
	all, err := s.Links(ctx, f.cust.ID)
	must(t, err)
	if len(all) != 2 || all[0].ID != "lnk_2" || all[1].ID != "lnk_1" {
		t.Fatalf("links = %+v", all)
	}
	convs, err := s.Conversations(ctx, f.cust.ID)
	must(t, err)
	if len(convs) != 1 || convs[0].InstitutionName != "Alpha Bank" || convs[0].Link.ID != "lnk_2" {
		t.Fatalf("conversations = %+v", convs)
	}
	cv, err := s.Conversation(ctx, "cnv_1")
	must(t, err)
	if cv.CustomerID != f.cust.ID || cv.LastSeq != 0 {
		t.Fatalf("conversation = %+v", cv)
	}
	if _, err := s.Link(ctx, "lnk_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing link: err = %v", err)
	}
}

func testAppendSequence(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	var evs []store.NewEvent
	for i := range 5 {
		evs = append(evs, event(f, fmt.Sprintf("e%d", i), "balance.updated", "balances", fmt.Sprint(i)))
	}
	res, err := s.AppendEvents(ctx, evs)
	must(t, err)
	for i, r := range res {
		if r.Err != nil || r.Seq != int64(i+1) || r.ConversationID != "cnv_1" || r.Duplicate {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	res, err = s.AppendEvents(ctx, []store.NewEvent{event(f, "e5", "message", "", "hi")})
	must(t, err)
	if res[0].Seq != 6 {
		t.Fatalf("next seq = %d, want 6", res[0].Seq)
	}
	got, err := s.EventsAfter(ctx, "cnv_1", 2, 3)
	must(t, err)
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("events after 2 = %+v", got)
	}
	e := got[0]
	if e.ID != "rec_e2" || e.BankEventID != "e2" || e.CustomerID != f.cust.ID || e.LinkID != f.link.ID || e.Type != "balance.updated" ||
		e.Author != store.AuthorInstitution || !e.OccurredAt.Equal(t0) || string(e.Sealed) != "sealed:2" {
		t.Fatalf("stored event = %+v", e)
	}
	cv, _ := s.Conversation(ctx, "cnv_1")
	if cv.LastSeq != 6 {
		t.Fatalf("last seq = %d", cv.LastSeq)
	}
	page, err := s.EventsBefore(ctx, "cnv_1", 5, 2)
	must(t, err)
	if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("events before 5 = %+v", page)
	}
	if page, _ = s.EventsBefore(ctx, "cnv_1", 1, 10); len(page) != 0 {
		t.Fatalf("events before 1 = %+v", page)
	}
}

// testWriterStat: the group-commit writer counts, for the operator, each
// group it committed, the writes in it, and the time it was busy with them,
// committing included.
func testWriterStat(t *testing.T, s store.Store) {
	w, ok := s.(interface{ WriterStat() store.WriterStat })
	if !ok {
		t.Fatalf("%T does not say how busy its writer is (WriterStat)", s)
	}
	ctx := context.Background()
	f := setup(t, s)
	before := w.WriterStat()
	for i := range 3 {
		_, err := s.AppendEvents(ctx, []store.NewEvent{event(f, fmt.Sprintf("w%d", i), "message", "", "hi")})
		must(t, err)
	}
	after := w.WriterStat()
	// One after another, each append is a group of its own.
	if groups, writes := after.Groups-before.Groups, after.Writes-before.Writes; groups != 3 || writes != 3 {
		t.Errorf("three appends in turn counted as %d groups of %d writes, want 3 of 3", groups, writes)
	}
	busy, commit := after.Busy-before.Busy, after.Commit-before.Commit
	if commit <= 0 || busy < commit {
		t.Errorf("busy %v, of which committing %v: want both counted, committing within busy", busy, commit)
	}
}

func testAppendIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	res, err := s.AppendEvents(ctx, []store.NewEvent{event(f, "e1", "message", "", "hello")})
	must(t, err)
	first := res[0].Seq
	res, err = s.AppendEvents(ctx, []store.NewEvent{
		event(f, "e1", "message", "", "hello"),   // same body: duplicate
		event(f, "e1", "message", "", "changed"), // same id, other body: conflict
		event(f, "e2", "message", "", "x"),
		event(f, "e2", "message", "", "x"), // repeated within the batch
	})
	must(t, err)
	if !res[0].Duplicate || res[0].Seq != first || res[0].Err != nil {
		t.Fatalf("duplicate = %+v", res[0])
	}
	if !errors.Is(res[1].Err, store.ErrIdempotencyConflict) {
		t.Fatalf("conflict = %+v", res[1])
	}
	if res[2].Seq != 2 || !res[3].Duplicate || res[3].Seq != 2 {
		t.Fatalf("in-batch repeat = %+v, %+v", res[2], res[3])
	}
	all, _ := s.EventsAfter(ctx, "cnv_1", 0, 100)
	if len(all) != 2 {
		t.Fatalf("stored %d events, want 2", len(all))
	}
	// Another institution may use the same bank event id.
	other, err := s.CreateLink(ctx, store.Link{ID: "lnk_b", CustomerID: f.cust.ID, InstitutionID: f.other.ID, ConversationID: "cnv_b",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	e := event(f, "e1", "message", "", "hello")
	e.InstitutionID, e.LinkID, e.ID = f.other.ID, other.ID, "rec_b1"
	res, err = s.AppendEvents(ctx, []store.NewEvent{e})
	must(t, err)
	if res[0].Err != nil || res[0].Duplicate || res[0].ConversationID != "cnv_b" || res[0].Seq != 1 {
		t.Fatalf("other institution's e1 = %+v", res[0])
	}
	// One batch with both institutions' e1 (stored) and both their e3 (new):
	// each id is looked up under its own institution.
	theirs := func(e store.NewEvent) store.NewEvent {
		e.InstitutionID, e.LinkID, e.ID = f.other.ID, other.ID, "rec_b_"+e.BankEventID
		return e
	}
	res, err = s.AppendEvents(ctx, []store.NewEvent{theirs(event(f, "e1", "message", "", "hello")), event(f, "e1", "message", "", "hello"),
		event(f, "e3", "message", "", "ours"), theirs(event(f, "e3", "message", "", "theirs"))})
	must(t, err)
	if !res[0].Duplicate || res[0].ConversationID != "cnv_b" || res[0].Seq != 1 || !res[1].Duplicate || res[1].ConversationID != "cnv_1" || res[1].Seq != first {
		t.Fatalf("both institutions' e1 again = %+v, %+v", res[0], res[1])
	}
	if res[2].Err != nil || res[2].Duplicate || res[2].ConversationID != "cnv_1" || res[2].Seq != 3 ||
		res[3].Err != nil || res[3].Duplicate || res[3].ConversationID != "cnv_b" || res[3].Seq != 2 {
		t.Fatalf("both institutions' new e3 = %+v, %+v", res[2], res[3])
	}

	// A bank that sends a large batch again, in another order and with one
	// new event, gets every stored one back as a duplicate at its seq.
	var batch []store.NewEvent
	for i := range 75 {
		batch = append(batch, event(f, fmt.Sprintf("replay-%d", i), "message", "", fmt.Sprintf("replayed %d", i)))
	}
	stored, err := s.AppendEvents(ctx, batch)
	must(t, err)
	seqs := map[string]int64{}
	for i, r := range stored {
		if r.Err != nil || r.Duplicate {
			t.Fatalf("replay-%d first time = %+v", i, r)
		}
		seqs[batch[i].BankEventID] = r.Seq
	}
	again := append([]store.NewEvent{event(f, "replay-new", "message", "", "new")}, batch...)
	slices.Reverse(again[1:])
	res, err = s.AppendEvents(ctx, again)
	must(t, err)
	if res[0].Err != nil || res[0].Duplicate || res[0].Seq != seqs["replay-0"]+75 {
		t.Fatalf("the new event in the replayed batch = %+v", res[0])
	}
	for i, r := range res[1:] {
		if id := again[1+i].BankEventID; r.Err != nil || !r.Duplicate || r.Seq != seqs[id] {
			t.Fatalf("%s again = %+v, stored at %d", id, r, seqs[id])
		}
	}

	// Batches whose sizes are whole multiples of the rows a store may
	// insert in one statement, each followed by one event: every one
	// continues where the last left off.
	next := res[0].Seq + 1
	for _, n := range []int{16, 32, 64, 128} {
		batch = batch[:0]
		for i := range n {
			batch = append(batch, event(f, fmt.Sprintf("run-%d-%d", n, i), "message", "", fmt.Sprintf("run %d %d", n, i)))
		}
		res, err = s.AppendEvents(ctx, batch)
		must(t, err)
		for i, r := range res {
			if r.Err != nil || r.Duplicate || r.Seq != next+int64(i) {
				t.Fatalf("batch of %d, event %d = %+v, want seq %d", n, i, r, next+int64(i))
			}
		}
		next += int64(n)
		res, err = s.AppendEvents(ctx, []store.NewEvent{event(f, fmt.Sprintf("run-%d-after", n), "message", "", "after")})
		must(t, err)
		if res[0].Err != nil || res[0].Seq != next {
			t.Fatalf("the event after a batch of %d = %+v, want seq %d", n, res[0], next)
		}
		next++
	}
}

func testAppendConsent(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "balances")
	clock := time.Now()
	s.(Clocked).SetClock(func() time.Time { return clock })

	foreign := event(f, "x1", "balance.updated", "balances", "a")
	foreign.InstitutionID = f.other.ID // the other bank posting to this bank's link
	unknown := event(f, "x2", "balance.updated", "balances", "b")
	unknown.LinkID = "lnk_missing"
	res, err := s.AppendEvents(ctx, []store.NewEvent{
		foreign,
		unknown,
		event(f, "x3", "transaction.posted", "transactions", "c"), // scope not granted
		event(f, "x4", "balance.updated", "balances", "d"),        // fine
	})
	must(t, err)
	want := []error{store.ErrUnknownLink, store.ErrUnknownLink, store.ErrConsentScope, nil}
	for i, w := range want {
		if !errors.Is(res[i].Err, w) && !(w == nil && res[i].Err == nil) {
			t.Errorf("event %d: err = %v, want %v", i, res[i].Err, w)
		}
	}
	if res[3].Seq != 1 {
		t.Fatalf("accepted event seq = %d, want 1 (refused ones take no seq)", res[3].Seq)
	}

	clock = f.link.ExpiresAt // the moment it expires
	res, err = s.AppendEvents(ctx, []store.NewEvent{event(f, "x5", "balance.updated", "balances", "e")})
	must(t, err)
	if !errors.Is(res[0].Err, store.ErrConsentExpired) {
		t.Fatalf("expired link: err = %v", res[0].Err)
	}

	clock = time.Now()
	_, err = s.RevokeLink(ctx, customerRevokes(f, clock))
	must(t, err)
	res, err = s.AppendEvents(ctx, []store.NewEvent{event(f, "x6", "balance.updated", "balances", "f")})
	must(t, err)
	if !errors.Is(res[0].Err, store.ErrConsentRevoked) {
		t.Fatalf("revoked link: err = %v", res[0].Err)
	}
	all, _ := s.EventsAfter(ctx, "cnv_1", 0, 100)
	if len(all) != 1 || all[0].Type != store.TypeLinkRevoked {
		t.Fatalf("stored %+v, want only the revocation marker (the accepted event was deleted with the link)", all)
	}
	missing := customerRevokes(f, clock)
	missing.LinkID = "lnk_missing"
	if _, err := s.RevokeLink(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke missing: err = %v", err)
	}
	l, _ := s.Link(ctx, f.link.ID)
	if l.Status != store.LinkRevoked || l.RevokedAt.IsZero() {
		t.Fatalf("link after revoke = %+v", l)
	}
}

func testAppendPendingReplaced(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	pending := event(f, "p1", "transaction.posted", "transactions", "pending")
	pending.PendingRef = []byte("ref-1")
	other := event(f, "p2", "transaction.posted", "transactions", "other pending")
	other.PendingRef = []byte("ref-2")
	res, err := s.AppendEvents(ctx, []store.NewEvent{pending, other})
	must(t, err)
	posted := event(f, "p3", "transaction.posted", "transactions", "posted")
	posted.ReplacesRef = []byte("ref-1")
	unmatched := event(f, "p4", "transaction.posted", "transactions", "posted, no pending")
	unmatched.ReplacesRef = []byte("ref-9")
	res, err = s.AppendEvents(ctx, []store.NewEvent{posted, unmatched})
	must(t, err)
	got, _ := s.EventsAfter(ctx, "cnv_1", res[0].Seq-1, 2)
	if got[0].ReplacesSeq != 1 || got[1].ReplacesSeq != 0 {
		t.Fatalf("replaces = %d, %d; want 1, 0", got[0].ReplacesSeq, got[1].ReplacesSeq)
	}
	if res[0].ReplacesSeq != 1 || res[1].ReplacesSeq != 0 {
		t.Fatalf("results say replaces = %d, %d; want 1, 0", res[0].ReplacesSeq, res[1].ReplacesSeq)
	}
	// Pending and posted in one batch.
	p2 := event(f, "p5", "transaction.posted", "transactions", "pending 2")
	p2.PendingRef = []byte("ref-5")
	q2 := event(f, "p6", "transaction.posted", "transactions", "posted 2")
	q2.ReplacesRef = []byte("ref-5")
	res, err = s.AppendEvents(ctx, []store.NewEvent{p2, q2})
	must(t, err)
	got, _ = s.EventsAfter(ctx, "cnv_1", res[1].Seq-1, 1)
	if got[0].ReplacesSeq != res[0].Seq {
		t.Fatalf("posted in the same batch replaces %d, want %d", got[0].ReplacesSeq, res[0].Seq)
	}
}

func testAppendConcurrentGapless(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res, err := s.AppendEvents(ctx, []store.NewEvent{event(f, fmt.Sprintf("w%d-%d", w, i), "message", "", "m")})
				if err == nil && res[0].Err != nil {
					err = res[0].Err
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.EventsAfter(ctx, "cnv_1", 0, 1000)
	must(t, err)
	if len(all) != writers*each {
		t.Fatalf("stored %d, want %d", len(all), writers*each)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: not gapless", e.Seq, i)
		}
	}
}

// testAppendCallersApart runs many callers' appends at once, as a store
// that commits them together would group them: each caller gets its own
// outcome, and one caller's failure (here a notice whose id is taken,
// which fails its whole write) stores nothing of theirs and fails no one
// else.
func testAppendCallersApart(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	taken := event(f, "taken", "message", "", "first")
	taken.Notice = &store.Notice{ID: "ntc_taken", Type: store.NoticeCustomerMessage, Payload: []byte(`{}`), CreatedAt: t0}
	_, err := s.AppendEvents(ctx, []store.NewEvent{taken})
	must(t, err)

	const callers = 24
	type outcome struct {
		res []store.AppendResult
		err error
	}
	out := make([]outcome, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			var evs []store.NewEvent
			switch i % 4 {
			case 0: // fine
				evs = []store.NewEvent{event(f, fmt.Sprintf("ok-%d", i), "message", "", "m"), event(f, fmt.Sprintf("ok2-%d", i), "message", "", "m")}
			case 1: // a link nobody has, beside a fine event
				bad := event(f, fmt.Sprintf("nolink-%d", i), "message", "", "m")
				bad.LinkID = "lnk_nobody"
				evs = []store.NewEvent{bad, event(f, fmt.Sprintf("fine-%d", i), "message", "", "m")}
			case 2: // the same bank id as another caller, other content
				evs = []store.NewEvent{event(f, "shared", "message", "", fmt.Sprintf("body %d", i))}
			case 3: // fails as a whole
				bad := event(f, fmt.Sprintf("dupnotice-%d", i), "message", "", "m")
				bad.Notice = &store.Notice{ID: "ntc_taken", Type: store.NoticeCustomerMessage, Payload: []byte(`{}`), CreatedAt: t0}
				evs = []store.NewEvent{bad}
			}
			<-start
			res, err := s.AppendEvents(ctx, evs)
			out[i] = outcome{res, err}
		})
	}
	close(start)
	wg.Wait()

	sharedWinners := 0
	for i, o := range out {
		switch i % 4 {
		case 0:
			if o.err != nil || len(o.res) != 2 || o.res[0].Err != nil || o.res[1].Err != nil || o.res[1].Seq != o.res[0].Seq+1 {
				t.Fatalf("caller %d (fine): %+v, %v", i, o.res, o.err)
			}
		case 1:
			if o.err != nil || len(o.res) != 2 || !errors.Is(o.res[0].Err, store.ErrUnknownLink) || o.res[1].Err != nil || o.res[1].Seq == 0 {
				t.Fatalf("caller %d (unknown link beside a fine event): %+v, %v", i, o.res, o.err)
			}
		case 2:
			if o.err != nil || len(o.res) != 1 {
				t.Fatalf("caller %d (shared id): %+v, %v", i, o.res, o.err)
			}
			switch r := o.res[0]; {
			case r.Err == nil && !r.Duplicate:
				sharedWinners++
			case errors.Is(r.Err, store.ErrIdempotencyConflict):
			default:
				t.Fatalf("caller %d (shared id, other content): %+v", i, r)
			}
		case 3:
			if o.err == nil {
				t.Fatalf("caller %d (taken notice id) succeeded: %+v", i, o.res)
			}
		}
	}
	if sharedWinners != 1 {
		t.Fatalf("%d callers stored the shared bank id; want exactly 1", sharedWinners)
	}
	all, err := s.EventsAfter(ctx, "cnv_1", 0, 1000)
	must(t, err)
	// The first event, 2 per fine caller, 1 per unknown-link caller, the
	// shared id once; nothing of the failed callers.
	if want := 1 + 2*callers/4 + callers/4 + 1; len(all) != want {
		t.Fatalf("stored %d events, want %d", len(all), want)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: not gapless", e.Seq, i)
		}
		if strings.HasPrefix(e.BankEventID, "dupnotice-") {
			t.Fatalf("an event of a failed append was stored: %s", e.BankEventID)
		}
	}
}

// testRevokeThenAppend races appends against a revocation: every append that
// started after RevokeLink returned must be refused.
func testRevokeThenAppend(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	revoked := make(chan struct{})
	started := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var late []store.AppendResult
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				after := false
				select {
				case <-revoked:
					after = true
				default:
				}
				res, err := s.AppendEvents(ctx, []store.NewEvent{event(f, fmt.Sprintf("r%d-%d", w, i), "message", "", "m")})
				if err != nil {
					t.Error(err)
					return
				}
				select {
				case started <- struct{}{}:
				default:
				}
				if after {
					mu.Lock()
					late = append(late, res[0])
					mu.Unlock()
					if i > 5 {
						return
					}
				}
			}
		}()
	}
	for range 8 { // revoke while appends are in full flow
		<-started
	}
	// A revocation must not starve behind a steady stream of appends.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := s.RevokeLink(rctx, customerRevokes(f, time.Now()))
	cancel()
	close(revoked)
	if err != nil {
		wg.Wait()
		t.Fatalf("revoke under load: %v", err)
	}
	wg.Wait()
	if len(late) == 0 {
		t.Fatal("no append ran after the revocation")
	}
	for _, r := range late {
		if !errors.Is(r.Err, store.ErrConsentRevoked) {
			t.Fatalf("append after revocation returned %+v", r)
		}
	}
}

// customerRevokes is the customer of f revoking f's link at at.
func customerRevokes(f fixture, at time.Time) store.Revocation {
	return store.Revocation{LinkID: f.link.ID, CustomerID: f.cust.ID, At: at,
		Marker: store.NewEvent{Event: store.Event{ID: "rec_revoked", Type: store.TypeLinkRevoked, Author: store.AuthorPlatform,
			OccurredAt: at, ReceivedAt: at, Sealed: []byte("sealed:revoked")}},
		Receipt: revokeReceipt(at)}
}

func revokeReceipt(at time.Time) store.Receipt {
	r := grant()
	r.Action, r.CollectedAt, r.ExpiresAt = store.ReceiptRevoke, at, at
	return r
}

// testRevokeDeletesAndMarks: revocation deletes the link's events (not
// another link's), appends the marker after the last seq, queues a notice
// for the bank when the customer revoked, and changes nothing the second
// time. Only the owner or the link's institution may revoke.
func testRevokeDeletesAndMarks(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	other, err := s.CreateLink(ctx, store.Link{ID: "lnk_2", CustomerID: f.cust.ID, InstitutionID: f.inst.ID, ConversationID: "cnv_x",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	keep := event(f, "k1", "balance.updated", "balances", "other link's")
	keep.LinkID = other.ID
	_, err = s.AppendEvents(ctx, []store.NewEvent{event(f, "d1", "balance.updated", "balances", "a"), keep, event(f, "d2", "message", "", "b")})
	must(t, err)

	stranger := customerRevokes(f, time.Now())
	stranger.CustomerID = "cus_someone_else"
	if _, err := s.RevokeLink(ctx, stranger); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another customer revoking: %v", err)
	}
	otherBank := customerRevokes(f, time.Now())
	otherBank.CustomerID, otherBank.InstitutionID = "", f.other.ID
	if _, err := s.RevokeLink(ctx, otherBank); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another institution revoking: %v", err)
	}

	at := time.Now().Truncate(time.Microsecond)
	got, err := s.RevokeLink(ctx, customerRevokes(f, at))
	must(t, err)
	if got.Deleted != 2 || got.Seq != 4 || got.Link.Status != store.LinkRevoked || !got.Link.RevokedAt.Equal(at) {
		t.Fatalf("revoked = %+v", got)
	}
	evs, _ := s.EventsAfter(ctx, "cnv_1", 0, 100)
	if len(evs) != 2 || evs[0].LinkID != other.ID || evs[1].Seq != 4 || evs[1].Type != store.TypeLinkRevoked || evs[1].Author != store.AuthorPlatform {
		t.Fatalf("after revoke the conversation holds %+v", evs)
	}
	cv, _ := s.Conversation(ctx, "cnv_1")
	if cv.LastSeq != 4 {
		t.Fatalf("last seq %d, want 4", cv.LastSeq)
	}
	// The next event continues after the marker: seqs are never reused.
	next := event(f, "n1", "balance.updated", "balances", "c")
	next.LinkID = other.ID
	res, err := s.AppendEvents(ctx, []store.NewEvent{next})
	must(t, err)
	if res[0].Seq != 5 {
		t.Fatalf("seq after revocation = %d, want 5", res[0].Seq)
	}

	notices, err := noticesOf(ctx, s, f.inst.ID, store.NoticeLinkRevoked)
	must(t, err)
	var payload map[string]string
	if len(notices) == 1 {
		json.Unmarshal(notices[0].Payload, &payload)
	}
	if len(notices) != 1 || notices[0].Type != store.NoticeLinkRevoked || notices[0].LinkID != f.link.ID ||
		payload["ended_by"] != "customer" || payload["link_id"] != f.link.ID {
		t.Fatalf("notices = %+v (payload %s)", notices, payload)
	}
	if _, err := s.RevokeLink(ctx, customerRevokes(f, time.Now())); !errors.Is(err, store.ErrAlreadyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	// Evidence stays after the data is gone: the grants and the one revocation.
	receipts, err := s.Receipts(ctx, f.cust.ID)
	must(t, err)
	var actions []string
	for _, r := range receipts {
		if r.CustomerID != f.cust.ID || r.InstitutionID != f.inst.ID {
			t.Fatalf("receipt %+v", r)
		}
		actions = append(actions, r.Action+":"+r.LinkID)
	}
	if !slices.Equal(actions, []string{"grant:lnk_1", "grant:lnk_2", "revoke:lnk_1"}) {
		t.Fatalf("receipts = %v", actions)
	}
	// Retention: only ended links' receipts older than the cutoff go.
	n, err := s.PurgeReceipts(ctx, time.Now().Add(-time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("purged %d receipts younger than the cutoff", n)
	}
	n, err = s.PurgeReceipts(ctx, time.Now().Add(time.Hour))
	must(t, err)
	if n != 2 { // lnk_1's grant and revocation; lnk_2 is live
		t.Fatalf("purged %d, want 2", n)
	}
	if rs, _ := s.Receipts(ctx, f.cust.ID); len(rs) != 1 || rs[0].LinkID != "lnk_2" {
		t.Fatalf("left %+v", rs)
	}
	noReceipt := customerRevokes(f, time.Now())
	noReceipt.LinkID, noReceipt.Receipt = other.ID, store.Receipt{}
	if _, err := s.RevokeLink(ctx, noReceipt); err == nil {
		t.Fatal("revoked without a receipt")
	}
	// The bank revoking tells nobody through its own outbox.
	bank := store.Revocation{LinkID: other.ID, InstitutionID: f.inst.ID, At: time.Now(),
		Marker:  store.NewEvent{Event: store.Event{ID: "rec_r2", Type: store.TypeLinkRevoked, Author: store.AuthorPlatform, OccurredAt: at, ReceivedAt: at, Sealed: []byte("x")}},
		Receipt: revokeReceipt(at)}
	_, err = s.RevokeLink(ctx, bank)
	must(t, err)
	if notices, _ = noticesOf(ctx, s, f.inst.ID, store.NoticeLinkRevoked); len(notices) != 1 {
		t.Fatalf("bank revocation queued a notice to itself: %+v", notices)
	}
}

// grant is a receipt for a link made in a test.
func grant() store.Receipt {
	b := make([]byte, 8)
	rand.Read(b)
	return store.Receipt{ID: fmt.Sprintf("rcp_%x", b), Action: store.ReceiptGrant, Scopes: []string{"balances"}, Purpose: "test",
		CollectedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Method: "test", DisclosureDigest: "d"}
}

// testExpireAndRenew: a link past its expiry is due; ending it by time
// deletes its events, leaves a marker, tells the bank, and cannot happen
// early or twice; the owner renews it (active again, never shorter) with a
// receipt; a revoked link cannot be renewed.
func testExpireAndRenew(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	_, err := s.AppendEvents(ctx, []store.NewEvent{event(f, "e1", "balance.updated", "balances", "a")})
	must(t, err)
	expiry := func(at time.Time) store.Revocation {
		r := customerRevokes(f, at)
		r.CustomerID, r.Expire = "", true
		r.Marker.Type = store.TypeLinkExpired
		return r
	}
	if due, err := s.DueLinks(ctx, time.Now(), 10); err != nil || len(due) != 0 {
		t.Fatalf("due before expiry: %v %v", due, err)
	}
	if _, err := s.RevokeLink(ctx, expiry(time.Now())); !errors.Is(err, store.ErrAlreadyRevoked) {
		t.Fatalf("expiring early: %v", err)
	}
	later := f.link.ExpiresAt.Add(time.Minute)
	due, err := s.DueLinks(ctx, later, 10)
	if err != nil || len(due) != 1 || due[0].ID != f.link.ID {
		t.Fatalf("due after expiry: %+v %v", due, err)
	}
	ended, err := s.RevokeLink(ctx, expiry(later))
	must(t, err)
	if ended.Link.Status != store.LinkExpired || ended.Deleted != 1 || ended.Seq != 2 {
		t.Fatalf("expired = %+v", ended)
	}
	if _, err := s.RevokeLink(ctx, expiry(later)); !errors.Is(err, store.ErrAlreadyRevoked) {
		t.Fatalf("expiring twice: %v", err)
	}
	if due, _ := s.DueLinks(ctx, later, 10); len(due) != 0 {
		t.Fatalf("still due: %+v", due)
	}
	notices, _ := noticesOf(ctx, s, f.inst.ID, store.NoticeLinkExpired)
	if len(notices) != 1 || notices[0].Type != store.NoticeLinkExpired {
		t.Fatalf("notices = %+v", notices)
	}

	renew := store.Renewal{LinkID: f.link.ID, CustomerID: f.cust.ID, At: later, ExpiresAt: later.Add(30 * 24 * time.Hour), Receipt: grant()}
	renew.Receipt.Action = store.ReceiptRenew
	stranger := renew
	stranger.CustomerID = "cus_other"
	if _, err := s.RenewLink(ctx, stranger); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a stranger renewing: %v", err)
	}
	l, err := s.RenewLink(ctx, renew)
	must(t, err)
	if l.Status != store.LinkActive || !l.ExpiresAt.Equal(renew.ExpiresAt.Truncate(time.Microsecond)) {
		t.Fatalf("renewed = %+v", l)
	}
	// Renewing for less never shortens.
	short := renew
	short.ExpiresAt, short.Receipt = later.Add(time.Hour), grant()
	l2, err := s.RenewLink(ctx, short)
	must(t, err)
	if !l2.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("renewal shortened the link: %v → %v", l.ExpiresAt, l2.ExpiresAt)
	}
	got, _ := s.Link(ctx, f.link.ID)
	if got.Status != store.LinkActive || !got.ExpiresAt.Equal(l.ExpiresAt) || !got.RevokedAt.IsZero() {
		t.Fatalf("stored after renewal: %+v", got)
	}
	_, err = s.RevokeLink(ctx, customerRevokes(f, later))
	must(t, err)
	if _, err := s.RenewLink(ctx, store.Renewal{LinkID: f.link.ID, CustomerID: f.cust.ID, At: later, ExpiresAt: later.Add(time.Hour), Receipt: grant()}); !errors.Is(err, store.ErrConsentRevoked) {
		t.Fatalf("renewing a revoked link: %v", err)
	}
}

// testRenewalReminders: a link within the reminder window is due once per
// term; reminding appends the notice at the next seq; renewal starts a new
// term that reminds again.
func testRenewalReminders(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s) // expires in 90 days
	marker := func() store.NewEvent {
		return store.NewEvent{Event: store.Event{ID: fmt.Sprintf("rec_%d", time.Now().UnixNano()), Type: store.TypeLinkExpiring, Author: store.AuthorPlatform,
			OccurredAt: time.Now(), ReceivedAt: time.Now(), Sealed: []byte("x")}}
	}
	window := 14 * 24 * time.Hour
	now := time.Now()
	if due, _ := s.DueReminders(ctx, now, now.Add(window), 10); len(due) != 0 {
		t.Fatalf("due 90 days out: %+v", due)
	}
	at := f.link.ExpiresAt.Add(-10 * 24 * time.Hour)
	due, err := s.DueReminders(ctx, at, at.Add(window), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due in the window: %+v %v", due, err)
	}
	seq, err := s.Remind(ctx, f.link.ID, at, marker())
	must(t, err)
	if seq != 1 {
		t.Fatalf("reminder seq %d", seq)
	}
	if _, err := s.Remind(ctx, f.link.ID, at, marker()); !errors.Is(err, store.ErrAlreadyRevoked) {
		t.Fatalf("second reminder: %v", err)
	}
	if due, _ := s.DueReminders(ctx, at, at.Add(window), 10); len(due) != 0 {
		t.Fatalf("still due after reminding: %+v", due)
	}
	r := grant()
	r.Action = store.ReceiptRenew
	l, err := s.RenewLink(ctx, store.Renewal{LinkID: f.link.ID, CustomerID: f.cust.ID, At: at, ExpiresAt: at.Add(90 * 24 * time.Hour), Receipt: r})
	must(t, err)
	later := l.ExpiresAt.Add(-time.Hour)
	if due, _ := s.DueReminders(ctx, later, later.Add(window), 10); len(due) != 1 {
		t.Fatalf("the new term is not reminded: %+v", due)
	}
}

// testDelegationsAndAccessLog: delegations are listed for their link and
// their delegate, revoked only by their owner, and recorded with a
// receipt; the access log keeps entries per subject, in order.
func testDelegations(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	must(t, s.CreateCustomer(ctx, store.Customer{ID: "cus_acct", Email: "acct@example.com", PasswordHash: "x", CreatedAt: t0}))
	now := time.Now().Truncate(time.Microsecond)
	d := store.Delegation{ID: "dlg_1", LinkID: f.link.ID, OwnerID: f.cust.ID, DelegateID: "cus_acct", Scopes: []string{"balances"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	r := grant()
	r.Action = store.ReceiptDelegate
	must(t, s.CreateDelegation(ctx, d, r))
	got, err := s.Delegation(ctx, "dlg_1")
	must(t, err)
	if got.DelegateID != "cus_acct" || !got.Live(now) || got.Live(now.Add(2*time.Hour)) || !slices.Equal(got.Scopes, []string{"balances"}) {
		t.Fatalf("delegation = %+v", got)
	}
	byLink, _ := s.Delegations(ctx, f.link.ID, "")
	byDelegate, _ := s.Delegations(ctx, "", "cus_acct")
	if len(byLink) != 1 || len(byDelegate) != 1 {
		t.Fatalf("listed %d by link, %d by delegate", len(byLink), len(byDelegate))
	}
	stop := func(id string) store.Receipt {
		return store.Receipt{ID: id, Action: store.ReceiptUndelegate, Purpose: "p", CollectedAt: now, ExpiresAt: now, Method: "m"}
	}
	if err := s.RevokeDelegation(ctx, "dlg_1", "cus_acct", now, stop("rcp_stop0")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the delegate revoking: %v", err)
	}
	must(t, s.RevokeDelegation(ctx, "dlg_1", f.cust.ID, now, stop("rcp_stop1")))
	if got, _ := s.Delegation(ctx, "dlg_1"); got.Live(now) {
		t.Fatalf("live after revocation: %+v", got)
	}
	// Stopping it again changes nothing and keeps no second receipt.
	if err := s.RevokeDelegation(ctx, "dlg_1", f.cust.ID, now, stop("rcp_stop2")); err != nil {
		t.Fatalf("stopping it twice: %v", err)
	}
	stops := 0
	rs, _ := s.Receipts(ctx, f.cust.ID)
	for _, r := range rs {
		if r.Action == store.ReceiptUndelegate {
			stops++
			if r.LinkID != f.link.ID || r.InstitutionID != f.inst.ID || !slices.Equal(r.Scopes, []string{"balances"}) {
				t.Fatalf("stop receipt = %+v", r)
			}
		}
	}
	if stops != 1 {
		t.Fatalf("%d receipts of stopping the delegation, want 1", stops)
	}
}

// testAccessLog: entries get gapless indexes from 0, also when appended
// concurrently; they are listed by subject and by range, exactly as
// written; checkpoints are kept once per size.
func testAccessLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n, err := s.LogSize(ctx); err != nil || n != 0 {
		t.Fatalf("empty log size %d %v", n, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			who := []string{"subj_a", "subj_b"}[i%2]
			data := []byte(fmt.Sprintf(`{"n":%d}`, i))
			_, err := s.AppendLogEntry(ctx, store.LogEntry{Subject: who, Data: data, LeafHash: sha256.Sum256(data)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	n, err := s.LogSize(ctx)
	must(t, err)
	all, err := s.LogRange(ctx, 0, n)
	must(t, err)
	if n != 20 || len(all) != 20 {
		t.Fatalf("size %d, %d entries", n, len(all))
	}
	for i, e := range all {
		if e.Index != uint64(i) || e.LeafHash != sha256.Sum256(e.Data) {
			t.Fatalf("entry %d = %+v", i, e)
		}
	}
	leaves, err := s.LeafHashes(ctx, 3, 7)
	must(t, err)
	if len(leaves) != 4 || leaves[0] != all[3].LeafHash || leaves[3] != all[6].LeafHash {
		t.Fatalf("leaf hashes 3–7 = %d", len(leaves))
	}
	// Kept subtrees: level 0 is the entries' leaves; levels above are kept
	// all or none, the first write of one wins, and the cover follows level 1.
	cover, kept, err := s.LogNodesCover(ctx)
	must(t, err)
	if cover != 0 || kept != 0 {
		t.Fatalf("cover before any node: %d, %d kept", cover, kept)
	}
	h := func(b byte) [32]byte { return [32]byte{b, b} }
	must(t, s.PutLogNodes(ctx, []store.LogNode{
		{LogNodeID: store.LogNodeID{Level: 1, Index: 0}, Hash: h(1)},
		{LogNodeID: store.LogNodeID{Level: 1, Index: 1}, Hash: h(2)},
		{LogNodeID: store.LogNodeID{Level: 2, Index: 0}, Hash: h(3)},
	}))
	// The same again changes nothing; another hash for a kept one is
	// refused, and so is a leaf, each with nothing of its batch kept.
	must(t, s.PutLogNodes(ctx, []store.LogNode{{LogNodeID: store.LogNodeID{Level: 1, Index: 1}, Hash: h(2)}}))
	for _, bad := range [][]store.LogNode{
		{{LogNodeID: store.LogNodeID{Level: 1, Index: 2}, Hash: h(4)}, {LogNodeID: store.LogNodeID{Level: 1, Index: 1}, Hash: h(9)}},
		{{LogNodeID: store.LogNodeID{Level: 1, Index: 2}, Hash: h(4)}, {LogNodeID: store.LogNodeID{Level: 0, Index: 5}, Hash: h(5)}},
	} {
		err := s.PutLogNodes(ctx, bad)
		if err == nil || (bad[1].Level == 1 && !errors.Is(err, store.ErrCorrupt)) {
			t.Fatalf("kept %+v: %v", bad[1], err)
		}
	}
	cover, kept, err = s.LogNodesCover(ctx)
	must(t, err)
	if cover != 4 || kept != 3 {
		t.Fatalf("after refused batches: cover %d, %d kept; want 4 and 3 (level 1 index 2 must not be kept)", cover, kept)
	}
	nodes, err := s.LogNodes(ctx, []store.LogNodeID{{Level: 2, Index: 0}, {Level: 0, Index: 19}, {Level: 1, Index: 1}, {Level: 0, Index: 0}})
	must(t, err)
	if nodes[0] != h(3) || nodes[1] != all[19].LeafHash || nodes[2] != h(2) || nodes[3] != all[0].LeafHash {
		t.Fatalf("log nodes in the order asked: %x", nodes)
	}
	for _, missing := range []store.LogNodeID{{Level: 0, Index: 20}, {Level: 3, Index: 0}} {
		if _, err := s.LogNodes(ctx, []store.LogNodeID{{Level: 1, Index: 0}, missing}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("log node %+v, not kept: %v", missing, err)
		}
	}
	a, err := s.LogEntries(ctx, "subj_a")
	must(t, err)
	if len(a) != 10 || a[0].Subject != "subj_a" || a[0].Index > a[1].Index {
		t.Fatalf("subj_a entries = %+v", a)
	}
	must(t, s.PutCheckpoint(ctx, store.StoredCheckpoint{Size: 20, Note: "first", CreatedAt: t0}))
	must(t, s.PutCheckpoint(ctx, store.StoredCheckpoint{Size: 20, Note: "second", CreatedAt: t0}))
	must(t, s.PutCheckpoint(ctx, store.StoredCheckpoint{Size: 5, Note: "small", CreatedAt: t0}))
	cs, err := s.Checkpoints(ctx)
	must(t, err)
	if len(cs) != 2 || cs[0].Size != 5 || cs[1].Note != "first" || !cs[1].CreatedAt.Equal(t0) {
		t.Fatalf("checkpoints = %+v", cs)
	}
}

// testOutboxDelivery: notices are claimed oldest first, one per link at a
// time, never by two claimers at once; settling records the outcome; a
// notice waits for its next attempt time. Endpoints are put, replaced and
// disabled.
func testOutboxDelivery(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	ep := store.WebhookEndpoint{InstitutionID: f.inst.ID, URL: "https://bank.example/hooks", Secret: []byte("sealed1"), CreatedAt: now}
	must(t, s.PutWebhookEndpoint(ctx, ep))
	must(t, s.DisableWebhookEndpoint(ctx, f.inst.ID, "410 Gone", now))
	got, err := s.WebhookEndpoint(ctx, f.inst.ID)
	must(t, err)
	if got.URL != ep.URL || string(got.Secret) != "sealed1" || got.DisabledAt.IsZero() || got.DisabledReason != "410 Gone" {
		t.Fatalf("endpoint = %+v", got)
	}
	ep.URL, ep.Secret, ep.PreviousSecret, ep.PreviousUntil = "https://bank.example/v2", []byte("sealed2"), []byte("sealed1"), now.Add(time.Hour)
	must(t, s.PutWebhookEndpoint(ctx, ep))
	if got, _ = s.WebhookEndpoint(ctx, f.inst.ID); got.URL != ep.URL || !got.DisabledAt.IsZero() || !got.PreviousUntil.Equal(ep.PreviousUntil) {
		t.Fatalf("replaced endpoint = %+v", got)
	}

	// Three notices: two for link A (in order), one for link B.
	other, err := s.CreateLink(ctx, store.Link{ID: "lnk_b2", CustomerID: f.cust.ID, InstitutionID: f.inst.ID, ConversationID: "cnv_1",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	// Link A ends by expiry (notice 1), is renewed, then revoked (notice 2,
	// later); link B is revoked (its only notice) in between.
	expired := customerRevokes(f, now)
	expired.CustomerID, expired.Expire, expired.At = "", true, f.link.ExpiresAt
	_, err = s.RevokeLink(ctx, expired)
	must(t, err)
	_, err = s.RevokeLink(ctx, customerRevokes(fixture{inst: f.inst, cust: f.cust, link: other}, f.link.ExpiresAt.Add(time.Millisecond)))
	must(t, err)
	r := grant()
	r.Action = store.ReceiptRenew
	_, err = s.RenewLink(ctx, store.Renewal{LinkID: f.link.ID, CustomerID: f.cust.ID, At: f.link.ExpiresAt, ExpiresAt: f.link.ExpiresAt.Add(time.Hour), Receipt: r})
	must(t, err)
	_, err = s.RevokeLink(ctx, customerRevokes(f, f.link.ExpiresAt.Add(time.Second)))
	must(t, err)

	// Each link's first notice is link.created: deliver those first.
	created, err := s.ClaimNotices(ctx, now.Add(2*time.Second), now.Add(time.Minute), 10)
	must(t, err)
	if len(created) != 2 || created[0].Type != store.NoticeLinkCreated || created[1].Type != store.NoticeLinkCreated {
		t.Fatalf("first claim = %+v, want the two link.created", created)
	}
	for _, n := range created {
		must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: n.ID, Attempts: 1, DeliveredAt: now, LeaseUntil: now.Add(time.Minute)}}))
	}
	claimed, err := s.ClaimNotices(ctx, now.Add(2*time.Second), now.Add(time.Minute), 10)
	must(t, err)
	if len(claimed) != 2 || claimed[0].LinkID != f.link.ID || claimed[1].LinkID != other.ID {
		t.Fatalf("first claim = %+v (want link A's first and link B's)", claimed)
	}
	if again, _ := s.ClaimNotices(ctx, now.Add(2*time.Second), now.Add(time.Minute), 10); len(again) != 0 {
		t.Fatalf("claimed twice while leased: %+v", again)
	}
	// A's first fails and waits; B's is delivered.
	must(t, s.SettleNotices(ctx, []store.Outcome{
		{NoticeID: claimed[0].ID, Attempts: 1, NextAt: now.Add(time.Hour), Error: "503", LeaseUntil: now.Add(time.Minute)},
		{NoticeID: claimed[1].ID, Attempts: 1, DeliveredAt: now, LeaseUntil: now.Add(time.Minute)},
	}))
	if next, _ := s.ClaimNotices(ctx, now.Add(3*time.Second), now.Add(time.Minute), 10); len(next) != 0 {
		t.Fatalf("link A's second notice overtook its first: %+v", next)
	}
	later, err := s.ClaimNotices(ctx, now.Add(2*time.Hour), now.Add(3*time.Hour), 10)
	must(t, err)
	if len(later) != 1 || later[0].ID != claimed[0].ID || later[0].Attempts != 1 || later[0].LastError != "503" {
		t.Fatalf("retry claim = %+v", later)
	}
	// A deliverer whose lease ran out while it sent: another claims the
	// notice; the first one's late outcome changes nothing.
	lost := later[0]
	again, err := s.ClaimNotices(ctx, now.Add(3*time.Hour+time.Second), now.Add(4*time.Hour), 10)
	must(t, err)
	if len(again) != 1 || again[0].ID != lost.ID {
		t.Fatalf("after the lease ran out: %+v", again)
	}
	must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: lost.ID, Attempts: 2, DeliveredAt: now, LeaseUntil: now.Add(3 * time.Hour)}}))
	if still, _ := s.ClaimNotices(ctx, now.Add(3*time.Hour+2*time.Second), now.Add(5*time.Hour), 10); len(still) != 0 {
		t.Fatalf("the late outcome ended the new lease: %+v", still)
	}
	must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: later[0].ID, Attempts: 2, DeadAt: now.Add(2 * time.Hour), Error: "gave up", LeaseUntil: now.Add(4 * time.Hour)}}))
	if all, _ := s.Notices(ctx, f.inst.ID); !slices.ContainsFunc(all, func(n store.Notice) bool { return n.ID == lost.ID && !n.DeadAt.IsZero() && n.DeliveredAt.IsZero() }) {
		t.Fatal("the outcome under the live lease was not kept")
	}
	last, _ := s.ClaimNotices(ctx, now.Add(2*time.Hour), now.Add(3*time.Hour), 10)
	if len(last) != 1 || last[0].LinkID != f.link.ID || last[0].ID == claimed[0].ID {
		t.Fatalf("after the first died, link A's next = %+v", last)
	}
	all, _ := s.Notices(ctx, f.inst.ID)
	dead := 0
	for _, n := range all {
		if !n.DeadAt.IsZero() {
			dead++
		}
	}
	if len(all) != 5 || dead != 1 {
		t.Fatalf("notices = %+v", all)
	}
	// A dead notice can be given a fresh set of attempts, by its own
	// institution only.
	if err := s.Redeliver(ctx, f.other.ID, claimed[0].ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another institution redelivering: %v", err)
	}
	must(t, s.Redeliver(ctx, f.inst.ID, claimed[0].ID, now))
	if err := s.Redeliver(ctx, f.inst.ID, claimed[0].ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("redelivering a notice that is not dead: %v", err)
	}
}

// noticesOf lists the institution's notices of one type.
func noticesOf(ctx context.Context, s store.Store, institutionID, typ string) ([]store.Notice, error) {
	all, err := s.Notices(ctx, institutionID)
	var out []store.Notice
	for _, n := range all {
		if n.Type == typ {
			out = append(out, n)
		}
	}
	return out, err
}

// testEventNotices: a notice carried by an event is queued with it, sealed
// as given, only when the event is stored, and once.
func testEventNotices(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "balances", "fraud_alerts")
	answer := func(key, body string) store.NewEvent {
		e := event(f, key, "fraud.response", "fraud_alerts", body)
		e.Author, e.CustomerID, e.ID = store.AuthorCustomer, f.cust.ID, "rec_"+key+body
		e.Notice = &store.Notice{ID: "ntc_" + key + body, Type: store.NoticeFraudResponse, CustomerID: f.cust.ID,
			Sealed: []byte("sealed notice " + body), CreatedAt: t0}
		return e
	}
	res, err := s.AppendEvents(ctx, []store.NewEvent{answer("answer/a1", "deny")})
	must(t, err)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	// The same answer again is a duplicate; another answer to the same
	// alert conflicts. Neither queues anything.
	res, err = s.AppendEvents(ctx, []store.NewEvent{answer("answer/a1", "deny"), answer("answer/a1", "confirm")})
	must(t, err)
	if !res[0].Duplicate || !errors.Is(res[1].Err, store.ErrIdempotencyConflict) {
		t.Fatalf("answering again = %+v", res)
	}
	// An event the consent refuses queues nothing either.
	wrongScope := answer("answer/a2", "deny")
	wrongScope.Scope = "support_chat"
	res, err = s.AppendEvents(ctx, []store.NewEvent{wrongScope})
	must(t, err)
	if !errors.Is(res[0].Err, store.ErrConsentScope) {
		t.Fatalf("out of scope = %+v", res[0])
	}
	// A notice sealed for someone other than the link's customer is a bug
	// of the caller, and fails the whole call.
	stranger := answer("answer/a3", "deny")
	stranger.Notice.CustomerID = "cus_other"
	if _, err := s.AppendEvents(ctx, []store.NewEvent{stranger}); err == nil {
		t.Fatal("a notice sealed for another customer was accepted")
	}

	ns, err := noticesOf(ctx, s, f.inst.ID, store.NoticeFraudResponse)
	must(t, err)
	// Nothing is claimed for an institution without an endpoint.
	if claimed, _ := s.ClaimNotices(ctx, time.Now().Add(time.Second), time.Now().Add(time.Minute), 10); len(claimed) != 0 {
		t.Fatalf("claimed %d notices with no endpoint to send them to", len(claimed))
	}
	must(t, s.PutWebhookEndpoint(ctx, store.WebhookEndpoint{InstitutionID: f.inst.ID, URL: "https://bank.example/hooks", Secret: []byte("s"), CreatedAt: t0}))
	if len(ns) != 1 {
		t.Fatalf("fraud.response notices = %+v, want one", ns)
	}
	n := ns[0]
	if n.ID != "ntc_answer/a1deny" || n.LinkID != f.link.ID || n.InstitutionID != f.inst.ID || n.CustomerID != f.cust.ID ||
		string(n.Sealed) != "sealed notice deny" || n.Payload != nil {
		t.Fatalf("notice = %+v", n)
	}
	lease := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	claimed, err := s.ClaimNotices(ctx, time.Now().Add(time.Second), lease, 10)
	must(t, err)
	var got *store.Notice
	for i := range claimed {
		if claimed[i].ID == n.ID {
			got = &claimed[i]
		}
	}
	// link.created comes first on the link; settle it and claim again.
	if got == nil {
		for _, c := range claimed {
			must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: c.ID, Attempts: 1, DeliveredAt: time.Now(), LeaseUntil: lease}}))
		}
		lease = time.Now().Add(2 * time.Minute).Truncate(time.Microsecond)
		claimed, err = s.ClaimNotices(ctx, time.Now().Add(time.Second), lease, 10)
		must(t, err)
		if len(claimed) != 1 || claimed[0].ID != n.ID {
			t.Fatalf("claimed = %+v", claimed)
		}
		got = &claimed[0]
	}
	if string(got.Sealed) != "sealed notice deny" || got.CustomerID != f.cust.ID {
		t.Fatalf("claimed notice lost its seal: %+v", got)
	}
	must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: got.ID, Attempts: 1, DeliveredAt: time.Now(), LeaseUntil: lease}}))

	// Two notices of one instant on one link go out in the order they were
	// queued, whatever their ids.
	for _, key := range []string{"answer/z9", "answer/a1x"} {
		e := answer(key, "confirm")
		e.Notice.CreatedAt = t0.Add(time.Hour)
		res, err := s.AppendEvents(ctx, []store.NewEvent{e})
		must(t, err)
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
	}
	for _, want := range []string{"ntc_answer/z9confirm", "ntc_answer/a1xconfirm"} {
		lease := time.Now().Add(time.Minute)
		claimed, err := s.ClaimNotices(ctx, time.Now().Add(time.Second), lease, 10)
		must(t, err)
		if len(claimed) != 1 || claimed[0].ID != want {
			t.Fatalf("claimed %+v, want %s alone", claimed, want)
		}
		must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: want, Attempts: 1, DeliveredAt: time.Now(), LeaseUntil: lease}}))
	}
}

// testNoticeLeasedAtCommit: a notice that asks to be leased at commit is
// leased to the caller when it is its link's first pending one (no claim
// can take it until the lease ends), and waits its turn otherwise, so a
// link's notices still reach the bank in order.
func testNoticeLeasedAtCommit(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "balances", "fraud_alerts")
	must(t, s.PutWebhookEndpoint(ctx, store.WebhookEndpoint{InstitutionID: f.inst.ID, URL: "https://bank.example/hooks", Secret: []byte("sealed"), CreatedAt: t0}))
	now := time.Now().Truncate(time.Microsecond)
	lease := now.Add(time.Minute)
	// Deliver what linking queued (link.created): until then it is the
	// link's first pending notice.
	deliverAll := func() {
		t.Helper()
		until := now.Add(time.Second)
		ns, err := s.ClaimNotices(ctx, now, until, 10)
		must(t, err)
		var os []store.Outcome
		for _, n := range ns {
			os = append(os, store.Outcome{NoticeID: n.ID, Attempts: 1, DeliveredAt: now, LeaseUntil: until})
		}
		must(t, s.SettleNotices(ctx, os))
	}
	deliverAll()
	answer := func(key string) store.NewEvent {
		e := event(f, key, "fraud.response", "fraud_alerts", key)
		e.Author, e.CustomerID = store.AuthorCustomer, f.cust.ID
		e.Notice = &store.Notice{ID: "ntc_" + key, Type: store.NoticeFraudResponse, CustomerID: f.cust.ID,
			Sealed: []byte("sealed " + key), CreatedAt: now, LeaseUntil: lease}
		return e
	}
	// The first, and a second in the same batch: only the first may go.
	res, err := s.AppendEvents(ctx, []store.NewEvent{answer("answer/l1"), answer("answer/l2")})
	must(t, err)
	if res[0].Leased == nil || res[0].Leased.ID != "ntc_answer/l1" || !res[0].Leased.LeaseUntil.Equal(lease) || res[0].Leased.LinkID != f.link.ID {
		t.Fatalf("the link's first notice: %+v, leased %+v", res[0], res[0].Leased)
	}
	if res[1].Leased != nil {
		t.Fatalf("the second notice of the link was leased too: %+v", res[1].Leased)
	}
	// A claim now takes neither: the first is leased, the second waits
	// behind it.
	ns, err := s.ClaimNotices(ctx, now, now.Add(time.Minute), 10)
	must(t, err)
	if len(ns) != 0 {
		t.Fatalf("claimed %d notices while the first was leased", len(ns))
	}
	// A later append for the same link is not leased: one is pending.
	res, err = s.AppendEvents(ctx, []store.NewEvent{answer("answer/l3")})
	must(t, err)
	if res[0].Leased != nil {
		t.Fatal("a notice behind a pending one was leased")
	}
	// The first is delivered under its lease; then the second is the
	// link's head, and a claim takes it.
	must(t, s.SettleNotices(ctx, []store.Outcome{{NoticeID: "ntc_answer/l1", Attempts: 1, DeliveredAt: now, LeaseUntil: lease}}))
	ns, err = s.ClaimNotices(ctx, now, now.Add(time.Minute), 10)
	must(t, err)
	if len(ns) != 1 || ns[0].ID != "ntc_answer/l2" {
		t.Fatalf("after the first was delivered, claimed %+v", ns)
	}
	// A leased notice its sender never settled (the node died) is claimed
	// once its lease has passed.
	other, err := s.CreateLink(ctx, store.Link{ID: "lnk_2", CustomerID: f.cust.ID, InstitutionID: f.inst.ID, ConversationID: "cnv_2",
		Scopes: []string{"fraud_alerts"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	deliverAll() // lnk_2's link.created (l2 stays leased by the claim above)
	e := answer("answer/l4")
	e.LinkID = other.ID
	res, err = s.AppendEvents(ctx, []store.NewEvent{e})
	must(t, err)
	if res[0].Leased == nil {
		t.Fatal("another link's first notice was not leased")
	}
	if ns, _ := s.ClaimNotices(ctx, lease.Add(-time.Second), lease.Add(time.Hour), 10); len(ns) != 0 {
		t.Fatalf("claimed %d before the lease ended", len(ns))
	}
	ns, err = s.ClaimNotices(ctx, lease.Add(time.Second), lease.Add(time.Hour), 10)
	must(t, err)
	if !slices.ContainsFunc(ns, func(n store.Notice) bool { return n.ID == "ntc_answer/l4" }) {
		t.Fatalf("after the lease ended, claimed %+v", ns)
	}
}

func testLatestEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	var evs []store.NewEvent
	for i := range 5 {
		evs = append(evs, event(f, fmt.Sprintf("b%d", i), "balance.updated", "balances", fmt.Sprint(i)),
			event(f, fmt.Sprintf("t%d", i), "transaction.posted", "transactions", fmt.Sprint(i)))
	}
	_, err := s.AppendEvents(ctx, evs)
	must(t, err)
	got, err := s.LatestEvents(ctx, f.link.ConversationID, "balance.updated", 2)
	must(t, err)
	if len(got) != 2 || got[0].BankEventID != "b4" || got[1].BankEventID != "b3" || string(got[0].Sealed) != "sealed:4" {
		t.Fatalf("latest balances = %+v", got)
	}
	if none, err := s.LatestEvents(ctx, f.link.ConversationID, "receipt", 5); err != nil || len(none) != 0 {
		t.Fatalf("latest receipts = %+v, %v", none, err)
	}
}

// testConversationEvent: the conversation and one of its events read
// together are what Conversation and EventsAfter read apart; a seq the
// conversation does not have gives the conversation and the zero event,
// and a conversation that does not exist gives ErrNotFound.
func testConversationEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	evs := []store.NewEvent{event(f, "b1", "balance.updated", "balances", "1"), event(f, "t1", "transaction.posted", "transactions", "2")}
	evs[1].BankEventID = "" // a customer's event has none
	evs[0].OccurredAt = t0.Add(-time.Hour)
	// Another conversation has events at the same seqs.
	other := f
	var err error
	other.link, err = s.CreateLink(ctx, store.Link{ID: "lnk_2", CustomerID: f.cust.ID, InstitutionID: f.other.ID, ConversationID: "cnv_2",
		Scopes: []string{"balances", "transactions"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	other.inst = f.other
	evs = append(evs, event(other, "b9", "balance.updated", "balances", "9"), event(other, "b8", "balance.updated", "balances", "8"))
	_, err = s.AppendEvents(ctx, evs)
	must(t, err)
	for _, id := range []string{f.link.ConversationID, other.link.ConversationID} {
		want, err := s.Conversation(ctx, id)
		must(t, err)
		for seq := int64(1); seq <= 2; seq++ {
			c, e, err := s.ConversationEvent(ctx, id, seq)
			must(t, err)
			apart, err := s.EventsAfter(ctx, id, seq-1, 1)
			must(t, err)
			if !reflect.DeepEqual(c, want) || len(apart) != 1 || !reflect.DeepEqual(e, apart[0]) {
				t.Fatalf("%s at %d: read together %+v, %+v; apart %+v, %+v", id, seq, c, e, want, apart)
			}
		}
	}
	want, err := s.Conversation(ctx, f.link.ConversationID)
	must(t, err)
	for _, seq := range []int64{0, 3} {
		c, e, err := s.ConversationEvent(ctx, f.link.ConversationID, seq)
		if err != nil || !reflect.DeepEqual(c, want) || !reflect.DeepEqual(e, store.Event{}) {
			t.Fatalf("seq %d (none): %+v, %+v, %v", seq, c, e, err)
		}
	}
	if _, _, err := s.ConversationEvent(ctx, "cnv_missing", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing conversation: err = %v", err)
	}
}

// sealedV makes bytes that look sealed under data key version v.
func sealedV(v byte, body string) []byte {
	return append([]byte{1, 0, 0, 0, v}, body...)
}

// testClearHistory: clearing deletes the conversation's events and sealed
// notices, replaces its data key, keeps receipts and other notices, and
// leaves the marker after the last seq; an event sealed under the old key
// is refused afterwards; a stale key version or a missing conversation
// change nothing.
func testClearHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "balances", "fraud_alerts")
	owner := vault.ConversationKey(f.cust.ID, f.inst.ID)
	_, err := s.PutDataKey(ctx, vault.WrappedKey{CustomerID: owner, Version: 1, RootKeyVersion: 1, Wrapped: []byte("old key")})
	must(t, err)
	_, err = s.PutDataKey(ctx, vault.WrappedKey{CustomerID: f.cust.ID, Version: 1, RootKeyVersion: 1, Wrapped: []byte("customer key")})
	must(t, err)
	e1 := event(f, "b1", "balance.updated", "balances", "1")
	e1.Sealed = sealedV(1, "one")
	e2 := event(f, "a1", "fraud.response", "fraud_alerts", "2")
	e2.Sealed, e2.Author, e2.CustomerID = sealedV(1, "two"), store.AuthorCustomer, f.cust.ID
	e2.Notice = &store.Notice{ID: "ntc_sealed", Type: store.NoticeFraudResponse, CustomerID: f.cust.ID, Sealed: sealedV(1, "answer"), CreatedAt: t0}
	res, err := s.AppendEvents(ctx, []store.NewEvent{e1, e2})
	must(t, err)
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("append: %+v", res)
	}
	last := res[1].Seq

	marker := store.NewEvent{Event: store.Event{ID: "rec_cleared", Type: store.TypeHistoryCleared, Author: store.AuthorPlatform, OccurredAt: t0, ReceivedAt: t0, Sealed: sealedV(2, "cleared")}}
	clearing := store.Clearing{CustomerID: f.cust.ID, InstitutionID: f.inst.ID, At: t0, OldKeyVersion: 1,
		NewKey: vault.WrappedKey{CustomerID: owner, Version: 2, RootKeyVersion: 1, Wrapped: []byte("new key")}, Marker: marker, DropCustomerKey: true}
	stale := clearing
	stale.OldKeyVersion = 0
	if _, err := s.ClearHistory(ctx, stale); !errors.Is(err, store.ErrKeyChanged) {
		t.Fatalf("clearing with a stale key version: %v", err)
	}
	elsewhere := clearing
	elsewhere.InstitutionID, elsewhere.NewKey.CustomerID = f.other.ID, vault.ConversationKey(f.cust.ID, f.other.ID)
	elsewhere.OldKeyVersion, elsewhere.NewKey.Version = 0, 1
	if _, err := s.ClearHistory(ctx, elsewhere); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("clearing a conversation that does not exist: %v", err)
	}
	if evs, _ := s.EventsAfter(ctx, f.link.ConversationID, 0, 10); len(evs) != 2 {
		t.Fatalf("a refused clearing changed the events: %d left", len(evs))
	}

	must(t, s.AddLabel(ctx, store.Label{ConversationID: f.link.ConversationID, Label: "card dispute", StaffID: "stf_1", CreatedAt: t0}))
	cleared, err := s.ClearHistory(ctx, clearing)
	must(t, err)
	if cleared.Deleted != 2 || cleared.Seq != last+1 || cleared.ConversationID != f.link.ConversationID {
		t.Fatalf("cleared = %+v (last seq was %d)", cleared, last)
	}
	if ls, _ := s.ConversationLabels(ctx, f.inst.ID); len(ls) != 0 {
		t.Fatalf("labels survived the clearing: %v", ls)
	}
	evs, _ := s.EventsAfter(ctx, f.link.ConversationID, 0, 10)
	if len(evs) != 1 || evs[0].Type != store.TypeHistoryCleared || evs[0].Seq != last+1 || evs[0].LinkID != f.link.ID {
		t.Fatalf("after clearing: %+v", evs)
	}
	if k, err := s.DataKey(ctx, owner); err != nil || k.Version != 2 || string(k.Wrapped) != "new key" {
		t.Fatalf("conversation key after clearing: %+v %v", k, err)
	}
	if _, err := s.DataKey(ctx, f.cust.ID); !errors.Is(err, vault.ErrNoKey) {
		t.Fatalf("the customer's key was kept: %v", err)
	}
	ns, _ := s.Notices(ctx, f.inst.ID)
	for _, n := range ns {
		if n.Sealed != nil {
			t.Fatalf("a sealed notice survived: %+v", n)
		}
	}
	if len(ns) == 0 {
		t.Fatal("the link.created notice went too")
	}
	if rs, _ := s.Receipts(ctx, f.cust.ID); len(rs) == 0 {
		t.Fatal("the consent receipts went with the history")
	}

	// Sealed under the replaced key: refused. Under the new one: next seq.
	old := event(f, "b2", "balance.updated", "balances", "3")
	old.Sealed = sealedV(1, "three")
	fresh := event(f, "b3", "balance.updated", "balances", "4")
	fresh.Sealed = sealedV(2, "four")
	res, err = s.AppendEvents(ctx, []store.NewEvent{old, fresh})
	must(t, err)
	if !errors.Is(res[0].Err, store.ErrStaleKey) || res[1].Err != nil || res[1].Seq != cleared.Seq+1 {
		t.Fatalf("appends after clearing: %+v", res)
	}

	// Platform notices too: sealed under the replaced key, refused with
	// nothing changed; under the new one, kept.
	notice := func(v byte) store.NewEvent {
		return store.NewEvent{Event: store.Event{ID: fmt.Sprintf("rec_v%d", v), Type: store.TypeLinkExpiring, Author: store.AuthorPlatform,
			OccurredAt: t0, ReceivedAt: t0, Sealed: sealedV(v, "notice")}}
	}
	soon := f.link.ExpiresAt.Add(-24 * time.Hour)
	if _, err := s.Remind(ctx, f.link.ID, soon, notice(1)); !errors.Is(err, store.ErrStaleKey) {
		t.Fatalf("a reminder sealed under the replaced key: %v", err)
	}
	revoke := customerRevokes(f, t0.Add(time.Minute))
	revoke.Marker.Sealed = sealedV(1, "revoked")
	if _, err := s.RevokeLink(ctx, revoke); !errors.Is(err, store.ErrStaleKey) {
		t.Fatalf("a revocation notice sealed under the replaced key: %v", err)
	}
	if l, _ := s.Link(ctx, f.link.ID); l.Status != store.LinkActive {
		t.Fatalf("a refused revocation left the link %s", l.Status)
	}
	if seq, err := s.Remind(ctx, f.link.ID, soon, notice(2)); err != nil || seq != res[1].Seq+1 {
		t.Fatalf("a reminder under the new key: seq %d, %v", seq, err)
	}
}

// testConversationOwner: a conversation starts with the bot; SetOwner moves
// it only from the owner it names, with its notice, or not at all.
func testConversationOwner(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	c, err := s.Conversation(ctx, f.link.ConversationID)
	must(t, err)
	if c.Owner != "bot" || c.AgentID != "" {
		t.Fatalf("a new conversation is with %q/%q", c.Owner, c.AgentID)
	}
	n := store.Notice{ID: "ntc_h1", InstitutionID: f.inst.ID, LinkID: f.link.ID, Type: store.NoticeHandover, Payload: []byte(`{"to":"agent"}`), CreatedAt: t0}
	if err := s.SetOwner(ctx, c.ID, "queue", "", "agent", "stf_1", n); !errors.Is(err, store.ErrOwnerChanged) {
		t.Fatalf("moving from an owner it does not have: %v", err)
	}
	must(t, s.SetOwner(ctx, c.ID, "bot", "", "agent", "stf_1", n))
	if c, _ = s.Conversation(ctx, c.ID); c.Owner != "agent" || c.AgentID != "stf_1" {
		t.Fatalf("after the move: %q/%q", c.Owner, c.AgentID)
	}
	ns, _ := noticesOf(ctx, s, f.inst.ID, store.NoticeHandover)
	if len(ns) != 1 || ns[0].ID != "ntc_h1" {
		t.Fatalf("handover notices = %+v", ns)
	}
	n.ID = "ntc_h2"
	if err := s.SetOwner(ctx, c.ID, "agent", "stf_2", "bot", "", n); !errors.Is(err, store.ErrOwnerChanged) {
		t.Fatalf("another agent's hand-back: %v", err)
	}
	if ns, _ := noticesOf(ctx, s, f.inst.ID, store.NoticeHandover); len(ns) != 1 {
		t.Fatalf("a refused move queued a notice: %+v", ns)
	}
	// Each move is recorded for the supervisors' figures.
	hs, err := s.Handovers(ctx, f.inst.ID, t0.Add(-time.Hour))
	must(t, err)
	if len(hs) != 1 || hs[0].From != "bot" || hs[0].To != "agent" || hs[0].AgentID != "stf_1" || !hs[0].At.Equal(t0) {
		t.Fatalf("handovers = %+v", hs)
	}
	r := store.Rating{ConversationID: c.ID, RequestSeq: 7, InstitutionID: f.inst.ID, StaffID: "stf_1", Score: 4, CreatedAt: t0}
	must(t, s.AddRating(ctx, r))
	if err := s.AddRating(ctx, r); !errors.Is(err, store.ErrExists) {
		t.Fatalf("rating twice: %v", err)
	}
	if rs, _ := s.Ratings(ctx, f.inst.ID, t0.Add(-time.Hour)); len(rs) != 1 || rs[0].Score != 4 {
		t.Fatalf("ratings = %+v", rs)
	}
	if rs, _ := s.Ratings(ctx, f.other.ID, t0.Add(-time.Hour)); len(rs) != 0 {
		t.Fatalf("another bank's ratings = %+v", rs)
	}
}

// testStaff: a bank's people are created once per email; a disabled
// member's sessions end at once, and only their own institution can
// disable them; the queue lists only conversations handed to people.
func testStaff(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	m := store.Staff{ID: "stf_1", InstitutionID: f.inst.ID, Email: "ada@alpha.example", Name: "Ada", Role: store.RoleAgent, PasswordHash: "$argon2id$x", CreatedAt: t0}
	must(t, s.CreateStaff(ctx, m))
	dup := m
	dup.ID = "stf_2"
	if err := s.CreateStaff(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a second member with the same email: %v", err)
	}
	if got, err := s.StaffByEmail(ctx, m.Email); err != nil || got.ID != m.ID || got.Role != store.RoleAgent || !got.DisabledAt.IsZero() {
		t.Fatalf("by email: %+v %v", got, err)
	}
	se := store.StaffSession{IDHash: []byte("h1"), StaffID: m.ID, CSRFToken: "c", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	must(t, s.CreateStaffSession(ctx, se, m.PasswordHash))
	if err := s.CreateStaffSession(ctx, store.StaffSession{IDHash: []byte("late"), StaffID: m.ID, CSRFToken: "l", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, "$argon2id$before"); !errors.Is(err, store.ErrPasswordChanged) {
		t.Fatalf("a console session on a changed password: %v", err)
	}
	if got, err := s.StaffSession(ctx, se.IDHash); err != nil || got.StaffID != m.ID {
		t.Fatalf("session: %+v %v", got, err)
	}
	se2 := store.StaffSession{IDHash: []byte("h2"), StaffID: m.ID, CSRFToken: "d", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	must(t, s.CreateStaffSession(ctx, se2, m.PasswordHash))
	must(t, s.SetStaffPassword(ctx, m.ID, "$argon2id$new", se.IDHash))
	if _, err := s.StaffSession(ctx, se2.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another console's session after a new password: %v", err)
	}
	if got, err := s.StaffByEmail(ctx, m.Email); err != nil || got.PasswordHash != "$argon2id$new" {
		t.Fatalf("password hash = %q (%v)", got.PasswordHash, err)
	}
	if _, err := s.StaffSession(ctx, se.IDHash); err != nil {
		t.Fatalf("the console that set the password: %v", err)
	}
	if err := s.DisableStaff(ctx, f.other.ID, m.ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another institution disabling: %v", err)
	}
	must(t, s.DisableStaff(ctx, f.inst.ID, m.ID, t0))
	if _, err := s.StaffSession(ctx, se.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a disabled member's session lives on: %v", err)
	}
	if got, _ := s.Staff(ctx, m.ID); got.DisabledAt.IsZero() {
		t.Fatal("not marked disabled")
	}
	if q, err := s.HandedOver(ctx, f.inst.ID); err != nil || len(q) != 0 {
		t.Fatalf("queue with the bot owning everything: %+v %v", q, err)
	}
	must(t, s.SetOwner(ctx, f.link.ConversationID, "bot", "", "queue", "", store.Notice{ID: "ntc_q", InstitutionID: f.inst.ID, LinkID: f.link.ID, Type: store.NoticeHandover, Payload: []byte(`{}`), CreatedAt: t0}))
	if q, _ := s.HandedOver(ctx, f.inst.ID); len(q) != 1 || q[0].Owner != "queue" {
		t.Fatalf("queue = %+v", q)
	}
	if q, _ := s.HandedOver(ctx, f.other.ID); len(q) != 0 {
		t.Fatalf("another institution's queue = %+v", q)
	}
}

// testConsoleWork: status, snooze and priority are kept; notes stay with
// their conversation, sealed as given; canned responses are per
// institution.
func testConsoleWork(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	c, err := s.Conversation(ctx, f.link.ConversationID)
	must(t, err)
	if c.Status != store.StatusOpen || c.Priority != 0 || !c.SnoozedUntil.IsZero() {
		t.Fatalf("a new conversation: %q %d %v", c.Status, c.Priority, c.SnoozedUntil)
	}
	until := t0.Add(2 * time.Hour)
	must(t, s.SetWork(ctx, c.ID, store.StatusSnoozed, until, 2))
	if c, _ = s.Conversation(ctx, c.ID); c.Status != store.StatusSnoozed || c.Priority != 2 || !c.SnoozedUntil.Equal(until) {
		t.Fatalf("after SetWork: %q %d %v", c.Status, c.Priority, c.SnoozedUntil)
	}
	if err := s.SetWork(ctx, "cnv_none", store.StatusOpen, time.Time{}, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a conversation that does not exist: %v", err)
	}
	must(t, s.AddNote(ctx, store.Note{ID: "nte_2", ConversationID: c.ID, StaffID: "stf_1", Sealed: []byte("second"), CreatedAt: t0.Add(time.Minute)}))
	must(t, s.AddNote(ctx, store.Note{ID: "nte_1", ConversationID: c.ID, StaffID: "stf_1", Sealed: []byte("first"), CreatedAt: t0}))
	if ns, _ := s.Notes(ctx, c.ID); len(ns) != 2 || string(ns[0].Sealed) != "first" || ns[1].ID != "nte_2" {
		t.Fatalf("notes = %+v", ns)
	}
	must(t, s.AddCanned(ctx, store.Canned{ID: "cnd_b", InstitutionID: f.inst.ID, Title: "Card lost", Text: "We can block it now.", CreatedAt: t0}))
	must(t, s.AddCanned(ctx, store.Canned{ID: "cnd_a", InstitutionID: f.inst.ID, Title: "Address change", Text: "Open Settings.", CreatedAt: t0}))
	must(t, s.AddCanned(ctx, store.Canned{ID: "cnd_x", InstitutionID: f.other.ID, Title: "Other bank", Text: "x", CreatedAt: t0}))
	if cs, _ := s.CannedResponses(ctx, f.inst.ID); len(cs) != 2 || cs[0].Title != "Address change" {
		t.Fatalf("canned = %+v", cs)
	}
	if err := s.DeleteCanned(ctx, f.other.ID, "cnd_a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another institution deleting a canned response: %v", err)
	}
	must(t, s.DeleteCanned(ctx, f.inst.ID, "cnd_a"))
	if cs, _ := s.CannedResponses(ctx, f.inst.ID); len(cs) != 1 || cs[0].ID != "cnd_b" {
		t.Fatalf("canned after a deletion = %+v", cs)
	}
	if err := s.DeleteCanned(ctx, f.inst.ID, "cnd_a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting it again: %v", err)
	}
	// A note sealed under the conversation's key as it is, kept; under
	// another version, refused.
	owner := vault.ConversationKey(f.cust.ID, f.inst.ID)
	_, err = s.PutDataKey(ctx, vault.WrappedKey{CustomerID: owner, Version: 1, RootKeyVersion: 1, Wrapped: []byte("k")})
	must(t, err)
	must(t, s.AddNote(ctx, store.Note{ID: "nte_v1", ConversationID: c.ID, StaffID: "stf_1", Sealed: sealedV(1, "note"), CreatedAt: t0}))
	if err := s.AddNote(ctx, store.Note{ID: "nte_v2", ConversationID: c.ID, StaffID: "stf_1", Sealed: sealedV(2, "note"), CreatedAt: t0}); !errors.Is(err, store.ErrStaleKey) {
		t.Fatalf("a note under another key version: %v", err)
	}
	if ns, _ := s.Notes(ctx, c.ID); len(ns) != 3 {
		t.Fatalf("notes after a refused one: %d", len(ns))
	}
	// The customer asks for a person again: a snoozed, urgent conversation
	// from last time waits as a new one.
	must(t, s.SetOwner(ctx, c.ID, "bot", "", "queue", "", store.Notice{ID: "ntc_again", InstitutionID: f.inst.ID, LinkID: f.link.ID, Type: store.NoticeHandover, Payload: []byte(`{}`), CreatedAt: t0}))
	if c, _ = s.Conversation(ctx, c.ID); c.Owner != "queue" || c.Status != store.StatusOpen || c.Priority != 0 || !c.SnoozedUntil.IsZero() {
		t.Fatalf("back in the queue: %q %q %d %v", c.Owner, c.Status, c.Priority, c.SnoozedUntil)
	}
}

// testOnCommit: the store tells its OnCommit function what each append
// stored, as stored, before the caller is answered, and in seq order; never
// what was refused, a duplicate, or any of a call that failed.
func testOnCommit(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "balances")
	var mu sync.Mutex
	var heard []store.Event
	s.OnCommit(func(evs []store.Event) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, evs...)
	})
	// taken returns what was heard since it was last asked.
	taken := func() []store.Event {
		mu.Lock()
		defer mu.Unlock()
		out := heard
		heard = nil
		return out
	}
	withNotice := event(f, "c2", "message", "", "two")
	withNotice.Notice = &store.Notice{ID: "ntc_c2", Type: store.NoticeCustomerMessage, Payload: []byte(`{}`), CreatedAt: t0}
	res, err := s.AppendEvents(ctx, []store.NewEvent{
		event(f, "c1", "balance.updated", "balances", "one"),
		withNotice,
		event(f, "c1", "balance.updated", "balances", "one"),            // a duplicate
		event(f, "c3", "transaction.posted", "transactions", "refused"), // scope not granted
	})
	must(t, err)
	if res[0].Err != nil || res[1].Err != nil || !res[2].Duplicate || !errors.Is(res[3].Err, store.ErrConsentScope) {
		t.Fatalf("append = %+v", res)
	}
	// Told before the caller was answered: no waiting.
	got := taken()
	if len(got) != 2 || got[0].ID != "rec_c1" || got[1].ID != "rec_c2" {
		t.Fatalf("heard %+v, want rec_c1 and rec_c2", got)
	}
	for i, e := range got {
		if e.Seq != int64(i+1) || e.ConversationID != f.link.ConversationID || e.LinkID != f.link.ID || e.InstitutionID != f.inst.ID ||
			e.CustomerID != f.cust.ID || !e.OccurredAt.Equal(t0) {
			t.Fatalf("heard event %d as %+v", i, e)
		}
	}
	if string(got[0].Sealed) != "sealed:one" || string(got[1].Sealed) != "sealed:two" {
		t.Fatalf("heard payloads %q, %q", got[0].Sealed, got[1].Sealed)
	}

	// Only a duplicate: nothing was stored, nothing is heard.
	res, err = s.AppendEvents(ctx, []store.NewEvent{event(f, "c1", "balance.updated", "balances", "one")})
	must(t, err)
	if !res[0].Duplicate {
		t.Fatalf("again = %+v", res[0])
	}
	// A call that fails as a whole (a notice id taken) stores nothing of
	// its events, so none is heard.
	failing := event(f, "c4", "message", "", "four")
	failing.Notice = &store.Notice{ID: "ntc_c2", Type: store.NoticeCustomerMessage, Payload: []byte(`{}`), CreatedAt: t0}
	if _, err := s.AppendEvents(ctx, []store.NewEvent{failing}); err == nil {
		t.Fatal("a notice id was used twice")
	}
	if got := taken(); len(got) != 0 {
		t.Fatalf("heard %+v of appends that stored nothing", got)
	}

	// Many callers at once: every stored event is heard once, in seq order.
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				res, err := s.AppendEvents(ctx, []store.NewEvent{event(f, fmt.Sprintf("w%d-%d", w, i), "message", "", "m")})
				if err == nil && res[0].Err != nil {
					err = res[0].Err
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got = taken()
	if len(got) != writers*each {
		t.Fatalf("heard %d events of %d stored", len(got), writers*each)
	}
	for i, e := range got {
		if e.Seq != int64(3+i) {
			t.Fatalf("heard seq %d at position %d: not in commit order", e.Seq, i)
		}
	}
}

// testNarrowLink: the owner takes scopes away from an active link; the
// link's events of the types only those scopes allowed go (not another
// link's), the marker follows the last seq, the receipt is kept, and the
// consent refuses those types from then on. Widening, keeping every scope,
// another customer's link, an expired link and a missing receipt change
// nothing.
func testNarrowLink(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s) // balances and transactions
	other, err := s.CreateLink(ctx, store.Link{ID: "lnk_2", CustomerID: f.cust.ID, InstitutionID: f.inst.ID, ConversationID: "cnv_x",
		Scopes: []string{"transactions"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	othersTx := event(f, "n4", "transaction.posted", "transactions", "other link's")
	othersTx.LinkID = other.ID
	res, err := s.AppendEvents(ctx, []store.NewEvent{
		event(f, "n1", "balance.updated", "balances", "1"),
		event(f, "n2", "transaction.posted", "transactions", "2"),
		event(f, "n3", "message", "", "3"),
		othersTx,
	})
	must(t, err)
	for i, r := range res {
		if r.Err != nil || r.Seq != int64(i+1) {
			t.Fatalf("append %d = %+v", i, r)
		}
	}
	at := time.Now().Truncate(time.Microsecond)
	narrowing := func(scopes ...string) store.Narrowing {
		r := grant()
		r.Action = store.ReceiptNarrow
		return store.Narrowing{LinkID: f.link.ID, CustomerID: f.cust.ID, Scopes: scopes, DeleteTypes: []string{"transaction.posted"}, At: at,
			Marker: store.NewEvent{Event: store.Event{ID: "rec_narrowed", Type: store.TypeLinkNarrowed, Author: store.AuthorPlatform,
				OccurredAt: at, ReceivedAt: at, Sealed: []byte("sealed:narrowed")}},
			Receipt: r}
	}
	receipts, err := s.Receipts(ctx, f.cust.ID)
	must(t, err)

	stranger := narrowing("balances")
	stranger.CustomerID = "cus_someone_else"
	missing := narrowing("balances")
	missing.LinkID = "lnk_missing"
	late := narrowing("balances")
	late.At = f.link.ExpiresAt.Add(time.Second)
	noReceipt := narrowing("balances")
	noReceipt.Receipt = store.Receipt{}
	for _, c := range []struct {
		what string
		n    store.Narrowing
		want error // nil: any error
	}{
		{"another customer's link", stranger, store.ErrNotFound},
		{"a link that does not exist", missing, store.ErrNotFound},
		{"widening", narrowing("balances", "transactions", "fraud_alerts"), store.ErrWiden},
		{"keeping every scope", narrowing("transactions", "balances"), store.ErrWiden},
		{"trading a scope for another", narrowing("balances", "fraud_alerts"), store.ErrWiden},
		{"keeping a scope it does not have", narrowing("fraud_alerts"), store.ErrWiden},
		{"keeping no scope", narrowing(), store.ErrWiden},
		{"an expired link", late, store.ErrConsentExpired},
		{"no receipt", noReceipt, nil},
	} {
		if _, err := s.NarrowLink(ctx, c.n); err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Fatalf("narrowing %s: err = %v, want %v", c.what, err, c.want)
		}
	}
	if l, _ := s.Link(ctx, f.link.ID); !slices.Equal(l.Scopes, []string{"balances", "transactions"}) {
		t.Fatalf("refused narrowings left the scopes %v", l.Scopes)
	}
	if evs, _ := s.EventsAfter(ctx, f.link.ConversationID, 0, 100); len(evs) != 4 {
		t.Fatalf("refused narrowings left %d events, want 4", len(evs))
	}
	if rs, _ := s.Receipts(ctx, f.cust.ID); len(rs) != len(receipts) {
		t.Fatalf("refused narrowings kept %d receipts", len(rs)-len(receipts))
	}

	l, err := s.NarrowLink(ctx, narrowing("balances"))
	must(t, err)
	if l.ID != f.link.ID || l.Status != store.LinkActive || !slices.Equal(l.Scopes, []string{"balances"}) {
		t.Fatalf("narrowed = %+v", l)
	}
	stored, err := s.Link(ctx, f.link.ID)
	must(t, err)
	if !slices.Equal(stored.Scopes, []string{"balances"}) || stored.Status != store.LinkActive {
		t.Fatalf("stored after narrowing: %+v", stored)
	}
	evs, err := s.EventsAfter(ctx, f.link.ConversationID, 0, 100)
	must(t, err)
	var kept []string
	for _, e := range evs {
		kept = append(kept, fmt.Sprintf("%d:%s", e.Seq, e.ID))
	}
	if !slices.Equal(kept, []string{"1:rec_n1", "3:rec_n3", "4:rec_n4", "5:rec_narrowed"}) {
		t.Fatalf("after narrowing the conversation holds %v", kept)
	}
	if m := evs[3]; m.Type != store.TypeLinkNarrowed || m.LinkID != f.link.ID || m.Author != store.AuthorPlatform || string(m.Sealed) != "sealed:narrowed" {
		t.Fatalf("marker = %+v", m)
	}
	if cv, _ := s.Conversation(ctx, f.link.ConversationID); cv.LastSeq != 5 {
		t.Fatalf("last seq %d, want 5", cv.LastSeq)
	}
	rs, err := s.Receipts(ctx, f.cust.ID)
	must(t, err)
	narrowed := slices.IndexFunc(rs, func(r store.Receipt) bool { return r.Action == store.ReceiptNarrow })
	if len(rs) != len(receipts)+1 || narrowed < 0 {
		t.Fatalf("receipts after narrowing: %+v", rs)
	}
	if r := rs[narrowed]; r.LinkID != f.link.ID || r.InstitutionID != f.inst.ID || r.CustomerID != f.cust.ID ||
		!slices.Equal(r.Scopes, []string{"balances"}) || !r.ExpiresAt.Equal(stored.ExpiresAt) {
		t.Fatalf("narrowing receipt = %+v", r)
	}
	// The consent is the narrowed one now.
	res, err = s.AppendEvents(ctx, []store.NewEvent{
		event(f, "n5", "transaction.posted", "transactions", "5"),
		event(f, "n6", "balance.updated", "balances", "6"),
	})
	must(t, err)
	if !errors.Is(res[0].Err, store.ErrConsentScope) || res[1].Err != nil || res[1].Seq != 6 {
		t.Fatalf("appends after narrowing: %+v", res)
	}
	if _, err := s.NarrowLink(ctx, narrowing("balances")); !errors.Is(err, store.ErrWiden) {
		t.Fatalf("narrowing to what it already is: %v", err)
	}
}

// testSearchConversations: the console finds an institution's
// conversations by a part of their newest link's id, taken as written (no
// wildcards), up to limit, and never another institution's.
func testSearchConversations(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s) // lnk_1: cnv_1 with Alpha
	for _, id := range []string{"cus_2", "cus_3"} {
		must(t, s.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: t0}))
	}
	link := func(id, customerID, institutionID, conversationID string, created time.Time) {
		t.Helper()
		_, err := s.CreateLink(ctx, store.Link{ID: id, CustomerID: customerID, InstitutionID: institutionID, ConversationID: conversationID,
			Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}, grant())
		must(t, err)
	}
	link("lnk_ref42", "cus_2", f.inst.ID, "cnv_2", t0)
	link("lnk_ref42b", f.cust.ID, f.other.ID, "cnv_b", t0)
	link("lnk_ref42old", "cus_3", f.inst.ID, "cnv_3", t0)
	link("lnk_new3", "cus_3", f.inst.ID, "cnv_3x", t0.Add(time.Hour)) // joins cnv_3, as its newest link

	search := func(institutionID, ref string, limit int) []string {
		t.Helper()
		cs, err := s.SearchConversations(ctx, institutionID, ref, limit)
		must(t, err)
		var ids []string
		for _, c := range cs {
			if c.InstitutionID != institutionID {
				t.Fatalf("searching %s found %+v", institutionID, c)
			}
			ids = append(ids, c.ID)
		}
		slices.Sort(ids)
		return ids
	}
	for _, c := range []struct {
		institutionID, ref string
		want               []string
	}{
		{f.inst.ID, "ref42", []string{"cnv_2"}}, // not cnv_3, whose newest link is another
		{f.other.ID, "ref42", []string{"cnv_b"}},
		{f.inst.ID, "new3", []string{"cnv_3"}},
		{f.inst.ID, "lnk_", []string{"cnv_1", "cnv_2", "cnv_3"}},
		{f.inst.ID, "lnk%ref", nil}, // wildcards are plain characters
		{f.inst.ID, "ref4_", nil},
		{f.inst.ID, "nothing", nil},
	} {
		if got := search(c.institutionID, c.ref, 10); !slices.Equal(got, c.want) {
			t.Fatalf("searching %s for %q: %v, want %v", c.institutionID, c.ref, got, c.want)
		}
	}
	if got := search(f.inst.ID, "lnk_", 2); len(got) != 2 {
		t.Fatalf("limit 2 gave %v", got)
	}
	cs, err := s.SearchConversations(ctx, f.inst.ID, "ref42", 10)
	must(t, err)
	if c := cs[0]; c.CustomerID != "cus_2" || c.InstitutionName != f.inst.Name || c.Link.ID != "lnk_ref42" || c.Owner != "bot" {
		t.Fatalf("found %+v", c)
	}
}

// testAvailableAgents: who can be given a conversation now is the
// institution's enabled agents with a live console session, each once;
// signing out (DeleteStaffSession) ends that session at once, and only
// that one.
func testAvailableAgents(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	member := func(id, institutionID, role string) {
		t.Helper()
		must(t, s.CreateStaff(ctx, store.Staff{ID: id, InstitutionID: institutionID, Email: id + "@staff.example", Name: id, Role: role, PasswordHash: "$argon2id$x", CreatedAt: t0}))
	}
	session := func(hash, staffID string, expires time.Time) {
		t.Helper()
		must(t, s.CreateStaffSession(ctx, store.StaffSession{IDHash: []byte(hash), StaffID: staffID, CSRFToken: "c", CreatedAt: now.Add(-time.Hour), ExpiresAt: expires}, "$argon2id$x"))
	}
	member("stf_ada", f.inst.ID, store.RoleAgent) // signed in twice
	session("ada1", "stf_ada", now.Add(time.Hour))
	session("ada2", "stf_ada", now.Add(2*time.Hour))
	member("stf_bo", f.inst.ID, store.RoleAgent) // session over
	session("bo", "stf_bo", now.Add(-time.Minute))
	member("stf_cy", f.inst.ID, store.RoleAgent) // never signed in
	member("stf_di", f.inst.ID, store.RoleSupervisor)
	session("di", "stf_di", now.Add(time.Hour))
	member("stf_ed", f.inst.ID, store.RoleAgent) // disabled
	session("ed", "stf_ed", now.Add(time.Hour))
	must(t, s.DisableStaff(ctx, f.inst.ID, "stf_ed", now))
	member("stf_fay", f.other.ID, store.RoleAgent) // another bank's
	session("fay", "stf_fay", now.Add(time.Hour))
	member("stf_gus", f.inst.ID, store.RoleAgent)
	session("gus", "stf_gus", now.Add(time.Hour))
	member("stf_hal", f.inst.ID, store.RoleAgent) // signed in, but the console is closed
	session("hal", "stf_hal", now.Add(time.Hour))
	member("stf_ivy", f.inst.ID, store.RoleAgent) // console open, away
	session("ivy", "stf_ivy", now.Add(time.Hour))
	// Each open console holds a presence on its session.
	present := func(stream, staffID, session, status string, until time.Time) {
		t.Helper()
		must(t, s.SetPresence(ctx, store.Presence{StreamID: stream, StaffID: staffID, SessionHash: []byte(session), Status: status, ExpiresAt: until}))
	}
	present("p_ada1", "stf_ada", "ada1", store.PresenceOnline, now.Add(time.Hour))
	present("p_ada2", "stf_ada", "ada2", store.PresenceOnline, now.Add(2*time.Hour))
	present("p_bo", "stf_bo", "bo", store.PresenceOnline, now.Add(time.Hour))
	present("p_di", "stf_di", "di", store.PresenceOnline, now.Add(time.Hour))
	present("p_ed", "stf_ed", "ed", store.PresenceOnline, now.Add(time.Hour))
	present("p_fay", "stf_fay", "fay", store.PresenceOnline, now.Add(time.Hour))
	present("p_gus", "stf_gus", "gus", store.PresenceOnline, now.Add(time.Hour))
	present("p_ivy", "stf_ivy", "ivy", store.PresenceAway, now.Add(time.Hour))

	available := func(institutionID string, at time.Time) []string {
		t.Helper()
		ids, err := s.AvailableAgents(ctx, institutionID, at)
		must(t, err)
		slices.Sort(ids)
		return ids
	}
	if got := available(f.inst.ID, now); !slices.Equal(got, []string{"stf_ada", "stf_gus"}) {
		t.Fatalf("available now: %v, want stf_ada and stf_gus", got)
	}
	if got := available(f.other.ID, now); !slices.Equal(got, []string{"stf_fay"}) {
		t.Fatalf("available at the other bank: %v", got)
	}
	if got := available(f.inst.ID, now.Add(90*time.Minute)); !slices.Equal(got, []string{"stf_ada"}) {
		t.Fatalf("available in 90 minutes: %v, want stf_ada alone", got)
	}

	must(t, s.DeleteStaffSession(ctx, []byte("gus")))
	if _, err := s.StaffSession(ctx, []byte("gus")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a signed-out session: %v", err)
	}
	if got := available(f.inst.ID, now); !slices.Equal(got, []string{"stf_ada"}) {
		t.Fatalf("available after stf_gus signed out: %v", got)
	}
	must(t, s.DeleteStaffSession(ctx, []byte("ada1")))
	if _, err := s.StaffSession(ctx, []byte("ada1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a signed-out session: %v", err)
	}
	if se, err := s.StaffSession(ctx, []byte("ada2")); err != nil || se.StaffID != "stf_ada" {
		t.Fatalf("the other console of stf_ada: %+v %v", se, err)
	}
	if got := available(f.inst.ID, now); !slices.Equal(got, []string{"stf_ada"}) {
		t.Fatalf("available with one console of stf_ada left: %v", got)
	}
}

// testPresence: a console's presence is online or away while its lease
// lasts and its session lives; a member is online when any console of
// theirs is; ending a presence, or its lease lapsing, makes them offline
// (and no longer given work), and one who comes back online is again.
func testPresence(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	for _, m := range []store.Staff{
		{ID: "stf_ada", InstitutionID: f.inst.ID, Email: "ada@staff.example", Name: "Ada", Role: store.RoleAgent, PasswordHash: "$argon2id$x", CreatedAt: t0},
		{ID: "stf_bo", InstitutionID: f.inst.ID, Email: "bo@staff.example", Name: "Bo", Role: store.RoleAgent, PasswordHash: "$argon2id$x", CreatedAt: t0},
		{ID: "stf_cy", InstitutionID: f.other.ID, Email: "cy@staff.example", Name: "Cy", Role: store.RoleAgent, PasswordHash: "$argon2id$x", CreatedAt: t0},
	} {
		must(t, s.CreateStaff(ctx, m))
		must(t, s.CreateStaffSession(ctx, store.StaffSession{IDHash: []byte(m.ID), StaffID: m.ID, CSRFToken: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, "$argon2id$x"))
	}
	set := func(stream, staffID, status string, until time.Time) {
		t.Helper()
		must(t, s.SetPresence(ctx, store.Presence{StreamID: stream, StaffID: staffID, SessionHash: []byte(staffID), Status: status, ExpiresAt: until}))
	}
	presence := func(institutionID string, at time.Time) map[string]string {
		t.Helper()
		p, err := s.StaffPresence(ctx, institutionID, at)
		must(t, err)
		return p
	}
	available := func(at time.Time) []string {
		t.Helper()
		ids, err := s.AvailableAgents(ctx, f.inst.ID, at)
		must(t, err)
		slices.Sort(ids)
		return ids
	}
	if p := presence(f.inst.ID, now); len(p) != 0 {
		t.Fatalf("signed in, no console open: %v", p)
	}
	set("s_ada_desk", "stf_ada", store.PresenceAway, now.Add(45*time.Second))
	set("s_ada_tab", "stf_ada", store.PresenceOnline, now.Add(45*time.Second))
	set("s_bo", "stf_bo", store.PresenceAway, now.Add(45*time.Second))
	set("s_cy", "stf_cy", store.PresenceOnline, now.Add(45*time.Second))
	if p := presence(f.inst.ID, now); !maps.Equal(p, map[string]string{"stf_ada": "online", "stf_bo": "away"}) {
		t.Fatalf("presence: %v", p)
	}
	if p := presence(f.other.ID, now); !maps.Equal(p, map[string]string{"stf_cy": "online"}) {
		t.Fatalf("the other bank's presence: %v", p)
	}
	if got := available(now); !slices.Equal(got, []string{"stf_ada"}) {
		t.Fatalf("available with Bo away: %v", got)
	}
	// Ada's online console closes: her other one is away.
	must(t, s.EndPresence(ctx, "s_ada_tab", now))
	if p := presence(f.inst.ID, now); p["stf_ada"] != "away" {
		t.Fatalf("Ada with one console away: %v", p)
	}
	if got := available(now); len(got) != 0 {
		t.Fatalf("available with everyone away: %v", got)
	}
	// Bo comes back: the same console, online, renewed.
	set("s_bo", "stf_bo", store.PresenceOnline, now.Add(45*time.Second))
	if got := available(now); !slices.Equal(got, []string{"stf_bo"}) {
		t.Fatalf("available when Bo is back: %v", got)
	}
	// A lease not renewed lapses: the node that held it died.
	if p := presence(f.inst.ID, now.Add(time.Minute)); len(p) != 0 {
		t.Fatalf("presence after the leases lapsed: %v", p)
	}
	if got := available(now.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("available after the leases lapsed: %v", got)
	}
	// Ending a presence also forgets lapsed ones; signing out ends the
	// rest at once.
	must(t, s.EndPresence(ctx, "s_none", now.Add(time.Minute)))
	set("s_bo", "stf_bo", store.PresenceOnline, now.Add(time.Hour))
	must(t, s.DeleteStaffSession(ctx, []byte("stf_bo")))
	if got := available(now); len(got) != 0 {
		t.Fatalf("available after Bo signed out: %v", got)
	}
	if p := presence(f.inst.ID, now); len(p) != 0 {
		t.Fatalf("presence after signing out: %v", p)
	}
}

// testLabels: labels are kept once per conversation, listed per
// institution, taken off one by one; clearing the history takes them too.
func testLabels(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	lb, err := s.CreateLink(ctx, store.Link{ID: "lnk_b", CustomerID: f.cust.ID, InstitutionID: f.other.ID, ConversationID: "cnv_b",
		Scopes: []string{"support_chat"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	label := func(conv, l string) {
		t.Helper()
		must(t, s.AddLabel(ctx, store.Label{ConversationID: conv, Label: l, StaffID: "stf_1", CreatedAt: t0}))
	}
	label(f.link.ConversationID, "fraud")
	label(f.link.ConversationID, "callback")
	label(f.link.ConversationID, "fraud") // again: nothing new
	label(lb.ConversationID, "vip")
	labels := func(institutionID string) map[string][]string {
		t.Helper()
		ls, err := s.ConversationLabels(ctx, institutionID)
		must(t, err)
		return ls
	}
	if got := labels(f.inst.ID); len(got) != 1 || !slices.Equal(got[f.link.ConversationID], []string{"callback", "fraud"}) {
		t.Fatalf("labels: %v", got)
	}
	if got := labels(f.other.ID); len(got) != 1 || !slices.Equal(got[lb.ConversationID], []string{"vip"}) {
		t.Fatalf("the other bank's labels: %v", got)
	}
	must(t, s.RemoveLabel(ctx, f.link.ConversationID, "callback"))
	if err := s.RemoveLabel(ctx, f.link.ConversationID, "callback"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("taking off a label that is not on: %v", err)
	}
	if got := labels(f.inst.ID); !slices.Equal(got[f.link.ConversationID], []string{"fraud"}) {
		t.Fatalf("labels after taking one off: %v", got)
	}
}

// testHandedOverActivity: what the queue knows from metadata: the
// customer's newest event, the agents' last word, since when the customer
// waits for an answer, when the bot handed over, the newest fraud alert.
func testHandedOverActivity(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s, "balances", "fraud_alerts", "support_chat")
	if a, err := s.HandedOverActivity(ctx, f.inst.ID); err != nil || len(a) != 0 {
		t.Fatalf("with the bot owning everything: %+v %v", a, err)
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	appendAt := func(key, typ, author string, m int) int64 {
		t.Helper()
		e := event(f, key, typ, "", key)
		e.Author, e.CustomerID, e.ReceivedAt = author, f.cust.ID, at(m)
		res, err := s.AppendEvents(ctx, []store.NewEvent{e})
		must(t, err)
		if res[0].Err != nil {
			t.Fatalf("append %s: %v", key, res[0].Err)
		}
		return res[0].Seq
	}
	appendAt("m1", "customer.message", store.AuthorCustomer, 1)
	appendAt("fa", "fraud.alert", store.AuthorInstitution, 2)
	request := appendAt("rq", "customer.request", store.AuthorCustomer, 3)
	must(t, s.SetOwner(ctx, f.link.ConversationID, "bot", "", "queue", "", store.Notice{ID: "ntc_q", InstitutionID: f.inst.ID, LinkID: f.link.ID, Type: store.NoticeHandover, Payload: []byte(`{}`), CreatedAt: at(3)}))
	appendAt("t1", "transaction.posted", store.AuthorInstitution, 4)
	get := func() store.Activity {
		t.Helper()
		as, err := s.HandedOverActivity(ctx, f.inst.ID)
		must(t, err)
		if len(as) != 1 || as[0].ConversationID != f.link.ConversationID {
			t.Fatalf("activity: %+v", as)
		}
		return as[0]
	}
	a := get()
	if a.LastCustomerSeq != request || a.LastCustomerType != "customer.request" || !a.LastCustomerAt.Equal(at(3)) || !a.LastAgentAt.IsZero() ||
		!a.HandedAt.Equal(at(3)) || !a.FraudAt.Equal(at(2)) || !a.CustomerSinceAgent.Equal(at(1)) {
		t.Fatalf("waiting for a person: %+v", a)
	}
	appendAt("ag", "message", store.AuthorAgent, 5)
	if a = get(); !a.LastAgentAt.Equal(at(5)) || !a.CustomerSinceAgent.IsZero() {
		t.Fatalf("after the agent answered: %+v", a)
	}
	appendAt("m2", "customer.message", store.AuthorCustomer, 6)
	appendAt("m3", "customer.message", store.AuthorCustomer, 7)
	answer := appendAt("fr", "fraud.response", store.AuthorCustomer, 8)
	if a = get(); a.LastCustomerSeq != answer || a.LastCustomerType != "fraud.response" || !a.CustomerSinceAgent.Equal(at(6)) || !a.FraudAt.Equal(at(8)) {
		t.Fatalf("the customer wrote again: %+v", a)
	}
	if as, _ := s.HandedOverActivity(ctx, f.other.ID); len(as) != 0 {
		t.Fatalf("another institution's activity: %+v", as)
	}
}

// testAgentMessageTimes: when the institution's agents wrote, since a
// time; not what the bank's systems or the customer wrote, nor another
// institution's agents.
func testAgentMessageTimes(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	lb, err := s.CreateLink(ctx, store.Link{ID: "lnk_b", CustomerID: f.cust.ID, InstitutionID: f.other.ID, ConversationID: "cnv_b",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, grant())
	must(t, err)
	wrote := func(id, author string, at time.Time) store.NewEvent {
		e := event(f, id, "message", "", id)
		e.Author, e.OccurredAt, e.ReceivedAt = author, at, at
		if author == store.AuthorCustomer {
			e.CustomerID = f.cust.ID
		}
		return e
	}
	atB := wrote("b1", store.AuthorAgent, t0.Add(3*time.Minute))
	atB.InstitutionID, atB.LinkID = f.other.ID, lb.ID
	res, err := s.AppendEvents(ctx, []store.NewEvent{
		wrote("a2", store.AuthorAgent, t0.Add(5*time.Minute)),
		wrote("a0", store.AuthorAgent, t0.Add(-time.Hour)), // before since
		wrote("i1", store.AuthorInstitution, t0.Add(2*time.Minute)),
		wrote("c1", store.AuthorCustomer, t0.Add(2*time.Minute)),
		wrote("a1", store.AuthorAgent, t0.Add(time.Minute)),
		atB,
	})
	must(t, err)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("append %d: %v", i, r.Err)
		}
	}
	times := func(institutionID string, since time.Time) []string {
		t.Helper()
		ts, err := s.AgentMessageTimes(ctx, institutionID, since)
		must(t, err)
		slices.SortFunc(ts, func(a, b store.EventTime) int { return a.At.Compare(b.At) })
		var out []string
		for _, e := range ts {
			out = append(out, fmt.Sprintf("%s+%v", e.ConversationID, e.At.Sub(t0)))
		}
		return out
	}
	if got := times(f.inst.ID, t0); !slices.Equal(got, []string{"cnv_1+1m0s", "cnv_1+5m0s"}) {
		t.Fatalf("agent message times since t0: %v", got)
	}
	if got := times(f.inst.ID, t0.Add(-2*time.Hour)); len(got) != 3 || got[0] != "cnv_1+-1h0m0s" {
		t.Fatalf("agent message times since t0-2h: %v", got)
	}
	if got := times(f.other.ID, t0); !slices.Equal(got, []string{"cnv_b+3m0s"}) {
		t.Fatalf("the other bank's agent message times: %v", got)
	}
	if got := times(f.inst.ID, t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("agent message times since t0+1h: %v", got)
	}
}

// testRootKeyRotation: rotation finds the data keys wrapped under older
// root keys, a page at a time, rewraps each only if it is still what was
// read (a stale rewrap changes nothing, and is no error: the rotation goes
// on), and the usage counts follow.
func testRootKeyRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	keys := []vault.WrappedKey{
		{CustomerID: "cus_a", Version: 1, RootKeyVersion: 1, Wrapped: []byte("a@1")},
		{CustomerID: "cus_b", Version: 3, RootKeyVersion: 1, Wrapped: []byte("b@1")},
		{CustomerID: "cus_c", Version: 1, RootKeyVersion: 2, Wrapped: []byte("c@2")},
		{CustomerID: "cus_d", Version: 1, RootKeyVersion: 1, Wrapped: []byte("d@1")},
		{CustomerID: vault.ConversationKey("cus_a", "ins_a"), Version: 2, RootKeyVersion: 3, Wrapped: []byte("conv@3")},
	}
	for _, k := range keys {
		_, err := s.PutDataKey(ctx, k)
		must(t, err)
	}
	usage, err := s.RootKeyUsage(ctx)
	must(t, err)
	if !maps.Equal(usage, map[int]int{1: 3, 2: 1, 3: 1}) {
		t.Fatalf("usage = %v", usage)
	}
	below := func(version, limit int) map[string]vault.WrappedKey {
		t.Helper()
		ks, err := s.DataKeysWrappedBelow(ctx, version, limit)
		must(t, err)
		out := map[string]vault.WrappedKey{}
		for _, k := range ks {
			out[k.CustomerID] = k
		}
		if len(out) != len(ks) {
			t.Fatalf("a key listed twice: %+v", ks)
		}
		return out
	}
	sameKey := func(a, b vault.WrappedKey) bool {
		return a.CustomerID == b.CustomerID && a.Version == b.Version && a.RootKeyVersion == b.RootKeyVersion && bytes.Equal(a.Wrapped, b.Wrapped)
	}
	if got := below(1, 10); len(got) != 0 {
		t.Fatalf("below root key 1: %+v", got)
	}
	got := below(2, 10)
	if len(got) != 3 || !sameKey(got["cus_a"], keys[0]) || !sameKey(got["cus_b"], keys[1]) || !sameKey(got["cus_d"], keys[3]) {
		t.Fatalf("below root key 2: %+v", got)
	}
	if got := below(3, 10); len(got) != 4 || !sameKey(got["cus_c"], keys[2]) {
		t.Fatalf("below root key 3: %+v", got)
	}
	if got := below(2, 2); len(got) != 2 || got["cus_c"].CustomerID != "" {
		t.Fatalf("a page of 2 below root key 2: %+v", got)
	}

	// Rewraps of what is no longer stored: another root key, another version.
	must(t, s.RewrapDataKey(ctx, vault.WrappedKey{CustomerID: "cus_a", Version: 1, RootKeyVersion: 4, Wrapped: []byte("stale")}, 2))
	must(t, s.RewrapDataKey(ctx, vault.WrappedKey{CustomerID: "cus_b", Version: 2, RootKeyVersion: 4, Wrapped: []byte("stale")}, 1))
	for _, k := range keys[:2] {
		if now, err := s.DataKey(ctx, k.CustomerID); err != nil || !sameKey(now, k) {
			t.Fatalf("a stale rewrap changed %s: %+v %v", k.CustomerID, now, err)
		}
	}

	// Rotation to root key 4, two keys a page, as openteller keys does it.
	for pages := 0; ; pages++ {
		page, err := s.DataKeysWrappedBelow(ctx, 4, 2)
		must(t, err)
		if len(page) == 0 {
			break
		}
		if pages == 3 {
			t.Fatalf("keys still below root key 4 after 3 pages: %+v", page)
		}
		for _, k := range page {
			w := k
			w.RootKeyVersion, w.Wrapped = 4, []byte(k.CustomerID+"@4")
			must(t, s.RewrapDataKey(ctx, w, k.RootKeyVersion))
		}
	}
	usage, err = s.RootKeyUsage(ctx)
	must(t, err)
	if !maps.Equal(usage, map[int]int{4: len(keys)}) {
		t.Fatalf("usage after rotation = %v", usage)
	}
	for _, k := range keys {
		want := vault.WrappedKey{CustomerID: k.CustomerID, Version: k.Version, RootKeyVersion: 4, Wrapped: []byte(k.CustomerID + "@4")}
		if now, err := s.DataKey(ctx, k.CustomerID); err != nil || !sameKey(now, want) {
			t.Fatalf("after rotation %s: %+v %v", k.CustomerID, now, err)
		}
	}
}

// testPlatformSecrets: a platform secret is kept once (the first writer
// wins), listed with every other, and replaced only from what is stored
// (a stale replacement changes nothing, and is no error).
func testPlatformSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.PlatformSecret(ctx, "cookie"); !errors.Is(err, vault.ErrNoKey) {
		t.Fatalf("no secret yet: %v", err)
	}
	if all, err := s.PlatformSecrets(ctx); err != nil || len(all) != 0 {
		t.Fatalf("no secrets yet: %v %v", all, err)
	}
	put := func(name, sealed, want string) {
		t.Helper()
		got, err := s.PutPlatformSecret(ctx, name, []byte(sealed))
		must(t, err)
		if string(got) != want {
			t.Fatalf("putting %s: %q stored, want %q", name, got, want)
		}
	}
	put("cookie", "cookie@1", "cookie@1")
	put("cookie", "cookie@1, second writer", "cookie@1")
	put("log", "log@1", "log@1")
	stored := func(want map[string]string) {
		t.Helper()
		all, err := s.PlatformSecrets(ctx)
		must(t, err)
		got := map[string]string{}
		for name, sealed := range all {
			got[name] = string(sealed)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("platform secrets = %v, want %v", got, want)
		}
		for name, sealed := range want {
			if one, err := s.PlatformSecret(ctx, name); err != nil || string(one) != sealed {
				t.Fatalf("platform secret %s = %q %v, want %q", name, one, err, sealed)
			}
		}
	}
	stored(map[string]string{"cookie": "cookie@1", "log": "log@1"})

	must(t, s.ReplacePlatformSecret(ctx, "cookie", []byte("cookie@0"), []byte("cookie@2, from a stale read")))
	stored(map[string]string{"cookie": "cookie@1", "log": "log@1"})
	must(t, s.ReplacePlatformSecret(ctx, "cookie", []byte("cookie@1"), []byte("cookie@2")))
	stored(map[string]string{"cookie": "cookie@2", "log": "log@1"})
	must(t, s.ReplacePlatformSecret(ctx, "missing", nil, []byte("missing@2")))
	stored(map[string]string{"cookie": "cookie@2", "log": "log@1"})
	if _, err := s.PlatformSecret(ctx, "missing"); !errors.Is(err, vault.ErrNoKey) {
		t.Fatalf("replacing a secret that is not there made one: %v", err)
	}
}

// testWebhookSecrets: rewrapping an endpoint's secrets changes them and
// nothing else: not its address, its grace period, whether it is
// disabled, nor another institution's endpoint. An endpoint with no
// previous secret keeps none, and an institution with no endpoint gets
// none.
func testWebhookSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	must(t, s.PutWebhookEndpoint(ctx, store.WebhookEndpoint{InstitutionID: f.inst.ID, URL: "https://a.example/hooks",
		Secret: []byte("a@1"), PreviousSecret: []byte("a0@1"), PreviousUntil: now.Add(time.Hour), CreatedAt: now}))
	must(t, s.DisableWebhookEndpoint(ctx, f.inst.ID, "410 Gone", now))
	must(t, s.PutWebhookEndpoint(ctx, store.WebhookEndpoint{InstitutionID: f.other.ID, URL: "https://b.example/hooks", Secret: []byte("b@1"), CreatedAt: now}))
	endpoint := func(institutionID string) store.WebhookEndpoint {
		t.Helper()
		e, err := s.WebhookEndpoint(ctx, institutionID)
		must(t, err)
		return e
	}
	// Endpoints are compared whole, as read back the same way, so a field
	// added to them later is covered too; a nil previous secret must stay
	// nil (rotation tells "none" from "empty" by it).
	a, b := endpoint(f.inst.ID), endpoint(f.other.ID)
	if a.DisabledAt.IsZero() || a.PreviousUntil.IsZero() || b.PreviousSecret != nil {
		t.Fatalf("endpoints as put: %+v, %+v", a, b)
	}

	must(t, s.SetWebhookSecrets(ctx, f.inst.ID, []byte("a@2"), []byte("a0@2")))
	want := a
	want.Secret, want.PreviousSecret = []byte("a@2"), []byte("a0@2")
	if got := endpoint(f.inst.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after rewrapping: %+v, want %+v", got, want)
	}
	if got := endpoint(f.other.ID); !reflect.DeepEqual(got, b) {
		t.Fatalf("another institution's endpoint changed: %+v", got)
	}
	must(t, s.SetWebhookSecrets(ctx, f.other.ID, []byte("b@2"), nil))
	want = b
	want.Secret = []byte("b@2")
	if got := endpoint(f.other.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after rewrapping one secret: %+v, want %+v", got, want)
	}
	// Whatever it answers, no endpoint appears.
	s.SetWebhookSecrets(ctx, "ins_none", []byte("x"), nil)
	if e, err := s.WebhookEndpoint(ctx, "ins_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rewrapping where there is no endpoint made %+v (%v)", e, err)
	}
}

// testPing: an open store can serve; a Ping that cannot be served (its
// context has ended) says so. Run checks that a closed store says so too.
func testPing(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.Ping(ctx))
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Ping(ended); err == nil {
		t.Fatal("Ping with an ended context reports that the store can serve")
	}
}

// testPushSubscriptions: a device's subscription is stored once per id,
// replaced by whoever turns the device's notifications on last (the
// device moves to them), listed by customer, and removed only by its own
// customer.
func testPushSubscriptions(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"cus_p1", "cus_p2"} {
		must(t, s.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: t0}))
	}
	sub := func(id, customerID, endpoint string, kinds ...string) store.PushSubscription {
		return store.PushSubscription{ID: id, CustomerID: customerID, Endpoint: endpoint, P256DH: "key-" + id, Auth: "auth-" + id, Kinds: kinds, CreatedAt: t0}
	}
	a := sub("psh_a", "cus_p1", "https://push.example/a", "alerts", "people")
	b := sub("psh_b", "cus_p1", "https://push.example/b", "alerts")
	c := sub("psh_c", "cus_p2", "https://push.example/c", "replies")
	for _, p := range []store.PushSubscription{a, b, c} {
		must(t, s.PutPushSubscription(ctx, p))
	}
	list := func(ids ...string) []store.PushSubscription {
		t.Helper()
		got, err := s.PushSubscriptions(ctx, ids)
		must(t, err)
		return got
	}
	if got := list("cus_p1"); len(got) != 2 || !reflect.DeepEqual(got[0], a) || !reflect.DeepEqual(got[1], b) {
		t.Fatalf("cus_p1's subscriptions: %+v", got)
	}
	if got := list("cus_p1", "cus_p2", "cus_none"); len(got) != 3 {
		t.Fatalf("three customers' subscriptions: %+v", got)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("no customers: %+v", got)
	}

	// Its own customer changes what it wants.
	a.Kinds = []string{"replies"}
	must(t, s.PutPushSubscription(ctx, a))
	if got := list("cus_p1"); !reflect.DeepEqual(got[0], a) {
		t.Fatalf("after updates: %+v, want %+v", got[0], a)
	}
	// Another customer signs in on device b and turns it on: the device is
	// theirs now, and cus_p1 hears nothing more through it.
	moved := sub("psh_b", "cus_p2", "https://push.example/b", "alerts")
	must(t, s.PutPushSubscription(ctx, moved))
	if got := list("cus_p1"); len(got) != 1 || got[0].ID != "psh_a" {
		t.Fatalf("cus_p1 still has the device that moved: %+v", got)
	}
	if got := list("cus_p2"); len(got) != 2 || !slices.ContainsFunc(got, func(p store.PushSubscription) bool { return reflect.DeepEqual(p, moved) }) {
		t.Fatalf("cus_p2's subscriptions: %+v", got)
	}
	must(t, s.PutPushSubscription(ctx, b)) // back to cus_p1

	if err := s.DeletePushSubscription(ctx, "cus_p2", "psh_b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another customer's delete: %v", err)
	}
	must(t, s.DeletePushSubscription(ctx, "cus_p1", "psh_b"))
	if err := s.DeletePushSubscription(ctx, "cus_p1", "psh_b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if got := list("cus_p1"); len(got) != 1 || got[0].ID != "psh_a" {
		t.Fatalf("after delete: %+v", got)
	}
}

// testCustomerOwnership: read through store.CustomerConversation and
// store.CustomerLink, a customer reaches their own conversation and link;
// another customer, or no customer, finds nothing, exactly as for an id
// that does not exist.
func testCustomerOwnership(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	must(t, s.CreateCustomer(ctx, store.Customer{ID: "cus_2", Email: "bo@example.com", PasswordHash: "x", CreatedAt: t0}))
	if c, err := store.CustomerConversation(ctx, s, f.cust.ID, f.link.ConversationID); err != nil || c.ID != f.link.ConversationID {
		t.Fatalf("the owner's conversation: %+v %v", c, err)
	}
	if l, err := store.CustomerLink(ctx, s, f.cust.ID, f.link.ID); err != nil || l.ID != f.link.ID {
		t.Fatalf("the owner's link: %+v %v", l, err)
	}
	for _, who := range []string{"cus_2", ""} {
		if c, err := store.CustomerConversation(ctx, s, who, f.link.ConversationID); !errors.Is(err, store.ErrNotFound) || c.ID != "" {
			t.Errorf("customer %q reads the conversation: %+v %v", who, c, err)
		}
		if l, err := store.CustomerLink(ctx, s, who, f.link.ID); !errors.Is(err, store.ErrNotFound) || l.ID != "" {
			t.Errorf("customer %q reads the link: %+v %v", who, l, err)
		}
	}
	if _, err := store.CustomerConversation(ctx, s, f.cust.ID, "cnv_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a conversation that does not exist: %v", err)
	}
}
