package main

import (
	"context"
	"fmt"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// ResourceEvents: eventGridTrigger on the subscription's system topic (ARM
// events), functions/ResourceEvents/function.json.
const (
	fnResourceEvents      = "ResourceEvents"
	resourceEventsBinding = "event" // the eventGridTrigger binding
)

// resourceEvents turns one ARM event into reconcile jobs. When a job cannot
// be sent (or a malformed event cannot be kept) the invocation fails, so
// Event Grid redelivers the event; job ids are deterministic, so what was
// already sent collapses.
func (a *app) resourceEvents(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	raw, err := inv.EventGridEvent(resourceEventsBinding)
	if err != nil {
		return nil, err
	}
	w, err := a.service(inv.Function)
	if err != nil {
		return nil, err
	}
	res, err := w.svc.HandleEvents(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inv.Function, err)
	}
	resp := &funchost.Response{}
	for _, o := range res.Receipts {
		line := fmt.Sprintf("event %s: %s", o.EventID, o.Status)
		if o.JobID != "" {
			line += fmt.Sprintf(" job %s (%s %s)", o.JobID, o.Subject, o.TargetID)
		}
		if o.Reason != "" {
			line += ": " + o.Reason
		}
		resp.Log(line)
	}
	return resp, nil
}
