package sandbox

import (
	"context"
	"encoding/json"
	"net/http"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	hc "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	hcfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis/fake"
	nw "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	nwfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
	dns "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	dnsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns/fake"
)

// The fake servers' func fields do not receive the subscription ID (and the
// pagers no context), so every handler works from s.cur, the request being
// dispatched; the transport sets it while holding s.mu. The handlers answer
// from the in-memory state by resource ID and convert it to the SDK model
// type, which the generated fake then serialises.

func getR[T any](s *Sandbox) (r azfake.Responder[T], e azfake.ErrorResponder) {
	m, aerr := s.read(s.cur.path, s.cur.expand)
	if aerr != nil {
		e.SetError(aerr)
		return
	}
	var v T
	if err := remarshal(m, &v); err != nil {
		e.SetError(err)
		return
	}
	r.SetResponse(http.StatusOK, v, nil)
	return
}

func pageR[T any](s *Sandbox) (p azfake.PagerResponder[T]) {
	m, aerr := s.read(s.cur.path, s.cur.expand)
	if aerr != nil {
		p.AddError(aerr)
		return
	}
	var v T
	if err := remarshal(m, &v); err != nil {
		p.AddError(err)
		return
	}
	p.AddPage(http.StatusOK, v, nil)
	return
}

func (s *Sandbox) apiPut(body any) (map[string]any, error) {
	m, err := toMap(body)
	if err != nil {
		return nil, badRequest("InvalidRequestContent", "request body: %v", err)
	}
	e, aerr := s.put(s.cur.path, m, s.cur.cond, fromAPI)
	if aerr != nil {
		return nil, aerr
	}
	if e.inProgressReads > 0 {
		e.inProgressReads++ // the PUT answer itself shows InProgress
	}
	return s.view(e, ""), nil
}

func putLRO[T any](s *Sandbox, body any) (azfake.PollerResponder[T], azfake.ErrorResponder) {
	m, err := s.apiPut(body)
	return lroAnswer[T](s, m, err)
}

// lroAnswer answers a long-running write with the resource m as written
// (after s.lroPolls in-progress polls), or with err.
func lroAnswer[T any](s *Sandbox, m map[string]any, err error) (p azfake.PollerResponder[T], e azfake.ErrorResponder) {
	if err != nil {
		e.SetError(err)
		return
	}
	var v T
	if err := remarshal(m, &v); err != nil {
		e.SetError(err)
		return
	}
	for range s.lroPolls {
		p.AddNonTerminalResponse(http.StatusOK, nil)
	}
	p.SetTerminalResponse(http.StatusOK, v, nil)
	return
}

func putSync[T any](s *Sandbox, body any) (r azfake.Responder[T], e azfake.ErrorResponder) {
	m, err := s.apiPut(body)
	if err != nil {
		e.SetError(err)
		return
	}
	var v T
	if err := remarshal(m, &v); err != nil {
		e.SetError(err)
		return
	}
	r.SetResponse(http.StatusOK, v, nil)
	return
}

func delLRO[T any](s *Sandbox) (p azfake.PollerResponder[T], e azfake.ErrorResponder) {
	if aerr := s.remove(s.cur.path, s.cur.cond); aerr != nil {
		e.SetError(aerr)
		return
	}
	for range s.lroPolls {
		p.AddNonTerminalResponse(http.StatusAccepted, nil)
	}
	var v T
	p.SetTerminalResponse(http.StatusOK, v, nil)
	return
}

func delSync[T any](s *Sandbox) (r azfake.Responder[T], e azfake.ErrorResponder) {
	if aerr := s.remove(s.cur.path, s.cur.cond); aerr != nil {
		e.SetError(aerr)
		return
	}
	var v T
	r.SetResponse(http.StatusOK, v, nil)
	return
}

type ctx = context.Context

