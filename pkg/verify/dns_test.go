package verify

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDNSCheckAgainstInProcessServer(t *testing.T) {
	tests := []struct {
		name          string
		records       []string
		expect        []string
		wantStatus    Status
		wantRetryable bool
		wantEvidence  string // substring of the evidence
		wantDiagnosis []string
	}{
		{
			name:         "guide's private answer with the endpoint's IP passes",
			records:      guidePrivate,
			expect:       []string{"172.21.0.4"},
			wantStatus:   StatusPass,
			wantEvidence: "fhirserverxxx.azurehealthcareapis.com -> CNAME fhirserverxxx.privatelink.azurehealthcareapis.com -> A 172.21.0.4",
		},
		{
			name:         "guide's private answer passes with no expected IP (any private address)",
			records:      guidePrivate,
			wantStatus:   StatusPass,
			wantEvidence: "-> A 172.21.0.4",
		},
		{
			name:          "guide's public answer through trafficmanager and cloudapp is a missing VNet link",
			records:       guidePublic,
			expect:        []string{"172.21.0.4"},
			wantStatus:    StatusFail,
			wantRetryable: true,
			wantEvidence:  "fhirserverxxx.privatelink.azurehealthcareapis.com -> CNAME xxx.trafficmanager.net -> CNAME xxx.cloudapp.azure.com -> A 203.0.113.10",
			wantDiagnosis: []string{"public address 203.0.113.10", "xxx.trafficmanager.net and xxx.cloudapp.azure.com",
				"privatelink.azurehealthcareapis.com is not linked", "403"},
		},
		{
			name:          "private answer with another IP than the endpoint's is a stale record",
			records:       guidePrivate,
			expect:        []string{"10.1.2.3"},
			wantStatus:    StatusFail,
			wantDiagnosis: []string{"172.21.0.4", "endpoint's IP is 10.1.2.3", "stale A record"},
		},
		{
			name: "linked zone without the record answers NXDOMAIN after the alias: zone group missing",
			records: []string{
				"fhirserverxxx.azurehealthcareapis.com. 60 IN CNAME fhirserverxxx.privatelink.azurehealthcareapis.com.",
			},
			wantStatus:    StatusFail,
			wantRetryable: true,
			wantEvidence:  "(NXDOMAIN)",
			wantDiagnosis: []string{"does not exist (NXDOMAIN)", "no A record", "zone group"},
		},
		{
			name:          "unknown public name is NXDOMAIN: check the FQDN",
			records:       []string{"other.azurehealthcareapis.com. 60 IN A 203.0.113.11"},
			wantStatus:    StatusFail,
			wantDiagnosis: []string{"fhirserverxxx.azurehealthcareapis.com does not exist (NXDOMAIN)", "check the FQDN"},
		},
		{
			name:          "public address without aliases is diagnosed as not private",
			records:       []string{"fhirserverxxx.azurehealthcareapis.com. 60 IN A 203.0.113.12"},
			wantStatus:    StatusFail,
			wantRetryable: true,
			wantDiagnosis: []string{"public address 203.0.113.12", "not linked"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := startDNS(t, tc.records...)
			v := &Verifier{Timeout: 5 * time.Second}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got := v.checkDNS(ctx, addr, guideFQDN, tc.expect, "")
			assertCheck(t, got, tc.wantStatus, tc.wantRetryable, tc.wantEvidence, tc.wantDiagnosis)
		})
	}
}

func assertCheck(t *testing.T, got CheckResult, status Status, retryable bool, evidence string, diagnosis []string) {
	t.Helper()
	if got.Status != status || got.Retryable != retryable {
		t.Errorf("got status %s retryable %v, want %s retryable %v\nevidence: %q\ndiagnosis: %s",
			got.Status, got.Retryable, status, retryable, got.Evidence, got.Diagnosis)
	}
	if evidence != "" && !strings.Contains(strings.Join(got.Evidence, "\n"), evidence) {
		t.Errorf("evidence %q does not contain %q", got.Evidence, evidence)
	}
	for _, d := range diagnosis {
		if !strings.Contains(got.Diagnosis, d) {
			t.Errorf("diagnosis %q does not mention %q", got.Diagnosis, d)
		}
	}
	if status == StatusPass && got.Diagnosis != "" {
		t.Errorf("a passing check has a diagnosis: %q", got.Diagnosis)
	}
}

