package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// standaloneOptions configure buildStandalone. The labels name where the
// scenario and the data folder came from (a flag of `handler local`, a
// setting of the Functions-mode sandbox), so that errors point at it.
type standaloneOptions struct {
	policy         *policy.Policy
	scenario, data string
	scenarioLabel  string // "--sandbox" or "AUTOPILOT_SANDBOX"
	dataLabel      string // "--data" or "AUTOPILOT_DATA_DIR"
	sweep          time.Duration
	// subscriptions whose events intake accepts (default: the sandbox's,
	// else AUTOPILOT_SUBSCRIPTIONS, else the policy's).
	subscriptions []string
}

// standaloneApp is the Service over the embedded durable queue in data, on
// the sandbox of scenario (with its loopback DNS and FHIR servers for
// verification) or, without a scenario, on real Azure. close releases the
// queue and the sandbox servers.
type standaloneApp struct {
	svc   *autopilot.Service
	store *embedded.Store
	close func()
	// sandboxLine says where the sandbox DNS and FHIR listen ("" on Azure).
	sandboxLine string
	// eventSubscriptions are the subscriptions whose events intake accepts;
	// sandboxSubscriptions those of the scenario (nil on Azure).
	eventSubscriptions, sandboxSubscriptions []string
}

// buildStandalone assembles what `handler local` and the Functions-mode
// sandbox (AUTOPILOT_SANDBOX) share: the embedded queue, the dead-event
// store, the outcome files, the report folder, the ARM backend and the
// verification wiring.
func buildStandalone(o standaloneOptions, log zerolog.Logger) (_ *standaloneApp, err error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", o.dataLabel, err)
	}
	store, err := embedded.Open(filepath.Join(o.data, "queue.db"), embedded.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: open queue: %w", o.dataLabel, err)
	}
	closers = append(closers, func() { store.Close() })
	dead, err := events.NewFileDeadStore(filepath.Join(o.data, "dead"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.dataLabel, err)
	}
	closers = append(closers, func() { // count what was over the sources' quotas
		if err := dead.Flush(); err != nil {
			log.Error().Err(err).Msg("dead event store: summaries of events over quota not written")
		}
	})
	files, err := outcome.NewFileSink(filepath.Join(o.data, "outcomes"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.dataLabel, err)
	}
	reports, err := verify.NewDirStore(filepath.Join(o.data, "reports"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.dataLabel, err)
	}

	pol := o.policy
	var arm core.ARM
	var tune func(*verify.Verifier, *verify.JobRunner)
	var sandboxLine string // where the sandbox network listens, printed at start
	eventSubs := append([]string{}, o.subscriptions...)
	var sandboxSubs []string
	if o.scenario != "" {
		sb, err := openSandbox(o, log) // build_dev.go; an error in the production build
		if err != nil {
			return nil, err
		}
		closers = append(closers, sb.close)
		arm, tune, sandboxLine, sandboxSubs = sb.arm, sb.tune, sb.line, sb.subscriptions
		if len(eventSubs) == 0 {
			eventSubs = sandboxSubs
		}
	} else {
		cred, err := azure.NewCredential(strings.TrimSpace(os.Getenv(envClientID)), azure.InAzure(os.Getenv))
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		if arm, err = azure.New(cred, nil, azure.Config{Logger: &log}); err != nil {
			return nil, err
		}
		log.Info().Strs("subscriptions", pol.Subscriptions()).Msg("real Azure backend (DefaultAzureCredential)")
		if len(eventSubs) == 0 {
			var env listFlag
			_ = env.Set(os.Getenv(envSubscriptions))
			eventSubs = env
		}
	}
	if len(eventSubs) == 0 {
		eventSubs = pol.Subscriptions() // the policy's own only
	}
	svc, err := autopilot.New(autopilot.Config{
		Policy: pol, ARM: arm, Reconcile: store.Queue(pipeline.DefaultReconcileQueue), Verify: store.Queue(pipeline.DefaultVerifyQueue),
		Sink: outcome.Multi{outcome.NewLogSink(log), files}, Dead: dead, Reports: reports, Log: log,
		SweepInterval: o.sweep, VerifierFor: verifierFor(arm, pol, reports, tune, log), EventSubscriptions: eventSubs,
	})
	if err != nil {
		return nil, err
	}
	return &standaloneApp{svc: svc, store: store, close: closeAll, sandboxLine: sandboxLine,
		eventSubscriptions: eventSubs, sandboxSubscriptions: sandboxSubs}, nil
}
