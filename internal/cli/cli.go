// Package cli is the openteller command: it parses each subcommand's flags
// (through the config package) and calls the library; no command holds
// logic of its own beyond wiring and printing.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/openteller/openteller/internal/brand"
	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/webhook"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":       {"run a node of the platform", runServe},
		"demo":        {"run the platform with a simulated bank and a demo customer, on embedded storage", runDemo},
		"config":      {"print the effective configuration, secrets masked", runConfig},
		"institution": {"manage institutions: create, list, rotate-key, brand", runInstitution},
		"webhooks":    {"dead-lettered webhooks: dead --institution ID, redeliver --institution ID --notice ID", runWebhooks},
		"audit":       {"check the access log: verify [--against FILE] [--save FILE]", runAudit},
		"staff":       {"a bank's people in the agent console: create, disable", runStaff},
		"keys":        {"rotate the root key: status, add, rewrap, retire --version N; rotate (add and rewrap, nodes stopped)", runKeys},
		"bench":       {"measure ingest throughput and end-to-end latency", runBench},
	}
}

// errUsage means the command line was wrong; the message has been printed.
var errUsage = errors.New("usage")

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "openteller: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "openteller %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "OpenTeller: a self-hosted messaging platform for banks and their customers.")
	fmt.Fprintln(w, "\nUsage: openteller <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", n, commands[n].summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nEvery flag also reads an OPENTELLER_* environment variable; see `openteller serve -h`.")
}

// parse parses a command's flags into a resolved configuration.
func parse(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	var cfg config.Config
	fs := flag.NewFlagSet("openteller "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	if err := cfg.Resolve(); err != nil {
		return cfg, fs, err
	}
	return cfg, fs, nil
}

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("config", args, stderr, nil)
	if err != nil {
		return err
	}
	cfg.Dump(stdout)
	return nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("serve", args, stderr, nil)
	if err != nil {
		return err
	}
	server.TuneGC(ctx)
	log := server.NewLogger(cfg, stderr)
	srv, ln, err := start(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("openteller serving", "url", cfg.BaseURL, "addr", ln.Addr().String(), "store", storeKind(cfg), "bus", busKind(cfg))
	if cfg.DebugAddr != "" {
		stop, err := server.ServeDebug(cfg.DebugAddr, log)
		if err != nil {
			srv.Shutdown(context.Background())
			return err
		}
		defer stop()
	}
	if cfg.MetricsAddr != "" {
		stop, err := srv.ServeMetrics(cfg.MetricsAddr, log)
		if err != nil {
			srv.Shutdown(context.Background())
			return err
		}
		defer stop()
	}
	return serveUntilDone(ctx, srv, ln)
}

// start listens first, so a taken port fails before any storage is opened.
func start(ctx context.Context, cfg config.Config, log *slog.Logger) (*server.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return srv, ln, nil
}

// serveUntilDone serves until ctx ends (SIGINT or SIGTERM), then shuts down
// gracefully.
func serveUntilDone(ctx context.Context, srv *server.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func storeKind(cfg config.Config) string {
	if cfg.Database != "" {
		return "postgres"
	}
	return "sqlite"
}

func busKind(cfg config.Config) string {
	if cfg.NATS != "" {
		return "nats"
	}
	return "embedded"
}

func runInstitution(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: openteller institution create|list|rotate-key|brand [flags]")
		return errUsage
	}
	var in store.Institution
	var id string
	var grace time.Duration
	var look brand.Change
	var extra func(*flag.FlagSet)
	switch args[0] {
	case "create":
		extra = func(fs *flag.FlagSet) {
			fs.StringVar(&in.Name, "name", "", "institution name shown to customers (required)")
			fs.StringVar(&in.AuthorizeURL, "authorize-url", "", "the institution's OAuth authorize endpoint (required)")
			fs.StringVar(&in.TokenURL, "token-url", "", "the institution's OAuth token endpoint (required)")
			fs.StringVar(&in.ClientID, "client-id", "", "the platform's client id at the institution (required)")
			fs.StringVar(&in.ClientSecret, "client-secret", "", "the platform's client secret at the institution")
			fs.StringVar(&in.Kind, "kind", store.InstitutionBank, "bank (holds customers' money and pays for them) or merchant (asks to be paid; its customers choose which bank pays)")
		}
	case "rotate-key":
		extra = func(fs *flag.FlagSet) {
			fs.StringVar(&id, "id", "", "institution id (required)")
			fs.DurationVar(&grace, "grace", 0, "how long older keys keep working, e.g. 24h (default: they stop now)")
		}
	case "brand":
		extra = func(fs *flag.FlagSet) {
			fs.StringVar(&id, "id", "", "institution id (required)")
			fs.StringVar(&look.Color, "color", "", "brand colour on its conversations, #rrggbb; none removes it")
			fs.StringVar(&look.Logo, "logo", "", "logo: an https URL (fetched now, once), a data: URL or a file; a PNG, JPEG or GIF of at most 32 KiB; none removes it")
		}
	case "list":
	default:
		fmt.Fprintf(stderr, "openteller institution: unknown subcommand %q\n", args[0])
		return errUsage
	}
	cfg, _, err := parse("institution "+args[0], args[1:], stderr, extra)
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		if in.Name == "" || in.AuthorizeURL == "" || in.TokenURL == "" || in.ClientID == "" {
			fmt.Fprintln(stderr, "openteller institution create: --name, --authorize-url, --token-url and --client-id are required")
			return errUsage
		}
		if in.Kind != store.InstitutionBank && in.Kind != store.InstitutionMerchant {
			fmt.Fprintln(stderr, "openteller institution create: --kind is bank or merchant")
			return errUsage
		}
		in, key, err := server.CreateInstitution(ctx, st, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "institution_id  %s\napi_key         %s\n\nThe API key is shown once; only its hash is stored.\n", in.ID, key)
	case "rotate-key":
		if id == "" {
			fmt.Fprintln(stderr, "openteller institution rotate-key: --id is required")
			return errUsage
		}
		key, err := server.RotateAPIKey(ctx, st, id, grace)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "api_key  %s\n\nThe API key is shown once; only its hash is stored.\n", key)
	case "brand":
		if id == "" {
			fmt.Fprintln(stderr, "openteller institution brand: --id is required")
			return errUsage
		}
		b, err := brand.Set(ctx, st, id, look, time.Now())
		if err != nil {
			return err
		}
		color, logo := "none", "none"
		if b.Color != "" {
			text := brand.TextColor(b.Color)
			color = fmt.Sprintf("%s (text %s, contrast %.1f:1)", b.Color, text, brand.Contrast(b.Color, text))
		}
		if b.LogoType != "" {
			logo = fmt.Sprintf("%s, %d bytes, served by the platform", b.LogoType, len(b.Logo))
		}
		fmt.Fprintf(stdout, "color  %s\nlogo   %s\n", color, logo)
	case "list":
		ins, err := st.Institutions(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tAUTHORIZE URL")
		for _, x := range ins {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.ID, x.Name, store.KindOf(x.Kind), x.AuthorizeURL)
		}
		tw.Flush()
	}
	return nil
}

