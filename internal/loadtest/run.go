package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	plpolicy "github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
)

// Options tune a pipeline run. The zero value (with Load set) is the
// normal measured run: ARM's token buckets, 50-150 ms latency, coalescing on,
// no faults.
type Options struct {
	Load *Load
	// Workers is the number of concurrent reconcile workers; 0 sizes them
	// from ARM's write rate and the latency (see Workers).
	Workers int
	// LatencyMin and LatencyMax bound the per-call latency (simulated).
	LatencyMin, LatencyMax time.Duration
	// FaultRate is the share of ARM calls that fail the way ARM does on a
	// bad day (see FaultProfile): 0.10 is the fault run, 0.01 a normal day.
	FaultRate float64
	// ClientTimeout is the client's per-try timeout a slow call runs past
	// (default azure.DefaultTryTimeout, production's).
	ClientTimeout time.Duration
	// KillWorkers kills that many workers mid-job: the handler's context is
	// cancelled right after its first write and the delivery is dropped
	// unsettled, so its lock expires and the job is delivered again.
	KillWorkers int
	// DuplicateDeliveries handles that many deliveries twice (the first
	// settlement is lost: abandon, redelivery).
	DuplicateDeliveries int
	// NoCoalesce turns off the worker's coalescing of jobs already covered
	// by a later successful reconcile of the same subject (see docs/scale.md).
	NoCoalesce bool
	// NoSweep skips the sweep after the events are drained.
	NoSweep bool
	// LockDuration of the queue (simulated; default DefaultLockDuration).
	LockDuration time.Duration
	// SampleEvery is the simulated interval of queue-depth and memory
	// samples (default 5s).
	SampleEvery time.Duration
	// Dir holds the queue file (a temporary folder when empty).
	Dir string
	Log zerolog.Logger
}

// DefaultLockDuration is the queue's message lock in a run: the reconcile
// queue's in production (infra/modules/servicebus.bicep). The Functions
// host renews a message's lock while its function runs
// (maxAutoLockRenewalDuration in host.json), so the lock does not bound a
// job's work; it bounds how long the job of a worker that died waits to be
// delivered again, which is what the fault run's killed workers measure.
const DefaultLockDuration = time.Minute

// Sample is one queue-depth and memory sample.
type Sample struct {
	At        time.Duration `json:"at"` // simulated time since the start
	Active    int           `json:"active"`
	Scheduled int           `json:"scheduled"`
	Locked    int           `json:"locked"`
	HeapInuse uint64        `json:"heapInuse"`
}

