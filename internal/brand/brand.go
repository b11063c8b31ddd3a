// Package brand owns an institution's look on its conversations: its
// colour and its logo, checked before they are kept, and the text colour
// that reads on the colour.
//
// What must stay true:
//   - A colour is "#rrggbb"; anything else is refused (invalid_brand_color).
//   - A logo is a small PNG, JPEG or GIF that decodes, never SVG (which
//     can carry script) or anything a browser would have to guess at
//     (invalid_logo). Its bytes are kept by the platform and served from
//     its own origin: customers' browsers never load it from the bank, so
//     the bank cannot learn who opens their conversation, or when. The
//     server never fetches a logo on a customer's behalf; an https logo is
//     fetched once, by the operator's command that sets it (FetchLogo).
//   - Text on the colour has a contrast ratio of at least 4.5:1 (WCAG 2's
//     level AA for body text): TextColor picks black or white, whichever
//     contrasts more, and one of them always reaches it.
package brand

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// Limits on a logo: small enough to keep in the database and to send with
// a page, big enough for a crisp mark in a 40-pixel circle.
const (
	MaxLogoBytes = 32 << 10
	MaxLogoSide  = 1024 // pixels
)

func errColor(format string, args ...any) *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_brand_color", format, args...)
}

func errLogo(format string, args ...any) *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_logo", format, args...)
}

// ParseColor checks a colour given as "#rrggbb" (or "#rgb") and returns it
// as "#rrggbb" in lower case.
func ParseColor(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "#") || (len(s) != 7 && len(s) != 4) {
		return "", errColor("A brand colour is a hex colour such as #0a5c36; %q is not one.", s)
	}
	hex := strings.ToLower(s[1:])
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", errColor("A brand colour is a hex colour such as #0a5c36; %q is not one.", s)
		}
	}
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	return "#" + hex, nil
}

// luminance is the WCAG 2 relative luminance of a "#rrggbb" colour.
func luminance(hex string) float64 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	channel := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(v>>16&0xff) + 0.7152*channel(v>>8&0xff) + 0.0722*channel(v&0xff)
}

// Contrast is the WCAG 2 contrast ratio of two "#rrggbb" colours, from 1
// to 21.
func Contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TextColor is the colour for text on a "#rrggbb" background: black or
// white, whichever contrasts more. The lesser of the two best cases is
// about 4.58:1, so it always meets 4.5:1.
func TextColor(background string) string {
	if Contrast(background, "#000000") >= Contrast(background, "#ffffff") {
		return "#000000"
	}
	return "#ffffff"
}

// logoTypes are the formats accepted, by image package name.
var logoTypes = map[string]string{"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif"}

// CheckLogo checks an image's bytes and returns its media type, read from
// the bytes themselves (never from what the sender claims).
func CheckLogo(b []byte) (string, error) {
	if len(b) == 0 {
		return "", errLogo("The logo is empty.")
	}
	if len(b) > MaxLogoBytes {
		return "", errLogo("The logo is %d KiB; it may be at most %d KiB.", (len(b)+1023)/1024, MaxLogoBytes>>10)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	typ, ok := logoTypes[format]
	if err != nil || !ok {
		return "", errLogo("The logo must be a PNG, JPEG or GIF image.")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return "", errLogo("The logo is %d×%d pixels; each side must be from 1 to %d.", cfg.Width, cfg.Height, MaxLogoSide)
	}
	// The whole image must decode, not only its header: a browser shows
	// what decodes, and a broken image is no logo.
	if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
		return "", errLogo("The logo's image data is damaged.")
	}
	return typ, nil
}

// ParseDataURL reads a logo given as a data: URL
// (data:image/png;base64,…) and checks it.
func ParseDataURL(s string) ([]byte, string, error) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !strings.HasPrefix(s, "data:") || !ok || !strings.HasSuffix(meta, ";base64") {
		return nil, "", errLogo("A logo given inline must be a base64 data: URL, such as data:image/png;base64,….")
	}
	if len(data) > base64.StdEncoding.EncodedLen(MaxLogoBytes) {
		return nil, "", errLogo("The logo may be at most %d KiB.", MaxLogoBytes>>10)
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, "", errLogo("The logo's data: URL is not valid base64.")
	}
	typ, err := CheckLogo(b)
	if err != nil {
		return nil, "", err
	}
	if claimed := strings.TrimSuffix(meta, ";base64"); claimed != typ {
		return nil, "", errLogo("The logo says it is %s but is %s.", claimed, typ)
	}
	return b, typ, nil
}

// FetchLogo downloads a logo from an https URL, once, for the operator
// who sets it, and checks it. client should not follow redirects to
// other schemes; nil means a client with a short timeout that follows
// only https redirects.
func FetchLogo(ctx context.Context, client *http.Client, rawURL string) ([]byte, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, "", errLogo("A logo's URL must be https; %q is not.", rawURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" || len(via) >= 3 {
				return errors.New("only a few https redirects are followed")
			}
			return nil
		}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", errLogo("A logo's URL must be https; %q is not.", rawURL)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("brand: fetch logo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("brand: fetch logo: %s answered %s", u.Host, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxLogoBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("brand: fetch logo: %w", err)
	}
	typ, err := CheckLogo(b)
	return b, typ, err
}

// Change is what an operator asks of an institution's brand: an empty
// field leaves that part as it is, "none" removes it. Logo is an https
// URL (fetched now, once), a data: URL, or the name of a local file.
type Change struct {
	Color string
	Logo  string
}

// Set applies c to the institution's brand in st and returns the brand
// as kept. Bad input is refused before anything changes.
func Set(ctx context.Context, st store.Institutions, institutionID string, c Change, now time.Time) (store.Brand, error) {
	b, err := st.Brand(ctx, institutionID)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := st.Institution(ctx, institutionID); err != nil {
			return b, fmt.Errorf("institution %s: %w", institutionID, err)
		}
		b, err = store.Brand{InstitutionID: institutionID}, nil
	}
	if err != nil {
		return b, err
	}
	switch c.Color {
	case "":
	case "none":
		b.Color = ""
	default:
		if b.Color, err = ParseColor(c.Color); err != nil {
			return b, err
		}
	}
	switch {
	case c.Logo == "":
	case c.Logo == "none":
		b.Logo, b.LogoType = nil, ""
	case strings.HasPrefix(c.Logo, "data:"):
		if b.Logo, b.LogoType, err = ParseDataURL(c.Logo); err != nil {
			return b, err
		}
	case strings.Contains(c.Logo, "://"):
		if b.Logo, b.LogoType, err = FetchLogo(ctx, nil, c.Logo); err != nil {
			return b, err
		}
	default:
		raw, err := os.ReadFile(c.Logo)
		if err != nil {
			return b, fmt.Errorf("brand: read logo: %w", err)
		}
		if b.LogoType, err = CheckLogo(raw); err != nil {
			return b, err
		}
		b.Logo = raw
	}
	b.UpdatedAt = now.UTC()
	if err := st.SetBrand(ctx, b); err != nil {
		return b, fmt.Errorf("brand: keep brand of %s: %w", institutionID, err)
	}
	return b, nil
}
