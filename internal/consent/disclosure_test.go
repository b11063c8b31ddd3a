package consent

import (
	"strings"
	"testing"
)

func TestDisclose(t *testing.T) {
	d, err := Disclose("Cedar Bank", []string{"transactions", "balances"}, 90)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Cedar Bank", "Account balances", "Card and account transactions", "90 days",
		"Never used for advertising, never sold, never shared", "take it back at any time"} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("disclosure lacks %q:\n%s", want, d.Text)
		}
	}
	if strings.Contains(d.Text, "Fraud alerts") {
		t.Error("disclosure names a scope that was not asked for")
	}
	// Scope order does not change the text; any other change does.
	same, _ := Disclose("Cedar Bank", []string{"balances", "transactions"}, 90)
	if same.Digest != d.Digest {
		t.Error("digest depends on the order scopes were asked in")
	}
	for _, other := range []struct {
		inst   string
		scopes []string
		days   int
	}{{"Cedar Bank", []string{"balances"}, 90}, {"Cedar Bank", []string{"balances", "transactions"}, 30}, {"Elm Bank", []string{"balances", "transactions"}, 90}} {
		o, err := Disclose(other.inst, other.scopes, other.days)
		if err != nil || o.Digest == d.Digest {
			t.Errorf("%+v: digest %s (err %v) equals the original", other, o.Digest, err)
		}
	}
	for _, bad := range []struct {
		scopes []string
		days   int
	}{{[]string{"balances"}, 366}, {[]string{"balances"}, 0}, {nil, 90}, {[]string{"advertising"}, 90}} {
		if _, err := Disclose("Cedar Bank", bad.scopes, bad.days); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
