package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The demo is part of `make test`: the whole story plays on the sandbox,
// every step's outcome as expected, and the transcript says the key facts.
func TestDemoStory(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Out: &out})
	if err != nil {
		t.Fatalf("demo did not run: %v\n%s", err, out.String())
	}
	if !res.OK {
		t.Fatalf("demo story went otherwise than expected: %v\n%s", res.Problems, out.String())
	}
	// Long lines wrap: compare with runs of white space as one space.
	transcript := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		"approved pe-app-fhir on contoso-health by rule allow-app-subscriptions",
		"Approved by the platform team policy",
		"DNS zone group added to pe-app-fhir",
		"DNS zone group added to pe-app-fhir (zones: privatelink.dicom.azurehealthcareapis.com,privatelink.fhir.azurehealthcareapis.com,privatelink.workspace.azurehealthcareapis.com)",
		"linked spoke-app-vnet to privatelink.fhir.azurehealthcareapis.com (rule linkEndpointVNets",
		// the workspace FHIR name, from the linked VNet, through privatelink.fhir...
		"nslookup contoso-health-patients.fhir.azurehealthcareapis.com from spoke-app-vnet (linked to privatelink.fhir.azurehealthcareapis.com): answer contoso-health-patients.fhir.azurehealthcareapis.com -> contoso-health-patients.privatelink.fhir.azurehealthcareapis.com -> A 10.1.2.4",
		// ...publicly from the unlinked peered VNet...
		"nslookup contoso-health-patients.fhir.azurehealthcareapis.com from spoke-new-vnet (peered with hub-vnet, not linked): answer contoso-health-patients.fhir.azurehealthcareapis.com -> contoso-health-patients.privatelink.fhir.azurehealthcareapis.com -> contoso-health-patients-fhir.trafficmanager.net -> contoso-health-patients-fhir.cloudapp.azure.com -> A 203.0.113.10",
		// ...and privately after the link
		"linked spoke-new-vnet to privatelink.fhir.azurehealthcareapis.com (rule peered-with-hub)",
		"nslookup contoso-health-patients.fhir.azurehealthcareapis.com from spoke-new-vnet (after the link): answer contoso-health-patients.fhir.azurehealthcareapis.com -> contoso-health-patients.privatelink.fhir.azurehealthcareapis.com -> A 10.1.2.4",
		"rejected pe-unknown on contoso-health by rule reject-unknown-subscriptions",
		"Subscription not onboarded for FHIR private access",
		"-> A 203.0.113.10",
		"spoke-new-vnet (peered with hub-vnet) is not linked to privatelink.azurehealthcareapis.com",
		"linked spoke-new-vnet to privatelink.azurehealthcareapis.com (rule peered-with-hub)",
		"fhirserverxxx.privatelink.azurehealthcareapis.com -> A 10.0.1.4",
		"CapabilityStatement",
		"4.0.1",
		"403",
		// the public door: open while Enabled, closed by its rule after the
		// passing verification, refused only after the propagation delay
		"GET https://contoso-health-patients.fhir.azurehealthcareapis.com/metadata from the internet (public network access Enabled): 200 OK, CapabilityStatement 4.0.1",
		"public network access of contoso-health set to Disabled by rule publicNetworkAccess (applied)",
		"from the internet (right after, still propagating): 200 OK",
		"from the internet (after the delay): 403 Forbidden, \"Access to contoso-health-patients was denied.\"",
		// the guard, and the outage it cannot prevent
		"guard-last-private-path: pe-app-fhir stays approved on contoso-health; rule revoke-decommissioned-vnets withheld",
		"CRITICAL target.unreachable: contoso-health",
		"the autopilot never re-enables public access by itself",
		"zone group pe-app-fhir privatelink zones of dicom, fhir, workspace zoneGroup",
		"The story went as expected.",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour codes in a transcript not asked for colour")
	}
	if len(res.Steps) != 8 || res.ARMWrites == 0 {
		t.Errorf("result: %d steps, %d ARM writes; want 8 steps and some writes", len(res.Steps), res.ARMWrites)
	}
	var events []string
	for _, ps := range res.PublicAccess {
		events = append(events, ps.Target+" "+ps.Event+" "+ps.Rule)
	}
	if want := []string{
		"contoso-health public access open publicNetworkAccess",
		"contoso-health public access disabled publicNetworkAccess",
		"contoso-health guarded revoke-decommissioned-vnets",
		"contoso-health unreachable lastPrivatePath",
	}; strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("public access events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	if r := res.SandboxRequests; r.Reads != res.ARMReads || r.Writes+r.Deletes != res.ARMWrites || r.Reads == 0 {
		t.Errorf("sandboxRequests %+v, want the same requests as armReads %d and armWrites %d (writes and deletes)", r, res.ARMReads, res.ARMWrites)
	}
	checkVerificationTable(t, res.Checks)
	if t.Failed() {
		t.Log(out.String())
	}
}

func TestDemoInputErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     Options
		wantText string
	}{
		{name: "missing scenario", opts: Options{Scenario: filepath.Join(dir, "nope.yaml"), Policy: bad}, wantText: "nope.yaml"},
		{name: "invalid policy", opts: Options{Scenario: "../../testdata/scenarios/guide.yaml", Policy: bad}, wantText: "policy.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("got %v, want an error naming %s", err, tc.wantText)
			}
		})
	}
}

func TestFindModuleRoot(t *testing.T) {
	root, err := FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, DefaultScenario)); err != nil {
		t.Errorf("module root %s lacks the default scenario: %v", root, err)
	}
	if _, err := FindModuleRoot(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--scenario") {
		t.Errorf("outside the repository: got %v, want an error pointing to --scenario and --policy", err)
	}
}

// checkVerificationTable: the summary lists each verification attempt once,
// verifications in the order they started and each one's attempts 1, 2, ...
// in order; two reconcile jobs that changed one subject at once (the
// approval and the rejection on contoso-health) caused one verification.
func checkVerificationTable(t *testing.T, checks []Check) {
	t.Helper()
	var lines []string
	for _, c := range checks {
		lines = append(lines, fmt.Sprintf("%s %s %s try %d %s", c.Time.Format("15:04:05"), c.Subject, c.Trigger, c.Attempt, c.Status))
	}
	table := strings.Join(lines, "\n")
	seen := map[string]bool{}
	last := map[string]int{} // run -> last attempt listed
	var lastStart time.Time
	for i, c := range checks {
		if k := fmt.Sprint(c.Time, c.Subject, c.Attempt); seen[k] {
			t.Errorf("verification of %s attempt %d at %s listed twice:\n%s", c.Subject, c.Attempt, c.Time.Format("15:04:05"), table)
		} else {
			seen[k] = true
		}
		if c.Attempt != last[c.run]+1 {
			t.Errorf("row %d: verification of %s attempt %d follows attempt %d of the same verification:\n%s", i+1, c.Subject, c.Attempt, last[c.run], table)
		}
		if last[c.run] == 0 {
			if c.Time.Before(lastStart) {
				t.Errorf("row %d: a verification that started at %s is listed after one that started at %s:\n%s", i+1, c.Time.Format("15:04:05"), lastStart.Format("15:04:05"), table)
			}
			lastStart = c.Time
		}
		last[c.run] = c.Attempt
		if c.JobID == "" || (c.Trigger != "requested" && c.Trigger != "scheduled") {
			t.Errorf("row %d: job %q trigger %q, want a job id and requested or scheduled", i+1, c.JobID, c.Trigger)
		}
	}
	if !strings.Contains(table, "spoke-new-vnet requested try 1 retry\n") || !strings.Contains(table, "spoke-new-vnet requested try 2 pass") {
		t.Errorf("the requested verification of spoke-new-vnet should show attempt 1 (retry) then 2 (pass):\n%s", table)
	}
}

// The demo policy is examples/policy.yaml plus its "demo:" blocks: nothing
// else may drift between the two.
func TestDemoPolicyIsThePolicyPlusItsDemoBlocks(t *testing.T) {
	base, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile("../../" + DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	in := false
	for _, l := range strings.SplitAfter(string(demo), "\n") {
		switch strings.TrimSpace(l) {
		case "# demo: begin":
			in = true
			continue
		case "# demo: end":
			in = false
			continue
		}
		if !in {
			kept = append(kept, l)
		}
	}
	got := strings.Replace(strings.Join(kept, ""), "connectionRules:\n\n", "connectionRules:\n", 1)
	if got != string(base) {
		t.Errorf("%s without its demo blocks differs from examples/policy.yaml:\n%s", DefaultPolicy, got)
	}
}
