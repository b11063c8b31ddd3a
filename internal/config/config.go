// Package config is the one place OpenTeller's settings are read: command
// line flags, each with an OPENTELLER_* environment fallback, and safe
// defaults for the embedded mode (a SQLite file and an embedded NATS server
// in the data directory). Dump prints the effective values with secrets
// masked.
package config

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the effective configuration of a node.
type Config struct {
	Addr        string // listen address
	BaseURL     string // public URL; empty means http://Addr
	DataDir     string
	Database    string // PostgreSQL URL; empty means SQLite in DataDir
	NATS        string // external NATS URL; empty means embedded
	RootKey     string // base64 root key; a secret
	RootKeyFile string // used when RootKey is empty; empty means DataDir/root.key
	LogLevel    string
	LogFormat   string // text or json
	DebugAddr   string // operator-only listener for /debug/pprof; empty: off
	MetricsAddr string // operator-only listener for GET /metrics; empty: off
	// ConsentRetention is how long consent receipts of ended links are
	// kept; at least MinConsentRetention.
	ConsentRetention string
	// WebhookAllowPrivate ("true"/"false") lets webhook endpoints be on
	// loopback or private addresses and plain http: for the demo and tests.
	WebhookAllowPrivate string
	// AccessLogOrigin names the access log in its signed checkpoints. It
	// must never change for a deployment (browsers remember it), so it is
	// a setting, not derived from an address.
	AccessLogOrigin string
	// ReauthWindow is how long a customer's sign-in or re-authentication
	// lets them clear history or disconnect every bank without entering
	// their password again (a duration; 5m when empty).
	ReauthWindow string
	// PasskeyRPID is the WebAuthn relying party ID customers' passkeys are
	// made for: the host of BaseURL or a parent domain of it. Empty means
	// that host, or "localhost" when it is a loopback address; browsers
	// accept no IP address as one, so with any other IP address it stays
	// empty and passkeys are off. Passkeys made for one ID never work for
	// another, so a deployment sets it once.
	PasskeyRPID string
}

// PasskeyOrigins are the web origins whose pages may use customers'
// passkeys (resolved, so PasskeyRPID is set): the origin of BaseURL, and
// with a loopback BaseURL the same at localhost, where passkeys work.
func (c *Config) PasskeyOrigins() []string {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil
	}
	origins := []string{u.Scheme + "://" + u.Host}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsLoopback() && c.PasskeyRPID == "localhost" {
		host := "localhost"
		if port := u.Port(); port != "" {
			host = net.JoinHostPort(host, port)
		}
		origins = append(origins, u.Scheme+"://"+host)
	}
	return origins
}

// Reauth parses ReauthWindow (resolved, so it is valid).
func (c *Config) Reauth() time.Duration {
	d, _ := time.ParseDuration(c.ReauthWindow)
	return d
}

// AllowPrivateWebhooks reports the resolved WebhookAllowPrivate.
func (c *Config) AllowPrivateWebhooks() bool { return c.WebhookAllowPrivate == "true" }

// MinConsentRetention is the least time consent evidence is kept: three
// years, as the personal financial data rights rule asks of records.
const MinConsentRetention = 3 * 365 * 24 * time.Hour

// Retention parses ConsentRetention (resolved, so it is valid).
func (c *Config) Retention() time.Duration {
	d, _ := time.ParseDuration(c.ConsentRetention)
	return d
}

type setting struct {
	name, env, usage string
	secret           bool
	value            func(*Config) *string
	def              string
}

