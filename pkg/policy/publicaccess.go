package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Public network access per target selection. targets.publicNetworkAccess is
// the default for every governed target; targets.publicNetworkAccessBy lists
// named selections of governed targets, each with its own mode, and the
// first selection that matches a target decides for it:
//
//	targets:
//	  subscriptions: [...]
//	  allOfType: [workspaces, services]
//	  publicNetworkAccess: audit
//	  publicNetworkAccessBy:
//	    - name: close-prod-workspaces
//	      match: {types: [workspaces], tags: {env: prod}}
//	      mode: disableAfterVerification
//
// A selection uses the targets block's vocabulary (types as in allOfType,
// ids, subscriptions) plus resource groups and tags; every criterion given
// must hold and a list matches when any entry does. It is deliberately not a
// CEL condition: closing public access is a coarse decision a reviewer reads
// at a glance, and the selection must be decidable from the target alone
// (the verification runner and the sweep have no endpoint or requester).

// DefaultPublicAccessRule names the rule that decided a target's public
// access mode when no selection matched: targets.publicNetworkAccess.
const DefaultPublicAccessRule = "publicNetworkAccess"

// PublicAccessSelection describes one entry of targets.publicNetworkAccessBy
// for listings (`handler policy check`).
type PublicAccessSelection struct {
	Name string           `json:"name"`
	Line int              `json:"line"`
	Mode PublicAccessMode `json:"mode"`
	// Match says what the selection matches, as a reviewer reads it
	// ("types workspaces; tags env=prod").
	Match string `json:"match"`
}

type publicAccessSel struct {
	name  string
	line  int
	mode  PublicAccessMode
	kinds []core.TargetKind
	ids   []string
	subs  []string // lower case
	rgs   []string
	tags  [][2]string // key, value; sorted by key
}

// PublicNetworkAccess is the default public access mode of the governed
// targets (targets.publicNetworkAccess; leave when not set). A selection of
// targets.publicNetworkAccessBy may override it: ask PublicNetworkAccessFor
// about a given target.
func (p *Policy) PublicNetworkAccess() PublicAccessMode {
	if p == nil || p.publicAccess == "" {
		return PublicAccessLeave
	}
	return p.publicAccess
}

// PublicNetworkAccessFor says what to do about the public network access of
// target t and which rule decided it: the name of the first selection of
// targets.publicNetworkAccessBy that matches t, else DefaultPublicAccessRule
// with targets.publicNetworkAccess. A target the policy does not govern is
// left alone (leave, rule "").
func (p *Policy) PublicNetworkAccessFor(t core.Target) (PublicAccessMode, string) {
	if p == nil || !p.GovernsTarget(t) {
		return PublicAccessLeave, ""
	}
	for _, s := range p.publicBy {
		if s.matches(t) {
			return s.mode, s.name
		}
	}
	return p.PublicNetworkAccess(), DefaultPublicAccessRule
}

// PublicNetworkAccessActs reports whether the policy may audit or close the
// public access of any target: the default or a selection is not leave.
func (p *Policy) PublicNetworkAccessActs() bool {
	if p.PublicNetworkAccess() != PublicAccessLeave {
		return true
	}
	for _, s := range p.publicBy {
		if s.mode != PublicAccessLeave {
			return true
		}
	}
	return false
}

// PublicNetworkAccessBy lists the selections of targets.publicNetworkAccessBy
// in file order (first match wins).
func (p *Policy) PublicNetworkAccessBy() []PublicAccessSelection {
	out := make([]PublicAccessSelection, 0, len(p.publicBy))
	for _, s := range p.publicBy {
		out = append(out, PublicAccessSelection{Name: s.name, Line: s.line, Mode: s.mode, Match: s.describe()})
	}
	return out
}

func (s *publicAccessSel) matches(t core.Target) bool {
	if len(s.kinds) > 0 {
		kind := t.Kind
		if kind == "" {
			kind, _ = targetKindOf(t.ID)
		}
		if !slices.Contains(s.kinds, kind) {
			return false
		}
	}
	if len(s.ids) > 0 && !slices.ContainsFunc(s.ids, func(id string) bool { return core.SameID(id, t.ID) }) {
		return false
	}
	if len(s.subs) > 0 {
		sub := lowerOr(t.SubscriptionID, core.SubscriptionOf, t.ID)
		if !slices.Contains(s.subs, sub) {
			return false
		}
	}
	if len(s.rgs) > 0 {
		rg := or(t.ResourceGroup, core.ResourceGroupOf, t.ID)
		if !slices.ContainsFunc(s.rgs, func(g string) bool { return strings.EqualFold(g, rg) }) {
			return false
		}
	}
	for _, kv := range s.tags {
		if !hasTag(t.Tags, kv[0], kv[1]) {
			return false
		}
	}
	return true
}

// hasTag reports whether tags hold key (ARM tag names are case-insensitive)
// with exactly value (tag values are case-sensitive).
func hasTag(tags map[string]string, key, value string) bool {
	if v, ok := tags[key]; ok {
		return v == value
	}
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			return v == value
		}
	}
	return false
}

func (s *publicAccessSel) describe() string {
	var parts []string
	if len(s.kinds) > 0 {
		var k []string
		for _, kind := range s.kinds {
			k = append(k, string(kind)+"s")
		}
		parts = append(parts, "types "+strings.Join(k, ", "))
	}
	if len(s.ids) > 0 {
		parts = append(parts, "ids "+strings.Join(s.ids, ", "))
	}
	if len(s.subs) > 0 {
		parts = append(parts, "subscriptions "+strings.Join(s.subs, ", "))
	}
	if len(s.rgs) > 0 {
		parts = append(parts, "resource groups "+strings.Join(s.rgs, ", "))
	}
	if len(s.tags) > 0 {
		var t []string
		for _, kv := range s.tags {
			t = append(t, kv[0]+"="+kv[1])
		}
		parts = append(parts, "tags "+strings.Join(t, ", "))
	}
	return strings.Join(parts, "; ")
}

