package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// world is the autopilot assembled on the sandbox: the Service, its two
// embedded queues on a simulated clock, the sandbox network and the
// verification runner.
type world struct {
	sb      *sandbox.Sandbox
	pol     *policy.Policy
	clock   *clock.Fake
	store   *embedded.Store
	rq, vq  *embedded.Queue
	svc     *autopilot.Service
	net     *sandboxnet.Network
	mem     *outcome.MemorySink
	reports *verify.DirStore
	dir     string
	seq     int
}

// newWorld assembles the autopilot over sb and pol, starting the simulated
// clock at start.
func newWorld(sb *sandbox.Sandbox, pol *policy.Policy, start time.Time, log zerolog.Logger) (*world, error) {
	dir, err := os.MkdirTemp("", "plautopilot-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: temporary folder: %w", err)
	}
	w := &world{sb: sb, pol: pol, clock: worldClock(sb, start), dir: dir, mem: outcome.NewMemorySink(10000)}
	fail := func(err error) (*world, error) { w.Close(); return nil, err }
	w.store, err = embedded.Open(filepath.Join(dir, "queue.db"), embedded.Options{Clock: w.clock, NoSync: true, MaxDeliveries: 50})
	if err != nil {
		return fail(fmt.Errorf("demo: open queue: %w", err))
	}
	w.rq, w.vq = w.store.Queue(pipeline.DefaultReconcileQueue), w.store.Queue(pipeline.DefaultVerifyQueue)
	client, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		return fail(fmt.Errorf("demo: azure client: %w", err))
	}
	if w.net, err = sandboxnet.NewNetwork(sb); err != nil {
		return fail(err)
	}
	if w.reports, err = verify.NewDirStore(filepath.Join(dir, "reports")); err != nil {
		return fail(err)
	}
	v := w.net.Verifier(client)
	v.Now = w.clock.Now
	v.Timeout = 5 * time.Second
	runner := &verify.JobRunner{Verifier: v, Policy: pol, Reports: w.reports, Now: w.clock.Now, Log: log}
	// the pipeline gives the runner its sink and reconcile sender
	w.svc, err = autopilot.New(autopilot.Config{Policy: pol, ARM: client, Reconcile: w.rq, Verify: w.vq,
		Sink: w.mem, Verifier: runner, Reports: w.reports, Now: w.clock.Now, Log: log,
		Backoff: reconcileBackoff()})
	if err != nil {
		return fail(err)
	}
	return w, nil
}

// Close stops the network and removes the queue and reports.
func (w *world) Close() {
	if w.net != nil {
		w.net.Close()
	}
	if w.store != nil {
		_ = w.store.Close()
	}
	_ = os.RemoveAll(w.dir)
}

// post delivers one ARM event to the Service's intake.
func (w *world) post(ctx context.Context, op, resourceID, user string) error {
	w.seq++
	body := armEvent(w.seq, op, resourceID, user, w.clock.Now())
	res, err := w.svc.HandleEvents(ctx, body)
	if err != nil {
		return fmt.Errorf("deliver %s event for %s: %w", op, core.NameOf(resourceID), err)
	}
	if res.Enqueued != 1 {
		return fmt.Errorf("deliver %s event for %s: %d jobs enqueued, want 1 (%+v)", op, core.NameOf(resourceID), res.Enqueued, res)
	}
	return nil
}

// reconcile runs the reconcile jobs due until now (and those they enqueue
// for now), leaving scheduled ones queued.
func (w *world) reconcile(ctx context.Context) (jobs.DrainResult, error) {
	return jobs.Drain(ctx, w.svc.Reconcile, jobs.DrainOptions{Clock: w.clock, Until: w.clock.Now()}, w.rq)
}

// verifyDue runs the verification jobs due until `until` in simulated time.
func (w *world) verifyDue(ctx context.Context, until time.Time) (jobs.DrainResult, error) {
	return jobs.Drain(ctx, w.svc.Verify, jobs.DrainOptions{Clock: w.clock, Until: until}, w.vq)
}