// Report is what a run measured. Fields ending in Wall use the wall clock,
// Sim the simulated clock.
type Report struct {
	Spec    Spec `json:"spec"`
	Workers int  `json:"workers"`
	Faults  bool `json:"faults"`

	Events           int           `json:"events"` // deliveries offered to the intake
	Enqueued         int           `json:"enqueued"`
	Ignored          int           `json:"ignored"`
	Malformed        int           `json:"malformed"`
	IntakeWall       time.Duration `json:"intakeWall"`
	EventsPerSecWall float64       `json:"eventsPerSecWall"`
	GeneratedEvents  int           `json:"generatedEvents"`
	DuplicatedEvents int           `json:"duplicatedEvents"`
	DroppedEvents    int           `json:"droppedEvents"`
	Deliveries       int           `json:"deliveries"`
	Completed        int           `json:"completed"`
	Retried          int           `json:"retried"`
	DeadLettered     int           `json:"deadLettered"`
	// DeadLetters are the reconcile queue's dead letters at the end: reason
	// and description of each (none is expected, faults or not).
	DeadLetters        []string `json:"deadLetters,omitempty"`
	Coalesced          int      `json:"coalesced"`
	Deferred           int      `json:"deferred"`
	Killed             int      `json:"killed"`
	DuplicateHandled   int      `json:"duplicateHandled"`
	LockLost           int      `json:"lockLost"`
	SweepJobs          int      `json:"sweepJobs"`
	SweepReads         int      `json:"sweepReads"`
	SweepFailures      int      `json:"sweepFailures"`
	VerifyJobs         int      `json:"verifyJobs"`
	Decisions          int      `json:"decisions"`
	DecisionsPerSecSim float64  `json:"decisionsPerSecSim"`
	DecisionsPerSecWal float64  `json:"decisionsPerSecWall"`

	Changes    int `json:"changes"` // writes the expected end state needs
	ARMReads   int `json:"armReads"`
	ARMWrites  int `json:"armWrites"` // PUT/PATCH/POST requests, retries and refusals included
	ARMDeletes int `json:"armDeletes"`
	// SandboxRequests is ARMReads, ARMWrites and ARMDeletes under a name
	// that says what they count: HTTP requests the sandbox served, LRO
	// polls and retries included (docs/vocabulary.md).
	SandboxRequests sandbox.Requests `json:"sandboxRequests"`
	ServerThrottled int              `json:"serverThrottled"` // 429s from ARM's buckets
	InjectedFaults  int              `json:"injectedFaults"`
	FaultsByStatus  map[int]int      `json:"faultsByStatus,omitempty"` // injected by the sandbox (LRO failures under 200)
	SlowCalls       int              `json:"slowCalls"`                // calls answered after the client timeout
	FaultRate       float64          `json:"faultRate"`
	ReadsPerChange  float64          `json:"readsPerChange"`
	WritesPerChange float64          `json:"writesPerChange"`
	WritesBySub     map[string]int   `json:"writesBySubscription"`
	ReadsBySub      map[string]int   `json:"readsBySubscription"`
	Limiter         LimiterStats     `json:"limiter"`

	// EventsDrainedSim is when the queue first ran dry; CompletionSim when
	// it ran dry again after the sweep (all expected changes made).
	EventsDrainedSim time.Duration `json:"eventsDrainedSim"`
	CompletionSim    time.Duration `json:"completionSim"`
	// LastWriteSim is when the last successful ARM write was answered: the
	// end of the work proper (what follows is reads confirming convergence:
	// the sweep's jobs). RatioLastWrite is it over PhysicalMinSim.
	LastWriteSim   time.Duration `json:"lastWriteSim"`
	RatioLastWrite float64       `json:"ratioLastWrite"`
	// PhysicalMinSim is max over subscriptions of (writes needed - 200
	// burst) / 10 per s; ReadBoundSim the same for the reads this run made
	// (250 burst, 25/s): a floor set by the reconciler's read pattern.
	PhysicalMinSim  time.Duration `json:"physicalMinSim"`
	PhysicalMinSub  string        `json:"physicalMinSubscription"`
	ReadBoundSim    time.Duration `json:"readBoundSim"`
	ReadBoundSub    string        `json:"readBoundSubscription"`
	RatioToMinimum  float64       `json:"ratioToMinimum"`
	RunWall         time.Duration `json:"runWall"`
	PeakHeapInuse   uint64        `json:"peakHeapInuse"`
	PeakSys         uint64        `json:"peakSys"`
	MaxQueueDepth   int           `json:"maxQueueDepth"`
	Samples         []Sample      `json:"samples"`
	Violations      []Violation   `json:"violations"`
	PlanRerunEmpty  bool          `json:"planRerunEmpty"`
	RerunPlanErrors []string      `json:"rerunPlanErrors,omitempty"`
}

