package events

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// Issue 26: validation topics were matched by string prefix, so a path
// that climbs out of a governed subscription, or a custom topic created in
// one, got its handshake answered. Topics are ARM ids now: a subscription
// entry covers its system topics only; other topics must be named.
func TestValidationTopicsParsedAsARMIDs(t *testing.T) {
	const (
		gov   = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
		other = "/subscriptions/66666666-6666-6666-6666-666666666666"
	)
	named := gov + "/resourceGroups/rg-events/providers/Microsoft.EventGrid/topics/platform"
	allowed := []string{gov, named}
	for _, tt := range []struct {
		topic string
		ok    bool
		why   string
	}{
		{gov, true, ""},                            // the subscription's own ARM events (the docs' validation sample)
		{strings.ToUpper(gov), true, ""},           // ids are case-insensitive
		{gov + "/", true, ""},                      // a trailing slash
		{gov + "/resourceGroups/rg-app", true, ""}, // a resource group's events
		{gov + "/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/arm", true, ""},
		{named, true, ""}, // named exactly
		{gov + "/resourceGroups/rg/providers/Microsoft.EventGrid/topics/mine", false, ""}, // a custom topic in a governed subscription
		{gov + "/resourceGroups/rg/providers/Microsoft.EventGrid/domains/d", false, ""},   // a domain there
		{gov + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa", false, ""},
		{named + "/x", false, ""}, // below a named topic is not that topic
		{gov + "/../../subscriptions/66666666-6666-6666-6666-666666666666", false, `".." path segment`},
		{gov + "/./resourceGroups/rg", false, `"." path segment`},
		{gov + "//resourceGroups/rg", false, "empty path segment"},
		{gov + "/resourceGroups/rg%2F..", false, "character"},
		{gov + "/resourceGroups/a b", false, "character"},
		{other, false, ""},
		{"subscriptions/00000000-0000-0000-0000-0000000000bb", false, "must start with /"},
		{"/providers/Microsoft.EventGrid/topics/x", false, "not under /subscriptions"},
		{"", false, "empty topic"},
	} {
		ok, err := topicAllowed(allowed, tt.topic)
		if ok != tt.ok {
			t.Errorf("%q: allowed %v (%v); want %v", tt.topic, ok, err, tt.ok)
		}
		if tt.why != "" && (err == nil || !strings.Contains(err.Error(), tt.why)) {
			t.Errorf("%q: error %v; want it to say %q", tt.topic, err, tt.why)
		}
	}
	if err := CheckValidationTopics([]string{gov, "/subscriptions/x/../y"}); err == nil || !strings.Contains(err.Error(), `".."`) {
		t.Errorf("CheckValidationTopics: %v; want the bad entry refused", err)
	}
}

// Through the webhook: the climbing path gets 403 with the reason, and the
// validation code is not echoed.
func TestWebhookRefusesClimbingValidationTopic(t *testing.T) {
	body := `[{"id":"v1","topic":"/subscriptions/00000000-0000-0000-0000-0000000000bb/../../subscriptions/66666666-6666-6666-6666-666666666666","subject":"",` +
		`"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-11-04T09:00:00Z","data":{"validationCode":"attacker-code-123"},"dataVersion":"1"}]`
	h := NewWebhook(newIntake(&recordingSender{}, NewMemDeadStore()), zerolog.Nop(),
		WebhookOptions{ValidationTopics: []string{"/subscriptions/00000000-0000-0000-0000-0000000000bb"}})
	resp, out := doCall(t, h, webhookCall{method: http.MethodPost, headers: map[string]string{HeaderEventType: "SubscriptionValidation"}, body: body})
	if resp.StatusCode != http.StatusForbidden || strings.Contains(out, "attacker-code-123") || !strings.Contains(out, `\"..\" path segment`) {
		t.Fatalf("status %d %s; want 403 naming the segment, code not echoed", resp.StatusCode, out)
	}
}
