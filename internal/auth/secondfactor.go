package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// The second factor: a TOTP app, set up by the customer, asked for after
// the password at sign-in and at re-authentication, with recovery codes
// for a lost phone.
//
// The TOTP secret is sealed by the vault under the customer's sign-in key
// (vault.SignInKey), bound to the record "totp/<customer id>", and opened
// only to check a code; the store never holds it in the clear. Recovery
// codes are kept as hashes. A code is accepted once: the store keeps the
// newest time step used, and refuses that step or an earlier one.

func errCodeRequired(status int) *httpx.Error {
	return httpx.Errorf(status, "code_required", "Enter the 6-digit code from your authenticator app, or one of your recovery codes.")
}

func errInvalidCode(status int) *httpx.Error {
	return httpx.Errorf(status, "invalid_code", "That code didn’t work: it may be mistyped, or used already. Wait for a new code in your app and try again, or use a recovery code.")
}

func errTOTPEnabled() *httpx.Error {
	return httpx.Errorf(http.StatusConflict, "totp_enabled", "Two-step sign-in is already on. To move it to another app, turn it off first.")
}

func errTOTPNotStarted() *httpx.Error {
	return httpx.Errorf(http.StatusConflict, "totp_not_started", "Start setting up two-step sign-in first.")
}

func errTOTPNotEnabled() *httpx.Error {
	return httpx.Errorf(http.StatusConflict, "totp_not_enabled", "Two-step sign-in is off, so there are no recovery codes.")
}

func totpRecord(customerID string) string { return "totp/" + customerID }

// TOTPSetup is what the customer copies into their authenticator app.
type TOTPSetup struct {
	Secret string `json:"secret"` // base32, in groups of four
	URI    string `json:"uri"`    // otpauth://totp/…
}

// SetupTOTP starts setting up a second factor for the customer: a new
// secret, sealed and kept unconfirmed (it guards nothing until
// ConfirmTOTP). Setting up again replaces an unconfirmed one. 409
// totp_enabled when one is on.
func (s *Service) SetupTOTP(ctx context.Context, customerID string) (TOTPSetup, error) {
	c, err := s.st.Customer(ctx, customerID)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("auth: set up totp for %s: %w", customerID, err)
	}
	if t, err := s.st.TOTP(ctx, customerID); err == nil && !t.ConfirmedAt.IsZero() {
		return TOTPSetup{}, errTOTPEnabled()
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return TOTPSetup{}, fmt.Errorf("auth: set up totp for %s: %w", customerID, err)
	}
	secret := newTOTPSecret()
	defer clear(secret)
	sealed, err := s.keyring.Seal(ctx, vault.SignInKey(customerID), totpRecord(customerID), secret)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("auth: seal totp secret of %s: %w", customerID, err)
	}
	switch err := s.st.PutTOTP(ctx, store.TOTP{CustomerID: customerID, Sealed: sealed, CreatedAt: s.now().UTC()}); {
	case errors.Is(err, store.ErrExists):
		return TOTPSetup{}, errTOTPEnabled()
	case err != nil:
		return TOTPSetup{}, fmt.Errorf("auth: keep totp of %s: %w", customerID, err)
	}
	s.log.InfoContext(ctx, "auth: second factor being set up", "customer", customerID)
	return TOTPSetup{Secret: secretText(secret), URI: otpauthURI(secret, c.Email)}, nil
}

// ConfirmTOTP turns the second factor on once the customer shows a code of
// the new secret, and returns their recovery codes, shown this once. 400
// invalid_code for a wrong code; 409 totp_not_started, totp_enabled.
func (s *Service) ConfirmTOTP(ctx context.Context, customerID, code string) ([]string, error) {
	t, err := s.st.TOTP(ctx, customerID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errTOTPNotStarted()
	case err != nil:
		return nil, fmt.Errorf("auth: confirm totp of %s: %w", customerID, err)
	case !t.ConfirmedAt.IsZero():
		return nil, errTOTPEnabled()
	}
	code = normalizeCode(code)
	if !isTOTPCode(code) {
		return nil, errInvalidCode(http.StatusBadRequest)
	}
	secret, err := s.keyring.OpenMACKey(ctx, vault.SignInKey(customerID), totpRecord(customerID), t.Sealed)
	if err != nil {
		return nil, fmt.Errorf("auth: open totp secret of %s: %w", customerID, err)
	}
	step, ok := matchTOTP(secret, code, s.now())
	if !ok {
		return nil, errInvalidCode(http.StatusBadRequest)
	}
	codes, hashes := s.recoveryCodes(customerID)
	switch err := s.st.ConfirmTOTP(ctx, customerID, step, hashes, s.now().UTC()); {
	case errors.Is(err, store.ErrNotFound): // confirmed or replaced meanwhile
		return nil, errTOTPNotStarted()
	case err != nil:
		return nil, fmt.Errorf("auth: confirm totp of %s: %w", customerID, err)
	}
	s.log.InfoContext(ctx, "auth: second factor on", "customer", customerID)
	return codes, nil
}

