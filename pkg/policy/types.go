package policy

// Types added beside api.go for explaining and listing a policy.

// RuleStatus is what happened to one rule during an evaluation.
type RuleStatus string

const (
	// RuleMatched: the condition was true.
	RuleMatched RuleStatus = "matched"
	// RuleNotMatched: the condition was false.
	RuleNotMatched RuleStatus = "not matched"
	// RuleError: the condition failed at run time (for example a missing
	// map key); the rule counts as not matching.
	RuleError RuleStatus = "error"
	// RuleSkippedUnreadable: an approve rule matched an endpoint that
	// could not be read and does not set allowUnreadableEndpoint.
	RuleSkippedUnreadable RuleStatus = "skipped-unreadable"
)

// RuleResult is how one connection rule fared in an explanation.
type RuleResult struct {
	Rule     string     `json:"rule"`
	Decision Action     `json:"decision"`
	Outcome  RuleStatus `json:"outcome"`
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
