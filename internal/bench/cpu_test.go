package bench

import (
	"context"
	"crypto/sha256"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/server"
)

// TestCPUReadings: the load generator's CPU time grows as it works, and so
// does the PostgreSQL server's, read through the postmaster of one of its
// connections, as a query keeps that connection's server process busy.
func TestCPUReadings(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU times are read from /proc")
	}
	before, ok := loadCPU()
	if !ok {
		t.Fatal("the load generator's CPU time could not be read")
	}
	sum := sha256.Sum256(nil)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		for range 10_000 {
			sum = sha256.Sum256(sum[:])
		}
		if now, _ := loadCPU(); now-before >= 100*time.Millisecond {
			break
		}
	}
	if now, _ := loadCPU(); now-before < 100*time.Millisecond {
		t.Fatalf("after 30 s of hashing, the load generator's CPU time grew %v", now-before)
	}

	url := os.Getenv("OPENTELLER_TEST_POSTGRES")
	if url == "" {
		t.Skip("OPENTELLER_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	conn, err := server.ConnectDatabase(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	postmaster := postmasterOf(backend)
	if postmaster == 0 {
		t.Skip("the PostgreSQL server does not run on this machine")
	}
	if postmasterOf(os.Getpid()) != 0 {
		t.Error("this process was taken for a PostgreSQL server process")
	}
	server0, ok := serverCPU(postmaster)
	if !ok {
		t.Fatal("the server's CPU time could not be read")
	}
	for range 20 {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 2000000)").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if now, _ := serverCPU(postmaster); now-server0 >= 100*time.Millisecond {
			return
		}
	}
	now, _ := serverCPU(postmaster)
	t.Fatalf("after 40 million rows counted, the server's CPU time grew %v", now-server0)
}
