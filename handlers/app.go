package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/servicebus"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// Settings the app reads (docs/functions-host.md, local.settings.json.example).
// This file and the cmd_*.go flags are the only places the environment is
// read.
const (
	envPolicyFile      = "AUTOPILOT_POLICY_FILE"
	envPolicy          = "AUTOPILOT_POLICY"
	envSubscriptions   = "AUTOPILOT_SUBSCRIPTIONS"
	envClientID        = "AZURE_CLIENT_ID"
	envSBNamespace     = "ServiceBus__fullyQualifiedNamespace"
	envSBConnection    = "ServiceBusConnection"
	envReconcileQueue  = "ReconcileQueueName"
	envVerifyQueue     = "VerifyQueueName"
	envReconcileParked = "ReconcileParkedQueueName"
	envVerifyParked    = "VerifyParkedQueueName"
	envOutcomeTopic    = "AUTOPILOT_OUTCOME_TOPIC_ENDPOINT"
	envReportsDir      = "AUTOPILOT_REPORTS_DIR"
	envReportsURL      = "AUTOPILOT_REPORTS_URL"
	parkedQueueSuffix  = "-failed"
	defaultReconcileQ  = autopilot.DefaultReconcileQueue
	defaultVerifyQ     = autopilot.DefaultVerifyQueue
)

// app holds what the functions share: the assembled autopilot Service with
// the Service Bus senders for retries and parking. It is built on the first
// invocation (the Functions host waits for "/" before invoking, and
// credentials and clients are not needed for that). A configuration error is
// kept and fails every invocation with a message naming the setting: the
// app never runs without a valid policy.
type app struct {
	log   zerolog.Logger
	build func() (*wiring, error)

	once sync.Once
	w    *wiring
	err  error
}

// wiring is the Service and where each queue's jobs go in Functions mode.
type wiring struct {
	svc *autopilot.Service
	// queues by job kind: the queue's own sender (retries) and its parking
	// queue (jobs given up on).
	queues map[jobs.Kind]hostedQueue
	now    func() time.Time
}

type hostedQueue struct {
	name, parkedName string
	sender, parked   jobs.Sender
}

// newApp returns the app for the Functions host; the Service is built from
// the environment on first use.
func newApp(log zerolog.Logger) *app {
	return &app{log: log, build: func() (*wiring, error) { return wireFromEnv(os.Getenv, log) }}
}

// newAppWith returns an app over an already built wiring (tests, local).
func newAppWith(log zerolog.Logger, w *wiring, err error) *app {
	return &app{log: log, build: func() (*wiring, error) { return w, err }}
}

// wiring returns the built Service, or the configuration error.
func (a *app) wiring() (*wiring, error) {
	a.once.Do(func() {
		a.w, a.err = a.build()
		if a.err != nil {
			a.log.Error().Err(a.err).Msg("configuration is invalid: every function fails until it is fixed and the app restarted")
		}
	})
	return a.w, a.err
}

// configError is a setting that is missing or wrong.
type configError struct {
	Setting string
	Problem string
	Err     error
}

func (e *configError) Error() string {
	msg := "configuration: " + e.Setting + ": " + e.Problem
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *configError) Unwrap() error { return e.Err }

