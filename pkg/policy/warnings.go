package policy

import (
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
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

// requesterFields lists the fields of requester a checked condition
// selects (requester.upn, has(requester.tenantId) ...).
func requesterFields(checked *cel.Ast) []string {
	var out []string
	ast.PreOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.SelectKind {
			return
		}
		sel := e.AsSelect()
		if op := sel.Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "requester" && !slices.Contains(out, sel.FieldName()) {
			out = append(out, sel.FieldName())
		}
	}))
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

// Warnings lists what a reviewer should look at twice in an approve rule:
//
//   - a condition that reads only the requester. The requester proves who
//     called ARM for the request (the endpoint's write, or the connection
//     proxy's), not what the endpoint is or where its network sits; it is
//     unknown for a request first seen by a sweep, so such a rule also
//     decides differently depending on which event arrived.
//   - requester.upn or requester.appId without requester.tenantId. A
//     multi-tenant application has the same appId in every tenant that
//     consented to it, and a sign-in name is the tenant's to give out: only
//     the tenant says whose identity it is (Microsoft's access token claims
//     reference: tid "should be considered in combination with other
//     claims in authorization decisions").
//   - requester.displayName: the name and unique_name claims are for
//     display only, chosen by the account's owner, not unique; a foreign
//     tenant's user can carry any display name.
func (p *Policy) Warnings() []Warning {
	var out []Warning
	for _, r := range p.connRules {
		if r.action != ActionApprove {
			continue
		}
		if len(r.vars) == 1 && r.vars[0] == "requester" {
			out = append(out, Warning{Line: r.line, Rule: r.name, Msg: "approves on requester alone: the requester says only who asked (from the event's " +
				"claims), not what the endpoint is or which network it sits in, and it is unknown when a sweep finds the request; " +
				"add conditions on endpoint or target (subscription, address space) - see docs/policy.md, \"requester\""})
		}
		if !slices.Contains(r.requesterFields, "tenantId") {
			for _, f := range []string{"upn", "appId"} {
				if slices.Contains(r.requesterFields, f) {
					out = append(out, Warning{Line: r.line, Rule: r.name, Msg: fmt.Sprintf("trusts requester.%s without requester.tenantId: "+
						"the same %s can come from another tenant (an application's id is the same in every tenant it is used in; "+
						"a sign-in name is only unique within its tenant); add requester.tenantId == \"<your tenant id>\" - see docs/policy.md, \"requester\"",
						f, map[string]string{"upn": "sign-in name", "appId": "application id"}[f])})
				}
			}
		}
		if slices.Contains(r.requesterFields, "displayName") {
			out = append(out, Warning{Line: r.line, Rule: r.name, Msg: "reads requester.displayName: a display name (the name or unique_name claim) " +
				"is chosen by its owner and not unique - anyone, in any tenant, can carry yours; approve on requester.objectId or " +
				"requester.appId with requester.tenantId - see docs/policy.md, \"requester\""})
		}
	}
	return out
}
