package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	hc "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	nw "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	dns "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/clock"
)

var fast = &runtime.PollUntilDoneOptions{Frequency: time.Millisecond}

func zoneGroupBody(zoneIDs ...string) nw.PrivateDNSZoneGroup {
	var cfgs []*nw.PrivateDNSZoneConfig
	for _, id := range zoneIDs {
		cfgs = append(cfgs, &nw.PrivateDNSZoneConfig{
			Name:       to.Ptr(strings.ReplaceAll(id[strings.LastIndex(id, "/")+1:], ".", "-")),
			Properties: &nw.PrivateDNSZonePropertiesFormat{PrivateDNSZoneID: to.Ptr(id)},
		})
	}
	return nw.PrivateDNSZoneGroup{Properties: &nw.PrivateDNSZoneGroupPropertiesFormat{PrivateDNSZoneConfigs: cfgs}}
}

func putZoneGroup(t *testing.T, c clients, zoneIDs ...string) {
	t.Helper()
	ctx := context.Background()
	if len(zoneIDs) == 0 {
		zoneIDs = []string{fhirZone}
	}
	p, err := c.zgs.BeginCreateOrUpdate(ctx, "rg-net", "pe1", "default", zoneGroupBody(zoneIDs...), nil)
	if err != nil {
		t.Fatalf("zone group: %v", err)
	}
	if _, err := p.PollUntilDone(ctx, fast); err != nil {
		t.Fatalf("zone group poll: %v", err)
	}
}

// aRecord reads an A record of privatelink.fhir.azurehealthcareapis.com.
func aRecord(t *testing.T, c clients, name string) (ips []string, ttl int64, err error) {
	t.Helper()
	return aRecordIn(t, c, fhirZoneNm, name)
}

func aRecordIn(t *testing.T, c clients, zone, name string) (ips []string, ttl int64, err error) {
	t.Helper()
	rs, err := c.records.Get(context.Background(), "rg-dns", zone, dns.RecordTypeA, name, nil)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range rs.Properties.ARecords {
		ips = append(ips, *a.IPv4Address)
	}
	return ips, *rs.Properties.TTL, nil
}

func TestZoneGroupCreatesARecordOnlyWhenApproved(t *testing.T) {
	_, c := loadMinimal(t)
	putZoneGroup(t, c)
	if _, _, err := aRecord(t, c, "ws1-fhir1"); err == nil {
		t.Fatal("a pending endpoint's zone group wrote an A record")
	}
	if err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusApproved, "ok"); err != nil {
		t.Fatalf("approve: %v", err)
	}
	ips, ttl, err := aRecord(t, c, "ws1-fhir1")
	if err != nil {
		t.Fatalf("A record after approval: %v", err)
	}
	if diff := cmp.Diff(ips, []string{"10.0.1.4"}); diff != "" || ttl != 10 {
		t.Errorf("A ws1-fhir1 = %v ttl %d, want 10.0.1.4 ttl 10 (%s)", ips, ttl, diff)
	}
	zg, err := c.zgs.Get(context.Background(), "rg-net", "pe1", "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	sets := zg.Properties.PrivateDNSZoneConfigs[0].Properties.RecordSets
	if len(sets) != 1 || *sets[0].RecordSetName != "ws1-fhir1" || *sets[0].Fqdn != "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com" {
		t.Errorf("zone group record sets = %+v", sets)
	}
}

