package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rawDB opens path on one connection with Open's journal and sync
// settings, through the VFS named vfs ("" for SQLite's own), and with the
// WAL left to the test (no automatic checkpoints).
func rawDB(t *testing.T, path, vfs string, cachePages int) *sql.DB {
	t.Helper()
	if err := registerWALVFS(); err != nil {
		t.Fatal(err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(" + strconv.Itoa(cachePages) + ")"
	if vfs != "" {
		dsn += "&vfs=" + vfs
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// walFrames counts the frames of the log in path's WAL: those from its
// start that carry the salt of its header (what SQLite's recovery reads
// as the log, before it checks their checksums). What follows them, old
// frames or the zeros a WAL grows by, is not the log.
func walFrames(t *testing.T, path string) int {
	t.Helper()
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if len(wal) < 32 {
		return 0
	}
	page := int(binary.BigEndian.Uint32(wal[8:12]))
	salt := wal[16:24]
	n := 0
	for at := 32; at+24+page <= len(wal) && bytes.Equal(wal[at+8:at+16], salt); at += 24 + page {
		n++
	}
	return n
}

// begin starts a transaction on db.
func begin(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// fillRows inserts n rows of size random bytes each in tx, from key from.
func fillRows(t *testing.T, tx *sql.Tx, from, n, size int) {
	t.Helper()
	v := make([]byte, size)
	for i := range n {
		rand.Read(v)
		if _, err := tx.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, from+i, v); err != nil {
			t.Fatal(err)
		}
	}
}

// writeCalls reads how many write system calls this process has made.
func writeCalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io to count write calls:", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// TestWALWritesAreGathered commits a transaction of some 600 pages and
// counts the process's write calls during COMMIT: SQLite's own VFS makes
// two a frame (checked, so the count can tell), walVFS one per 30 frames
// or so and as many again for the zeros the file grows by (walGrowth),
// unless the file does not promise power-safe overwrite.
func TestWALWritesAreGathered(t *testing.T) {
	for _, c := range []struct {
		vfs      string
		gathered bool
	}{{"", false}, {walVFSName, true}, {walVFSName + "&psow=0", false}} {
		path := filepath.Join(t.TempDir(), "t.db")
		db := rawDB(t, path, c.vfs, -64<<10) // 64 MiB: no spill before COMMIT
		tx := begin(t, db)
		fillRows(t, tx, 0, 2000, 1200)
		before := writeCalls(t)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		calls := writeCalls(t) - before
		frames := walFrames(t, path)
		t.Logf("VFS %q: %d frames committed with %d write calls", c.vfs, frames, calls)
		if frames < 500 {
			t.Fatalf("VFS %q: only %d frames in the WAL; the test means to commit some 600", c.vfs, frames)
		}
		if c.gathered && calls > frames/10 {
			t.Errorf("walVFS made %d write calls for %d frames; want them gathered (at most %d)", calls, frames, frames/10)
		}
		if !c.gathered && calls < frames {
			t.Errorf("SQLite's VFS made %d write calls for %d frames; this test cannot count them", calls, frames)
		}
	}
}

// TestWALSpilledFramesReadBack makes a transaction too large for its page
// cache, so that SQLite writes pages into the WAL before COMMIT and reads
// them back: the reads must find what the buffer held. Another
// connection then sees exactly what was committed, in a sound file.
func TestWALSpilledFramesReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db := rawDB(t, path, walVFSName, 16)
	tx := begin(t, db)
	fillRows(t, tx, 0, 3000, 700)
	if _, err := tx.Exec(`UPDATE t SET v = zeroblob(700) WHERE k % 3 = 0`); err != nil {
		t.Fatal(err)
	}
	var n, zeros int
	if err := tx.QueryRow(`SELECT count(*), count(*) FILTER (WHERE v = zeroblob(700)) FROM t`).Scan(&n, &zeros); err != nil {
		t.Fatal(err)
	}
	if n != 3000 || zeros != 1000 {
		t.Fatalf("inside the transaction: %d rows, %d zeroed; want 3000 and 1000", n, zeros)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	other := rawDB(t, path, walVFSName, 16)
	if err := other.QueryRow(`SELECT count(*), count(*) FILTER (WHERE v = zeroblob(700)) FROM t`).Scan(&n, &zeros); err != nil {
		t.Fatal(err)
	}
	if n != 3000 || zeros != 1000 {
		t.Fatalf("another connection: %d rows, %d zeroed; want 3000 and 1000", n, zeros)
	}
	checkRecovered(t, path, 3000)
}

// checkRecovered copies the database and its WAL (not the WAL index) as
// a crash would leave them, opens the copy, which makes SQLite rebuild the
// index from the WAL's frames and their checksums, and checks that the
// copy holds rows rows in a sound file.
func checkRecovered(t *testing.T, path string, rows int) {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "copy.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, filepath.Join(dir, "copy.db"), "", 2000)
	var n int
	var check string
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != rows {
		t.Errorf("after recovery: %d rows (%v), want %d", n, err, rows)
	}
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("after recovery: integrity_check %q, %v", check, err)
	}
}

// TestWALRolledBackFramesNeverOverwriteAnotherCommit rolls back, on
// walVFS, a transaction that spilled frames into a WAL just emptied (so
// SQLite reads nothing back from the WAL as it rolls back), commits from a
// connection with SQLite's own VFS at the same offsets, then reads on the
// first connection. The rolled-back frames must not be written over the
// other commit: they were dropped with the write lock (checked: without
// walShmLock the recovered copy loses the commit).
func TestWALRolledBackFramesNeverOverwriteAnotherCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db := rawDB(t, path, walVFSName, 16)
	plain := rawDB(t, path, "", 16)
	tx := begin(t, db)
	fillRows(t, tx, 0, 500, 500)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	tx = begin(t, db)
	fillRows(t, tx, 10000, 300, 500) // spills past the 16-page cache
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx = begin(t, plain)
	fillRows(t, tx, 20000, 600, 500) // twice the rolled-back frames: over all of them
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1100 {
		t.Fatalf("rows seen by the first connection: %d, %v; want 1100", n, err)
	}
	checkRecovered(t, path, 1100)
}

// TestWALRolledBackFramesStayOut rolls back a transaction that spilled
// frames into a WAL just emptied (so SQLite reads nothing back from it as
// it rolls back), empties the WAL again from another connection, and
// commits one row: the WAL must then hold that commit alone, not the
// rolled-back frames, which went with the write lock (checked: without
// walShmLock's drop it fails).
func TestWALRolledBackFramesStayOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db := rawDB(t, path, walVFSName, 16)
	tx := begin(t, db)
	fillRows(t, tx, 0, 1000, 500) // about 130 frames, committed
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	other := rawDB(t, path, walVFSName, 16)
	var busy, logged, copied int
	if err := other.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d, %v", busy, err)
	}
	marker := bytes.Repeat([]byte("rolled-back "), 40)
	tx = begin(t, db)
	for i := range 400 { // spills past the 16-page cache, after the committed frames
		if _, err := tx.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, 10000+i, marker); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d, %v", busy, err)
	}
	if _, err := db.Exec(`INSERT INTO t (k, v) VALUES (-1, x'00')`); err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if n := walFrames(t, path); n > 4 {
		t.Errorf("the WAL holds %d frames after a one-row commit on an emptied log; want a few", n)
	}
	if bytes.Contains(wal, marker[:100]) {
		t.Error("the emptied WAL holds frames of the rolled-back transaction")
	}
	var n int
	if err := other.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1001 {
		t.Fatalf("rows: %d, %v; want 1001", n, err)
	}
}

