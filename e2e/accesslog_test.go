package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/tlog"
	_ "modernc.org/sqlite"
)

// TestBrowserVerifierVectors runs the messenger's own verifier
// (static/js/tlog.js, in Chromium) over every Merkle vector in the shared
// fixtures: happy paths verify, every corrupted case is rejected.
func TestBrowserVerifierVectors(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	ctx := browser
	var cases []json.RawMessage
	for _, kind := range []string{"inclusion", "consistency"} {
		root := testenv.Fixture(t, "merkle", kind)
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
				b, _ := os.ReadFile(path)
				cases = append(cases, json.RawMessage(`{"kind":"`+kind+`","name":"`+filepath.Base(path)+`","v":`+string(b)+`}`))
			}
			return nil
		})
	}
	if len(cases) < 100 {
		t.Fatalf("only %d vectors", len(cases))
	}
	all, _ := json.Marshal(cases)
	script := `(async () => {
	  const t = await import('/js/tlog.js');
	  const b = (s) => { try { return t.fromBase64(s); } catch { return new Uint8Array(0); } };
	  const failures = [];
	  for (const c of ` + string(all) + `) {
	    const v = c.v;
	    let ok;
	    if (c.kind === 'inclusion') {
	      ok = await t.verifyInclusion(b(v.leafHash), v.leafIdx, v.treeSize, (v.proof || []).map(b), b(v.root));
	    } else {
	      // Roots are compared as given, hash-sized or not.
	      ok = await t.verifyConsistency(v.size1, v.size2, (v.proof || []).map(b), b(v.root1), b(v.root2));
	    }
	    if (ok === v.wantErr) failures.push(c.kind + '/' + c.name + ': ' + v.desc);
	  }
	  return failures;
	})()`
	do := steps(t, ctx)
	do("load the messenger", chromedp.Navigate(info.BaseURL+"/"), chromedp.WaitVisible(css(`[data-testid="signin-email"]`)))
	failures, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d vectors wrong in the browser:\n%s", len(failures), len(cases), strings.Join(failures, "\n"))
	}
}

// TestBrowserAccessLogTampering: the owner sees a delegate's read, checked
// in the browser against the signed checkpoint. Then the log is rewritten
// behind everyone's back, the first entry altered with a matching leaf
// hash and the kept checkpoints dropped, so the tree is self-consistent
// again. The next read makes a new checkpoint from the forged tree, and
// the owner's browser, which remembers the checkpoint it saw, warns. The
// operator's audit against a saved checkpoint fails too.
func TestBrowserAccessLogTampering(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	dir := t.TempDir()
	_, info := startDemo(t, dir, "--activity", "1h")
	// Every step has a deadline: a warning that never shows fails the
	// test, with a screenshot, rather than hanging it.
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	do := steps(t, ctx)
	openConversation(do, info)

	acct := newCustomer(t, info.BaseURL)
	acct.signUp("accountant@example.com", "ledgers and receipts")
	var d struct{ ID string }
	owner := newCustomer(t, info.BaseURL)
	owner.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := owner.Call(ctxT(t), "POST", "/app/api/links/"+info.LinkID+"/delegates", map[string]any{"email": "accountant@example.com", "duration_days": 30}, &d); err != nil {
		t.Fatal(err)
	}
	read := func() {
		t.Helper()
		var shared struct{ Delegations []struct{ ID string } }
		if err := acct.Call(ctxT(t), "GET", "/app/api/delegations", nil, &shared); err != nil || len(shared.Delegations) == 0 {
			t.Fatalf("delegations: %v", err)
		}
		if err := acct.Call(ctxT(t), "GET", "/app/api/delegations/"+shared.Delegations[0].ID+"/events", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	read()
	read()
	do("see both reads, one after the other: one line, verified",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.Poll[chromedp.Void](`(() => { const l = document.querySelectorAll('[data-testid="access"]'); return l.length === 1 && l[0].dataset.verified === 'true' && l[0].dataset.entries === '2'; })()`),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="log-status"]').textContent.includes('2 entries')`),
	)
	if warned, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('[data-testid="log-warning"]').hidden`)); warned {
		t.Fatal("a warning on an honest log")
	}
	shot(t, ctx, "access-verified")
	saved := filepath.Join(t.TempDir(), "checkpoint.txt")
	if out, err := runCLI(t, "audit", "verify", "--data", dir, "--save", saved); err != nil || !strings.Contains(out, "access log OK: 2 entries") {
		t.Fatalf("audit of the honest log: %v\n%s", err, out)
	}

	// Rewrite history: the first read becomes someone else's.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "openteller.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var data string
	if err := db.QueryRow(`SELECT data FROM access_entries WHERE idx = 0`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(data, `"read"`, `"looked"`, 1)
	leaf := tlog.LeafHash([]byte(forged))
	tamper := func(queries ...string) {
		t.Helper()
		for _, q := range queries {
			args := []any{}
			if strings.Contains(q, "?") {
				args = []any{forged, leaf[:]}
			}
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	warned := func(what, want string) {
		t.Helper()
		read() // another read: the node signs a checkpoint of the log as it now is
		// Leave the privacy view and wait until it is gone: two hash
		// changes in quick succession can reach the router as one, which
		// then finds the route unchanged and leaves the last check on the
		// page. Then wait for the warning to say it, not only to be shown.
		wantJS, _ := json.Marshal(want)
		err := chromedp.Do(ctx,
			chromedp.Navigate(info.BaseURL+"/#/"),
			chromedp.WaitNotPresent(css(`[data-testid="log-warning"]`)),
			chromedp.WaitVisible(css(`[data-testid="connect-button"]`)),
			chromedp.Navigate(info.BaseURL+"/#/privacy"),
			chromedp.Poll[chromedp.Void](`(() => { const w = document.querySelector('[data-testid="log-warning"]'); return w && !w.hidden && w.textContent.includes(`+string(wantJS)+`); })()`),
		)
		if err != nil {
			warning, _ := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="log-warning"]`)))
			t.Fatalf("%s: warning %q, want one saying %q (%v)", what, warning, want, err)
		}
	}
	// The entry alone: the kept subtree hashes above it still say what it
	// was, so its proof fails.
	tamper(`UPDATE access_entries SET data = ?, leaf_hash = ? WHERE idx = 0`, `DELETE FROM log_checkpoints`)
	warned("the browser warns of an entry rewritten", "could not be verified")
	// A careful attacker drops the kept subtrees too, so that the node
	// rehashes a self-consistent forged tree: it cannot extend the
	// checkpoint the browser saw.
	tamper(`DELETE FROM log_nodes`, `DELETE FROM log_checkpoints`)
	warned("the browser warns of a forged tree", "does not extend the one this browser saw before")
	shot(t, ctx, "access-tampered")
	if out, err := runCLI(t, "audit", "verify", "--data", dir, "--against", saved); err == nil {
		t.Fatalf("the audit passed a rewritten log:\n%s", out)
	}
}

// runCLI runs the built binary with args and returns what it printed.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}
