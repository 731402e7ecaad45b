package eventgrid

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/plautopilot/autopilot/pkg/outcome"
)

// cloudEventPublisher is the one azeventgrid method the sink calls.
type cloudEventPublisher interface {
	PublishCloudEvents(ctx context.Context, events []messaging.CloudEvent, options *azeventgrid.PublishCloudEventsOptions) (azeventgrid.PublishCloudEventsResponse, error)
}

// Sink publishes outcome events to an Event Grid custom topic in
// the CloudEvents 1.0 schema. When publishing fails it hands the events to
// its fallback sink (log and file) so no decision is lost, and returns the
// error so the caller can log it.
type Sink struct {
	client   cloudEventPublisher
	fallback outcome.Sink
	endpoint string
}

// NewSink returns a sink publishing to the topic endpoint (e.g.
// https://TOPIC.REGION-1.eventgrid.azure.net/api/events) with an Entra ID
// credential. fallback may be nil (events are then lost on failure, which
// only tests should accept).
func NewSink(endpoint string, cred azcore.TokenCredential, opts *azeventgrid.ClientOptions, fallback outcome.Sink) (*Sink, error) {
	if endpoint == "" {
		return nil, errors.New("event grid sink: empty topic endpoint")
	}
	c, err := azeventgrid.NewClient(endpoint, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("event grid sink: client for %s: %w", endpoint, err)
	}
	return &Sink{client: c, fallback: fallback, endpoint: endpoint}, nil
}

// Publish sends the events in one batch.
func (s *Sink) Publish(ctx context.Context, events []outcome.Event) error {
	if len(events) == 0 {
		return nil
	}
	ces := make([]messaging.CloudEvent, 0, len(events))
	for _, e := range events {
		ces = append(ces, ToCloudEvent(e))
	}
	_, err := s.client.PublishCloudEvents(ctx, ces, nil)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("event grid sink: publish %d outcome events to %s: %w", len(events), s.endpoint, err)
	if s.fallback != nil {
		if ferr := s.fallback.Publish(ctx, events); ferr != nil {
			return errors.Join(err, fmt.Errorf("event grid sink: fallback: %w", ferr))
		}
	}
	return err
}

// ToCloudEvent converts an outcome event to the SDK's CloudEvent.
func ToCloudEvent(e outcome.Event) messaging.CloudEvent {
	subject := e.Subject
	ct := e.DataContentType
	t := e.Time
	return messaging.CloudEvent{
		ID:              e.ID,
		Source:          e.Source,
		SpecVersion:     e.SpecVersion,
		Type:            string(e.Type),
		Subject:         &subject,
		Time:            &t,
		DataContentType: &ct,
		Data:            e.Data,
	}
}
