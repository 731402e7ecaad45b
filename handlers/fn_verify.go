package main

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// Verify: serviceBusTrigger on the verification queue,
// functions/Verify/function.json.
const (
	fnVerify      = "Verify"
	verifyBinding = "message" // the serviceBusTrigger binding
)

// verify runs the verification checks of one job. Placeholder: it decodes
// the message and fails with "not implemented yet".
func (a *app) verify(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	if _, err := inv.ServiceBusMessage(verifyBinding); err != nil {
		return nil, err
	}
	return nil, funchost.NotImplemented(inv.Function)
}
