package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/openteller/openteller/internal/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := bench.Options{Log: stderr}
	var asJSON bool
	var scenario string
	fs := flag.NewFlagSet("openteller bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&scenario, "scenario", "ingest", "what to measure: ingest (idle sockets' memory, latency at --rate, then events in and live to every socket), idle (only the memory of --sockets idle sockets) or fraud (alert → device → answer → signed webhook round trips at --rate alerts/s for --duration)")
	fs.StringVar(&o.Store, "store", "sqlite", "store to measure: sqlite or postgres")
	fs.StringVar(&o.Database, "database", os.Getenv("OPENTELLER_DATABASE"), "PostgreSQL URL for --store postgres (a scratch schema is made and dropped) [$OPENTELLER_DATABASE]")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "total measuring time, split evenly between three phases: latency at --rate (after a 1 s warm-up timed apart), ingest while delivering, ingest alone")
	fs.IntVar(&o.Sockets, "sockets", 1000, "connected customers, one WebSocket each (past 20,000 a node on the loopback sees them from 127.0.0.2 and on: one source address has some 28,000 ports)")
	fs.IntVar(&o.Nodes, "nodes", 1, "serve processes sharing one PostgreSQL (--store postgres) and one NATS (--nats); customers' sockets and banks' posts are spread over them")
	fs.StringVar(&o.NATS, "nats", os.Getenv("OPENTELLER_NATS"), "external NATS the nodes share (needed for --nodes > 1) [$OPENTELLER_NATS]")
	fs.IntVar(&o.Rate, "rate", 2000, "offered load of the latency phase, events per second")
	fs.IntVar(&o.BatchSize, "batch", 100, "events per POST in the throughput phase")
	fs.IntVar(&o.Writers, "writers", 8, "concurrent posters in the throughput phase")
	fs.StringVar(&o.DebugAddr, "debug-addr", "", "serve the node's /debug/pprof there, to profile it under load")
	fs.StringVar(&o.Target, "target", "", "measure a running node at this URL instead of starting one (ingest scenario; with --target-info)")
	fs.StringVar(&o.TargetInfo, "target-info", "", "the demo.json of the --target node (`openteller demo` writes it): its institution key and demo customer")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o.Binary = exe
	switch scenario {
	case "ingest":
	case "idle":
		res, err := bench.RunIdle(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "store %s, %d node(s): %d idle sockets cost %.1f KiB resident each (%.1f KiB of heap and stacks, %.2f goroutines); heap in use %.0f MiB, RSS %.1f MiB\n",
			res.Store, res.Nodes, res.Sockets, res.KBPerIdleSocket, res.HeapKBPerIdleSocket, res.GoroutinesPerIdleSocket, res.HeapMB, res.RSSMB)
		if asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(b))
		}
		return nil
	case "fraud":
		if o.Target != "" {
			return errors.New("bench: --scenario fraud starts its own node; --target is for the ingest scenario")
		}
		if !isSet(fs, "rate") {
			o.Rate = 500
		}
		res, err := bench.RunFraud(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "store %s: fraud round trips (bank posts alert → device answers → bank gets the signed webhook) at %d alerts/s offered over %d devices: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (%d answered of %d, %d unanswered, %.0f/s achieved); node RSS %.1f MiB (peak %.1f MiB); the cores hashed %.0f MB/s before, %.0f after\n",
			res.Store, res.OfferedPerSec, res.Customers, res.RoundtripMs.P50, res.RoundtripMs.P95, res.RoundtripMs.P99, res.RoundtripMs.Max,
			res.Answered, res.Alerts, res.Unanswered, res.AchievedPerSec, res.RSSMB, res.PeakRSSMB, res.HostSpeed[0], res.HostSpeed[1])
		if asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(b))
		}
		return nil
	default:
		return fmt.Errorf("bench: unknown --scenario %q: ingest or fraud", scenario)
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	memory := fmt.Sprintf("node RSS %.1f MiB (peak %.1f MiB)", res.RSSMB, res.PeakRSSMB)
	if res.Target != "" {
		memory = "node memory not measured (a running node at " + res.Target + ")"
	}
	cross := ""
	if res.CrossNodeLatencyMs != nil {
		cross = fmt.Sprintf(" (across nodes p50 %.2f ms, p99 %.2f ms)", res.CrossNodeLatencyMs.P50, res.CrossNodeLatencyMs.P99)
	}
	fmt.Fprintf(stdout, "store %s, %d node(s), %d sockets: %.0f events/s accepted and %.0f delivered (%d lost), %.0f accepted with no socket open (batches of %d; a POST's answer p50 %.1f ms, p99 %.1f ms while delivering); e2e latency at %d events/s: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms%s (%d delivered, %d undelivered); %.1f KiB per idle socket; %s; the cores hashed %.0f MB/s before, %.0f after\n",
		res.Store, res.Nodes, res.Sockets, res.IngestEventsPerSec, res.DeliveredEventsPerSec, res.Lost, res.IngestAloneEventsPerSec, res.IngestBatchSize, res.PostLatencyMs.P50, res.PostLatencyMs.P99,
		res.OfferedRate, res.E2ELatencyMs.P50, res.E2ELatencyMs.P95, res.E2ELatencyMs.P99, cross, res.Delivered, res.Undelivered, res.KBPerIdleSocket, memory, res.HostSpeed[0], res.HostSpeed[1])
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