// Workers sizes the worker pool from ARM's write rate and the mean latency.
// By Little's law a worker spends about callsPerJob*latency per job and
// makes about one write in it, so rate*callsPerJob*latency workers keep the
// write bucket busy. But a job holds its worker while it waits for a write
// token of its subscription, and at full size the busiest subscription
// (the targets') has a queue of approvals seconds long: with only twice the
// Little's-law pool (16), every worker sat in that queue for the first 80
// simulated seconds while 3,600 read-mostly jobs waited (2.06x); eight
// times (64) lets them overlap with the approvals (1.50x, last write at
// 1.02x). The client-side limiter, not the pool, keeps the pace, so extra
// workers only wait.
func Workers(writeRate float64, meanLatency time.Duration) int {
	const callsPerJob = 8
	return max(4, int(math.Ceil(8*writeRate*callsPerJob*meanLatency.Seconds())))
}

// Run generates nothing: it runs o.Load through the pipeline as production
// assembles it (pkg/pipeline: intake, router, coalescing reconciler),
// worker pool, the sandbox and the sweep, then checks the invariants.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Load == nil {
		return nil, errors.New("loadtest: no load to run")
	}
	o = o.withDefaults()
	wallStart := time.Now()
	b, err := newBench(o)
	if err != nil {
		return nil, err
	}
	defer b.close()
	if err := b.intake(ctx); err != nil {
		return nil, err
	}
	if err := b.work(ctx); err != nil {
		return nil, err
	}
	b.measure(ctx)
	if err := b.checkInvariants(ctx); err != nil {
		return nil, err
	}
	b.rerunPlans(ctx)
	b.summarise(wallStart)
	return b.rep, nil
}

// withDefaults fills in the zero options: production's latency, client
// timeout and queue lock, workers sized by Workers, 5s samples.
func (o Options) withDefaults() Options {
	if o.LatencyMin <= 0 && o.LatencyMax <= 0 {
		o.LatencyMin, o.LatencyMax = 50*time.Millisecond, 150*time.Millisecond
	}
	if o.LatencyMax < o.LatencyMin {
		o.LatencyMax = o.LatencyMin
	}
	if o.Workers <= 0 {
		o.Workers = Workers(sandbox.ARMWrites.PerSecond, (o.LatencyMin+o.LatencyMax)/2)
	}
	if o.LockDuration <= 0 {
		o.LockDuration = DefaultLockDuration
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = 5 * time.Second
	}
	if o.ClientTimeout <= 0 {
		o.ClientTimeout = azure.DefaultTryTimeout
	}
	return o
}

// bench is one run: the sandbox, the queue, the client with its limiter
// and latency, the pipeline and the worker pool, and the report.
type bench struct {
	o       Options
	ld      *Load
	rep     *Report
	start   time.Time
	clock   *SimClock
	sb      *sandbox.Sandbox
	before  map[string]json.RawMessage // the unmanaged links at the start
	store   *embedded.Store
	rq, vq  *embedded.Queue
	limiter *Limiter
	lt      *latencyTransport
	client  *azure.Client
	sink    *outcome.MemorySink
	p       *pipeline.Pipeline
	r       *runner
	closers []func()

	statsBefore  sandbox.Stats
	workWallTook time.Duration
}

func newBench(o Options) (_ *bench, err error) {
	ld := o.Load
	b := &bench{o: o, ld: ld, start: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), sink: outcome.NewMemorySink(1 << 22),
		rep: &Report{Spec: ld.Spec, Workers: o.Workers, Faults: o.FaultRate > 0 || o.KillWorkers > 0 || o.DuplicateDeliveries > 0,
			GeneratedEvents: ld.Generated, DuplicatedEvents: ld.Duplicated, DroppedEvents: ld.Dropped, Changes: ld.Expected.Changes(),
			FaultRate: o.FaultRate}}
	b.clock = NewSimClock(b.start)
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if err := b.openSandbox(); err != nil {
		return nil, err
	}
	if err := b.openQueue(); err != nil {
		return nil, err
	}
	if err := b.openClient(); err != nil {
		return nil, err
	}
	return b, b.assemble()
}

