package events

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azsystemevents"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

const (
	fixturesDir = "../../../shared/fixtures/eventgrid"
	eventsDir   = "../../testdata/events"

	appSub   = "00000000-0000-0000-0000-0000000000bb"
	platSub  = "00000000-0000-0000-0000-0000000000aa"
	tenantID = "00000000-0000-0000-0000-0000000000ff"

	peID      = "/subscriptions/" + appSub + "/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
	vnetID    = "/subscriptions/" + appSub + "/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	hubVNetID = "/subscriptions/" + platSub + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	zoneID    = "/subscriptions/" + platSub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	wsID      = "/subscriptions/" + platSub + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	svcID     = "/subscriptions/" + platSub + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx"

	userOID = "11111111-2222-4333-8444-555555555501"
	miOID   = "11111111-2222-4333-8444-5555555555a1"
	miAppID = "11111111-2222-4333-8444-5555555555a2"
)

// fixtureFiles lists every file under the shared Event Grid fixtures.
func fixtureFiles(t testing.TB) []string {
	t.Helper()
	if _, err := os.Stat(fixturesDir); err != nil {
		t.Skipf("shared fixtures not found at %s: %v", fixturesDir, err)
	}
	var files []string
	err := filepath.WalkDir(fixturesDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", fixturesDir, err)
	}
	if len(files) == 0 {
		t.Fatalf("no fixture files in %s", fixturesDir)
	}
	return files
}

func eventFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no event files in %s: %v", eventsDir, err)
	}
	return files
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseFile(t *testing.T, path string) Event {
	t.Helper()
	evs, bad := ParseBatch(readFile(t, path))
	if len(bad) != 0 || len(evs) != 1 {
		t.Fatalf("%s: got %d events and malformed %+v, want one event", path, len(evs), bad)
	}
	return evs[0]
}

func TestFixturesParseAndAreIgnored(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			body := readFile(t, path)
			if name == "subscription-validation-response.json" {
				// The documented answer, not an event: it must decode into
				// the shape the webhook writes.
				var got ValidationResponse
				if err := json.Unmarshal(body, &got); err != nil || got.ValidationResponse == "" {
					t.Fatalf("validation response fixture: %+v, %v", got, err)
				}
				return
			}
			evs, bad := ParseBatch(body)
			if len(bad) > 0 {
				t.Fatalf("malformed: %+v", bad)
			}
			if len(evs) == 0 {
				t.Fatal("no events parsed")
			}
			for _, ev := range evs {
				wantSchema := SchemaEventGrid
				if strings.Contains(name, "cloudevents") {
					wantSchema = SchemaCloudEvents
				}
				if ev.Schema != wantSchema {
					t.Errorf("schema: got %q, want %q", ev.Schema, wantSchema)
				}
				c := Classify(ev)
				if !c.Ignored || c.Reason == "" || c.Kind != KindIgnored {
					t.Fatalf("got %+v, want ignored with a reason", c)
				}
				var wantReason string
				switch {
				case ev.IsValidation():
					wantReason = "subscription validation"
					if ev.ValidationCode != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
						t.Errorf("validation code: got %q", ev.ValidationCode)
					}
				case strings.Contains(ev.Type, "Failure") || strings.Contains(ev.Type, "Cancel"):
					wantReason = "failed or cancelled"
				default:
					wantReason = "is not one the autopilot acts on"
				}
				if !strings.Contains(c.Reason, wantReason) {
					t.Errorf("reason: got %q, want it to contain %q", c.Reason, wantReason)
				}
				if name == "subscription-validation.eventgrid.json" && !ev.IsValidation() {
					t.Errorf("validation event not recognised: type %q", ev.Type)
				}
			}
		})
	}
}

