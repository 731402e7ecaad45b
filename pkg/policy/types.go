package policy

// Types added beside api.go for explaining and listing a policy.

// Outcome is what happened to one rule during an evaluation.
type Outcome string

const (
	// OutcomeMatched: the condition was true.
	OutcomeMatched Outcome = "matched"
	// OutcomeNotMatched: the condition was false.
	OutcomeNotMatched Outcome = "not matched"
	// OutcomeError: the condition failed at run time (for example a missing
	// map key); the rule counts as not matching.
	OutcomeError Outcome = "error"
	// OutcomeSkippedUnreadable: an approve rule matched an endpoint that
	// could not be read and does not set allowUnreadableEndpoint.
	OutcomeSkippedUnreadable Outcome = "skipped-unreadable"
)

// RuleOutcome is one connection rule's outcome in an explanation.
type RuleOutcome struct {
	Rule     string  `json:"rule"`
	Decision Action  `json:"decision"`
	Outcome  Outcome `json:"outcome"`
	// Detail holds the runtime error, or why a matching rule was not
	// applied.
	Detail string `json:"detail,omitempty"`
	// Selected marks the rule that decided (first match wins); no rule is
	// selected when the default applied.
	Selected bool `json:"selected,omitempty"`
}

// RuleKind tells connection rules from link rules in a listing.
type RuleKind string

const (
	KindConnection RuleKind = "connection"
	KindLink       RuleKind = "link"
)

// RuleSummary describes one rule for listings (`handler policy check`).
type RuleSummary struct {
	Kind RuleKind `json:"kind"`
	Name string   `json:"name"`
	When string   `json:"when"`
	// Line is the rule's line in the policy file.
	Line int `json:"line"`
	// Connection rules.
	Decision                Action `json:"decision,omitempty"`
	Description             string `json:"description,omitempty"`
	AllowUnreadableEndpoint bool   `json:"allowUnreadableEndpoint,omitempty"`
	Revoke                  bool   `json:"revoke,omitempty"`
	// Link rules: the managed zones (by name) the rule links to.
	Zones               []string `json:"zones,omitempty"`
	RegistrationEnabled bool     `json:"registrationEnabled,omitempty"`
	ResolutionPolicy    string   `json:"resolutionPolicy,omitempty"`
}
