package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openteller/openteller/internal/store/postgres"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestNothingInPlaintextOnDisk posts events with distinctive content, stops
// the node gracefully (SIGTERM must exit cleanly), and scans every file the
// platform keeps — the SQLite database, its WAL, the embedded NATS store —
// for that content. The simulated bank's own state file is not the
// platform's and is left out.
func TestNothingInPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	p, info := startDemo(t, dir, "--activity", "1h")
	markers := []string{"Zanzibar Quokka Emporium", "7319.42", "secret plans for the quokka"}
	res := newBank(t, info.BaseURL, info.InstitutionAPIKey).post(
		bankapi.Event{ID: "disk-1", LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: time.Now().UTC(),
			Data: bankapi.TransactionPosted{AccountID: "acc", TransactionID: "t-disk", Status: "posted", Direction: "debit",
				Amount: bankapi.Money{Amount: markers[1], Currency: "USD"}, Merchant: &bankapi.Merchant{Name: markers[0]}}},
		message("disk-2", info.LinkID, markers[2]),
	)
	for _, r := range res {
		if r.Status != "accepted" {
			t.Fatalf("%+v", r)
		}
	}
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/messages", map[string]string{"text": "my quokka password hint"}, nil); err != nil {
		t.Fatal(err)
	}
	// A tap on a quick reply: its payload goes to the bank through the
	// outbox, which must hold it sealed like everything else.
	offer := newBank(t, info.BaseURL, info.InstitutionAPIKey).post(bankapi.Event{ID: "disk-3", LinkID: info.LinkID, Type: bankapi.TypeMessage, OccurredAt: time.Now().UTC(),
		Data: bankapi.Message{Text: "Pick one", QuickReplies: []bankapi.QuickReply{{Label: "Wombat option", Payload: "quokka-payload-77"}}}})[0]
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/messages",
		map[string]any{"reply_to": offer.Seq, "payload": "quokka-payload-77", "text": "Wombat option"}, nil); err != nil {
		t.Fatal(err)
	}
	// The name the customer shows the bank's people is sealed too.
	if err := c.Call(ctxT(t), "PUT", "/app/api/links/"+info.LinkID+"/display-name", map[string]string{"name": "Quokka Nickname Q"}, nil); err != nil {
		t.Fatal(err)
	}
	markers = append(markers, "my quokka password hint", "quokka-payload-77", "Wombat option", "Quokka Nickname Q")
	sent(markers...) // every line of the output, checkLogs
	markers = append(markers, info.CustomerPassword)

	// While running, the WAL holds the newest pages; after a clean stop
	// they are checkpointed into the database file. Scan both states.
	if n := scan(t, dir, markers); n < 3 {
		t.Fatalf("scanned only %d files while running", n)
	}
	p.stop()
	if !p.cmd.ProcessState.Success() {
		t.Fatalf("demo did not exit cleanly on SIGTERM: %v", p.cmd.ProcessState)
	}
	scan(t, dir, markers)

	// The node's output carries none of it, and its log records not the
	// customer's email either (the demo's banner shows the sign-in, for the
	// person at the keyboard).
	for _, line := range strings.Split(p.out.String(), "\n") {
		for _, m := range append(slices.Clone(markers), info.CustomerEmail) {
			if !strings.HasPrefix(line, "time=") && (m == info.CustomerEmail || m == info.CustomerPassword) {
				continue // the banner's sign-in line
			}
			if strings.Contains(line, m) {
				t.Errorf("the output holds %q: %s", m, line)
			}
		}
	}

	// No operator command shows a customer's content: run every command
	// there is against this data directory and search what it prints.
	commands := map[string][]string{
		"audit":       {"audit", "verify", "--data", dir},
		"config":      {"config", "--data", dir},
		"institution": {"institution", "list", "--data", dir},
		"keys":        {"keys", "status", "--data", dir},
		// Creates and disables accounts; shows no customer's data.
		"staff":    nil,
		"webhooks": {"webhooks", "dead", "--data", dir, "--institution", info.InstitutionID},
		// Not operator views of stored data: bench makes its own scratch
		// store; demo and serve run the platform.
		"bench": nil, "demo": nil, "serve": nil,
	}
	usage, _ := runCLI(t)
	listed := 0
	for _, line := range strings.Split(usage, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.HasPrefix(line, "  ") {
			continue
		}
		listed++
		args, known := commands[fields[0]]
		if !known {
			t.Errorf("command %q is not checked here for showing customers' content: add it", fields[0])
			continue
		}
		if args == nil {
			continue
		}
		out, err := runCLI(t, args...)
		if err != nil {
			t.Errorf("%s: %v\n%s", fields[0], err, out)
		}
		for _, m := range append(markers, info.CustomerEmail) {
			if strings.Contains(out, m) {
				t.Errorf("openteller %s shows %q", strings.Join(args, " "), m)
			}
		}
	}
	if listed != len(commands) {
		t.Errorf("usage lists %d commands, this test knows %d", listed, len(commands))
	}
}

