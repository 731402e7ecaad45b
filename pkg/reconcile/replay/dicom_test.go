package replay

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/verify"
)

const (
	wsID     = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	dicomID  = wsID + "/dicomservices/images"
	dicomFQN = "contoso-health-images.dicom.azurehealthcareapis.com"
	fhirFQN  = "contoso-health-patients.fhir.azurehealthcareapis.com"
)

// verifyWorkspace replays the approval of pe-app-fhir on workspace-and-legacy
// (with or without its DICOM service), then verifies the workspace over the
// sandbox's network as the verification job would, and returns the checks
// as "status name".
func verifyWorkspace(t *testing.T, withDICOM bool, edit ...func(*sandbox.Sandbox, *azure.Client)) (verify.Report, []string) {
	t.Helper()
	path := root + "testdata/scenarios/workspace-and-legacy.yaml"
	if !withDICOM {
		path = withoutDICOM(t, path)
	}
	sb, err := sandbox.Load(path, sandbox.WithoutThrottling())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sb.Get(dicomID); ok != withDICOM {
		t.Fatalf("DICOM service in the scenario: %t, want %t", ok, withDICOM)
	}
	if _, err := Run(context.Background(), Options{Sandbox: sb, Policy: loadPolicy(t, false),
		Deliveries: deliveries(t, "endpoint-write.eventgrid.json"),
		Start:      time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC), Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	client, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edit {
		e(sb, client)
	}
	n, err := sandboxnet.NewNetwork(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	v := n.Verifier(client)
	v.Timeout = 5 * time.Second
	runner := &verify.JobRunner{Verifier: v, Policy: loadPolicy(t, false), Log: zerolog.Nop()}
	rep := runner.ProcessJob(context.Background(), jobs.New(jobs.KindVerify, jobs.SubjectTarget, wsID, "test")).Report
	var got []string
	for _, c := range rep.Checks {
		got = append(got, string(c.Status)+" "+c.Name)
	}
	return rep, got
}

// withoutDICOM writes the scenario as it was before its DICOM service: no
// dicomservices resource, and pe-app-fhir without the DICOM name and IP.
func withoutDICOM(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	cut := func(from, to string) {
		i := strings.Index(src, from)
		j := strings.Index(src[i+1:], to)
		if i < 0 || j < 0 {
			t.Fatalf("scenario %s no longer has %q ... %q", path, from, to)
		}
		src = src[:i] + src[i+1+j:]
	}
	cut("  # A DICOM service in the same workspace", "  - id: /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx")
	cut("        - fqdn: "+dicomFQN, "\n\n")
	cut("        - name: privateEndpointIpConfig.5c1d-dicom", "      privateEndpoint:")
	if strings.Contains(src, "fqdn: "+dicomFQN) || strings.Contains(src, "fqdns: ["+dicomFQN) || strings.Contains(src, "dicomservices/images") {
		t.Fatalf("DICOM left in the scenario:\n%s", src)
	}
	out := filepath.Join(t.TempDir(), "no-dicom.yaml")
	if err := os.WriteFile(out, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// A workspace with a DICOM service: verification resolves the DICOM host
// name privately from the VNet that must reach it and completes a TLS
// handshake with it through the endpoint, beside the FHIR checks, and its
// private access counts as verified only with them. The same workspace
// without a DICOM service is verified exactly as before: no DICOM check.
func TestVerificationCoversWorkspaceDICOM(t *testing.T) {
	rep, got := verifyWorkspace(t, true)
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"pass dns " + dicomFQN + " from spoke-app-vnet",
		"pass tls " + dicomFQN + ":443 from spoke-app-vnet",
		"pass dns " + fhirFQN + " from spoke-app-vnet",
		"pass http GET https://" + fhirFQN + "/metadata from spoke-app-vnet",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no check %q among:\n%s\n%s", want, all, rep.Text())
		}
	}
	if strings.Contains(all, "https://"+dicomFQN) {
		t.Errorf("an HTTP request was sent to the DICOM service (it has no anonymous endpoint):\n%s", all)
	}
	if !rep.PrivateAccessVerified() {
		t.Errorf("private access of the workspace not verified:\n%s", rep.Text())
	}

	_, without := verifyWorkspace(t, false)
	var fhirOnly []string
	for _, c := range got {
		if !strings.Contains(c, ".dicom.") {
			fhirOnly = append(fhirOnly, c)
		}
	}
	if strings.Join(without, "\n") != strings.Join(fhirOnly, "\n") {
		t.Errorf("a workspace without DICOM got other checks:\n%s\nwant:\n%s", strings.Join(without, "\n"), strings.Join(fhirOnly, "\n"))
	}
}

// The VNets that must reach the workspace are not linked to
// privatelink.dicom...: the DICOM name resolves publicly, the TLS check
// finds the service at a public address, and the workspace's private access
// is not verified, so its public access is not closed, even though every
// FHIR check passes.
func TestVerificationFailsWhenDICOMIsNotPrivate(t *testing.T) {
	const dicomZone = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.dicom.azurehealthcareapis.com"
	rep, got := verifyWorkspace(t, true, func(sb *sandbox.Sandbox, c *azure.Client) {
		links, err := c.ListVNetLinks(context.Background(), dicomZone)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) == 0 {
			t.Fatal("the replay linked no VNet to privatelink.dicom...: nothing to unlink")
		}
		for _, l := range links {
			if err := sb.Delete(l.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "pass http GET https://"+fhirFQN+"/metadata from spoke-app-vnet") {
		t.Errorf("FHIR no longer reached:\n%s", all)
	}
	tls := ""
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "tls "+dicomFQN+":443 from spoke-app-vnet") {
			tls = string(c.Status) + ": " + c.Diagnosis
		}
	}
	if !strings.HasPrefix(tls, "fail: ") || !strings.Contains(tls, "public address") || !strings.Contains(tls, "privatelink.dicom") {
		t.Errorf("tls check of the DICOM name = %q, want a failure saying it answered at a public address and which zone to link\n%s", tls, rep.Text())
	}
	if rep.PrivateAccessVerified() {
		t.Errorf("private access verified while DICOM resolves publicly:\n%s", rep.Text())
	}
}
