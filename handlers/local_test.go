package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
)

// TestLocalSandboxProcess runs `handler local --sandbox` as a process, posts
// the guide's events to its webhook (after the validation handshake) and
// watches the approval and the verification results through /api/status.
func TestLocalSandboxProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handler binary")
	}
	bin := handlerBinary(t)
	dir := t.TempDir()
	// The example policy with a short verification delay, so the scheduled
	// verification runs while the test watches.
	pol, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pol), "delay: 5m") {
		t.Fatal("examples/policy.yaml no longer has verification delay 5m; update this test")
	}
	polFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(polFile, []byte(strings.Replace(string(pol), "delay: 5m", "delay: 1s", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "local", "--sandbox", "../testdata/scenarios/guide.yaml", "--policy", polFile,
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--data", filepath.Join(dir, "data"), "--sweep", "0", "--workers", "2")
	cmd.Env = hostEnv()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	waitFor(t, "healthz", exited, logs, func() bool {
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	post := func(path, body string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Event Grid's subscription validation handshake, on both webhook paths.
	validation := `[{"id":"v1","topic":"/subscriptions/00000000-0000-0000-0000-0000000000bb","subject":"","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-11-04T09:00:00Z","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-westeurope.eventgrid.azure.net/x"},"dataVersion":"1"}]`
	for _, path := range []string{"/api/events", "/runtime/webhooks/EventGrid?functionName=ResourceEvents"} {
		status, body := post(path, validation, "aeg-event-type", "SubscriptionValidation")
		if status != http.StatusOK || !strings.Contains(body, "512d38b6-c7b8-40c8-89fe-f46f9e9622b6") {
			t.Fatalf("validation on %s: %d %s", path, status, body)
		}
	}

	// The recorded endpoint write event, in the guide scenario's resource group.
	ev, err := os.ReadFile("../testdata/events/endpoint-write.eventgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	status, body := post("/api/events", string(ev), "aeg-event-type", "Notification")
	if status != http.StatusOK {
		t.Fatalf("event delivery: %d %s", status, body)
	}

	var st autopilot.Status
	getStatus := func() bool {
		resp, err := client.Get(base + "/api/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = autopilot.Status{}
		return json.NewDecoder(resp.Body).Decode(&st) == nil
	}
	waitFor(t, "approval in /api/status", exited, logs, func() bool {
		if !getStatus() {
			return false
		}
		for _, d := range st.Decisions {
			if d.Type == "connection.approved" && strings.EqualFold(d.Subject, guideAppConn) && d.Rule == "allow-app-subscriptions" {
				return true
			}
		}
		return false
	})
	if st.Counters.Events != 1 || st.Counters.EventsEnqueued != 1 {
		t.Errorf("status counters: events %d, enqueued %d; want the one delivered event counted and enqueued", st.Counters.Events, st.Counters.EventsEnqueued)
	}
	if len(st.Links) == 0 || len(st.ZoneGroups) == 0 {
		t.Errorf("status after approval: links %+v, zone groups %+v; want the spoke link and pe-app-fhir's zone group", st.Links, st.ZoneGroups)
	}
	waitFor(t, "verification result in /api/status", exited, logs, func() bool {
		return getStatus() && len(st.Verification) > 0 && len(st.Reports) > 0
	})
	var passed bool
	for _, v := range st.Verification {
		passed = passed || v.Type == "verify.passed"
	}
	if !passed {
		t.Errorf("verification results %+v; want a pass (reports %+v)", st.Verification, st.Reports)
	}
	// The same status as a page a person can read.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/status", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "connection.approved") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("HTML status page lacks the approval: %s", page)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("handler local exit after SIGTERM: %v\n%s", err, logs.tail(8000))
		}
	case <-time.After(shutdownTimeout + 30*time.Second):
		t.Errorf("handler local did not stop after SIGTERM")
	}
}

// waitFor polls cond until it holds, failing when the process exits or a
// generous deadline passes (a deadline, not a timing assertion).
func waitFor(t *testing.T, what string, exited <-chan error, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		select {
		case err := <-exited:
			t.Fatalf("handler local exited (%v) while waiting for %s:\n%s", err, what, logs.tail(8000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s before the deadline; logs:\n%s", what, logs.tail(8000))
		}
	}
}

// tail returns the last n bytes of the collected output, for failure messages.
func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