func (b *bench) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// openSandbox loads the scenario on the simulated clock, without the
// sandbox's own latency and throttling (the client's transport and limiter
// play them), with the random faults of a fault run, and keeps the
// unmanaged links to check they are left alone.
func (b *bench) openSandbox() error {
	sbOpts := []sandbox.Option{sandbox.WithClock(b.clock), sandbox.WithLatency(0), sandbox.WithThrottling(sandbox.Throttling{})}
	if b.o.FaultRate > 0 {
		sbOpts = append(sbOpts, sandbox.WithRandomFaults(int64(b.ld.Spec.Seed)+7, FaultProfile(b.o.FaultRate)...))
	}
	sb, err := sandbox.New(b.ld.Scenario, sbOpts...)
	if err != nil {
		return fmt.Errorf("loadtest: sandbox: %w", err)
	}
	b.sb = sb
	b.before = map[string]json.RawMessage{}
	for id := range b.ld.Expected.UnmanagedLinks {
		raw, ok := sb.Get(id)
		if !ok {
			return fmt.Errorf("loadtest: unmanaged link %s missing from the sandbox", id)
		}
		b.before[id] = raw
	}
	return nil
}

// openQueue opens the embedded queue on the simulated clock.
func (b *bench) openQueue() error {
	dir := b.o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "plautopilot-loadtest-")
		if err != nil {
			return fmt.Errorf("loadtest: temp folder: %w", err)
		}
		b.closers = append(b.closers, func() { os.RemoveAll(d) })
		dir = d
	}
	store, err := embedded.Open(filepath.Join(dir, "queue.db"), embedded.Options{Clock: b.clock.Queue(), NoSync: true,
		LockDuration: b.o.LockDuration, MaxDeliveries: 20, PollInterval: time.Second})
	if err != nil {
		return fmt.Errorf("loadtest: open queue: %w", err)
	}
	b.closers = append(b.closers, func() { store.Close() })
	b.store = store
	b.rq, b.vq = store.Queue(pipeline.DefaultReconcileQueue), store.Queue(pipeline.DefaultVerifyQueue)
	return nil
}

// openClient builds the production adapter over the sandbox with ARM's
// latency (and slow calls) and token buckets played on simulated time.
func (b *bench) openClient() error {
	b.limiter = NewLimiter(b.clock)
	copts := b.sb.ClientOptions()
	b.lt = &latencyTransport{inner: b.sb.Transport(), clock: b.clock, min: b.o.LatencyMin, max: b.o.LatencyMax,
		rng: rand.New(rand.NewPCG(b.ld.Spec.Seed, 0x1a7)), slowRate: b.o.FaultRate, timeout: b.o.ClientTimeout}
	copts.Transport = b.lt
	copts.Retry = policy.RetryOptions{MaxRetries: -1} // the limiter retries on simulated time
	copts.PerCallPolicies = append(copts.PerCallPolicies, b.limiter)
	// the adapter's own retries wait on simulated time
	retryRng := rand.New(rand.NewPCG(b.ld.Spec.Seed, 0x7e7))
	var retryMu sync.Mutex
	client, err := azure.New(b.sb.Credential(), copts, azure.Config{PollInterval: time.Millisecond, Now: b.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { b.clock.Sleep(d); return ctx.Err() },
		Rand:  func() float64 { retryMu.Lock(); defer retryMu.Unlock(); return retryRng.Float64() }})
	if err != nil {
		return fmt.Errorf("loadtest: azure client: %w", err)
	}
	b.client = client
	return nil
}

