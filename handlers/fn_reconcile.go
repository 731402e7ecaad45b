package main

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/funchost"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Reconcile: serviceBusTrigger on the reconcile queue,
// functions/Reconcile/function.json.
const (
	fnReconcile      = "Reconcile"
	reconcileBinding = "message" // the serviceBusTrigger binding
)

// reconcile converges one job's subject to the policy (see runHostedJob for
// how the message is settled).
func (a *app) reconcile(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	return a.runHostedJob(ctx, inv, reconcileBinding, jobs.KindReconcile, func(w *wiring) jobs.Handler { return w.svc.Reconcile })
}
