package storetest

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"testing"

	"github.com/openteller/openteller/internal/store"
)

// testCustomerLanguage: a customer's language is kept with the account —
// none at first, as created, replaced, and cleared — and read back by
// Customer, CustomerByEmail and CustomerLanguages, which leaves out whoever
// chose none and whoever does not exist; an unknown customer's is
// ErrNotFound, and changes no one's.
func testCustomerLanguage(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := setup(t, s)
	fr := store.Customer{ID: "cus_fr", Email: "fleur@example.com", PasswordHash: "x", CreatedAt: t0, Language: "fr"}
	must(t, s.CreateCustomer(ctx, fr))
	ids := []string{f.cust.ID, fr.ID, "cus_nobody"}
	languages := func(want map[string]string) {
		t.Helper()
		got, err := s.CustomerLanguages(ctx, ids)
		must(t, err)
		if !maps.Equal(got, want) {
			t.Fatalf("CustomerLanguages = %v, want %v", got, want)
		}
	}
	language := func(id, want string) {
		t.Helper()
		c, err := s.Customer(ctx, id)
		must(t, err)
		byEmail, err := s.CustomerByEmail(ctx, c.Email)
		must(t, err)
		if c.Language != want || byEmail.Language != want {
			t.Fatalf("%s's language: %q by id, %q by email, want %q", id, c.Language, byEmail.Language, want)
		}
	}
	language(f.cust.ID, "")
	language(fr.ID, "fr")
	languages(map[string]string{fr.ID: "fr"})

	must(t, s.SetCustomerLanguage(ctx, f.cust.ID, "it"))
	must(t, s.SetCustomerLanguage(ctx, f.cust.ID, "pt"))
	must(t, s.SetCustomerLanguage(ctx, f.cust.ID, "pt")) // the same again is no error
	language(f.cust.ID, "pt")
	languages(map[string]string{f.cust.ID: "pt", fr.ID: "fr"})

	if err := s.SetCustomerLanguage(ctx, "cus_nobody", "it"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown customer's language: %v", err)
	}
	must(t, s.SetCustomerLanguage(ctx, fr.ID, ""))
	language(fr.ID, "")
	languages(map[string]string{f.cust.ID: "pt"})
	// The rest of the account is as it was.
	if c, err := s.Customer(ctx, f.cust.ID); err != nil || c.Email != f.cust.Email || c.PasswordHash != f.cust.PasswordHash || !c.CreatedAt.Equal(f.cust.CreatedAt) {
		t.Fatalf("the account after its language changed: %+v, %v", c, err)
	}

	// Many at once (more than one IN list), and none.
	many := make([]string, 0, 1201)
	for i := range 1200 {
		many = append(many, "cus_none_"+strconv.Itoa(i))
	}
	got, err := s.CustomerLanguages(ctx, append(many, f.cust.ID))
	must(t, err)
	if !maps.Equal(got, map[string]string{f.cust.ID: "pt"}) {
		t.Fatalf("CustomerLanguages of many: %v", got)
	}
	if got, err := s.CustomerLanguages(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("CustomerLanguages of none: %v, %v", got, err)
	}
}