// assemble builds the pipeline as production does, with the simulated
// clock, seeded back-off jitter, the clock's parallel reads, and a hook
// recording the reconcile jobs sent; and the worker pool over it.
func (b *bench) assemble() error {
	pol, err := plpolicy.Parse("loadtest-policy.yaml", []byte(b.ld.Policy))
	if err != nil {
		return fmt.Errorf("loadtest: policy: %w", err)
	}
	r := &runner{o: b.o, clock: b.clock, rq: b.rq, rep: b.rep, sent: map[string]bool{}, delivered: map[string]bool{},
		rng:       rand.New(rand.NewPCG(b.ld.Spec.Seed, 0xfa17)),
		killsLeft: b.o.KillWorkers, dupsLeft: b.o.DuplicateDeliveries}
	b.limiter.OnWrite = r.onWrite
	b.p, err = pipeline.New(pipeline.Config{Policy: pol, ARM: b.client, Reconcile: b.rq, Verify: b.vq, Sink: b.sink,
		Now: b.clock.Now, Log: b.o.Log, SweepInterval: time.Minute, Backoff: reconcile.Backoff{Rand: r.float},
		NoCoalesce: b.o.NoCoalesce, Parallel: b.clock.Parallel, Hooks: pipeline.Hooks{Sent: r.recordSent}})
	if err != nil {
		return err
	}
	r.p = b.p
	b.r = r
	return nil
}

// intake hands the whole burst to the intake at simulated time zero,
// timed on the wall clock.
func (b *bench) intake(ctx context.Context) error {
	t0 := time.Now()
	for i, body := range b.ld.Events {
		res, err := b.p.HandleEvents(ctx, body)
		b.rep.Events++
		b.rep.Enqueued += res.Enqueued
		b.rep.Ignored += res.Ignored
		b.rep.Malformed += res.Malformed
		if err != nil {
			return fmt.Errorf("loadtest: intake of delivery %d: %w", i+1, err)
		}
	}
	b.rep.IntakeWall = time.Since(t0)
	if s := b.rep.IntakeWall.Seconds(); s > 0 {
		b.rep.EventsPerSecWall = float64(b.rep.Events) / s
	}
	return nil
}

// work drains the queue, sweeps (unless NoSweep) and drains again.
func (b *bench) work(ctx context.Context) error {
	b.statsBefore = b.sb.Stats()
	workWall := time.Now()
	if err := b.r.drain(ctx); err != nil {
		return err
	}
	b.rep.EventsDrainedSim = b.clock.Elapsed()
	if !b.o.NoSweep {
		if err := b.sweep(ctx); err != nil {
			return err
		}
		if err := b.r.drain(ctx); err != nil {
			return err
		}
	}
	b.rep.CompletionSim = b.clock.Elapsed()
	b.workWallTook = time.Since(workWall)
	return nil
}

// sweep runs the pipeline's sweep on the simulated clock. A failed sweep is
// what the next timer tick repeats: here one simulated minute later, at
// most 10 times.
func (b *bench) sweep(ctx context.Context) error {
	var wg sync.WaitGroup
	var serr error
	b.clock.Go(&wg, func() {
		for attempt := 1; ; attempt++ {
			var res reconcile.SweepResult
			res, serr = b.p.Sweep(ctx)
			b.rep.SweepJobs += len(res.Enqueued)
			b.rep.SweepReads += res.Reads
			if serr == nil || attempt == 10 {
				return
			}
			b.rep.SweepFailures++
			b.clock.Sleep(time.Minute)
		}
	})
	wg.Wait()
	if serr != nil {
		return fmt.Errorf("loadtest: sweep failed 10 times: %w", serr)
	}
	return nil
}

