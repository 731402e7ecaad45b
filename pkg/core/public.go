package core

import "context"

// Values of a target's publicNetworkAccess.
const (
	PublicAccessEnabled  = "Enabled"
	PublicAccessDisabled = "Disabled"
)

// PublicAccessWriter sets the publicNetworkAccess of a workspace or legacy
// FHIR service. Like every Writer method it is idempotent: it reads the
// target first and sends nothing (WriteResult.Changed false) when the
// setting is already as wanted. Public access takes up to 5 minutes to be
// refused after it is disabled: verify after that delay.
type PublicAccessWriter interface {
	SetPublicNetworkAccess(ctx context.Context, target Target, access string) (WriteResult, error)
}
