package reconcile

// *policy.Policy must satisfy the consumer-side interface.

import "github.com/plautopilot/autopilot/pkg/policy"

var _ Policy = (*policy.Policy)(nil)
