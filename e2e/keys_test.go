package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestRootKeyRotation: with the node stopped, a second root key is added,
// everything is rewrapped under it and the first is retired from the key
// file; the node starts again on the new key alone, the customer's history
// still opens, and the access log keeps its signing key.
func TestRootKeyRotation(t *testing.T) {
	dir := t.TempDir()
	p, info := startDemo(t, dir, "--activity", "1h")
	newBank(t, info.BaseURL, info.InstitutionAPIKey).post(message("before-rotation", info.LinkID, "sealed under the first root key"))
	out, err := runCLI(t, "audit", "verify", "--data", dir)
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	vkey := regexp.MustCompile(`verifier key: (\S+)`).FindStringSubmatch(out)
	if vkey == nil {
		t.Fatalf("no verifier key in %s", out)
	}
	p.stop()

	for _, step := range [][]string{
		{"keys", "status", "--data", dir},
		{"keys", "add", "--data", dir},
		{"keys", "rewrap", "--data", dir},
		{"keys", "retire", "--version", "1", "--data", dir},
		{"keys", "status", "--data", dir},
	} {
		out, err := runCLI(t, step...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(step, " "), err, out)
		}
		t.Logf("%s:\n%s", strings.Join(step, " "), out)
		if step[1] == "status" && strings.Contains(out, "newest root key: v2") && strings.Contains(out, "root key v1") {
			t.Fatalf("after retiring, v1 still wraps something:\n%s", out)
		}
	}
	if out, err := runCLI(t, "keys", "retire", "--version", "2", "--data", dir); err == nil {
		t.Fatalf("retired the newest root key:\n%s", out)
	}

	_, info = startDemo(t, dir, "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	var page struct {
		Events []struct {
			Type string
			Data map[string]any
		}
	}
	if err := c.Call(ctxT(t), "GET", "/app/api/conversations/"+info.ConversationID+"/events", nil, &page); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range page.Events {
		if e.Type == "message" && e.Data["text"] == "sealed under the first root key" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the history does not open after rotation: %+v", page.Events)
	}
	out, err = runCLI(t, "audit", "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "verifier key: "+vkey[1]) {
		t.Fatalf("the access log after rotation (want key %s): %v\n%s", vkey[1], err, out)
	}
}
