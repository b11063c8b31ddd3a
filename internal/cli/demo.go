package cli

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	"github.com/openteller/openteller/internal/demo"
	"github.com/openteller/openteller/internal/server"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := demoOptions(args, stderr)
	if err != nil {
		return err
	}
	server.TuneGC(ctx)
	o.Stdout, o.Logger = stdout, server.NewLogger(o.Config, stderr)
	return demo.Run(ctx, o)
}

// demoOptions parses the demo's flags: the node's, and the demo's own.
func demoOptions(args []string, stderr io.Writer) (demo.Options, error) {
	var o demo.Options
	cfg, _, err := parse("demo", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&o.BankAddr, "bank-addr", os.Getenv("OPENTELLER_BANK_ADDR"), "address of the simulated bank (default: the port after --addr, or any free port if that one is taken) [$OPENTELLER_BANK_ADDR]")
		fs.DurationVar(&o.Activity, "activity", 4*time.Second, "mean time between the demo customer's card transactions")
		fs.DurationVar(&o.FirstAlert, "first-alert", 30*time.Second, "after this long the bank asks about a suspicious payment, so the fraud alert is seen early (0: only at random)")
		fs.DurationVar(&o.SettleDelay, "settle-delay", 5*time.Second, "how long the simulated bank takes to settle a payment it accepted")
	})
	o.Config = cfg
	return o, err
}