// runAll drains both queues to the end, moving simulated time to each
// scheduled job.
func (w *world) runAll(ctx context.Context) (jobs.DrainResult, error) {
	return jobs.Drain(ctx, w.svc.Pipeline().Handle, jobs.DrainOptions{Clock: w.clock}, w.rq, w.vq)
}

// deadLetters lists the jobs of both queues given up.
func (w *world) deadLetters(ctx context.Context) []jobs.DeadLetter {
	var out []jobs.DeadLetter
	for _, q := range []*embedded.Queue{w.rq, w.vq} {
		if dl, err := q.DeadLetters(ctx); err == nil {
			out = append(out, dl...)
		}
	}
	return out
}

// connection returns the status, description and id of the connection of
// the endpoint named endpoint on targetID, read from the sandbox.
func (w *world) connection(targetID, endpoint string) (status, description, id string, ok bool) {
	raw, found := w.sb.Get(targetID)
	if !found {
		return "", "", "", false
	}
	var t struct {
		Properties struct {
			Conns []struct {
				ID         string `json:"id"`
				Properties struct {
					PrivateEndpoint struct {
						ID string `json:"id"`
					} `json:"privateEndpoint"`
					State struct {
						Status      string `json:"status"`
						Description string `json:"description"`
					} `json:"privateLinkServiceConnectionState"`
				} `json:"properties"`
			} `json:"privateEndpointConnections"`
		} `json:"properties"`
	}
	if json.Unmarshal(raw, &t) != nil {
		return "", "", "", false
	}
	for _, c := range t.Properties.Conns {
		if strings.EqualFold(core.NameOf(c.Properties.PrivateEndpoint.ID), endpoint) {
			return c.Properties.State.Status, c.Properties.State.Description, c.ID, true
		}
	}
	return "", "", "", false
}

// linkedVNets returns the names of the VNets linked to the zone named zone,
// with whether the autopilot owns the link.
func (w *world) linkedVNets(zone string) map[string]bool {
	out := map[string]bool{}
	for _, raw := range w.sb.Snapshot() {
		var r struct {
			ID         string            `json:"id"`
			Type       string            `json:"type"`
			Tags       map[string]string `json:"tags"`
			Properties struct {
				VirtualNetwork struct {
					ID string `json:"id"`
				} `json:"virtualNetwork"`
			} `json:"properties"`
		}
		if json.Unmarshal(raw, &r) != nil || !strings.EqualFold(r.Type, core.TypeVirtualNetworkLink) {
			continue
		}
		if !strings.Contains(strings.ToLower(r.ID), "/privatednszones/"+strings.ToLower(zone)+"/") {
			continue
		}
		out[core.NameOf(r.Properties.VirtualNetwork.ID)] = r.Tags[core.OwnerTagKey] == core.OwnerTagValue
	}
	return out
}

// zoneGroups returns the names of the zones of an endpoint's DNS zone
// groups, read from the sandbox state.
func (w *world) zoneGroups(endpointID string) []string {
	prefix := strings.ToLower(endpointID) + "/privatednszonegroups/"
	var out []string
	for _, raw := range w.sb.Snapshot() {
		var g struct {
			ID         string `json:"id"`
			Properties struct {
				Configs []struct {
					Properties struct {
						Zone string `json:"privateDnsZoneId"`
					} `json:"properties"`
				} `json:"privateDnsZoneConfigs"`
			} `json:"properties"`
		}
		if json.Unmarshal(raw, &g) != nil || !strings.HasPrefix(strings.ToLower(g.ID), prefix) {
			continue
		}
		for _, c := range g.Properties.Configs {
			out = append(out, core.NameOf(c.Properties.Zone))
		}
	}
	return out
}

// reconcileBackoff is the default back-off without jitter, so that a
// replayed story takes the same simulated time every run.
func reconcileBackoff() reconcile.Backoff {
	return reconcile.Backoff{Rand: func() float64 { return 0.5 }}
}
