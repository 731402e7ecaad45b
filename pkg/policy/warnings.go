package policy

import (
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
)

// referencedVars lists the rule variables a checked condition reads.
func referencedVars(checked *cel.Ast) []string {
	var out []string
	for _, ref := range checked.NativeRep().ReferenceMap() {
		if ref == nil || ref.Value != nil {
			continue
		}
		switch ref.Name {
		case "endpoint", "connection", "target", "requester", "vnet":
			if !slices.Contains(out, ref.Name) {
				out = append(out, ref.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Warning is something legal but risky in a policy, for `policy check`.
type Warning struct {
	Line int    `json:"line,omitempty"`
	Rule string `json:"rule,omitempty"`
	Msg  string `json:"msg"`
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("line %d: rule %q: %s", w.Line, w.Rule, w.Msg)
	}
	return fmt.Sprintf("rule %q: %s", w.Rule, w.Msg)
}

// Warnings lists what a reviewer should look at twice: an approve rule
// whose condition reads only the requester. The requester proves who
// called ARM for the request (the endpoint's write, or the connection
// proxy's), not what the endpoint is or where its network sits; it is
// unknown for a request first seen by a sweep, so such a rule also decides
// differently depending on which event arrived.
func (p *Policy) Warnings() []Warning {
	var out []Warning
	for _, r := range p.connRules {
		if r.action == ActionApprove && len(r.vars) == 1 && r.vars[0] == "requester" {
			out = append(out, Warning{Line: r.line, Rule: r.name, Msg: "approves on requester alone: the requester says only who asked (from the event's " +
				"claims), not what the endpoint is or which network it sits in, and it is unknown when a sweep finds the request; " +
				"add conditions on endpoint or target (subscription, address space) - see docs/policy.md, \"requester\""})
		}
	}
	return out
}
