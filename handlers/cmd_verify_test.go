package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// verifyView: the hub VNet is linked to the privatelink zone, the peered
// spoke is not (the guide's two nslookup answers).
type verifyView struct{}

func (verifyView) Resolve(vnetID, fqdn string) ([]string, bool, bool) {
	if fqdn != "fhirserverxxx.azurehealthcareapis.com" {
		return nil, false, false
	}
	return []string{"172.21.0.4"}, vnetID == "hub", true
}

// verifyEnv starts the sandbox DNS (one resolver per VNet) and FHIR server
// and writes the CA file.
func verifyEnv(t *testing.T) (hubDNS, spokeDNS string, fhir *sandboxnet.FHIRServer, caFile string) {
	t.Helper()
	d := sandboxnet.NewDNSServer(verifyView{})
	t.Cleanup(func() { _ = d.Close() })
	f, err := sandboxnet.NewFHIRServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := f.WriteCAFile(caFile); err != nil {
		t.Fatal(err)
	}
	hubDNS, spokeDNS = d.AddrFor("hub"), d.AddrFor("spoke")
	if hubDNS == "" || spokeDNS == "" {
		t.Fatalf("sandbox dns: %v", d.Err())
	}
	return hubDNS, spokeDNS, f, caFile
}

func TestVerifyCommand(t *testing.T) {
	hubDNS, spokeDNS, f, caFile := verifyEnv(t)
	const fqdn = "fhirserverxxx.azurehealthcareapis.com"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{
			name: "from the linked VNet everything passes",
			args: []string{"--fqdn", fqdn, "--resolver", hubDNS, "--expect-ip", "172.21.0.4",
				"--metadata-url", f.PrivateURL() + "/metadata", "--ca-file", caFile, "--public-url", f.PublicURL() + "/metadata"},
			wantCode: 0,
			wantOut: []string{
				"PASS  dns fhirserverxxx.azurehealthcareapis.com",
				"PASS  http GET " + f.PrivateURL() + "/metadata",
				"PASS  public GET " + f.PublicURL() + "/metadata refused",
				"all 3 checks passed",
			},
		},
		{
			name:     "from the unlinked peered VNet the public answer is diagnosed and /metadata is refused",
			args:     []string{"--fqdn", fqdn, "--resolver", spokeDNS, "--metadata-url", f.PublicURL() + "/metadata", "--ca-file", caFile},
			wantCode: 1,
			wantOut: []string{
				"FAIL  dns fhirserverxxx.azurehealthcareapis.com",
				"-> CNAME fhirserverxxx.trafficmanager.net -> CNAME fhirserverxxx.cloudapp.azure.com -> A 203.0.113.10",
				"privatelink.azurehealthcareapis.com is not linked",
				"access denied: the request came over the public path",
				`issue "Access to 127.0.0.1 was denied."`,
			},
		},
		{
			name:     "an untrusted certificate without --ca-file fails with the hint",
			args:     []string{"--fqdn", fqdn, "--resolver", hubDNS, "--metadata-url", f.PrivateURL() + "/metadata"},
			wantCode: 1,
			wantOut:  []string{"not trusted", "--ca-file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"verify"}, tc.args...), &out, &errb)
			if code != tc.wantCode {
				t.Errorf("got exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out.String(), errb.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestVerifyCommandJSON(t *testing.T) {
	_, spokeDNS, f, caFile := verifyEnv(t)
	var out, errb bytes.Buffer
	code := run([]string{"verify", "--json", "--fqdn", "fhirserverxxx.azurehealthcareapis.com", "--resolver", spokeDNS,
		"--metadata-url", f.PublicURL() + "/metadata", "--ca-file", caFile}, &out, &errb)
	if code != 1 {
		t.Errorf("got exit %d, want 1; stderr: %s", code, errb.String())
	}
	var rep verify.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out.String())
	}
	if rep.Status != verify.StatusRetry || len(rep.Checks) != 2 || rep.Checks[0].Status != verify.StatusFail || !rep.Checks[0].Retryable {
		t.Errorf("got %s with checks %+v, want retry with a retryable DNS failure first", rep.Status, rep.Checks)
	}
}

func TestVerifyCommandUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no fqdn", nil, "--fqdn: required"},
		{"url given as fqdn", []string{"--fqdn", "https://x.azurehealthcareapis.com/metadata"}, `--fqdn "https://x.azurehealthcareapis.com/metadata": give a host name, not a URL`},
		{"single-label fqdn", []string{"--fqdn", "fhir"}, `--fqdn "fhir": not a fully qualified host name`},
		{"resolver without port", []string{"--fqdn", "a.b.com", "--resolver", "dns.internal"}, `--resolver "dns.internal": want HOST:PORT`},
		{"resolver with bad port", []string{"--fqdn", "a.b.com", "--resolver", "10.0.0.4:dns53"}, `--resolver "10.0.0.4:dns53": bad port`},
		{"bad expected ip", []string{"--fqdn", "a.b.com", "--expect-ip", "172.21.0"}, `--expect-ip "172.21.0": not an IPv4 address`},
		{"metadata url without scheme", []string{"--fqdn", "a.b.com", "--metadata-url", "a.b.com/metadata"}, `--metadata-url "a.b.com/metadata": want an http(s) URL`},
		{"public url without host", []string{"--fqdn", "a.b.com", "--public-url", "https:///metadata"}, `--public-url "https:///metadata": missing host`},
		{"missing ca file", []string{"--fqdn", "a.b.com", "--ca-file", "/nonexistent/ca.pem"}, `--ca-file "/nonexistent/ca.pem": read:`},
		{"ca file without certificates", []string{"--fqdn", "a.b.com", "--ca-file", "cmd_verify.go"}, `--ca-file "cmd_verify.go": no PEM certificate`},
		{"zero timeout", []string{"--fqdn", "a.b.com", "--timeout", "0s"}, "--timeout 0s: must be positive"},
		{"unparsable timeout", []string{"--fqdn", "a.b.com", "--timeout", "ten"}, `invalid value "ten" for flag -timeout`},
		{"unknown flag", []string{"--fqdn", "a.b.com", "--subnet", "x"}, "flag provided but not defined: -subnet"},
		{"vnet without sandbox", []string{"--fqdn", "a.b.com", "--vnet", "x"}, "--vnet and --policy need --sandbox SCENARIO"},
		{"positional argument", []string{"--fqdn", "a.b.com", "extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"verify"}, tc.args...), &out, &errb)
			if code != 2 {
				t.Errorf("got exit %d, want 2", code)
			}
			if !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("usage error printed a report:\n%s", out.String())
			}
		})
	}
}

