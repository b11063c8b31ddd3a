package openteller_test

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
		}
	}
}

// TestLayering keeps the folders honest about who may call whom.
func TestLayering(t *testing.T) {
	for dir, imps := range imports(t) {
		for _, p := range imps {
			if !strings.HasPrefix(p, module) {
				continue
			}
			target := strings.TrimPrefix(p, module)
			switch {
			case strings.HasPrefix(dir, "pkg/") && strings.HasPrefix(target, "internal/"):
				t.Errorf("%s imports %s: the bank SDK must not depend on the platform's internals", dir, target)
			case dir == "internal/banksim" && target != "pkg/bankapi" && target != "internal/mcc":
				t.Errorf("%s imports %s: the simulated bank talks to the platform only through the public API", dir, target)
			case (target == "internal/store/sqlite" || target == "internal/store/postgres") &&
				dir != "internal/server" && dir != "internal/testenv" && !strings.HasPrefix(dir, "internal/store"):
				// testenv is imported only by tests, to give them a real store.
				t.Errorf("%s imports %s: only the server opens a concrete store; others see store.Store", dir, target)
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
