package postgres

import (
	"context"
	"testing"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/storetest"
	"github.com/openteller/openteller/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		url := testenv.PostgresSchema(t)
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	url := testenv.PostgresSchema(t)
	for range 2 {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}