// loadPolicyFromEnv reads the policy from AUTOPILOT_POLICY (content) or
// AUTOPILOT_POLICY_FILE (a path); exactly one must be set.
func loadPolicyFromEnv(getenv func(string) string) (*policy.Policy, error) {
	content, file := getenv(envPolicy), strings.TrimSpace(getenv(envPolicyFile))
	switch {
	case strings.TrimSpace(content) != "" && file != "":
		return nil, &configError{Setting: envPolicy + " and " + envPolicyFile, Problem: "both are set; set one (the policy content or its file)"}
	case strings.TrimSpace(content) != "":
		p, err := policy.Parse(envPolicy, []byte(content))
		if err != nil {
			return nil, &configError{Setting: envPolicy, Problem: "the policy does not load", Err: err}
		}
		return p, nil
	case file != "":
		p, err := policy.Load(file)
		if err != nil {
			return nil, &configError{Setting: envPolicyFile, Problem: "the policy does not load", Err: err}
		}
		return p, nil
	}
	return nil, &configError{Setting: envPolicyFile + " or " + envPolicy, Problem: "not set; the autopilot never acts without a policy"}
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkSubscriptions validates AUTOPILOT_SUBSCRIPTIONS (optional): each
// entry must be a subscription id; subscriptions the policy governs but the
// setting omits (so the deployment grants no roles there) are warned about.
func checkSubscriptions(getenv func(string) string, p *policy.Policy, log zerolog.Logger) error {
	raw := strings.TrimSpace(getenv(envSubscriptions))
	if raw == "" {
		return nil
	}
	listed := map[string]bool{}
	for s := range strings.SplitSeq(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !guidRE.MatchString(s) {
			return &configError{Setting: envSubscriptions, Problem: fmt.Sprintf("%q is not a subscription id (a GUID)", s)}
		}
		listed[strings.ToLower(s)] = true
	}
	for _, s := range p.Subscriptions() {
		if !listed[strings.ToLower(s)] {
			log.Warn().Str("setting", envSubscriptions).Str("subscription", s).
				Msg("the policy governs a subscription the setting does not list: the deployment may grant no roles there")
		}
	}
	return nil
}

// queueNames returns the queue and parking queue names of one kind.
func queueNames(getenv func(string) string, env, parkedEnv, def string) (string, string) {
	name := strings.TrimSpace(getenv(env))
	if name == "" {
		name = def
	}
	parked := strings.TrimSpace(getenv(parkedEnv))
	if parked == "" {
		parked = name + parkedQueueSuffix
	}
	return name, parked
}

// wireFromEnv builds the Functions-mode Service from the settings.
func wireFromEnv(getenv func(string) string, log zerolog.Logger) (*wiring, error) {
	pol, err := loadPolicyFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := checkSubscriptions(getenv, pol, log); err != nil {
		return nil, err
	}
	cred, err := azure.NewCredential(strings.TrimSpace(getenv(envClientID)), azure.InAzure(getenv))
	if err != nil {
		return nil, &configError{Setting: envClientID, Problem: "cannot build the Azure credential", Err: err}
	}
	arm, err := azure.New(cred, nil, azure.Config{Logger: &log})
	if err != nil {
		return nil, fmt.Errorf("configuration: azure client: %w", err)
	}

	var sb *servicebus.Client
	switch cs, ns := strings.TrimSpace(getenv(envSBConnection)), strings.TrimSpace(getenv(envSBNamespace)); {
	case cs != "":
		if sb, err = servicebus.NewFromConnectionString(cs); err != nil {
			return nil, &configError{Setting: envSBConnection, Problem: "not a usable connection string", Err: err}
		}
	case ns != "":
		if sb, err = servicebus.NewClient(ns, cred); err != nil {
			return nil, &configError{Setting: envSBNamespace, Problem: "cannot connect", Err: err}
		}
	default:
		return nil, &configError{Setting: envSBNamespace + " or " + envSBConnection, Problem: "not set; jobs cannot be sent"}
	}
	w := &wiring{queues: map[jobs.Kind]hostedQueue{}, now: time.Now}
	for _, q := range []struct {
		kind             jobs.Kind
		env, parked, def string
	}{
		{jobs.KindReconcile, envReconcileQueue, envReconcileParked, defaultReconcileQ},
		{jobs.KindVerify, envVerifyQueue, envVerifyParked, defaultVerifyQ},
	} {
		name, parked := queueNames(getenv, q.env, q.parked, q.def)
		s, err := sb.Sender(name)
		if err != nil {
			return nil, &configError{Setting: q.env, Problem: fmt.Sprintf("sender for queue %q", name), Err: err}
		}
		ps, err := sb.Sender(parked)
		if err != nil {
			return nil, &configError{Setting: q.parked, Problem: fmt.Sprintf("sender for queue %q", parked), Err: err}
		}
		w.queues[q.kind] = hostedQueue{name: name, parkedName: parked, sender: s, parked: ps}
	}

	var sink outcome.Sink = outcome.NewLogSink(log)
	if ep := strings.TrimSpace(getenv(envOutcomeTopic)); ep != "" {
		eg, err := outcome.NewEventGridSink(ep, cred, nil, sink)
		if err != nil {
			return nil, &configError{Setting: envOutcomeTopic, Problem: "cannot publish there", Err: err}
		}
		sink = eg
	}
	// Reports: the blob container (Azure) when set, else a local folder.
	var reports verify.ReportStore
	switch u, dir := strings.TrimSpace(getenv(envReportsURL)), strings.TrimSpace(getenv(envReportsDir)); {
	case u != "":
		bs, err := verify.NewBlobStore(u, cred, nil)
		if err != nil {
			return nil, &configError{Setting: envReportsURL, Problem: "cannot keep reports there", Err: err}
		}
		reports = bs
		if dir != "" {
			log.Warn().Str("setting", envReportsDir).Str("used", envReportsURL).Msg("both report settings are set: reports go to the blob container, the folder is not used")
		}
	case dir != "":
		ds, err := verify.NewDirStore(dir)
		if err != nil {
			return nil, &configError{Setting: envReportsDir, Problem: "cannot keep reports there", Err: err}
		}
		reports = ds
	}
	svc, err := autopilot.New(autopilot.Config{
		Policy: pol, ARM: arm, Reconcile: w.queues[jobs.KindReconcile].sender, Verify: w.queues[jobs.KindVerify].sender,
		Sink: sink, Reports: reports, Log: log,
		VerifierFor: verifierFor(arm, pol, reports, nil, log), EventSubscriptions: strings.Split(getenv(envSubscriptions), ","),
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	w.svc = svc
	return w, nil
}

// service returns the wiring, or why function cannot run.
func (a *app) service(function string) (*wiring, error) {
	w, err := a.wiring()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	if w == nil || w.svc == nil {
		return nil, fmt.Errorf("%s: configuration: no service was built", function)
	}
	return w, nil
}

// verifierFor returns the constructor of the verification job runner: the
// production checks over arm, with tune adjusting the Verifier and runner
// (the sandbox routes DNS and HTTP to its loopback servers).
func verifierFor(arm core.Reader, pol *policy.Policy, reports verify.ReportStore, tune func(*verify.Verifier, *verify.JobRunner), log zerolog.Logger) func(outcome.Sink) autopilot.VerifyRunner {
	return func(sink outcome.Sink) autopilot.VerifyRunner {
		v := &verify.Verifier{Reader: arm, Resolver: pol.Verification().Resolver}
		r := &verify.JobRunner{Verifier: v, Reader: arm, Policy: pol, Sink: sink, Reports: reports, Log: log}
		if tune != nil {
			tune(v, r)
		}
		return r
	}
}
