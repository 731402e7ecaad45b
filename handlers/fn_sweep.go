package main

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// Sweep: timerTrigger on %SweepSchedule%, functions/Sweep/function.json.
const (
	fnSweep      = "Sweep"
	sweepBinding = "timer" // the timerTrigger binding
)

// sweep lists targets and VNets and enqueues jobs for anything events
// missed. Placeholder: it decodes the timer and fails with "not implemented
// yet".
func (a *app) sweep(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	if _, err := inv.Timer(sweepBinding); err != nil {
		return nil, err
	}
	return nil, funchost.NotImplemented(inv.Function)
}
