package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Passkeys (issue 12): customers' WebAuthn credentials, and the
// ceremonies begun with them.

// testPasskeys: a passkey is kept whole, belongs to one account (its id
// is unique across accounts), is listed only to its customer, moves its
// signature counter only forward (also against two uses at once; zero
// stays allowed for authenticators that keep no counter), and once
// removed cannot be used again. Nothing changes on a refused call.
func testPasskeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	other := store.Customer{ID: "cus_2", Email: "bo@example.com", PasswordHash: "$argon2id$y", CreatedAt: t0}
	must(t, s.CreateCustomer(ctx, other))
	now := time.Now().Truncate(time.Microsecond)

	if got, err := s.Passkeys(ctx, f.cust.ID); err != nil || len(got) != 0 {
		t.Fatalf("passkeys before any: %v %v", got, err)
	}
	if _, err := s.Passkey(ctx, []byte("cred-phone")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown passkey: %v", err)
	}
	aaguid := bytes.Repeat([]byte{0xad}, 16)
	phone := store.Passkey{ID: []byte("cred-phone"), CustomerID: f.cust.ID, Name: "Phone", PublicKey: []byte("cose-1"),
		Transports: []string{"internal", "hybrid"}, AAGUID: aaguid, Flags: 0x5d, AttestationFormat: "none", CreatedAt: now}
	key := store.Passkey{ID: []byte("cred-key"), CustomerID: f.cust.ID, Name: "Security key", PublicKey: []byte("cose-2"),
		SignCount: 5, AAGUID: make([]byte, 16), Flags: 0x45, AttestationFormat: "packed", CreatedAt: now.Add(time.Minute)}
	must(t, s.AddPasskey(ctx, phone))
	must(t, s.AddPasskey(ctx, key))
	// The same credential id on another account (or again): refused.
	if err := s.AddPasskey(ctx, store.Passkey{ID: []byte("cred-phone"), CustomerID: other.ID, Name: "Mine", PublicKey: []byte("cose-3"), AAGUID: aaguid, CreatedAt: now}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a credential id taken: %v", err)
	}
	got, err := s.Passkeys(ctx, f.cust.ID)
	must(t, err)
	if len(got) != 2 || !samePasskey(got[0], phone) || !samePasskey(got[1], key) {
		t.Fatalf("passkeys:\n%+v\nwant\n%+v\n%+v", got, phone, key)
	}
	if got, err := s.Passkeys(ctx, other.ID); err != nil || len(got) != 0 {
		t.Fatalf("another customer's passkeys: %v %v", got, err)
	}
	if p, err := s.Passkey(ctx, []byte("cred-phone")); err != nil || !samePasskey(p, phone) {
		t.Fatalf("passkey by id: %+v %v", p, err)
	}

	// An authenticator that keeps no counter: zero after zero is fine.
	must(t, s.UsePasskey(ctx, f.cust.ID, phone.ID, 0, 0x1d, now.Add(time.Hour)))
	if p, _ := s.Passkey(ctx, phone.ID); !p.LastUsedAt.Equal(now.Add(time.Hour)) || p.Flags != 0x1d || p.SignCount != 0 {
		t.Fatalf("after a use: %+v", p)
	}
	// A counter that does not move forward is a replay or a clone.
	for _, n := range []uint32{0, 4, 5} {
		if err := s.UsePasskey(ctx, f.cust.ID, key.ID, n, 0x05, now.Add(time.Hour)); !errors.Is(err, store.ErrCodeUsed) {
			t.Fatalf("counter %d after 5: %v", n, err)
		}
	}
	if p, _ := s.Passkey(ctx, key.ID); p.SignCount != 5 || !p.LastUsedAt.IsZero() || p.Flags != 0x45 {
		t.Fatalf("a refused use changed the passkey: %+v", p)
	}
	if err := s.UsePasskey(ctx, other.ID, key.ID, 9, 0x05, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("someone else's passkey used: %v", err)
	}
	// Two uses with one counter value at once: one is accepted.
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i := range results {
		wg.Go(func() { results[i] = s.UsePasskey(ctx, f.cust.ID, key.ID, 6, 0x05, now.Add(2*time.Hour)) })
	}
	wg.Wait()
	if (results[0] == nil) == (results[1] == nil) || !(errors.Is(results[0], store.ErrCodeUsed) || errors.Is(results[1], store.ErrCodeUsed)) {
		t.Fatalf("one signature counter used twice at once: %v, %v", results[0], results[1])
	}
	if p, _ := s.Passkey(ctx, key.ID); p.SignCount != 6 || !p.LastUsedAt.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("after the accepted use: %+v", p)
	}

	// Removed: gone from the list, and no use of it is accepted.
	if _, err := s.DeletePasskey(ctx, other.ID, phone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("someone else removes a passkey: %v", err)
	}
	if ended, err := s.DeletePasskey(ctx, f.cust.ID, phone.ID); err != nil || len(ended) != 0 {
		t.Fatalf("removed a passkey that signed no session in: ended %q, %v", ended, err)
	}
	if _, err := s.DeletePasskey(ctx, f.cust.ID, phone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed twice: %v", err)
	}
	if err := s.UsePasskey(ctx, f.cust.ID, phone.ID, 0, 0x1d, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a removed passkey used: %v", err)
	}
	if _, err := s.Passkey(ctx, phone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a removed passkey looked up: %v", err)
	}
	if got, _ := s.Passkeys(ctx, f.cust.ID); len(got) != 1 || !bytes.Equal(got[0].ID, key.ID) {
		t.Fatalf("passkeys after a removal: %+v", got)
	}
}

