package cli

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/openteller/openteller/internal/demo"
	"github.com/openteller/openteller/internal/server"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := demo.Options{Stdout: stdout}
	cfg, _, err := parse("demo", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&o.BankAddr, "bank-addr", "", "address of the simulated bank (default: the port after --addr)")
		fs.DurationVar(&o.Activity, "activity", 4*time.Second, "mean time between the demo customer's card transactions")
		fs.DurationVar(&o.FirstAlert, "first-alert", 30*time.Second, "after this long the bank asks about a suspicious payment, so the fraud alert is seen early (0: only at random)")
	})
	if err != nil {
		return err
	}
	tuneGC()
	o.Config, o.Logger = cfg, server.NewLogger(cfg, stderr)
	return demo.Run(ctx, o)
}
