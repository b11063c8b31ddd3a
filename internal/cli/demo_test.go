package cli

import (
	"io"
	"testing"
)

func TestDemoBankAddrFromEnvironmentAndFlag(t *testing.T) {
	t.Setenv("OPENTELLER_BANK_ADDR", "127.0.0.1:7001")
	o, err := demoOptions([]string{"--data", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.BankAddr != "127.0.0.1:7001" {
		t.Fatalf("from the environment: bank addr = %q, want 127.0.0.1:7001", o.BankAddr)
	}
	o, err = demoOptions([]string{"--data", t.TempDir(), "--bank-addr", "127.0.0.1:7002"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.BankAddr != "127.0.0.1:7002" {
		t.Fatalf("the flag must win over the environment: bank addr = %q", o.BankAddr)
	}
}
