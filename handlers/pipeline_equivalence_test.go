package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile/replay"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// The guide's event stream replayed (handler replay's pipeline) and run
// through the Functions handler as Functions mode assembles it (the
// ResourceEvents, Reconcile and Verify functions, jobs settled the hosted
// way: retries sent as new scheduled messages) takes the same actions:
// the same kinds on the same resources under the same rules, in the same
// order, verifications and their follow-ups included. Replay shows what
// production does.
func TestReplayTakesTheActionsTheFunctionsTake(t *testing.T) {
	stream := guideEventStream(t)
	start := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, policy string
		want         string // an action both must take
	}{
		{name: "example policy", want: "connection.approved"},
		{name: "public access disabled after verification", policy: "  publicNetworkAccess: disableAfterVerification\n", want: "target.public-access-disabled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pol := guidePolicy(t, tt.policy)
			gw := guidetest.New(t)
			rep, err := replay.Run(context.Background(), replay.Options{Sandbox: gw.Sandbox, Policy: pol, Deliveries: stream,
				Start: start, Dir: t.TempDir(), Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("replay dead-lettered jobs: %+v", rep.DeadLetters)
			}
			replayed := actionsOf(rep.Outcomes)
			hosted, dead := runThroughFunctions(t, pol, stream, start)
			if len(dead) > 0 {
				t.Fatalf("Functions mode gave up jobs: %+v", dead)
			}
			if !slices.ContainsFunc(replayed, func(a string) bool { return strings.Contains(a, tt.want) }) {
				t.Fatalf("replay took no %s action:\n%s", tt.want, strings.Join(replayed, "\n"))
			}
			if !slices.Equal(replayed, hosted) {
				t.Errorf("replay and Functions mode differ\nreplay (%d):\n%s\n\nFunctions (%d):\n%s", len(replayed), strings.Join(replayed, "\n"),
					len(hosted), strings.Join(hosted, "\n"))
			}
		})
	}
}

// guidePolicy is examples/policy.yaml with extra lines added to its
// workspace targets.
func guidePolicy(t *testing.T, extra string) *policy.Policy {
	t.Helper()
	src, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n"+extra, 1)
	if edited == string(src) && extra != "" {
		t.Fatal("examples/policy.yaml has no allOfType line to extend")
	}
	p, err := policy.Parse("policy.yaml", []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// guideEventStream is every event of testdata/events in Event Grid schema,
// one event per delivery (as the eventGridTrigger invokes), files in name
// order.
func guideEventStream(t *testing.T) [][]byte {
	t.Helper()
	files, err := filepath.Glob("../testdata/events/*.eventgrid.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no event files: %v", err)
	}
	slices.Sort(files)
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil {
			arr = []json.RawMessage{raw}
		}
		for _, ev := range arr {
			out = append(out, ev)
		}
	}
	return out
}

// actionsOf lists what outcome events record (decisions, link and zone
// group changes, public access changes, findings, verification results,
// failures) as "TYPE SUBJECT rule=RULE zone=ZONE result=RESULT".
func actionsOf(evs []outcome.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%s %s rule=%s zone=%s result=%s", strings.TrimPrefix(string(ev.Type), "io.plautopilot."),
			ev.Subject, ev.Data.Rule, core.ZoneNameOfID(ev.Data.Zone), ev.Data.Result))
	}
	return out
}

// runThroughFunctions posts each event to the ResourceEvents function and
// plays the Functions host for the queues: every job due is delivered to
// the Reconcile or Verify function as a serviceBusTrigger invocation and
// completed when it succeeds (autoComplete), with simulated time jumping to
// the next scheduled job. The Service is built as in Functions mode, over
// the guide's sandbox with its DNS and FHIR servers for verification.
func runThroughFunctions(t *testing.T, pol *policy.Policy, stream [][]byte, start time.Time) (actions []string, dead []jobs.DeadLetter) {
	t.Helper()
	gw := guidetest.New(t)
	clock := clock.NewFake(start)
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	net, err := sandboxnet.NewNetwork(gw.Sandbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Close)
	tune := func(v *verify.Verifier, r *verify.JobRunner) {
		nv := net.Verifier(gw.ARM)
		v.ResolverFor, v.PublicResolver, v.DialContext, v.RootCAs = nv.ResolverFor, nv.PublicResolver, nv.DialContext, nv.RootCAs
		v.Now, v.Timeout, r.Now = clock.Now, 5*time.Second, clock.Now
	}
	mem := outcome.NewMemorySink(10000)
	w := &wiring{queues: map[jobs.Kind]hostedQueue{}, now: clock.Now}
	for _, k := range []jobs.Kind{jobs.KindReconcile, jobs.KindVerify} {
		name := string(k)
		w.queues[k] = hostedQueue{name: name, parkedName: name + parkedQueueSuffix, sender: store.Queue(name), parked: store.Queue(name + parkedQueueSuffix)}
	}
	w.svc, err = autopilot.New(autopilot.Config{Policy: pol, ARM: gw.ARM, Reconcile: w.queues[jobs.KindReconcile].sender,
		Verify: w.queues[jobs.KindVerify].sender, Sink: mem, Now: clock.Now, Log: zerolog.Nop(),
		VerifierFor: verifierFor(gw.ARM, pol, nil, tune, zerolog.Nop())})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(functions(newAppWith(zerolog.Nop(), w, nil)), zerolog.Nop()))
	t.Cleanup(srv.Close)

	for _, ev := range stream {
		callFn(t, srv.URL, fnResourceEvents, `{"Data":{"event":`+string(ev)+`},"Metadata":{}}`)
	}
	host := func(ctx context.Context, d jobs.Delivery) jobs.Settlement {
		fn := fnReconcile
		if d.Job.Kind == jobs.KindVerify {
			fn = fnVerify
		}
		if status, body := callFn(t, srv.URL, fn, serviceBusEnvelope(t, d.Job)); status != http.StatusOK {
			return jobs.DeadLetterWith("InvocationFailed", fmt.Sprintf("%s answered %d: %s", fn, status, body))
		}
		return jobs.Done() // autoComplete
	}
	rq, vq := store.Queue(string(jobs.KindReconcile)), store.Queue(string(jobs.KindVerify))
	if _, err := jobs.Drain(context.Background(), host, jobs.DrainOptions{Clock: clock, MaxDeliveries: 10000}, rq, vq); err != nil {
		t.Fatal(err)
	}
	for _, q := range []*embedded.Queue{rq, vq, store.Queue(string(jobs.KindReconcile) + parkedQueueSuffix), store.Queue(string(jobs.KindVerify) + parkedQueueSuffix)} {
		dls, err := q.DeadLetters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, dls...)
		if st, err := q.Stats(context.Background()); err == nil && q != rq && q != vq && st.Pending() > 0 {
			t.Errorf("parking queue holds %d jobs", st.Pending())
		}
	}
	return actionsOf(mem.Events()), dead
}