// TestEveryConnectionSyncsItsCommits: walVFS is safe only while each
// connection to the store syncs its commits (see walvfs.go), the
// checkpointer's included, and takes the WAL's locks (locking_mode
// NORMAL). (This build's default for a WAL is FULL too, so
// the test catches a connection set to less, not the DSN's word missing.)
func TestEveryConnectionSyncsItsCommits(t *testing.T) {
	s, _ := openFile(t)
	ctx := context.Background()
	for name, q := range map[string]interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}{"writer": s.conn, "checkpointer's pool": s.writes, "read pool": s.reads} {
		var sync int
		if err := q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Errorf("%s: synchronous=%d (%v), want 2 (FULL)", name, sync, err)
		}
		var mode string
		if err := q.QueryRowContext(ctx, "PRAGMA locking_mode").Scan(&mode); err != nil || mode != "normal" {
			t.Errorf("%s: locking_mode=%q (%v), want normal", name, mode, err)
		}
	}
}

// TestWALGrowsAheadOfItsFrames commits one row at a time: on walVFS the
// WAL grows by walGrowth at a time, written with zeros ahead of the
// frames, so that most commits write over space the file already holds
// rather than at its end (see walGrowth); with SQLite's own VFS nearly
// every commit grows the file, which shows the test can tell. A copy of
// the files taken then, as a crash leaves them, recovers every commit and
// nothing more: the zeros after the last frame are not read as frames.
func TestWALGrowsAheadOfItsFrames(t *testing.T) {
	const commits = 300
	for _, c := range []struct {
		vfs   string
		grows bool
	}{{"", false}, {walVFSName, true}} {
		path := filepath.Join(t.TempDir(), "t.db")
		db := rawDB(t, path, c.vfs, 2000)
		v := make([]byte, 3000) // about a page a row
		sizes := map[int64]bool{}
		for i := range commits {
			rand.Read(v)
			if _, err := db.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, i, v); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path + "-wal")
			if err != nil {
				t.Fatal(err)
			}
			sizes[fi.Size()] = true
			// Written, not only made longer: a file grown as a hole
			// gets its blocks at the commit that writes there.
			if held, ok := allocated(fi); c.grows && ok && held < fi.Size() {
				t.Fatalf("walVFS: the WAL is %d bytes long but holds %d on the disk: grown as a hole", fi.Size(), held)
			}
		}
		frames := walFrames(t, path)
		if frames < commits {
			t.Fatalf("VFS %q: %d frames in the WAL after %d commits", c.vfs, frames, commits)
		}
		t.Logf("VFS %q: %d commits, %d frames, the WAL file took %d sizes", c.vfs, commits, frames, len(sizes))
		if !c.grows {
			if len(sizes) < commits/2 {
				t.Fatalf("SQLite's VFS: the WAL took %d sizes in %d commits; this test cannot tell growth", len(sizes), commits)
			}
			continue
		}
		// The bytes the frames take, in walGrowth steps, and one more
		// for the first commit's.
		want := int(int64(frames)*(4096+24)/walGrowth) + 2
		if len(sizes) > want {
			t.Errorf("walVFS: the WAL took %d sizes in %d commits; want it grown ahead, at most %d", len(sizes), commits, want)
		}
		for size := range sizes {
			if size%walGrowth != 0 {
				t.Errorf("walVFS: the WAL was %d bytes, not a multiple of %d", size, walGrowth)
			}
		}
		checkRecovered(t, path, commits)
	}
}

// TestWALGrowsPastAnotherConnectionsFrames: walVFS grows the WAL from the
// file's end as it reads it then, never from where it last left it. Here
// a connection with SQLite's own VFS writes frames past the zeros walVFS
// wrote; walVFS's next commit, which follows them, must not zero them.
// (Checked: growing from the size walVFS had kept loses the other
// connection's rows.)
func TestWALGrowsPastAnotherConnectionsFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db := rawDB(t, path, walVFSName, 2000)
	plain := rawDB(t, path, "", 2000)
	tx := begin(t, db)
	fillRows(t, tx, 0, 10, 1000) // the WAL grows to walGrowth
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx = begin(t, plain)
	fillRows(t, tx, 1000, 450, 3000) // about a page a row: past walGrowth
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= walGrowth {
		t.Fatalf("the other connection's frames end within %d bytes; the test means them past walGrowth", fi.Size())
	}
	tx = begin(t, db)
	fillRows(t, tx, 5000, 10, 1000)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := plain.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 470 {
		t.Fatalf("rows: %d, %v; want 470", n, err)
	}
	checkRecovered(t, path, 470)
}