// scan reports every platform file under dir that contains a marker, and
// returns how many files it read. demo.json (the demo's own note of its
// sign-in, written for the person at the keyboard) and the simulated bank's
// state are not the platform's storage.
func scan(t *testing.T, dir string, markers []string) int {
	t.Helper()
	scanned := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "banksim.json" || d.Name() == "demo.json" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil // a file that went away while walking
		}
		scanned++
		for _, m := range markers {
			if bytes.Contains(data, []byte(m)) {
				t.Errorf("%s holds %q in plaintext", path, m)
			}
		}
		return nil
	})
	return scanned
}

// TestNothingInPlaintextInPostgres: the same promise on PostgreSQL: after
// a bank's events, a customer's message, a tapped quick reply and a name
// shown to the bank's people, no row of
// any table of the platform's schema holds what was sent.
func TestNothingInPlaintextInPostgres(t *testing.T) {
	cl := startCluster(t)
	c := newCustomer(t, cl.baseA)
	c.signUp(fmt.Sprintf("pg-at-rest-%d@example.com", time.Now().UnixNano()), "nothing in the clear")
	conv := c.link(cl.institutionID, "balances", "transactions", "support_chat")
	markers := []string{"Xylophone Marmot Outfitters", "6283.17", "marmot gossip from the bank", "my marmot question", "marmot-payload-31", "Otter option", "Marmot Nickname M"}
	sent(markers...)
	bank := newBank(t, cl.baseA, cl.apiKey)
	res := bank.post(
		bankapi.Event{ID: "pg-1", LinkID: conv.Link.ID, Type: bankapi.TypeTransactionPosted, OccurredAt: time.Now().UTC(),
			Data: bankapi.TransactionPosted{AccountID: "acc", TransactionID: "t-pg", Status: "posted", Direction: "debit",
				Amount: bankapi.Money{Amount: markers[1], Currency: "USD"}, Merchant: &bankapi.Merchant{Name: markers[0]}}},
		message("pg-2", conv.Link.ID, markers[2]),
		bankapi.Event{ID: "pg-3", LinkID: conv.Link.ID, Type: bankapi.TypeMessage, OccurredAt: time.Now().UTC(),
			Data: bankapi.Message{Text: "Pick", QuickReplies: []bankapi.QuickReply{{Label: markers[5], Payload: markers[4]}}}},
	)
	for _, r := range res {
		if r.Status != "accepted" {
			t.Fatalf("%+v", r)
		}
	}
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+conv.ID+"/messages", map[string]string{"text": markers[3]}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+conv.ID+"/messages",
		map[string]any{"reply_to": res[2].Seq, "payload": markers[4], "text": markers[5]}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctxT(t), "PUT", "/app/api/links/"+conv.Link.ID+"/display-name", map[string]string{"name": markers[6]}, nil); err != nil {
		t.Fatal(err)
	}

	ctx := ctxT(t)
	db, err := postgres.Connect(ctx, cl.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	rows, err := db.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables in the schema: %v", len(tables), tables)
	}
	scanned := 0
	for _, table := range tables {
		rows, err := db.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			rows.Scan(&row)
			scanned++
			for _, m := range markers {
				if strings.Contains(row, m) {
					t.Errorf("table %s holds %q in the clear", table, m)
				}
			}
		}
		rows.Close()
	}
	if scanned < 10 {
		t.Fatalf("scanned only %d rows", scanned)
	}
}
