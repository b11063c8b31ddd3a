package bankapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how hard the Client tries before giving up on a batch.
//
// Only failures that may be transient are retried: network errors, 429 and
// 5xx answers. Every other 4xx is final, because sending the same request
// again would get the same answer.
type RetryPolicy struct {
	// MaxAttempts counts every try, the first included; 1 turns retries off.
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry; it doubles
	// with each retry up to MaxDelay. The actual wait is drawn between half
	// the ceiling and the ceiling ("equal jitter"), so banks that failed
	// together do not retry together, and no retry comes back at once.
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// defaultRetryPolicy gives up after about 15 s of waiting in the worst case.
var defaultRetryPolicy = RetryPolicy{MaxAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: 8 * time.Second}

// Client posts events to an OpenTeller platform's Bank API. It is safe for
// concurrent use by multiple goroutines.
type Client struct {
	eventsURL  string
	apiKey     string
	httpClient *http.Client
	retry      RetryPolicy
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for requests. The default has a
// 30 second timeout per attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.httpClient = hc }
}

// WithRetryPolicy replaces the retry policy. Zero fields keep their defaults
// (5 attempts, 500 ms base delay, 8 s maximum delay).
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) {
		if p.MaxAttempts > 0 {
			c.retry.MaxAttempts = p.MaxAttempts
		}
		if p.BaseDelay > 0 {
			c.retry.BaseDelay = p.BaseDelay
		}
		if p.MaxDelay > 0 {
			c.retry.MaxDelay = p.MaxDelay
		}
	}
}

// WithMaxAttempts sets how many times a batch is tried in all; 1 turns
// retries off.
func WithMaxAttempts(n int) Option {
	return WithRetryPolicy(RetryPolicy{MaxAttempts: n})
}

// WithSleep replaces the function that waits between attempts. It must
// return ctx.Err() if ctx ends first. Tests inject one that records the
// delays instead of sleeping.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithClock sets the clock used to turn a Retry-After HTTP date into a delay.
func WithClock(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// NewClient returns a client for the platform at baseURL (for example
// "https://openteller.example.com"), authenticating with the institution's
// API key.
func NewClient(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		eventsURL:  strings.TrimRight(baseURL, "/") + "/v1/events",
		apiKey:     apiKey,
		httpClient: &http.Client{Timeout: 30 * time.Second},
		retry:      defaultRetryPolicy,
		sleep:      sleepContext,
		now:        time.Now,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// PostEvents posts events to the platform and returns one result per event,
// in the order given. A result's Status says whether the platform accepted
// the event, already had it (duplicate), or rejected it (Error says why); a
// rejected event stored nothing.
//
// More than MaxBatch events are sent as several requests, one after the
// other. If one of them fails, PostEvents returns the results of the
// requests that succeeded before it together with the error.
//
// Failures that may be transient (network errors, 429, 5xx) are retried with
// exponential backoff and jitter, honouring the platform's Retry-After.
// Retrying is safe because an event's ID is its idempotency key: an event
// the platform stored before the answer was lost comes back as "duplicate",
// never as a second copy. Other 4xx answers are not retried.
//
// A non-2xx answer is returned as a *Error (find it with errors.As): its
// code is the platform's ("unauthorized", "batch_too_large", …), or
// "http_<status>" when the body is not the platform's error shape.
func (c *Client) PostEvents(ctx context.Context, events []Event) ([]EventResult, error) {
	results := make([]EventResult, 0, len(events))
	for start := 0; start < len(events); start += MaxBatch {
		chunk := events[start:min(start+MaxBatch, len(events))]
		got, err := c.postBatch(ctx, chunk)
		if err != nil {
			return results, fmt.Errorf("bankapi: post events: %w", err)
		}
		results = append(results, got...)
	}
	return results, nil
}

// postBatch posts one batch of at most MaxBatch events, retrying per policy.
func (c *Client) postBatch(ctx context.Context, events []Event) ([]EventResult, error) {
	// Encode once: every attempt sends byte-for-byte the same body, which is
	// what makes a retry an idempotent replay.
	body, err := json.Marshal(EventBatch{Events: events})
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		results, retryAfter, err := c.attempt(ctx, body, len(events))
		if err == nil {
			return results, nil
		}
		var transient *transientError
		if !errors.As(err, &transient) {
			return nil, err
		}
		lastErr = transient.err
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (last attempt: %w)", ctx.Err(), lastErr)
		}
		if attempt >= c.retry.MaxAttempts {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt, lastErr)
		}
		delay := c.backoff(attempt)
		if retryAfter >= 0 {
			delay = retryAfter
		}
		if err := c.sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("%w (last attempt: %w)", err, lastErr)
		}
	}
}

// transientError marks a failure worth retrying.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// maxErrorBody bounds how much of an error answer is read; the platform's
// error bodies are a few hundred bytes.
const maxErrorBody = 64 << 10

// maxResultsBody bounds a results answer: MaxBatch results with error
// messages fit comfortably.
const maxResultsBody = 8 << 20

// attempt makes one request. It returns the Retry-After delay the platform
// asked for, or -1 when it named none.
func (c *Client) attempt(ctx context.Context, body []byte, n int) ([]EventResult, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.eventsURL, bytes.NewReader(body))
	if err != nil {
		return nil, -1, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "openteller-bankapi-go")

	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, -1, &transientError{err}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := decodeError(resp)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, c.retryAfter(resp.Header.Get("Retry-After")), &transientError{apiErr}
		}
		return nil, -1, apiErr
	}

	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResultsBody))
	if err != nil {
		// The platform may have stored the batch before the connection
		// broke; the replay will say "duplicate" for those events.
		return nil, -1, &transientError{fmt.Errorf("read results: %w", err)}
	}
	var decoded EventResults
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, -1, fmt.Errorf("decode results: %w", err)
	}
	if len(decoded.Results) != n {
		return nil, -1, fmt.Errorf("decode results: got %d results for %d events", len(decoded.Results), n)
	}
	return decoded.Results, -1, nil
}

// decodeError turns a non-2xx answer into the platform's typed error, or an
// "http_<status>" one when the body is something else (a proxy's HTML page).
func decodeError(resp *http.Response) *Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body ErrorBody
	if json.Unmarshal(raw, &body) == nil && body.Error != nil && body.Error.Code != "" {
		return body.Error
	}
	return &Error{
		Code:    "http_" + strconv.Itoa(resp.StatusCode),
		Message: "unexpected answer: " + resp.Status,
	}
}

// retryAfter parses a Retry-After header, either delay-seconds or an HTTP
// date (RFC 9110 §10.2.3). It returns -1 when the header is absent or
// unreadable, so the computed backoff applies.
func (c *Client) retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		// Cap before converting so a huge value cannot overflow.
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(c.now()), 0)
	}
	return -1
}

// backoff returns the wait before retry number retry (1-based): a ceiling
// that doubles from BaseDelay up to MaxDelay, with the wait drawn uniformly
// from the upper half of it.
func (c *Client) backoff(retry int) time.Duration {
	ceiling := c.retry.BaseDelay
	for i := 1; i < retry && ceiling < c.retry.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.retry.MaxDelay)
	half := ceiling / 2
	if half <= 0 {
		return ceiling
	}
	return half + rand.N(half+1)
}

// sleepContext waits for d or until ctx ends, whichever is first.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
