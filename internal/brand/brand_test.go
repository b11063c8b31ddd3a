package brand

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *httpx.Error
	if !errors.As(err, &e) || e.Code != code || e.Status != http.StatusBadRequest || e.Message == "" {
		t.Fatalf("error %v; want 400 %s with a message", err, code)
	}
}

func TestParseColor(t *testing.T) {
	for in, want := range map[string]string{"#0A5C36": "#0a5c36", " #fc0 ": "#ffcc00", "#000000": "#000000"} {
		if got, err := ParseColor(in); err != nil || got != want {
			t.Errorf("ParseColor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0a5c36", "#0a5c3", "#0a5c366", "#ggg", "red", "#12345g", "rgb(1,2,3)", "#0a5c36;background:url(x)"} {
		_, err := ParseColor(bad)
		wantCode(t, err, "invalid_brand_color")
	}
}

// TestTextColorContrast: over the whole colour cube (every 17th step of
// each channel), the text colour chosen contrasts at least 4.5:1.
func TestTextColorContrast(t *testing.T) {
	worst := 21.0
	for r := 0; r <= 255; r += 17 {
		for g := 0; g <= 255; g += 17 {
			for b := 0; b <= 255; b += 17 {
				bg := fmt.Sprintf("#%02x%02x%02x", r, g, b)
				worst = min(worst, Contrast(bg, TextColor(bg)))
			}
		}
	}
	if worst < 4.5 {
		t.Fatalf("the worst contrast is %.2f:1", worst)
	}
	if TextColor("#ffffff") != "#000000" || TextColor("#0a5c36") != "#ffffff" || TextColor("#ffcc00") != "#000000" {
		t.Fatal("text colours of white, dark green, yellow")
	}
	if c := Contrast("#000000", "#ffffff"); c < 20.99 || c > 21.01 {
		t.Fatalf("black on white %.3f", c)
	}
}

func pngOf(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, 0, color.RGBA{10, 92, 54, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func TestCheckLogo(t *testing.T) {
	if typ, err := CheckLogo(pngOf(64, 64)); err != nil || typ != "image/png" {
		t.Fatalf("a small PNG: %q %v", typ, err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"svg":       []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"html":      []byte("<html><body>hi</body></html>"),
		"too wide":  pngOf(MaxLogoSide+1, 1),
		"truncated": pngOf(64, 64)[:60],
		"too big":   append(pngOf(8, 8), make([]byte, MaxLogoBytes)...),
	} {
		_, err := CheckLogo(b)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		wantCode(t, err, "invalid_logo")
	}
}

func TestParseDataURL(t *testing.T) {
	raw := pngOf(32, 32)
	b, typ, err := ParseDataURL("data:image/png;base64," + base64.StdEncoding.EncodeToString(raw))
	if err != nil || typ != "image/png" || !bytes.Equal(b, raw) {
		t.Fatalf("%q %v", typ, err)
	}
	for _, bad := range []string{
		"data:image/png," + string(raw),                                    // not base64
		"data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(raw), // claims another type
		"data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte("<svg/>")),
		"data:image/png;base64,@@@",
		"https://bank.example/logo.png",
	} {
		_, _, err := ParseDataURL(bad)
		wantCode(t, err, "invalid_logo")
	}
}

// TestFetchLogo: https only; the image is checked like any other.
func TestFetchLogo(t *testing.T) {
	raw := pngOf(16, 16)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".svg") {
			w.Write([]byte("<svg/>"))
			return
		}
		w.Write(raw)
	}))
	defer srv.Close()
	b, typ, err := FetchLogo(context.Background(), srv.Client(), srv.URL+"/logo.png")
	if err != nil || typ != "image/png" || !bytes.Equal(b, raw) {
		t.Fatalf("%q %v", typ, err)
	}
	_, _, err = FetchLogo(context.Background(), srv.Client(), srv.URL+"/logo.svg")
	wantCode(t, err, "invalid_logo")
	_, _, err = FetchLogo(context.Background(), nil, "http://bank.example/logo.png")
	wantCode(t, err, "invalid_logo")
}

// TestSet: a colour and a logo are set, each alone, and removed; bad input
// changes nothing; an unknown institution has no brand.
func TestSet(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	if err := st.CreateInstitution(ctx, store.Institution{ID: "ins_a", Name: "Alpha", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b, err := Set(ctx, st, "ins_a", Change{Color: "#0A5C36"}, now)
	if err != nil || b.Color != "#0a5c36" || b.LogoType != "" {
		t.Fatalf("%+v %v", b, err)
	}
	logo := filepath.Join(t.TempDir(), "logo.png")
	os.WriteFile(logo, pngOf(48, 48), 0o600)
	if b, err = Set(ctx, st, "ins_a", Change{Logo: logo}, now); err != nil || b.Color != "#0a5c36" || b.LogoType != "image/png" {
		t.Fatalf("%+v %v", b, err)
	}
	for _, bad := range []Change{{Color: "green"}, {Logo: "http://bank.example/logo.png"}, {Color: "#000", Logo: "data:image/png;base64,AAAA"}} {
		if _, err := Set(ctx, st, "ins_a", bad, now); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	kept, _ := st.Brand(ctx, "ins_a")
	if kept.Color != "#0a5c36" || kept.LogoType != "image/png" || !bytes.Equal(kept.Logo, pngOf(48, 48)) {
		t.Fatalf("refused changes changed the brand: %+v", kept)
	}
	if b, err = Set(ctx, st, "ins_a", Change{Color: "none", Logo: "none"}, now); err != nil || b.Color != "" || b.Logo != nil {
		t.Fatalf("%+v %v", b, err)
	}
	if _, err := Set(ctx, st, "ins_none", Change{Color: "#000000"}, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown institution: %v", err)
	}
}
