package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/i18n"
	"github.com/openteller/openteller/internal/store"
)

// A customer's language is kept with their account (store.Customer.Language)
// as well as on each browser (i18n.CookieName), so that it follows them:
//
//   - Choosing one while signed in (the privacy center's picker) keeps it
//     on the account (SetLanguage, PUT /app/api/language) and sets this
//     browser's cookie.
//   - Signing in (with a password or a passkey) sets the browser's cookie
//     from the account when the account has one: the account's choice wins
//     over whatever this browser had, and the page switches to it (it
//     reads "language" in the answer).
//   - Signing up keeps the language chosen on this browser (its cookie),
//     if any, with the new account. Accept-Language alone is not a choice,
//     and is not kept.
//   - What the server writes a customer with no browser at hand is in the
//     account's language: pushes (package push reads it from the store) and
//     reset mail (ResetMail.Lang).

func errInvalidLanguage() *httpx.Error {
	codes := make([]string, 0, 4)
	for _, l := range i18n.Languages() {
		codes = append(codes, l.Code)
	}
	return httpx.Errorf(http.StatusBadRequest, "invalid_language", "OpenTeller speaks %s: choose one of them.", strings.Join(codes, ", "))
}

// SetLanguage keeps lang as the customer's language. Errors for the client
// are *httpx.Error: 400 invalid_language for a code OpenTeller does not
// speak (nothing changes).
func (s *Service) SetLanguage(ctx context.Context, customerID, lang string) error {
	if !i18n.Supported(lang) {
		return errInvalidLanguage()
	}
	switch err := s.st.SetCustomerLanguage(ctx, customerID, lang); {
	case errors.Is(err, store.ErrNotFound): // the account is gone
		return errSignedOut()
	case err != nil:
		return fmt.Errorf("auth: set the language of %s: %w", customerID, err)
	}
	return nil
}

// chosenLanguage is the language the person chose on this browser (its
// cookie), or "" for none OpenTeller speaks.
func chosenLanguage(r *http.Request) string {
	if c, err := r.Cookie(i18n.CookieName); err == nil && i18n.Supported(c.Value) {
		return c.Value
	}
	return ""
}

// rememberLanguage sets this browser's language cookie to lang, the
// account's, when it has one.
func (s *Service) rememberLanguage(w http.ResponseWriter, r *http.Request, lang string) {
	if !i18n.Supported(lang) {
		return
	}
	http.SetCookie(w, i18n.Cookie(lang, r.TLS != nil || strings.HasPrefix(s.baseURL, "https://")))
}

// handleLanguage serves PUT /app/api/language {"language"}: the account's
// language, and this browser's.
func (s *Service) handleLanguage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Language string `json:"language"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	se, _ := SessionFrom(r.Context())
	if err := s.SetLanguage(r.Context(), se.CustomerID, in.Language); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.rememberLanguage(w, r, in.Language)
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"language": in.Language})
}
