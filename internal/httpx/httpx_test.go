package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadJSONBody reads bodies whose declared length is right, missing,
// larger than what was sent, or past the limit: what is returned is what
// was sent, and a body past the limit is refused whatever it declared.
func TestReadJSONBody(t *testing.T) {
	body := `{"events":[` + strings.Repeat(`{"id":"b1"},`, 2000) + `{"id":"b2"}]}`
	for _, c := range []struct {
		name     string
		body     string
		declared int64 // -1: none (chunked)
		limit    int64
		status   int // 0: read
	}{
		{"declared", body, int64(len(body)), 1 << 20, 0},
		{"chunked", body, -1, 1 << 20, 0},
		{"declared more than sent", `{"a":1}`, 4 << 20, 8 << 20, 0},
		{"declared past the limit", body, int64(len(body)), 1024, http.StatusRequestEntityTooLarge},
		{"chunked past the limit", body, -1, 1024, http.StatusRequestEntityTooLarge},
		{"empty", "", 0, 1024, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/json")
			r.ContentLength = c.declared
			b, err := ReadJSONBody(httptest.NewRecorder(), r, c.limit)
			if c.status == 0 {
				if err != nil || string(b) != c.body {
					t.Fatalf("read %d bytes (%v), want the %d sent", len(b), err, len(c.body))
				}
				return
			}
			var he *Error
			if !errors.As(err, &he) || he.Status != c.status {
				t.Fatalf("err %v, want status %d", err, c.status)
			}
		})
	}
}