// The Quickstart's verify step, offline: from inside the guide's sandbox
// VNets, the hub (linked to the zone) gets the private answer and
// /metadata; the peered spoke (not linked) gets the guide's public answer
// and 403, until the autopilot has converged the sandbox.
func TestVerifySandboxCommand(t *testing.T) {
	const scenario = "../testdata/scenarios/guide.yaml"
	const fqdn = "fhirserverxxx.azurehealthcareapis.com"
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"linked hub VNet: private IP and metadata", []string{"--vnet", "hub-vnet"}, 0},
		{"unlinked peered spoke: public answer and 403", []string{"--vnet", "spoke-app-vnet"}, 1},
		{"the spoke after the autopilot converged the sandbox", []string{"--vnet", "spoke-app-vnet", "--policy", "../examples/policy.yaml"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"--sandbox", scenario, "--fqdn", fqdn, "--json"}, tt.args...)
			code := runVerify(args, &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out.String(), errb.String())
			}
			js := out.String()[strings.Index(out.String(), "{"):]
			var rep verify.Report
			if err := json.Unmarshal([]byte(js), &rep); err != nil {
				t.Fatalf("report: %v\n%s", err, js)
			}
			var dns, http *verify.CheckResult
			for i, c := range rep.Checks {
				switch {
				case strings.HasPrefix(c.Name, "dns "):
					dns = &rep.Checks[i]
				case strings.HasPrefix(c.Name, "http "):
					http = &rep.Checks[i]
				}
			}
			if dns == nil || http == nil {
				t.Fatalf("checks %+v: want a dns and an http check", rep.Checks)
			}
			if tt.wantCode == 0 {
				if dns.Status != verify.StatusPass || http.Status != verify.StatusPass {
					t.Errorf("dns %s, http %s; want both pass", dns.Status, http.Status)
				}
				return
			}
			// The guide's diagnosis: the public address through the Traffic
			// Manager alias, and 403 over the public path.
			if dns.Status == verify.StatusPass || !strings.Contains(dns.Diagnosis, "public address") || !strings.Contains(strings.Join(dns.Evidence, " "), "trafficmanager.net") {
				t.Errorf("dns check %+v: want the public answer diagnosed", dns)
			}
			if http.Status == verify.StatusPass || !strings.Contains(strings.Join(http.Evidence, " "), "403") {
				t.Errorf("http check %+v: want 403 over the public path", http)
			}
		})
	}
	for _, bad := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown VNet", []string{"--sandbox", scenario, "--fqdn", fqdn, "--vnet", "nope"}, "spoke-app-vnet"},
		{"no VNet", []string{"--sandbox", scenario, "--fqdn", fqdn}, "--vnet"},
		{"VNet without sandbox", []string{"--fqdn", fqdn, "--vnet", "hub-vnet"}, "--sandbox"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runVerify(bad.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), bad.want) {
				t.Errorf("exit %d, stderr %q; want 2 naming %s", code, errb.String(), bad.want)
			}
		})
	}
}