func (s *Service) recoveryCodes(customerID string) (codes []string, hashes [][]byte) {
	codes = newRecoveryCodes(recoveryCodes)
	for _, c := range codes {
		hashes = append(hashes, recoveryHash(customerID, normalizeCode(c)))
	}
	return codes, hashes
}

// NewRecoveryCodes replaces the customer's recovery codes; the old ones,
// spent or not, stop working. 409 totp_not_enabled without a second factor.
func (s *Service) NewRecoveryCodes(ctx context.Context, customerID string) ([]string, error) {
	if on, err := s.hasTOTP(ctx, customerID); err != nil {
		return nil, err
	} else if !on {
		return nil, errTOTPNotEnabled()
	}
	codes, hashes := s.recoveryCodes(customerID)
	if err := s.st.SetRecoveryCodes(ctx, customerID, hashes, s.now().UTC()); err != nil {
		return nil, fmt.Errorf("auth: new recovery codes for %s: %w", customerID, err)
	}
	s.log.InfoContext(ctx, "auth: new recovery codes", "customer", customerID)
	return codes, nil
}

// DisableTOTP turns the second factor off, with its recovery codes.
func (s *Service) DisableTOTP(ctx context.Context, customerID string) error {
	if err := s.st.DeleteTOTP(ctx, customerID); err != nil {
		return fmt.Errorf("auth: turn off totp of %s: %w", customerID, err)
	}
	s.log.InfoContext(ctx, "auth: second factor off", "customer", customerID)
	return nil
}

func (s *Service) hasTOTP(ctx context.Context, customerID string) (bool, error) {
	t, err := s.st.TOTP(ctx, customerID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("auth: second factor of %s: %w", customerID, err)
	}
	return !t.ConfirmedAt.IsZero(), nil
}

// secondFactor checks code against the customer's second factor, if they
// have one on: nil when they have none or the code is good (and now
// spent), else code_required or invalid_code with status (401 at sign-in,
// 403 at re-authentication), or an error of the server's.
func (s *Service) secondFactor(ctx context.Context, customerID, code string, status int) error {
	t, err := s.st.TOTP(ctx, customerID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("auth: second factor of %s: %w", customerID, err)
	case t.ConfirmedAt.IsZero():
		return nil // being set up: it guards nothing yet
	}
	code = normalizeCode(code)
	switch {
	case code == "":
		return errCodeRequired(status)
	case isTOTPCode(code):
		secret, err := s.keyring.OpenMACKey(ctx, vault.SignInKey(customerID), totpRecord(customerID), t.Sealed)
		if err != nil {
			return fmt.Errorf("auth: open totp secret of %s: %w", customerID, err)
		}
		step, ok := matchTOTP(secret, code, s.now())
		if !ok {
			return errInvalidCode(status)
		}
		switch err := s.st.UseTOTPStep(ctx, customerID, step); {
		case errors.Is(err, store.ErrCodeUsed), errors.Is(err, store.ErrNotFound):
			return errInvalidCode(status)
		case err != nil:
			return fmt.Errorf("auth: spend totp step of %s: %w", customerID, err)
		}
		return nil
	case isRecoveryCode(code):
		switch err := s.st.UseRecoveryCode(ctx, customerID, recoveryHash(customerID, code), s.now().UTC()); {
		case errors.Is(err, store.ErrNotFound):
			return errInvalidCode(status)
		case err != nil:
			return fmt.Errorf("auth: spend recovery code of %s: %w", customerID, err)
		}
		s.log.InfoContext(ctx, "auth: a recovery code was used", "customer", customerID)
		return nil
	}
	return errInvalidCode(status)
}
