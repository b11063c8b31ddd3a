package mcc

import (
	"encoding/csv"
	"os"
	"slices"
	"testing"

	"github.com/openteller/openteller/internal/testenv"
)

// readFixture returns the edited_description of every code in the fixture.
func readFixture(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(testenv.Fixture(t, "mcc", "mcc_codes.csv"))
	if err != nil {
		t.Fatalf("open fixture: %v", err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	if len(records) < 2 {
		t.Fatalf("fixture has %d records", len(records))
	}
	header := records[0]
	codeCol, descCol := slices.Index(header, "mcc"), slices.Index(header, "edited_description")
	if codeCol < 0 || descCol < 0 {
		t.Fatalf("fixture header %v lacks mcc or edited_description", header)
	}
	fixture := make(map[string]string, len(records)-1)
	for _, rec := range records[1:] {
		fixture[rec[codeCol]] = rec[descCol]
	}
	return fixture
}

func TestTableMatchesFixture(t *testing.T) {
	fixture := readFixture(t)
	for _, code := range Codes() {
		got, _ := Lookup(code)
		want, ok := fixture[code]
		if !ok {
			t.Errorf("code %q is not in the fixture", code)
			continue
		}
		if got != want {
			t.Errorf("code %s: description %q, fixture says %q", code, got, want)
		}
	}
}

func TestCodesAreFourDigitStrings(t *testing.T) {
	codes := Codes()
	if len(codes) < 40 || len(codes) > 80 {
		t.Errorf("table has %d codes, want a compact 40–80", len(codes))
	}
	for _, code := range codes {
		if len(code) != 4 {
			t.Errorf("code %q is not 4 characters", code)
		}
		for _, r := range code {
			if r < '0' || r > '9' {
				t.Errorf("code %q has a non-digit", code)
				break
			}
		}
	}
	if !slices.IsSorted(codes) {
		t.Error("Codes() is not sorted")
	}
}

func TestLookup(t *testing.T) {
	for code, want := range map[string]string{
		"5812": "Eating places and Restaurants",
		"5814": "Fast Food Restaurants",
		"5541": "Service Stations ( with or without ancillary services)",
		"0742": "Veterinary Services",
	} {
		if got, ok := Lookup(code); !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", code, got, ok, want)
		}
	}
	for _, code := range []string{"742", "0000", "", "58120"} {
		if _, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) found a description", code)
		}
	}
}

func TestCodesReturnsACopy(t *testing.T) {
	codes := Codes()
	codes[0] = "XXXX"
	if Codes()[0] == "XXXX" {
		t.Error("Codes() shares its slice with the caller")
	}
}
