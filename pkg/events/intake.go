package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/redact"
)

// Intake turns deliveries of events into reconcile jobs. It never calls
// ARM: it parses, classifies and enqueues, so that it answers well inside
// Event Grid's 30 second delivery timeout.
type Intake struct {
	// Queue receives one reconcile job per affected resource.
	Queue jobs.Sender
	// Log gets ignored events at debug, jobs at info, malformed events at
	// warn (error when there is no Dead store).
	Log zerolog.Logger
	// Dead keeps malformed events and events whose job could not be sent.
	// When nil, such events are logged at error level with their raw bytes
	// (capped) instead.
	Dead DeadStore
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Observe, when set, is told the result of every delivery processed
	// (through Handle, HandleEvent or the webhook), for counters.
	Observe func(Result, error)
	// Subscriptions, when not empty, are the governed subscriptions (ids,
	// any case): an event about a resource in any other subscription is
	// ignored and counted in Result.Ungoverned, at no ARM cost. Event Grid
	// only delivers events of subscriptions it was set up in; anything else
	// is forged or misrouted.
	Subscriptions []string
}

type sourceKey struct{}

// WithSource returns ctx carrying who delivered the body being handled
// ("client 192.0.2.7"): the intake writes it on the delivery's dead events,
// whose store counts its quotas per source.
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// SourceFrom returns the source WithSource put in ctx, "" when none.
func SourceFrom(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// ReceiptStatus says what happened to one event.
type ReceiptStatus string

const (
	ReceiptEnqueued  ReceiptStatus = "enqueued"
	ReceiptIgnored   ReceiptStatus = "ignored"
	ReceiptMalformed ReceiptStatus = "malformed"
	ReceiptFailed    ReceiptStatus = "failed" // the job could not be sent
)

// Receipt is what the intake did with one event of a delivery (not an
// outcome event of pkg/outcome, which records a decision or a change).
type Receipt struct {
	Index         int           `json:"index"`
	EventID       string        `json:"eventId,omitempty"`
	EventType     string        `json:"eventType,omitempty"`
	OperationName string        `json:"operationName,omitempty"`
	Status        ReceiptStatus `json:"status"`
	Kind          Kind          `json:"kind,omitempty"`
	Reason        string        `json:"reason,omitempty"`
	JobID         string        `json:"jobId,omitempty"`
	Subject       jobs.Subject  `json:"subject,omitempty"`
	TargetID      string        `json:"targetId,omitempty"`
}

// Result counts what the intake did with a delivery.
type Result struct {
	Received  int `json:"received"`
	Enqueued  int `json:"enqueued"`
	Ignored   int `json:"ignored"`
	Malformed int `json:"malformed"`
	// ReceiptsOmitted counts malformed events beyond the first
	// MaxDeadSample of the delivery, which have no entry in Receipts (they
	// are counted in Malformed and summarised in one dead event).
	ReceiptsOmitted int `json:"outcomesOmitted,omitempty"`
	// Ungoverned counts the ignored events whose resource lies outside the
	// governed subscriptions (Intake.Subscriptions).
	Ungoverned int `json:"ungoverned,omitempty"`
	// Receipts has one entry per event; its JSON name "outcomes" is kept
	// (the webhook's answer body).
	Receipts []Receipt `json:"outcomes"`
}

// Handle processes a delivery (a JSON array of events or one event, either
// schema). Malformed events are kept and counted while the good ones are
// still enqueued. It returns an error, after doing all it could, when a job
// could not be sent or a malformed event could not be kept: the caller must
// then fail the delivery so that Event Grid redelivers it (the jobs' ids are
// deterministic, so what was already sent collapses on redelivery).
func (in *Intake) Handle(ctx context.Context, body []byte) (Result, error) {
	evs, bad := ParseBatch(body)
	return in.process(ctx, evs, bad)
}

// HandleEvent processes one event, as the Functions host's Event Grid
// trigger delivers them (one invocation per event).
// A JSON array is taken as a batch.
func (in *Intake) HandleEvent(ctx context.Context, raw json.RawMessage) (Result, error) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		return in.Handle(ctx, t)
	}
	ev, err := ParseOne(raw)
	if err != nil {
		return in.process(ctx, nil, []Malformed{{Index: 0, Raw: capRaw(raw), Reason: err.Error()}})
	}
	return in.process(ctx, []Event{ev}, nil)
}