// As in Azure, a zone group writes each FQDN of the endpoint into the zone
// of the private DNS table that serves it: a workspace FHIR name into
// privatelink.fhir... as "{ws}-{fhir}", never into the legacy zone as
// "{ws}-{fhir}.fhir", even when the group names the legacy zone too.
func TestZoneGroupWritesRecordsOnlyIntoTheZoneServingTheName(t *testing.T) {
	_, c := loadMinimal(t)
	if err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	putZoneGroup(t, c, zone1, fhirZone)
	if ips, _, err := aRecordIn(t, c, fhirZoneNm, "ws1-fhir1"); err != nil || len(ips) != 1 || ips[0] != "10.0.1.4" {
		t.Errorf("A ws1-fhir1 in %s = %v, %v; want 10.0.1.4", fhirZoneNm, ips, err)
	}
	for _, name := range []string{"ws1-fhir1.fhir", "ws1-fhir1"} {
		if _, _, err := aRecordIn(t, c, zoneNm, name); err == nil {
			t.Errorf("the legacy zone %s got record %q for a workspace name", zoneNm, name)
		}
	}
	zg, err := c.zgs.Get(context.Background(), "rg-net", "pe1", "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range zg.Properties.PrivateDNSZoneConfigs {
		n := len(cfg.Properties.RecordSets)
		if strings.HasSuffix(*cfg.Properties.PrivateDNSZoneID, fhirZoneNm) != (n == 1) {
			t.Errorf("zone config %s lists %d record sets", *cfg.Properties.PrivateDNSZoneID, n)
		}
	}
}

func TestZoneGroupOnApprovedEndpointWritesRecordAtOnce(t *testing.T) {
	_, c := loadMinimal(t)
	if err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	putZoneGroup(t, c)
	if ips, _, err := aRecord(t, c, "ws1-fhir1"); err != nil || len(ips) != 1 {
		t.Errorf("A record = %v, %v", ips, err)
	}
}

func linkBody(vnetID string) dns.VirtualNetworkLink {
	return dns.VirtualNetworkLink{
		Location: to.Ptr("global"),
		Tags:     map[string]*string{"managed-by": to.Ptr("private-link-autopilot")},
		Properties: &dns.VirtualNetworkLinkProperties{
			VirtualNetwork:      &dns.SubResource{ID: to.Ptr(vnetID)},
			RegistrationEnabled: to.Ptr(false),
		},
	}
}

func createLink(c clients, name string, opts *dns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions) (dns.VirtualNetworkLinksClientCreateOrUpdateResponse, error) {
	ctx := context.Background()
	p, err := c.links.BeginCreateOrUpdate(ctx, "rg-dns", zoneNm, name, linkBody(vnet1), opts)
	if err != nil {
		return dns.VirtualNetworkLinksClientCreateOrUpdateResponse{}, err
	}
	return p.PollUntilDone(ctx, fast)
}

func statusCode(err error) (int, string) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode, re.ErrorCode
	}
	return 0, ""
}

func TestLinkETagSemantics(t *testing.T) {
	_, c := loadMinimal(t)
	createOnly := &dns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")}
	first, err := createLink(c, "vnet1-link", createOnly)
	if err != nil {
		t.Fatalf("first create: %v", err)
	}
	if first.Etag == nil || *first.Properties.VirtualNetworkLinkState != dns.VirtualNetworkLinkStateCompleted {
		t.Fatalf("created link = %+v, want an etag and state Completed", first.Properties)
	}
	_, err = createLink(c, "vnet1-link", createOnly)
	if st, code := statusCode(err); st != http.StatusPreconditionFailed || code != "PreconditionFailed" {
		t.Errorf("second create-only: got %d %s (%v), want 412 PreconditionFailed", st, code, err)
	}
	_, err = createLink(c, "vnet1-link", &dns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions{IfMatch: to.Ptr("stale")})
	if st, _ := statusCode(err); st != http.StatusPreconditionFailed {
		t.Errorf("update with a stale etag: got %v, want 412", err)
	}
	upd, err := createLink(c, "vnet1-link", &dns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions{IfMatch: first.Etag})
	if err != nil {
		t.Fatalf("update with current etag: %v", err)
	}
	if *upd.Etag == *first.Etag {
		t.Error("an update kept the etag")
	}
	ctx := context.Background()
	dp, err := c.links.BeginDelete(ctx, "rg-dns", zoneNm, "vnet1-link", &dns.VirtualNetworkLinksClientBeginDeleteOptions{IfMatch: first.Etag})
	if err == nil {
		_, err = dp.PollUntilDone(ctx, fast)
	}
	if st, _ := statusCode(err); st != http.StatusPreconditionFailed {
		t.Errorf("delete with a stale etag: got %v, want 412", err)
	}
	dp, err = c.links.BeginDelete(ctx, "rg-dns", zoneNm, "vnet1-link", &dns.VirtualNetworkLinksClientBeginDeleteOptions{IfMatch: upd.Etag})
	if err == nil {
		_, err = dp.PollUntilDone(ctx, fast)
	}
	if err != nil {
		t.Fatalf("delete with current etag: %v", err)
	}
	if _, err := c.links.Get(ctx, "rg-dns", zoneNm, "vnet1-link", nil); err == nil {
		t.Error("link still readable after delete")
	}
}

