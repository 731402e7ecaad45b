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
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
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

// Run generates nothing: it runs o.Load through intake, queue, workers,
// the sandbox and the sweep, then checks the invariants.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Load == nil {
		return nil, errors.New("loadtest: no load to run")
	}
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
	ld := o.Load
	wallStart := time.Now()
	rep := &Report{Spec: ld.Spec, Workers: o.Workers, Faults: o.FaultRate > 0 || o.KillWorkers > 0 || o.DuplicateDeliveries > 0,
		GeneratedEvents: ld.Generated, DuplicatedEvents: ld.Duplicated, DroppedEvents: ld.Dropped, Changes: ld.Expected.Changes()}

	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := NewSimClock(start)
	sbOpts := []sandbox.Option{sandbox.WithClock(clock), sandbox.WithLatency(0), sandbox.WithThrottling(sandbox.Throttling{})}
	rep.FaultRate = o.FaultRate
	if o.FaultRate > 0 {
		sbOpts = append(sbOpts, sandbox.WithRandomFaults(int64(ld.Spec.Seed)+7, FaultProfile(o.FaultRate)...))
	}
	sb, err := sandbox.New(ld.Scenario, sbOpts...)
	if err != nil {
		return nil, fmt.Errorf("loadtest: sandbox: %w", err)
	}
	before := map[string]json.RawMessage{}
	for id := range ld.Expected.UnmanagedLinks {
		b, ok := sb.Get(id)
		if !ok {
			return nil, fmt.Errorf("loadtest: unmanaged link %s missing from the sandbox", id)
		}
		before[id] = b
	}
	pol, err := plpolicy.Parse("loadtest-policy.yaml", []byte(ld.Policy))
	if err != nil {
		return nil, fmt.Errorf("loadtest: policy: %w", err)
	}

	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "plautopilot-loadtest-")
		if err != nil {
			return nil, fmt.Errorf("loadtest: temp folder: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	store, err := embedded.Open(filepath.Join(dir, "queue.db"), embedded.Options{Clock: clock.Queue(), NoSync: true,
		LockDuration: o.LockDuration, MaxDeliveries: 20, PollInterval: time.Second})
	if err != nil {
		return nil, fmt.Errorf("loadtest: open queue: %w", err)
	}
	defer store.Close()
	rq, vq := store.Queue("reconcile"), store.Queue("verify")

	limiter := NewLimiter(clock)
	copts := sb.ClientOptions()
	lt := &latencyTransport{inner: sb.Transport(), clock: clock, min: o.LatencyMin, max: o.LatencyMax,
		rng: rand.New(rand.NewPCG(ld.Spec.Seed, 0x1a7)), slowRate: o.FaultRate, timeout: o.ClientTimeout}
	copts.Transport = lt
	copts.Retry = policy.RetryOptions{MaxRetries: -1} // the limiter retries on simulated time
	copts.PerCallPolicies = append(copts.PerCallPolicies, limiter)
	// the adapter's own retries wait on simulated time
	retryRng := rand.New(rand.NewPCG(ld.Spec.Seed, 0x7e7))
	var retryMu sync.Mutex
	client, err := azure.New(sb.Credential(), copts, azure.Config{PollInterval: time.Millisecond, Now: clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { clock.Sleep(d); return ctx.Err() },
		Rand:  func() float64 { retryMu.Lock(); defer retryMu.Unlock(); return retryRng.Float64() }})
	if err != nil {
		return nil, fmt.Errorf("loadtest: azure client: %w", err)
	}
	sink := outcome.NewMemorySink(1 << 22)
	r := &runner{o: o, clock: clock, rq: rq, rep: rep, sent: map[string]bool{}, delivered: map[string]bool{},
		rng:       rand.New(rand.NewPCG(ld.Spec.Seed, 0xfa17)),
		killsLeft: o.KillWorkers, dupsLeft: o.DuplicateDeliveries}
	send := &router{r: r, reconcile: rq, verify: vq}
	var coalescer *reconcile.Coalescer
	if !o.NoCoalesce {
		coalescer = reconcile.NewCoalescer()
	}
	limiter.OnWrite = r.onWrite
	rec, err := reconcile.New(reconcile.Config{Reader: client, Writer: client, Policy: pol, Jobs: send, Sink: sink,
		Now: clock.Now, Log: o.Log, Backoff: reconcile.Backoff{Rand: r.float}, Coalesce: coalescer, Parallel: clock.Parallel})
	if err != nil {
		return nil, err
	}
	r.rec = rec

	// intake: the whole burst at simulated time zero, timed on the wall clock
	in := &events.Intake{Queue: send, Log: o.Log, Now: clock.Now}
	t0 := time.Now()
	for i, body := range ld.Events {
		res, err := in.Handle(ctx, body)
		rep.Events++
		rep.Enqueued += res.Enqueued
		rep.Ignored += res.Ignored
		rep.Malformed += res.Malformed
		if err != nil {
			return nil, fmt.Errorf("loadtest: intake of delivery %d: %w", i+1, err)
		}
	}
	rep.IntakeWall = time.Since(t0)
	if s := rep.IntakeWall.Seconds(); s > 0 {
		rep.EventsPerSecWall = float64(rep.Events) / s
	}

	statsBefore := sb.Stats()
	workWall := time.Now()
	if err := r.drain(ctx); err != nil {
		return nil, err
	}
	rep.EventsDrainedSim = clock.Elapsed()
	if !o.NoSweep {
		var wg sync.WaitGroup
		var sres reconcile.SweepResult
		var serr error
		clock.Go(&wg, func() {
			// A failed sweep is what the next timer tick repeats: here one
			// simulated minute later, at most 10 times.
			sw := &reconcile.Sweeper{Reader: client, Policy: pol, Jobs: send, Interval: time.Minute, Log: o.Log}
			for attempt := 1; ; attempt++ {
				var res reconcile.SweepResult
				res, serr = sw.Sweep(ctx, clock.Now())
				rep.SweepJobs += len(res.Enqueued)
				rep.SweepReads += res.Reads
				sres = res
				if serr == nil || attempt == 10 {
					return
				}
				rep.SweepFailures++
				clock.Sleep(time.Minute)
			}
		})
		wg.Wait()
		_ = sres
		if serr != nil {
			return nil, fmt.Errorf("loadtest: sweep failed 10 times: %w", serr)
		}
		if err := r.drain(ctx); err != nil {
			return nil, err
		}
	}
	rep.CompletionSim = clock.Elapsed()
	workWallTook := time.Since(workWall)

	st := sb.Stats()
	rep.ARMReads, rep.ARMWrites, rep.ARMDeletes = st.Reads-statsBefore.Reads, st.Writes-statsBefore.Writes, st.Deletes-statsBefore.Deletes
	rep.SandboxRequests = st.Requests().Since(statsBefore.Requests())
	rep.ServerThrottled, rep.InjectedFaults = st.Throttled-statsBefore.Throttled, st.InjectedFaults()-statsBefore.InjectedFaults()
	for k, v := range st.Faults {
		if n := v - statsBefore.Faults[k]; n > 0 {
			if rep.FaultsByStatus == nil {
				rep.FaultsByStatus = map[int]int{}
			}
			rep.FaultsByStatus[k] = n
		}
	}
	rep.SlowCalls = lt.slowCalls()
	rep.Limiter = limiter.Stats()
	if rep.Changes > 0 {
		rep.ReadsPerChange = float64(rep.ARMReads) / float64(rep.Changes)
		rep.WritesPerChange = float64(rep.ARMWrites+rep.ARMDeletes) / float64(rep.Changes)
	}
	rep.WritesBySub, rep.ReadsBySub = limiter.BySubscription()
	rep.PhysicalMinSim, rep.PhysicalMinSub = bound(ld.Expected.Writes(), sandbox.ARMWrites)
	rep.ReadBoundSim, rep.ReadBoundSub = bound(rep.ReadsBySub, sandbox.ARMReads)
	r.mu.Lock()
	if !r.lastWrite.IsZero() {
		rep.LastWriteSim = r.lastWrite.Sub(start)
	}
	r.mu.Unlock()
	if rep.PhysicalMinSim > 0 {
		rep.RatioToMinimum = rep.CompletionSim.Seconds() / rep.PhysicalMinSim.Seconds()
		rep.RatioLastWrite = rep.LastWriteSim.Seconds() / rep.PhysicalMinSim.Seconds()
	}
	rep.DecisionsPerSecSim = perSec(rep.Decisions, rep.CompletionSim)
	rep.DecisionsPerSecWal = perSec(rep.Decisions, workWallTook)
	if vst, err := vq.Stats(ctx); err == nil {
		rep.VerifyJobs = vst.Pending()
	}

	// evidence and invariants, read with the faults switched off
	sb.ClearFaults()
	lt.stopSlow()
	dead, err := rq.DeadLetters(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest: dead letters: %w", err)
	}
	for _, dl := range dead {
		rep.DeadLetters = append(rep.DeadLetters, dl.Reason+": "+dl.Description)
	}
	qst, err := rq.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest: queue stats: %w", err)
	}
	after := map[string]json.RawMessage{}
	for id := range before {
		if b, ok := sb.Get(id); ok {
			after[id] = b
		}
	}
	ev := Evidence{Final: sb.Snapshot(), UnmanagedBefore: before, UnmanagedAfter: after, DeadLetters: dead,
		Outcomes: sink.Events(), Sent: r.sent, Delivered: r.delivered, Pending: qst.Pending()}
	rep.Violations = CheckInvariants(ev, ld.Expected)

	// the plan reruns empty on the converged state (dry run, no writes)
	rep.PlanRerunEmpty = true
	var wg sync.WaitGroup
	clock.Go(&wg, func() {
		ts, err := client.ListTargets(ctx, PlatformSubscription)
		if err != nil {
			rep.RerunPlanErrors = append(rep.RerunPlanErrors, err.Error())
			rep.PlanRerunEmpty = false
			return
		}
		for _, t := range ts {
			pl, _, err := rec.Plan(ctx, jobs.Job{Version: jobs.Version, ID: "rerun-" + t.Name, Kind: jobs.KindReconcile,
				Subject: jobs.SubjectTarget, TargetID: t.ID, Attempt: 1})
			if err != nil {
				rep.RerunPlanErrors = append(rep.RerunPlanErrors, err.Error())
				rep.PlanRerunEmpty = false
				continue
			}
			if !pl.Empty() {
				rep.PlanRerunEmpty = false
				rep.RerunPlanErrors = append(rep.RerunPlanErrors, fmt.Sprintf("target %s: %d changes on rerun", t.Name, len(pl.Changes())))
			}
		}
	})
	wg.Wait()

	for _, s := range r.samples {
		rep.MaxQueueDepth = max(rep.MaxQueueDepth, s.Active+s.Scheduled+s.Locked)
	}
	rep.Samples = r.samples
	rep.PeakHeapInuse, rep.PeakSys = r.peakHeap, r.peakSys
	rep.RunWall = time.Since(wallStart)
	return rep, nil
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

// router sends verification jobs to their own queue and records the ids of
// the reconcile jobs sent.
type router struct {
	r                 *runner
	reconcile, verify jobs.Sender
}

// Wake passes the reconciler's wake-ups of deferred jobs to the queue.
func (s *router) Wake(ctx context.Context, ids ...string) error {
	if w, ok := s.reconcile.(jobs.Waker); ok {
		return w.Wake(ctx, ids...)
	}
	return nil
}

func (s *router) Send(ctx context.Context, j jobs.Job) error {
	if j.Kind == jobs.KindVerify {
		return s.verify.Send(ctx, j)
	}
	if err := s.reconcile.Send(ctx, j); err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.sent[j.ID] = true
	s.r.mu.Unlock()
	return nil
}

type killKey struct{}

// runner is the worker pool.
type runner struct {
	o     Options
	clock *SimClock
	rq    *embedded.Queue
	rec   *reconcile.Reconciler
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
	disp := r.rec.ProcessDelivery(hctx, d)
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
	return r.settle(ctx, d, disp.Outcome(), v)
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