// Job returns the reconcile job for a classified (not ignored) event.
// Its id is deterministic: the same event redelivered gives the same id.
func Job(c Classified, now time.Time) jobs.Job {
	e := c.Event
	corr := e.CorrelationID
	if corr == "" {
		corr = e.ID
	}
	j := jobs.Job{
		Version:       jobs.Version,
		ID:            jobs.NewID(jobs.KindReconcile, c.Subject, c.TargetID, e.ID),
		Kind:          jobs.KindReconcile,
		Subject:       c.Subject,
		TargetID:      c.TargetID,
		Attempt:       1,
		CorrelationID: corr,
		Trigger:       c.Trigger,
		Reason:        e.OperationName,
		Deleted:       c.Deleted,
		Created:       now.UTC(),
	}
	if kind := c.RequesterFrom; kind != "" && e.Principal != (core.Principal{}) {
		// Only the events that create or change a connection request say
		// who requested it; any other writer (a zone group, the approver)
		// is not the requester.
		p := e.Principal
		p.Source = core.PrincipalSource{Kind: kind, Operation: e.OperationName, ResourceID: e.ResourceID(), EventID: e.ID}
		j.Actor = &p
	}
	return j
}

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in *Intake) process(ctx context.Context, evs []Event, bad []Malformed) (res Result, err error) {
	if in.Observe != nil {
		defer func() { in.Observe(res, err) }()
	}
	if in.Queue == nil {
		return Result{}, errors.New("event intake has no job queue")
	}
	now := in.now()
	source := SourceFrom(ctx)
	res = Result{Received: len(evs) + len(bad), Receipts: make([]Receipt, 0, len(evs)+min(len(bad), MaxDeadSample))}
	var errs []error

	// Malformed events are sampled: the first MaxDeadSample are kept one by
	// one, the rest counted in one summary, and all are written at once (a
	// batch of junk must not cost one synced write per event).
	var dead []DeadEvent
	var extra, extraBytes int
	var extraReasons []string
	for _, m := range bad {
		res.Malformed++
		if len(dead) < MaxDeadSample {
			res.Receipts = append(res.Receipts, Receipt{Index: m.Index, Status: ReceiptMalformed, Reason: m.Reason})
			dead = append(dead, DeadEvent{Raw: m.Raw, Size: len(m.Raw), Reason: m.Reason, ReceivedAt: now, Index: m.Index, Source: source})
			continue
		}
		extra++
		res.ReceiptsOmitted++
		extraBytes += len(m.Raw)
		if len(extraReasons) < 3 && !slices.Contains(extraReasons, m.Reason) {
			extraReasons = append(extraReasons, m.Reason)
		}
	}
	if extra > 0 {
		dead = append(dead, DeadEvent{Size: extraBytes, ReceivedAt: now, Index: -1, Source: source, Reason: fmt.Sprintf(
			"%d more malformed events in this delivery, counted but not kept one by one (first %d kept; reasons include: %s)",
			extra, MaxDeadSample, strings.Join(extraReasons, "; "))})
	}
	defer func() {
		if kerr := in.keepAll(ctx, dead); kerr != nil {
			err = errors.Join(err, kerr)
		}
	}()

	governed := in.governed()
	for i, ev := range evs {
		c := Classify(ev)
		if !c.Ignored && governed != nil {
			if sub := strings.ToLower(core.SubscriptionOf(c.TargetID)); !governed[sub] {
				res.Ungoverned++
				c = ignored(ev, "subscription %q is not governed (not one of the %d configured): event ignored, nothing read", sub, len(governed))
			}
		}
		out := Receipt{
			Index:         indexOf(i, bad),
			EventID:       ev.ID,
			EventType:     ev.Type,
			OperationName: ev.OperationName,
			Kind:          c.Kind,
		}
		if c.Ignored {
			res.Ignored++
			out.Status, out.Reason = ReceiptIgnored, c.Reason
			res.Receipts = append(res.Receipts, out)
			in.Log.Debug().Str("eventId", ev.ID).Str("eventType", ev.Type).Str("operation", ev.OperationName).
				Str("resourceId", ev.ResourceID()).Str("reason", c.Reason).Msg("event ignored")
			continue
		}
		job := Job(c, now)
		out.JobID, out.Subject, out.TargetID = job.ID, job.Subject, job.TargetID
		if err := in.Queue.Send(ctx, job); err != nil {
			out.Status, out.Reason = ReceiptFailed, "enqueue failed: "+err.Error()
			res.Receipts = append(res.Receipts, out)
			errs = append(errs, fmt.Errorf("enqueue job for event %s (%s %s): %w", ev.ID, c.Subject, c.TargetID, err))
			dead = append(dead, DeadEvent{
				Raw: capRaw(ev.Raw), Size: len(ev.Raw), Reason: out.Reason + " (event grid redelivers the delivery)",
				ReceivedAt: now, Index: out.Index, EventID: ev.ID, Source: source,
			})
			// The queue is failing: the delivery will be redelivered whole,
			// so stop rather than spend Event Grid's 30 seconds on retries.
			for j := i + 1; j < len(evs); j++ {
				res.Receipts = append(res.Receipts, Receipt{
					Index: indexOf(j, bad), EventID: evs[j].ID, EventType: evs[j].Type,
					OperationName: evs[j].OperationName, Status: ReceiptFailed,
					Reason: "not processed: an earlier job of the delivery could not be sent",
				})
			}
			return res, errors.Join(errs...)
		}
		res.Enqueued++
		out.Status = ReceiptEnqueued
		res.Receipts = append(res.Receipts, out)
		in.Log.Info().Str("eventId", ev.ID).Str("operation", ev.OperationName).Str("kind", string(c.Kind)).
			Str("subject", string(job.Subject)).Str("targetId", job.TargetID).Str("jobId", job.ID).
			Str("correlationId", job.CorrelationID).Bool("deleted", job.Deleted).Msg("reconcile job enqueued")
	}
	return res, errors.Join(errs...)
}

