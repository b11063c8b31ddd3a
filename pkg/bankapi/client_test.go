package bankapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sleepRecorder stands in for time.Sleep: it records each requested delay
// and returns at once, so retry tests never wait on the wall clock.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

func testEvents(n int) []Event {
	events := make([]Event, n)
	for i := range events {
		events[i] = Event{
			ID:         fmt.Sprintf("evt_%d", i),
			LinkID:     "lnk_aaaaaaaaaaaaaaaaaaaaaaaaaa",
			Type:       TypeMessage,
			OccurredAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			Data:       Message{Text: "hello"},
		}
	}
	return events
}

// acceptAll answers a well-formed batch the way the platform does.
func acceptAll(t *testing.T, w http.ResponseWriter, r *http.Request) int {
	t.Helper()
	var batch struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		t.Errorf("server: decode batch: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return 0
	}
	var res EventResults
	for i, e := range batch.Events {
		res.Results = append(res.Results, EventResult{ID: e.ID, Status: ResultAccepted, Seq: int64(i + 1)})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
	return len(batch.Events)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ErrorBody{Error: &Error{Code: code, Message: msg}})
}

func TestPostEventsSendsBatchWithBearerKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/events" {
			t.Errorf("got %s %s, want POST /v1/events", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer key_123" {
			t.Errorf("Authorization = %q", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		acceptAll(t, w, r)
	}))
	defer srv.Close()

	c := NewClient(srv.URL+"/", "key_123")
	results, err := c.PostEvents(context.Background(), testEvents(3))
	if err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if len(results) != 3 {
		t.Fatalf("got %d results, want 3", len(results))
	}
	for i, r := range results {
		if r.ID != fmt.Sprintf("evt_%d", i) || r.Status != ResultAccepted || r.Seq != int64(i+1) {
			t.Errorf("result %d = %+v", i, r)
		}
	}
}

func TestPostEventsDecodesPerEventRejections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(EventResults{Results: []EventResult{
			{ID: "evt_0", Status: ResultDuplicate, Seq: 4},
			{ID: "evt_1", Status: ResultRejected, Error: &Error{Code: "consent_revoked", Message: "the customer revoked this link"}},
		}})
	}))
	defer srv.Close()

	results, err := NewClient(srv.URL, "k").PostEvents(context.Background(), testEvents(2))
	if err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if results[0].Status != ResultDuplicate || results[1].Error == nil || results[1].Error.Code != "consent_revoked" {
		t.Errorf("results = %+v", results)
	}
}

func TestPostEventsRetries503ThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	var bodies sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n <= 2 {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "try later")
			return
		}
		bodies.Store(n, true)
		acceptAll(t, w, r)
	}))
	defer srv.Close()

	sleeps := &sleepRecorder{}
	c := NewClient(srv.URL, "k", WithSleep(sleeps.sleep),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}))
	results, err := c.PostEvents(context.Background(), testEvents(2))
	if err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if len(results) != 2 || calls.Load() != 3 {
		t.Fatalf("got %d results after %d calls, want 2 after 3", len(results), calls.Load())
	}
	delays := sleeps.recorded()
	if len(delays) != 2 {
		t.Fatalf("slept %d times, want 2: %v", len(delays), delays)
	}
	// Equal jitter: retry n waits between half the ceiling and the ceiling.
	bounds := [][2]time.Duration{{50 * time.Millisecond, 100 * time.Millisecond}, {100 * time.Millisecond, 200 * time.Millisecond}}
	for i, d := range delays {
		if d < bounds[i][0] || d > bounds[i][1] {
			t.Errorf("delay %d = %v, want within %v", i, d, bounds[i])
		}
	}
}

func TestBackoffIsCappedAtMaxDelay(t *testing.T) {
	c := NewClient("http://unused", "k", WithRetryPolicy(RetryPolicy{BaseDelay: time.Second, MaxDelay: 4 * time.Second}))
	for retry := 1; retry <= 70; retry++ {
		if d := c.backoff(retry); d <= 0 || d > 4*time.Second {
			t.Fatalf("backoff(%d) = %v, want in (0, 4s]", retry, d)
		}
	}
}

func TestPostEventsHonoursRetryAfterSeconds(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			writeError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
			return
		}
		acceptAll(t, w, r)
	}))
	defer srv.Close()

	sleeps := &sleepRecorder{}
	c := NewClient(srv.URL, "k", WithSleep(sleeps.sleep))
	if _, err := c.PostEvents(context.Background(), testEvents(1)); err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if got := sleeps.recorded(); len(got) != 1 || got[0] != 7*time.Second {
		t.Errorf("slept %v, want [7s]", got)
	}
}

func TestPostEventsHonoursRetryAfterDate(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		acceptAll(t, w, r)
	}))
	defer srv.Close()

	sleeps := &sleepRecorder{}
	c := NewClient(srv.URL, "k", WithSleep(sleeps.sleep), WithClock(func() time.Time { return now }))
	if _, err := c.PostEvents(context.Background(), testEvents(1)); err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if got := sleeps.recorded(); len(got) != 1 || got[0] != 90*time.Second {
		t.Errorf("slept %v, want [1m30s]", got)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	c := NewClient("http://unused", "k", WithClock(func() time.Time { return now }))
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", -1},
		{"0", 0},
		{" 3 ", 3 * time.Second},
		{"-5", -1},
		{"soon", -1},
		{"99999999999999", 24 * time.Hour},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(time.Minute).Format(time.RFC850), time.Minute},
	} {
		if got := c.retryAfter(tc.header); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestPostEventsDoesNotRetry400AndDecodesTypedError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeError(w, http.StatusBadRequest, "invalid_json", "the body is not JSON")
	}))
	defer srv.Close()

	sleeps := &sleepRecorder{}
	_, err := NewClient(srv.URL, "k", WithSleep(sleeps.sleep)).PostEvents(context.Background(), testEvents(1))
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not a *Error", err)
	}
	if apiErr.Code != "invalid_json" || apiErr.Message != "the body is not JSON" {
		t.Errorf("error = %+v", apiErr)
	}
	if calls.Load() != 1 || len(sleeps.recorded()) != 0 {
		t.Errorf("made %d calls and %d sleeps, want 1 and 0", calls.Load(), len(sleeps.recorded()))
	}
}