func TestSecondLinkToSameVNetConflicts(t *testing.T) {
	_, c := loadMinimal(t)
	if _, err := createLink(c, "a", nil); err != nil {
		t.Fatal(err)
	}
	_, err := createLink(c, "b", nil)
	if st, _ := statusCode(err); st != http.StatusConflict {
		t.Errorf("second link to the same vnet: %v, want 409", err)
	}
}

func TestMissingResourceIs404WithErrorCode(t *testing.T) {
	_, c := loadMinimal(t)
	ctx := context.Background()
	cases := map[string]func() error{
		"endpoint": func() error { _, err := c.pes.Get(ctx, "rg-net", "nope", nil); return err },
		"workspace connection": func() error {
			_, err := c.wsConns.Get(ctx, "rg-health", "ws1", "nope", nil)
			return err
		},
		"connections of a missing workspace": func() error {
			_, err := c.wsConns.NewListByWorkspacePager("rg-health", "nope", nil).NextPage(ctx)
			return err
		},
		"record set": func() error { _, _, err := aRecord(t, c, "nope"); return err },
	}
	for name, call := range cases {
		t.Run(name, func(t *testing.T) {
			st, code := statusCode(call())
			if st != http.StatusNotFound || code != "ResourceNotFound" {
				t.Errorf("got %d %q, want 404 ResourceNotFound", st, code)
			}
		})
	}
}

