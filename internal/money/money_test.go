package money

import "testing"

func TestCheck(t *testing.T) {
	good := []struct {
		amount, currency string
		negative         bool
	}{
		{"0", "USD", false}, {"12.5", "USD", false}, {"12.50", "USD", false}, {"1234567.89", "EUR", false},
		{"1500", "JPY", false}, {"1.234", "KWD", false}, {"-40.10", "USD", true}, {"999999999999999.99", "USD", false},
		{"0.01", "GBP", false},
	}
	for _, g := range good {
		if err := Check(g.amount, g.currency, g.negative); err != nil {
			t.Errorf("Check(%q, %q) = %v, want ok", g.amount, g.currency, err)
		}
	}
	bad := []struct {
		amount, currency string
		negative         bool
	}{
		{"", "USD", false}, {"12.505", "USD", false}, {"1.5", "JPY", false}, {"1e3", "USD", false},
		{"01.00", "USD", false}, {"+1.00", "USD", false}, {"1.", "USD", false}, {".5", "USD", false},
		{"-1.00", "USD", false}, {"-0", "USD", true}, {"-0.00", "USD", true}, {"1,000.00", "USD", false},
		{"12.00", "usd", false}, {"12.00", "XXX", false}, {"12.00", "", false}, {" 12.00", "USD", false},
		{"1000000000000000", "USD", false}, {"NaN", "USD", false}, {"١٢", "USD", false},
	}
	for _, b := range bad {
		if err := Check(b.amount, b.currency, b.negative); err == nil {
			t.Errorf("Check(%q, %q, negative=%v) accepted", b.amount, b.currency, b.negative)
		}
	}
}

func TestMinorUnits(t *testing.T) {
	for cur, want := range map[string]int{"USD": 2, "JPY": 0, "BHD": 3, "CLF": 4, "EUR": 2} {
		if got, ok := MinorUnits(cur); !ok || got != want {
			t.Errorf("MinorUnits(%s) = %d, %v; want %d", cur, got, ok, want)
		}
	}
}
