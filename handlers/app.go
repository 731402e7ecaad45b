package main

import (
	"fmt"
	outcomeeg "github.com/plautopilot/autopilot/pkg/outcome/eventgrid"
	"github.com/plautopilot/autopilot/pkg/verify/blobstore"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/servicebus"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/pipeline"
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
	envSBTrigger       = "ServiceBus" // the connection string the serviceBusTriggers read (connection "ServiceBus")
	envSBConnection    = "ServiceBusConnection"
	envSandbox         = "AUTOPILOT_SANDBOX"
	envDataDir         = "AUTOPILOT_DATA_DIR"
	defaultDataDir     = ".data"
	envReconcileQueue  = "ReconcileQueueName"
	envVerifyQueue     = "VerifyQueueName"
	envReconcileParked = "ReconcileParkedQueueName"
	envVerifyParked    = "VerifyParkedQueueName"
	envOutcomeTopic    = "AUTOPILOT_OUTCOME_TOPIC_ENDPOINT"
	envReportsDir      = "AUTOPILOT_REPORTS_DIR"
	envReportsURL      = "AUTOPILOT_REPORTS_URL"
	parkedQueueSuffix  = "-failed"
	defaultReconcileQ  = pipeline.DefaultReconcileQueue
	defaultVerifyQ     = pipeline.DefaultVerifyQueue
)

// app holds what the functions share: the assembled autopilot Service with
// the Service Bus senders for retries and parking. It is built once, on
// first use: serve starts that in the background as soon as it listens (the
// Functions host waits for "/" before invoking, and credentials and clients
// are not needed for that). A configuration error is logged, kept, and fails
// every invocation with a message naming the setting: the app never runs
// without a valid policy.
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

	sb, err := serviceBusFromEnv(getenv, cred, log)
	if err != nil {
		return nil, err
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
		eg, err := outcomeeg.NewSink(ep, cred, nil, sink)
		if err != nil {
			return nil, &configError{Setting: envOutcomeTopic, Problem: "cannot publish there", Err: err}
		}
		sink = eg
	}
	// Reports: the blob container (Azure) when set, else a local folder.
	var reports verify.ReportStore
	switch u, dir := strings.TrimSpace(getenv(envReportsURL)), strings.TrimSpace(getenv(envReportsDir)); {
	case u != "":
		bs, err := blobstore.New(u, cred, nil)
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

// serviceBusFromEnv returns the client jobs are sent with. It reads the
// settings in the order the Service Bus extension resolves the triggers'
// connection "ServiceBus" (a connection string in ServiceBus wins over
// ServiceBus__fullyQualifiedNamespace), so the handler sends to the
// namespace the triggers receive from. ServiceBusConnection, the older
// setting of this app, is still read after ServiceBus.
func serviceBusFromEnv(getenv func(string) string, cred azcore.TokenCredential, log zerolog.Logger) (*servicebus.Client, error) {
	trigger, legacy, ns := strings.TrimSpace(getenv(envSBTrigger)), strings.TrimSpace(getenv(envSBConnection)), strings.TrimSpace(getenv(envSBNamespace))
	switch {
	case trigger != "":
		sb, err := servicebus.NewFromConnectionString(trigger)
		if err != nil {
			return nil, &configError{Setting: envSBTrigger, Problem: "not a usable connection string", Err: err}
		}
		return sb, nil
	case legacy != "":
		if ns != "" {
			log.Warn().Str("setting", envSBConnection).Str("triggers", envSBNamespace).
				Msg("jobs are sent with ServiceBusConnection but the triggers read ServiceBus__fullyQualifiedNamespace: put the connection string in ServiceBus so both use the same namespace")
		}
		sb, err := servicebus.NewFromConnectionString(legacy)
		if err != nil {
			return nil, &configError{Setting: envSBConnection, Problem: "not a usable connection string", Err: err}
		}
		return sb, nil
	case ns != "":
		sb, err := servicebus.NewClient(ns, cred)
		if err != nil {
			return nil, &configError{Setting: envSBNamespace, Problem: "cannot connect", Err: err}
		}
		return sb, nil
	}
	return nil, &configError{
		Setting: envSBTrigger + " or " + envSBNamespace,
		Problem: "not set; jobs cannot be sent (set " + envSandbox + " to a scenario file to run on the sandbox without Azure)",
	}
}

// sandboxFromEnv builds the Functions-mode app on the sandbox named by
// AUTOPILOT_SANDBOX, as `handler local --sandbox` does: the embedded
// sandbox subscription with its loopback DNS and FHIR servers, and the
// embedded durable queue in AUTOPILOT_DATA_DIR (default .data). Jobs the
// functions retry or park go to that queue; the caller runs its workers
// (RunStandalone) so no Service Bus is needed.
func sandboxFromEnv(getenv func(string) string, log zerolog.Logger) (*wiring, *standaloneApp, error) {
	pol, err := loadPolicyFromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	data := strings.TrimSpace(getenv(envDataDir))
	if data == "" {
		data = defaultDataDir
	}
	sa, err := buildStandalone(standaloneOptions{policy: pol, scenario: strings.TrimSpace(getenv(envSandbox)), data: data,
		scenarioLabel: envSandbox, dataLabel: envDataDir}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	w := &wiring{svc: sa.svc, queues: map[jobs.Kind]hostedQueue{}, now: time.Now}
	for kind, name := range map[jobs.Kind]string{jobs.KindReconcile: pipeline.DefaultReconcileQueue, jobs.KindVerify: pipeline.DefaultVerifyQueue} {
		parked := name + parkedQueueSuffix
		w.queues[kind] = hostedQueue{name: name, parkedName: parked, sender: sa.store.Queue(name), parked: sa.store.Queue(parked)}
	}
	log.Info().Str("policy", pol.Source()).Str("mode", string(pol.Mode())).Str("data", data).
		Msg("sandbox mode: no Azure, no Service Bus; jobs run on the embedded queue's workers in this process")
	return w, sa, nil
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
func verifierFor(arm core.Reader, pol *policy.Policy, reports verify.ReportStore, tune func(*verify.Verifier, *verify.JobRunner), log zerolog.Logger) func(outcome.Sink) pipeline.VerifyRunner {
	return func(sink outcome.Sink) pipeline.VerifyRunner {
		v := &verify.Verifier{Reader: arm, Resolver: pol.Verification().Resolver}
		r := &verify.JobRunner{Verifier: v, Reader: arm, Policy: pol, Sink: sink, Reports: reports, Log: log}
		if tune != nil {
			tune(v, r)
		}
		return r
	}
}