// measure fills in the sandbox's and the limiter's counts and the bounds
// they imply.
func (b *bench) measure(ctx context.Context) {
	rep, st, before := b.rep, b.sb.Stats(), b.statsBefore
	rep.ARMReads, rep.ARMWrites, rep.ARMDeletes = st.Reads-before.Reads, st.Writes-before.Writes, st.Deletes-before.Deletes
	rep.SandboxRequests = st.Requests().Since(before.Requests())
	rep.ServerThrottled, rep.InjectedFaults = st.Throttled-before.Throttled, st.InjectedFaults()-before.InjectedFaults()
	for k, v := range st.Faults {
		if n := v - before.Faults[k]; n > 0 {
			if rep.FaultsByStatus == nil {
				rep.FaultsByStatus = map[int]int{}
			}
			rep.FaultsByStatus[k] = n
		}
	}
	rep.SlowCalls = b.lt.slowCalls()
	rep.Limiter = b.limiter.Stats()
	if rep.Changes > 0 {
		rep.ReadsPerChange = float64(rep.ARMReads) / float64(rep.Changes)
		rep.WritesPerChange = float64(rep.ARMWrites+rep.ARMDeletes) / float64(rep.Changes)
	}
	rep.WritesBySub, rep.ReadsBySub = b.limiter.BySubscription()
	rep.PhysicalMinSim, rep.PhysicalMinSub = bound(b.ld.Expected.Writes(), sandbox.ARMWrites)
	rep.ReadBoundSim, rep.ReadBoundSub = bound(rep.ReadsBySub, sandbox.ARMReads)
	b.r.mu.Lock()
	if !b.r.lastWrite.IsZero() {
		rep.LastWriteSim = b.r.lastWrite.Sub(b.start)
	}
	b.r.mu.Unlock()
	if rep.PhysicalMinSim > 0 {
		rep.RatioToMinimum = rep.CompletionSim.Seconds() / rep.PhysicalMinSim.Seconds()
		rep.RatioLastWrite = rep.LastWriteSim.Seconds() / rep.PhysicalMinSim.Seconds()
	}
	rep.DecisionsPerSecSim = perSec(rep.Decisions, rep.CompletionSim)
	rep.DecisionsPerSecWal = perSec(rep.Decisions, b.workWallTook)
	if vst, err := b.vq.Stats(ctx); err == nil {
		rep.VerifyJobs = vst.Pending()
	}
}

// checkInvariants gathers the evidence, read with the faults switched off,
// and checks it against the expected end state.
func (b *bench) checkInvariants(ctx context.Context) error {
	b.sb.ClearFaults()
	b.lt.stopSlow()
	dead, err := b.rq.DeadLetters(ctx)
	if err != nil {
		return fmt.Errorf("loadtest: dead letters: %w", err)
	}
	for _, dl := range dead {
		b.rep.DeadLetters = append(b.rep.DeadLetters, dl.Reason+": "+dl.Description)
	}
	qst, err := b.rq.Stats(ctx)
	if err != nil {
		return fmt.Errorf("loadtest: queue stats: %w", err)
	}
	after := map[string]json.RawMessage{}
	for id := range b.before {
		if raw, ok := b.sb.Get(id); ok {
			after[id] = raw
		}
	}
	ev := Evidence{Final: b.sb.Snapshot(), UnmanagedBefore: b.before, UnmanagedAfter: after, DeadLetters: dead,
		Outcomes: b.sink.Events(), Sent: b.r.sent, Delivered: b.r.delivered, Pending: qst.Pending()}
	b.rep.Violations = CheckInvariants(ev, b.ld.Expected)
	return nil
}

// rerunPlans checks that the plan reruns empty on the converged state (dry
// run, no writes).
func (b *bench) rerunPlans(ctx context.Context) {
	rep := b.rep
	rep.PlanRerunEmpty = true
	fail := func(msg string) {
		rep.PlanRerunEmpty = false
		rep.RerunPlanErrors = append(rep.RerunPlanErrors, msg)
	}
	var wg sync.WaitGroup
	b.clock.Go(&wg, func() {
		ts, err := b.client.ListTargets(ctx, PlatformSubscription)
		if err != nil {
			fail(err.Error())
			return
		}
		for _, t := range ts {
			pl, _, err := b.p.Reconciler().Plan(ctx, jobs.Job{Version: jobs.Version, ID: "rerun-" + t.Name, Kind: jobs.KindReconcile,
				Subject: jobs.SubjectTarget, TargetID: t.ID, Attempt: 1})
			switch {
			case err != nil:
				fail(err.Error())
			case !pl.Empty():
				fail(fmt.Sprintf("target %s: %d changes on rerun", t.Name, len(pl.Changes())))
			}
		}
	})
	wg.Wait()
}