func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "dead" && args[0] != "redeliver") {
		fmt.Fprintln(stderr, "usage: openteller webhooks dead|redeliver --institution ID [--notice ID]")
		return errUsage
	}
	var institutionID, noticeID string
	cfg, _, err := parse("webhooks "+args[0], args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&institutionID, "institution", "", "institution id (required)")
		fs.StringVar(&noticeID, "notice", "", "notice id, for redeliver")
	})
	if err != nil {
		return err
	}
	if institutionID == "" || (args[0] == "redeliver" && noticeID == "") {
		fmt.Fprintln(stderr, "openteller webhooks: --institution (and for redeliver --notice) are required")
		return errUsage
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "redeliver" {
		if err := st.Redeliver(ctx, institutionID, noticeID, time.Now()); err != nil {
			return fmt.Errorf("redeliver %s: %w", noticeID, err)
		}
		fmt.Fprintf(stdout, "notice %s will be delivered again now\n", noticeID)
		return nil
	}
	dead, err := webhook.DeadLetters(ctx, st, institutionID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOTICE\tTYPE\tLINK\tDEAD AT\tATTEMPTS\tLAST ERROR")
	for _, d := range dead {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Type, d.LinkID, d.DeadAt.Format(time.RFC3339), d.Attempts, d.LastError)
	}
	return tw.Flush()
}

// runAudit checks the whole access log against its checkpoints and, with
// --against, against a checkpoint saved by an earlier audit; --save keeps
// the newest checkpoint for the next one. Exit status 1 if anything fails.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: openteller audit verify [--against FILE] [--save FILE]")
		return errUsage
	}
	var against, save string
	cfg, _, err := parse("audit verify", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&against, "against", "", "a checkpoint note saved earlier: the log must still extend it")
		fs.StringVar(&save, "save", "", "write the newest checkpoint note here, for the next audit")
	})
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	keyring, err := server.OpenKeyring(cfg, st)
	if err != nil {
		return err
	}
	var saved []byte
	if against != "" {
		if saved, err = os.ReadFile(against); err != nil {
			return err
		}
	}
	log := server.AccessLog(cfg, st, keyring)
	c, note, err := log.Audit(ctx, string(saved))
	if err != nil {
		return fmt.Errorf("audit failed: %w", err)
	}
	if save != "" {
		if err := os.WriteFile(save, []byte(note), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "access log OK: %d entries, root %x, every checkpoint verified", c.Size, c.Root)
	if against != "" {
		fmt.Fprintf(stdout, ", and it extends %s", against)
	}
	vkey, err := log.VerifierKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nverifier key: %s\n", vkey)
	return nil
}