// triggerOfKind is the job trigger each kind of event must give.
var triggerOfKind = map[Kind]jobs.Trigger{
	KindEndpointWritten: jobs.TriggerEndpoint, KindEndpointDeleted: jobs.TriggerEndpoint,
	KindConnectionChanged: jobs.TriggerConnection,
	KindZoneGroupWritten:  jobs.TriggerZoneGroup, KindZoneGroupDeleted: jobs.TriggerZoneGroup,
	KindVNetWritten: jobs.TriggerVNet, KindVNetDeleted: jobs.TriggerVNet,
	KindPeeringWritten: jobs.TriggerPeering, KindPeeringDeleted: jobs.TriggerPeering,
	KindLinkWritten: jobs.TriggerLink, KindLinkDeleted: jobs.TriggerLink,
	KindTargetWritten: jobs.TriggerTarget,
}

func TestRealisticEvents(t *testing.T) {
	cliUser := core.Principal{ObjectID: userOID, AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", TenantID: tenantID, UPN: "dana@contoso.example", DisplayName: "Dana Lopez"}
	autopilot := core.Principal{ObjectID: miOID, AppID: miAppID, TenantID: tenantID}
	tests := []struct {
		file    string
		kind    Kind
		subject jobs.Subject
		target  string
		deleted bool
		actor   core.Principal
		reason  string // for ignored events
	}{
		{file: "endpoint-write.eventgrid.json", kind: KindEndpointWritten, subject: jobs.SubjectEndpoint, target: peID, actor: cliUser},
		{file: "endpoint-write.cloudevents.json", kind: KindEndpointWritten, subject: jobs.SubjectEndpoint, target: peID, actor: cliUser},
		{file: "endpoint-delete.eventgrid.json", kind: KindEndpointDeleted, subject: jobs.SubjectEndpoint, target: peID, deleted: true, actor: cliUser},
		{file: "endpoint-delete.cloudevents.json", kind: KindEndpointDeleted, subject: jobs.SubjectEndpoint, target: peID, deleted: true, actor: cliUser},
		{file: "connection-write.eventgrid.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: wsID, actor: autopilot},
		{file: "connection-write.cloudevents.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: wsID, actor: autopilot},
		{file: "connection-write-service.eventgrid.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: svcID, actor: cliUser},
		{file: "connection-write-service.cloudevents.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: svcID, actor: cliUser},
		{file: "connection-proxy-write.eventgrid.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: wsID, actor: cliUser},
		{file: "connection-proxy-write.cloudevents.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: wsID, actor: cliUser},
		{file: "connection-delete.eventgrid.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: wsID, actor: cliUser},
		{file: "connection-delete.cloudevents.json", kind: KindConnectionChanged, subject: jobs.SubjectTarget, target: wsID, actor: cliUser},
		{file: "zonegroup-write.eventgrid.json", kind: KindZoneGroupWritten, subject: jobs.SubjectEndpoint, target: peID, actor: cliUser},
		{file: "zonegroup-write.cloudevents.json", kind: KindZoneGroupWritten, subject: jobs.SubjectEndpoint, target: peID, actor: autopilot},
		{file: "zonegroup-delete.eventgrid.json", kind: KindZoneGroupDeleted, subject: jobs.SubjectEndpoint, target: peID, actor: cliUser},
		{file: "zonegroup-delete.cloudevents.json", kind: KindZoneGroupDeleted, subject: jobs.SubjectEndpoint, target: peID, actor: cliUser},
		{file: "vnet-write.eventgrid.json", kind: KindVNetWritten, subject: jobs.SubjectVNet, target: vnetID, actor: cliUser},
		{file: "vnet-write.cloudevents.json", kind: KindVNetWritten, subject: jobs.SubjectVNet, target: vnetID, actor: cliUser},
		{file: "vnet-delete.eventgrid.json", kind: KindVNetDeleted, subject: jobs.SubjectVNet, target: vnetID, deleted: true, actor: cliUser},
		{file: "vnet-delete.cloudevents.json", kind: KindVNetDeleted, subject: jobs.SubjectVNet, target: vnetID, deleted: true, actor: cliUser},
		{file: "peering-write.eventgrid.json", kind: KindPeeringWritten, subject: jobs.SubjectVNet, target: vnetID, actor: cliUser},
		{file: "peering-write.cloudevents.json", kind: KindPeeringWritten, subject: jobs.SubjectVNet, target: vnetID, actor: cliUser},
		{file: "peering-write-hub.eventgrid.json", kind: KindPeeringWritten, subject: jobs.SubjectVNet, target: hubVNetID, actor: cliUser},
		{file: "peering-delete.cloudevents.json", kind: KindPeeringDeleted, subject: jobs.SubjectVNet, target: vnetID, actor: cliUser},
		{file: "link-delete.eventgrid.json", kind: KindLinkDeleted, subject: jobs.SubjectZone, target: zoneID, actor: cliUser},
		{file: "link-delete.cloudevents.json", kind: KindLinkDeleted, subject: jobs.SubjectZone, target: zoneID, actor: cliUser},
		{file: "link-write.eventgrid.json", kind: KindLinkWritten, subject: jobs.SubjectZone, target: zoneID, actor: autopilot},
		{file: "link-write.cloudevents.json", kind: KindLinkWritten, subject: jobs.SubjectZone, target: zoneID, actor: cliUser},
		{file: "deployment-temp-id.eventgrid.json", kind: KindIgnored, reason: "temporary id"},
		{file: "deployment-temp-id.cloudevents.json", kind: KindIgnored, reason: "temporary id"},
		{file: "failure.eventgrid.json", kind: KindIgnored, reason: "failed or cancelled"},
		{file: "failure.cloudevents.json", kind: KindIgnored, reason: "failed or cancelled"},
		{file: "status-accepted.eventgrid.json", kind: KindEndpointWritten, subject: jobs.SubjectEndpoint, target: peID, actor: cliUser},
		{file: "other-operation.cloudevents.json", kind: KindIgnored, reason: "not one the autopilot acts on"},
		// a target's own write (public network access turned back on)
		{file: "workspace-write.eventgrid.json", kind: KindTargetWritten, subject: jobs.SubjectTarget, target: wsID, actor: cliUser},
		{file: "service-write.cloudevents.json", kind: KindTargetWritten, subject: jobs.SubjectTarget, target: svcID, actor: cliUser},
	}
	covered := map[string]bool{"batch-with-malformed.eventgrid.json": true}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			ev := parseFile(t, filepath.Join(eventsDir, tt.file))
			wantSchema := SchemaEventGrid
			if strings.Contains(tt.file, ".cloudevents.") {
				wantSchema = SchemaCloudEvents
			}
			if ev.Schema != wantSchema {
				t.Errorf("schema: got %q, want %q", ev.Schema, wantSchema)
			}
			c := Classify(ev)
			if c.Kind != tt.kind {
				t.Fatalf("kind: got %q (reason %q), want %q", c.Kind, c.Reason, tt.kind)
			}
			if tt.kind == KindIgnored {
				if !c.Ignored || !strings.Contains(c.Reason, tt.reason) {
					t.Errorf("got ignored=%v reason %q, want ignored with %q", c.Ignored, c.Reason, tt.reason)
				}
				return
			}
			if c.Ignored {
				t.Fatalf("ignored: %s", c.Reason)
			}
			if c.Subject != tt.subject {
				t.Errorf("subject: got %q, want %q", c.Subject, tt.subject)
			}
			if !core.SameID(c.TargetID, tt.target) {
				t.Errorf("target: got %q, want %q", c.TargetID, tt.target)
			}
			// "resourcegroups" in an event comes out as "resourceGroups".
			if !strings.Contains(c.TargetID, "/resourceGroups/") {
				t.Errorf("target %q: resource group segment not canonical", c.TargetID)
			}
			if c.Deleted != tt.deleted {
				t.Errorf("deleted: got %v, want %v", c.Deleted, tt.deleted)
			}
			if want := triggerOfKind[tt.kind]; c.Trigger != want || Job(c, fixedNow).Trigger != want {
				t.Errorf("trigger: got %q (job %q), want %q", c.Trigger, Job(c, fixedNow).Trigger, want)
			}
			if diff := cmp.Diff(ev.Principal, tt.actor); diff != "" {
				t.Errorf("principal (-got +want):\n%s", diff)
			}
		})
	}
	for _, f := range eventFiles(t) {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no expectation in TestRealisticEvents", f)
		}
	}
}

func TestNonStringClaimsDoNotFailTheEvent(t *testing.T) {
	raw := readFile(t, filepath.Join(eventsDir, "endpoint-write.cloudevents.json"))
	// The SDK's typed decoder fails on this event; that is why the tolerant
	// path exists. If the SDK learns to cope, this test still checks the
	// values below.
	var wire struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	var sdk azsystemevents.ResourceWriteSuccessEventData
	if err := json.Unmarshal(wire.Data, &sdk); err == nil {
		t.Log("note: azsystemevents now decodes non-string claims")
	}

	ev, err := ParseOne(raw)
	if err != nil {
		t.Fatalf("ParseOne: %v", err)
	}
	for claim, want := range map[string]string{
		"iat":    "1762250000",
		"groups": "6f1e2d3c-0000-4000-8000-00000000000a,6f1e2d3c-0000-4000-8000-00000000000b",
		"http://schemas.microsoft.com/claims/authnmethodsreferences":    "pwd,mfa",
		"http://schemas.microsoft.com/identity/claims/objectidentifier": userOID,
	} {
		if got := ev.Claims[claim]; got != want {
			t.Errorf("claim %q: got %q, want %q", claim, got, want)
		}
	}
	if ev.OperationName != OpEndpointWrite || ev.Action != OpEndpointWrite || ev.CorrelationID == "" {
		t.Errorf("data fields lost on the tolerant path: %+v", ev)
	}

	// object-valued and array-valued claims in a managed identity's token
	ev, err = ParseOne(readFile(t, filepath.Join(eventsDir, "connection-write.cloudevents.json")))
	if err != nil {
		t.Fatalf("ParseOne: %v", err)
	}
	if got, want := ev.Claims["xms_idrel"], `{"7":20}`; got != want {
		t.Errorf("object claim: got %q, want %q", got, want)
	}
	if got := ev.Claims["xms_az_nwperimid"]; got != "" {
		t.Errorf("empty array claim: got %q, want empty", got)
	}
}

func TestParseOneRejects(t *testing.T) {
	arm := func(mut func(m map[string]any)) string {
		m := map[string]any{
			"id": "e1", "eventType": azsystemevents.TypeResourceWriteSuccess, "subject": peID,
			"eventTime": "2026-11-04T09:15:02Z", "dataVersion": "2",
			"data": map[string]any{"operationName": OpEndpointWrite, "status": "Succeeded", "resourceUri": peID},
		}
		mut(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name   string
		in     string
		reason string
	}{
		{"not JSON", `{"id": "e1", `, "not JSON"},
		{"an array", `[1,2]`, "JSON array, want an object"},
		{"a number", `42`, "JSON number, want an object"},
		{"missing id", arm(func(m map[string]any) { delete(m, "id") }), `"id" is missing`},
		{"id an object", arm(func(m map[string]any) { m["id"] = map[string]any{} }), `"id" is a JSON object`},
		{"missing type", arm(func(m map[string]any) { delete(m, "eventType") }), `"eventType"`},
		{"empty subject", arm(func(m map[string]any) { m["subject"] = "" }), `"subject" is missing`},
		{"missing data", arm(func(m map[string]any) { delete(m, "data") }), `"data" is missing`},
		{"data an array", arm(func(m map[string]any) { m["data"] = []int{1} }), `"data" is a JSON array`},
		{"unparseable resource id", arm(func(m map[string]any) {
			m["data"] = map[string]any{"operationName": OpEndpointWrite, "resourceUri": "rg-app/pe-app-fhir"}
		}), `"data.resourceUri": invalid resource ID`},
		{"unparseable subject, no resourceUri", arm(func(m map[string]any) {
			m["subject"] = "pe-app-fhir"
			m["data"] = map[string]any{"operationName": OpEndpointWrite}
		}), `"subject": invalid resource ID`},
		{"operationName an object", arm(func(m map[string]any) {
			m["data"] = map[string]any{"operationName": map[string]any{"x": 1}, "resourceUri": peID, "claims": map[string]any{"iat": 1}}
		}), `"data.operationName" is a JSON object`},
		{"validation without code", `{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","subject":"","data":{}}`, "validationCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOne([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("got error %v, want one containing %q", err, tt.reason)
			}
		})
	}
}

func TestParseOneAccepts(t *testing.T) {
	peEvent := string(readFile(t, filepath.Join(eventsDir, "endpoint-write.cloudevents.json")))
	quoted, _ := json.Marshal(peEvent)
	twice, _ := json.Marshal(string(quoted))
	tests := []struct {
		name string
		in   string
	}{
		{"an event", peEvent},
		{"a JSON string holding the event", string(quoted)},
		{"a doubly quoted event", string(twice)},
		{"data_base64", `{"specversion":"1.0","id":"b1","type":"Microsoft.Resources.ResourceWriteSuccess","source":"/subscriptions/` + appSub + `","subject":"` + peID + `","data_base64":"eyJvcGVyYXRpb25OYW1lIjoiTWljcm9zb2Z0Lk5ldHdvcmsvcHJpdmF0ZUVuZHBvaW50cy93cml0ZSIsInN0YXR1cyI6IlN1Y2NlZWRlZCJ9"}`},
		{"time without zone", `{"id":"t1","eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2023-10-12T20:13:49","subject":"` + peID + `","data":{"operationName":"Microsoft.Network/privateEndpoints/write","status":"Succeeded"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseOne([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseOne: %v", err)
			}
			c := Classify(ev)
			if c.Kind != KindEndpointWritten || !core.SameID(c.TargetID, peID) {
				t.Fatalf("got %+v, want EndpointWritten on %s", c, peID)
			}
		})
	}
}

func TestParseBatchKeepsEventsBeforeBrokenJSON(t *testing.T) {
	good := strings.TrimSpace(string(readFile(t, filepath.Join(eventsDir, "endpoint-write.cloudevents.json"))))
	body := "[" + good + ", {\"id\": \"x\", \"type\": "
	evs, bad := ParseBatch([]byte(body))
	if len(evs) != 1 || evs[0].ID != "6a7b8c9d-0001-4c00-8000-000000000001" {
		t.Fatalf("got %d events, want the one before the fault", len(evs))
	}
	if len(bad) != 1 || bad[0].Index != 1 || !strings.Contains(bad[0].Reason, "not JSON") || !strings.HasPrefix(string(bad[0].Raw), `{"id"`) {
		t.Fatalf("got malformed %+v, want index 1 not JSON with the rest of the body", bad)
	}
}

func TestMalformedRawIsCapped(t *testing.T) {
	big := `{"id":"` + strings.Repeat("x", 3*MaxRawBytes) + `"}`
	_, bad := ParseBatch([]byte("[" + big + "]"))
	if len(bad) != 1 || len(bad[0].Raw) != MaxRawBytes {
		t.Fatalf("got %d malformed, raw %d bytes; want 1 capped at %d", len(bad), len(bad[0].Raw), MaxRawBytes)
	}
}

func TestHandledOperations(t *testing.T) {
	if len(HandledOperations) > 25 {
		t.Errorf("%d operations: an Event Grid StringIn filter takes at most 25 values", len(HandledOperations))
	}
	seen := map[string]bool{}
	for _, op := range HandledOperations {
		if seen[key(op)] {
			t.Errorf("%s listed twice", op)
		}
		seen[key(op)] = true
		if _, ok := rules[key(op)]; !ok {
			t.Errorf("%s is listed but has no classification rule", op)
		}
	}
	for k := range rules {
		if !seen[k] {
			t.Errorf("rule for %s is not in HandledOperations (the Event Grid filter would drop its events)", k)
		}
	}
}

// recordingSender is an in-memory jobs.Sender that collapses duplicate ids
// like Service Bus duplicate detection, and can be made to fail.
type recordingSender struct {
	mu    sync.Mutex
	sent  []jobs.Job
	seen  map[string]bool
	calls int
	fail  error
}

func (s *recordingSender) Send(_ context.Context, j jobs.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return s.fail
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[j.ID] {
		s.seen[j.ID] = true
		s.sent = append(s.sent, j)
	}
	return nil
}

var fixedNow = time.Date(2026, 11, 4, 9, 15, 30, 0, time.UTC)

func newIntake(q jobs.Sender, dead DeadStore) *Intake {
	return &Intake{Queue: q, Log: zerolog.Nop(), Dead: dead, Now: func() time.Time { return fixedNow }}
}

func TestIntakeEnqueuesJob(t *testing.T) {
	q := &recordingSender{}
	in := newIntake(q, NewMemDeadStore())
	res, err := in.Handle(context.Background(), readFile(t, filepath.Join(eventsDir, "endpoint-write.eventgrid.json")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 1 || res.Enqueued != 1 {
		t.Fatalf("result %+v, want 1 received and enqueued", res)
	}
	const evID = "6a7b8c9d-0001-4a00-8000-000000000001"
	want := jobs.Job{
		Version:       jobs.Version,
		ID:            jobs.NewID(jobs.KindReconcile, jobs.SubjectEndpoint, peID, evID),
		Kind:          jobs.KindReconcile,
		Subject:       jobs.SubjectEndpoint,
		TargetID:      peID, // the event said "resourcegroups"
		Attempt:       1,
		CorrelationID: "c1d2e3f4-0000-4000-8000-000000000001",
		Trigger:       jobs.TriggerEndpoint,
		Reason:        OpEndpointWrite,
		Actor: &core.Principal{ObjectID: userOID, AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", TenantID: tenantID, UPN: "dana@contoso.example", DisplayName: "Dana Lopez",
			Source: core.PrincipalSource{Kind: core.RequesterFromEndpointWrite, Operation: OpEndpointWrite,
				ResourceID: "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourcegroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir", EventID: evID}},
		Created: fixedNow,
	}
	if diff := cmp.Diff(q.sent, []jobs.Job{want}); diff != "" {
		t.Errorf("jobs (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(res.Receipts, []Receipt{{
		Index: 0, EventID: evID, EventType: azsystemevents.TypeResourceWriteSuccess, OperationName: OpEndpointWrite,
		Status: ReceiptEnqueued, Kind: KindEndpointWritten, JobID: want.ID, Subject: jobs.SubjectEndpoint, TargetID: peID,
	}}); diff != "" {
		t.Errorf("outcomes (-got +want):\n%s", diff)
	}
}

func TestIntakeDeleteJobAndCorrelationFallback(t *testing.T) {
	q := &recordingSender{}
	in := newIntake(q, NewMemDeadStore())
	raw := `{"id":"ev-no-corr","eventType":"Microsoft.Resources.ResourceDeleteSuccess","subject":"` + vnetID + `",` +
		`"data":{"operationName":"Microsoft.Network/virtualNetworks/delete","status":"Succeeded","resourceUri":"` + vnetID + `"}}`
	if _, err := in.HandleEvent(context.Background(), json.RawMessage(raw)); err != nil {
		t.Fatal(err)
	}
	if len(q.sent) != 1 {
		t.Fatalf("sent %d jobs, want 1", len(q.sent))
	}
	j := q.sent[0]
	if !j.Deleted || j.Subject != jobs.SubjectVNet || j.CorrelationID != "ev-no-corr" || j.Actor != nil {
		t.Errorf("got %+v, want a deleted vnet job correlated by event id without actor", j)
	}
}

func TestRedeliveryGivesSameJobID(t *testing.T) {
	q := &recordingSender{}
	in := newIntake(q, NewMemDeadStore())
	body := readFile(t, filepath.Join(eventsDir, "peering-write.eventgrid.json"))
	first, err := in.Handle(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	second, err := in.Handle(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	if first.Receipts[0].JobID != second.Receipts[0].JobID {
		t.Errorf("redelivery job id %s differs from %s", second.Receipts[0].JobID, first.Receipts[0].JobID)
	}
	if q.calls != 2 || len(q.sent) != 1 {
		t.Errorf("got %d sends and %d distinct jobs, want 2 sends collapsing to 1", q.calls, len(q.sent))
	}
	// A different event for the same VNet is a new reconcile.
	if _, err := in.Handle(context.Background(), readFile(t, filepath.Join(eventsDir, "vnet-write.eventgrid.json"))); err != nil {
		t.Fatal(err)
	}
	if len(q.sent) != 2 || !core.SameID(q.sent[0].TargetID, q.sent[1].TargetID) || q.sent[0].ID == q.sent[1].ID {
		t.Errorf("got %+v, want two jobs for the same VNet with different ids", q.sent)
	}
}

func TestBatchWithMalformedStillEnqueuesGoodOnes(t *testing.T) {
	q := &recordingSender{}
	dead := NewMemDeadStore()
	in := newIntake(q, dead)
	res, err := in.Handle(context.Background(), readFile(t, filepath.Join(eventsDir, "batch-with-malformed.eventgrid.json")))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Received != 5 || res.Enqueued != 2 || res.Malformed != 3 || res.Ignored != 0 {
		t.Fatalf("got %+v, want 5 received, 2 enqueued, 3 malformed", res)
	}
	var targets []string
	for _, j := range q.sent {
		targets = append(targets, j.TargetID)
	}
	if diff := cmp.Diff(targets, []string{peID, zoneID}); diff != "" {
		t.Errorf("enqueued targets (-got +want):\n%s", diff)
	}
	status := map[int]ReceiptStatus{}
	for _, o := range res.Receipts {
		status[o.Index] = o.Status
	}
	if diff := cmp.Diff(status, map[int]ReceiptStatus{0: ReceiptEnqueued, 1: ReceiptMalformed, 2: ReceiptEnqueued, 3: ReceiptMalformed, 4: ReceiptMalformed}); diff != "" {
		t.Errorf("outcomes by index (-got +want):\n%s", diff)
	}
	kept := dead.Events()
	if len(kept) != 3 {
		t.Fatalf("dead store has %d events, want 3", len(kept))
	}
	wantReasons := map[int]string{1: `"id" is missing`, 3: "JSON number", 4: "invalid resource ID"}
	for _, d := range kept {
		if !strings.Contains(d.Reason, wantReasons[d.Index]) || len(d.Raw) == 0 || !d.ReceivedAt.Equal(fixedNow) {
			t.Errorf("dead event %d: reason %q raw %d bytes at %v; want reason with %q", d.Index, d.Reason, len(d.Raw), d.ReceivedAt, wantReasons[d.Index])
		}
	}
}

type failingDead struct{}

func (failingDead) Keep(context.Context, DeadEvent) error { return errors.New("disk full") }

func TestIntakeFailures(t *testing.T) {
	t.Run("send fails: error, event kept, rest not processed", func(t *testing.T) {
		q := &recordingSender{fail: errors.New("service bus unavailable")}
		dead := NewMemDeadStore()
		in := newIntake(q, dead)
		body := "[" + string(readFile(t, filepath.Join(eventsDir, "endpoint-write.cloudevents.json"))) + "," +
			string(readFile(t, filepath.Join(eventsDir, "vnet-write.cloudevents.json"))) + "]"
		res, err := in.Handle(context.Background(), []byte(body))
		if err == nil || !strings.Contains(err.Error(), "service bus unavailable") {
			t.Fatalf("got error %v, want the send failure", err)
		}
		if q.calls != 1 || res.Enqueued != 0 || len(res.Receipts) != 2 || res.Receipts[1].Status != ReceiptFailed {
			t.Errorf("got %d sends, result %+v; want one send then stop", q.calls, res)
		}
		kept := dead.Events()
		if len(kept) != 1 || kept[0].EventID != "6a7b8c9d-0001-4c00-8000-000000000001" || !strings.Contains(kept[0].Reason, "enqueue failed") {
			t.Errorf("dead store %+v, want the event whose job failed", kept)
		}
	})
	t.Run("dead store fails: error so the delivery is retried", func(t *testing.T) {
		in := newIntake(&recordingSender{}, failingDead{})
		_, err := in.Handle(context.Background(), []byte(`[{"no":"id"}]`))
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("got %v, want the dead store error", err)
		}
	})
	t.Run("no dead store: malformed logged, no error", func(t *testing.T) {
		var logs strings.Builder
		in := &Intake{Queue: &recordingSender{}, Log: zerolog.New(&logs)}
		res, err := in.HandleEvent(context.Background(), json.RawMessage(`{"no":"id"}`))
		if err != nil || res.Malformed != 1 {
			t.Fatalf("got %+v, %v; want 1 malformed, no error", res, err)
		}
		if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), `no`) {
			t.Errorf("log %q does not carry the malformed event", logs.String())
		}
	})
}

func TestFileDeadStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dead")
	s, err := NewFileDeadStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeadEvent{
		{Raw: []byte(`{"no":"id"}`), Size: 11, Reason: `field "id" is missing or empty`, ReceivedAt: fixedNow, Index: 1},
		{Raw: []byte{0xff, 0xfe, 'x'}, Size: 3, Reason: "event is not JSON", ReceivedAt: fixedNow, Index: 0},
		{Raw: []byte("[{"), Size: 40000, Reason: "enqueue failed", ReceivedAt: fixedNow, Index: 2, EventID: "e2"},
	}
	for _, d := range want {
		if err := s.Keep(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Events()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("read back (-got +want):\n%s", diff)
	}
	if !got[2].Truncated() || got[0].Truncated() {
		t.Errorf("truncation flags wrong: %v %v", got[0].Truncated(), got[2].Truncated())
	}
	// A second store on the same directory appends.
	s2, _ := NewFileDeadStore(dir)
	if err := s2.Keep(context.Background(), want[0]); err != nil {
		t.Fatal(err)
	}
	all, err := ReadDeadEvents(filepath.Join(dir, DeadFileName))
	if err != nil || len(all) != 4 {
		t.Fatalf("got %d events, %v; want 4", len(all), err)
	}
	// A corrupt line is reported with its line number.
	f, _ := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("not json\n")
	_ = f.Close()
	if _, err := ReadDeadEvents(s.Path()); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("got %v, want an error naming line 5", err)
	}
}

func TestIndexOf(t *testing.T) {
	bad := []Malformed{{Index: 0}, {Index: 2}, {Index: 3}}
	var got []int
	for i := range 3 {
		got = append(got, indexOf(i, bad))
	}
	if !slices.Equal(got, []int{1, 4, 5}) {
		t.Errorf("got %v, want [1 4 5]", got)
	}
}

func TestHandleEventTakesABatch(t *testing.T) {
	q := &recordingSender{}
	in := newIntake(q, NewMemDeadStore())
	res, err := in.HandleEvent(context.Background(), readFile(t, filepath.Join(eventsDir, "link-delete.eventgrid.json")))
	if err != nil || res.Enqueued != 1 || len(q.sent) != 1 || q.sent[0].Subject != jobs.SubjectZone {
		t.Fatalf("got %+v, %v, sent %+v; want one zone job", res, err, q.sent)
	}
	if _, err := (&Intake{}).Handle(context.Background(), []byte(`[]`)); err == nil {
		t.Error("an intake without a queue accepted a delivery")
	}
}
