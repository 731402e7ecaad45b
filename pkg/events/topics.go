package events

import (
	"errors"
	"fmt"
	"strings"
)

// Which SubscriptionValidation handshakes the webhook answers. Answering
// one subscribes this endpoint to the topic's events, so the topic in the
// validation event is read as an ARM resource id, not as a string prefix:
// "/subscriptions/aa/../../subscriptions/x" is refused, not taken for a
// topic below subscription aa.
//
// Event Grid's "topic" is the "full resource path to the event source"
// (docs: Azure subscription as an Event Grid source): for the ARM events of
// a subscription it is "/subscriptions/{id}", for a resource group
// "/subscriptions/{id}/resourceGroups/{rg}", for a custom topic its own id
// (".../Microsoft.EventGrid/topics/{name}"). A validation-topic entry that
// names a subscription covers that subscription's system topics: the
// subscription and resource group sources and the
// Microsoft.EventGrid/systemTopics resources in it. It does not cover
// custom topics, domains or partner topics there (anyone with write access
// to one resource group could make one and post events with chosen claims):
// those must be named exactly.

// topicID is a parsed topic: the path segments of an ARM resource id.
type topicID struct {
	segs []string // as written
}

// parseTopic parses an ARM resource id used as an Event Grid topic. It
// refuses empty, "." and ".." segments, whitespace and control characters,
// and anything not under /subscriptions/{id}.
func parseTopic(s string) (topicID, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	if s == "" {
		return topicID{}, errors.New("empty topic")
	}
	if !strings.HasPrefix(s, "/") {
		return topicID{}, fmt.Errorf("topic %q is not an ARM resource id (must start with /)", redactShort(s))
	}
	segs := strings.Split(s[1:], "/")
	for _, seg := range segs {
		switch seg {
		case "":
			return topicID{}, fmt.Errorf("topic %q has an empty path segment", redactShort(s))
		case ".", "..":
			return topicID{}, fmt.Errorf("topic %q has a %q path segment", redactShort(s), seg)
		}
		for _, r := range seg {
			if r <= ' ' || r == 0x7f || r == '\\' || r == '%' {
				return topicID{}, fmt.Errorf("topic %q has a character %q that no ARM resource id holds", redactShort(s), r)
			}
		}
	}
	if len(segs) < 2 || !strings.EqualFold(segs[0], "subscriptions") {
		return topicID{}, fmt.Errorf("topic %q is not under /subscriptions/{id}", redactShort(s))
	}
	return topicID{segs: segs}, nil
}

// subscriptionOnly reports whether the id names a subscription itself.
func (t topicID) subscriptionOnly() bool { return len(t.segs) == 2 }

// systemTopicOf reports whether t is a system topic of subscription sub:
// the subscription, one of its resource groups, or a
// Microsoft.EventGrid/systemTopics resource in one of them.
func (t topicID) systemTopicOf(sub string) bool {
	s := t.segs
	if !strings.EqualFold(s[1], sub) {
		return false
	}
	switch len(s) {
	case 2: // /subscriptions/{id}
		return true
	case 4: // /subscriptions/{id}/resourceGroups/{rg}
		return strings.EqualFold(s[2], "resourceGroups")
	case 8: // .../resourceGroups/{rg}/providers/Microsoft.EventGrid/systemTopics/{name}
		return strings.EqualFold(s[2], "resourceGroups") && strings.EqualFold(s[4], "providers") &&
			strings.EqualFold(s[5], "Microsoft.EventGrid") && strings.EqualFold(s[6], "systemTopics")
	}
	return false
}

// equal reports whether two ids are the same, case-insensitively.
func (t topicID) equal(o topicID) bool {
	if len(t.segs) != len(o.segs) {
		return false
	}
	for i := range t.segs {
		if !strings.EqualFold(t.segs[i], o.segs[i]) {
			return false
		}
	}
	return true
}

// CheckValidationTopics reports the first validation-topic entry that is
// not an ARM resource id (for a start-up error naming the setting).
func CheckValidationTopics(entries []string) error {
	for _, e := range entries {
		if _, err := parseTopic(e); err != nil {
			return err
		}
	}
	return nil
}

// topicAllowed reports whether a validation for topic may be answered under
// the allowed entries: a subscription entry covers its system topics, any
// other entry exactly its own id. A topic that does not parse is refused,
// with the reason.
func topicAllowed(allowed []string, topic string) (bool, error) {
	t, err := parseTopic(topic)
	if err != nil {
		return false, err
	}
	for _, a := range allowed {
		e, err := parseTopic(a)
		if err != nil {
			continue // CheckValidationTopics reports it at start
		}
		if e.subscriptionOnly() {
			if t.systemTopicOf(e.segs[1]) {
				return true, nil
			}
			continue
		}
		if t.equal(e) {
			return true, nil
		}
	}
	return false, nil
}
