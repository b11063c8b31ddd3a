package openteller_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openteller/openteller/internal/web"
)

const module = "github.com/openteller/openteller/"

// imports maps each package directory to the imports of its non-test files.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[dir] = append(out[dir], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOnlyVaultTouchesKeys keeps DESIGN.md's promise that one package holds
// raw keys: no other package may import the ciphers or key derivation.
func TestOnlyVaultTouchesKeys(t *testing.T) {
	forbidden := []string{"crypto/aes", "crypto/cipher", "crypto/hkdf", "crypto/mlkem", "crypto/ecdh",
		"golang.org/x/crypto/chacha20poly1305", "golang.org/x/crypto/hkdf", "golang.org/x/crypto/nacl"}
	for dir, imps := range imports(t) {
		if dir == "internal/vault" {
			continue
		}
		for _, p := range imps {
			for _, f := range forbidden {
				if p == f || strings.HasPrefix(p, f+"/") {
					t.Errorf("%s imports %s: only internal/vault may touch key material", dir, p)
				}
			}
			// Signing keys too: the vault signs; tlog only verifies, with
			// public keys.
			if p == "crypto/ed25519" && dir != "internal/tlog" {
				t.Errorf("%s imports %s: only internal/vault signs, and internal/tlog verifies", dir, p)
			}
			// MAC keys too (webhook secrets, Messenger's app secret,
			// sign-in codes): the vault gives MACs (vault.MACKey), never
			// the secret. The bank's side keeps its own: the SDK, and the
			// simulated bank.
			if p == "crypto/hmac" && dir != "pkg/bankapi" && dir != "internal/banksim" {
				t.Errorf("%s imports %s: secrets stay in internal/vault, which makes MACs (vault.MACKey)", dir, p)
			}
		}
	}
}

// TestLayering keeps the folders honest about who may call whom.
func TestLayering(t *testing.T) {
	for dir, imps := range imports(t) {
		for _, p := range imps {
			if dir == "internal/store/sqlstore" && (strings.HasPrefix(p, "github.com/jackc/") || strings.HasPrefix(p, "modernc.org/")) {
				t.Errorf("%s imports %s: the shared scripts are written once for every engine, through sqlstore.Querier", dir, p)
			}
			if strings.HasPrefix(p, "github.com/prometheus/") && dir != "internal/metrics" {
				t.Errorf("%s imports %s: metrics go through internal/metrics, whose labels keep to fixed vocabularies", dir, p)
			}
			if !strings.HasPrefix(p, module) {
				continue
			}
			target := strings.TrimPrefix(p, module)
			switch {
			case strings.HasPrefix(dir, "pkg/") && strings.HasPrefix(target, "internal/"):
				t.Errorf("%s imports %s: the bank SDK must not depend on the platform's internals", dir, target)
			case dir == "internal/banksim" && target != "pkg/bankapi" && target != "internal/mcc":
				t.Errorf("%s imports %s: the simulated bank talks to the platform only through the public API", dir, target)
			case (target == "internal/store/sqlite" || target == "internal/store/postgres" || target == "internal/store/sqlstore") &&
				dir != "internal/server" && dir != "internal/testenv" && !strings.HasPrefix(dir, "internal/store"):
				// testenv is imported only by tests, to give them a real store.
				t.Errorf("%s imports %s: only the server opens a concrete store; others see store.Store", dir, target)
			case dir == "internal/store/sqlstore" && strings.HasPrefix(target, "internal/store/") && target != "internal/store/sqlstore":
				t.Errorf("%s imports %s: the shared scripts know no engine; each engine imports them", dir, target)
			case target == "internal/metrics" && dir != "internal/server":
				t.Errorf("%s imports %s: only the server records metrics; services report through hooks in their Config", dir, target)
			case dir == "internal/web" && target == "internal/vault":
				t.Errorf("%s imports %s: the web layer never opens payloads itself", dir, target)
			}
		}
	}
}

