package reconcile

import (
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

func TestRequesterOnlyForTheRequestTheEventMade(t *testing.T) {
	const (
		ws    = "/subscriptions/aa/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws"
		pe    = "/subscriptions/bb/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe1"
		other = "/subscriptions/bb/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe2"
	)
	conn := core.Connection{ID: ws + "/privateEndpointConnections/pe1.abc", Name: "pe1.abc", TargetID: ws, PrivateEndpointID: pe, Status: core.StatusPending}
	who := func(kind, op, res string) *core.Principal {
		return &core.Principal{AppID: "app", Source: core.PrincipalSource{Kind: kind, Operation: op, ResourceID: res, EventID: "e1"}}
	}
	endpointWrite := who(core.RequesterFromEndpointWrite, "Microsoft.Network/privateEndpoints/write", pe)
	proxyWrite := who(core.RequesterFromConnectionProxyWrite, "Microsoft.HealthcareApis/workspaces/privateEndpointConnectionProxies/write", ws+"/privateEndpointConnectionProxies/PE1.ABC")
	approved := conn
	approved.Status = core.StatusApproved
	for _, tt := range []struct {
		name string
		job  JobInfo
		conn core.Connection
		want bool
	}{
		{"endpoint's own write", JobInfo{Subject: jobs.SubjectEndpoint, SubjectID: pe, Actor: endpointWrite}, conn, true},
		{"target's proxy write for this connection", JobInfo{Subject: jobs.SubjectTarget, SubjectID: ws, Actor: proxyWrite}, conn, true},
		{"sweep", JobInfo{Subject: jobs.SubjectTarget, SubjectID: ws}, conn, false},
		{"a principal without a source (zone group or approver write)", JobInfo{Subject: jobs.SubjectEndpoint, SubjectID: pe, Actor: &core.Principal{AppID: "app"}}, conn, false},
		{"another endpoint's write", JobInfo{Subject: jobs.SubjectEndpoint, SubjectID: other, Actor: who(core.RequesterFromEndpointWrite, "x", other)}, conn, false},
		{"endpoint write naming another resource", JobInfo{Subject: jobs.SubjectEndpoint, SubjectID: pe, Actor: who(core.RequesterFromEndpointWrite, "x", other)}, conn, false},
		{"proxy of another connection", JobInfo{Subject: jobs.SubjectTarget, SubjectID: ws, Actor: who(core.RequesterFromConnectionProxyWrite, "x", ws+"/privateEndpointConnectionProxies/pe2.def")}, conn, false},
		{"proxy on another target", JobInfo{Subject: jobs.SubjectTarget, SubjectID: ws, Actor: who(core.RequesterFromConnectionProxyWrite, "x", ws+"2/privateEndpointConnectionProxies/pe1.abc")}, conn, false},
		{"proxy source on an endpoint job", JobInfo{Subject: jobs.SubjectEndpoint, SubjectID: pe, Actor: proxyWrite}, conn, false},
		{"connection no longer pending", JobInfo{Subject: jobs.SubjectEndpoint, SubjectID: pe, Actor: endpointWrite}, approved, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := requesterOf(tt.job, ws, tt.conn)
			if (got != nil) != tt.want {
				t.Errorf("requester %+v, want supplied=%v", got, tt.want)
			}
		})
	}
}
