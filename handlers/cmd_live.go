//go:build !production

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/reconcile/replay"
)

// errReadOnly is what a write attempted by a live dry run gets.
var errReadOnly = errors.New("read-only dry run: no ARM write is sent")

// readOnly is a core.Writer that refuses every write: the live dry runs
// plan with the production reconciler and must never change Azure.
type readOnly struct{}

func (readOnly) SetConnectionStatus(context.Context, core.Connection, core.ConnectionStatus, string) (core.WriteResult, error) {
	return core.WriteResult{}, &core.Error{Class: core.Fatal, Op: "set connection status", Err: errReadOnly}
}
func (readOnly) EnsureVNetLink(context.Context, core.LinkSpec) (core.WriteResult, error) {
	return core.WriteResult{}, &core.Error{Class: core.Fatal, Op: "ensure vnet link", Err: errReadOnly}
}
func (readOnly) DeleteVNetLink(context.Context, core.VNetLink) (core.WriteResult, error) {
	return core.WriteResult{}, &core.Error{Class: core.Fatal, Op: "delete vnet link", Err: errReadOnly}
}
func (readOnly) EnsureZoneGroup(context.Context, core.ZoneGroupSpec) (core.WriteResult, error) {
	return core.WriteResult{}, &core.Error{Class: core.Fatal, Op: "ensure zone group", Err: errReadOnly}
}
func (readOnly) SetPublicNetworkAccess(context.Context, core.Target, string) (core.WriteResult, error) {
	return core.WriteResult{}, &core.Error{Class: core.Fatal, Op: "set public network access", Err: errReadOnly}
}

var _ core.PublicAccessWriter = readOnly{}

// collector is a jobs.Sender keeping the jobs in memory.
type collector struct{ jobs []jobs.Job }

func (c *collector) Send(_ context.Context, j jobs.Job) error {
	c.jobs = append(c.jobs, j)
	return nil
}

// livePlan turns event deliveries (and a sweep) into reconcile jobs and
// plans each with the production reconciler against r, writing nothing and
// sending no job: every action is "planned". Follow-up jobs a plan would
// send are listed, not run.
func livePlan(ctx context.Context, r core.Reader, pol *policy.Policy, bodies [][]byte, sweep bool, log zerolog.Logger) (replay.Report, error) {
	var rep replay.Report
	now := time.Now().UTC()
	col := &collector{}
	in := &events.Intake{Queue: col, Log: log, Dead: events.NewMemDeadStore(), Now: func() time.Time { return now }}
	for i, b := range bodies {
		res, err := in.Handle(ctx, b)
		rep.Summary.Events += res.Received
		rep.Summary.Enqueued += res.Enqueued
		rep.Summary.Ignored += res.Ignored
		rep.Summary.Malformed += res.Malformed
		if err != nil {
			rep.IntakeErrors = append(rep.IntakeErrors, fmt.Sprintf("delivery %d: %v", i+1, err))
		}
	}
	if sweep {
		sw := &reconcile.Sweeper{Reader: r, Policy: pol, Jobs: col, Interval: reconcile.DefaultSweepInterval, Log: log}
		res, err := sw.Sweep(ctx, now)
		rep.Summary.Reads += res.Reads
		rep.Summary.SweepJobs = len(res.Enqueued)
		if err != nil {
			return rep, fmt.Errorf("sweep: %w", err)
		}
	}
	rec, err := reconcile.New(reconcile.Config{Reader: r, Writer: readOnly{}, Policy: pol, Jobs: &collector{},
		Sink: outcome.Discard{}, Now: func() time.Time { return now }, Log: log})
	if err != nil {
		return rep, err
	}
	seen := map[string]bool{}
	for _, j := range col.jobs {
		if j.Kind != jobs.KindReconcile || seen[j.ID] {
			continue
		}
		seen[j.ID] = true
		plan, reads, err := rec.Plan(ctx, j)
		rep.Summary.JobsRun++
		rep.Summary.Reads += reads
		if err != nil {
			rep.Lines = append(rep.Lines, replay.Line{Job: j.ID, Action: "plan", Target: j.TargetID, Result: outcome.ResultFailed, Error: err.Error()})
			rep.Summary.DeadLettered++
			continue
		}
		rep.Summary.Completed++
		for _, a := range plan.Actions {
			l := replay.Line{Job: j.ID, Action: string(a.Kind), Target: a.Resource, Zone: a.Zone, Rule: a.Rule, Reason: a.Reason, Result: outcome.ResultPlanned}
			if a.Kind == reconcile.KindScheduleVerify {
				rep.Summary.VerifyQueued++
			}
			rep.Lines = append(rep.Lines, l)
		}
	}
	return rep, nil
}