func (s *Sandbox) healthcareServers() *hcfake.ServerFactory {
	return &hcfake.ServerFactory{
		WorkspacesServer: hcfake.WorkspacesServer{
			Get: func(ctx, string, string, *hc.WorkspacesClientGetOptions) (azfake.Responder[hc.WorkspacesClientGetResponse], azfake.ErrorResponder) {
				return getR[hc.WorkspacesClientGetResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _ string, body hc.Workspace, _ *hc.WorkspacesClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[hc.WorkspacesClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return publicLRO[hc.WorkspacesClientCreateOrUpdateResponse](s, body, true)
			},
			NewListBySubscriptionPager: func(*hc.WorkspacesClientListBySubscriptionOptions) azfake.PagerResponder[hc.WorkspacesClientListBySubscriptionResponse] {
				return pageR[hc.WorkspacesClientListBySubscriptionResponse](s)
			},
			NewListByResourceGroupPager: func(string, *hc.WorkspacesClientListByResourceGroupOptions) azfake.PagerResponder[hc.WorkspacesClientListByResourceGroupResponse] {
				return pageR[hc.WorkspacesClientListByResourceGroupResponse](s)
			},
		},
		ServicesServer: hcfake.ServicesServer{
			Get: func(ctx, string, string, *hc.ServicesClientGetOptions) (azfake.Responder[hc.ServicesClientGetResponse], azfake.ErrorResponder) {
				return getR[hc.ServicesClientGetResponse](s)
			},
			BeginUpdate: func(_ ctx, _, _ string, body hc.ServicesPatchDescription, _ *hc.ServicesClientBeginUpdateOptions) (azfake.PollerResponder[hc.ServicesClientUpdateResponse], azfake.ErrorResponder) {
				return publicLRO[hc.ServicesClientUpdateResponse](s, body, false)
			},
			NewListPager: func(*hc.ServicesClientListOptions) azfake.PagerResponder[hc.ServicesClientListResponse] {
				return pageR[hc.ServicesClientListResponse](s)
			},
			NewListByResourceGroupPager: func(string, *hc.ServicesClientListByResourceGroupOptions) azfake.PagerResponder[hc.ServicesClientListByResourceGroupResponse] {
				return pageR[hc.ServicesClientListByResourceGroupResponse](s)
			},
		},
		WorkspacePrivateEndpointConnectionsServer: hcfake.WorkspacePrivateEndpointConnectionsServer{
			Get: func(ctx, string, string, string, *hc.WorkspacePrivateEndpointConnectionsClientGetOptions) (azfake.Responder[hc.WorkspacePrivateEndpointConnectionsClientGetResponse], azfake.ErrorResponder) {
				return getR[hc.WorkspacePrivateEndpointConnectionsClientGetResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _, _ string, body hc.PrivateEndpointConnectionDescription, _ *hc.WorkspacePrivateEndpointConnectionsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[hc.WorkspacePrivateEndpointConnectionsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[hc.WorkspacePrivateEndpointConnectionsClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, string, *hc.WorkspacePrivateEndpointConnectionsClientBeginDeleteOptions) (azfake.PollerResponder[hc.WorkspacePrivateEndpointConnectionsClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[hc.WorkspacePrivateEndpointConnectionsClientDeleteResponse](s)
			},
			NewListByWorkspacePager: func(string, string, *hc.WorkspacePrivateEndpointConnectionsClientListByWorkspaceOptions) azfake.PagerResponder[hc.WorkspacePrivateEndpointConnectionsClientListByWorkspaceResponse] {
				return pageR[hc.WorkspacePrivateEndpointConnectionsClientListByWorkspaceResponse](s)
			},
		},
		PrivateEndpointConnectionsServer: hcfake.PrivateEndpointConnectionsServer{
			Get: func(ctx, string, string, string, *hc.PrivateEndpointConnectionsClientGetOptions) (azfake.Responder[hc.PrivateEndpointConnectionsClientGetResponse], azfake.ErrorResponder) {
				return getR[hc.PrivateEndpointConnectionsClientGetResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _, _ string, body hc.PrivateEndpointConnection, _ *hc.PrivateEndpointConnectionsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[hc.PrivateEndpointConnectionsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[hc.PrivateEndpointConnectionsClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, string, *hc.PrivateEndpointConnectionsClientBeginDeleteOptions) (azfake.PollerResponder[hc.PrivateEndpointConnectionsClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[hc.PrivateEndpointConnectionsClientDeleteResponse](s)
			},
			NewListByServicePager: func(string, string, *hc.PrivateEndpointConnectionsClientListByServiceOptions) azfake.PagerResponder[hc.PrivateEndpointConnectionsClientListByServiceResponse] {
				return pageR[hc.PrivateEndpointConnectionsClientListByServiceResponse](s)
			},
		},
		FhirServicesServer: hcfake.FhirServicesServer{
			Get: func(ctx, string, string, string, *hc.FhirServicesClientGetOptions) (azfake.Responder[hc.FhirServicesClientGetResponse], azfake.ErrorResponder) {
				return getR[hc.FhirServicesClientGetResponse](s)
			},
			NewListByWorkspacePager: func(string, string, *hc.FhirServicesClientListByWorkspaceOptions) azfake.PagerResponder[hc.FhirServicesClientListByWorkspaceResponse] {
				return pageR[hc.FhirServicesClientListByWorkspaceResponse](s)
			},
		},
		DicomServicesServer: dicomServer(s),
		WorkspacePrivateLinkResourcesServer: hcfake.WorkspacePrivateLinkResourcesServer{
			NewListByWorkspacePager: func(string, string, *hc.WorkspacePrivateLinkResourcesClientListByWorkspaceOptions) azfake.PagerResponder[hc.WorkspacePrivateLinkResourcesClientListByWorkspaceResponse] {
				return pageR[hc.WorkspacePrivateLinkResourcesClientListByWorkspaceResponse](s)
			},
		},
		PrivateLinkResourcesServer: hcfake.PrivateLinkResourcesServer{
			ListByService: func(ctx, string, string, *hc.PrivateLinkResourcesClientListByServiceOptions) (azfake.Responder[hc.PrivateLinkResourcesClientListByServiceResponse], azfake.ErrorResponder) {
				return getR[hc.PrivateLinkResourcesClientListByServiceResponse](s)
			},
		},
	}
}

func (s *Sandbox) networkServers() *nwfake.ServerFactory {
	return &nwfake.ServerFactory{
		PrivateEndpointsServer: nwfake.PrivateEndpointsServer{
			Get: func(ctx, string, string, *nw.PrivateEndpointsClientGetOptions) (azfake.Responder[nw.PrivateEndpointsClientGetResponse], azfake.ErrorResponder) {
				return getR[nw.PrivateEndpointsClientGetResponse](s)
			},
			NewListPager: func(string, *nw.PrivateEndpointsClientListOptions) azfake.PagerResponder[nw.PrivateEndpointsClientListResponse] {
				return pageR[nw.PrivateEndpointsClientListResponse](s)
			},
			NewListBySubscriptionPager: func(*nw.PrivateEndpointsClientListBySubscriptionOptions) azfake.PagerResponder[nw.PrivateEndpointsClientListBySubscriptionResponse] {
				return pageR[nw.PrivateEndpointsClientListBySubscriptionResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _ string, body nw.PrivateEndpoint, _ *nw.PrivateEndpointsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[nw.PrivateEndpointsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[nw.PrivateEndpointsClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, *nw.PrivateEndpointsClientBeginDeleteOptions) (azfake.PollerResponder[nw.PrivateEndpointsClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[nw.PrivateEndpointsClientDeleteResponse](s)
			},
		},
		PrivateDNSZoneGroupsServer: nwfake.PrivateDNSZoneGroupsServer{
			Get: func(ctx, string, string, string, *nw.PrivateDNSZoneGroupsClientGetOptions) (azfake.Responder[nw.PrivateDNSZoneGroupsClientGetResponse], azfake.ErrorResponder) {
				return getR[nw.PrivateDNSZoneGroupsClientGetResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _, _ string, body nw.PrivateDNSZoneGroup, _ *nw.PrivateDNSZoneGroupsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[nw.PrivateDNSZoneGroupsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[nw.PrivateDNSZoneGroupsClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, string, *nw.PrivateDNSZoneGroupsClientBeginDeleteOptions) (azfake.PollerResponder[nw.PrivateDNSZoneGroupsClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[nw.PrivateDNSZoneGroupsClientDeleteResponse](s)
			},
			NewListPager: func(string, string, *nw.PrivateDNSZoneGroupsClientListOptions) azfake.PagerResponder[nw.PrivateDNSZoneGroupsClientListResponse] {
				return pageR[nw.PrivateDNSZoneGroupsClientListResponse](s)
			},
		},
		VirtualNetworksServer: nwfake.VirtualNetworksServer{
			Get: func(ctx, string, string, *nw.VirtualNetworksClientGetOptions) (azfake.Responder[nw.VirtualNetworksClientGetResponse], azfake.ErrorResponder) {
				return getR[nw.VirtualNetworksClientGetResponse](s)
			},
			NewListPager: func(string, *nw.VirtualNetworksClientListOptions) azfake.PagerResponder[nw.VirtualNetworksClientListResponse] {
				return pageR[nw.VirtualNetworksClientListResponse](s)
			},
			NewListAllPager: func(*nw.VirtualNetworksClientListAllOptions) azfake.PagerResponder[nw.VirtualNetworksClientListAllResponse] {
				return pageR[nw.VirtualNetworksClientListAllResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _ string, body nw.VirtualNetwork, _ *nw.VirtualNetworksClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[nw.VirtualNetworksClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[nw.VirtualNetworksClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, *nw.VirtualNetworksClientBeginDeleteOptions) (azfake.PollerResponder[nw.VirtualNetworksClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[nw.VirtualNetworksClientDeleteResponse](s)
			},
		},
		VirtualNetworkPeeringsServer: nwfake.VirtualNetworkPeeringsServer{
			Get: func(ctx, string, string, string, *nw.VirtualNetworkPeeringsClientGetOptions) (azfake.Responder[nw.VirtualNetworkPeeringsClientGetResponse], azfake.ErrorResponder) {
				return getR[nw.VirtualNetworkPeeringsClientGetResponse](s)
			},
			NewListPager: func(string, string, *nw.VirtualNetworkPeeringsClientListOptions) azfake.PagerResponder[nw.VirtualNetworkPeeringsClientListResponse] {
				return pageR[nw.VirtualNetworkPeeringsClientListResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _, _ string, body nw.VirtualNetworkPeering, _ *nw.VirtualNetworkPeeringsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[nw.VirtualNetworkPeeringsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[nw.VirtualNetworkPeeringsClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, string, *nw.VirtualNetworkPeeringsClientBeginDeleteOptions) (azfake.PollerResponder[nw.VirtualNetworkPeeringsClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[nw.VirtualNetworkPeeringsClientDeleteResponse](s)
			},
		},
		InterfacesServer: nwfake.InterfacesServer{
			Get: func(ctx, string, string, *nw.InterfacesClientGetOptions) (azfake.Responder[nw.InterfacesClientGetResponse], azfake.ErrorResponder) {
				return getR[nw.InterfacesClientGetResponse](s)
			},
		},
	}
}

func (s *Sandbox) privateDNSServers() *dnsfake.ServerFactory {
	return &dnsfake.ServerFactory{
		PrivateZonesServer: dnsfake.PrivateZonesServer{
			Get: func(ctx, string, string, *dns.PrivateZonesClientGetOptions) (azfake.Responder[dns.PrivateZonesClientGetResponse], azfake.ErrorResponder) {
				return getR[dns.PrivateZonesClientGetResponse](s)
			},
			NewListPager: func(*dns.PrivateZonesClientListOptions) azfake.PagerResponder[dns.PrivateZonesClientListResponse] {
				return pageR[dns.PrivateZonesClientListResponse](s)
			},
			NewListByResourceGroupPager: func(string, *dns.PrivateZonesClientListByResourceGroupOptions) azfake.PagerResponder[dns.PrivateZonesClientListByResourceGroupResponse] {
				return pageR[dns.PrivateZonesClientListByResourceGroupResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _ string, body dns.PrivateZone, _ *dns.PrivateZonesClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[dns.PrivateZonesClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[dns.PrivateZonesClientCreateOrUpdateResponse](s, body)
			},
		},
		VirtualNetworkLinksServer: dnsfake.VirtualNetworkLinksServer{
			Get: func(ctx, string, string, string, *dns.VirtualNetworkLinksClientGetOptions) (azfake.Responder[dns.VirtualNetworkLinksClientGetResponse], azfake.ErrorResponder) {
				return getR[dns.VirtualNetworkLinksClientGetResponse](s)
			},
			BeginCreateOrUpdate: func(_ ctx, _, _, _ string, body dns.VirtualNetworkLink, _ *dns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[dns.VirtualNetworkLinksClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putLRO[dns.VirtualNetworkLinksClientCreateOrUpdateResponse](s, body)
			},
			BeginDelete: func(ctx, string, string, string, *dns.VirtualNetworkLinksClientBeginDeleteOptions) (azfake.PollerResponder[dns.VirtualNetworkLinksClientDeleteResponse], azfake.ErrorResponder) {
				return delLRO[dns.VirtualNetworkLinksClientDeleteResponse](s)
			},
			NewListPager: func(string, string, *dns.VirtualNetworkLinksClientListOptions) azfake.PagerResponder[dns.VirtualNetworkLinksClientListResponse] {
				return pageR[dns.VirtualNetworkLinksClientListResponse](s)
			},
		},
		RecordSetsServer: dnsfake.RecordSetsServer{
			Get: func(ctx, string, string, dns.RecordType, string, *dns.RecordSetsClientGetOptions) (azfake.Responder[dns.RecordSetsClientGetResponse], azfake.ErrorResponder) {
				return getR[dns.RecordSetsClientGetResponse](s)
			},
			NewListPager: func(string, string, *dns.RecordSetsClientListOptions) azfake.PagerResponder[dns.RecordSetsClientListResponse] {
				return pageR[dns.RecordSetsClientListResponse](s)
			},
			NewListByTypePager: func(string, string, dns.RecordType, *dns.RecordSetsClientListByTypeOptions) azfake.PagerResponder[dns.RecordSetsClientListByTypeResponse] {
				return pageR[dns.RecordSetsClientListByTypeResponse](s)
			},
			CreateOrUpdate: func(_ ctx, _, _ string, _ dns.RecordType, _ string, body dns.RecordSet, _ *dns.RecordSetsClientCreateOrUpdateOptions) (azfake.Responder[dns.RecordSetsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
				return putSync[dns.RecordSetsClientCreateOrUpdateResponse](s, body)
			},
			Delete: func(ctx, string, string, dns.RecordType, string, *dns.RecordSetsClientDeleteOptions) (azfake.Responder[dns.RecordSetsClientDeleteResponse], azfake.ErrorResponder) {
				return delSync[dns.RecordSetsClientDeleteResponse](s)
			},
		},
	}
}

// modelCheck decodes a stored resource into its SDK model type, so a
// scenario with a wrongly typed field fails at load, not at the first GET.
func modelCheck(lt string, raw []byte) error {
	var v any
	switch lt {
	case tWorkspace:
		v = &hc.Workspace{}
	case tWsConn:
		v = &hc.PrivateEndpointConnectionDescription{}
	case tFhir:
		v = &hc.FhirService{}
	case tDicom:
		v = &hc.DicomService{}
	case tService:
		v = &hc.ServicesDescription{}
	case tSvcConn:
		v = &hc.PrivateEndpointConnection{}
	case tPE:
		v = &nw.PrivateEndpoint{}
	case tZoneGroup:
		v = &nw.PrivateDNSZoneGroup{}
	case tNIC:
		v = &nw.Interface{}
	case tVNet:
		v = &nw.VirtualNetwork{}
	case tPeering:
		v = &nw.VirtualNetworkPeering{}
	case tZone:
		v = &dns.PrivateZone{}
	case tLink:
		v = &dns.VirtualNetworkLink{}
	default:
		if isRecordType(lt) {
			v = &dns.RecordSet{}
		} else {
			return nil
		}
	}
	return json.Unmarshal(raw, v)
}
