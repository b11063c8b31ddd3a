package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// testCloseAnswersEveryWrite: closing a store answers every write that
// raced it, stored or refused, so that no caller waits for ever while a
// node shuts down.
func testCloseAnswersEveryWrite(t *testing.T, s store.Store) {
	f := setup(t, s, "transactions")
	const callers = 32
	var wg sync.WaitGroup
	started := make(chan struct{}, callers)
	for c := range callers {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := s.AppendEvents(context.Background(), []store.NewEvent{event(f, fmt.Sprintf("close_%d_%d", c, i), "transaction.posted", "transactions", fmt.Sprint(i))})
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					return // the store closed
				}
			}
		})
	}
	for range callers {
		<-started
	}
	s.Close()
	answered := make(chan struct{})
	go func() {
		wg.Wait()
		close(answered)
	}()
	select {
	case <-answered:
	case <-time.After(time.Minute):
		t.Fatal("appends that raced Close still wait for an answer a minute later")
	}
}