func TestDNSCheckResolverSilentIsRetry(t *testing.T) {
	addr := silentDNS(t)
	v := &Verifier{}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	got := v.checkDNS(ctx, addr, guideFQDN, nil, "")
	assertCheck(t, got, StatusRetry, true, addr, []string{"did not answer in time", addr})
}

func TestDNSCheckPlatformResolverFromResolvConf(t *testing.T) {
	addr := startDNS(t, guidePrivate...)
	host, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example.internal\nnameserver "+host+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := ResolvConf
	ResolvConf = conf
	t.Cleanup(func() { ResolvConf = old })

	got, err := PlatformResolver()
	if err != nil {
		t.Fatalf("PlatformResolver: %v", err)
	}
	if want := net.JoinHostPort(host, "53"); got != want {
		t.Errorf("got resolver %q, want %q (port 53 of the nameserver line)", got, want)
	}
	_ = port

	if err := os.WriteFile(conf, []byte("# no nameserver here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{}
	res := v.checkDNS(context.Background(), "", guideFQDN, nil, "")
	assertCheck(t, res, StatusError, false, "no nameserver", []string{conf})
}

// TestDNSCheckAgainstDnsmasq runs the verifier against Debian's dnsmasq on a
// loopback port serving the guide's two answers under two names.
func TestDNSCheckAgainstDnsmasq(t *testing.T) {
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/dnsmasq") // root's PATH only
	}
	if err != nil {
		t.Skip("dnsmasq not installed: .ci/run installs dnsmasq-base; apt-get install dnsmasq-base to run this test")
	}
	// Reserve a free port, release it, and hand it to dnsmasq.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	dir := t.TempDir()
	args := []string{
		"--no-daemon", "--conf-file=/dev/null", fmt.Sprintf("--port=%d", port),
		"--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
		"--pid-file=" + filepath.Join(dir, "dnsmasq.pid"), "--log-facility=-",
		// The guide's private answer.
		"--cname=fhirserverok.azurehealthcareapis.com,fhirserverok.privatelink.azurehealthcareapis.com",
		"--host-record=fhirserverok.privatelink.azurehealthcareapis.com,172.21.0.4",
		// The guide's broken public answer.
		"--cname=fhirserverxxx.azurehealthcareapis.com,fhirserverxxx.privatelink.azurehealthcareapis.com",
		"--cname=fhirserverxxx.privatelink.azurehealthcareapis.com,xxx.trafficmanager.net",
		"--cname=xxx.trafficmanager.net,xxx.cloudapp.azure.com",
		"--host-record=xxx.cloudapp.azure.com,203.0.113.10",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.Command(bin, args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	// Wait until dnsmasq answers (or exits with its reason).
	ready := false
	var lastErr error
	for i := 0; i < 100 && !ready; i++ {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		select {
		case err := <-exited:
			t.Fatalf("dnsmasq exited: %v\n%s", err, logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		a, err := Lookup(ctx, addr, "fhirserverok.azurehealthcareapis.com")
		cancel()
		ready, lastErr = err == nil && len(a.IPs) > 0, err
	}
	if !ready {
		t.Fatalf("dnsmasq on %s never answered (last: %v)\n%s", addr, lastErr, logs.String())
	}

	v := &Verifier{Resolver: addr, Timeout: 5 * time.Second}
	rep := v.Run(context.Background(), Subject{
		FQDNs:       []string{"fhirserverok.azurehealthcareapis.com", "fhirserverxxx.azurehealthcareapis.com"},
		MetadataURL: "https://127.0.0.1:1/metadata", // HTTP is not this test's concern
	})
	ok := find(t, rep, "dns fhirserverok.azurehealthcareapis.com")
	assertCheck(t, ok, StatusPass, false,
		"fhirserverok.azurehealthcareapis.com -> CNAME fhirserverok.privatelink.azurehealthcareapis.com -> A 172.21.0.4", nil)
	bad := find(t, rep, "dns fhirserverxxx.azurehealthcareapis.com")
	assertCheck(t, bad, StatusFail, true,
		"-> CNAME xxx.trafficmanager.net -> CNAME xxx.cloudapp.azure.com -> A 203.0.113.10",
		[]string{"public address 203.0.113.10", "not linked", "privatelink.azurehealthcareapis.com"})
}

// syncBuffer collects a child's output while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
