package config

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

func TestEnvironmentFallbackAndFlagsWin(t *testing.T) {
	t.Setenv("OPENTELLER_ADDR", "127.0.0.1:9999")
	t.Setenv("OPENTELLER_DATA", "/srv/ot")
	t.Setenv("OPENTELLER_METRICS_ADDR", "10.0.0.5:9464")
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.Register(fs)
	if err := fs.Parse([]string{"--data", "/flag/wins"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DataDir != "/flag/wins" || c.BaseURL != "http://127.0.0.1:9999" || c.RootKeyFile != "/flag/wins/root.key" ||
		c.MetricsAddr != "10.0.0.5:9464" {
		t.Fatalf("config = %+v", c)
	}
}

// TestMetricsListener: the metrics listener (like the debug one) opens
// only when an operator names an address for it, and an address that is
// not host:port is refused, naming the flag.
func TestMetricsListener(t *testing.T) {
	for _, env := range []string{"OPENTELLER_METRICS_ADDR", "OPENTELLER_DEBUG_ADDR"} {
		t.Setenv(env, "") // restored after the test
		os.Unsetenv(env)
	}
	if c := Default(); c.MetricsAddr != "" || c.DebugAddr != "" {
		t.Fatalf("metrics %q, debug %q by default", c.MetricsAddr, c.DebugAddr)
	}
	base := Config{Addr: "127.0.0.1:8080", LogLevel: "info", LogFormat: "text", ConsentRetention: "26280h", WebhookAllowPrivate: "false", AccessLogOrigin: "x/log"}
	c := base
	c.MetricsAddr = "127.0.0.1:9464"
	if err := c.Resolve(); err != nil {
		t.Fatalf("--metrics-addr 127.0.0.1:9464: %v", err)
	}
	c = base
	c.MetricsAddr = "9464"
	if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("--metrics-addr 9464: %v", err)
	}
}

func TestDumpMasksSecrets(t *testing.T) {
	c := Config{Addr: "127.0.0.1:1", DataDir: "d", ConsentRetention: "26280h", WebhookAllowPrivate: "false", Database: "postgres://ot:hunter2@db.internal:5432/ot?sslmode=require",
		NATS: "nats://user:natssecret@nats:4222", RootKey: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", LogLevel: "info", LogFormat: "text"}
	var b bytes.Buffer
	c.Dump(&b)
	out := b.String()
	for _, secret := range []string{"hunter2", "natssecret", "c2VjcmV0"} {
		if strings.Contains(out, secret) {
			t.Fatalf("dump shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"db.internal:5432", "root-key       ******** (set)", "nats:4222"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dump lacks %q:\n%s", want, out)
		}
	}
}

func TestResolveRejectsBadValues(t *testing.T) {
	base := Config{Addr: "127.0.0.1:1", LogLevel: "info", LogFormat: "text", ConsentRetention: "26280h", WebhookAllowPrivate: "false", AccessLogOrigin: "x/log"}
	if c := base; c.Resolve() != nil {
		t.Fatalf("the valid base is refused: %v", c.Resolve())
	}
	// Each case spoils one value of a valid configuration, so each refusal
	// is that value's.
	for _, bad := range []func(*Config){
		func(c *Config) { c.Addr = "nonsense" },
		func(c *Config) { c.Database = "mysql://x" },
		func(c *Config) { c.LogLevel = "loud" },
		func(c *Config) { c.BaseURL = "ftp://x" },
		func(c *Config) { c.ConsentRetention = "720h" }, // below three years
		func(c *Config) { c.WebhookAllowPrivate = "yes" },
		func(c *Config) { c.ReauthWindow = "0s" },
		func(c *Config) { c.ReauthWindow = "a while" },
	} {
		c := base
		bad(&c)
		if err := c.Resolve(); err == nil {
			t.Errorf("Resolve accepted %+v", c)
		}
	}
}

// TestPasskeyRelyingParty: the passkey RP ID defaults to the base URL's
// host, and to localhost for a loopback address (browsers take no IP
// address), where the localhost origin is allowed too; with any other IP
// address passkeys are off; one given must be the host or a parent domain
// of it.
func TestPasskeyRelyingParty(t *testing.T) {
	base := Config{Addr: "127.0.0.1:8080", LogLevel: "info", LogFormat: "text", ConsentRetention: "26280h", WebhookAllowPrivate: "false", AccessLogOrigin: "x/log"}
	for _, tc := range []struct {
		baseURL, rpID string
		want          string
		origins       []string
	}{
		{"", "", "localhost", []string{"http://127.0.0.1:8080", "http://localhost:8080"}},
		{"http://[::1]:9000", "", "localhost", []string{"http://[::1]:9000", "http://localhost:9000"}},
		{"https://chat.bank.example", "", "chat.bank.example", []string{"https://chat.bank.example"}},
		{"https://chat.bank.example/", "Bank.Example", "bank.example", []string{"https://chat.bank.example"}},
		{"http://localhost:8080", "", "localhost", []string{"http://localhost:8080"}},
		{"http://192.0.2.10:8080", "", "", []string{"http://192.0.2.10:8080"}},
	} {
		c := base
		c.BaseURL, c.PasskeyRPID = tc.baseURL, tc.rpID
		if err := c.Resolve(); err != nil {
			t.Fatalf("%q, %q: %v", tc.baseURL, tc.rpID, err)
		}
		if c.PasskeyRPID != tc.want || strings.Join(c.PasskeyOrigins(), " ") != strings.Join(tc.origins, " ") {
			t.Errorf("%q, %q: RP ID %q, origins %q; want %q, %q", tc.baseURL, tc.rpID, c.PasskeyRPID, c.PasskeyOrigins(), tc.want, tc.origins)
		}
	}
	for _, tc := range []struct{ baseURL, rpID string }{
		{"https://chat.bank.example", "other.example"},
		{"https://chat.bank.example", "ank.example"},
		{"https://chat.bank.example", "192.0.2.1"},
		{"https://chat.bank.example", "https://bank.example"},
		{"http://127.0.0.1:8080", "bank.example"},
	} {
		c := base
		c.BaseURL, c.PasskeyRPID = tc.baseURL, tc.rpID
		if err := c.Resolve(); err == nil {
			t.Errorf("Resolve accepted --passkey-rp-id %q for %q", tc.rpID, tc.baseURL)
		}
	}
}
