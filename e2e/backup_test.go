package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/vault"
)

// TestClearedHistoryGoneFromBackups keeps "clear history: gone for good, in
// backups too" to what the code does (docs/promises.md says the same):
//
//   - At once, on the node's own disk: the cleared rows are zeroed (SQLite's
//     secure_delete) and the WAL that held older copies of their pages is
//     emptied, so no wrapped key or sealed payload of the cleared history is
//     left in any file the platform keeps.
//   - In a backup taken before the clear: the wrapped data key is in it, and
//     the root key still unwraps it. The test shows that it does, and that
//     once the root key is rotated and the old one retired, the copy no
//     longer opens. Backups reach the promise at the next rotation.
func TestClearedHistoryGoneFromBackups(t *testing.T) {
	const marker = "the wombat's secret savings plan"
	dir := t.TempDir()
	p, info := startDemo(t, dir, "--activity", "1h")
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	bank.post(message("before-backup", info.LinkID, marker))
	p.stop()

	backup := t.TempDir()
	copyDatabase(t, dir, backup)

	// What the backup holds of the history about to be cleared.
	ctx := context.Background()
	old, err := sqlite.Open(ctx, filepath.Join(backup, "openteller.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	conv, err := old.Conversation(ctx, info.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	owner := vault.ConversationKey(conv.CustomerID, conv.InstitutionID)
	wrapped, err := old.DataKey(ctx, owner)
	if err != nil {
		t.Fatalf("the backup holds no data key for the conversation: %v", err)
	}
	events, err := old.EventsAfter(ctx, conv.ID, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	var recordID string
	keys := openKeyring(t, dir, old)
	for _, e := range events {
		if plain, err := keys.Open(ctx, owner, e.ID, e.Sealed); err == nil && bytes.Contains(plain, []byte(marker)) {
			sealed, recordID = e.Sealed, e.ID
		}
	}
	if sealed == nil {
		t.Fatalf("the backup does not open the message (so this test would prove nothing); %d events", len(events))
	}
	needles := map[string][]byte{"the wrapped data key": wrapped.Wrapped, "the sealed message": sealed}
	if len(holding(dir, needles)) == 0 {
		t.Fatal("the node's files do not hold the history before it is cleared (so this test would prove nothing)")
	}

	p, info = startDemo(t, dir, "--activity", "1h")
	// A message of this run, whose pages are still in the WAL.
	bank = newBank(t, info.BaseURL, info.InstitutionAPIKey)
	bank.post(message("after-backup", info.LinkID, "the wombat's second secret"))
	needles["a message sealed since the node started"] = newestSealed(t, filepath.Join(dir, "openteller.db"), conv.ID)
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := c.Call(ctxT(t), "POST", "/app/api/history/clear", map[string]string{"institution_id": info.InstitutionID}, nil); err != nil {
		t.Fatalf("clear history: %v", err)
	}
	// While the node runs, its files let go of the history within a few
	// checkpoints; after it stops, they hold none of it either.
	deadline := time.Now().Add(15 * time.Second)
	for left := holding(dir, needles); len(left) > 0; left = holding(dir, needles) {
		if time.Now().After(deadline) {
			t.Fatalf("while the node runs, after the clear: %s", strings.Join(left, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	if left := holding(dir, needles); len(left) > 0 {
		t.Fatalf("after the node stopped: %s", strings.Join(left, "; "))
	}

	// Until the root key is rotated, the backup still opens the cleared
	// history; after it, never again.
	if _, err := openKeyring(t, dir, old).Open(ctx, owner, recordID, sealed); err != nil {
		t.Fatalf("before rotation the backup no longer opens (so the rotation below would prove nothing): %v", err)
	}
	for _, step := range [][]string{
		{"keys", "rotate", "--data", dir},
		{"keys", "retire", "--version", "1", "--data", dir},
	} {
		if out, err := runCLI(t, step...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(step, " "), err, out)
		}
	}
	if plain, err := openKeyring(t, dir, old).Open(ctx, owner, recordID, sealed); err == nil {
		t.Fatalf("after rotation the backup still opens the cleared message: %q", plain)
	}
}

// newestSealed reads the newest event of the conversation from a running
// node's database, as anyone with the file could.
func newestSealed(t *testing.T, path, conversationID string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(`SELECT sealed FROM events WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1`, conversationID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	return sealed
}

// holding says which files under dir hold which of the needles.
func holding(dir string, needles map[string][]byte) []string {
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil // a file that went away while walking
		}
		for what, b := range needles {
			if bytes.Contains(data, b) {
				out = append(out, filepath.Base(path)+" holds "+what)
			}
		}
		return nil
	})
	return out
}

// copyDatabase copies the SQLite database of a stopped node, as a backup
// would: the database, not the root key file.
func copyDatabase(t *testing.T, from, to string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(from, "openteller.db*"))
	if len(matches) == 0 {
		t.Fatalf("no database in %s", from)
	}
	for _, m := range matches {
		src, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, filepath.Base(m)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// openKeyring is what restoring a backup on the node would use: the root
// keys the node has now, over the backup's wrapped data keys.
func openKeyring(t *testing.T, dataDir string, keys vault.KeyStore) *vault.Keyring {
	t.Helper()
	roots, err := vault.LoadRootKeys("", filepath.Join(dataDir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := vault.NewKeyring(roots, keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
