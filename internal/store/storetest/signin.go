package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Sign-in beyond the password (issue 12): reset tokens, re-authentication,
// the second factor with its recovery codes, and institutions' brands.

// testPasswordResets: a reset token is spent once, not after its expiry,
// and spending it sets the password and ends every session of the
// customer, and every other token of theirs, in one go. Expired tokens are
// swept.
func testPasswordResets(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	for _, id := range []string{"a", "b"} {
		must(t, s.CreateSession(ctx, store.Session{IDHash: []byte(id), CustomerID: f.cust.ID, CSRFToken: "t", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, f.cust.PasswordHash))
	}
	tok := func(h string, expires time.Time) store.ResetToken {
		return store.ResetToken{Hash: []byte(h), CustomerID: f.cust.ID, CreatedAt: now, ExpiresAt: expires}
	}
	must(t, s.CreateResetToken(ctx, tok("one", now.Add(30*time.Minute))))
	must(t, s.CreateResetToken(ctx, tok("two", now.Add(30*time.Minute))))
	must(t, s.CreateResetToken(ctx, tok("lapsed", now.Add(-time.Minute))))
	if err := s.CreateResetToken(ctx, tok("one", now.Add(time.Hour))); !errors.Is(err, store.ErrExists) {
		t.Fatalf("the same token twice: %v", err)
	}

	if _, err := s.ResetPassword(ctx, []byte("lapsed"), "$argon2id$lapsed", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired token: %v", err)
	}
	if _, err := s.ResetPassword(ctx, []byte("never"), "$argon2id$never", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown token: %v", err)
	}
	if c, _ := s.Customer(ctx, f.cust.ID); c.PasswordHash != f.cust.PasswordHash {
		t.Fatalf("a refused token changed the password to %q", c.PasswordHash)
	}
	if _, err := s.Session(ctx, []byte("a")); err != nil {
		t.Fatalf("a refused token ended a session: %v", err)
	}

	// Two spends of one token at once: one wins.
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i := range results {
		wg.Go(func() {
			_, results[i] = s.ResetPassword(ctx, []byte("one"), "$argon2id$reset", now)
		})
	}
	wg.Wait()
	if (results[0] == nil) == (results[1] == nil) || !(errors.Is(results[0], store.ErrNotFound) || errors.Is(results[1], store.ErrNotFound)) {
		t.Fatalf("two spends of one token: %v, %v; want one to win and the other ErrNotFound", results[0], results[1])
	}
	if c, _ := s.Customer(ctx, f.cust.ID); c.PasswordHash != "$argon2id$reset" {
		t.Fatalf("password hash after the reset = %q", c.PasswordHash)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := s.Session(ctx, []byte(id)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session %s outlived the reset: %v", id, err)
		}
	}
	// The customer's other token went with it.
	if _, err := s.ResetPassword(ctx, []byte("two"), "$argon2id$again", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another token of the customer after a reset: %v", err)
	}
	if id, err := s.ResetPassword(ctx, []byte("one"), "$argon2id$again", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the spent token again: %q %v", id, err)
	}

	must(t, s.CreateResetToken(ctx, tok("later", now.Add(time.Minute))))
	must(t, s.CreateResetToken(ctx, tok("lapsed2", now.Add(-time.Second))))
	n, err := s.SweepExpired(ctx, now)
	must(t, err)
	if n != 1 { // "lapsed" went with the reset
		t.Fatalf("swept %d rows, want the one lapsed token", n)
	}
	id, err := s.ResetPassword(ctx, []byte("later"), "$argon2id$later", now)
	if err != nil || id != f.cust.ID {
		t.Fatalf("a live token after the sweep: %q %v", id, err)
	}

	// A new password, chosen while signed in, spends every reset link asked
	// for before it: an old link must not undo it.
	must(t, s.CreateResetToken(ctx, tok("before-change", now.Add(time.Hour))))
	must(t, s.SetPassword(ctx, f.cust.ID, "$argon2id$changed", nil))
	if _, err := s.ResetPassword(ctx, []byte("before-change"), "$argon2id$undo", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a reset link from before a new password: %v", err)
	}
	if c, _ := s.Customer(ctx, f.cust.ID); c.PasswordHash != "$argon2id$changed" {
		t.Fatalf("password hash %q after an old reset link was tried", c.PasswordHash)
	}
}

// testReauth: a live session's re-authentication is kept (the newest
// wins) and goes with the session.
func testReauth(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	must(t, s.CreateSession(ctx, store.Session{IDHash: []byte("dev"), CustomerID: f.cust.ID, CSRFToken: "t", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, f.cust.PasswordHash))
	must(t, s.CreateSession(ctx, store.Session{IDHash: []byte("gone"), CustomerID: f.cust.ID, CSRFToken: "t", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}, f.cust.PasswordHash))
	if at, err := s.LastReauth(ctx, []byte("dev")); err != nil || !at.IsZero() {
		t.Fatalf("before any: %v %v", at, err)
	}
	must(t, s.Reauthenticated(ctx, []byte("dev"), now.Add(time.Minute)))
	must(t, s.Reauthenticated(ctx, []byte("dev"), now)) // an older answer arriving late
	if at, err := s.LastReauth(ctx, []byte("dev")); err != nil || !at.Equal(now.Add(time.Minute)) {
		t.Fatalf("last reauth = %v %v, want %v", at, err, now.Add(time.Minute))
	}
	for _, id := range []string{"gone", "nothing"} {
		if err := s.Reauthenticated(ctx, []byte(id), now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("reauth of session %q: %v", id, err)
		}
	}
	must(t, s.DeleteSession(ctx, []byte("dev")))
	if at, err := s.LastReauth(ctx, []byte("dev")); err != nil || !at.IsZero() {
		t.Fatalf("after the session ended: %v %v", at, err)
	}
}

// testTOTP: a second factor is set up, confirmed once, refuses a step used
// before (also two uses at once), and goes with its recovery codes, each
// spent once.
func testTOTP(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	if _, err := s.TOTP(ctx, f.cust.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("none yet: %v", err)
	}
	if err := s.UseTOTPStep(ctx, f.cust.ID, 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a step without a second factor: %v", err)
	}
	if err := s.ConfirmTOTP(ctx, f.cust.ID, 5, nil, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("confirm with nothing set up: %v", err)
	}
	must(t, s.PutTOTP(ctx, store.TOTP{CustomerID: f.cust.ID, Sealed: []byte("sealed-1"), CreatedAt: now}))
	must(t, s.PutTOTP(ctx, store.TOTP{CustomerID: f.cust.ID, Sealed: []byte("sealed-2"), CreatedAt: now})) // set up again
	got, err := s.TOTP(ctx, f.cust.ID)
	must(t, err)
	if !bytes.Equal(got.Sealed, []byte("sealed-2")) || !got.ConfirmedAt.IsZero() || got.LastStep != 0 {
		t.Fatalf("being set up: %+v", got)
	}
	if err := s.UseTOTPStep(ctx, f.cust.ID, 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a step before confirmation: %v", err)
	}

	codes := [][]byte{[]byte("h1"), []byte("h2"), []byte("h3")}
	must(t, s.ConfirmTOTP(ctx, f.cust.ID, 100, codes, now))
	if err := s.ConfirmTOTP(ctx, f.cust.ID, 101, nil, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("confirmed twice: %v", err)
	}
	if err := s.PutTOTP(ctx, store.TOTP{CustomerID: f.cust.ID, Sealed: []byte("sealed-3"), CreatedAt: now}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("set up over a confirmed one: %v", err)
	}
	got, err = s.TOTP(ctx, f.cust.ID)
	must(t, err)
	if !bytes.Equal(got.Sealed, []byte("sealed-2")) || !got.ConfirmedAt.Equal(now) || got.LastStep != 100 || got.RecoveryCodesLeft != 3 {
		t.Fatalf("confirmed: %+v", got)
	}

	for _, step := range []int64{99, 100} {
		if err := s.UseTOTPStep(ctx, f.cust.ID, step); !errors.Is(err, store.ErrCodeUsed) {
			t.Fatalf("step %d at or before the last used: %v", step, err)
		}
	}
	// Two uses of the next step at once: one is accepted.
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i := range results {
		wg.Go(func() { results[i] = s.UseTOTPStep(ctx, f.cust.ID, 101) })
	}
	wg.Wait()
	if (results[0] == nil) == (results[1] == nil) || !(errors.Is(results[0], store.ErrCodeUsed) || errors.Is(results[1], store.ErrCodeUsed)) {
		t.Fatalf("one code used twice at once: %v, %v", results[0], results[1])
	}
	must(t, s.UseTOTPStep(ctx, f.cust.ID, 103))
	if got, _ := s.TOTP(ctx, f.cust.ID); got.LastStep != 103 {
		t.Fatalf("last step = %d", got.LastStep)
	}

	must(t, s.UseRecoveryCode(ctx, f.cust.ID, []byte("h2"), now))
	if err := s.UseRecoveryCode(ctx, f.cust.ID, []byte("h2"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a recovery code twice: %v", err)
	}
	if err := s.UseRecoveryCode(ctx, f.cust.ID, []byte("nope"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown recovery code: %v", err)
	}
	if got, _ := s.TOTP(ctx, f.cust.ID); got.RecoveryCodesLeft != 2 {
		t.Fatalf("codes left = %d, want 2", got.RecoveryCodesLeft)
	}
	// Another customer's codes are theirs.
	other := store.Customer{ID: "cus_2", Email: "bo@example.com", PasswordHash: "$argon2id$y", CreatedAt: t0}
	must(t, s.CreateCustomer(ctx, other))
	if err := s.UseRecoveryCode(ctx, other.ID, []byte("h1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another customer's recovery code: %v", err)
	}

	// New codes replace the old, spent or not.
	must(t, s.SetRecoveryCodes(ctx, f.cust.ID, [][]byte{[]byte("n1"), []byte("n2")}, now))
	if err := s.UseRecoveryCode(ctx, f.cust.ID, []byte("h1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an old recovery code after new ones: %v", err)
	}
	if got, _ := s.TOTP(ctx, f.cust.ID); got.RecoveryCodesLeft != 2 {
		t.Fatalf("codes left after new ones = %d", got.RecoveryCodesLeft)
	}

	must(t, s.DeleteTOTP(ctx, f.cust.ID))
	if _, err := s.TOTP(ctx, f.cust.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after turning it off: %v", err)
	}
	if err := s.UseRecoveryCode(ctx, f.cust.ID, []byte("n1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a recovery code after turning it off: %v", err)
	}
	// It can be set up afresh.
	must(t, s.PutTOTP(ctx, store.TOTP{CustomerID: f.cust.ID, Sealed: []byte("sealed-4"), CreatedAt: now}))
	if got, _ := s.TOTP(ctx, f.cust.ID); !got.ConfirmedAt.IsZero() || got.RecoveryCodesLeft != 0 {
		t.Fatalf("set up afresh: %+v", got)
	}
}

// testBrands: an institution's brand is kept and replaced whole; Brands
// lists them without the logos' bytes.
func testBrands(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	now := time.Now().Truncate(time.Microsecond)
	if _, err := s.Brand(ctx, f.inst.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no brand yet: %v", err)
	}
	if err := s.SetBrand(ctx, store.Brand{InstitutionID: "ins_none", Color: "#123456", UpdatedAt: now}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown institution's brand: %v", err)
	}
	logo := []byte("\x89PNG\r\n\x1a\nlogo")
	must(t, s.SetBrand(ctx, store.Brand{InstitutionID: f.inst.ID, Color: "#0a5c36", Logo: logo, LogoType: "image/png", UpdatedAt: now}))
	must(t, s.SetBrand(ctx, store.Brand{InstitutionID: f.other.ID, Color: "#ffcc00", UpdatedAt: now}))
	got, err := s.Brand(ctx, f.inst.ID)
	must(t, err)
	if got.Color != "#0a5c36" || !bytes.Equal(got.Logo, logo) || got.LogoType != "image/png" || !got.UpdatedAt.Equal(now) {
		t.Fatalf("brand = %+v", got)
	}
	all, err := s.Brands(ctx)
	must(t, err)
	if len(all) != 2 || all[0].InstitutionID != f.inst.ID || all[0].LogoType != "image/png" || all[0].Logo != nil || all[1].Color != "#ffcc00" || all[1].LogoType != "" {
		t.Fatalf("brands = %+v", all)
	}
	// Replaced whole: a brand without a logo has none.
	must(t, s.SetBrand(ctx, store.Brand{InstitutionID: f.inst.ID, Color: "#000000", UpdatedAt: now.Add(time.Second)}))
	got, err = s.Brand(ctx, f.inst.ID)
	must(t, err)
	if got.Color != "#000000" || len(got.Logo) != 0 || got.LogoType != "" || !got.UpdatedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("brand replaced = %+v", got)
	}
}