var settings = []setting{
	{"addr", "OPENTELLER_ADDR", "address to listen on", false, func(c *Config) *string { return &c.Addr }, "127.0.0.1:8080"},
	{"base-url", "OPENTELLER_BASE_URL", "public URL of this platform, for OAuth redirects (default http://<addr>)", false, func(c *Config) *string { return &c.BaseURL }, ""},
	{"data", "OPENTELLER_DATA", "data directory: SQLite file, embedded NATS store, root key file", false, func(c *Config) *string { return &c.DataDir }, "data"},
	{"database", "OPENTELLER_DATABASE", "PostgreSQL URL (postgres://…); empty uses SQLite in the data directory", true, func(c *Config) *string { return &c.Database }, ""},
	{"nats", "OPENTELLER_NATS", "external NATS URL (nats://…); empty embeds a NATS server", true, func(c *Config) *string { return &c.NATS }, ""},
	{"root-key", "OPENTELLER_ROOT_KEY", "root key, 32 bytes in base64; prefer the environment to the command line", true, func(c *Config) *string { return &c.RootKey }, ""},
	{"root-key-file", "OPENTELLER_ROOT_KEY_FILE", "root key file, created with mode 0600 if missing (default <data>/root.key)", false, func(c *Config) *string { return &c.RootKeyFile }, ""},
	{"log-level", "OPENTELLER_LOG_LEVEL", "debug, info, warn or error", false, func(c *Config) *string { return &c.LogLevel }, "info"},
	{"log-format", "OPENTELLER_LOG_FORMAT", "text or json", false, func(c *Config) *string { return &c.LogFormat }, "text"},
	{"consent-retention", "OPENTELLER_CONSENT_RETENTION", "how long consent receipts of ended links are kept (at least 26280h, three years)", false, func(c *Config) *string { return &c.ConsentRetention }, "26280h"},
	{"webhook-allow-private", "OPENTELLER_WEBHOOK_ALLOW_PRIVATE", "true lets webhook endpoints, and institutions' OAuth token endpoints, be on private or loopback addresses (webhooks over plain http too) for the demo and tests; never in production", false, func(c *Config) *string { return &c.WebhookAllowPrivate }, "false"},
	{"access-log-origin", "OPENTELLER_ACCESS_LOG_ORIGIN", "name of the access log in its signed checkpoints, such as bank.example/access-log; set once, never change", false, func(c *Config) *string { return &c.AccessLogOrigin }, "openteller/access-log"},
	{"reauth-window", "OPENTELLER_REAUTH_WINDOW", "how long a customer's sign-in or re-entered password counts before clearing history, disconnecting every bank or sharing a bank with someone asks for it again (1s to 24h)", false, func(c *Config) *string { return &c.ReauthWindow }, "5m"},
	{"passkey-rp-id", "OPENTELLER_PASSKEY_RP_ID", "the domain customers' passkeys are made for: the host of --base-url or a parent domain of it (default that host; localhost for a loopback address, so open the messenger at http://localhost:<port> to use passkeys); set once, never change", false, func(c *Config) *string { return &c.PasskeyRPID }, ""},
	{"debug-addr", "OPENTELLER_DEBUG_ADDR", "operator-only address for /debug/pprof, e.g. 127.0.0.1:6060 (default off)", false, func(c *Config) *string { return &c.DebugAddr }, ""},
	{"metrics-addr", "OPENTELLER_METRICS_ADDR", "address for GET /metrics (Prometheus), e.g. 127.0.0.1:9464 (default off); make it reachable by operators only (loopback or a private interface): it carries counts and timings, never content", false, func(c *Config) *string { return &c.MetricsAddr }, ""},
}

// Register adds every setting to fs as a flag whose default comes from the
// environment, else the built-in default.
func (c *Config) Register(fs *flag.FlagSet) {
	for _, s := range settings {
		def := s.def
		if v, ok := os.LookupEnv(s.env); ok {
			def = v
		}
		fs.StringVar(s.value(c), s.name, def, fmt.Sprintf("%s [$%s]", s.usage, s.env))
	}
}

// Default returns the configuration from the environment and defaults alone.
func Default() Config {
	var c Config
	c.Register(flag.NewFlagSet("", flag.ContinueOnError))
	return c
}

