package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/internal/webhook"
)

// Root key rotation, in three steps, so that no node is ever asked to open
// something under a root key it has not loaded:
//
//	openteller keys add       a new root key becomes the newest (restart every node)
//	openteller keys rewrap    every data key and platform secret is wrapped by it
//	openteller keys retire --version N   the old key leaves the key file
//
// `openteller keys rotate` does add and rewrap at once, for a deployment
// whose nodes are all stopped (a single node, say). `openteller keys
// status` shows what each root key still wraps.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"status", "add", "rewrap", "rotate", "retire"}, args[0]) {
		fmt.Fprintln(stderr, "usage: openteller keys status|add|rewrap|rotate|retire [--version N]")
		return errUsage
	}
	var retire int
	cfg, _, err := parse("keys "+args[0], args[1:], stderr, func(fs *flag.FlagSet) {
		if args[0] == "retire" {
			fs.IntVar(&retire, "version", 0, "the root key version to remove (required)")
		}
	})
	if err != nil {
		return err
	}
	if args[0] == "add" || args[0] == "rotate" {
		if err := addRootKey(cfg, stdout, args[0] == "add"); err != nil || args[0] == "add" {
			return err
		}
		if cfg.RootKey != "" {
			return errors.New("keys rotate: the root keys come from the environment; set the new value, restart, then run keys rewrap")
		}
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	keyring, err := server.OpenKeyring(cfg, st)
	if err != nil {
		return err
	}
	switch args[0] {
	case "rewrap", "rotate":
		n, err := rewrap(ctx, st, keyring)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rewrapped %d keys and secrets under root key v%d\n", n, keyring.RootVersion())
		return nil
	case "retire":
		return retireRootKey(ctx, cfg, st, retire, stdout)
	}
	usage, err := rootKeyUsage(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "newest root key: v%d\n", keyring.RootVersion())
	for _, v := range slices.Sorted(maps.Keys(usage)) {
		fmt.Fprintf(stdout, "root key v%d wraps %d data keys and secrets\n", v, usage[v])
	}
	return nil
}

// addRootKey makes a new root key the newest. With the keys in a file it
// writes the file; with keys in the environment it prints the new value.
func addRootKey(cfg config.Config, stdout io.Writer, nextSteps bool) error {
	keys, err := vault.LoadRootKeys(cfg.RootKey, cfg.RootKeyFile)
	if err != nil {
		return err
	}
	v := keys.Current() + 1
	fresh, err := vault.ParseRootKeys(fmt.Sprintf("%d:%s", v, vault.GenerateRootKey()))
	if err != nil {
		return err
	}
	keys[v] = fresh[v]
	if cfg.RootKey != "" {
		fmt.Fprintf(stdout, "root key v%d made. Set OPENTELLER_ROOT_KEY on every node to:\n%s\n", v, keysForEnv(keys))
	} else {
		if err := vault.SaveRootKeys(cfg.RootKeyFile, keys); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "root key v%d added to %s.\n", v, cfg.RootKeyFile)
	}
	if nextSteps {
		fmt.Fprintln(stdout, "Restart every node so it loads the new key, then run: openteller keys rewrap")
	}
	return nil
}

func keysForEnv(keys vault.RootKeys) string {
	out := ""
	for v := keys.Current(); v >= 1; v-- {
		if k, ok := keys[v]; ok {
			if out != "" {
				out += ","
			}
			one := vault.RootKeys{v: k}.Format()
			out += one[:len(one)-1]
		}
	}
	return out
}