// keepAll stores a delivery's dead events in one write, or logs them when
// there is no store (raw bytes redacted and capped).
func (in *Intake) keepAll(ctx context.Context, dead []DeadEvent) error {
	if len(dead) == 0 {
		return nil
	}
	if in.Dead == nil {
		for _, d := range dead {
			in.Log.Error().Int("index", d.Index).Str("eventId", d.EventID).Str("source", d.Source).Str("reason", RedactReason(d.Reason)).
				Str("raw", redact.Bytes(d.Raw, redact.DefaultMax)).Msg("event not handled (no dead event store)")
		}
		return nil
	}
	in.Log.Warn().Int("events", len(dead)).Int("firstIndex", dead[0].Index).Str("firstReason", redact.String(dead[0].Reason, 300)).
		Msg("events kept in the dead event store")
	if err := KeepAll(ctx, in.Dead, dead); err != nil {
		return fmt.Errorf("keep %d dead events: %w", len(dead), err)
	}
	return nil
}

// indexOf returns the delivery index of the i-th good event, given the
// indexes of the malformed ones (events keep their order in ParseBatch).
func indexOf(i int, bad []Malformed) int {
	idx := i
	for _, m := range bad {
		if m.Index <= idx {
			idx++
		}
	}
	return idx
}

// governed returns the governed subscriptions as a lower-case set, nil when
// every subscription is.
func (in *Intake) governed() map[string]bool {
	if len(in.Subscriptions) == 0 {
		return nil
	}
	m := make(map[string]bool, len(in.Subscriptions))
	for _, s := range in.Subscriptions {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			m[s] = true
		}
	}
	return m
}
