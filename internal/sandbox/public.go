package sandbox

import (
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/plautopilot/autopilot/pkg/core"
)

// setPublicAccess applies the publicNetworkAccess of a workspace PUT or a
// service PATCH from the API to the stored target. Only that setting (and,
// on a workspace PUT, the tags) changes: the sandbox models no other
// writable target property, and the target's connections are child
// resources either way. The etag changes when the setting does.
func (s *Sandbox) setPublicAccess(body any, replaceTags bool) (map[string]any, error) {
	m, err := toMap(body)
	if err != nil {
		return nil, badRequest("InvalidRequestContent", "request body: %v", err)
	}
	e := s.lookup(s.cur.path)
	if e == nil {
		return nil, notFound(s.cur.path)
	}
	if err := checkCond(e.id, e, cond{ifMatch: s.cur.cond.ifMatch}); err != nil {
		return nil, err
	}
	want := str(m, "properties", "publicNetworkAccess")
	switch {
	case want == "":
	case strings.EqualFold(want, "Enabled"), strings.EqualFold(want, "Disabled"):
		props := ensure(e.body, "properties")
		if !strings.EqualFold(str(props, "publicNetworkAccess"), want) {
			s.notePublicChange(e)
			props["publicNetworkAccess"] = want
			e.body["etag"] = `"` + s.nextETag(e.id) + `"`
		}
	default:
		return nil, badRequest("InvalidPublicNetworkAccess", "publicNetworkAccess %q is neither Enabled nor Disabled", want)
	}
	if tags, ok := m["tags"]; ok && replaceTags {
		e.body["tags"] = tags
	}
	return s.view(e, ""), nil
}

func publicLRO[T any](s *Sandbox, body any, replaceTags bool) (azfake.PollerResponder[T], azfake.ErrorResponder) {
	m, err := s.setPublicAccess(body, replaceTags)
	return lroAnswer[T](s, m, err)
}

// DefaultPublicAccessDelay is how long a change of publicNetworkAccess
// takes to reach a target's public listener when neither the scenario nor
// an option says otherwise: the guide's worst case ("It can take up to 5
// minutes after updating the public network access flag before public
// traffic is blocked").
const DefaultPublicAccessDelay = 5 * time.Minute

// publicChange is the last change of a target's publicNetworkAccess: what
// the data plane enforced before it, and when (sandbox clock).
type publicChange struct {
	before string
	at     time.Time
}

// PublicAccess is what the public network sees of one target.
type PublicAccess struct {
	// Setting is publicNetworkAccess as ARM reads it now ("Enabled" when
	// the resource does not say).
	Setting string
	// Enforced is what the target's public listener applies now: Setting
	// once the propagation delay since the last change has passed, the
	// setting before that change until then.
	Enforced string
	// ChangedAt is when the setting last changed (zero: not since the
	// scenario loaded); EnforcedAt is when Setting is enforced (ChangedAt
	// plus the delay; zero when it already was at load).
	ChangedAt, EnforcedAt time.Time
}

// Refused reports whether a public client is refused (403) now.
func (p PublicAccess) Refused() bool { return strings.EqualFold(p.Enforced, "Disabled") }

// PublicAccess returns what the public network sees of the workspace or
// legacy service targetID now, on the sandbox's clock; false when there is
// no such target. A workspace's setting covers its FHIR and DICOM services
// (the setting the autopilot writes).
func (s *Sandbox) PublicAccess(targetID string) (PublicAccess, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(targetID)
	if e == nil || (e.typ != tWorkspace && e.typ != tService) {
		return PublicAccess{}, false
	}
	return s.publicAccess(e, s.clock.Now()), true
}

// publicAccess is PublicAccess under mu.
func (s *Sandbox) publicAccess(e *entry, now time.Time) PublicAccess {
	p := PublicAccess{Setting: publicSetting(e.body)}
	p.Enforced = p.Setting
	if c, ok := s.publicChanges[core.IDKey(e.id)]; ok {
		p.ChangedAt, p.EnforcedAt = c.at, c.at.Add(s.publicDelay)
		if now.Before(p.EnforcedAt) {
			p.Enforced = c.before
		}
	}
	return p
}

// publicSetting reads publicNetworkAccess from a target body; ARM's
// default is Enabled.
func publicSetting(body map[string]any) string {
	switch v := str(body, "properties", "publicNetworkAccess"); {
	case strings.EqualFold(v, "Disabled"):
		return "Disabled"
	case v == "":
		return "Enabled"
	default:
		return v
	}
}

// notePublicChange records, before a target's publicNetworkAccess changes,
// what its public listener enforces at this moment: that stays in force
// for the propagation delay. Under mu.
func (s *Sandbox) notePublicChange(e *entry) {
	now := s.clock.Now()
	s.publicChanges[core.IDKey(e.id)] = publicChange{before: s.publicAccess(e, now).Enforced, at: now}
}

func sourceOr(src string) string {
	if src == "" {
		return "scenario"
	}
	return src
}
