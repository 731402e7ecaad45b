package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/httpguard"
	"github.com/plautopilot/autopilot/pkg/jsonlimit"
	"github.com/plautopilot/autopilot/pkg/redact"
)

// DefaultMaxBytes is the default body size limit of the webhook (Event Grid
// delivers at most 1 MB per event and per batch by default).
const DefaultMaxBytes = 1 << 20

// Event Grid and CloudEvents webhook header names.
const (
	HeaderEventType     = "aeg-event-type"
	HeaderDeliveryCount = "aeg-delivery-count"
	HeaderSubscription  = "aeg-subscription-name"
	HeaderRequestOrigin = "WebHook-Request-Origin"
	HeaderRequestRate   = "WebHook-Request-Rate"
	HeaderAllowedOrigin = "WebHook-Allowed-Origin"
	HeaderAllowedRate   = "WebHook-Allowed-Rate"
	HeaderFunctionsKey  = "x-functions-key"
	// EventGridOrigin is the WebHook-Request-Origin Event Grid sends in the
	// CloudEvents abuse-protection handshake.
	EventGridOrigin      = "eventgrid.azure.net"
	eventTypeValidation  = "SubscriptionValidation"
	eventTypeNotify      = "Notification"
	eventTypeSubDeletion = "SubscriptionDeletion"
)

// WebhookOptions configure NewWebhook.
type WebhookOptions struct {
	// MaxBytes limits a request body; DefaultMaxBytes when 0. Larger bodies
	// get 413 (Event Grid does not retry it).
	MaxBytes int64
	// AllowedOrigins are the WebHook-Request-Origin values the CloudEvents
	// abuse-protection handshake accepts (case-insensitive) besides Event
	// Grid's own, EventGridOrigin, which is always accepted. Any other origin
	// gets 403 and no WebHook-Allowed-Origin.
	AllowedOrigins []string
	// ValidationTopics are the topics whose SubscriptionValidation handshake
	// is answered, as ARM resource ids (case-insensitive): "/subscriptions/ID"
	// covers that subscription's system topics (the subscription, its
	// resource groups and Microsoft.EventGrid/systemTopics in them); any
	// other entry covers exactly that topic (a custom topic, a domain). A
	// validation for any other topic, or whose topic is not an ARM id
	// ("." or ".." segments ...), gets 403: answering it would let anyone
	// subscribe this endpoint to events of their choosing (topics.go).
	ValidationTopics []string
	// AllowAnyValidation answers every SubscriptionValidation (explicit
	// opt-in, for a first setup whose topic is not known yet).
	AllowAnyValidation bool
	// AllowedRate, when set, is answered as WebHook-Allowed-Rate ("*" or
	// requests per minute).
	AllowedRate string
	// Key, when set, must be presented by every request, as the query
	// parameter KeyParam or the x-functions-key header; otherwise 401, and
	// 429 once a client made too many wrong attempts (httpguard.Keys).
	Key string
	// KeyParam is the query parameter carrying Key; "code" when empty.
	KeyParam string
	// Keys, when set, is the key check used instead of Key and KeyParam, so
	// that the webhook and the API share one count of failed attempts and
	// one set of clients known to hold the key.
	Keys *httpguard.Keys
}

// ValidationResponse is the answer to Event Grid's subscription validation.
type ValidationResponse struct {
	ValidationResponse string `json:"validationResponse"`
}

type webhook struct {
	intake *Intake
	log    zerolog.Logger
	opts   WebhookOptions
}

// NewWebhook serves the intake as a plain Event Grid webhook (standalone
// mode): POST deliveries in the Event Grid schema (aeg-event-type
// Notification, or SubscriptionValidation answered with the validation code)
// or in CloudEvents 1.0 (application/cloudevents+json or
// application/cloudevents-batch+json), and OPTIONS for the CloudEvents
// abuse-protection handshake. Status codes: 200 when the delivery was taken
// (malformed events inside it are kept and counted), 400 for a body that is
// not JSON, 413 beyond MaxBytes, 415 for a content type that is not JSON,
// 500 when a job could not be enqueued (Event Grid retries).
func NewWebhook(intake *Intake, log zerolog.Logger, opts WebhookOptions) http.Handler {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Keys == nil && opts.Key != "" {
		opts.Keys = httpguard.NewKeys(opts.Key, opts.KeyParam, nil, nil)
	}
	return &webhook{intake: intake, log: log, opts: opts}
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Keys != nil && !h.opts.Keys.Check(w, r) {
		return
	}
	switch r.Method {
	case http.MethodOptions:
		h.handshake(w, r)
	case http.MethodPost:
		h.post(w, r)
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use POST (or OPTIONS for the handshake)", r.Method))
	}
}

