package main

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/funchost"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Verify: serviceBusTrigger on the verification queue,
// functions/Verify/function.json.
const (
	fnVerify      = "Verify"
	verifyBinding = "message" // the serviceBusTrigger binding
)

// verify runs the verification checks of one job (see runHostedJob for how
// the message is settled).
func (a *app) verify(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	return a.runHostedJob(ctx, inv, verifyBinding, jobs.KindVerify, func(w *wiring) jobs.Handler { return w.svc.Verify })
}
