package demo

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// armEvent builds an Event Grid (schema v1) ARM event as Azure delivers
// it for a successful write of resourceID by user.
func armEvent(seq int, op, resourceID, user string, at time.Time) []byte {
	sub := core.SubscriptionOf(resourceID)
	provider := "Microsoft.Network"
	if i := strings.Index(op, "/"); i > 0 {
		provider = op[:i]
	}
	ev := map[string]any{
		"id":              fmt.Sprintf("6a7b8c9d-0000-4d00-8000-%012d", seq),
		"subject":         resourceID,
		"eventType":       "Microsoft.Resources.ResourceWriteSuccess",
		"eventTime":       at.UTC().Format(time.RFC3339Nano),
		"topic":           "/subscriptions/" + sub,
		"dataVersion":     "2",
		"metadataVersion": "1",
		"data": map[string]any{
			"authorization":    map[string]any{"scope": resourceID, "action": op},
			"claims":           map[string]string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": user, "name": user},
			"correlationId":    fmt.Sprintf("c1d2e3f4-0000-4000-8000-%012d", seq),
			"resourceProvider": provider,
			"resourceUri":      resourceID,
			"operationName":    op,
			"status":           "Succeeded",
			"subscriptionId":   sub,
			"tenantId":         "00000000-0000-0000-0000-0000000000ff",
		},
	}
	b, _ := json.Marshal([]any{ev}) // plain maps always marshal
	return b
}