func TestPostEventsDoesNotRetry401(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown API key")
	}))
	defer srv.Close()

	_, err := NewClient(srv.URL, "k", WithSleep((&sleepRecorder{}).sleep)).PostEvents(context.Background(), testEvents(1))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "unauthorized" {
		t.Fatalf("error = %v, want unauthorized", err)
	}
	if calls.Load() != 1 {
		t.Errorf("made %d calls, want 1", calls.Load())
	}
}

func TestPostEventsGivesUpWithHTTPStatusCode(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>bad gateway</html>")
	}))
	defer srv.Close()

	sleeps := &sleepRecorder{}
	_, err := NewClient(srv.URL, "k", WithSleep(sleeps.sleep), WithMaxAttempts(3)).PostEvents(context.Background(), testEvents(1))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "http_502" {
		t.Fatalf("error = %v, want code http_502", err)
	}
	if calls.Load() != 3 || len(sleeps.recorded()) != 2 {
		t.Errorf("made %d calls and %d sleeps, want 3 and 2", calls.Load(), len(sleeps.recorded()))
	}
}

func TestPostEventsRetriesNetworkError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// Drop the connection without answering, as a crashed node would.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
			return
		}
		acceptAll(t, w, r)
	}))
	defer srv.Close()

	sleeps := &sleepRecorder{}
	results, err := NewClient(srv.URL, "k", WithSleep(sleeps.sleep)).PostEvents(context.Background(), testEvents(2))
	if err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if len(results) != 2 || calls.Load() != 2 {
		t.Errorf("got %d results after %d calls, want 2 after 2", len(results), calls.Load())
	}
}

func TestPostEventsStopsRetryingWhenContextIsCancelled(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "down")
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The caller gives up while the client waits to retry.
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	_, err := NewClient(srv.URL, "k", WithSleep(sleep), WithMaxAttempts(10)).PostEvents(ctx, testEvents(1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "unavailable" {
		t.Errorf("error = %v, want it to carry the last answer", err)
	}
	if calls.Load() != 1 {
		t.Errorf("made %d calls, want 1", calls.Load())
	}
}

func TestPostEventsStopsWhenContextEndsDuringRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		cancel() // the caller gives up while the platform is still working
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release) // runs first: never leave the handler blocked

	sleeps := &sleepRecorder{}
	_, err := NewClient(srv.URL, "k", WithSleep(sleeps.sleep)).PostEvents(ctx, testEvents(1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if calls.Load() != 1 || len(sleeps.recorded()) != 0 {
		t.Errorf("made %d calls and %d sleeps, want 1 and none: the caller has gone", calls.Load(), len(sleeps.recorded()))
	}
}

func TestPostEventsSplitsLargeBatches(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := acceptAll(t, w, r)
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
	}))
	defer srv.Close()

	events := testEvents(2*MaxBatch + 1)
	results, err := NewClient(srv.URL, "k").PostEvents(context.Background(), events)
	if err != nil {
		t.Fatalf("PostEvents: %v", err)
	}
	if fmt.Sprint(sizes) != fmt.Sprint([]int{MaxBatch, MaxBatch, 1}) {
		t.Errorf("batch sizes = %v", sizes)
	}
	if len(results) != len(events) {
		t.Fatalf("got %d results, want %d", len(results), len(events))
	}
	for i, r := range results {
		if r.ID != events[i].ID {
			t.Fatalf("result %d is for %s, want %s", i, r.ID, events[i].ID)
		}
	}
}

func TestPostEventsReturnsEarlierResultsWhenALaterBatchFails(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			writeError(w, http.StatusUnauthorized, "unauthorized", "key revoked")
			return
		}
		acceptAll(t, w, r)
	}))
	defer srv.Close()

	results, err := NewClient(srv.URL, "k").PostEvents(context.Background(), testEvents(MaxBatch+10))
	if err == nil {
		t.Fatal("PostEvents succeeded, want an error from the second batch")
	}
	if len(results) != MaxBatch {
		t.Errorf("got %d results, want the first batch's %d", len(results), MaxBatch)
	}
}

func TestPostEventsRejectsMismatchedResultCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(EventResults{Results: []EventResult{{ID: "evt_0", Status: ResultAccepted}}})
	}))
	defer srv.Close()

	if _, err := NewClient(srv.URL, "k").PostEvents(context.Background(), testEvents(2)); err == nil {
		t.Fatal("PostEvents accepted 1 result for 2 events")
	}
}

func TestPostEventsWithNoEventsMakesNoRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("unexpected request")
	}))
	defer srv.Close()

	results, err := NewClient(srv.URL, "k").PostEvents(context.Background(), nil)
	if err != nil || len(results) != 0 {
		t.Fatalf("PostEvents(nil) = %v, %v", results, err)
	}
}