// summarise adds the samples, peaks and wall time.
func (b *bench) summarise(wallStart time.Time) {
	for _, s := range b.r.samples {
		b.rep.MaxQueueDepth = max(b.rep.MaxQueueDepth, s.Active+s.Scheduled+s.Locked)
	}
	b.rep.Samples = b.r.samples
	b.rep.PeakHeapInuse, b.rep.PeakSys = b.r.peakHeap, b.r.peakSys
	b.rep.RunWall = time.Since(wallStart)
}

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// bound is the largest (count - burst) / rate over subscriptions.
func bound(bySub map[string]int, b sandbox.Bucket) (time.Duration, string) {
	var worst time.Duration
	var sub string
	keys := make([]string, 0, len(bySub))
	for k := range bySub {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := bySub[k]
		if n <= b.Burst {
			continue
		}
		d := time.Duration(float64(n-b.Burst) / b.PerSecond * float64(time.Second))
		if d > worst {
			worst, sub = d, k
		}
	}
	return worst, sub
}

type killKey struct{}

// runner is the worker pool.
type runner struct {
	o     Options
	clock *SimClock
	rq    *embedded.Queue
	p     *pipeline.Pipeline
	rep   *Report

	mu                  sync.Mutex
	sent, delivered     map[string]bool
	rng                 *rand.Rand
	killsLeft, dupsLeft int
	samples             []Sample
	lastWrite           time.Time // simulated time of the last successful write
	peakHeap, peakSys   uint64
	done                bool
}

// recordSent is the pipeline's Sent hook: the reconcile jobs sent, which
// must all be delivered (verification jobs are not run here).
func (r *runner) recordSent(j jobs.Job) {
	if j.Kind == jobs.KindVerify {
		return
	}
	r.mu.Lock()
	r.sent[j.ID] = true
	r.mu.Unlock()
}

func (r *runner) float() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.Float64()
}

// onWrite kills the handler whose context carries a kill switch.
func (r *runner) onWrite(ctx context.Context) {
	r.mu.Lock()
	r.lastWrite = r.clock.Now()
	r.mu.Unlock()
	if k, ok := ctx.Value(killKey{}).(func()); ok {
		k()
	}
}

// drain runs the workers until the reconcile queue holds nothing due,
// scheduled or locked, sampling depth and memory on the way.
func (r *runner) drain(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, r.o.Workers)
	r.mu.Lock()
	r.done = false
	r.mu.Unlock()
	var sw sync.WaitGroup
	for i := 0; i < r.o.Workers; i++ {
		r.clock.Go(&wg, func() {
			if err := r.work(ctx); err != nil {
				errs <- err
			}
		})
	}
	r.clock.Go(&sw, func() { r.sample(ctx) })
	wg.Wait()
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
	sw.Wait()
	close(errs)
	return <-errs
}

func (r *runner) sample(ctx context.Context) {
	var ms runtime.MemStats
	for {
		st, err := r.rq.Stats(ctx)
		runtime.ReadMemStats(&ms)
		r.mu.Lock()
		if err == nil {
			r.samples = append(r.samples, Sample{At: r.clock.Elapsed(), Active: st.Active, Scheduled: st.Scheduled, Locked: st.Locked, HeapInuse: ms.HeapInuse})
		}
		r.peakHeap = max(r.peakHeap, ms.HeapInuse)
		r.peakSys = max(r.peakSys, ms.Sys)
		done := r.done
		r.mu.Unlock()
		if done {
			return
		}
		r.clock.Sleep(r.o.SampleEvery)
	}
}

const idlePoll = 100 * time.Millisecond