// Resolve fills the derived defaults and checks the values.
func (c *Config) Resolve() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("config: --addr %q: %w", c.Addr, err)
	}
	if c.BaseURL == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: --base-url %q must be an http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.RootKeyFile == "" {
		c.RootKeyFile = filepath.Join(c.DataDir, "root.key")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf("config: --database must be a postgres:// URL (leave it empty for SQLite)")
	}
	if d, err := time.ParseDuration(c.ConsentRetention); err != nil || d < MinConsentRetention {
		return fmt.Errorf("config: --consent-retention %q must be a duration of at least %s (three years)", c.ConsentRetention, MinConsentRetention)
	}
	if c.WebhookAllowPrivate != "true" && c.WebhookAllowPrivate != "false" {
		return fmt.Errorf("config: --webhook-allow-private %q must be true or false", c.WebhookAllowPrivate)
	}
	if c.AccessLogOrigin == "" || strings.ContainsAny(c.AccessLogOrigin, " +\n\t") {
		return fmt.Errorf("config: --access-log-origin %q must be a name without spaces or '+', such as bank.example/access-log", c.AccessLogOrigin)
	}
	if c.ReauthWindow == "" {
		c.ReauthWindow = "5m"
	}
	if d, err := time.ParseDuration(c.ReauthWindow); err != nil || d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("config: --reauth-window %q must be a duration from 1s to 24h, such as 5m", c.ReauthWindow)
	}
	if err := c.resolvePasskeyRPID(u.Hostname()); err != nil {
		return err
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			return fmt.Errorf("config: --debug-addr %q: %w", c.DebugAddr, err)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("config: --metrics-addr %q: %w", c.MetricsAddr, err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: --log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("config: --log-format %q must be text or json", c.LogFormat)
	}
	return nil
}

// resolvePasskeyRPID fills PasskeyRPID from the base URL's host, or
// checks the one given against it: a browser lets a page use a passkey
// only when the page's host is the ID or below it, and never an IP
// address.
func (c *Config) resolvePasskeyRPID(host string) error {
	host = strings.ToLower(host)
	if c.PasskeyRPID == "" {
		c.PasskeyRPID = host
		if ip, err := netip.ParseAddr(host); err == nil {
			// Passkeys cannot work at an IP address: off (empty)
			// unless it is this machine's, which browsers reach as
			// localhost too.
			c.PasskeyRPID = ""
			if ip.IsLoopback() {
				c.PasskeyRPID = "localhost"
			}
		}
		return nil
	}
	id := strings.ToLower(strings.TrimSpace(c.PasskeyRPID))
	if _, err := netip.ParseAddr(id); err == nil || id == "" || strings.ContainsAny(id, ":/ ") {
		return fmt.Errorf("config: --passkey-rp-id %q must be a domain name, such as bank.example", c.PasskeyRPID)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() && id == "localhost" {
		c.PasskeyRPID = id
		return nil
	}
	if host != id && !strings.HasSuffix(host, "."+id) {
		return fmt.Errorf("config: --passkey-rp-id %q must be the host of --base-url (%s) or a parent domain of it", c.PasskeyRPID, host)
	}
	c.PasskeyRPID = id
	return nil
}

// Dump writes the effective configuration, one setting a line, secrets
// masked: a URL keeps its scheme and host but loses its password, a key is
// shown only as set or unset.
func (c *Config) Dump(w io.Writer) {
	for _, s := range settings {
		v := *s.value(c)
		if s.secret {
			v = mask(v)
		}
		fmt.Fprintf(w, "%-14s %s\n", s.name, v)
	}
}

func mask(v string) string {
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "********")
		}
		q := u.Query()
		for k := range q {
			if strings.Contains(strings.ToLower(k), "pass") || strings.Contains(strings.ToLower(k), "token") {
				q.Set(k, "********")
			}
		}
		u.RawQuery = q.Encode()
		return u.Redacted()
	}
	return "******** (set)"
}
