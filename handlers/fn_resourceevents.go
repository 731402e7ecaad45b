package main

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// ResourceEvents: eventGridTrigger on the subscription's system topic (ARM
// events), functions/ResourceEvents/function.json.
const (
	fnResourceEvents      = "ResourceEvents"
	resourceEventsBinding = "event" // the eventGridTrigger binding
)

// resourceEvents turns one ARM event into reconcile jobs. Placeholder: it
// decodes the event (so protocol errors surface now) and fails with "not
// implemented yet" until pkg/events and pkg/jobs are wired in.
func (a *app) resourceEvents(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	if _, err := inv.EventGridEvent(resourceEventsBinding); err != nil {
		return nil, err
	}
	return nil, funchost.NotImplemented(inv.Function)
}
