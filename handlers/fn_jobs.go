package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/plautopilot/autopilot/pkg/funchost"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/servicebus"
	"github.com/rs/zerolog"
)

// runHostedJob runs the job of a serviceBusTrigger invocation and settles
// it the only ways a custom handler can (the host holds the message lock
// and completes it on success, abandons it on failure):
//
//   - done: success; the host completes the message.
//   - retry: the next attempt is sent to the same queue, scheduled with the
//     back-off delay; success (abandon would redeliver at once).
//   - dead-letter: the job is parked on the queue's parking queue
//     (<queue>-failed) and a job.failed outcome event carries the reason;
//     success, so the host completes the original. Should the parking send
//     fail, the invocation fails and the job comes back (idempotent).
//   - a first handler panic: failure; the host abandons and redelivers.
//
// A body that is not a valid job fails the invocation as a 400 naming the
// field; after the queue's MaxDeliveryCount Service Bus dead-letters it
// with the body, so it is kept.
func (a *app) runHostedJob(ctx context.Context, inv *funchost.Invocation, binding string, kind jobs.Kind, handler func(*wiring) jobs.Handler) (*funchost.Response, error) {
	msg, err := inv.ServiceBusMessage(binding)
	if err != nil {
		return nil, err
	}
	w, err := a.service(inv.Function)
	if err != nil {
		return nil, &jobError{MessageID: msg.MessageID, Err: err}
	}
	d, err := servicebus.FromTrigger(msg.Body, msg.MessageID, msg.DeliveryCount, msg.EnqueuedTime, msg.LockToken)
	if err != nil {
		return nil, &jobError{MessageID: msg.MessageID, Err: &funchost.DecodeError{Function: inv.Function, Field: "Data." + binding, Err: err}}
	}
	resp, err := a.settleHostedJob(ctx, inv, w, d, kind, handler)
	if err != nil {
		return nil, &jobError{JobID: d.Job.ID, MessageID: msg.MessageID, Err: err}
	}
	return resp, nil
}

// settleHostedJob runs the decoded job d and settles it (see runHostedJob).
func (a *app) settleHostedJob(ctx context.Context, inv *funchost.Invocation, w *wiring, d jobs.Delivery, kind jobs.Kind, handler func(*wiring) jobs.Handler) (*funchost.Response, error) {
	q, ok := w.queues[kind]
	if !ok {
		return nil, fmt.Errorf("%s: configuration: no queue for %s jobs", inv.Function, kind)
	}
	log := zerolog.Ctx(ctx).With().Str("jobId", d.Job.ID).Str("subject", string(d.Job.Subject)).
		Str("targetId", d.Job.TargetID).Int("attempt", d.Job.Attempt).Int("deliveryCount", d.DeliveryCount).Logger()
	o := jobs.Run(ctx, handler(w), d)
	resp := &funchost.Response{}
	if o.IsDeadLetter() {
		if err := q.parked.Send(ctx, d.Job); err != nil {
			return nil, fmt.Errorf("%s: park job %s on %s after %s: %w", inv.Function, d.Job.ID, q.parkedName, o.Reason(), err)
		}
		if err := w.svc.Park(ctx, d.Job, o.Reason(), o.Description(), "parked in "+q.parkedName); err != nil {
			// The job is kept on the parking queue; only the event is missing.
			log.Error().Err(err).Msg("job parked, but its job.failed outcome event could not be published")
		}
		line := fmt.Sprintf("job %s gave up (%s: %s); parked on %s", d.Job.ID, o.Reason(), o.Description(), q.parkedName)
		log.Warn().Str("reason", o.Reason()).Str("description", o.Description()).Str("parkedQueue", q.parkedName).Msg("job parked")
		resp.Log(line)
		return resp, nil
	}
	if err := jobs.SettleHosted(ctx, q.sender, d, o, w.now()); err != nil {
		if errors.Is(err, jobs.ErrHostedAbandon) {
			return nil, fmt.Errorf("%s: %w", inv.Function, err)
		}
		return nil, fmt.Errorf("%s: settle job %s (%s) on %s: %w", inv.Function, d.Job.ID, o, q.name, err)
	}
	log.Info().Str("outcome", o.String()).Msg("job settled")
	resp.Log(fmt.Sprintf("job %s: %s", d.Job.ID, o))
	return resp, nil
}