func (r *runner) work(ctx context.Context) error {
	now, cancel := context.WithCancel(ctx)
	cancel() // Receive with a cancelled context tries once and never blocks
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ds, err := r.rq.Receive(now, 1)
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("loadtest: receive: %w", err)
		}
		if len(ds) > 0 {
			if err := r.handle(ctx, ds[0]); err != nil {
				return err
			}
			continue
		}
		st, err := r.rq.Stats(ctx)
		if err != nil {
			return fmt.Errorf("loadtest: queue stats: %w", err)
		}
		if st.Pending() == 0 {
			return nil
		}
		t := r.clock.Now()
		wake := t.Add(idlePoll)
		if !st.NextDue.IsZero() && st.NextDue.Before(wake) {
			wake = st.NextDue
		}
		if !wake.After(t) {
			wake = t.Add(time.Millisecond)
		}
		r.clock.SleepUntil(wake)
	}
}

func (r *runner) handle(ctx context.Context, d jobs.Delivery) error {
	r.mu.Lock()
	r.rep.Deliveries++
	r.delivered[d.Job.ID] = true
	dup := r.dupsLeft > 0 && d.DeliveryCount == 1 && r.rng.Float64() < 0.2
	if dup {
		r.dupsLeft--
	}
	// every first delivery may be killed: the kill happens at its first
	// successful write while kills are left (a job that writes nothing, e.g.
	// coalesced or converged, cannot be killed mid-job)
	kill := !dup && r.killsLeft > 0 && d.DeliveryCount == 1
	r.mu.Unlock()

	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	killed := false
	if kill {
		var once sync.Once
		hctx = context.WithValue(hctx, killKey{}, func() {
			once.Do(func() {
				r.mu.Lock()
				if r.killsLeft > 0 {
					r.killsLeft--
					killed = true
				}
				r.mu.Unlock()
				if killed {
					cancel()
				}
			})
		})
	}
	disp := r.p.ReconcileDelivery(hctx, d)
	r.account(disp)
	if killed {
		// the worker "dies": no settlement, the lock expires, the job comes back
		r.mu.Lock()
		r.rep.Killed++
		r.mu.Unlock()
		return nil
	}
	if dup {
		// the settlement is lost: the same message is delivered again
		r.mu.Lock()
		r.rep.DuplicateHandled++
		r.mu.Unlock()
		if err := r.rq.Abandon(ctx, d); err != nil && !errors.Is(err, jobs.ErrLockLost) {
			return fmt.Errorf("loadtest: abandon: %w", err)
		}
		return nil
	}
	v := disp.Verdict
	if disp.Reason == reconcile.ReasonDeferred {
		v = "" // not a retry of a failure
	}
	return r.settle(ctx, d, disp.Settlement(), v)
}

func (r *runner) settle(ctx context.Context, d jobs.Delivery, o jobs.Settlement, v reconcile.Verdict) error {
	err := jobs.Settle(ctx, r.rq, d, o)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case errors.Is(err, jobs.ErrLockLost):
		r.rep.LockLost++
		return nil
	case err != nil:
		return fmt.Errorf("loadtest: settle job %s: %w", d.Job.ID, err)
	case o.IsRetry():
		if v != "" {
			r.rep.Retried++
		}
	case o.IsDeadLetter():
		r.rep.DeadLettered++
	default:
		r.rep.Completed++
	}
	return nil
}

// account counts decisions and ARM calls by subscription from a job's result.
func (r *runner) account(disp reconcile.Disposition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch disp.Reason {
	case reconcile.ReasonCoalesced:
		r.rep.Coalesced++
	case reconcile.ReasonDeferred:
		r.rep.Deferred++
	}
	for _, ar := range disp.Result.Applied {
		switch ar.Action.Kind {
		case reconcile.KindApprove, reconcile.KindReject:
			if ar.Result == outcome.ResultApplied || ar.Result == outcome.ResultInProgress {
				r.rep.Decisions++
			}
		}
	}
}
