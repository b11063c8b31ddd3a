package storetest

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/openteller/openteller/internal/store"
)

// TestSuiteCallsEveryMethod fails when the conformance suite never calls
// some method of store.Store: a method no test calls is a method whose two
// implementations may quietly disagree.
//
// How it decides, and why this way: it type-checks the suite's own source
// (the package's non-test files) with go/types and counts a method as
// called only where a call expression resolves to that very method of the
// store.Store interface (or of vault.KeyStore, which it embeds), and only
// inside functions reachable from Run. So a field or method of the same
// name on another type (Conversation.Link), a call in a test function
// missing from Run's table or a helper that no test reaches, or a comment
// naming the method does not count. The list of
// methods that must be called comes from reflection on the compiled
// interface, so a method added to it later fails this test until the
// suite calls it. A recording proxy around the store under test would
// also see real calls, but it would need one forwarding method per store
// method, would hide the store's other interfaces (Clocked) from the
// suite, and could only judge a full, unfiltered run. The price is a
// type-check from source, a second or two.
func TestSuiteCallsEveryMethod(t *testing.T) {
	called := suiteCalls(t)
	var missing []string
	iface := reflect.TypeFor[store.Store]()
	for i := range iface.NumMethod() {
		if m := iface.Method(i).Name; !called[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the conformance suite (Run) never calls these store.Store methods: %s", strings.Join(missing, ", "))
	}
}

// suiteCalls returns the names of the store.Store methods called in the
// functions of this package reachable from Run.
func suiteCalls(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("github.com/openteller/openteller/internal/store/storetest", fset, files, info)
	if err != nil {
		t.Fatalf("type-check the suite: %v", err)
	}

	// The methods of store.Store as go/types sees them: a call resolves to
	// one of these objects exactly when it calls the store.
	i := slices.IndexFunc(pkg.Imports(), func(p *types.Package) bool { return p.Path() == reflect.TypeFor[store.Store]().PkgPath() })
	if i < 0 {
		t.Fatal("the suite does not import the store package")
	}
	iface := pkg.Imports()[i].Scope().Lookup("Store").Type().Underlying().(*types.Interface)
	methods := map[types.Object]bool{}
	for m := range iface.Methods() {
		methods[m] = true
	}
	if len(methods) != reflect.TypeFor[store.Store]().NumMethod() {
		t.Fatalf("go/types sees %d methods of store.Store, reflection %d", len(methods), reflect.TypeFor[store.Store]().NumMethod())
	}

	// The package's functions, by object, to follow references from Run.
	decls := map[types.Object]*ast.FuncDecl{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				decls[info.Defs[fd.Name]] = fd
			}
		}
	}
	run := pkg.Scope().Lookup("Run")
	if decls[run] == nil {
		t.Fatal("no func Run in the suite")
	}
	called := map[string]bool{}
	seen := map[types.Object]bool{run: true}
	queue := []types.Object{run}
	for len(queue) > 0 {
		fd := decls[queue[0]]
		queue = queue[1:]
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident: // a function of the suite, called or listed (as in Run's table)
				if obj := info.Uses[n]; obj != nil && decls[obj] != nil && !seen[obj] {
					seen[obj] = true
					queue = append(queue, obj)
				}
			case *ast.CallExpr:
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && methods[info.Uses[sel.Sel]] {
					called[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	return called
}
