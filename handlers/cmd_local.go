package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/sandbox"
	"github.com/plautopilot/autopilot/pkg/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

const localUsage = `usage: handler local [--sandbox SCENARIO] [--policy FILE] [--listen ADDR] [--data DIR] [--sweep DURATION] [--workers N]

Runs the whole autopilot without the Functions host: the Event Grid webhook
(/api/events, and /runtime/webhooks/EventGrid as under func start), the
reconcile and verification workers on an embedded queue in --data, the sweep
on a ticker, the HTTP API (/api/evaluate, /api/verify, /api/status) and
/healthz. Azure is the real one (DefaultAzureCredential, or the managed
identity of AZURE_CLIENT_ID) unless --sandbox names a scenario file, which
also starts the sandbox DNS and FHIR servers for verification.
The policy is --policy, else AUTOPILOT_POLICY_FILE or AUTOPILOT_POLICY.
SIGTERM or Ctrl-C stops it gracefully.

flags:`

func runLocal(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	scenario := fs.String("sandbox", "", "sandbox scenario file (YAML or JSON); empty: real Azure")
	policyPath := fs.String("policy", "", "policy file (default: AUTOPILOT_POLICY_FILE or AUTOPILOT_POLICY)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the webhook and the API on")
	dataDir := fs.String("data", ".data", "folder for the queue, outcome events, dead events and reports")
	sweepEvery := fs.Duration("sweep", 10*time.Minute, "sweep period (0: no sweeps)")
	workers := fs.Int("workers", 4, "jobs of each queue run at once")
	webhookKey := fs.String("webhook-key", "", "when set, the webhook requires it as ?code= or x-functions-key")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), localUsage); fs.PrintDefaults() }
	rest, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "handler local: unexpected arguments %q (flags only)\n", rest)
		return 2
	}
	if *workers < 1 {
		fmt.Fprintf(stderr, "handler local: --workers %d: must be at least 1\n", *workers)
		return 2
	}
	if *sweepEvery < 0 {
		fmt.Fprintf(stderr, "handler local: --sweep %s: must not be negative\n", *sweepEvery)
		return 2
	}
	var logOut io.Writer = stderr
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			logOut = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
		}
	}
	log, err := newLogger(logOut, os.Getenv(envLogLevel))
	if err != nil {
		fmt.Fprintf(stderr, "handler local: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := local(ctx, localOptions{scenario: *scenario, policy: *policyPath, listen: *listen, data: *dataDir,
		sweep: *sweepEvery, workers: *workers, webhookKey: *webhookKey}, log); err != nil {
		log.Error().Err(err).Msg("handler local stopped")
		fmt.Fprintf(stderr, "handler local: %v\n", err)
		return 1
	}
	return 0
}

type localOptions struct {
	scenario, policy, listen, data, webhookKey string
	sweep                                      time.Duration
	workers                                    int
}

func local(ctx context.Context, o localOptions, log zerolog.Logger) error {
	var pol *policy.Policy
	var err error
	if o.policy != "" {
		if pol, err = policy.Load(o.policy); err != nil {
			return fmt.Errorf("--policy: %w", err)
		}
	} else if pol, err = loadPolicyFromEnv(os.Getenv); err != nil {
		return fmt.Errorf("%w (or pass --policy)", err)
	}
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	store, err := embedded.Open(filepath.Join(o.data, "queue.db"), embedded.Options{})
	if err != nil {
		return fmt.Errorf("--data: open queue: %w", err)
	}
	defer store.Close()
	dead, err := events.NewFileDeadStore(filepath.Join(o.data, "dead"))
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	files, err := outcome.NewFileSink(filepath.Join(o.data, "outcomes"))
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	reports, err := verify.NewDirStore(filepath.Join(o.data, "reports"))
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}

	var arm core.ARM
	var tune func(*verify.Verifier, *verify.JobRunner)
	if o.scenario != "" {
		sb, err := sandbox.Load(o.scenario)
		if err != nil {
			return fmt.Errorf("--sandbox: %w", err)
		}
		for _, w := range sb.Warnings() {
			log.Warn().Str("scenario", o.scenario).Msg(w)
		}
		if arm, err = azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: 10 * time.Millisecond, Logger: &log}); err != nil {
			return err
		}
		dns := sandboxnet.NewDNSServer(sandboxnet.NewSandboxView(sb))
		defer dns.Close()
		fhir, err := sandboxnet.NewFHIRServer()
		if err != nil {
			return fmt.Errorf("sandbox FHIR server: %w", err)
		}
		defer fhir.Close()
		tune = func(v *verify.Verifier, r *verify.JobRunner) {
			v.ResolverFor, v.DialContext, v.RootCAs = dns.AddrFor, fhir.DialContext, fhir.CertPool()
			r.PublicURL = func(string) string { return fhir.PublicURL() + "/metadata" }
		}
		log.Info().Str("scenario", o.scenario).Strs("subscriptions", sb.SubscriptionIDs()).Msg("sandbox loaded")
	} else {
		cred, err := azure.NewCredential(strings.TrimSpace(os.Getenv(envClientID)), azure.InAzure(os.Getenv))
		if err != nil {
			return fmt.Errorf("azure credential: %w", err)
		}
		if arm, err = azure.New(cred, nil, azure.Config{Logger: &log}); err != nil {
			return err
		}
		log.Info().Strs("subscriptions", pol.Subscriptions()).Msg("real Azure backend (DefaultAzureCredential)")
	}
	svc, err := autopilot.New(autopilot.Config{
		Policy: pol, ARM: arm, Reconcile: store.Queue(autopilot.DefaultReconcileQueue), Verify: store.Queue(autopilot.DefaultVerifyQueue),
		Sink: outcome.Multi{outcome.NewLogSink(log), files}, Dead: dead, Reports: reports, Log: log,
		SweepInterval: o.sweep, VerifierFor: verifierFor(arm, pol, reports, tune, log),
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	hook := events.NewWebhook(svc.Intake(), log, events.WebhookOptions{Key: o.webhookKey})
	mux.Handle("/api/events", hook)
	mux.Handle("/runtime/webhooks/EventGrid", hook)
	mux.Handle("/api/", svc.API())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	log.Info().Str("addr", "http://"+ln.Addr().String()).Str("data", o.data).Str("policy", pol.Source()).
		Str("mode", string(pol.Mode())).Msg("handler local listening (webhook /api/events, API /api/status)")

	wctx, cancelWorkers := context.WithCancel(ctx)
	defer cancelWorkers()
	werr := make(chan error, 1)
	go func() {
		werr <- svc.RunStandalone(wctx, autopilot.StandaloneOptions{Store: store, Workers: o.workers, SweepInterval: o.sweep, Grace: shutdownTimeout})
	}()
	sctx, cancelServe := context.WithCancel(ctx)
	defer cancelServe()
	serr := make(chan error, 1)
	go func() { serr <- serve(sctx, ln, mux, localLimits, log) }()

	var first error
	select {
	case err := <-serr: // ctx ended (clean) or the server failed
		first = err
		cancelWorkers()
		if err2 := <-werr; first == nil {
			first = err2
		}
	case err := <-werr: // workers stopped: the queue failed, or ctx ended
		if err != nil {
			first = fmt.Errorf("workers stopped: %w", err)
		}
		cancelServe()
		if err2 := <-serr; first == nil {
			first = err2
		}
	}
	return first
}