// rewrap wraps every data key, platform secret and webhook secret under
// the newest root key, and returns how many it changed.
func rewrap(ctx context.Context, st store.Store, keyring *vault.Keyring) (int, error) {
	n := 0
	for {
		batch, err := st.DataKeysWrappedBelow(ctx, keyring.RootVersion(), 500)
		if err != nil {
			return n, err
		}
		if len(batch) == 0 {
			break
		}
		for _, w := range batch {
			nw, err := keyring.Rewrap(w)
			if err != nil {
				return n, fmt.Errorf("rewrap data key of %s: %w", w.CustomerID, err)
			}
			if err := st.RewrapDataKey(ctx, nw, w.RootKeyVersion); err != nil {
				return n, err
			}
			n++
		}
	}
	secrets, err := st.PlatformSecrets(ctx)
	if err != nil {
		return n, err
	}
	for name, sealed := range secrets {
		if vault.PlatformRootVersion(sealed) == keyring.RootVersion() {
			continue
		}
		resealed, err := keyring.ResealPlatform(name, sealed)
		if err != nil {
			return n, fmt.Errorf("reseal %s: %w", name, err)
		}
		if err := st.ReplacePlatformSecret(ctx, name, sealed, resealed); err != nil {
			return n, err
		}
		n++
	}
	ins, err := st.Institutions(ctx)
	if err != nil {
		return n, err
	}
	for _, in := range ins {
		ep, err := st.WebhookEndpoint(ctx, in.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if vault.PlatformRootVersion(ep.Secret) == keyring.RootVersion() &&
			(ep.PreviousSecret == nil || vault.PlatformRootVersion(ep.PreviousSecret) == keyring.RootVersion()) {
			continue
		}
		secret, err := keyring.ResealPlatform(webhook.SecretRecord(in.ID), ep.Secret)
		if err != nil {
			return n, fmt.Errorf("reseal webhook secret of %s: %w", in.ID, err)
		}
		var previous []byte
		if ep.PreviousSecret != nil {
			if previous, err = keyring.ResealPlatform(webhook.SecretRecord(in.ID), ep.PreviousSecret); err != nil {
				return n, fmt.Errorf("reseal previous webhook secret of %s: %w", in.ID, err)
			}
		}
		if err := st.SetWebhookSecrets(ctx, in.ID, secret, previous); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// rootKeyUsage counts what each root key version still wraps.
func rootKeyUsage(ctx context.Context, st store.Store) (map[int]int, error) {
	usage, err := st.RootKeyUsage(ctx)
	if err != nil {
		return nil, err
	}
	secrets, err := st.PlatformSecrets(ctx)
	if err != nil {
		return nil, err
	}
	for _, sealed := range secrets {
		usage[vault.PlatformRootVersion(sealed)]++
	}
	ins, err := st.Institutions(ctx)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		ep, err := st.WebhookEndpoint(ctx, in.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		usage[vault.PlatformRootVersion(ep.Secret)]++
		if ep.PreviousSecret != nil {
			usage[vault.PlatformRootVersion(ep.PreviousSecret)]++
		}
	}
	return usage, nil
}

// retireRootKey removes a root key from the key file once nothing is
// wrapped by it.
func retireRootKey(ctx context.Context, cfg config.Config, st store.Store, version int, stdout io.Writer) error {
	keys, err := vault.LoadRootKeys(cfg.RootKey, cfg.RootKeyFile)
	if err != nil {
		return err
	}
	if _, ok := keys[version]; !ok || version == keys.Current() {
		return fmt.Errorf("keys retire: --version must name a root key that is loaded and not the newest (v%d)", keys.Current())
	}
	usage, err := rootKeyUsage(ctx, st)
	if err != nil {
		return err
	}
	if usage[version] > 0 {
		return fmt.Errorf("keys retire: root key v%d still wraps %d keys or secrets; run openteller keys rewrap first", version, usage[version])
	}
	delete(keys, version)
	if cfg.RootKey != "" {
		fmt.Fprintf(stdout, "root key v%d wraps nothing. Set OPENTELLER_ROOT_KEY on every node to:\n%s\n", version, keysForEnv(keys))
		return nil
	}
	if err := vault.SaveRootKeys(cfg.RootKeyFile, keys); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "root key v%d removed from %s; restart every node.\n", version, cfg.RootKeyFile)
	return nil
}