// publicAccessSelections validates and compiles targets.publicNetworkAccessBy.
// It runs after the targets and rules are read: a selection names governed
// targets only, and its name shares the rules' namespace so that a plan
// action's rule is never ambiguous.
func (l *loader) publicAccessSelections(s *spec, p *Policy) {
	if s.Targets == nil || len(s.Targets.PublicNetworkAccessBy) == 0 {
		return
	}
	const list = "$.targets.publicNetworkAccessBy"
	sels := s.Targets.PublicNetworkAccessBy
	if len(sels) > MaxRules {
		l.addf(list, "", "%d selections, more than the limit of %d", len(sels), MaxRules)
		return
	}
	names := map[string]string{DefaultPublicAccessRule: "$.targets.publicNetworkAccess"}
	for i, r := range s.ConnectionRules {
		if _, dup := names[r.Name]; !dup && r.Name != "" {
			names[r.Name] = fmt.Sprintf("$.connectionRules[%d].name", i)
		}
	}
	for i, r := range s.LinkRules {
		if _, dup := names[r.Name]; !dup && r.Name != "" {
			names[r.Name] = fmt.Sprintf("$.linkRules[%d].name", i)
		}
	}
	for i, r := range sels {
		path := fmt.Sprintf("%s[%d]", list, i)
		if r.Name == DefaultPublicAccessRule {
			l.addf(path+".name", r.Name, "%q names the default (targets.publicNetworkAccess); give the selection its own name", r.Name)
			continue
		}
		if !l.ruleName(path, r.Name, names) {
			continue
		}
		sel := &publicAccessSel{name: r.Name}
		sel.line, _ = l.pos(path + ".name")
		switch m := PublicAccessMode(r.Mode); m {
		case PublicAccessLeave, PublicAccessAudit, PublicAccessDisableAfterVerification:
			sel.mode = m
		case "":
			l.add(path, r.Name, "missing mode: one of leave, audit, disableAfterVerification")
		default:
			l.addf(path+".mode", r.Name, "mode %q is not one of leave, audit, disableAfterVerification", r.Mode)
		}
		l.targetMatch(path+".match", r.Name, r.Match, p, sel)
		p.publicBy = append(p.publicBy, sel)
	}
}

// targetMatch validates one selection's match and fills sel.
func (l *loader) targetMatch(path, rule string, m *targetMatchSpec, p *Policy, sel *publicAccessSel) {
	if m == nil || len(m.Types)+len(m.IDs)+len(m.Subscriptions)+len(m.ResourceGroups)+len(m.Tags) == 0 {
		l.add(path, rule, "missing match: select targets by types, ids, subscriptions, resourceGroups and/or tags "+
			"(for every governed target, set targets.publicNetworkAccess instead)")
		return
	}
	for i, typ := range m.Types {
		switch strings.ToLower(typ) {
		case "workspaces":
			sel.kinds = append(sel.kinds, core.TargetWorkspace)
		case "services":
			sel.kinds = append(sel.kinds, core.TargetService)
		default:
			l.addf(fmt.Sprintf("%s.types[%d]", path, i), rule, "%q is not a target type: use workspaces or services", typ)
		}
	}
	for i, id := range m.IDs {
		ipath := fmt.Sprintf("%s.ids[%d]", path, i)
		switch _, ok := targetKindOf(id); {
		case !ok:
			l.addf(ipath, rule, "%q is not a Microsoft.HealthcareApis workspace or service resource id", id)
		case !p.Governs(id):
			l.addf(ipath, rule, "target %q is not governed by this policy (targets.ids, or targets.allOfType in targets.subscriptions): a selection applies to governed targets only", id)
		default:
			sel.ids = append(sel.ids, id)
		}
	}
	for i, sub := range m.Subscriptions {
		spath := fmt.Sprintf("%s.subscriptions[%d]", path, i)
		switch {
		case !guidRE.MatchString(sub):
			l.addf(spath, rule, "%q is not a subscription id (a GUID)", sub)
		case !p.subSet[strings.ToLower(sub)]:
			l.addf(spath, rule, "subscription %q is not governed by this policy (targets.subscriptions or the subscription of a targets.ids entry)", sub)
		default:
			sel.subs = append(sel.subs, strings.ToLower(sub))
		}
	}
	for i, rg := range m.ResourceGroups {
		if strings.TrimSpace(rg) == "" || strings.ContainsRune(rg, '/') {
			l.addf(fmt.Sprintf("%s.resourceGroups[%d]", path, i), rule, "%q is not a resource group name", rg)
			continue
		}
		sel.rgs = append(sel.rgs, rg)
	}
	if len(m.Tags) > maxTags {
		l.addf(path+".tags", rule, "%d tags, more than ARM's %d per resource: no target could match", len(m.Tags), maxTags)
		return
	}
	keys := make([]string, 0, len(m.Tags))
	for k := range m.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			l.add(path+".tags", rule, "a tag name is empty")
			continue
		}
		for _, kv := range sel.tags {
			if strings.EqualFold(kv[0], k) {
				l.addf(path+".tags", rule, "tag %q is listed twice (tag names are case-insensitive)", k)
			}
		}
		sel.tags = append(sel.tags, [2]string{k, m.Tags[k]})
	}
}
