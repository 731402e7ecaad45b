package azure

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// Faults injected by the sandbox reach the adapter through the SDK's retry
// policy (production settings) and come back classified.
func TestContractInjectedFaults(t *testing.T) {
	getVNet := func(c *Client) error { _, err := c.GetVNet(context.Background(), cHub); return err }
	approve := func(c *Client) error {
		_, err := c.SetConnectionStatus(context.Background(), core.Connection{ID: cWorkspace + "/privateEndpointConnections/pe-ws.0c0ffee1"}, core.StatusApproved, "ok")
		return err
	}
	link := func(c *Client) error {
		_, err := c.EnsureVNetLink(context.Background(), core.LinkSpec{ZoneID: cZone, VNetID: cSpoke})
		return err
	}
	tests := []struct {
		name      string
		rule      sandbox.FaultRule
		call      func(*Client) error
		wantClass core.ErrorClass
		wantCode  string
		wantAfter time.Duration
	}{
		{
			name:      "429 beyond the retry cap surfaces retryable with Retry-After",
			rule:      sandbox.FaultRule{Operation: "VirtualNetworksClient.Get", Status: 429, RetryAfter: sandbox.Duration(5 * time.Minute)},
			call:      getVNet,
			wantClass: core.Retryable, wantCode: "TooManyRequests", wantAfter: 5 * time.Minute,
		},
		{
			name:      "500 on every try is retryable",
			rule:      sandbox.FaultRule{Operation: "VirtualNetworksClient.Get", Status: 500},
			call:      getVNet,
			wantClass: core.Retryable,
		},
		{
			name:      "409 another operation in progress on the link write is retryable",
			rule:      sandbox.FaultRule{Method: "PUT", Operation: "virtualNetworkLinks", Status: 409, Code: "AnotherOperationInProgress"},
			call:      link,
			wantClass: core.Retryable, wantCode: "AnotherOperationInProgress",
		},
		{
			name:      "403 on the approval is fatal",
			rule:      sandbox.FaultRule{Method: "PUT", Operation: "privateEndpointConnections", Status: 403, Code: "AuthorizationFailed"},
			call:      approve,
			wantClass: core.Fatal, wantCode: "AuthorizationFailed",
		},
		{
			name:      "404 on the connection read is not found",
			rule:      sandbox.FaultRule{Method: "GET", Operation: "privateEndpointConnections", Status: 404},
			call:      approve,
			wantClass: core.NotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, c := newContract(t, sandbox.WithFaultRules(tt.rule))
			err := tt.call(c)
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *core.Error", err)
			}
			if ce.Class != tt.wantClass || (tt.wantCode != "" && ce.Code != tt.wantCode) || ce.RetryAfter != tt.wantAfter {
				t.Errorf("got class %s code %q retryAfter %s, want %s %q %s", ce.Class, ce.Code, ce.RetryAfter, tt.wantClass, tt.wantCode, tt.wantAfter)
			}
			if sb.Stats().InjectedFaults() == 0 {
				t.Error("the sandbox injected no fault: the test did not exercise the rule")
			}
		})
	}
}

// A 429 asking for a delay within the cap is waited out and the read
// succeeds; the sandbox saw the throttled try and the retry.
func TestContractShortThrottleHonoured(t *testing.T) {
	sb, c := newContract(t, sandbox.WithFaultRules(sandbox.FaultRule{
		Operation: "VirtualNetworksClient.Get", Status: 429, RetryAfter: sandbox.Duration(time.Second), Count: 1,
	}))
	start := time.Now()
	v, err := c.GetVNet(context.Background(), cHub)
	if err != nil {
		t.Fatalf("GetVNet after one short 429: %v", err)
	}
	if len(v.AddressPrefixes) == 0 {
		t.Error("vnet read after the retry has no address prefixes")
	}
	st := sb.Stats()
	if st.Faults[429] != 1 || st.ByAPI["VirtualNetworksClient.Get"] != 2 {
		t.Errorf("faults %v, VirtualNetworksClient.Get calls %d; want one 429 and two calls", st.Faults, st.ByAPI["VirtualNetworksClient.Get"])
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("retried after %s, want the 1s Retry-After honoured", waited)
	}
}
