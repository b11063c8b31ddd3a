package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/server"
)

// runStaff manages an institution's people for the agent console: create
// (the password is shown once) and disable (their sessions end at once).
// Banks do the same through the Bank API (POST /v1/staff).
func runStaff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "disable") {
		fmt.Fprintln(stderr, "usage: openteller staff create --institution ID --email E --name N --role agent|supervisor | disable --institution ID --id ID")
		return errUsage
	}
	var institutionID, email, name, role, id string
	cfg, _, err := parse("staff "+args[0], args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&institutionID, "institution", "", "institution id (required)")
		if args[0] == "create" {
			fs.StringVar(&email, "email", "", "the member's email, to sign in with (required)")
			fs.StringVar(&name, "name", "", "the member's name, shown to customers with their replies (required)")
			fs.StringVar(&role, "role", "agent", "agent or supervisor")
		} else {
			fs.StringVar(&id, "id", "", "the member's id (required)")
		}
	})
	if err != nil {
		return err
	}
	if institutionID == "" || (args[0] == "disable" && id == "") {
		fmt.Fprintln(stderr, "openteller staff: --institution (and for disable --id) are required")
		return errUsage
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "disable" {
		if err := st.DisableStaff(ctx, institutionID, id, time.Now()); err != nil {
			return fmt.Errorf("disable %s: %w", id, err)
		}
		fmt.Fprintf(stdout, "%s is disabled; their console sessions have ended\n", id)
		return nil
	}
	m, password, err := console.NewStaff(ctx, st, institutionID, email, name, role, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\npassword (shown once): %s\nsign in at %s/console.html\n", m.Role, m.ID, m.Email, password, cfg.BaseURL)
	return nil
}