func TestInjected429CarriesRetryAfterAndIsCounted(t *testing.T) {
	sb, c := loadMinimal(t, WithFaultRules(FaultRule{Operation: "PrivateEndpointsClient.Get", Status: 429, RetryAfter: Duration(7 * time.Second), Count: 1}))
	// no retries: the caller sees the 429 itself
	opts := sb.ClientOptions()
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	pes, err := nw.NewPrivateEndpointsClient(sub1, sb.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pes.Get(context.Background(), "rg-net", "pe1", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 429 {
		t.Fatalf("got %v, want a 429", err)
	}
	if ra := re.RawResponse.Header.Get("Retry-After"); ra != "7" {
		t.Errorf("Retry-After = %q, want 7", ra)
	}
	if _, err := c.pes.Get(context.Background(), "rg-net", "pe1", nil); err != nil {
		t.Errorf("the rule fails only once (Count 1): %v", err)
	}
	st := sb.Stats()
	if st.Faults[429] != 1 || st.Reads != 2 || st.ByAPI["PrivateEndpointsClient.Get"] != 2 {
		t.Errorf("stats = %+v, want one 429 out of two endpoint reads", st)
	}
}

func TestRetryAfterBeyondCapSurfacesThe429(t *testing.T) {
	sb, _ := loadMinimal(t, WithFaultRules(FaultRule{Method: "PUT", Status: 429, RetryAfter: Duration(90 * time.Second)}))
	opts := sb.ClientOptions()
	opts.Retry.MaxRetryDelay = 5 * time.Second
	links, err := dns.NewVirtualNetworkLinksClient(sub1, sb.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = links.BeginCreateOrUpdate(context.Background(), "rg-dns", zoneNm, "l", linkBody(vnet1), nil)
	if st, _ := statusCode(err); st != 429 {
		t.Fatalf("got %v, want the 429 back without waiting", err)
	}
	if got := sb.Stats().Faults[429]; got != 1 {
		t.Errorf("%d attempts, want 1 (azcore gives up when Retry-After exceeds MaxRetryDelay)", got)
	}
}

func TestRandomFaultsAreRetriedBySDK(t *testing.T) {
	sb, c := loadMinimal(t, WithRandomFaults(1, RandomFault{Status: 500, Rate: 0.25}))
	for range 20 {
		if _, err := c.vnets.Get(context.Background(), "rg-net", "vnet1", nil); err != nil {
			// with MaxRetries 3 a run of four 500s is possible but the seed is fixed
			t.Fatalf("get vnet: %v", err)
		}
	}
	st := sb.Stats()
	if st.Faults[500] == 0 || st.Reads != 20+st.Faults[500] {
		t.Errorf("stats = %+v: want some 500s, each retried", st)
	}
}

func TestTokenBucketThrottlesThe201stWriteAndRefills(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	sb, err := Load(minimal, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	opts := sb.ClientOptions()
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	rs, err := dns.NewRecordSetsClient(sub1, sb.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	put := func() error {
		_, err := rs.CreateOrUpdate(context.Background(), "rg-dns", zoneNm, dns.RecordTypeA, "x", dns.RecordSet{Properties: &dns.RecordSetProperties{
			TTL: to.Ptr[int64](10), ARecords: []*dns.ARecord{{IPv4Address: to.Ptr("10.0.1.9")}},
		}}, nil)
		return err
	}
	for i := range 200 {
		if err := put(); err != nil {
			t.Fatalf("write %d: %v", i+1, err)
		}
	}
	err = put()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 429 || re.ErrorCode != "SubscriptionRequestsThrottled" {
		t.Fatalf("write 201: %v, want 429 SubscriptionRequestsThrottled", err)
	}
	if ra := re.RawResponse.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1 (10 writes/s)", ra)
	}
	clk.Advance(time.Second)
	for i := range 10 {
		if err := put(); err != nil {
			t.Fatalf("write %d after 1s refill: %v", i+1, err)
		}
	}
	if err := put(); err == nil {
		t.Error("the 11th write after a 1 s refill passed")
	}
	if got := sb.Stats().Throttled; got != 2 {
		t.Errorf("throttled = %d, want 2", got)
	}
	// reads have their own bucket
	if _, err := c0(t, sb).zones.Get(context.Background(), "rg-dns", zoneNm, nil); err != nil {
		t.Errorf("a read after the write bucket emptied: %v", err)
	}
}

func c0(t *testing.T, sb *Sandbox) clients { return newClients(t, sb, sub1) }

func TestLROAndLinkStateOptions(t *testing.T) {
	_, c := loadMinimal(t, WithLROPolls(2), WithLinkInProgressReads(1))
	ctx := context.Background()
	p, err := c.links.BeginCreateOrUpdate(ctx, "rg-dns", zoneNm, "l", linkBody(vnet1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done() {
		t.Fatal("poller done at once, want 2 polls")
	}
	polls := 0
	for !p.Done() {
		if _, err := p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		polls++
	}
	if polls != 2 {
		t.Errorf("polls = %d, want 2", polls)
	}
	got := []dns.VirtualNetworkLinkState{}
	for range 2 {
		l, err := c.links.Get(ctx, "rg-dns", zoneNm, "l", nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *l.Properties.VirtualNetworkLinkState)
	}
	if diff := cmp.Diff(got, []dns.VirtualNetworkLinkState{dns.VirtualNetworkLinkStateInProgress, dns.VirtualNetworkLinkStateCompleted}); diff != "" {
		t.Errorf("link states (-got +want):\n%s", diff)
	}
}

func TestPutEndpointCreatesPendingConnectionOnTarget(t *testing.T) {
	sb, c := loadMinimal(t)
	pe := `{"id": "/subscriptions/` + sub1 + `/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe2",
	  "type": "Microsoft.Network/privateEndpoints", "location": "westeurope", "tags": {"team": "billing"},
	  "properties": {"subnet": {"id": "` + vnet1 + `/subnets/endpoints"},
	    "manualPrivateLinkServiceConnections": [{"name": "pe2", "properties": {
	      "privateLinkServiceId": "` + ws1 + `", "groupIds": ["healthcareworkspace"], "requestMessage": "billing needs fhir"}}]}}`
	if err := sb.Put(json.RawMessage(pe)); err != nil {
		t.Fatalf("put: %v", err)
	}
	ctx := context.Background()
	var pending []string
	pager := c.wsConns.NewListByWorkspacePager("rg-health", "ws1", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, conn := range page.Value {
			st := conn.Properties.PrivateLinkServiceConnectionState
			pending = append(pending, string(*st.Status)+" "+*st.Description+" "+*conn.Properties.PrivateEndpoint.ID)
		}
	}
	want := []string{
		"Pending please approve " + pe1,
		"Pending billing needs fhir /subscriptions/" + sub1 + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe2",
	}
	if diff := cmp.Diff(pending, want); diff != "" {
		t.Errorf("workspace connections (-got +want):\n%s", diff)
	}
	got, err := c.pes.Get(ctx, "rg-net", "pe2", &nw.PrivateEndpointsClientGetOptions{Expand: to.Ptr("networkInterfaces")})
	if err != nil {
		t.Fatal(err)
	}
	if ip := *got.Properties.NetworkInterfaces[0].Properties.IPConfigurations[0].Properties.PrivateIPAddress; ip != "10.0.1.5" {
		t.Errorf("new endpoint IP = %s, want 10.0.1.5 (next free after 10.0.1.4)", ip)
	}
	if st := *got.Properties.ManualPrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState.Status; st != "Pending" {
		t.Errorf("endpoint side = %s, want Pending", st)
	}
	if err := sb.Delete(*got.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := sb.Get(*got.Properties.NetworkInterfaces[0].ID); ok {
		t.Error("deleting the endpoint left its NIC")
	}
	ws, _ := sb.Get(ws1)
	if strings.Contains(string(ws), "pe2") {
		t.Error("deleting the endpoint left its connection on the workspace")
	}
}

func TestScenarioLoadErrorsNameFileResourceAndField(t *testing.T) {
	dir := t.TempDir()
	vnet := `{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "type": "Microsoft.Network/virtualNetworks", "properties": {"addressSpace": {"addressPrefixes": [%s]}}}`
	cases := []struct {
		name, file, body string
		want             []string
	}{
		{"missing id", "a.json", `[{"type": "Microsoft.Network/virtualNetworks"}]`, []string{"a.json", "resource 0", "field id"}},
		{"type does not match id", "b.json", `{"resources": [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "type": "Microsoft.Network/privateEndpoints"}]}`, []string{"b.json", "resource 0", "field type"}},
		{"bad prefix", "c.json", `[` + strings.Replace(vnet, "%s", `"10.0.0.0/33"`, 1) + `]`, []string{"c.json", "resource 0", "virtualNetworks/v", "properties.addressSpace.addressPrefixes[0]"}},
		{"wrong json type", "d.yaml", "resources:\n  - id: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/z/A/r\n    properties: {ttl: ten}\n", []string{"d.yaml", "resource 0", "ttl"}},
		{"endpoint without target", "e.json", `[{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/p", "properties": {"subnet": {"id": "x"}, "manualPrivateLinkServiceConnections": [{"name": "c", "properties": {}}]}}]`, []string{"e.json", "privateEndpoints/p", "properties.manualPrivateLinkServiceConnections[0].properties.privateLinkServiceId"}},
		{"typo in a resource key", "i.yaml", "resources:\n  - id: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v\n    propertes: {}\n", []string{"i.yaml", "resource 0", "field propertes", "unknown key"}},
		{"unknown top-level key", "f.json", `{"resource": []}`, []string{"f.json", "unknown field"}},
		{"duplicate", "g.json", `[` + strings.Replace(vnet, "%s", `"10.0.0.0/16"`, 1) + `,` + strings.Replace(vnet, "%s", `"10.0.0.0/16"`, 1) + `]`, []string{"g.json", "resource 1", "duplicate of resource 0"}},
		{"embedded child", "h.json", `[{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/w", "properties": {"privateEndpointConnections": [{"name": "c", "properties": {"privateLinkServiceConnectionState": {"status": "Maybe"}, "privateEndpoint": {"id": "x"}}}]}}]`, []string{"h.json", "resource 0", "properties.privateEndpointConnections[0]", "Maybe"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.file)
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestUnknownTypesAreKeptWithAWarning(t *testing.T) {
	sc, err := ParseScenario([]byte(`[{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope"}]`), ".json")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if w := sb.Warnings(); len(w) != 1 || !strings.Contains(w[0], "Microsoft.Storage/storageAccounts") {
		t.Errorf("warnings = %v", w)
	}
	if _, ok := sb.Get("/subscriptions/S/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/ST"); !ok {
		t.Error("unknown resource not readable by case-insensitive id")
	}
}

// Every FQDN kind of the private DNS table lands in its own zone under the
// name Azure gives it: {ws} in privatelink.workspace..., {ws}-{fhir} in
// privatelink.fhir..., {ws}-{dicom} in privatelink.dicom..., {name} in
// privatelink.azurehealthcareapis.com; a zone serving none of the names gets
// none.
func TestZoneGroupRecordNamesPerDNSTable(t *testing.T) {
	sb, c := loadMinimal(t)
	zoneIDs := []string{zone1, fhirZone}
	for _, n := range []string{"privatelink.workspace.azurehealthcareapis.com", "privatelink.dicom.azurehealthcareapis.com"} {
		id := strings.Replace(zone1, "privatelink.azurehealthcareapis.com", n, 1)
		body, _ := json.Marshal(map[string]any{"id": id, "location": "global", "properties": map[string]any{}})
		if err := sb.Put(body); err != nil {
			t.Fatal(err)
		}
		zoneIDs = append(zoneIDs, id)
	}
	names := map[string]string{
		"ws1.workspace.azurehealthcareapis.com":  "privatelink.workspace.azurehealthcareapis.com/ws1",
		"ws1-fhir1.fhir.azurehealthcareapis.com": "privatelink.fhir.azurehealthcareapis.com/ws1-fhir1",
		"ws1-img.dicom.azurehealthcareapis.com":  "privatelink.dicom.azurehealthcareapis.com/ws1-img",
		"legacy1.azurehealthcareapis.com":        "privatelink.azurehealthcareapis.com/legacy1",
		"evil.fhir.attacker.example":             "",
	}
	sb.mu.Lock()
	var cdc []any
	for f := range names {
		cdc = append(cdc, map[string]any{"fqdn": f, "ipAddresses": []any{"10.0.1.4"}})
	}
	ensure(sb.lookup(pe1).body, "properties")["customDnsConfigs"] = cdc
	sb.mu.Unlock()
	if err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	putZoneGroup(t, c, zoneIDs...)
	var got []string
	for _, id := range zoneIDs {
		zn := id[strings.LastIndex(id, "/")+1:]
		p := c.records.NewListByTypePager("rg-dns", zn, dns.RecordTypeA, nil)
		for p.More() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Value {
				got = append(got, zn+"/"+*r.Name)
			}
		}
	}
	var want []string
	for _, w := range names {
		if w != "" && !slices.Contains(want, w) {
			want = append(want, w)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("A records (-got +want):\n%s", diff)
	}
}