// testPasskeySessions: a session remembers the passkey that signed it in
// (none for a password), and is made only while that passkey is on the
// customer's account; removing the passkey ends, in the same transaction,
// every session it signed in and no other, and names those that had not
// expired. Against a sign-in racing the removal, no session outlives the
// passkey.
func testPasskeySessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	other := store.Customer{ID: "cus_2", Email: "bo@example.com", PasswordHash: "$argon2id$y", CreatedAt: t0}
	must(t, s.CreateCustomer(ctx, other))
	now := time.Now().Truncate(time.Microsecond)
	passkey := func(customerID, id string) store.Passkey {
		p := store.Passkey{ID: []byte(id), CustomerID: customerID, Name: id, PublicKey: []byte("cose"), AAGUID: make([]byte, 16), CreatedAt: now}
		must(t, s.AddPasskey(ctx, p))
		return p
	}
	phone, laptop, theirs := passkey(f.cust.ID, "cred-phone"), passkey(f.cust.ID, "cred-laptop"), passkey(other.ID, "cred-theirs")
	session := func(id string, by []byte, expires time.Time) store.Session {
		return store.Session{IDHash: []byte(id), CustomerID: f.cust.ID, CSRFToken: "t", CreatedAt: now, ExpiresAt: expires, PasskeyID: by}
	}
	hour := now.Add(time.Hour)
	must(t, s.CreateSession(ctx, session("password", nil, hour), f.cust.PasswordHash))
	must(t, s.CreateSession(ctx, session("phone-1", phone.ID, hour), f.cust.PasswordHash))
	must(t, s.CreateSession(ctx, session("phone-2", phone.ID, hour), f.cust.PasswordHash))
	must(t, s.CreateSession(ctx, session("phone-old", phone.ID, now.Add(-time.Minute)), f.cust.PasswordHash))
	must(t, s.CreateSession(ctx, session("laptop", laptop.ID, hour), f.cust.PasswordHash))
	if se, err := s.Session(ctx, []byte("phone-1")); err != nil || !bytes.Equal(se.PasskeyID, phone.ID) {
		t.Fatalf("a passkey's session: %+v %v", se, err)
	}
	if se, err := s.Session(ctx, []byte("password")); err != nil || se.PasskeyID != nil {
		t.Fatalf("a password's session: %+v %v", se, err)
	}
	// Another account's passkey, or an unknown one, signs nobody in; a
	// changed password still wins over a passkey that is there.
	for _, id := range [][]byte{theirs.ID, []byte("cred-none")} {
		if err := s.CreateSession(ctx, session("refused", id, hour), f.cust.PasswordHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a session by passkey %q, not the customer's: %v", id, err)
		}
	}
	if err := s.CreateSession(ctx, session("refused", phone.ID, hour), "$argon2id$before"); !errors.Is(err, store.ErrPasswordChanged) {
		t.Fatalf("a passkey's session on a changed password: %v", err)
	}
	if _, err := s.Session(ctx, []byte("refused")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused session was kept: %v", err)
	}

	// Someone else cannot remove it, and their attempt ends nothing.
	if ended, err := s.DeletePasskey(ctx, other.ID, phone.ID); !errors.Is(err, store.ErrNotFound) || ended != nil {
		t.Fatalf("someone else removes a passkey: %q %v", ended, err)
	}
	if _, err := s.Session(ctx, []byte("phone-1")); err != nil {
		t.Fatalf("a refused removal ended a session: %v", err)
	}
	ended, err := s.DeletePasskey(ctx, f.cust.ID, phone.ID)
	must(t, err)
	names := make([]string, len(ended))
	for i, h := range ended {
		names[i] = string(h)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"phone-1", "phone-2"}) {
		t.Fatalf("the removal ended %q, want the phone's two live sessions", names)
	}
	live, err := s.LiveSessions(ctx, [][]byte{[]byte("password"), []byte("phone-1"), []byte("phone-2"), []byte("laptop")}, now)
	must(t, err)
	if len(live) != 2 || !live["password"] || !live["laptop"] {
		t.Fatalf("live after the removal: %v, want the password's and the laptop's", live)
	}
	for _, id := range []string{"phone-1", "phone-2"} {
		if _, err := s.Session(ctx, []byte(id)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session %s outlived its passkey: %v", id, err)
		}
	}
	if err := s.CreateSession(ctx, session("phone-3", phone.ID, hour), f.cust.PasswordHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a session by a removed passkey: %v", err)
	}
	if n, err := s.SweepExpired(ctx, now); err != nil || n != 0 {
		t.Fatalf("the sweep found %d rows (%v): the removal left the expired session", n, err)
	}

	// A sign-in with a passkey that is being removed: either the session
	// comes first and ends with the passkey, or it finds the passkey
	// gone; never does it outlive the passkey.
	for i := range 8 {
		key := passkey(f.cust.ID, fmt.Sprintf("cred-race-%d", i))
		id := fmt.Sprintf("race-%d", i)
		var wg sync.WaitGroup
		var created error
		var raced [][]byte
		wg.Go(func() { created = s.CreateSession(ctx, session(id, key.ID, hour), f.cust.PasswordHash) })
		wg.Go(func() { raced, err = s.DeletePasskey(ctx, f.cust.ID, key.ID) })
		wg.Wait()
		must(t, err)
		switch {
		case created == nil && !slices.ContainsFunc(raced, func(h []byte) bool { return string(h) == id }):
			t.Fatalf("round %d: the session was made and the removal did not end it: %q", i, raced)
		case created != nil && !errors.Is(created, store.ErrNotFound):
			t.Fatalf("round %d: a session by a passkey being removed: %v", i, created)
		}
		if _, err := s.Session(ctx, []byte(id)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: a session outlived its passkey: %v", i, err)
		}
	}
	if _, err := s.Session(ctx, []byte("laptop")); err != nil {
		t.Fatalf("another passkey's session: %v", err)
	}
}

