package main

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// Reconcile: serviceBusTrigger on the reconcile queue,
// functions/Reconcile/function.json.
const (
	fnReconcile      = "Reconcile"
	reconcileBinding = "message" // the serviceBusTrigger binding
)

// reconcile converges one job's subject to the policy. Placeholder: it
// decodes the message and fails with "not implemented yet" (the host
// abandons the message, so it is redelivered, then dead-lettered).
func (a *app) reconcile(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	if _, err := inv.ServiceBusMessage(reconcileBinding); err != nil {
		return nil, err
	}
	return nil, funchost.NotImplemented(inv.Function)
}
