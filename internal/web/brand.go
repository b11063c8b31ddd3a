package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/openteller/openteller/internal/brand"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// brandJSON is an institution's look on its conversations, for the
// messenger: the colour, the text colour that reads on it, and where the
// platform serves its logo (never the bank's own address).
type brandJSON struct {
	Color     string `json:"color,omitempty"`
	TextColor string `json:"text_color,omitempty"`
	Logo      string `json:"logo,omitempty"`
}

// brands returns each institution's brand for the messenger, by
// institution id.
func (a *API) brands(ctx context.Context) (map[string]*brandJSON, error) {
	bs, err := a.Store.Brands(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*brandJSON{}
	for _, b := range bs {
		v := &brandJSON{}
		if b.Color != "" {
			v.Color, v.TextColor = b.Color, brand.TextColor(b.Color)
		}
		if b.LogoType != "" {
			// The version changes with the brand, so the logo can be
			// cached for long.
			v.Logo = "/app/api/institutions/" + url.PathEscape(b.InstitutionID) + "/logo?v=" + strconv.FormatInt(b.UpdatedAt.UnixMilli(), 36)
		}
		if *v != (brandJSON{}) {
			out[b.InstitutionID] = v
		}
	}
	return out, nil
}

// logo serves an institution's logo from the platform's own origin, so
// that a customer's browser never asks the bank for it.
func (a *API) logo(w http.ResponseWriter, r *http.Request) {
	b, err := a.Store.Brand(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && b.LogoType == "") {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "That bank has no logo here."))
		return
	}
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", b.LogoType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b.Logo)))
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("Content-Disposition", "inline")
	w.Write(b.Logo)
}