// handshake answers the CloudEvents webhook abuse-protection OPTIONS request.
func (h *webhook) handshake(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "POST, OPTIONS")
	origin := strings.TrimSpace(r.Header.Get(HeaderRequestOrigin))
	if origin == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if !strings.EqualFold(origin, EventGridOrigin) && !slices.ContainsFunc(h.opts.AllowedOrigins, func(o string) bool { return strings.EqualFold(o, origin) }) {
		h.log.Warn().Str("origin", redactShort(origin)).Msg("webhook handshake refused: origin not allowed")
		writeError(w, http.StatusForbidden, fmt.Sprintf("origin %q is not allowed to deliver events here (allowed: %s and configured origins)", redactShort(origin), EventGridOrigin))
		return
	}
	w.Header().Set(HeaderAllowedOrigin, origin)
	if h.opts.AllowedRate != "" {
		w.Header().Set(HeaderAllowedRate, h.opts.AllowedRate)
	}
	h.log.Info().Str("origin", origin).Msg("webhook handshake accepted")
	w.WriteHeader(http.StatusOK)
}

func (h *webhook) post(w http.ResponseWriter, r *http.Request) {
	// whose quota the delivery's dead events count against
	r = r.WithContext(WithSource(r.Context(), "client "+httpguard.ClientOf(r)))
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !jsonMediaType(mt) {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not JSON (want application/json, application/cloudevents+json or application/cloudevents-batch+json)", ct))
			return
		}
	}
	if r.ContentLength > h.opts.MaxBytes {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", r.ContentLength, h.opts.MaxBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", h.opts.MaxBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}

	kind := strings.TrimSpace(r.Header.Get(HeaderEventType))
	switch {
	case strings.EqualFold(kind, eventTypeValidation):
		h.validate(w, body)
		return
	case strings.EqualFold(kind, eventTypeSubDeletion):
		h.log.Warn().Str("subscription", r.Header.Get(HeaderSubscription)).Msg("event grid subscription deleted")
		writeJSON(w, http.StatusOK, map[string]string{"status": "subscription deletion noted"})
		return
	case kind != "" && !strings.EqualFold(kind, eventTypeNotify):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown %s header %q (want Notification or SubscriptionValidation)", HeaderEventType, kind))
		return
	}

	if err := jsonlimit.Depth(body, MaxDepth); err != nil {
		// Refused before any decoder reads it; kept as one dead event.
		res, kerr := h.intake.Handle(r.Context(), body)
		if kerr != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: kerr.Error(), Result: &res})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "body: " + err.Error(), Result: &res})
		return
	}
	if !json.Valid(body) {
		// Keep what can be kept (ParseBatch salvages the events before the
		// fault) and tell the sender the body is broken; 400 is not retried.
		res, err := h.intake.Handle(r.Context(), body)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error(), Result: &res})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "body is not JSON", Result: &res})
		return
	}
	if kind == "" {
		// A validation request that lost its header still carries the
		// validation event.
		if evs, _ := ParseBatch(body); len(evs) == 1 && evs[0].IsValidation() {
			h.validate(w, body)
			return
		}
	}
	res, err := h.intake.Handle(r.Context(), body)
	if err != nil {
		h.log.Error().Err(err).Int("received", res.Received).Int("enqueued", res.Enqueued).Msg("delivery failed, event grid will redeliver")
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error(), Result: &res})
		return
	}
	h.log.Debug().Int("received", res.Received).Int("enqueued", res.Enqueued).Int("ignored", res.Ignored).
		Int("malformed", res.Malformed).Str("deliveryCount", r.Header.Get(HeaderDeliveryCount)).Msg("delivery handled")
	writeJSON(w, http.StatusOK, res)
}

// validate answers the subscription validation handshake with the code of
// the validation event in body.
func (h *webhook) validate(w http.ResponseWriter, body []byte) {
	evs, _ := ParseBatch(body)
	for _, ev := range evs {
		if ev.IsValidation() && ev.ValidationCode != "" {
			if !h.opts.AllowAnyValidation {
				ok, err := topicAllowed(h.opts.ValidationTopics, ev.Topic)
				if err != nil {
					h.log.Warn().Str("topic", redactShort(ev.Topic)).Str("eventId", redactShort(ev.ID)).Err(err).Msg("event grid subscription validation refused: topic is not an ARM resource id")
					writeError(w, http.StatusForbidden, fmt.Sprintf("subscription validation refused: %v", err))
					return
				}
				if !ok {
					h.log.Warn().Str("topic", redactShort(ev.Topic)).Str("eventId", redactShort(ev.ID)).Msg("event grid subscription validation refused: topic not configured")
					writeError(w, http.StatusForbidden, fmt.Sprintf("subscription validation for topic %q refused: it is not a configured validation topic "+
						"(a subscription entry covers its system topics only; name a custom topic exactly)", redactShort(ev.Topic)))
					return
				}
			}
			h.log.Info().Str("topic", ev.Topic).Str("eventId", ev.ID).Msg("event grid subscription validated")
			writeJSON(w, http.StatusOK, ValidationResponse{ValidationResponse: ev.ValidationCode})
			return
		}
	}
	writeError(w, http.StatusBadRequest, "subscription validation request without a Microsoft.EventGrid.SubscriptionValidationEvent carrying data.validationCode")
}

func jsonMediaType(mt string) bool {
	switch strings.ToLower(mt) {
	case "application/json", "text/json", "application/cloudevents+json", "application/cloudevents-batch+json":
		return true
	}
	return false
}

type errorBody struct {
	Error  string  `json:"error"`
	Result *Result `json:"result,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// redactShort redacts and caps a value taken from a request before it is
// echoed or logged.
func redactShort(s string) string { return redact.String(s, 200) }