// samePasskey compares passkeys as stored: times by instant, an empty
// list of transports like none.
func samePasskey(a, b store.Passkey) bool {
	return bytes.Equal(a.ID, b.ID) && a.CustomerID == b.CustomerID && a.Name == b.Name && bytes.Equal(a.PublicKey, b.PublicKey) &&
		a.SignCount == b.SignCount && slices.Equal(a.Transports, b.Transports) && bytes.Equal(a.AAGUID, b.AAGUID) && a.Flags == b.Flags &&
		a.AttestationFormat == b.AttestationFormat && a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt)
}

// testPasskeyCeremonies: a ceremony is taken once (also against two takes
// at once), never after it lapsed, and replaced by one with the same hash;
// keeping a new one deletes those that lapsed.
func testPasskeyCeremonies(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	reg := store.PasskeyCeremony{Hash: []byte("reg"), Kind: store.CeremonyRegister, CustomerID: f.cust.ID, SessionHash: []byte("session"),
		Data: []byte(`{"challenge":"a"}`), ExpiresAt: now.Add(5 * time.Minute)}
	must(t, s.PutPasskeyCeremony(ctx, reg, now))
	if _, err := s.TakePasskeyCeremony(ctx, []byte("other"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown ceremony: %v", err)
	}
	got, err := s.TakePasskeyCeremony(ctx, reg.Hash, now)
	if err != nil || !bytes.Equal(got.Hash, reg.Hash) || got.Kind != reg.Kind || got.CustomerID != reg.CustomerID || got.Email != "" ||
		!bytes.Equal(got.SessionHash, reg.SessionHash) || !bytes.Equal(got.Data, reg.Data) || !got.ExpiresAt.Equal(reg.ExpiresAt) {
		t.Fatalf("taken: %+v %v, want %+v", got, err, reg)
	}
	if _, err := s.TakePasskeyCeremony(ctx, reg.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("taken twice: %v", err)
	}

	// Begun again before it was finished: the newer one counts.
	in := store.PasskeyCeremony{Hash: []byte("signin"), Kind: store.CeremonySignIn, Email: "ana@example.com", Data: []byte("first"), ExpiresAt: now.Add(time.Minute)}
	must(t, s.PutPasskeyCeremony(ctx, in, now))
	in.Data, in.Email = []byte("second"), ""
	must(t, s.PutPasskeyCeremony(ctx, in, now))
	if got, err := s.TakePasskeyCeremony(ctx, in.Hash, now); err != nil || string(got.Data) != "second" || got.Email != "" || got.Kind != store.CeremonySignIn || got.SessionHash != nil {
		t.Fatalf("replaced: %+v %v", got, err)
	}

	// Lapsed: not taken, and gone.
	lapsed := store.PasskeyCeremony{Hash: []byte("lapsed"), Kind: store.CeremonySignIn, Data: []byte("x"), ExpiresAt: now.Add(time.Minute)}
	must(t, s.PutPasskeyCeremony(ctx, lapsed, now))
	if _, err := s.TakePasskeyCeremony(ctx, lapsed.Hash, now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a lapsed ceremony: %v", err)
	}
	if _, err := s.TakePasskeyCeremony(ctx, lapsed.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a lapsed ceremony stayed: %v", err)
	}
	// Keeping a new ceremony sweeps the lapsed ones.
	stale := store.PasskeyCeremony{Hash: []byte("stale"), Kind: store.CeremonySignIn, Data: []byte("x"), ExpiresAt: now.Add(time.Minute)}
	must(t, s.PutPasskeyCeremony(ctx, stale, now))
	must(t, s.PutPasskeyCeremony(ctx, store.PasskeyCeremony{Hash: []byte("fresh"), Kind: store.CeremonySignIn, Data: []byte("y"), ExpiresAt: now.Add(3 * time.Minute)}, now.Add(2*time.Minute)))
	if _, err := s.TakePasskeyCeremony(ctx, stale.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a lapsed ceremony outlived a sweep: %v", err)
	}

	// Two takes at once: one gets it.
	must(t, s.PutPasskeyCeremony(ctx, store.PasskeyCeremony{Hash: []byte("race"), Kind: store.CeremonySignIn, Data: []byte("z"), ExpiresAt: now.Add(time.Minute)}, now))
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i := range results {
		wg.Go(func() { _, results[i] = s.TakePasskeyCeremony(ctx, []byte("race"), now) })
	}
	wg.Wait()
	if (results[0] == nil) == (results[1] == nil) || !(errors.Is(results[0], store.ErrNotFound) || errors.Is(results[1], store.ErrNotFound)) {
		t.Fatalf("two takes of one ceremony: %v, %v", results[0], results[1])
	}
}