// TestGofmt fails on any Go file that gofmt would change.
func TestGofmt(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		formatted, err := format.Source(src)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if !bytes.Equal(src, formatted) {
			t.Errorf("%s is not gofmt-formatted", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoGlobalLogging keeps every log line on the node's configured logger
// (its level, its format, its destination): no package calls slog's
// package-level functions, which write to whatever the process's default
// happens to be. Internal errors of handlers reach the node's logger
// through httpx.WriteError and the access log.
func TestNoGlobalLogging(t *testing.T) {
	global := map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true, "Log": true, "LogAttrs": true,
		"DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "slog" && pkg.Obj == nil && global[sel.Sel.Name] {
				t.Errorf("%s: slog.%s logs through the global logger; use the node's", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openers are the packages allowed to turn a customer's sealed payload (or
// a platform secret) back into plaintext, each for the reason given. A new
// caller of Keyring.Open or OpenPlatform fails TestWhoOpensSealedPayloads
// until it is added here, with its reason, in review.
var openers = map[string]string{
	"internal/delivery": "sends customers their own events, on their devices and in their export",
	"internal/ingest":   "checks a customer's answer against what was offered (quick replies, fraud alerts)",
	"internal/consent":  "shows a delegate (an accountant) what the customer shared, after logging the read",
	"internal/console":  "shows a bank's agents a support conversation, after logging the read",
	"internal/webhook":  "sends the bank what its customer said",
	"internal/push":     "signs Web Push requests with the platform's VAPID key (never opens a customer's payload)",
}

// TestWhoOpensSealedPayloads finds, by type, every use of the keyring's
// methods that return plaintext and fails on a package not in openers.
func TestWhoOpensSealedPayloads(t *testing.T) {
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "\t"); ok {
			exports[path] = file
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(exports[path])
	})
	plaintext := map[string]bool{"Open": true, "OpenPlatform": true}
	callers := map[string]bool{}
	for dir, imps := range imports(t) {
		if dir == "internal/vault" || !slices.Contains(imps, module+"internal/vault") {
			continue
		}
		files := parseDir(t, fset, dir)
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
		if _, err := (&types.Config{Importer: imp}).Check(module+dir, fset, files, info); err != nil {
			t.Fatalf("type-check %s: %v", dir, err)
		}
		for id, obj := range info.Uses {
			fn, ok := obj.(*types.Func)
			if !ok || !plaintext[fn.Name()] || fn.Pkg() == nil || fn.Pkg().Path() != module+"internal/vault" {
				continue
			}
			callers[dir] = true
			if _, ok := openers[dir]; !ok {
				t.Errorf("%s: %s calls vault's %s, but the package is not among those allowed to open sealed payloads (openers)", fset.Position(id.Pos()), dir, fn.Name())
			}
		}
	}
	for dir := range openers {
		if !callers[dir] {
			t.Errorf("%s is allowed to open sealed payloads but no longer does: take it off the list", dir)
		}
	}
}

// parseDir parses the non-test Go files of dir that this platform builds.
func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, filepath.Base(name)); err != nil {
			t.Fatal(err)
		} else if !ok {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// TestWebOnlyReads keeps the web layer (package web) to reading the store:
// every change a customer asks for goes through a service that checks it
// (ingest, consent, linking, handover). Its store is a web.StoreReader,
// whose methods must all be reads, and it never asserts its way to more.
func TestWebOnlyReads(t *testing.T) {
	writes := []string{"Create", "Put", "Set", "Add", "Delete", "Remove", "Append", "Revoke", "Narrow", "Renew", "Rotate",
		"Disable", "Claim", "Settle", "Redeliver", "Take", "Clear", "Purge", "Remind", "Use", "Confirm", "Reset", "End",
		"Sweep", "Replace", "Rewrap", "Close", "Reauthenticated", "OnCommit"}
	reader := reflect.TypeFor[web.StoreReader]()
	for i := range reader.NumMethod() {
		name := reader.Method(i).Name
		for _, w := range writes {
			if strings.HasPrefix(name, w) {
				t.Errorf("web.StoreReader has %s, a write: the web layer only reads; make the change through a service", name)
			}
		}
	}
	fset := token.NewFileSet()
	for _, f := range parseDir(t, fset, "internal/web") {
		ast.Inspect(f, func(n ast.Node) bool {
			if ta, ok := n.(*ast.TypeAssertExpr); ok && ta.Type != nil {
				if sel, ok := ta.Type.(*ast.SelectorExpr); ok {
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "store" {
						t.Errorf("%s: the web layer asserts its store to store.%s", fset.Position(ta.Pos()), sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
}
