package main

import (
	"context"
	"fmt"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// Sweep: timerTrigger on %SweepSchedule%, functions/Sweep/function.json.
const (
	fnSweep      = "Sweep"
	sweepBinding = "timer" // the timerTrigger binding
)

// sweep lists targets and VNets and enqueues jobs for anything events
// missed. A failure in one subscription fails the invocation (after the
// others were swept) so that it shows in the Functions monitoring.
func (a *app) sweep(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	if _, err := inv.Timer(sweepBinding); err != nil {
		return nil, err
	}
	w, err := a.service(inv.Function)
	if err != nil {
		return nil, err
	}
	res, err := w.svc.Sweep(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %d jobs enqueued, then: %w", inv.Function, len(res.Enqueued), err)
	}
	resp := &funchost.Response{}
	resp.Log(fmt.Sprintf("swept %d subscriptions: %d targets, %d VNets, %d jobs enqueued, %d ARM reads",
		res.Subscriptions, res.Targets, res.VNets, len(res.Enqueued), res.Reads))
	return resp, nil
}
