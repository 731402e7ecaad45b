package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/httpguard"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/rs/zerolog"
)

const localUsage = `usage: handler local [--sandbox SCENARIO] [--policy FILE] [--listen ADDR] [--data DIR] [--sweep DURATION] [--workers N]

Runs the whole autopilot without the Functions host: the Event Grid webhook
(/api/events, and /runtime/webhooks/EventGrid as under func start), the
reconcile and verification workers on an embedded queue in --data, the sweep
on a ticker, the HTTP API (/api/evaluate, /api/verify, /api/status,
/api/targets) and /healthz. Azure is the real one (DefaultAzureCredential, or the managed
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
	webhookKey := fs.String("webhook-key", "", "key the webhook and the API require, as ?code= or x-functions-key (at least 32 characters); generated when --listen is not a loopback address")
	var topics, origins, subs listFlag
	fs.Var(&topics, "validation-topic", "Event Grid topic (ARM id) whose SubscriptionValidation is answered (repeatable; /subscriptions/ID of a governed subscription covers its system topics, other topics must be named exactly); default: the sandbox's subscriptions")
	allowAnyValidation := fs.Bool("allow-any-validation", false, "answer every SubscriptionValidation, whatever its topic")
	fs.Var(&origins, "allowed-origin", "WebHook-Request-Origin accepted besides eventgrid.azure.net (repeatable)")
	fs.Var(&subs, "subscriptions", "subscriptions whose events are acted on, besides the policy's (comma-separated, repeatable); default: the sandbox's, else AUTOPILOT_SUBSCRIPTIONS")
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
	if err := local(ctx, localOptions{out: stdout, scenario: *scenario, policy: *policyPath, listen: *listen, data: *dataDir,
		sweep: *sweepEvery, workers: *workers, webhookKey: *webhookKey, validationTopics: topics, allowAnyValidation: *allowAnyValidation,
		allowedOrigins: origins, subscriptions: subs}, log); err != nil {
		log.Error().Err(err).Msg("handler local stopped")
		fmt.Fprintf(stderr, "handler local: %v\n", err)
		return 1
	}
	return 0
}

type localOptions struct {
	out                                        io.Writer // the start-up lines for a person (stdout)
	scenario, policy, listen, data, webhookKey string
	sweep                                      time.Duration
	workers                                    int
	validationTopics, allowedOrigins           []string
	subscriptions                              []string
	allowAnyValidation                         bool
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
	key, generated, err := localKey(o.listen, o.webhookKey)
	if err != nil {
		return err
	}
	sa, err := buildStandalone(standaloneOptions{policy: pol, scenario: o.scenario, data: o.data,
		scenarioLabel: "--sandbox", dataLabel: "--data", sweep: o.sweep, subscriptions: o.subscriptions}, log)
	if err != nil {
		return err
	}
	defer sa.close()
	svc, store, eventSubs := sa.svc, sa.store, sa.eventSubscriptions
	topics := append([]string{}, o.validationTopics...)
	if len(topics) == 0 {
		for _, sub := range sa.sandboxSubscriptions {
			topics = append(topics, "/subscriptions/"+sub)
		}
	}

	if err := checkValidationTopics(topics, append(slices.Clone(eventSubs), pol.Subscriptions()...)); err != nil {
		return err
	}
	// one key check for the webhook and the API: one count of failed
	// attempts per client, one set of clients known to hold the key (whom
	// the connection guard's headroom is for)
	known := httpguard.NewKnown(nil)
	var keys *httpguard.Keys
	if key != "" {
		keys = httpguard.NewKeys(key, "code", nil, known)
	}
	mux := localMux(svc, events.WebhookOptions{Keys: keys, ValidationTopics: topics, AllowAnyValidation: o.allowAnyValidation,
		AllowedOrigins: o.allowedOrigins}, autopilot.APIOptions{Keys: keys}, log)
	guard := newConnGuard(connLimitsFor(descriptorLimit(), true, keys != nil, known), log)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	switch {
	case generated:
		out := o.out
		if out == nil {
			out = os.Stdout
		}
		fmt.Fprintf(out, "handler local: %s is not a loopback address, so the webhook and the API require a key. Generated key (shown only now; send it as ?code= or x-functions-key, or pass your own with --webhook-key):\n%s\n", o.listen, key)
		log.Warn().Str("listen", o.listen).Msg("key required on a non-loopback address: a generated key was printed to stdout")
	case key == "":
		log.Warn().Str("listen", o.listen).Msg("no key: loopback only, as under func start; anyone on this machine can post events and call the API (set --webhook-key to require one)")
	default:
		log.Info().Msg("the webhook and the API require the key (--webhook-key)")
	}
	log.Info().Strs("eventSubscriptions", eventSubs).Strs("validationTopics", topics).Bool("allowAnyValidation", o.allowAnyValidation).
		Msg("events of other subscriptions are ignored; SubscriptionValidation is answered only for these topics")
	log.Info().Str("addr", "http://"+ln.Addr().String()).Str("data", o.data).Str("policy", pol.Source()).
		Str("mode", string(pol.Mode())).Msg("handler local listening (webhook /api/events, API /api/status)")
	if o.out != nil {
		fmt.Fprintf(o.out, "handler local: http://%s (estate /api/targets, status /api/status, webhook /api/events)\n", ln.Addr())
		if sa.sandboxLine != "" {
			fmt.Fprintln(o.out, "handler local: "+sa.sandboxLine)
		}
	}

	wctx, cancelWorkers := context.WithCancel(ctx)
	defer cancelWorkers()
	werr := make(chan error, 1)
	go func() {
		werr <- svc.RunStandalone(wctx, autopilot.StandaloneOptions{Store: store, Workers: o.workers, SweepInterval: o.sweep, Grace: shutdownTimeout})
	}()
	sctx, cancelServe := context.WithCancel(ctx)
	defer cancelServe()
	serr := make(chan error, 1)
	go func() { serr <- serve(sctx, ln, mux, localLimits, guard, log) }()

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

// localMux routes the webhook (both paths), the API and /healthz; hook.Key
// and api.Key guard the webhook and the whole API.
func localMux(svc *autopilot.Service, hook events.WebhookOptions, api autopilot.APIOptions, log zerolog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	h := events.NewWebhook(svc.Intake(), log, hook)
	mux.Handle("/api/events", h)
	mux.Handle("/runtime/webhooks/EventGrid", h)
	mux.Handle("/api/", svc.APIWith(api))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		// a probe needs no kept-alive connection (issue 26: a GET /healthz,
		// then idle, from 20,000 connections)
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}

// localKey returns the key guarding `handler local`: the given one; none on
// a loopback address (as func start); else a new random key, generated is
// then true and the caller prints it once.
func localKey(listen, given string) (key string, generated bool, err error) {
	if given = strings.TrimSpace(given); given != "" {
		if len(given) < httpguard.MinKeyLength {
			return "", false, fmt.Errorf("--webhook-key: %d characters; use at least %d (a random key, e.g. openssl rand -base64 32)", len(given), httpguard.MinKeyLength)
		}
		return given, false, nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", false, fmt.Errorf("--listen %q: %w", listen, err)
	}
	if isLoopback(host) {
		return "", false, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generate a key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), true, nil
}

// checkValidationTopics refuses a --validation-topic that is not an ARM
// resource id, and a subscription entry (which answers for its system
// topics) outside the governed subscriptions: its events would be ignored.
func checkValidationTopics(topics, governed []string) error {
	if err := events.CheckValidationTopics(topics); err != nil {
		return fmt.Errorf("--validation-topic: %w", err)
	}
	for _, t := range topics {
		parts := strings.Split(strings.Trim(strings.TrimSpace(t), "/"), "/")
		if len(parts) == 2 && !slices.ContainsFunc(governed, func(g string) bool { return strings.EqualFold(strings.TrimSpace(g), parts[1]) }) {
			return fmt.Errorf("--validation-topic %s: subscription %s is not governed (its events would be ignored); add it with --subscriptions or the policy, or name the topic exactly", t, parts[1])
		}
	}
	return nil
}

// isLoopback reports whether a listen host only accepts local connections;
// an empty host (all interfaces) does not.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
