// Package httpx holds the few HTTP conventions every OpenTeller endpoint
// shares: JSON bodies with size limits, and typed errors shaped
// {"error":{"code":…,"message":…}} whose message a person can read.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/openteller/openteller/pkg/bankapi"
)

// Error is an error meant for a client: an HTTP status, a stable code and a
// human message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

// Errorf makes an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError writes err as a typed error. An error that is not an *Error is
// an internal failure: the client gets a generic message, never its text,
// and the text goes to the node's logger through the writer (see
// InternalErrors).
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		reportInternal(w, err)
		e = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on our side. Please try again."}
	}
	WriteJSON(w, e.Status, bankapi.ErrorBody{Error: &bankapi.Error{Code: e.Code, Message: e.Message}})
}

// InternalErrors is implemented by the response writer the node wraps every
// request's in (its access log), so that an internal error reaches the
// node's configured logger with the request it failed.
type InternalErrors interface {
	InternalError(err error)
}

// reportInternal hands err to the first writer in w's chain that takes
// internal errors. Every request of a node passes one; a handler run
// outside a node (a package's unit test) has none, and the error is dropped
// after the client was told.
func reportInternal(w http.ResponseWriter, err error) {
	for {
		if r, ok := w.(InternalErrors); ok {
			r.InternalError(err)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// presizeMax is the most ReadJSONBody sets aside before a body arrives.
const presizeMax = 256 << 10

// ReadJSONBody checks the content type and reads a body of at most limit
// bytes, for callers that decode it themselves.
func ReadJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	// Sized from Content-Length when the client sent one (io.ReadAll grows
	// from 512 bytes by doubling, and a bank's batch is tens of KiB), up
	// to presizeMax: a length declared is not a body sent.
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(min(r.ContentLength, presizeMax)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	b := buf.Bytes()
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "The request body is larger than %d bytes.", limit)
	}
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}
	if len(b) == 0 {
		return nil, Errorf(http.StatusBadRequest, "invalid_json", "The request body is empty.")
	}
	return b, nil
}

func checkContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
		}
	}
	return nil
}

// DecodeJSON reads a JSON body of at most limit bytes into v, refusing
// unknown fields and trailing data.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "The request body is larger than %d bytes.", limit)
		}
		return Errorf(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON for this endpoint: %s.", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(http.StatusBadRequest, "invalid_json", "The request body has data after its JSON value.")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "it could not be read"
}
